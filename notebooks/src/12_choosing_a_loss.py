# %% [markdown]
# # 12. Choosing between negative sampling and sampled softmax
#
# Both replace a softmax over $V$ classes by $k + 1$ scores per example and cost the same,
# $O((k+1)d)$. They differ in *what* they learn (notebook 7) and so in what tasks they fit:
#
# * **single-label** tasks, one correct class per example (the next item a user watches, the
#   next word): the model should rank classes by $P(y\mid x)$. Sampled softmax (采样softmax)
#   estimates the softmax gradient (notebook 4); as notebook 7 measured, sampled softmax with
#   hits removed has its own biased optimum, not log P + K(x); with hits kept it learns
#   log P + K(x) up to O(1/k). Both rank classes by $P$, the biased one almost (below).
#   Negative sampling (负采样)
#   does not: negative sampling learns log P/kQ with hits kept and log P/kQ(1-P) with the
#   target skipped, which ranks by $P/Q$ and pushes frequent classes down.
# * **multi-label** tasks, several classes can be right at once (the context words of a
#   centre word, tags of a document, all items a user will like): each label is its own yes/no
#   question; independent sigmoids (NCE 噪声对比估计, negative sampling, sampled logistic) model
#   each $P(y\in\text{labels}\mid x)$, while a softmax makes labels compete for one unit of
#   probability.
#
# This notebook puts numbers on both points, with the optima of notebook 7 (no training
# needed), the estimators of notebook 4, and the measurements of notebooks 3, 7 and 10.
# Terms (accidental hit 意外命中, proposal, log-Q correction, ...) are in the
# [glossary](../docs/glossary.md).

# %%
import numpy as np
import pandas as pd

from w2v_tf.study import derivations as d
from w2v_tf.study import table

# %% [markdown]
# ## Single-label: what the optimum ranks first
#
# On notebook 7's problem (8 contexts, 20 classes, $Q$ log-uniform, $k = 40$), take each
# loss's *exact* optimum and ask how much probability its top choice loses against the best
# class, $\mathbb{E}_x[\max_y P - P(\arg\max_y F)]$, and how often it ranks a pair of
# plausible classes ($P > 0.02$) the wrong way round.

# %%
problem = table.make_problem(seed=0)
k = 40
p, q = problem["p"], problem["q"]
optima = {
    "softmax / sampled softmax (hits kept): log P + K": np.log(p),
    "sampled softmax (hits removed): its own optimum": table.sampled_softmax_optimum(
        problem, k, draws=500),
    "NCE: log P": np.log(p),
    "sampled / full logistic: log P/(1-P)": np.log(p) - np.log1p(-p),
    "negative sampling (hits kept): log P/kQ": np.log(p) - np.log(k * q)[None, :],
    "negative sampling (word2vec): log P/kQ(1-P)": np.log(p) - np.log(k * q)[None, :] - np.log1p(-p),
}

def regret(f):
    return float(np.mean(p.max(1) - p[np.arange(len(p)), f.argmax(1)]))

def misordered(f):
    bad = []
    for x in range(len(p)):
        idx = np.flatnonzero(p[x] > 0.02)
        pi, fi = p[x, idx], f[x, idx]
        pairs = pi[:, None] > pi[None, :]
        bad.append(((fi[:, None] <= fi[None, :]) & pairs).sum() / pairs.sum())
    return float(np.mean(bad))

single = pd.DataFrame({name: {"top-1 regret": regret(f), "pairs misordered": misordered(f)}
                       for name, f in optima.items()}).T
single.round(3)

# %%
# Check: every target that is increasing in P ranks perfectly at the optimum; the biased
# sampled-softmax optimum (hits removed) still ranks almost every pair as P does; negative
# sampling's optimum does not (its -log kQ(y) term depends on the class).
for name, row in single.iterrows():
    if name.startswith("negative sampling"):
        assert row["top-1 regret"] > 0.01 and row["pairs misordered"] > 0.1, name
    elif name.startswith("sampled softmax (hits removed)"):
        assert row["top-1 regret"] < 0.01 and row["pairs misordered"] < 0.05, name
    else:
        assert row["top-1 regret"] == 0 and row["pairs misordered"] == 0, name

# %% [markdown]
# ## Multi-label: independent questions vs one distribution
#
# One context with 6 classes; each example carries a *set* of labels, class $y$ present
# independently with probability $\pi_y$: two near-certain labels ($\pi = 0.9$), one
# occasional ($0.3$), three rare. Each per-label logistic loss answers the question "is $y$
# a label?" for each $y$ on its own, with notebook 7's targets and $P = \pi_y$: full and
# sampled logistic have optimum $\sigma(F_y) = \pi_y$ (the log-odds), NCE has
# $e^{F_y} = \pi_y$ ($\log P$), and negative sampling $\log\frac{\pi_y}{kQ(y)(1-\pi_y)}$,
# from which $\pi_y$ is read back only knowing $kQ$. Below, the logistic optimum. A softmax trained on the same sets (each example's
# labels as targets $1/|\text{labels}|$, as `num_true > 1` does) learns one distribution that
# sums to 1; its optimum is $\operatorname{softmax}(F)_y = \mathbb{E}[\mathbb{1}[y\in Y]/|Y|]$,
# so two labels that are each 90% certain come out below 50% each, and the scores no longer
# say how many labels to predict.

# %%
rng = np.random.default_rng(0)
pi = np.array([0.9, 0.9, 0.3, 0.05, 0.05, 0.05])
labels = rng.random((200_000, 6)) < pi                           # label sets [N, 6]
labels = labels[labels.any(axis=1)]                               # examples need >= 1 label
logistic_optimum = labels.mean(axis=0)                            # sigma(F_y) = P(y in Y)
softmax_optimum = (labels / labels.sum(axis=1, keepdims=True)).mean(axis=0)
multi = pd.DataFrame({"P(y is a label)": pi, "logistic: sigma(F)": logistic_optimum,
                      "softmax: softmax(F)": softmax_optimum})
multi.round(3)

# %%
# Check: the logistic optimum recovers each label's probability (200,000 examples: standard
# error < 0.002, tolerance 0.01; the few examples dropped for having no label barely move it),
# the softmax optimum sums to 1 and puts each near-certain label below 0.5.
np.testing.assert_allclose(logistic_optimum, pi, atol=0.01)
assert abs(softmax_optimum.sum() - 1) < 1e-9
assert np.all(softmax_optimum[:2] < 0.5) and np.all(logistic_optimum[:2] > 0.85)

# %% [markdown]
# ## How many samples? Bias of the gradient estimates
#
# Both are biased for finite $k$ and consistent as $k\to\infty$ (notebooks 3 and 4). On
# notebook 4's problem ($V = 1000$, $Q \propto$ unigram$^{0.75}$), the relative bias of the
# logit gradient of NCE (exact, closed form) and of TensorFlow's sampled softmax (estimated):

# %%
ks = (4, 16, 64, 256)
nce = d.gradient_error_vs_k("nce", ks=ks, repetitions=200)
ssm = d.gradient_error_vs_k("sampled_softmax_tf", ks=ks, repetitions=200)
bias = pd.DataFrame({"k": ks, "NCE bias": nce["bias_exact"], "sampled softmax bias": ssm["bias"],
                     "NCE error": nce["error_mean"], "sampled softmax error": ssm["error_mean"]}).set_index("k")
bias.round(3)

# %% [markdown]
# The same numbers as a picture: relative bias (solid) and total error (dashed) of the
# logit gradient against $k$, on log-log axes. Both biases fall roughly like $1/k$ (a slope
# of $-1$); the error, which adds the sampling noise, falls more slowly, like $1/\sqrt{k}$
# once the bias is small. So a few dozen samples remove most of the bias, and more samples
# mainly buy lower variance.

# %%
%matplotlib inline
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 4), dpi=80)
ax.loglog(ks, nce["bias_exact"], "o-", label="NCE bias (exact)")
ax.loglog(ks, ssm["bias"], "s-", label="sampled softmax bias (estimated)")
ax.loglog(ks, nce["error_mean"], "o--", alpha=0.6, label="NCE error")
ax.loglog(ks, ssm["error_mean"], "s--", alpha=0.6, label="sampled softmax error")
ax.loglog(ks, nce["bias_exact"][0] * ks[0] / np.array(ks), ":", color="grey", label="slope -1")
ax.set(xlabel="k (samples per step)", ylabel="relative gradient bias / error",
       title="Gradient bias against k (V = 1000)")
ax.legend(fontsize=8)
plt.show()

# %%
# Check: both biases shrink with k and are below 5% by k = 256; the errors (bias + noise)
# shrink too.
assert np.all(np.diff(nce["bias_exact"]) < 0) and nce["bias_exact"][-1] < 0.05
assert ssm["bias"][-1] < 0.05 and ssm["bias"][-1] < ssm["bias"][0]
assert np.all(np.diff(nce["error_mean"]) < 0) and np.all(np.diff(ssm["error_mean"]) < 0)

# %% [markdown]
# ## The decision
#
# | task | loss | why (notebook) |
# |---|---|---|
# | word vectors (skip-gram, item2vec) | negative sampling, $k = 5$-$20$, unigram$^{0.75}$ | many labels per centre word; the PMI-like target is what similarity needs; cheapest (3, 7, 9) |
# | calibrated $P(y\mid x)$ without $Z$ at serving | NCE | learns $\log P$ and self-normalises ($\log Z \approx 0$, 3, 7) |
# | single-label retrieval / next-item (YouTubeDNN, MIND) | sampled softmax with $\log Q$ correction | its optimum ($\log P + K(x)$ with hits kept, its own biased one with hits removed) ranks by $P$; negative sampling's optimum misranks (above, 7) |
# | multi-label classification | sampled logistic or NCE | one calibrated yes/no per label (above) |
# | small vocabulary ($V \lesssim 10^4$) | the full softmax | exact and cheap enough (8 for the cost in $\log V$ of the alternative) |
#
# And for sampled softmax, the proposal matters: the closer $Q$ is to $P$, the fewer samples
# for the same gradient error (4); log-uniform needs ids sorted by frequency (6); in-batch
# negatives come for free and follow the data's popularity, with $\log Q$ correcting their
# popularity bias. On MovieLens the proposals land close together, because its catalogue is
# small (1,682 films): in notebook 10's 5-epoch runs in-batch negatives lead, while
# log-uniform beats uniform on NDCG@10 but not on HR@50; at 10 epochs their HR@50 differ by
# 0.02 at most. The proposal matters most where the vocabulary is large and $k$
# small, as in notebook 4; `python benchmarks/recall_table.py` gives the 3-seed numbers.

# %%
# Check: the summary's claims hold on the numbers computed here: sampled softmax's optimum
# ranks perfectly where negative sampling's does not, and the logistic losses, not the
# softmax, recover multi-label probabilities.
assert single.loc["softmax / sampled softmax (hits kept): log P + K", "top-1 regret"] == 0
assert single.loc["negative sampling (word2vec): log P/kQ(1-P)", "top-1 regret"] > 0
assert np.abs(logistic_optimum - pi).max() < np.abs(softmax_optimum - pi).max()
