"""The study material's derivations, as small numpy functions the notebooks import and check.

Notation (CS224n word2vec notes): centre word c with input vector v_c `[d]`, outside vectors
U `[V, d]` (row u_w), true outside word o, logits z = U v_c `[V]`, y_hat = softmax(z),
s(x) = 1 / (1 + exp(-x)).

1. Naive softmax: J = -log y_hat_o,
       dJ/dv_c = sum_w y_hat_w u_w - u_o = U^T (y_hat - y),   dJ/du_w = (y_hat_w - 1[w=o]) v_c.
2. Negative sampling (Mikolov et al. 2013, Eq. 4) with K negatives u_k:
       J = -log s(u_o.v_c) - sum_k log s(-u_k.v_c),
       dJ/dv_c = (s(u_o.v_c) - 1) u_o + sum_k s(u_k.v_c) u_k,
       dJ/du_o = (s(u_o.v_c) - 1) v_c,    dJ/du_k = s(u_k.v_c) v_c.
3. A 2-class softmax is a logistic regression on the weight difference:
       exp(w_1.x + b_1) / (exp(w_0.x + b_0) + exp(w_1.x + b_1)) = s((w_1 - w_0).x + b_1 - b_0),
   and s'(x) = s(x) (1 - s(x)).
4. Sampling estimators of the softmax gradient with respect to the logits,
   g = dJ/dz = y_hat - e_o (the parameter gradients are g v_c^T and U^T g, so the relative
   error of dJ/dU equals that of g exactly):
   - NCE (Gutmann & Hyvarinen 2010; Mnih & Teh 2012) with k noise words w_j ~ Q and scores
     log p_w = z_w - log Z, Delta_w = log p_w - log(k Q_w):
         g_NCE = -(1 - s(Delta_o)) e_o + sum_j s(Delta_{w_j}) e_{w_j},
     E[g_NCE]_w = -(k Q_o / (p_o + k Q_o)) 1[w=o] + k Q_w p_w / (p_w + k Q_w) -> g as k -> oo.
   - Sampled softmax, Jean et al. 2015 Eq. (11)-(12): with w_j ~ Q and importance weights
     omega_j = exp(z_{w_j} - log Q_{w_j}),
         g_SS = -e_o + sum_j (omega_j / sum_j' omega_j') e_{w_j},
     a self-normalised importance-sampling estimate: biased for finite k (at k = 1 it is
     e_{w_1} - e_o, of mean Q - e_o), consistent as k -> oo.
     `include_true=True` is TensorFlow's `sampled_softmax_loss` form (the true class is one
     of the softmax's entries, every logit shifted by -log(expected count) = -log(k Q)).

Every function here is numpy float64 and runs in milliseconds; `autodiff_gradients` and the
`*_tf` losses give the tf.GradientTape side of each check.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

# ---------------------------------------------------------------------------------------------
# Helpers


def sigmoid(x):
    """s(x) = 1 / (1 + exp(-x)), computed without overflow for large |x|."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_derivative(x):
    """s'(x) = s(x) (1 - s(x)): d/dx (1 + e^-x)^-1 = e^-x / (1 + e^-x)^2.

    Computed as s(x) s(-x) (since 1 - s(x) = s(-x)), which avoids the cancellation in
    1 - s(x) when s(x) rounds to 1 (x > ~37 in float64).
    """
    return sigmoid(x) * sigmoid(-np.asarray(x, dtype=np.float64))


def softmax(z, axis: int = -1):
    """y_hat = exp(z - max z) / sum exp(z - max z) (shift-invariant, so no overflow)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def logsumexp(z) -> float:
    """log sum_w exp(z_w) for a `[V]` vector."""
    z = np.asarray(z, dtype=np.float64)
    m = z.max()
    return float(m + np.log(np.exp(z - m).sum()))


def _as_matrix(name: str, x, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or (rows is not None and arr.shape[0] != rows) or \
            (cols is not None and arr.shape[1] != cols):
        want = f"[{rows if rows is not None else 'n'}, {cols if cols is not None else 'd'}]"
        raise ValueError(f"{name} must have shape {want}, got shape {arr.shape}")
    return arr


def _as_vector(name: str, x, size: int | None = None) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or (size is not None and arr.shape[0] != size):
        raise ValueError(f"{name} must have shape [{size if size is not None else 'd'}], "
                         f"got shape {arr.shape}")
    return arr


def _as_index(name: str, i, size: int) -> int:
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < size:
        raise ValueError(f"{name} must be an int in [0, {size}), got {i!r}")
    return int(i)


# ---------------------------------------------------------------------------------------------
# 1. Naive softmax and 2. negative sampling: analytic gradients


def naive_softmax_gradients(v_c, o: int, U) -> tuple[float, np.ndarray, np.ndarray]:
    """J = -log softmax(U v_c)_o and its analytic gradients.

    Args:
        v_c: `[d]` centre (input) vector.
        o: index of the true outside word, in [0, V).
        U: `[V, d]` outside (output) vectors.

    Returns:
        (J, dJ/dv_c `[d]`, dJ/dU `[V, d]`).
    """
    v_c = _as_vector("v_c", v_c)
    U = _as_matrix("U", U, cols=v_c.shape[0])
    o = _as_index("o", o, U.shape[0])
    z = U @ v_c                                       # logits [V]
    y_hat = softmax(z)                                # [V]
    delta = y_hat.copy()
    delta[o] -= 1.0                                   # y_hat - y, y one-hot at o
    loss = logsumexp(z) - z[o]                        # -log y_hat_o
    d_v_c = U.T @ delta                               # sum_w y_hat_w u_w - u_o
    d_U = np.outer(delta, v_c)                        # (y_hat_w - 1[w=o]) v_c
    return loss, d_v_c, d_U


def negative_sampling_gradients(v_c, u_o, U_neg) -> tuple[float, np.ndarray, np.ndarray,
                                                           np.ndarray]:
    """Negative-sampling loss J = -log s(u_o.v_c) - sum_k log s(-u_k.v_c) and its gradients.

    A word drawn twice appears as two rows of `U_neg`; its total gradient is the sum of the
    two rows of dJ/dU_neg.

    Args:
        v_c: `[d]` centre vector.
        u_o: `[d]` outside vector of the true word.
        U_neg: `[K, d]` outside vectors of the K sampled negatives.

    Returns:
        (J, dJ/dv_c `[d]`, dJ/du_o `[d]`, dJ/dU_neg `[K, d]`).
    """
    v_c = _as_vector("v_c", v_c)
    u_o = _as_vector("u_o", u_o, v_c.shape[0])
    U_neg = _as_matrix("U_neg", U_neg, cols=v_c.shape[0])
    pos = u_o @ v_c                                   # u_o . v_c
    neg = U_neg @ v_c                                 # [K], u_k . v_c
    # -log s(x) = log(1 + e^-x)
    loss = float(np.logaddexp(0.0, -pos) + np.logaddexp(0.0, neg).sum())
    g_pos = sigmoid(pos) - 1.0                        # dJ/d(u_o.v_c)
    g_neg = sigmoid(neg)                              # [K], dJ/d(u_k.v_c) = 1 - s(-u_k.v_c)
    d_v_c = g_pos * u_o + U_neg.T @ g_neg
    d_u_o = g_pos * v_c
    d_U_neg = np.outer(g_neg, v_c)
    return loss, d_v_c, d_u_o, d_U_neg


def naive_softmax_loss_tf(v_c, o: int, U) -> tf.Tensor:
    """The same J through TensorFlow's own op, for the autodiff side of the check."""
    logits = tf.linalg.matvec(U, v_c)[None, :]                    # [1, V]
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[o], logits=logits)[0]


def negative_sampling_loss_tf(v_c, u_o, U_neg) -> tf.Tensor:
    """The same negative-sampling J written with tf.math.log_sigmoid."""
    return (-tf.math.log_sigmoid(tf.reduce_sum(u_o * v_c))
            - tf.reduce_sum(tf.math.log_sigmoid(-tf.linalg.matvec(U_neg, v_c))))


def autodiff_gradients(loss_fn: Callable[..., tf.Tensor], *arrays,
                       wrt: Sequence[int] | None = None) -> tuple[float, list[np.ndarray]]:
    """Runs `loss_fn(*tensors)` under tf.GradientTape in float64 and returns the gradients.

    Args:
        loss_fn: a function of tensors returning a scalar tensor.
        *arrays: its arguments; float arrays become float64 tensors, ints pass through.
        wrt: indices of the arguments to differentiate (default: every float argument).

    Returns:
        (loss, [gradient per argument in `wrt`] as float64 numpy arrays).
    """
    tensors = [tf.constant(np.asarray(a, np.float64))
               if np.issubdtype(np.asarray(a).dtype, np.floating) else a for a in arrays]
    if wrt is None:
        wrt = [i for i, t in enumerate(tensors) if isinstance(t, tf.Tensor)]
    with tf.GradientTape() as tape:
        for i in wrt:
            tape.watch(tensors[i])
        loss = loss_fn(*tensors)
    grads = tape.gradient(loss, [tensors[i] for i in wrt])
    return float(loss), [tf.convert_to_tensor(g).numpy() for g in grads]


# ---------------------------------------------------------------------------------------------
# 3. Two-class softmax = logistic regression


def _two_class_args(x, W, b):
    """(x [N, d], W [2, d], b [2]) checked, b = 0 when None."""
    x = _as_matrix("x", x)
    W = _as_matrix("W", W, rows=2, cols=x.shape[1])
    return x, W, (np.zeros(2) if b is None else _as_vector("b", b, 2))


def two_class_softmax(x, W, b=None) -> np.ndarray:
    """P(y = 1 | x) from a 2-way softmax: logits x W^T + b, `[N, 2]` -> `[N]`.

    Args:
        x: `[N, d]` inputs.
        W: `[2, d]` one weight row per class.
        b: `[2]` biases (default 0).
    """
    x, W, b = _two_class_args(x, W, b)
    return softmax(x @ W.T + b, axis=1)[:, 1]


def logistic_of_difference(x, W, b=None) -> np.ndarray:
    """s((w_1 - w_0).x + b_1 - b_0), `[N]`: equal to `two_class_softmax`.

    Dividing numerator and denominator of exp(a_1) / (exp(a_0) + exp(a_1)) by exp(a_1) gives
    1 / (1 + exp(-(a_1 - a_0))) with a_i = w_i.x + b_i.

    Args:
        x: `[N, d]` inputs.
        W: `[2, d]` one weight row per class.
        b: `[2]` biases (default 0).
    """
    x, W, b = _two_class_args(x, W, b)
    return sigmoid(x @ (W[1] - W[0]) + (b[1] - b[0]))


# ---------------------------------------------------------------------------------------------
# 4. NCE and sampled softmax as estimators of the softmax gradient


@dataclasses.dataclass
class SoftmaxProblem:
    """One softmax prediction to estimate gradients on.

    Attributes:
        logits: `[V]`, z = U v_c + log(unigram): frequent words are likelier, plus noise.
        target: o, the true word (drawn from softmax(z)).
        noise: `[V]`, the noise / proposal distribution Q = unigram^power / Z (word2vec: 0.75).
    """

    logits: np.ndarray
    target: int
    noise: np.ndarray

    @property
    def vocab_size(self) -> int:
        return int(self.logits.shape[0])


def make_problem(vocab_size: int = 1000, dim: int = 32, noise_power: float = 0.75,
                 seed: int = 0) -> SoftmaxProblem:
    """A Zipfian toy problem: unigram(w) ~ 1/(w+1), z = U v_c + log unigram, Q ~ unigram^0.75.

    Args:
        vocab_size: V (>= 2).
        dim: embedding size d of the random U `[V, d]` and v_c `[d]` (entries N(0, 1/d)).
        noise_power: exponent of the unigram in Q.
        seed: numpy seed.
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) \
            or vocab_size < 2:
        raise ValueError(f"vocab_size must be an int >= 2, got {vocab_size!r}")
    rng = np.random.default_rng(seed)
    unigram = 1.0 / np.arange(1, vocab_size + 1)
    unigram /= unigram.sum()
    U = rng.normal(scale=dim ** -0.5, size=(vocab_size, dim))
    v_c = rng.normal(size=dim)
    logits = U @ v_c + np.log(unigram)
    target = int(rng.choice(vocab_size, p=softmax(logits)))
    noise = unigram ** noise_power
    return SoftmaxProblem(logits=logits, target=target, noise=noise / noise.sum())


def softmax_logit_gradient(z, o: int) -> np.ndarray:
    """The exact gradient dJ/dz = softmax(z) - e_o of J = -log softmax(z)_o, `[V]`."""
    z = _as_vector("z", z)
    g = softmax(z)
    g[_as_index("o", o, z.shape[0])] -= 1.0
    return g


def _check_samples(z, o, samples, q):
    z = _as_vector("z", z)
    o = _as_index("o", o, z.shape[0])
    q = _as_vector("q", q, z.shape[0])
    if np.any(q <= 0) or not np.isclose(q.sum(), 1.0):
        raise ValueError(f"q must be a distribution with every entry > 0, got sum {q.sum()} "
                         f"and min {q.min()}")
    samples = np.asarray(samples)
    if samples.ndim == 1:
        samples = samples[None, :]
    if samples.ndim != 2 or not np.issubdtype(samples.dtype, np.integer) or samples.size == 0 \
            or samples.min() < 0 or samples.max() >= z.shape[0]:
        raise ValueError(f"samples must be integer ids in [0, {z.shape[0]}) of shape [k] or "
                         f"[repetitions, k], got shape {samples.shape}, dtype {samples.dtype}")
    return z, o, samples, q


def _scatter_rows(ids: np.ndarray, values: np.ndarray, vocab_size: int) -> np.ndarray:
    """out[r, w] = sum_j values[r, j] 1[ids[r, j] = w], `[R, V]`, in one bincount."""
    rows = np.arange(ids.shape[0])[:, None] * vocab_size
    flat = np.bincount((rows + ids).ravel(), weights=values.ravel(),
                       minlength=ids.shape[0] * vocab_size)
    return flat.reshape(ids.shape[0], vocab_size)


def nce_logit_gradient(z, o: int, samples, q, log_normalizer: float | None = None) -> np.ndarray:
    """NCE's gradient w.r.t. the logits for each row of noise samples, `[R, V]`.

    J_NCE = -log s(Delta_o) - sum_j log s(-Delta_{w_j}), Delta_w = z_w - c - log(k Q_w),
    dJ/dz = -(1 - s(Delta_o)) e_o + sum_j s(Delta_{w_j}) e_{w_j}.
    This is `tf.nn.nce_loss` with biases -c and expected counts k Q (checked in the tests).

    Args:
        z: `[V]` logits.
        o: true word.
        samples: `[R, k]` (or `[k]`) noise words drawn from q with replacement.
        q: `[V]` noise distribution.
        log_normalizer: c, the model's log-partition (NCE learns it as a bias); default the
            exact log Z, where NCE's gradient tends to the softmax gradient. With another c it
            tends to the gradient of the unnormalised model, -e_o + exp(z - c).
    """
    z, o, samples, q = _check_samples(z, o, samples, q)
    k = samples.shape[1]
    c = logsumexp(z) if log_normalizer is None else float(log_normalizer)
    delta = z - c - np.log(k * q)                                    # [V], Delta_w
    grad = _scatter_rows(samples, sigmoid(delta[samples]), z.shape[0])  # noise terms
    grad[:, o] -= 1.0 - sigmoid(delta[o])                            # true-word term
    return grad


def nce_expected_logit_gradient(z, o: int, q, k: int) -> np.ndarray:
    """E_Q[g_NCE] in closed form, `[V]` (exact log Z):

    E[g]_w = -(k Q_o / (p_o + k Q_o)) 1[w=o] + k Q_w p_w / (p_w + k Q_w), since w appears
    k Q_w times on average with weight s(Delta_w) = p_w / (p_w + k Q_w).
    """
    z = _as_vector("z", z)
    q = _as_vector("q", q, z.shape[0])
    o = _as_index("o", o, z.shape[0])
    p = softmax(z)
    kq = k * q
    grad = kq * p / (p + kq)
    grad[o] -= kq[o] / (p[o] + kq[o])
    return grad


def sampled_softmax_logit_gradient(z, o: int, samples, q,
                                   include_true: bool = False) -> np.ndarray:
    """Sampled softmax's gradient w.r.t. the logits for each row of samples, `[R, V]`.

    include_true=False (Jean et al. 2015): weights omega_j = exp(z_{w_j} - log Q_{w_j}),
        g = -e_o + sum_j (omega_j / sum omega) e_{w_j}.
    include_true=True (tf.nn.sampled_softmax_loss, no accidental-hit removal): softmax pi over
        [z_o - log(k Q_o), z_{w_j} - log(k Q_{w_j})], g = (pi_0 - 1) e_o + sum_j pi_j e_{w_j}.

    Args:
        z: `[V]` logits.
        o: true word.
        samples: `[R, k]` (or `[k]`) proposals drawn from q with replacement.
        q: `[V]` proposal distribution.
        include_true: see above.
    """
    z, o, samples, q = _check_samples(z, o, samples, q)
    k = samples.shape[1]
    log_w = z[samples] - np.log(k * q[samples])                      # [R, k], log omega_j
    if include_true:
        true_col = np.full((samples.shape[0], 1), z[o] - np.log(k * q[o]))
        pi = softmax(np.concatenate([true_col, log_w], axis=1), axis=1)
        grad = _scatter_rows(samples, pi[:, 1:], z.shape[0])
        grad[:, o] += pi[:, 0] - 1.0
    else:
        grad = _scatter_rows(samples, softmax(log_w, axis=1), z.shape[0])
        grad[:, o] -= 1.0
    return grad


ESTIMATORS = {
    "nce": lambda z, o, s, q: nce_logit_gradient(z, o, s, q),
    "sampled_softmax": lambda z, o, s, q: sampled_softmax_logit_gradient(z, o, s, q),
    "sampled_softmax_tf": lambda z, o, s, q: sampled_softmax_logit_gradient(
        z, o, s, q, include_true=True),
}


def gradient_error_vs_k(method: str, ks: Sequence[int] = (1, 4, 16, 64, 256, 1024),
                        repetitions: int = 200, problem: SoftmaxProblem | None = None,
                        seed: int = 0) -> dict[str, np.ndarray]:
    """Relative error of a sampled estimate of the softmax gradient, as k grows.

    For each k, draws `repetitions` independent sets of k samples from Q, computes the
    estimate g_hat_r `[V]` and, with g = softmax(z) - e_o,
      error_r = ||g_hat_r - g|| / ||g||   (mean and standard error over r), and
      bias    = ||mean_r g_hat_r - g|| / ||g||, which includes Monte Carlo noise of size
      bias_noise = sqrt(sum_w Var(g_hat_w) / R) / ||g|| (a bias below it is not resolved);
    for NCE also the exact bias ||E[g_NCE] - g|| / ||g|| from the closed form.

    Args:
        method: "nce", "sampled_softmax" (Jean et al.) or "sampled_softmax_tf" (true class in
            the softmax, as tf.nn.sampled_softmax_loss).
        ks: numbers of samples, each >= 1.
        repetitions: R, independent draws per k.
        problem: the softmax to estimate (default `make_problem()`).
        seed: numpy seed for the draws.

    Returns:
        dict of `[len(ks)]` arrays: "k", "error_mean", "error_se", "bias", "bias_noise", and
        for NCE "bias_exact".
    """
    if method not in ESTIMATORS:
        raise ValueError(f"method must be one of {sorted(ESTIMATORS)}, got {method!r}")
    if not ks or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1
                     for k in ks):
        raise ValueError(f"ks must be a non-empty sequence of ints >= 1, got {ks!r}")
    if not isinstance(repetitions, (int, np.integer)) or repetitions < 2:
        raise ValueError(f"repetitions must be an int >= 2, got {repetitions!r}")
    problem = make_problem() if problem is None else problem
    z, o, q = problem.logits, problem.target, problem.noise
    exact = softmax_logit_gradient(z, o)
    norm = np.linalg.norm(exact)
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(q)
    out = {name: [] for name in ("error_mean", "error_se", "bias", "bias_noise", "bias_exact")}
    for k in ks:
        # Inverse-CDF sampling with replacement: w = min{w : CDF(w) > u}.
        samples = np.minimum(np.searchsorted(cdf, rng.random((repetitions, k)), side="right"),
                             len(q) - 1)
        estimates = ESTIMATORS[method](z, o, samples, q)             # [R, V]
        errors = np.linalg.norm(estimates - exact, axis=1) / norm    # [R]
        out["error_mean"].append(errors.mean())
        out["error_se"].append(errors.std(ddof=1) / np.sqrt(repetitions))
        out["bias"].append(np.linalg.norm(estimates.mean(axis=0) - exact) / norm)
        variance = estimates.var(axis=0, ddof=1).sum()              # sum_w Var(g_hat_w)
        out["bias_noise"].append(np.sqrt(variance / repetitions) / norm)
        if method == "nce":
            expected = nce_expected_logit_gradient(z, o, q, k)
            out["bias_exact"].append(np.linalg.norm(expected - exact) / norm)
    result = {"k": np.asarray(ks)}
    result.update({name: np.asarray(v) for name, v in out.items() if v})
    return result


def plot_gradient_error_vs_k(results: Mapping[str, Mapping[str, np.ndarray]],
                             path: str | Path | None = None, title: str | None = None):
    """Log-log plot of error (mean +- 2 SE, solid) and bias (dashed) vs k for each method.

    Args:
        results: method name -> the dict returned by `gradient_error_vs_k`.
        path: if given, the figure is saved there (parent folders created; an existing file
            at that path is replaced, since the caller named it).
        title: optional figure title.

    Returns:
        The matplotlib `Figure` (made without pyplot, so nothing global is left open).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    for i, (name, res) in enumerate(results.items()):
        color = f"C{i}"
        ax.errorbar(res["k"], res["error_mean"], yerr=2 * res["error_se"], color=color,
                    marker="o", capsize=2, label=f"{name}: error")
        bias = res.get("bias_exact", res["bias"])
        ax.plot(res["k"], bias, color=color, linestyle="--", marker=".",
                label=f"{name}: bias" + (" (exact)" if "bias_exact" in res else ""))
    # Reference slope through the first method's largest-k point.
    k = np.asarray(next(iter(results.values()))["k"], dtype=float)
    last = next(iter(results.values()))["error_mean"][-1]
    ax.plot(k, last * np.sqrt(k[-1] / k), color="grey", linestyle=":", label="~ 1/sqrt(k)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of samples k")
    ax.set_ylabel("||g_hat - g|| / ||g||  (logit gradient)")
    ax.set_title(title or "Sampled estimates of the softmax gradient")
    ax.legend(fontsize="small")
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
    return fig
