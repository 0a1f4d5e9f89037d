"""Tests for w2v_tf.study.table: the targets of the table, the error metric, and the experiment.

Oracles:
* The closed-form targets of the logistic losses are checked through the project's own loss
  functions: for those losses the loss is a sum over sampled columns, so the expectation over
  k i.i.d. draws from Q is *exactly* sum_y Q(y) loss(sampled = [y] * k) (k copies of y; every
  copy is masked when y is a hit). TF autodiff of that expected loss must vanish at the
  loss's own target and not at the other targets.
* The sampled-softmax objective and its analytic gradient against `sampled_softmax_loss`
  (the project's, hits removed) evaluated draw by draw, with TF autodiff.
* The error metric against a brute-force least-squares fit of K(x).
* The experiment itself: each trained table lies within a stated tolerance of its own target
  and nearer to it than to every other target that is far enough away to tell.
"""
import json

import numpy as np
import pytest
import tensorflow as tf
from scipy.optimize import minimize_scalar

from w2v_tf.study import table
from w2v_tf.losses import LOSSES

# ----------------------------------------------------------------------------- exact oracles
SMALL = dict(num_contexts=3, num_classes=6, alpha=0.7)
K = 5


def _small_problem(seed=0):
    return table.make_problem(seed, **SMALL)


def _all_rows(problem):
    """Every (x, t) pair once, with weight P(x) P(t|x): `inputs [X*C, X]`, `labels`, `w`."""
    num_contexts, num_classes = problem["p"].shape
    x, t = np.meshgrid(np.arange(num_contexts), np.arange(num_classes), indexing="ij")
    x, t = x.ravel(), t.ravel()
    inputs = tf.one_hot(x, num_contexts, dtype=tf.float64)                   # [X*C, X]
    labels = tf.constant(t[:, None], tf.int64)                               # [X*C, 1]
    w = tf.constant((problem["p_x"][:, None] * problem["p"]).ravel())        # [X*C]
    return inputs, labels, w


def expected_loss_gradient(row, f, problem, k=K):
    """d/dF of E_{x, t, negatives}[loss] at the table F `[X, C]`, exactly, via the real loss."""
    key, kwargs, _ = {**table.ROWS, **table.VARIANT_ROWS}[row]
    loss_fn = LOSSES[key]
    num_classes = problem["p"].shape[1]
    kq = k * problem["q"]
    inputs, labels, w = _all_rows(problem)
    weights = tf.Variable(f.T.copy())                                        # W [C, X]
    with tf.GradientTape() as tape:
        if key in ("full_logistic", "softmax"):
            total = tf.reduce_sum(w * loss_fn(weights, None, labels, inputs, k, num_classes))
        else:
            total = 0.0
            true_q = tf.constant(kq[labels.numpy()[:, 0]][:, None])           # [X*C, 1]
            for y in range(num_classes):                # E over draws = sum_y Q(y) loss([y]*k)
                sampled = (tf.fill([k], tf.constant(y, tf.int64)), true_q,
                           tf.fill([k], tf.constant(kq[y], tf.float64)))
                loss = loss_fn(weights, None, labels, inputs, k, num_classes,
                               sampled_values=sampled, **kwargs)
                total += problem["q"][y] * tf.reduce_sum(w * loss)
    return tf.convert_to_tensor(tape.gradient(total, weights)).numpy().T     # [X, C]


CLOSED_FORM_ROWS = ["nce", "neg", "neg_keep_hits", "sampled_logistic", "full_logistic",
                    "softmax"]


@pytest.mark.parametrize("row, seed", [(row, i % 2) for i, row in enumerate(CLOSED_FORM_ROWS)])
def test_expected_gradient_vanishes_at_own_target_only(row, seed):
    problem = _small_problem(seed)
    tables = table.targets(problem, K, draws=10)
    own = {**table.ROWS, **table.VARIANT_ROWS}[row][2]
    # Exactly stationary at the own target (float64; 1e-9 is ~1e5 ulps of the O(0.1) terms).
    shift = np.arange(SMALL["num_contexts"])[:, None] * 0.7     # any K(x) for the softmax
    f = tables[own] + (shift if table.TARGETS[own][1] else 0.0)
    np.testing.assert_allclose(expected_loss_gradient(row, f, problem), 0.0, atol=1e-9)
    # ... and clearly not stationary at every other closed-form target that differs from it.
    for col in ("log_p", "log_p_over_kq", "log_p_over_kq_1mp", "log_odds"):
        if table.target_distance(problem, tables, own, col) > 0.05:
            g = expected_loss_gradient(row, tables[col], problem)
            assert np.abs(g).max() > 1e-3, (row, col)


def _draw_ids(counts):
    """A sampled-id vector `[k]` with the class counts of one draw."""
    return np.repeat(np.arange(len(counts)), counts.astype(int))


@pytest.mark.parametrize("seed", [0, 1])
def test_sampled_softmax_objective_matches_the_loss_draw_by_draw(seed):
    problem = _small_problem(seed)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(K, problem["q"], size=7).astype(np.float64)     # [M, C]
    f = rng.normal(size=problem["p"].shape)                                  # [X, C]
    inputs, labels, w = _all_rows(problem)
    kq = K * problem["q"]
    weights = tf.Variable(f.T.copy())
    with tf.GradientTape() as tape:
        total = 0.0
        for c in counts:
            ids = _draw_ids(c)
            sampled = (tf.constant(ids, tf.int64),
                       tf.constant(kq[labels.numpy()[:, 0]][:, None]), tf.constant(kq[ids]))
            loss = LOSSES["sampled_softmax"](weights, None, labels, inputs, K,
                                             problem["p"].shape[1], sampled_values=sampled)
            total += tf.reduce_sum(w * loss) / len(counts)
    loss, grad = table.sampled_softmax_objective(f, problem, counts, K)
    np.testing.assert_allclose(loss, total.numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad, tf.convert_to_tensor(tape.gradient(total, weights)).numpy().T,
                               atol=1e-12)


def test_sampled_softmax_optimum_is_stationary_and_not_log_p():
    problem = table.make_problem(0)                 # the default 8 x 20 problem, k = 40
    f = table.sampled_softmax_optimum(problem, 40, draws=500, seed=3)
    rng = np.random.default_rng([3, 2])             # the draws the optimiser used
    counts = rng.multinomial(40, problem["q"], size=500).astype(np.float64)
    _, grad = table.sampled_softmax_objective(f, problem, counts, 40)
    _, grad_at_log_p = table.sampled_softmax_objective(np.log(problem["p"]), problem, counts, 40)
    # L-BFGS stops on ftol/gtol; 1e-3 of the gradient at the start is well inside that.
    assert np.abs(grad).max() < 1e-3 * np.abs(grad_at_log_p).max()
    # The bias the table shows: ~0.09 from log P + K(x) (measured 0.093-0.096, draws 2000-16000).
    dist = table.weighted_rmse(f, np.log(problem["p"]), problem["p_x"], problem["p"], True)
    assert 0.06 < dist < 0.13


# ----------------------------------------------------------------------------- metric, data
@pytest.mark.parametrize("seed", [0, 1])
def test_weighted_rmse_centring_is_the_least_squares_k(seed):
    problem = _small_problem(seed)
    rng = np.random.default_rng(seed)
    f, t = rng.normal(size=(2,) + problem["p"].shape)
    p_x, p = problem["p_x"], problem["p"]
    # Brute force: minimise each context's weighted squared error over its constant.
    sq = sum(p_x[i] * minimize_scalar(lambda c: np.sum(p[i] * (f[i] - t[i] - c) ** 2)).fun
             for i in range(len(p_x)))
    np.testing.assert_allclose(table.weighted_rmse(f, t, p_x, p, True), np.sqrt(sq), rtol=1e-6)
    direct = np.sqrt(sum(p_x[i] * p[i, j] * (f[i, j] - t[i, j]) ** 2
                         for i in range(len(p_x)) for j in range(p.shape[1])))
    np.testing.assert_allclose(table.weighted_rmse(f, t, p_x, p, False), direct, rtol=1e-12)


def test_sample_data_frequencies():
    problem = _small_problem(0)
    x, y, neg = table.sample_data(problem, steps=400, batch_size=500, num_sampled=K, seed=0)
    assert x.shape == y.shape == (400, 500) and neg.shape == (400, K)
    # 200k pairs, ~67k per context: the standard error of a frequency is <= 0.002, so 0.01
    # is > 5 standard errors (and the empirical frequencies are deterministic, seed 0).
    for ctx in range(SMALL["num_contexts"]):
        freq = np.bincount(y[x == ctx], minlength=SMALL["num_classes"]) / np.sum(x == ctx)
        np.testing.assert_allclose(freq, problem["p"][ctx], atol=0.01)
    np.testing.assert_allclose(np.bincount(x.ravel()) / x.size, problem["p_x"], atol=0.01)
    # 2000 negatives: standard error <= 0.011; 0.05 is > 4.5 of them.
    np.testing.assert_allclose(np.bincount(neg.ravel(), minlength=SMALL["num_classes"]) / neg.size,
                               problem["q"], atol=0.05)


@pytest.mark.parametrize("kwargs, name", [
    (dict(num_contexts=1), "num_contexts"), (dict(num_classes=2.5), "num_classes"),
    (dict(alpha=0.0), "alpha")])
def test_make_problem_rejects_bad_sizes(kwargs, name):
    with pytest.raises(ValueError, match=name):
        table.make_problem(0, **kwargs)


@pytest.mark.parametrize("kwargs, name", [
    (dict(steps=0), "steps"), (dict(num_sampled=-1), "num_sampled"),
    (dict(rows=["nce", "hs"]), "rows")])
def test_run_experiment_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        table.run_experiment(**kwargs)


# ----------------------------------------------------------------------------- the experiment
@pytest.fixture(scope="module")
def results():
    return table.run_experiment(seed=0, variants=True)


ALL_ROWS = list(table.ROWS) + list(table.VARIANT_ROWS)


@pytest.mark.slow
@pytest.mark.parametrize("row", ALL_ROWS)
def test_each_loss_learns_its_own_target(results, row):
    own = results["own"][row]
    assert results["errors"][row][own] < table.TOLERANCE[row]


@pytest.mark.slow
@pytest.mark.parametrize("row", ALL_ROWS)
def test_each_loss_is_nearer_its_own_target_than_the_distinct_others(results, row):
    own, errors = results["own"][row], results["errors"][row]
    tol = table.TOLERANCE[row]
    # A target farther than 2 tol from the own one cannot be within tol of a table that is
    # within tol of the own target (triangle inequality), so these comparisons are decidable.
    distinct = [col for col in table.TARGETS
                if table.target_distance(results["problem"], results["targets"], own, col)
                > 2 * tol]
    assert len(distinct) >= 2, distinct          # the table shows something for every row
    for col in distinct:
        assert errors[own] < errors[col], (row, col, errors)


@pytest.mark.slow
def test_softmax_pair_and_hits(results):
    err = results["errors"]
    # Hits removed: sampled softmax is farther from log P + K(x) than the full softmax and than
    # sampled softmax with hits kept (measured 0.10 vs 0.02 and 0.03, seed 0).
    assert err["sampled_softmax"]["log_p_plus_k"] > 2 * err["softmax"]["log_p_plus_k"]
    assert (err["sampled_softmax"]["log_p_plus_k"]
            > 2 * err["sampled_softmax_keep_hits"]["log_p_plus_k"])
    # NCE's table is self-normalised (log sum_y e^F ~ 0); full softmax's is not.
    assert results["log_partition"]["nce"] < 0.05 < results["log_partition"]["softmax"]


@pytest.mark.slow
def test_plot_table_returns_the_grid_and_writes_one_file_per_loss(results, tmp_path):
    import matplotlib.pyplot as plt
    fig = table.plot_table(results, str(tmp_path / "plots"))
    try:
        visible = [ax for ax in fig.axes if ax.get_visible()]
        assert len(visible) == len(ALL_ROWS)
        for ax, row in zip(visible, ALL_ROWS):
            assert ax.get_title().startswith(row + ":")
            # one scatter per context
            assert len(ax.collections) == results["problem"]["p"].shape[0]
    finally:
        plt.close(fig)
    written = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert written == sorted(f"table_{row}.png" for row in ALL_ROWS)
    assert all((tmp_path / "plots" / name).stat().st_size > 1000 for name in written)


def test_format_table_marks_own_targets():
    rows = {"nce": "log_p", "softmax": "log_p_plus_k"}
    fake = {"errors": {r: {c: 0.5 for c in table.TARGETS} for r in rows}, "own": rows,
            "log_partition": {r: 0.0 for r in rows}}
    text = table.format_table(fake)
    lines = text.splitlines()
    assert lines[2].split()[1:2] == ["0.500*"]                   # nce: log P is column 1
    assert lines[3].split()[5] == "0.500*" and lines[3].count("*") == 1


# ----------------------------------------------------------------------------- CLI
def _cli(argv):
    from w2v_tf.__main__ import COMMANDS, DESCRIPTION
    from w2v_tf.cli import run
    return run("python -m w2v_tf", DESCRIPTION, COMMANDS, argv)


def test_cli_rejects_bad_steps(capsys):
    assert _cli(["table", "--steps", "0", "--no-plots"]) == 2
    assert "`steps` must be a positive int, got 0" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_json_plots_and_check(tmp_path, capsys):
    out = tmp_path / "runs"
    # 30 steps are far too few: --check must fail with status 1, and still print the JSON.
    code = _cli(["table", "--steps", "30", "--seed", "1", "--draws", "100", "--json", "--check",
                 "--out", str(out)])
    lines = capsys.readouterr().out.strip().splitlines()
    report = json.loads(lines[-1])
    assert code == 1
    assert set(report["errors"]) == set(table.ROWS)
    assert set(report["errors"]["nce"]) == set(table.TARGETS)
    assert report["own"]["neg"] == "log_p_over_kq_1mp"
    assert report["config"]["steps"] == 30 and report["config"]["draws"] == 100
    assert not all(report["within_tolerance"].values())
    assert sorted(p.name for p in out.iterdir()) == sorted(f"table_{r}.png" for r in table.ROWS)
