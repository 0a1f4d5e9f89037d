"""Oracle tests for w2v_tf.study.derivations: analytic gradients vs tf.GradientTape (float64),
TensorFlow's softmax / nce_loss / sampled_softmax_loss, and seeded Monte Carlo for the
sampling estimators (each statistical assertion states its margin)."""
import numpy as np
import pytest
import tensorflow as tf

from w2v_tf.study import derivations as d

ATOL = 1e-8   # the float64 tolerance; the observed differences are ~1e-15


@pytest.mark.parametrize("vocab,dim,seed", [(2, 1, 0), (7, 3, 1), (50, 10, 2), (400, 32, 3)])
def test_naive_softmax_gradients_equal_autodiff(vocab, dim, seed):
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(vocab, dim))
    v_c = rng.normal(size=dim)
    o = int(rng.integers(vocab))
    loss, d_v_c, d_U = d.naive_softmax_gradients(v_c, o, U)
    tape_loss, (tape_v_c, tape_U) = d.autodiff_gradients(d.naive_softmax_loss_tf, v_c, o, U)
    assert loss == pytest.approx(tape_loss, abs=ATOL)
    np.testing.assert_allclose(d_v_c, tape_v_c, rtol=0, atol=ATOL)
    np.testing.assert_allclose(d_U, tape_U, rtol=0, atol=ATOL)


@pytest.mark.parametrize("num_neg,dim,seed,scale", [(1, 1, 0, 1.0), (5, 8, 1, 1.0),
                                                    (20, 16, 2, 3.0), (15, 50, 3, 0.1)])
def test_negative_sampling_gradients_equal_autodiff(num_neg, dim, seed, scale):
    rng = np.random.default_rng(seed)
    v_c, u_o = rng.normal(scale=scale, size=(2, dim))
    U_neg = rng.normal(scale=scale, size=(num_neg, dim))
    if num_neg > 1:
        U_neg[1] = U_neg[0]                     # the same word drawn twice
    loss, d_v_c, d_u_o, d_U_neg = d.negative_sampling_gradients(v_c, u_o, U_neg)
    tape_loss, grads = d.autodiff_gradients(d.negative_sampling_loss_tf, v_c, u_o, U_neg)
    assert loss == pytest.approx(tape_loss, abs=ATOL)
    for mine, tape in zip((d_v_c, d_u_o, d_U_neg), grads):
        np.testing.assert_allclose(mine, tape, rtol=0, atol=ATOL)


@pytest.mark.parametrize("n,dim,seed", [(1, 1, 0), (10, 4, 1), (100, 20, 2)])
def test_two_class_softmax_is_logistic_regression_on_the_difference(n, dim, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=3.0, size=(n, dim))
    W = rng.normal(size=(2, dim))
    b = rng.normal(size=2)
    p_softmax = d.two_class_softmax(x, W, b)
    oracle = tf.nn.softmax(tf.constant(x @ W.T + b), axis=1).numpy()[:, 1]
    np.testing.assert_allclose(p_softmax, oracle, rtol=0, atol=1e-12)
    np.testing.assert_allclose(d.logistic_of_difference(x, W, b), oracle, rtol=0, atol=1e-12)
    # Only the difference matters: adding the same vector to both rows changes nothing.
    shift = rng.normal(size=dim)
    np.testing.assert_allclose(d.two_class_softmax(x, W + shift, b + 5.0), oracle,
                               rtol=0, atol=1e-12)


def test_sigmoid_derivative_is_s_times_one_minus_s():
    x = np.linspace(-40.0, 40.0, 801)
    _, (tape,) = d.autodiff_gradients(lambda t: tf.reduce_sum(tf.sigmoid(t)), x)
    # TF's gradient forms 1 - s, which cancels to 0 or 2^-52 for x > ~36: atol of one ulp of 1.
    np.testing.assert_allclose(d.sigmoid_derivative(x), tape, rtol=1e-12, atol=2.3e-16)
    s = d.sigmoid(x)
    np.testing.assert_allclose(d.sigmoid_derivative(x), s * (1 - s), rtol=1e-12, atol=2.3e-16)
    np.testing.assert_allclose(d.sigmoid(x), tf.sigmoid(x).numpy(), rtol=1e-12)
    # And against a central difference (truncation error ~ h^2 s''' / 6 < 1e-10).
    h = 1e-5
    central = (d.sigmoid(x + h) - d.sigmoid(x - h)) / (2 * h)
    np.testing.assert_allclose(d.sigmoid_derivative(x), central, rtol=0, atol=1e-10)


@pytest.mark.parametrize("vocab,k,seed", [(10, 1, 0), (30, 5, 1), (200, 40, 2)])
def test_nce_gradient_equals_tf_nce_loss_autodiff(vocab, k, seed):
    # tf.nn.nce_loss with biases -log Z and expected counts k Q computes exactly J_NCE.
    rng = np.random.default_rng(seed)
    dim = 6
    U = rng.normal(size=(vocab, dim))
    h = rng.normal(size=dim)
    q = rng.dirichlet(np.ones(vocab))
    o = int(rng.integers(vocab))
    samples = rng.choice(vocab, size=k, p=q)
    z = U @ h
    log_z = d.logsumexp(z)

    def tf_loss(U_t, h_t):
        sampled_values = (tf.constant(samples, tf.int64), tf.constant([[k * q[o]]]),
                          tf.constant(k * q[samples]))
        labels = tf.constant([[o]], tf.int64)
        biases = tf.fill([vocab], tf.constant(-log_z, tf.float64))
        return tf.nn.nce_loss(U_t, biases, labels, h_t[None, :], num_sampled=k,
                              num_classes=vocab, sampled_values=sampled_values)[0]

    _, (tape_U, tape_h) = d.autodiff_gradients(tf_loss, U, h)
    g = d.nce_logit_gradient(z, o, samples, q)[0]               # [V]
    np.testing.assert_allclose(np.outer(g, h), tape_U, rtol=0, atol=ATOL)   # dJ/dU = g h^T
    np.testing.assert_allclose(U.T @ g, tape_h, rtol=0, atol=ATOL)          # dJ/dh = U^T g


@pytest.mark.parametrize("vocab,k,seed", [(10, 1, 0), (30, 5, 1), (200, 40, 2)])
def test_sampled_softmax_include_true_equals_tf_sampled_softmax_loss(vocab, k, seed):
    rng = np.random.default_rng(seed)
    dim = 6
    U = rng.normal(size=(vocab, dim))
    h = rng.normal(size=dim)
    q = rng.dirichlet(np.ones(vocab))
    o = int(rng.integers(vocab))
    samples = rng.choice(vocab, size=k, p=q)

    def tf_loss(U_t, h_t):
        sampled_values = (tf.constant(samples, tf.int64), tf.constant([[k * q[o]]]),
                          tf.constant(k * q[samples]))
        labels = tf.constant([[o]], tf.int64)
        return tf.nn.sampled_softmax_loss(U_t, tf.zeros([vocab], tf.float64), labels,
                                          h_t[None, :], num_sampled=k, num_classes=vocab,
                                          sampled_values=sampled_values,
                                          remove_accidental_hits=False)[0]

    _, (tape_U, tape_h) = d.autodiff_gradients(tf_loss, U, h)
    g = d.sampled_softmax_logit_gradient(U @ h, o, samples, q, include_true=True)[0]
    np.testing.assert_allclose(np.outer(g, h), tape_U, rtol=0, atol=ATOL)
    np.testing.assert_allclose(U.T @ g, tape_h, rtol=0, atol=ATOL)


def test_jean_sampled_softmax_with_one_sample_is_biased_towards_q():
    # k = 1: the single weight normalises to 1, so g_hat = e_{w_1} - e_o exactly and
    # E[g_hat] = Q - e_o, not softmax(z) - e_o: the estimator is biased.
    problem = d.make_problem(vocab_size=300, seed=1)
    samples = np.arange(300)[:, None]                           # each word as the one sample
    g = d.sampled_softmax_logit_gradient(problem.logits, problem.target, samples, problem.noise)
    want = np.eye(300)
    want[:, problem.target] -= 1.0
    np.testing.assert_array_equal(g, want)
    expected = problem.noise @ g                                # sum_w Q_w (e_w - e_o)
    exact = d.softmax_logit_gradient(problem.logits, problem.target)
    assert np.linalg.norm(expected - exact) > 0.05 * np.linalg.norm(exact)


def test_nce_expected_gradient_closed_form_matches_monte_carlo():
    problem = d.make_problem(vocab_size=200, seed=2)
    z, o, q = problem.logits, problem.target, problem.noise
    rng = np.random.default_rng(7)
    reps, k = 4000, 8
    samples = rng.choice(200, size=(reps, k), p=q)
    estimates = d.nce_logit_gradient(z, o, samples, q)
    diff2 = np.sum((estimates.mean(0) - d.nce_expected_logit_gradient(z, o, q, k)) ** 2)
    # E[diff2] = sum_w Var(g_w) / R; diff2 sums 200 terms so it concentrates near its mean:
    # 3x the expectation is a wide margin (an error in the closed form is O(1), not O(1/R)).
    assert diff2 < 3.0 * estimates.var(0, ddof=1).sum() / reps


def test_nce_bias_decreases_monotonically_to_zero():
    problem = d.make_problem(seed=3)
    z, o, q = problem.logits, problem.target, problem.noise
    exact = d.softmax_logit_gradient(z, o)
    bias = [np.linalg.norm(d.nce_expected_logit_gradient(z, o, q, k) - exact)
            for k in (1, 2, 4, 16, 64, 1024, 10**6)]
    # Each term k Q / (p + k Q) increases to 1 in k, so the bias shrinks at every step ...
    assert all(b2 < b1 for b1, b2 in zip(bias, bias[1:]))
    assert bias[0] > 0.1 and bias[-1] < 1e-4        # ... from O(1) (0.65) to ~1e-5 at k = 1e6.
    # A wrong log-normaliser c makes NCE tend to -e_o + exp(z - c) instead.
    c = d.logsumexp(z) + 1.0
    samples = np.random.default_rng(0).choice(len(q), size=(200, 4096), p=q)
    mean = d.nce_logit_gradient(z, o, samples, q, log_normalizer=c).mean(0)
    unnormalised = np.exp(z - c)
    unnormalised[o] -= 1.0
    assert np.linalg.norm(mean - unnormalised) < 0.01 < np.linalg.norm(mean - exact)


@pytest.mark.parametrize("method", sorted(d.ESTIMATORS))
def test_gradient_error_decreases_with_k(method):
    res = d.gradient_error_vs_k(method, ks=(1, 4, 16, 64, 256, 1024), repetitions=200,
                                seed=11)
    err, se = res["error_mean"], res["error_se"]
    # Every 4x more samples cuts the mean error by at least 20%, beyond 3 standard errors of
    # both means (observed cuts 30-50%, with SEs 1-2% of the means).
    assert np.all(err[1:] + 3 * (se[1:] + se[:-1]) < 0.8 * err[:-1])
    # Variance-dominated for large k: error ~ 1/sqrt(k), so 4x k halves it (0.5 +- 0.1).
    assert 0.4 < err[-1] / err[-2] < 0.6
    assert err[-1] < err[0] / 10


@pytest.mark.parametrize("method", ["sampled_softmax", "sampled_softmax_tf"])
def test_sampled_softmax_is_biased_but_consistent(method):
    small = d.gradient_error_vs_k(method, ks=(4,), repetitions=4000, seed=5)
    large = d.gradient_error_vs_k(method, ks=(4096,), repetitions=400, seed=6)
    # Biased: at k = 4 the mean estimate sits more than 3 noise levels from the gradient.
    assert small["bias"][0] > 3 * small["bias_noise"][0]
    # Consistent: at k = 4096 what is left is no larger than the Monte Carlo noise (2x margin
    # for its fluctuation) and far below the k = 4 bias.
    assert large["bias"][0] < 2 * large["bias_noise"][0] < small["bias"][0] / 5


def test_error_vs_k_is_fast_and_plots(tmp_path):
    import time
    start = time.perf_counter()
    results = {m: d.gradient_error_vs_k(m) for m in ("nce", "sampled_softmax")}
    # The notebooks call these directly: ~0.05 s each here, so 3 s leaves a 30x margin.
    assert time.perf_counter() - start < 3.0
    assert set(results["nce"]) == {"k", "error_mean", "error_se", "bias", "bias_noise",
                                   "bias_exact"}
    path = tmp_path / "sub" / "error_vs_k.png"
    fig = d.plot_gradient_error_vs_k(results, path)
    assert path.stat().st_size > 10_000
    assert len(fig.axes[0].lines) >= 5


@pytest.mark.parametrize("call,error,match", [
    (lambda: d.naive_softmax_gradients(np.zeros(3), 5, np.zeros((5, 3))), ValueError, "o must"),
    (lambda: d.naive_softmax_gradients(np.zeros(3), 0, np.zeros((5, 4))), ValueError, "U must"),
    (lambda: d.negative_sampling_gradients(np.zeros(3), np.zeros(2), np.zeros((5, 3))),
     ValueError, "u_o must"),
    (lambda: d.two_class_softmax(np.zeros((4, 3)), np.zeros((3, 3))), ValueError, "W must"),
    (lambda: d.nce_logit_gradient(np.zeros(5), 0, [[5]], np.full(5, 0.2)), ValueError,
     "samples must"),
    (lambda: d.nce_logit_gradient(np.zeros(5), 0, [[1]], np.full(5, 0.3)), ValueError,
     "q must"),
    (lambda: d.gradient_error_vs_k("softmax"), ValueError, "method must"),
    (lambda: d.gradient_error_vs_k("nce", ks=(0, 4)), ValueError, "ks must"),
    (lambda: d.make_problem(vocab_size=1), ValueError, "vocab_size"),
])
def test_bad_inputs_are_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()
