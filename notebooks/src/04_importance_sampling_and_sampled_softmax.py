# %% [markdown]
# # 4. Importance sampling and sampled softmax
#
# The gradient of a softmax over $V$ classes is an average over all $V$ classes. Sampled
# softmax ([采样softmax](../docs/glossary.md#sampled-softmax), Jean et al. 2015) replaces that average by a weighted average over a
# few sampled classes. This notebook builds the idea from the ground up:
#
# 1. Monte Carlo integration ([蒙特卡洛积分](../docs/glossary.md#monte-carlo)): an expectation is estimated by an average of samples.
# 2. Importance sampling ([重要性采样](../docs/glossary.md#importance-sampling)): sample from a proposal distribution ([提议分布](../docs/glossary.md#proposal)) $Q$ and
#    reweight by $P/Q$, the importance weights ([重要性权重](../docs/glossary.md#importance-weights)).
# 3. Self-normalised importance sampling when $P$ is known only up to its normaliser $Z$
#    (the softmax's case): biased (有偏) for a finite number of samples, consistent (一致) as it grows.
# 4. The softmax gradient as an expectation, and sampled softmax as its importance-sampling
#    estimate; then the loss that `w2v_tf.sampled_softmax_loss` computes has exactly that gradient.
# 5. Jean et al.'s biased shortcut: a uniform proposal over a subset of the vocabulary.
# 6. Variance (方差) against the number of samples $k$ and the choice of proposal, plotted.
#
# The estimators are `w2v_tf/study/derivations.py`; the loss is `w2v_tf/losses.py`.

# %%
%matplotlib inline
import numpy as np
import tensorflow as tf
import matplotlib.pyplot as plt
from scipy import stats

from w2v_tf.study import derivations as d
from w2v_tf import sampled_softmax_loss

plt.rcParams["figure.dpi"] = 80
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1-2. Monte Carlo integration and importance sampling
#
# For $x \sim P$, $\;\mathbb{E}_P[f] = \int f(x)P(x)\,dx \approx \frac1n \sum_{i=1}^n f(x_i)$,
# an unbiased estimate with variance $\operatorname{Var}_P(f)/n$. If instead we draw from $Q$,
#
# $$\mathbb{E}_P[f] = \int f(x)\frac{P(x)}{Q(x)}Q(x)\,dx
#   = \mathbb{E}_Q\!\left[f(x)\,w(x)\right],\qquad w(x) = \frac{P(x)}{Q(x)},$$
#
# still unbiased (wherever $Q > 0$ where $fP \ne 0$), with variance
# $\operatorname{Var}_Q(fw)/n$, which is small when $Q$ puts its mass where $|f|P$ is large.
#
# Example: the tail probability $P(X > 3)$ for $X \sim N(0,1)$, i.e. $f = \mathbb{1}[x>3]$.
# Plain Monte Carlo almost never sees the event; the proposal $Q = N(3,1)$ sees it half the
# time and corrects with $w(x) = \varphi(x)/\varphi(x-3) = e^{-3x + 9/2}$.

# %%
n, reps = 1000, 400
truth = stats.norm.sf(3.0)
x_p = rng.normal(size=(reps, n))                           # draws from P
plain = (x_p > 3).mean(axis=1)
x_q = rng.normal(loc=3.0, size=(reps, n))                  # draws from Q
weights = np.exp(-3 * x_q + 4.5)                           # P(x) / Q(x)
importance = ((x_q > 3) * weights).mean(axis=1)
for name, est in (("plain Monte Carlo", plain), ("importance sampling", importance)):
    print(f"{name:20s} mean {est.mean():.6f}  std {est.std():.2e}   (truth {truth:.6f})")

# %%
# Check: both estimators are unbiased (their mean over 400 runs is within 4 standard errors
# of the truth, a 1-in-15,000 false alarm for a Gaussian mean), and importance sampling has
# at least 20x less variance (the exact ratio is about 220: p(1 - p) = 1.35e-3 per draw against
# E_Q[f w^2] - p^2 = e^9 P(X > 6) - p^2 = 6.2e-6).
for est in (plain, importance):
    assert abs(est.mean() - truth) < 4 * est.std(ddof=1) / np.sqrt(reps)
assert importance.var() < plain.var() / 20

# %% [markdown]
# ## 3. Self-normalised importance sampling
#
# A softmax $P(w) = e^{z_w}/Z$ is known only up to $Z = \sum_w e^{z_w}$, the very sum we want
# to avoid. Write $P = \tilde P/Z$ and estimate $Z$ with the same samples,
# $Z = \mathbb{E}_Q[\tilde P/Q] \approx \frac1n\sum_i \tilde w_i$ with $\tilde w_i = \tilde P(x_i)/Q(x_i)$:
#
# $$\mathbb{E}_P[f] \approx \frac{\sum_i \tilde w_i f(x_i)}{\sum_i \tilde w_i}.$$
#
# A ratio of two unbiased estimates is not unbiased: the bias is $O(1/n)$ and vanishes as
# $n\to\infty$ (consistent). Example: $\tilde P(x) = e^{-x^2/2}$ (no $1/\sqrt{2\pi}$),
# $f = x^2$, $\mathbb{E}_P[f] = 1$, proposal $Q = N(0, 2^2)$.

# %%
def snis_x2(n_samples, reps=4000):
    x = rng.normal(scale=2.0, size=(reps, n_samples))
    w = np.exp(-x**2 / 2) / stats.norm.pdf(x, scale=2.0)   # unnormalised weights
    return (w * x**2).sum(axis=1) / w.sum(axis=1)

ns = [1, 2, 4, 8, 16, 64, 256]
snis = {m: snis_x2(m) for m in ns}
bias = np.array([snis[m].mean() - 1 for m in ns])
se = np.array([snis[m].std(ddof=1) / np.sqrt(len(snis[m])) for m in ns])
for m, b, s in zip(ns, bias, se):
    print(f"n = {m:4d}: bias {b:+.4f} +- {s:.4f}")

# %%
# Check: with one sample the estimate is f(x_1) itself, E_Q[x^2] = 4, a bias of +3 (exact);
# the bias then shrinks: at n = 2 it is far outside 5 standard errors of 0, at n = 256 within them.
assert abs(bias[0] - 3.0) < 5 * se[0]
assert abs(bias[1]) > 5 * se[1]
assert abs(bias[-1]) < 5 * se[-1]

# %% [markdown]
# ## 4. The softmax gradient is an expectation
#
# For logits $z_w(\theta)$ and $J = -\log P(o) = -z_o + \log Z$,
#
# $$\nabla_\theta J = -\nabla_\theta z_o + \sum_w \frac{e^{z_w}}{Z}\nabla_\theta z_w
#   = -\nabla_\theta z_o + \mathbb{E}_{w\sim P}\big[\nabla_\theta z_w\big].$$
#
# The first term is cheap (one class); the second is the expensive "negative" part. Jean et
# al. (2015, Sec. 3) estimate the expectation by self-normalised importance sampling with
# $k$ classes $w_j \sim Q$:
#
# $$\mathbb{E}_P[\nabla z_w] \approx \sum_{j=1}^k \frac{\omega_j}{\sum_{j'}\omega_{j'}}\nabla z_{w_j},
#   \qquad \omega_j = \exp\big(z_{w_j} - \log Q(w_j)\big),$$
#
# where $\omega_j = e^{z_{w_j}}/Q(w_j) = Z\,P(w_j)/Q(w_j)$ is the importance weight with the
# unknown $Z$ cancelled by the normalisation. In terms of the logits themselves
# ($\nabla_z$, so $\nabla z_w = e_w$), the exact gradient is $g = P - e_o$ and the estimate is
#
# $$\hat g = -e_o + \sum_j \frac{\omega_j}{\sum_{j'}\omega_{j'}}\,e_{w_j}.$$
#
# This is the gradient of a softmax cross-entropy over the corrected logits
# $z_{w_j} - \log Q(w_j)$: hence "sampled softmax", and hence the `- log Q` step in
# `compute_sampled_logits` (notebook 5). Two facts to check:
#
# * with $k = 1$ the weight is 1 whatever it was, so $\hat g = e_{w_1} - e_o$ with mean
#   $Q - e_o$, not $P - e_o$: the bias is as large as $Q$ is far from $P$;
# * TensorFlow's `sampled_softmax_loss` also puts the true class into the softmax, every
#   logit shifted by $-\log(kQ)$ (the expected count); `include_true=True` is that form. Its
#   gradient must be what autodiff gives for `w2v_tf.sampled_softmax_loss`.
#
# The toy problem: $V = 1000$ words with Zipfian unigram frequencies, logits
# $z = Uv_c + \log(\text{unigram})$, proposal $Q \propto \text{unigram}^{0.75}$ (`d.make_problem`).

# %%
problem = d.make_problem(vocab_size=1000, dim=32, noise_power=0.75, seed=0)
z, o, Q = problem.logits, problem.target, problem.noise
g = d.softmax_logit_gradient(z, o)                          # P - e_o
draws = rng.choice(problem.vocab_size, size=(20000, 1), p=Q)
g_k1 = d.sampled_softmax_logit_gradient(z, o, draws, Q)     # [20000, V], one sample each
mean_k1 = g_k1.mean(axis=0)
expected_k1 = Q - np.eye(problem.vocab_size)[o]
print("target word:", o, "  P(o) =", round(float(d.softmax(z)[o]), 4))
print("k=1: max |mean estimate - (Q - e_o)| =", np.abs(mean_k1 - expected_k1).max())
print("k=1: relative bias ||(Q - e_o) - g|| / ||g|| =",
      round(float(np.linalg.norm(expected_k1 - g) / np.linalg.norm(g)), 3))

# %%
# Check: with k = 1 the mean of the estimate is Q - e_o. Each entry is a mean of 20,000
# Bernoulli(Q_w) draws; 6 standard deviations sqrt(Q(1-Q)/n) (plus 1e-12) bound every entry
# (1000 entries; the rare classes' counts, ~6 on average, are skewed binomials, so the exact
# binomial false-alarm chance is 5e-4 at 6 sd, and would be 1.3% at 5 sd).
tol = 6 * np.sqrt(Q * (1 - Q) / len(draws)) + 1e-12
assert np.all(np.abs(mean_k1 - expected_k1) <= tol)

# %% [markdown]
# Now the loss itself. Build the same logits from a class table, $z = W x + b$, hand
# `w2v_tf.sampled_softmax_loss` the $k$ sampled ids with expected counts $kQ$ (sampling with
# replacement, so the expected count of $w$ is exactly $kQ(w)$), and recover the logit gradient
# from autodiff's $\partial J/\partial b$ (since $\partial z_w/\partial b_w = 1$).

# %%
V, dim, k = 1000, 32, 16
unigram = 1.0 / np.arange(1, V + 1); unigram /= unigram.sum()
W = rng.normal(scale=dim**-0.5, size=(V, dim))
x = rng.normal(size=(1, dim))
b = np.log(unigram)
z_table = (W @ x[0]) + b
samples = rng.choice(V, size=k, p=Q)
sampled_values = (tf.constant(samples, tf.int64),
                  tf.constant([[k * Q[o]]], tf.float64),              # true expected count
                  tf.constant(k * Q[samples], tf.float64))            # sampled expected counts
bias_var = tf.Variable(b)
with tf.GradientTape() as tape:
    loss = sampled_softmax_loss(tf.constant(W), bias_var, [[o]], tf.constant(x), num_sampled=k,
                                num_classes=V, sampled_values=sampled_values,
                                remove_accidental_hits=False)
grad_b = tf.convert_to_tensor(tape.gradient(loss, bias_var)).numpy()
formula = d.sampled_softmax_logit_gradient(z_table, o, samples, Q, include_true=True)[0]
print("loss:", float(loss[0]), "  max |autodiff - formula| =", np.abs(grad_b - formula).max())

# %%
# Check: autodiff of our sampled_softmax_loss equals the importance-sampling formula.
np.testing.assert_allclose(grad_b, formula, rtol=1e-10, atol=1e-12)

# %% [markdown]
# ## 5. A uniform proposal over a subset: Jean et al.'s biased shortcut
#
# In practice Jean et al. do not draw from $Q$ at all: they pick a subset $V'$ of the
# vocabulary (the target words of a partition of the training data, plus frequent words) and
# use $Q$ uniform over $V'$. Then $\log Q$ is the same for every sampled word, it cancels in
# $\omega_j/\sum\omega$, and the estimate is simply the softmax restricted to $V'$:
#
# $$\hat g = -e_o + \sum_{w\in V'} \frac{e^{z_w}}{\sum_{w'\in V'} e^{z_{w'}}}\,e_w .$$
#
# Words outside $V'$ get no gradient at all, so the estimate is biased for every $V' \ne V$;
# the bias is small when $V'$ holds most of the probability mass. Below: $V'$ = the target
# plus the $M$ most frequent words, for growing $M$.

# %%
Ms = [10, 30, 100, 300, 1000]
uniform_q = np.full(problem.vocab_size, 1.0 / problem.vocab_size)
subset_bias = []
for M in Ms:
    subset = np.union1d(np.arange(M), [o])
    est = d.sampled_softmax_logit_gradient(z, o, subset[None, :], uniform_q)[0]
    manual = -np.eye(problem.vocab_size)[o]
    manual[subset] += d.softmax(z[subset])
    np.testing.assert_allclose(est, manual, rtol=1e-12, atol=1e-15)   # restricted softmax
    subset_bias.append(np.linalg.norm(est - g) / np.linalg.norm(g))
    print(f"M = {M:5d}: mass of V' under P = {d.softmax(z)[subset].sum():.3f}, "
          f"relative bias = {subset_bias[-1]:.4f}")

# %%
# Check: the subset estimate is biased for every proper subset, its bias shrinks as the subset
# covers more of P, and it is exact (bias 0) when V' is the whole vocabulary.
assert all(bias_m > 0.01 for bias_m in subset_bias[:-1])
assert all(np.diff(subset_bias) < 0)
assert subset_bias[-1] < 1e-12

# %% [markdown]
# ## 6. Error against $k$ and the choice of proposal
#
# `d.gradient_error_vs_k` draws 200 independent sets of $k$ samples for each $k$ and reports
# the relative error $\lVert\hat g - g\rVert/\lVert g\rVert$ (mean, solid lines) and the
# relative bias $\lVert \mathbb{E}\hat g - g\rVert / \lVert g \rVert$ (dashed), with
# $\mathbb{E}\hat g$ estimated by the mean of the 200 estimates. That mean has its own Monte
# Carlo noise, so the dashed lines cannot go below a floor of about the error divided by
# $\sqrt{200}$ (`bias_noise`, printed as "noise"); a bias at that floor is not resolved. Four proposals
# for the same problem: uniform, unigram$^{0.75}$ (word2vec's noise), unigram, and the model's
# own softmax $P$, the ideal proposal (all weights are equal to $Z$, so
# $\hat g = -e_o + \frac1k\sum_j e_{w_j}$, unbiased for every $k$).

# %%
ks = (1, 4, 16, 64, 256, 1024)
proposals = {name: d.make_problem(vocab_size=1000, dim=32, noise_power=power, seed=0)
             for name, power in (("uniform", 0.0), ("unigram^0.75", 0.75), ("unigram", 1.0))}
proposals["P itself"] = d.SoftmaxProblem(z, o, d.softmax(z))
results = {name: d.gradient_error_vs_k("sampled_softmax", ks=ks, repetitions=200, problem=p)
           for name, p in proposals.items()}
for name, r in results.items():
    print(f"{name:13s} error", np.round(r["error_mean"], 3), " bias", np.round(r["bias"], 3),
          " noise", np.round(r["bias_noise"], 3))
d.plot_gradient_error_vs_k(results, title="Sampled softmax: error vs k for four proposals")

# %% [markdown]
# The error falls like $1/\sqrt{k}$ once $k$ is large, and a proposal closer to $P$ gives a
# smaller error for the same $k$: for errors of about 0.25 and below, the uniform proposal
# needs about 10 times as many samples as unigram$^{0.75}$ (its errors at $k = 256$ and 1024
# are those of unigram$^{0.75}$ near $k = 25$ and 80; at $k = 64$ the factor is about 5),
# because most of $P$'s mass sits on a few frequent words that a uniform draw rarely hits.
# This is why TensorFlow's default sampler is log-uniform (Zipfian, notebook 6) and why it
# needs the ids sorted by frequency.
#
# The dashed "P itself" line is not zero, although that estimate is unbiased: it sits on the
# noise floor (bias / noise between 0.9 and 1.2 at every $k$), as do unigram's. Only the
# uniform proposal's bias stands clearly above the floor (3.6 to 4.9 times it for
# $k = 4$ to 256).

# %%
# Check (fixed seeds, 200 repetitions: standard errors are below 3% of each mean, far smaller
# than the margins asserted): the error falls with k for every proposal, by at least a factor
# 10 from k = 1 to k = 1024 for the good ones; at k = 256 the uniform proposal is at least 2x
# worse than unigram^0.75, which is worse than sampling from P itself.
for name, r in results.items():
    assert np.all(np.diff(r["error_mean"]) < 0), name
    assert np.all(r["error_se"] < 0.03 * r["error_mean"]), name
for name in ("unigram^0.75", "unigram", "P itself"):
    assert results[name]["error_mean"][-1] < results[name]["error_mean"][0] / 10
at256 = {name: r["error_mean"][ks.index(256)] for name, r in results.items()}
assert at256["uniform"] > 2 * at256["unigram^0.75"]
assert at256["unigram^0.75"] > at256["P itself"]
# The measured bias of the unbiased "P itself" estimate is Monte Carlo noise (below 2x its
# floor at every k); the uniform proposal's is resolved (above 3x the floor, k = 4 to 256).
assert np.all(results["P itself"]["bias"] < 2 * results["P itself"]["bias_noise"])
uni = results["uniform"]
assert np.all(uni["bias"][1:5] > 3 * uni["bias_noise"][1:5])
