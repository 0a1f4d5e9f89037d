# %% [markdown]
# # 6. Candidate samplers
#
# A sampled loss needs $S$ negative classes per batch and, for the $\log Q$ correction, the
# *expected count* $Q(y)$ of every true and sampled class (notebooks 3-5). TensorFlow has four
# candidate samplers ([候选采样器](../docs/glossary.md#candidate-sampler)); `w2v_tf.sampling` has the same four with the same
# signatures, XLA-compilable and reproducible from a seed. This notebook derives each
# distribution and the expected counts, and compares histograms of our draws and
# TensorFlow's with the exact probabilities.
#
# | sampler | $P(v)$ over $v \in [0, V)$ |
# |---|---|
# | uniform | $1/V$ |
# | log-uniform (Zipf) | $\log\frac{v+2}{v+1} / \log(V+1)$ |
# | fixed unigram | $c_v^{\alpha} / \sum_u c_u^{\alpha}$ (word2vec: $\alpha = 0.75$) |
# | learned unigram | $(1 + n_v) / \sum_u (1 + n_u)$, $n_v$ = times $v$ was a label so far |

# %%
%matplotlib inline
import numpy as np
import pandas as pd
import tensorflow as tf
import matplotlib.pyplot as plt

from w2v_tf.study import derivations as d
from w2v_tf import sampling
from w2v_tf.word2vec.corpus import Vocabulary, load_corpus

plt.rcParams["figure.dpi"] = 80
tf.get_logger().setLevel("ERROR")     # one tf.function per sampler object: retracing notes are expected
rng = np.random.default_rng(0)

# %% [markdown]
# ## Log-uniform (Zipf) and why ids must be sorted by frequency
#
# The log-uniform distribution is built so that its CDF telescopes:
#
# $$\sum_{u=0}^{v} \log\frac{u+2}{u+1} = \log(v+2) \;\Rightarrow\;
#   F(v) = \frac{\log(v+2)}{\log(V+1)},\qquad F(V-1) = 1 .$$
#
# Inverting $F$ gives a sampler with no table at all: for $u \sim U[0,1)$,
# $v = \lfloor e^{u\log(V+1)}\rfloor - 1$. For large $v$, $P(v) \approx \frac{1}{(v+1)\log(V+1)}$:
# Zipf's law, frequency inversely proportional to rank, so $P(v)/P(2v) \approx 2$.
#
# That matches a vocabulary only if id $v$ *is* the word of rank $v$, i.e. ids sorted by
# decreasing frequency (`w2v_tf.word2vec.corpus.Vocabulary` does this). Two ways it goes wrong:
#
# * Keras' `TextVectorization` puts `""` (padding) at id 0 and `[UNK]` at id 1; then
#   $P(0) + P(1) = \log 3/\log(V+1)$ of all negatives are those two non-words, 13% for $V = 4096$
#   (the TensorFlow word2vec tutorial's vocabulary).
# * Ids in any other order (alphabetical, first appearance): $Q$ has nothing to do with the
#   word frequencies, and sampled softmax needs far more samples for the same gradient error
#   (the proposal argument of notebook 4).

# %%
V = 4096
p_log = sampling.log_uniform_probabilities(V).astype(np.float64)
print(f"P(0) + P(1) for V = {V}: {p_log[:2].sum():.4f}   (log 3 / log(V+1) = {np.log(3) / np.log(V + 1):.4f})")
print("P(v) / P(2v+1) for v = 10, 100, 1000:", [round(float(p_log[v] / p_log[2 * v + 1]), 3) for v in (10, 100, 1000)])

# Same probabilities as TensorFlow's sampler: expected count / S with unique=False.
tf_counts = tf.random.log_uniform_candidate_sampler(
    np.arange(V, dtype=np.int64)[:, None], 1, 8, False, V, seed=1).true_expected_count.numpy()[:, 0]
ours = sampling.log_uniform_candidate_sampler(
    np.arange(V)[:, None], 1, 8, False, V, seed=1).true_expected_count.numpy()[:, 0]

# Sorted vs shuffled ids on the Lee corpus: sampled-softmax gradient error with Q = log-uniform.
vocab = Vocabulary.build(load_corpus("lee"), min_count=5)
unigram = vocab.counts / vocab.counts.sum()
W = rng.normal(scale=32 ** -0.5, size=(len(vocab), 32))
z = W @ rng.normal(size=32) + np.log(unigram)                  # a softmax dominated by frequency
o = int(rng.choice(len(vocab), p=d.softmax(z)))
q_sorted = sampling.log_uniform_probabilities(len(vocab)).astype(np.float64)
q_shuffled = q_sorted[rng.permutation(len(vocab))]
errors = {}
for name, q in (("ids sorted by frequency", q_sorted), ("ids shuffled", q_shuffled)):
    problem = d.SoftmaxProblem(logits=z, target=o, noise=q / q.sum())
    errors[name] = d.gradient_error_vs_k("sampled_softmax", ks=(16, 64, 256), repetitions=100,
                                         problem=problem)["error_mean"]
    print(f"{name:24s} relative gradient error at k = 16, 64, 256:", errors[name].round(3))

# %%
# Check: TensorFlow's and our log-uniform P agree exactly (float32) and sum to 1; the padding/UNK
# share is log 3 / log(V+1); P(v)/P(2v+1) -> 2; shuffled ids make sampled softmax at least 2x
# worse at every k (fixed seeds; standard errors are a few percent of each mean).
np.testing.assert_array_equal(ours, tf_counts)
np.testing.assert_allclose(ours / 8, sampling.log_uniform_probabilities(V), rtol=1e-6)
assert abs(p_log.sum() - 1) < 1e-6
assert abs(p_log[:2].sum() - np.log(3) / np.log(V + 1)) < 1e-6 and 0.13 < p_log[:2].sum() < 0.135
assert abs(p_log[1000] / p_log[2001] - 2) < 0.01
assert np.all(errors["ids shuffled"] > 2 * errors["ids sorted by frequency"])

# %% [markdown]
# ## Unigram$^{0.75}$
#
# word2vec draws negatives from $Q(w) \propto f(w)^{0.75}$ (Mikolov et al. 2013b). The power
# below 1 flattens the distribution: frequent words lose share, rare words gain. With three
# words of frequencies 0.9, 0.09 and 0.01 (the CS224n example):
#
# $$0.9^{0.75} \approx 0.92,\qquad 0.09^{0.75} \approx 0.16,\qquad 0.01^{0.75} \approx 0.032,$$
#
# so the rare word's weight grows 3.2 times relative to its frequency, the frequent word's
# barely at all; after normalising, the most frequent word drops from 90% to 83% of the
# negatives and the rarest rises from 1% to 2.8%.
#
# ## A custom distribution: the fixed-unigram sampler
#
# `fixed_unigram_candidate_sampler(..., unigrams=counts, distortion=0.75)` samples from any
# weights you give it, raised to `distortion`; `num_reserved_ids=R` prepends $R$ ids of
# probability 0 (for padding/UNK ids that must never be a negative). Ours samples by binary
# search on the cumulative weights; TensorFlow uses an alias table; the probabilities (and so
# the expected counts) are the same float32 numbers.

# %%
powered = np.array([0.9, 0.09, 0.01]) ** 0.75
q3 = sampling.unigram_probabilities([0.9, 0.09, 0.01], distortion=0.75)
print("f^0.75 =", powered.round(3), "  normalised Q =", q3.round(3))

counts = vocab.counts[:50].astype(np.float64)          # the 50 most frequent Lee words
true = np.arange(52, dtype=np.int64)[:, None]          # every id, to read all expected counts
args = dict(num_true=1, num_sampled=10, unique=False, range_max=52, distortion=0.75,
            num_reserved_ids=2, unigrams=counts)
ours_fixed = sampling.fixed_unigram_candidate_sampler(true, seed=3, **args).true_expected_count.numpy()[:, 0]
tf_fixed = tf.random.fixed_unigram_candidate_sampler(true, seed=3, **args).true_expected_count.numpy()[:, 0]
print("expected counts (S = 10) of ids 0..5:", ours_fixed[:6].round(4), "(TF:", tf_fixed[:6].round(4), ")")

# %%
# Check: the CS224n numbers, the normalised shares, reserved ids at 0, and TF's probabilities.
np.testing.assert_allclose(powered, [0.92, 0.16, 0.032], atol=0.005)
np.testing.assert_allclose(q3, powered / powered.sum(), rtol=1e-6)
assert 0.82 < q3[0] < 0.83 and 0.028 < q3[2] < 0.029
assert np.all(ours_fixed[:2] == 0)
np.testing.assert_allclose(ours_fixed, tf_fixed, rtol=1e-6)
np.testing.assert_allclose(ours_fixed[2:] / 10, counts ** 0.75 / (counts ** 0.75).sum(), rtol=1e-5)

# %% [markdown]
# ## Unique sampling and its expected counts
#
# With `unique=False` the $S$ draws are independent and class $v$ appears $SP(v)$ times on
# average: that is its expected count (it can exceed 1). With `unique=True` the sampler keeps
# drawing until it has $S$ *distinct* classes; if that took $n$ draws in all (`num_tries`),
# the probability that $v$ is among them is the chance it appeared at least once in $n$
# independent draws,
#
# $$Q(v) = 1 - \big(1 - P(v)\big)^{n},$$
#
# which is what both samplers report (one $n$ per call, computed as
# $-\mathrm{expm1}(n\,\mathrm{log1p}(-P))$ for accuracy). Frequent classes saturate at 1
# instead of growing past it. Check by simulation: over many calls, how often is $v$ in the
# sample, against the mean reported $Q(v)$?

# %%
V_u, S, calls = 100, 20, 400
all_ids = np.arange(V_u, dtype=np.int64)[:, None]
sampler = sampling.LogUniformSampler(V_u, seed=0)
hits = np.zeros(V_u)
q_sum = np.zeros(V_u)
for _ in range(calls):
    sampled, q_true, _ = sampler(all_ids, 1, S, unique=True)
    hits[sampled.numpy()] += 1
    q_sum += q_true.numpy()[:, 0]
inclusion, q_mean = hits / calls, q_sum / calls
p_u = sampling.log_uniform_probabilities(V_u).astype(np.float64)
print("class:            ", np.arange(6))
print("inclusion rate:   ", inclusion[:6].round(3))
print("mean expected Q:  ", q_mean[:6].round(3))
print("S * P (unique=False would report):", (S * p_u[:6]).round(3))

# %%
# Check: for every class the inclusion rate is within 5 binomial standard deviations
# (sqrt(Q(1-Q)/400), at least 0.01) of the mean expected count; S*P overshoots for class 0.
sd = np.maximum(np.sqrt(q_mean * (1 - q_mean) / calls), 0.01)
assert np.all(np.abs(inclusion - q_mean) < 5 * sd)
assert S * p_u[0] > 1 and q_mean[0] < 1

# %% [markdown]
# ## The learned-unigram sampler
#
# It starts uniform (every class has count 1) and, *after* each call's draw, adds 1 to the
# count of every true class it was given. With labels $[[3],[3]]$, $V = 5$, $S = 2$,
# `unique=False`: $P(3)$ goes $1/5 \to 3/7 \to 5/9$, so the expected counts are
# $0.4,\ 6/7,\ 10/9$.

# %%
labels = np.array([[3], [3]], dtype=np.int64)
learned = sampling.LearnedUnigramSampler(5, seed=0)
ours_seq = [float(learned(labels, 1, 2, unique=False).true_expected_count[0, 0]) for _ in range(3)]
tf_seq = [float(tf.random.learned_unigram_candidate_sampler(labels, 1, 2, False, 5, seed=11)
                .true_expected_count[0, 0]) for _ in range(3)]
print("ours:", np.round(ours_seq, 4), " TF:", np.round(tf_seq, 4))

# %%
# Check: the sequence 0.4, 6/7, 10/9 from both samplers.
np.testing.assert_allclose(ours_seq, [0.4, 6 / 7, 10 / 9], rtol=1e-6)
np.testing.assert_allclose(tf_seq, [0.4, 6 / 7, 10 / 9], rtol=1e-6)

# %% [markdown]
# ## Histograms against TensorFlow's samplers
#
# Our draws cannot equal TensorFlow's id for id (different random streams: stateless Philox
# vs the kernel's generator, inverse CDF vs alias tables), so we compare distributions:
# 20,000 draws (`unique=False`) from each sampler over 50 classes, against the exact $P$.

# %%
N, V_h = 20_000, 50
true1 = np.zeros((1, 1), np.int64)
lee50 = vocab.counts[:V_h].astype(np.float64)
specs = {
    "uniform": (lambda: sampling.uniform_candidate_sampler(true1, 1, N, False, V_h, seed=5),
                lambda: tf.random.uniform_candidate_sampler(true1, 1, N, False, V_h, seed=5),
                np.full(V_h, 1 / V_h)),
    "log-uniform": (lambda: sampling.log_uniform_candidate_sampler(true1, 1, N, False, V_h, seed=5),
                    lambda: tf.random.log_uniform_candidate_sampler(true1, 1, N, False, V_h, seed=5),
                    sampling.log_uniform_probabilities(V_h).astype(np.float64)),
    "unigram^0.75 (Lee top 50)": (
        lambda: sampling.fixed_unigram_candidate_sampler(true1, 1, N, False, V_h, distortion=0.75,
                                                         unigrams=lee50, seed=5),
        lambda: tf.random.fixed_unigram_candidate_sampler(true1, 1, N, False, V_h, distortion=0.75,
                                                          unigrams=lee50.tolist(), seed=5),
        lee50 ** 0.75 / (lee50 ** 0.75).sum()),
}
fig, axes = plt.subplots(1, 3, figsize=(12, 3), sharey=False)
worst = {}
for ax, (name, (ours_fn, tf_fn, p_exact)) in zip(axes, specs.items()):
    f_ours = np.bincount(ours_fn().sampled_candidates.numpy(), minlength=V_h) / N
    f_tf = np.bincount(tf_fn().sampled_candidates.numpy(), minlength=V_h) / N
    sd = np.sqrt(p_exact * (1 - p_exact) / N)
    worst[name] = max(np.max(np.abs(f_ours - p_exact) / sd), np.max(np.abs(f_tf - p_exact) / sd))
    ax.plot(np.arange(V_h), p_exact, "k-", lw=1, label="exact P")
    ax.plot(np.arange(V_h), f_ours, "o", ms=3, label="ours")
    ax.plot(np.arange(V_h), f_tf, "x", ms=4, label="TensorFlow")
    ax.set_title(name, fontsize=10)
    ax.set_xlabel("class id")
axes[0].set_ylabel("frequency in 20,000 draws")
axes[0].legend(fontsize=8)
plt.show()
print("largest |frequency - P| in standard deviations:", {k: round(float(v), 2) for k, v in worst.items()})

# %%
# Check: every class frequency of both samplers is within 5 standard deviations of P
# (300 comparisons; the chance that any exceeds 5 sd by luck is below 2e-4).
assert all(v < 5 for v in worst.values()), worst

# %% [markdown]
# ## word2vec's table, and stratified draws for shared negatives
#
# word2vec.c does not search a CDF: it fills a table of $T$ slots, word $w$ taking about
# $T\,Q(w)$ consecutive slots in id order (most frequent first), and a negative is the word in
# a uniform slot (`w2v_tf.word2vec.fast_sgd.unigram_table`, `draw_negatives`). Our fast `neg_shared` path
# shares $S$ negatives with the whole batch, each weighted $k/S$:
#
# $$J' = -\log\sigma(u_o\cdot h) - \frac{k}{S}\sum_{s=1}^{S}\log\sigma(-u_{n_s}\cdot h).$$
#
# With $S$ independent draws, $E\big[\sum_s f(n_s)\big] = S\,E_{n\sim Q}[f(n)]$, so $J'$ is
# an unbiased estimate of word2vec's $J$. *Stratified* draws keep that expectation and
# remove most of the noise: cut the table into $S$ equal slices and take one uniform point in
# each ([分层抽样](../docs/glossary.md#stratified-sampling), `draw_stratified_negatives`):
#
# $$n_s = \text{table}\big[\lfloor (s + u_s)\,T/S \rfloor\big],\qquad u_s \sim U[0,1).$$
#
# Draw $s$ has density $S/T$ on slice $s$ and 0 elsewhere; the slices tile $[0, T)$, so the
# $S$ draws together put expected count $S/T$ on *every* slot, exactly as $S$ independent
# uniform slots do, and $E\big[\sum_s f(n_s)\big] = S\,E_Q[f]$ again. What changes is the spread.
# Since the table lists words by decreasing count, slice 0 holds the most frequent words: the
# number of draws among the words that fill the first half of the table is $S/2$ (up to the one
# slice that straddles the boundary) instead of a binomial $S/2 \pm \sqrt{S}/2$. For CBOW,
# where every shared negative stands for ~1024 windows' updates, this let $S$ drop from 32 to
# 16 at the same wordsim353 Spearman ([docs/word2vec.md](../docs/word2vec.md#tried-and-not-kept)).

# %%
from w2v_tf.word2vec import fast_sgd

table = fast_sgd.unigram_table(vocab.counts, size=1_000_000)
S, sets = 16, 20_000
independent = fast_sgd.draw_negatives(table, np.random.default_rng(1), (sets, S))
stratified = fast_sgd.draw_stratified_negatives(table, np.random.default_rng(1), (sets, S))
half = table[len(table) // 2]                    # ids below this fill < half the table
q_lee = vocab.counts ** 0.75 / np.sum(vocab.counts ** 0.75)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3))
for name, draws in (("independent", independent), ("stratified", stratified)):
    among = np.sum(draws < half, axis=1)
    ax1.hist(among, bins=np.arange(S + 2) - 0.5, alpha=0.6, label=f"{name}: var {among.var():.2f}")
    ax2.plot(np.arange(20), np.bincount(draws.ravel(), minlength=len(vocab))[:20] / sets, "o",
             ms=4, label=name)
ax2.plot(np.arange(20), S * q_lee[:20], "k-", lw=1, label="S Q(w)")
ax1.set_xlabel(f"draws (of {S}) among the words filling the first half of the table")
ax1.set_ylabel("sets of draws")
ax2.set_xlabel("word id (most frequent first)")
ax2.set_ylabel("mean draws per set")
ax1.legend(fontsize=8)
ax2.legend(fontsize=8)
plt.show()
per_word = pd.DataFrame({name: [np.mean(np.sum(d == w, axis=1)) for w in range(5)] +
                         [np.var(np.sum(d < half, axis=1))]
                         for name, d in (("independent", independent), ("stratified", stratified))},
                        index=[vocab.words[w] for w in range(5)] + ["var(# in first half)"])
per_word["S Q(w)"] = list(S * q_lee[:5]) + [np.nan]
per_word.round(4)

# %%
# Check: both ways draw every word S Q(w) times a set on average (within 5 standard errors of
# the independent draws' binomial spread, for the 20 most frequent words), and the stratified
# count in the first half of the table varies at least 10x less.
for draws in (independent, stratified):
    mean = np.bincount(draws.ravel(), minlength=len(vocab))[:20] / sets
    se = np.sqrt(S * q_lee[:20] * (1 - q_lee[:20]) / sets)
    assert np.all(np.abs(mean - S * q_lee[:20]) < 5 * se + 1.0 / len(table) * S)
assert np.var(np.sum(stratified < half, 1)) * 10 < np.var(np.sum(independent < half, 1))
assert np.all(np.diff(table) >= 0)      # the table is sorted by id: slice 0 = commonest words
