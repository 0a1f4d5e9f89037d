# %% [markdown]
# # 3. NCE and negative sampling
#
# Noise-contrastive estimation ([噪声对比估计](../docs/glossary.md#nce), NCE; Gutmann & Hyvärinen 2010, Mnih & Teh 2012)
# turns "estimate a distribution over $V$ classes" into "tell real pairs from noise pairs",
# a logistic regression (notebook 2). Negative sampling ([负采样](../docs/glossary.md#negative-sampling), NEG; Mikolov et al. 2013) is
# the special case word2vec uses. This notebook derives the NCE posterior
# $P(d=1\mid y,x) = P/(P+kQ)$, shows that NEG is NCE with $kQ = 1$ and $Z = 1$, measures the
# self-normalisation claim (the model's $Z$ stays near 1) on a trained model, and checks the
# NEG gradients. The losses are `w2v_tf.nce_loss` and `w2v_tf.negative_sampling_loss`.

# %%
%matplotlib inline
import numpy as np
import tensorflow as tf
import keras
import matplotlib.pyplot as plt
from scipy.special import logsumexp

from w2v_tf import compute_sampled_logits, nce_loss, negative_sampling_loss
from w2v_tf.study import derivations as d
from w2v_tf.sampling import log_uniform_probabilities

plt.rcParams["figure.dpi"] = 80
rng = np.random.default_rng(0)

# %% [markdown]
# ## The NCE posterior
#
# For a context $x$, mix one "data" sample $y \sim P(\cdot\mid x)$ with $k$ "noise" samples
# $y \sim Q$, and label them $d = 1$ (data) and $d = 0$ (noise). The prior odds are $1 : k$,
# so by Bayes' rule
#
# $$P(d=1 \mid y, x) = \frac{\frac{1}{k+1}P(y\mid x)}{\frac{1}{k+1}P(y\mid x) + \frac{k}{k+1}Q(y)}
#   = \frac{P(y\mid x)}{P(y\mid x) + kQ(y)} = \sigma\big(\log P(y\mid x) - \log kQ(y)\big).$$
#
# NCE models $\log P(y\mid x)$ by the logit $o_y(x) = x\cdot w_y + b_y$ (with $-\log Z(x)$
# absorbed into the score) and trains the logistic regression
# "$d=1$?" on $o_y(x) - \log kQ(y)$: exactly `compute_sampled_logits` with
# `subtract_log_q=True` and expected counts $kQ$ (notebook 5), followed by a sigmoid
# cross-entropy (`nce_loss`). Its loss for one example is
#
# $$J_{\text{NCE}} = -\log\sigma\big(o_t - \log kQ(t)\big) - \sum_{j=1}^{k}\log\sigma\big(-(o_{s_j} - \log kQ(s_j))\big),$$
#
# and its optimum (infinite data, a free model) is $o_y(x) = \log P(y\mid x)$: NCE learns the
# normalised log-probability without ever computing $Z$.
#
# First a simulation of the generative story, then the logits.

# %%
V, k = 6, 4
P = d.softmax(rng.normal(size=V))                     # P(y | x) for one context
Q = d.softmax(rng.normal(size=V))                     # noise distribution
n = 400_000
is_data = rng.random(n) < 1 / (k + 1)
y = np.where(is_data, rng.choice(V, n, p=P), rng.choice(V, n, p=Q))
empirical = np.array([is_data[y == c].mean() for c in range(V)])
posterior = P / (P + k * Q)
print("empirical P(d=1 | y):", empirical.round(4))
print("P / (P + kQ)        :", posterior.round(4))

# The same number from compute_sampled_logits: logits log P, expected counts kQ, log-Q on.
W = np.eye(V)                                          # x . w_y = x_y
x = np.log(P)[None, :]                                 # so o_y(x) = log P(y)
labels = np.arange(V)[:, None]                         # every class once as "true"
sv = (tf.constant([0], tf.int64), tf.constant(k * Q[:, None]), tf.constant([k * Q[0]]))
logits, _ = compute_sampled_logits(W, None, labels, np.repeat(x, V, axis=0), num_sampled=1,
                                   num_classes=V, sampled_values=sv)
from_logits = d.sigmoid(logits.numpy()[:, 0])

# %%
# Check: the simulation matches P / (P + kQ) (each class has >= 10,000 samples: a standard
# error below 0.005; tolerance 0.02), and sigma(o - log kQ) is the posterior exactly.
counts = np.bincount(y, minlength=V)
assert counts.min() > 10_000
np.testing.assert_allclose(empirical, posterior, atol=0.02)
np.testing.assert_allclose(from_logits, posterior, rtol=1e-12)

# %% [markdown]
# ## Negative sampling is NCE with $kQ = 1$ and $Z = 1$
#
# word2vec's objective (Mikolov et al. 2013b, eq. 4) for a pair $(c, o)$ with $k$ negatives
# $w_j \sim Q$ (unigram$^{0.75}$) is
#
# $$J_{\text{NEG}} = -\log\sigma(u_o\cdot v_c) - \sum_{j=1}^{k}\log\sigma(-u_{w_j}\cdot v_c).$$
#
# It is $J_{\text{NCE}}$ with the $\log kQ$ term removed, i.e. NCE in the special case
# $kQ(y) = 1$ for every $y$ (and $Z = 1$: the score $u\cdot v$ is used as a log-probability
# as is). Unless $Q$ is uniform and $k = V$, that special case is not the truth, so NEG does
# *not* learn $\log P$: its optimum is $o = \log\frac{P}{kQ}$ (shifted PMI, Levy & Goldberg
# 2014), plus $-\log(1-P)$ when a negative equal to the target is skipped (notebook 7 shows
# it by experiment). For word vectors that is fine: the vectors are what we keep, not the
# probabilities.
#
# In code: `negative_sampling_loss` is `compute_sampled_logits(..., subtract_log_q=False)`
# plus a sigmoid cross-entropy; `nce_loss` given expected counts of exactly 1 gives the same
# numbers, since $\log 1 = 0$.

# %%
C, D, B, S = 50, 8, 16, 10
Wc = rng.normal(size=(C, D)).astype(np.float32)
bc = rng.normal(size=C).astype(np.float32)
xb = rng.normal(size=(B, D)).astype(np.float32)
lab = rng.integers(C, size=(B, 1))
samp = rng.choice(C, size=S, replace=False)
ones = (tf.constant(samp, tf.int64), tf.ones((B, 1)), tf.ones(S))
other_q = (tf.constant(samp, tf.int64), tf.fill((B, 1), 0.3), tf.fill([S], 0.3))
neg = negative_sampling_loss(Wc, bc, lab, xb, S, C, sampled_values=other_q)   # log-Q ignored
nce_1 = nce_loss(Wc, bc, lab, xb, S, C, sampled_values=ones, remove_accidental_hits=True)
nce_q = nce_loss(Wc, bc, lab, xb, S, C, sampled_values=other_q, remove_accidental_hits=True)
print("NEG      :", neg.numpy()[:5].round(4))
print("NCE, kQ=1:", nce_1.numpy()[:5].round(4))
print("NCE, kQ=0.3:", nce_q.numpy()[:5].round(4))

# %%
# Check: NEG == NCE with unit expected counts, and differs from NCE with other counts.
np.testing.assert_allclose(neg.numpy(), nce_1.numpy(), rtol=1e-6)
assert np.abs(neg.numpy() - nce_q.numpy()).min() > 1e-3

# %% [markdown]
# ## Self-normalisation, measured
#
# NCE scores are unnormalised: nothing in $J_{\text{NCE}}$ forces
# $Z(x) = \sum_y e^{o_y(x)}$ to be 1. Mnih & Teh (2012) found that fixing $Z = 1$ (no
# per-context normaliser) works because the trained model comes out nearly normalised by
# itself: at the optimum $o_y(x) = \log P(y\mid x)$, so $\log Z(x) = 0$. A real model cannot
# reach the optimum everywhere (finite data, finite capacity), so we measure.
#
# Set-up: 40 contexts, 200 classes, true $P(y\mid x) = \operatorname{softmax}(A_xB^\top +
# \log \text{zipf})$ of rank 4; a model with 16-dimensional context and class vectors plus
# class biases; $k = 25$ negatives from TensorFlow's log-uniform distribution (notebook 6),
# drawn with replacement so the expected count is exactly $kQ$; Adam, 1500 steps of 256
# examples. The same model trained with NEG for comparison.

# %%
X, C, dim, k = 40, 200, 16, 25
zipf = 1.0 / np.arange(1, C + 1)
P_true = d.softmax(rng.normal(size=(X, 4)) @ rng.normal(size=(4, C)) + np.log(zipf), axis=1)
Q = log_uniform_probabilities(C).astype(np.float64)
kQ = tf.constant(k * Q / Q.sum(), tf.float32)

def train(loss_fn, steps=1500, batch=256, seed=0):
    r = np.random.default_rng(seed)
    emb = tf.Variable(0.1 * r.normal(size=(X, dim)).astype(np.float32))
    W = tf.Variable(0.1 * r.normal(size=(C, dim)).astype(np.float32))
    b = tf.Variable(np.full(C, -np.log(C), np.float32))            # start near uniform
    opt = keras.optimizers.Adam(0.03)
    xs = r.integers(X, size=(steps, batch))
    ys = np.empty_like(xs)
    for c in range(X):                                              # y ~ P(. | x)
        ys[xs == c] = r.choice(C, size=(xs == c).sum(), p=P_true[c])
    negs = r.choice(C, size=(steps, k), p=Q / Q.sum())
    xs, ys, negs = (tf.constant(a, tf.int64) for a in (xs, ys, negs))

    @tf.function
    def run():
        out = tf.TensorArray(tf.float32, size=steps)
        for i in tf.range(steps):
            with tf.GradientTape() as tape:
                sv = (negs[i], tf.gather(kQ, ys[i])[:, None], tf.gather(kQ, negs[i]))
                loss = tf.reduce_mean(loss_fn(W, b, ys[i][:, None], tf.gather(emb, xs[i]),
                                              k, C, sampled_values=sv))
            opt.apply_gradients(zip(tape.gradient(loss, [emb, W, b]), [emb, W, b]))
            out = out.write(i, loss)
        return out.stack()

    losses = run().numpy()
    return (emb.numpy() @ W.numpy().T + b.numpy()).astype(np.float64), losses

log_z, kl = {}, {}
for name, fn in (("NCE", nce_loss), ("NEG", negative_sampling_loss)):
    F, losses = train(fn)
    log_z[name] = logsumexp(F, axis=1)                                  # [X]
    log_p_model = F - log_z[name][:, None]
    kl[name] = float((P_true * (np.log(P_true) - log_p_model)).sum(axis=1).mean())
    print(f"{name}: loss {losses[:100].mean():.2f} -> {losses[-100:].mean():.2f}; "
          f"log Z(x) mean {log_z[name].mean():+.2f}, sd {log_z[name].std():.2f}; "
          f"KL(P || softmax(F)) {kl[name]:.3f}")

fig, ax = plt.subplots(figsize=(6, 3))
bins = np.linspace(-1, 4, 26)
for name in log_z:
    ax.hist(log_z[name], bins=bins, alpha=0.6, label=name)
ax.axvline(0, color="k", lw=1)
ax.set_xlabel(r"$\log Z(x) = \log\sum_y e^{o_y(x)}$ over the 40 contexts")
ax.legend()
plt.show()

# %% [markdown]
# NCE's $\log Z(x)$ sits around 0 (its spread shows the model is not at the optimum for every
# context), while NEG's is far from 0: NEG's scores are $\log\frac{P}{kQ}$-like, not
# log-probabilities, so reading $e^{o}$ as a probability would be off by a large,
# context-dependent factor. Even after normalising, NEG's softmax is far from $P$ (the KL
# column): its scores are tilted by $-\log kQ(y)$, which favours rare classes.

# %%
# Check (fixed seeds): NCE's normalisers are close to 1 on average (|mean log Z| < 0.3) and
# NEG's are not (mean log Z > 1.5), and NCE's normalised model is close to the truth.
assert abs(log_z["NCE"].mean()) < 0.3
assert log_z["NEG"].mean() > 1.5
assert kl["NCE"] < 0.3

# %% [markdown]
# ## NEG gradients
#
# With $s = \sigma$ and the identities of notebook 2,
#
# $$\frac{\partial J}{\partial v_c} = \big(s(u_o\cdot v_c) - 1\big)u_o + \sum_j s(u_{w_j}\cdot v_c)\,u_{w_j},\quad
#   \frac{\partial J}{\partial u_o} = \big(s(u_o\cdot v_c) - 1\big)v_c,\quad
#   \frac{\partial J}{\partial u_{w_j}} = s(u_{w_j}\cdot v_c)\,v_c .$$
#
# Each example touches $k + 1$ output vectors instead of $V$; the positive pulls $u_o$ toward
# $v_c$ with strength $1 - s(u_o\cdot v_c)$, each negative pushes $u_{w_j}$ away with strength
# $s(u_{w_j}\cdot v_c)$. A word drawn twice gets both pushes.

# %%
dim, K = 6, 5
v_c, u_o = rng.normal(size=dim), rng.normal(size=dim)
U_neg = rng.normal(size=(K, dim))
loss, g_vc, g_uo, g_neg = d.negative_sampling_gradients(v_c, u_o, U_neg)
loss_tf, (a_vc, a_uo, a_neg) = d.autodiff_gradients(d.negative_sampling_loss_tf, v_c, u_o, U_neg)

# The same through our library loss: class table rows [u_o; U_neg], input v_c, no biases.
table = tf.Variable(np.vstack([u_o, U_neg]))
inp = tf.Variable(v_c[None, :])
sv = (tf.range(1, K + 1, dtype=tf.int64), tf.ones((1, 1), tf.float64), tf.ones(K, tf.float64))
with tf.GradientTape() as tape:
    lib = negative_sampling_loss(table, None, [[0]], inp, K, K + 1, sampled_values=sv)[0]
lib_table, lib_inp = tape.gradient(lib, [table, inp])
lib_table = tf.convert_to_tensor(lib_table).numpy()
print(f"J = {loss:.6f} (analytic), {loss_tf:.6f} (autodiff), {float(lib):.6f} (negative_sampling_loss)")

# %%
# Check: analytic NEG gradients == autodiff == gradients of our library loss.
np.testing.assert_allclose([loss, float(lib)], [loss_tf, loss_tf], rtol=1e-12)
for analytic, auto in ((g_vc, a_vc), (g_uo, a_uo), (g_neg, a_neg)):
    np.testing.assert_allclose(analytic, auto, rtol=1e-10, atol=1e-12)
np.testing.assert_allclose(lib_inp.numpy()[0], g_vc, rtol=1e-10, atol=1e-12)
np.testing.assert_allclose(lib_table, np.vstack([g_uo, g_neg]), rtol=1e-10, atol=1e-12)
