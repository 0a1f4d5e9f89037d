# %% [markdown]
# # 1. From language models to skip-gram
#
# A language model ([语言模型](../docs/glossary.md#language-model)) assigns a probability to a sequence of words. This notebook goes
# from the chain rule, through counted n-grams and their sparsity ([数据稀疏](../docs/glossary.md#data-sparsity)), to Bengio et
# al.'s neural language model ([神经概率语言模型](../docs/glossary.md#neural-language-model), a tiny one trained here), and then to the
# skip-gram objective ([跳字模型](../docs/glossary.md#skip-gram)) of word2vec, the window pairs it trains on, and the
# subsampling ([二次采样 / 下采样](../docs/glossary.md#subsampling)) of frequent words. Corpus: the Lee news corpus shipped with
# gensim (`w2v_tf.word2vec.corpus.load_corpus("lee")`, ~60k tokens).

# %%
%matplotlib inline
import random
from collections import Counter

import numpy as np
import pandas as pd
import tensorflow as tf
import keras
import matplotlib.pyplot as plt

from w2v_tf.word2vec import corpus, pipeline, skipgrams

plt.rcParams["figure.dpi"] = 80
keras.utils.set_random_seed(0)

# %% [markdown]
# ## The chain rule and n-grams
#
# Any joint distribution factorises by the chain rule ([链式法则](../docs/glossary.md#chain-rule)):
#
# $$P(w_1,\dots,w_T) = \prod_{t=1}^{T} P(w_t \mid w_1,\dots,w_{t-1}).$$
#
# An n-gram model assumes the next word depends only on the last $n-1$ words and estimates
# each factor by counting, $P(w_t\mid w_{t-n+1:t-1}) \approx c(w_{t-n+1:t}) / c(w_{t-n+1:t-1})$.
# The number of possible n-grams is $V^n$, so most of them are never seen: any test n-gram
# unseen in training gets probability 0 from the counts, and the fraction of such n-grams
# grows quickly with $n$. Below: train on the first 90% of the sentences, test on the rest,
# and map words seen fewer than 5 times to `<unk>`.

# %%
sentences = corpus.load_corpus("lee")
split = int(0.9 * len(sentences))
vocab = corpus.Vocabulary.build(sentences[:split], min_count=5)
UNK = len(vocab)                                     # one extra id for rare words
V = len(vocab) + 1

def encode(sents):
    return [np.array([vocab.index.get(w, UNK) for w in s]) for s in sents]

train, test = encode(sentences[:split]), encode(sentences[split:])
print(f"{len(sentences)} lines (one article each), vocabulary {len(vocab)} words + <unk>, "
      f"train {sum(map(len, train))} tokens, test {sum(map(len, test))} tokens")

def ngrams(sents, n):
    return [tuple(s[i:i + n]) for s in sents for i in range(len(s) - n + 1)]

unseen = {}
for n in (1, 2, 3, 4):
    seen = set(ngrams(train, n))
    test_ngrams = ngrams(test, n)
    unseen[n] = np.mean([g not in seen for g in test_ngrams])
    print(f"n = {n}: {len(seen):6d} distinct n-grams in train, "
          f"{100 * unseen[n]:5.1f}% of test n-grams never seen in train")

# %%
# Check: the counted conditional distributions are distributions (each context's bigram
# probabilities sum to 1), and sparsity grows with n. The sums hold because the denominator
# c(a) is counted as the bigrams that start with a; the unigram count of a word that ends a
# line (an article) is larger, since no bigram follows it there, and would leave its row short
# of 1 (128 such words here).
bigram = Counter(ngrams(train, 2))
context = Counter()
for (a, _), c in bigram.items():
    context[a] += c
sums = Counter()
for (a, _), c in bigram.items():
    sums[a] += c / context[a]
assert all(abs(s - 1) < 1e-12 for s in sums.values())
unigram_count = Counter(np.concatenate(train).tolist())
assert any(unigram_count[int(a)] > context[a] for a in context)
assert unseen[1] == 0 < unseen[2] < unseen[3] < unseen[4]

# %% [markdown]
# ## Bengio's neural language model
#
# Bengio et al. (2003) replace the count table by a function: map each of the $n-1$ previous
# words to a learned vector (a row of an embedding matrix $C$), concatenate, apply a hidden
# layer, and a softmax over the vocabulary:
#
# $$P(w_t \mid w_{t-n+1:t-1}) = \operatorname{softmax}\big(b + U\tanh(d + H[C_{w_{t-n+1}};\dots;C_{w_{t-1}}])\big)_{w_t}.$$
#
# Similar words get similar vectors, so an unseen n-gram made of words seen in similar
# contexts still gets a sensible probability: that is how it beats the sparsity above. Its
# cost is the softmax: every training word touches all $V$ output rows, which is what
# word2vec's tricks (negative sampling, hierarchical softmax, sampled softmax; notebooks 3-8)
# avoid. A tiny one, $n = 3$, 32-dimensional vectors, 64 hidden units, three epochs:

# %%
def context_target(sents, n=3):
    grams = np.array([g for g in ngrams(sents, n)])
    return grams[:, :-1], grams[:, -1]

x_train, y_train = context_target(train)
x_test, y_test = context_target(test)
nlm = keras.Sequential([
    keras.Input(shape=(2,), dtype="int32"),
    keras.layers.Embedding(V, 32),                    # C
    keras.layers.Flatten(),                           # [C_{t-2}; C_{t-1}]
    keras.layers.Dense(64, activation="tanh"),        # tanh(d + H x)
    keras.layers.Dense(V),                            # b + U h: logits over the vocabulary
])
nlm.compile(optimizer=keras.optimizers.Adam(3e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
history = nlm.fit(x_train, y_train, batch_size=256, epochs=3, verbose=0)
nlm_ppl = float(np.exp(nlm.evaluate(x_test, y_test, batch_size=1024, verbose=0)))

# Baselines on the same test targets: an add-one unigram model, and an add-k bigram model.
uni = np.bincount(np.concatenate(train), minlength=V) + 1.0
uni_ppl = float(np.exp(-np.mean(np.log(uni[y_test] / uni.sum()))))
k = 0.01
prev = x_test[:, 1]
bi_p = np.array([(bigram[(a, b)] + k) / (context[a] + k * V) for a, b in zip(prev, y_test)])
bi_ppl = float(np.exp(-np.mean(np.log(bi_p))))
print("training loss per epoch:", np.round(history.history["loss"], 3))
print(f"test perplexity: unigram {uni_ppl:.0f}, add-{k} bigram {bi_ppl:.0f}, neural trigram {nlm_ppl:.0f}")

# %%
# Check: the neural LM learned (loss falls every epoch) and predicts held-out text better than
# the unigram model (lower perplexity; a fixed seed, and the margin is wide).
assert np.all(np.diff(history.history["loss"]) < 0)
assert nlm_ppl < 0.8 * uni_ppl

# %% [markdown]
# ## The skip-gram objective
#
# word2vec (Mikolov et al. 2013) keeps the learned vectors and drops the language model:
# skip-gram predicts each word of a window of radius $m$ around the centre word $w_t$,
#
# $$\max \; \frac{1}{T}\sum_{t=1}^{T}\;\sum_{-m\le j\le m,\, j\ne 0} \log P(w_{t+j}\mid w_t),
#   \qquad P(o\mid c) = \frac{\exp(u_o^\top v_c)}{\sum_{w=1}^{V}\exp(u_w^\top v_c)},$$
#
# with an input vector $v$ and an output vector $u$ per word, and no hidden layer. CBOW
# ([连续词袋](../docs/glossary.md#cbow)) reverses the roles: it predicts the centre from the mean of the window's vectors.
# Every (centre, context) pair in a window is one training example, one softmax over $V$,
# hence one of the sampled losses of the later notebooks.
#
# ## The window pairs of "The wide road shimmered in the hot sun"
#
# The TensorFlow tutorial builds the pairs with the legacy Keras `skipgrams`
# (`tf.keras.preprocessing.sequence.skipgrams`, gone from Keras 3's public API); ours,
# `w2v_tf.word2vec.skipgrams.skipgrams`, has the same signature and output. Id 0 is `<pad>`.

# %%
sentence = "The wide road shimmered in the hot sun"
tokens = sentence.lower().split()
ids_of = {"<pad>": 0}
for t in tokens:
    ids_of.setdefault(t, len(ids_of))
seq = [ids_of[t] for t in tokens]
words_of = {i: w for w, i in ids_of.items()}
ours, _ = skipgrams.skipgrams(seq, vocabulary_size=len(ids_of), window_size=2,
                              negative_samples=0, shuffle=False)
legacy, _ = tf.keras.preprocessing.sequence.skipgrams(seq, vocabulary_size=len(ids_of),
                                                      window_size=2, negative_samples=0,
                                                      shuffle=False)
print(f"{len(ours)} pairs; the first ten:",
      [(words_of[a], words_of[b]) for a, b in ours[:10]])
random.seed(42)
ours_neg = skipgrams.skipgrams(seq, len(ids_of), window_size=2, negative_samples=1.0)
random.seed(42)
legacy_neg = tf.keras.preprocessing.sequence.skipgrams(seq, len(ids_of), window_size=2,
                                                       negative_samples=1.0)

# %% [markdown]
# word2vec itself does two things differently (`w2v_tf.word2vec.pipeline`): it shrinks the window at
# random for each centre word (radius $b \sim U\{1,\dots,m\}$, so a context at distance $d$ is
# used with probability $(m - d + 1)/m$: nearer words count more), and it applies
# subsampling *before* windowing. For $m = 2$, distance-1 pairs are always used and
# distance-2 pairs half the time. Over 4000 copies of the sentence:

# %%
copies = [np.array(seq)] * 4000
targets, contexts = pipeline.make_skipgram_pairs(copies, window=2, rng=0)
pair_counts = Counter(zip(targets.tolist(), contexts.tolist()))
near = pair_counts[(ids_of["road"], ids_of["shimmered"])] / 4000     # distance 1
far = pair_counts[(ids_of["road"], ids_of["in"])] / 4000             # distance 2
print(f"per copy: {len(targets) / 4000:.2f} pairs (fixed window: {len(ours)}); "
      f"road->shimmered {near:.3f}, road->in {far:.3f}")

# %%
# Check: our skipgrams equals the legacy Keras one, pair for pair (26 pairs, as the tutorial
# says), and with negatives and shuffling under the same random.seed; word2vec's shrunk
# window uses a distance-2 pair with probability 1/2 (4000 draws: sd 0.008, tolerance 0.04),
# so a copy gives 14 distance-1 pairs and 12 / 2 = 6 distance-2 pairs on average, 20 in all
# (each centre's one window draw decides its one or two distance-2 pairs together: variance
# 0.25 * (4 * 1^2 + 4 * 2^2) = 5 per copy, sd of the mean over 4000 copies 0.035; tolerance 0.2).
assert ours == legacy and len(ours) == 26
assert list(ours_neg) == list(legacy_neg)
assert near == 1.0 and abs(far - 0.5) < 0.04
assert abs(len(targets) / 4000 - 20) < 0.2
assert set(pair_counts) == set(map(tuple, ours))       # same pair set, different weights

# %% [markdown]
# ## Subsampling frequent words
#
# "the" carries little information about its neighbours and makes up 7% of the Lee corpus.
# word2vec drops each occurrence of a word with frequency $f$ with a probability that grows
# with $f$; with threshold $t$ the keep probability is
#
# * paper (Mikolov et al. 2013b, eq. 5): $\min(1, \sqrt{t/f})$, i.e. discard $1 - \sqrt{t/f}$;
# * word2vec.c and gensim: $\min\!\big(1, \sqrt{t/f} + t/f\big)$ (default $t = 10^{-3}$);
# * legacy Keras `make_sampling_table`: $\min(1, \sqrt{t/f})$ with $f$ *estimated from the
#   rank* by Zipf's law, $f(r) = 1/(r H_r)$ with $H_r \approx \ln r + \gamma$, and $t = 10^{-5}$
#   by default.
#
# Words rarer than $t$ are always kept. Dropping happens before the windows are formed, so
# the surviving words' windows reach further.
#
# In the plot, the Keras table (given the same $t = 10^{-3}$ here) keeps no word more often
# than the paper's formula, and the frequent words far less: its Zipf estimate overstates
# their frequencies ($f(1) \approx 1.0$ for "the", whose $f$ on the plot is 0.082, so "the"
# is kept with probability 0.03 instead of 0.11).

# %%
counts = vocab.counts
f = counts / counts.sum()
keep_w2v = corpus.keep_probabilities(counts, sample=1e-3, formula="word2vec")
keep_paper = corpus.keep_probabilities(counts, sample=1e-3, formula="keras")
table = skipgrams.make_sampling_table(len(vocab) + 1, sampling_factor=1e-3)
legacy_table = tf.keras.preprocessing.sequence.make_sampling_table(len(vocab) + 1, sampling_factor=1e-3)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(f, keep_w2v, ".", label=r"word2vec.c: $\sqrt{t/f}+t/f$")
ax.loglog(f, keep_paper, ".", label=r"paper: $\sqrt{t/f}$")
ax.loglog(f, table[1:], ".", ms=2, label="Keras table (f from rank; here t = 1e-3)")
ax.set_xlabel("word frequency f (Lee corpus)")
ax.set_ylabel("keep probability")
ax.legend()
plt.show()

ids = np.concatenate(vocab.encode(sentences[:split]))
kept = corpus.subsample(ids, keep_w2v, np.random.default_rng(0))
expected = keep_w2v[ids].sum()
sd = np.sqrt((keep_w2v[ids] * (1 - keep_w2v[ids])).sum())
print(f"tokens {len(ids)}: kept {len(kept)} (expected {expected:.0f} +- {sd:.0f}); "
      f"'the' kept with p = {keep_w2v[0]:.3f}")

# %%
# Check: our sampling table equals the legacy Keras one exactly; the word2vec formula keeps
# more than the paper's; the kept count matches its expectation within 5 standard deviations.
np.testing.assert_array_equal(table, legacy_table)
assert np.all(keep_w2v >= keep_paper) and keep_w2v[0] > keep_paper[0]
# ... and the Keras table, with the same t, keeps no word more often than the paper's formula.
assert np.all(table[1:] <= keep_paper + 1e-12) and table[1] < 0.5 * keep_paper[0]
assert abs(len(kept) - expected) < 5 * sd
