"""What each candidate-sampling loss learns: the "F(x, y) gets trained to approximate" table, by experiment.

    python -m w2v_tf table                 # the error table, plots in runs/table/
    python -m w2v_tf table --json          # ... last line: the errors as one JSON object

Google's "Candidate Sampling Algorithms Reference" states, for each training loss, the
function F(x, y) that an unconstrained model ends up computing. We build a problem where
every such target is known, train a *free table* with each of the six losses of
`w2v_tf.losses`, and measure how far the learned table is from each target.

The problem. X contexts, drawn uniformly (P(x) = 1/X); C classes with P(y|x) drawn from a
Dirichlet(alpha) per context; a fixed proposal Q(y), the log-uniform (Zipf) distribution of
TensorFlow's default sampler. The model is a free table: inputs are one-hot(x) `[B, X]`,
class weights W `[C, X]`, no biases, so the logit o_y(x) = x . w_y = W[y, x] = F(x, y)
can take any value in every cell.

Sampling. k = `num_sampled` negatives per step, drawn i.i.d. from Q *with replacement*
(unique=False) and shared by the whole batch, so the expected count of class y in the
sample is exactly k Q(y); that is what we pass as `true_expected_count` and
`sampled_expected_count`. Every loss keeps its default for accidental hits:
NCE keeps them (`remove_accidental_hits=False`); negative sampling, sampled logistic and
sampled softmax remove them (True; `compute_sampled_logits` masks *every* position of a
repeated sampled id).

The targets, derived. Fix x and write P = P(y|x), Q = Q(y), s = sigmoid. Over a row, the
true class is y with probability P, and class y appears among the negatives kQ times on
average; with hits removed it counts only when it is not the row's true class, which is
independent of the draw: kQ(1 - P) times. The logistic losses are sums of per-cell binary
cross-entropies, so the expected loss of cell (x, y) is, with o = F - log kQ when log Q is
subtracted and o = F otherwise,

    L(F) = P (-log s(o)) + N (-log s(-o)),   N = kQ (hits kept) or kQ(1 - P) (hits removed)

and dL/dF = -P (1 - s(o)) + N s(o) = 0 gives e^o = P / N. Hence

    NCE               o = F - log kQ, N = kQ:          F = log P                      (exact)
    negative sampling o = F,          N = kQ(1 - P):   F = log P - log kQ - log(1 - P)
    sampled logistic  o = F - log kQ, N = kQ(1 - P):   F = log P - log(1 - P)  (log-odds)
    full logistic     every class, label 1 w.p. P:     F = log P - log(1 - P)
    full softmax      softmax(F) = P:                  F = log P + K(x)

Negative sampling with hits *kept* would give log P - log kQ, i.e. log(P/Q) - log k, the
"shifted PMI" of Levy & Goldberg (2014); word2vec.c skips a negative equal to the target,
which is our default and adds -log(1 - P). (`--variants` trains that row too.)

Sampled softmax is not a sum over cells, and with accidental hits removed (its default) it
does *not* learn log P + K(x) here. Its softmax runs over the true logit e^{F_t} / kQ(t) and
the surviving negatives; as k grows, sum_j e^{F_sj} / kQ(sj) over the negatives tends to
sum_y e^{F_y} *minus* the removed hits' share e^{F_t}, while the true term tends to 0, so
the loss tends to -log(e^{F_t} / sum_{y != t} e^{F_y}), which log P does not minimise unless
P(t|x) << 1. The true term keeps the balance only while kQ(t) << 1, as for most classes of a
large vocabulary; in a 20-class toy kQ(t) is 0.6 to 9. So its own column is the exact
optimum of its expected loss for this k, Q and P (`sampled_softmax_optimum`, computed
numerically), and the row also shows its distance from log P + K(x) (in these problems
the optimum lies nearer the log-odds than log P, up to K(x)). With hits *kept* the
sampled denominator tends to sum_y e^{F_y} and the optimum is log P + K(x) up to O(1/k)
(Bengio & Senecal 2008); `--variants` trains that row too.

So the table has six target columns: log P, log P/kQ, log P/kQ(1-P), log P/(1-P),
log P + K(x) and the sampled-softmax optimum + K(x) ("SSM opt + K").

Errors. The error of a learned table F against a target T is the data-weighted RMSE

    err(F, T) = sqrt( sum_x P(x) sum_y P(y|x) (F(x,y) - T(x,y) - c(x))^2 )

with c(x) = 0, except for the two "+ K(x)" targets, where c(x) = sum_y P(y|x) (F - T) is
the weighted least-squares K(x). Weighting by the data distribution counts the cells in
proportion to how often they are seen: cells with P(y|x) near 0 get almost no gradient from
the sampled losses and their log-odds / log P targets run off to -infinity, so an unweighted
RMSE would measure only how far training went in those cells.

The experiment is also `notebooks/07_what_each_loss_learns.ipynb`, which imports
`run_experiment` and `plot_table` from here.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Dict, List, Optional

import numpy as np

# ----------------------------------------------------------------------------- the table
# Target columns: name -> (formula shown in the table, centred per x?)
TARGETS = {
    "log_p": ("log P", False),
    "log_p_over_kq": ("log P/kQ", False),
    "log_p_over_kq_1mp": ("log P/kQ(1-P)", False),
    "log_odds": ("log P/(1-P)", False),
    "log_p_plus_k": ("log P + K(x)", True),
    "ssm_optimum": ("SSM opt + K", True),
}

# Rows: name -> (key in w2v_tf.losses.LOSSES, extra keyword arguments, own target column).
ROWS = {
    "nce": ("nce", {}, "log_p"),
    "neg": ("neg", {}, "log_p_over_kq_1mp"),
    "sampled_logistic": ("sampled_logistic", {}, "log_odds"),
    "full_logistic": ("full_logistic", {}, "log_odds"),
    "softmax": ("softmax", {}, "log_p_plus_k"),
    "sampled_softmax": ("sampled_softmax", {}, "ssm_optimum"),
}
# Extra rows shown with `variants=True`: two losses with their accidental-hit default flipped.
VARIANT_ROWS = {
    "neg_keep_hits": ("neg", {"remove_accidental_hits": False}, "log_p_over_kq"),
    "sampled_softmax_keep_hits": ("sampled_softmax", {"remove_accidental_hits": False},
                                  "log_p_plus_k"),
}

# Own-target error tolerances at the default settings of `run_experiment`. Errors measured
# over seeds 0-4 (data-weighted RMSE): sampled rows 0.027-0.037, full rows 0.018-0.022.
# The tolerances are about 1.7x the largest: sampled 0.06, full 0.04.
TOLERANCE = {
    "nce": 0.06, "neg": 0.06, "sampled_logistic": 0.06, "full_logistic": 0.04,
    "softmax": 0.04, "sampled_softmax": 0.06, "neg_keep_hits": 0.06,
    "sampled_softmax_keep_hits": 0.06,
}


def make_problem(seed: int = 0, num_contexts: int = 8, num_classes: int = 20,
                 alpha: float = 0.5) -> Dict[str, np.ndarray]:
    """The synthetic problem: P(x) uniform, P(y|x) ~ Dirichlet(alpha), Q log-uniform.

    Args:
      seed: numpy seed of the Dirichlet draws.
      num_contexts: X, the number of contexts x.
      num_classes: C, the number of classes y.
      alpha: Dirichlet concentration; 0.5 over 20 classes gives each context a few classes
        with P(y|x) of 0.2-0.6 (where log P and the log-odds differ by -log(1-P) ~ 0.2-0.9)
        and a tail of rare ones.

    Returns:
      dict with `p_x` `[X]`, `p` = P(y|x) `[X, C]` (rows sum to 1, floored at 1e-6 and
      renormalised so every log is finite) and `q` = Q(y) `[C]`.
    """
    from w2v_tf.sampling import log_uniform_probabilities
    for name, value in (("num_contexts", num_contexts), ("num_classes", num_classes)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 2:
            raise ValueError(f"`{name}` must be an int >= 2, got {value!r}.")
    if not alpha > 0:
        raise ValueError(f"`alpha` must be > 0, got {alpha!r}.")
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(num_classes, alpha), size=num_contexts)
    p = np.maximum(p, 1e-6)
    p /= p.sum(axis=1, keepdims=True)                                    # [X, C]
    q = log_uniform_probabilities(num_classes).astype(np.float64)
    q /= q.sum()                                                         # [C]
    return {"p_x": np.full(num_contexts, 1.0 / num_contexts), "p": p, "q": q}


def targets(problem: Dict[str, np.ndarray], num_sampled: int, draws: int = 3000,
            seed: int = 0) -> Dict[str, np.ndarray]:
    """The six target tables `[X, C]`, keyed as `TARGETS` (a "+ K(x)" column holds one K).

    `draws` and `seed` are those of `sampled_softmax_optimum`.
    """
    p, kq = problem["p"], num_sampled * problem["q"][None, :]
    log_p, log_1mp = np.log(p), np.log1p(-p)
    return {
        "log_p": log_p,                                    # NCE
        "log_p_over_kq": log_p - np.log(kq),               # NEG, hits kept
        "log_p_over_kq_1mp": log_p - np.log(kq) - log_1mp,  # NEG, hits removed (default)
        "log_odds": log_p - log_1mp,                       # sampled and full logistic
        "log_p_plus_k": log_p,                             # softmaxes, up to K(x)
        "ssm_optimum": sampled_softmax_optimum(problem, num_sampled, draws, seed),
    }


def sampled_softmax_objective(f: np.ndarray, problem: Dict[str, np.ndarray],
                              counts: np.ndarray, num_sampled: int):
    """Expected sampled-softmax loss (hits removed) over given draws, and its gradient.

    With o_y = F(x, y) - log kQ(y) and c_my the number of times class y is in draw m,

        L(F) = sum_x P(x) sum_t P(t|x) (1/M) sum_m [-o_t + log(e^{o_t} + sum_{y != t} c_my e^{o_y})]

    which is the mean over the draws of `sampled_softmax_loss` with every position of a
    sampled id equal to the true class t masked.

    Args:
      f: F `[X, C]`.
      problem: from `make_problem`.
      counts: `[M, C]` float, class counts of M draws of `num_sampled` classes from Q.
      num_sampled: k.

    Returns:
      `(L, dL/dF [X, C])`.
    """
    p_x, p = problem["p_x"], problem["p"]
    m = counts.shape[0]
    o = f - np.log(num_sampled * problem["q"])[None, :]                  # [X, C]
    o_max = o.max(axis=1, keepdims=True)
    e = np.exp(o - o_max)                                                # [X, C] e^{o} / e^{max}
    neg = counts @ e.T                                                   # [M, X] sum_y c_my e_y
    # D[m, x, t] = e_t + sum_y c_my e_y - c_mt e_t: the softmax denominator for true class t.
    d = neg[:, :, None] + e[None] * (1.0 - counts[:, None, :])          # [M, X, C]
    w = p_x[:, None] * p                                                 # [X, C] P(x) P(t|x)
    loss = float(np.sum(w * (-o + o_max + np.log(d).mean(axis=0))))
    # d log D[m,x,t] / d o_y = e_y (1[y=t] (1 - c_mt) + c_my) / D[m,x,t]
    inv = 1.0 / d                                                        # [M, X, C]
    own = (inv.sum(axis=0) - np.einsum("mxt,mt->xt", inv, counts)) * w    # [X, C] y = t terms
    cross = np.einsum("mxt,xt->mx", inv, w).T @ counts                  # [X, C] c_my terms
    grad = -w + e * (own + cross) / m
    return loss, grad


def sampled_softmax_optimum(problem: Dict[str, np.ndarray], num_sampled: int,
                            draws: int = 3000, seed: int = 0) -> np.ndarray:
    """The table that sampled softmax (hits removed, k draws from Q) converges to: `[X, C]`.

    No closed form: we minimise `sampled_softmax_objective` over `draws` fixed multinomial
    draws of k classes from Q (a sample-average approximation; its error shrinks like
    1/sqrt(draws)) with L-BFGS, starting from log P. Defined up to a per-x constant K(x).

    Why it is not log P + K(x): for large k the sampled part of the denominator tends to
    sum_{y != t} e^{F_y} (the hits are removed) and the true term e^{F_t} / kQ(t) to 0, so the
    loss tends to -log(e^{F_t} / sum_{y != t} e^{F_y}), whose minimiser is not log P unless
    P(t|x) << 1. With kQ(t) << 1 (a large vocabulary) the true term keeps its weight and the
    optimum is close to log P + K(x); keeping the hits also gives log P + K(x) up to O(1/k).
    """
    from scipy.optimize import minimize
    rng = np.random.default_rng([seed, 2])
    counts = rng.multinomial(num_sampled, problem["q"], size=draws).astype(np.float64)  # [M, C]
    shape = problem["p"].shape

    def fun(flat):
        loss, grad = sampled_softmax_objective(flat.reshape(shape), problem, counts,
                                               num_sampled)
        return loss, grad.ravel()

    res = minimize(fun, np.log(problem["p"]).ravel(), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-9, "maxiter": 2000})
    return res.x.reshape(shape)


def weighted_rmse(f: np.ndarray, target: np.ndarray, p_x: np.ndarray, p: np.ndarray,
                  centred: bool) -> float:
    """sqrt(sum_x P(x) sum_y P(y|x) (F - T - c(x))^2), c(x) the weighted mean if `centred`."""
    d = f - target                                                       # [X, C]
    if centred:
        d = d - (p * d).sum(axis=1, keepdims=True)                       # K(x) by least squares
    return float(np.sqrt((p_x[:, None] * p * d ** 2).sum()))


# ----------------------------------------------------------------------------- training
def sample_data(problem: Dict[str, np.ndarray], steps: int, batch_size: int, num_sampled: int,
                seed: int):
    """Pre-drawn training stream shared by every loss (common random numbers).

    Returns:
      `(x [steps, B], y [steps, B], negatives [steps, k])` int32: x ~ P(x), y ~ P(y|x) and
      k negatives per step drawn with replacement from Q.
    """
    rng = np.random.default_rng([seed, 1])
    p_x, p, q = problem["p_x"], problem["p"], problem["q"]
    x = rng.choice(len(p_x), size=(steps, batch_size), p=p_x)
    # y ~ P(y|x) by inverting the CDF of row x: y = #{c : CDF(c) <= u}, u ~ U[0, 1).
    cdf = np.cumsum(p, axis=1)
    cdf[:, -1] = 1.0
    u = rng.random((steps, batch_size))
    y = np.empty_like(x)
    for ctx in range(len(p_x)):
        sel = x == ctx
        y[sel] = np.searchsorted(cdf[ctx], u[sel], side="right")
    neg = rng.choice(len(q), size=(steps, num_sampled), p=q)
    return x.astype(np.int32), np.minimum(y, p.shape[1] - 1).astype(np.int32), neg.astype(np.int32)


def train_tables(row_specs: Dict[str, tuple], problem: Dict[str, np.ndarray], data,
                 num_sampled: int, learning_rate: float = 0.1, final_lr_ratio: float = 0.01,
                 seed: int = 0, chunk: int = 250, progress: bool = False) -> Dict[str, np.ndarray]:
    """Trains one free table per row, all on the same data stream; returns the learned F's.

    Args:
      row_specs: {row: (loss function with the shared signature, extra keyword arguments)}.
      problem: from `make_problem`.
      data: `(x, y, negatives)` from `sample_data`.
      num_sampled: k.
      learning_rate, final_lr_ratio: Adam's learning rate decays exponentially from
        `learning_rate` to `learning_rate * final_lr_ratio` over the run (the late small steps
        average out the sampling noise).
      seed: TensorFlow's global seed (nothing here draws from it; set for reproducibility).
      chunk: steps per `tf.function` call (the progress bar moves once per chunk).
      progress: show a tqdm bar over the steps (on stderr).

    Returns:
      {row: F `[X, C]` float64}, F(x, y) = W[y, x] of that row's table.

    Every table is a variable W `[C, X]` with F(x, y) = one_hot(x) . w_y = W[y, x]; the losses
    are summed, and since each depends on its own table only, one Adam over all tables trains
    each exactly as its own optimizer would (Adam is per coordinate).
    """
    import keras
    import tensorflow as tf

    tf.random.set_seed(seed)
    x_all, y_all, neg_all = (tf.constant(a) for a in data)
    steps = int(x_all.shape[0])
    num_contexts, num_classes = problem["p"].shape
    kq = tf.constant(num_sampled * problem["q"], tf.float32)                 # [C] expected counts
    tables = {row: tf.Variable(tf.zeros([num_classes, num_contexts]), name=f"table_{row}")
              for row in row_specs}                                         # W [C, X] each
    variables = list(tables.values())
    schedule = keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=steps, decay_rate=final_lr_ratio)
    # beta_2 = 0.99 (not 0.999): the second-moment estimate forgets the large early gradients
    # within ~100 steps, so cells whose gradient has become tiny still move.
    opt = keras.optimizers.Adam(schedule, beta_2=0.99)

    @tf.function
    def run(begin, end):
        for i in tf.range(begin, end):
            x, y, neg = x_all[i], y_all[i], neg_all[i]
            inputs = tf.one_hot(x, num_contexts)                            # [B, X]
            labels = tf.cast(y, tf.int64)[:, None]                          # [B, 1]
            sampled = (tf.cast(neg, tf.int64),                              # [k]
                       tf.gather(kq, y)[:, None],                           # [B, 1] = k Q(y)
                       tf.gather(kq, neg))                                  # [k]    = k Q(s)
            with tf.GradientTape() as tape:
                total = tf.add_n([
                    tf.reduce_mean(loss_fn(tables[row], None, labels, inputs, num_sampled,
                                           num_classes, sampled_values=sampled, **kwargs))
                    for row, (loss_fn, kwargs) in row_specs.items()])
            opt.apply_gradients(zip(tape.gradient(total, variables), variables))

    bounds = list(range(0, steps, chunk)) + [steps]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc=f"training {len(tables)} tables", unit="step",
                   file=sys.stderr)
    for begin, end in zip(bounds[:-1], bounds[1:]):
        run(tf.constant(begin), tf.constant(end))
        if bar is not None:
            bar.update(end - begin)
    if bar is not None:
        bar.close()
    return {row: w.numpy().T.astype(np.float64) for row, w in tables.items()}  # F [X, C]


# ----------------------------------------------------------------------------- experiment
def run_experiment(seed: int = 0, steps: int = 3000, batch_size: int = 512,
                   num_sampled: int = 40, num_contexts: int = 8, num_classes: int = 20,
                   alpha: float = 0.5, learning_rate: float = 0.1, draws: int = 3000,
                   rows: Optional[List[str]] = None, variants: bool = False,
                   progress: bool = False) -> Dict:
    """Trains the free table with each loss and scores it against every target.

    Args:
      seed: seeds the problem, the data stream and TensorFlow.
      steps, batch_size: training steps per loss and examples per step.
      num_sampled: k, negatives per step (shared by the batch, drawn with replacement).
      num_contexts, num_classes, alpha: the problem (see `make_problem`).
      learning_rate: Adam's initial learning rate (decays 100x over the run).
      draws: draws of k negatives used to compute the sampled-softmax optimum.
      rows: which rows of `ROWS` (and `VARIANT_ROWS`) to train; default all of `ROWS`.
      variants: also train `VARIANT_ROWS` (negative sampling and sampled softmax with
        accidental hits kept).
      progress: show a tqdm bar over the training steps (on stderr).

    Returns:
      dict with `config`; `problem` (`p_x`, `p`, `q`); `targets` {column: `[X, C]`};
      `learned` {row: `[X, C]`}; `errors` {row: {column: float}}; `own` {row: column};
      `closest` {row: column of least error}; `log_partition` {row: RMS over x of
      log sum_y exp F(x, y)} (0 means self-normalised); `seconds`, the training time.

    Raises:
      ValueError: for a row name that is not in `ROWS` / `VARIANT_ROWS` or bad sizes.
    """
    from w2v_tf.losses import LOSSES
    all_rows = {**ROWS, **VARIANT_ROWS}
    if rows is None:
        rows = list(ROWS) + (list(VARIANT_ROWS) if variants else [])
    unknown = [r for r in rows if r not in all_rows]
    if unknown:
        raise ValueError(f"`rows` contains {unknown}; expected names from {list(all_rows)}.")
    for name, value in (("steps", steps), ("batch_size", batch_size),
                        ("num_sampled", num_sampled), ("draws", draws)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{name}` must be a positive int, got {value!r}.")

    problem = make_problem(seed, num_contexts, num_classes, alpha)
    tables = targets(problem, num_sampled, draws, seed)
    data = sample_data(problem, steps, batch_size, num_sampled, seed)
    start = time.perf_counter()
    learned = train_tables({row: (LOSSES[all_rows[row][0]], all_rows[row][1]) for row in rows},
                           problem, data, num_sampled, learning_rate, seed=seed,
                           progress=progress)
    seconds = time.perf_counter() - start
    errors = {row: {col: weighted_rmse(f, tables[col], problem["p_x"], problem["p"],
                                       TARGETS[col][1]) for col in TARGETS}
              for row, f in learned.items()}
    log_z = {row: float(np.sqrt(np.mean(np.log(np.exp(f).sum(axis=1)) ** 2)))
             for row, f in learned.items()}
    return {
        "config": dict(seed=seed, steps=steps, batch_size=batch_size, num_sampled=num_sampled,
                       num_contexts=num_contexts, num_classes=num_classes, alpha=alpha,
                       learning_rate=learning_rate, draws=draws),
        "problem": problem, "targets": tables, "learned": learned, "errors": errors,
        "own": {row: all_rows[row][2] for row in rows},
        "closest": {row: min(e, key=e.get) for row, e in errors.items()},
        "log_partition": log_z, "seconds": seconds,
    }


def target_distance(problem: Dict[str, np.ndarray], tables: Dict[str, np.ndarray],
                    a: str, b: str) -> float:
    """How far target column `a` is from column `b`, in column b's error metric.

    If either is only defined up to K(x), the per-x constant is removed first (the least
    distance between the two sets of tables). By the triangle inequality a table within e
    of `a` is at least `target_distance - e` from `b`.
    """
    centred = TARGETS[a][1] or TARGETS[b][1]
    return weighted_rmse(tables[a], tables[b], problem["p_x"], problem["p"], centred)


def summary(results: Dict) -> Dict:
    """The JSON-able part of `run_experiment`'s result (no arrays)."""
    return {key: results[key] for key in
            ("config", "errors", "own", "closest", "log_partition", "seconds")}


# ----------------------------------------------------------------------------- output
def format_table(results: Dict) -> str:
    """Rows = losses, columns = targets; `*` marks each loss's own target."""
    cols = list(TARGETS)
    width = max(len(TARGETS[c][0]) for c in cols) + 2
    lines = ["error of the learned F(x, y) against each target (data-weighted RMSE; "
             "* = the loss's own target)",
             f"{'loss':<26}" + "".join(f"{TARGETS[c][0]:>{width}}" for c in cols)
             + f"{'log Z':>8}"]
    for row, errs in results["errors"].items():
        cells = "".join(f"{errs[c]:>{width - 1}.3f}{'*' if c == results['own'][row] else ' '}"
                        for c in cols)
        lines.append(f"{row:<26}{cells}{results['log_partition'][row]:>8.3f}")
    lines.append("log Z = RMS over x of log sum_y exp F(x, y): 0 for a self-normalised table.")
    return "\n".join(lines)


def _scatter(ax, results: Dict, row: str) -> None:
    """Learned F vs the row's own target, one colour per context, marker area ~ P(y|x)."""
    col = results["own"][row]
    p = results["problem"]["p"]
    f, t = results["learned"][row], results["targets"][col]
    if TARGETS[col][1]:                          # log P + K(x): shift F by the fitted K(x)
        f = f - (p * (f - t)).sum(axis=1, keepdims=True)
    for ctx in range(f.shape[0]):
        ax.scatter(t[ctx], f[ctx], s=5 + 200 * p[ctx], alpha=0.7, label=f"x={ctx}")
    lo, hi = min(t.min(), f.min()), max(t.max(), f.max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel(f"target {TARGETS[col][0]}")
    ax.set_ylabel("learned F(x, y)" + (" - K(x)" if TARGETS[col][1] else ""))
    ax.set_title(f"{row}: error {results['errors'][row][col]:.3f}")


def plot_table(results: Dict, out_dir: Optional[str] = None):
    """A grid of scatter plots (one per loss: learned F vs its own target).

    Args:
      results: the dict of `run_experiment`.
      out_dir: if given, also saves one figure per loss as `out_dir/table_<loss>.png`
        (created if needed; existing `table_<loss>.png` files are overwritten).

    Returns:
      the grid `matplotlib.figure.Figure`.
    """
    import matplotlib
    if out_dir is not None and "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(results["learned"])
    ncols = 3
    nrows = -(-len(rows) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 4.0 * nrows), squeeze=False)
    for ax, row in zip(axes.flat, rows):
        _scatter(ax, results, row)
    for ax in list(axes.flat)[len(rows):]:
        ax.set_visible(False)
    fig.suptitle("What each loss learns: F(x, y) vs its target (area ~ P(y|x))")
    fig.tight_layout()
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        for row in rows:
            single, ax = plt.subplots(figsize=(4.5, 4.2))
            _scatter(ax, results, row)
            single.tight_layout()
            single.savefig(os.path.join(out_dir, f"table_{row}.png"), dpi=100)
            plt.close(single)
    return fig
