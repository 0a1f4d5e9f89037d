# %% [markdown]
# # 9. Word2Vec in Keras
#
# The model of the TensorFlow word2vec tutorial, trained with the losses of the previous
# notebooks: `w2v_tf.word2vec.Word2Vec` (a `keras.Model`) and `w2v_tf.word2vec.train`
# (word2vec.c's recipe: shrunk windows, subsampling, linear learning-rate decay, sparse SGD).
# Skip-gram ([跳字模型](../docs/glossary.md#skip-gram)) on the Lee corpus shipped with gensim;
# training curves and what they say about each loss, what the similarity scores can and cannot
# tell on a corpus this small, nearest neighbours, a 2-D map of the vectors, and the files for
# the Embedding Projector. Terms in English and Chinese: the [glossary](../docs/glossary.md).

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf

from w2v_tf import word2vec
from w2v_tf.word2vec import corpus, export, pipeline, wordvectors

tf.get_logger().setLevel("ERROR")
sentences = corpus.load_corpus("lee")
vocab = corpus.Vocabulary.build(sentences, min_count=5)
encoded = vocab.encode(sentences)
print(f"{len(vocab)} words, {vocab.total} tokens")

# %% [markdown]
# ## The einsum model
#
# Two embedding tables: the *target* (input) vectors $v$ (word2vec.c's `syn0`, the vectors we
# export) and the *context* (output) vectors $u$ (`syn1neg`). For a batch of $B$ words and
# $C$ candidate contexts each, the scores are all the dot products at once,
#
# $$\text{dots}_{bc} = v_{w_b}\cdot u_{c_{bc}}, \qquad
#   \texttt{tf.einsum('be,bce->bc', word\_emb, context\_emb)}.$$
#
# With $C = 1 + k$ (the positive context and $k$ negatives) this is exactly what the
# tutorial's loss and word2vec's negative sampling score. Initialisation follows word2vec.c:
# $v \sim U(-0.5/e, 0.5/e)$, $u = 0$.

# %%
model = word2vec.Word2Vec(len(vocab), dim=8, seed=0)
words = tf.constant([3, 17])                                # [B]
contexts = tf.constant([[5, 40, 41], [2, 99, 7]])           # [B, C]: positive + 2 negatives
model.context_table.assign(tf.random.normal(model.context_table.shape, seed=1))
dots = model((words, contexts))
by_hand = np.einsum("be,bce->bc", model.target_table.numpy()[words.numpy()],
                    model.context_table.numpy()[contexts.numpy()])
print("dots:", dots.shape, "\n", dots.numpy().round(4))

# %%
# Check: the model's scores are the dot products of the two tables' rows; v starts in
# U(-0.5/e, 0.5/e) and a fresh model's context table is zero.
np.testing.assert_allclose(dots.numpy(), by_hand, rtol=1e-5, atol=1e-7)
assert np.abs(model.target_table.numpy()).max() <= 0.5 / 8
assert not word2vec.Word2Vec(len(vocab), dim=8).context_table.numpy().any()

# %% [markdown]
# ## The losses compared
#
# Five epochs of skip-gram (window 5, 5 negatives, 32-dimensional vectors, subsampling
# $t = 10^{-3}$, batches of 1024 pairs) with three of the losses:
#
# * `neg`: word2vec's negative sampling ([负采样](../docs/glossary.md#negative-sampling)),
#   negatives from unigram$^{0.75}$, no $\log Q$;
# * `nce`: NCE ([噪声对比估计](../docs/glossary.md#nce)), same negatives, $\log kQ$ subtracted;
# * `sampled_softmax`: sampled softmax ([采样softmax](../docs/glossary.md#sampled-softmax)),
#   $\log Q$ subtracted.
#
# (`neg` is word2vec's exact per-pair update: k negatives for every pair, hand-written
# gradients in `w2v_tf.word2vec.fast_sgd`. `nce` and `sampled_softmax` go through autodiff with
# negatives shared by the batch; the per-row step clip of `train` for those, `max_row_step`,
# is switched off here: on a corpus this small its default of 0.1 held their loss flat.) The
# losses are on different scales, so we compare what the vectors
# learned: the mean cosine similarity of words that occur in the same window, against that of
# random word pairs, and the Spearman correlation with human similarity judgements (WordSim353;
# most of its words are not in a 60k-token corpus, so read it as a rough signal).
#
# After a few epochs on a small corpus all vectors still share a large common component (they
# drift together from their random start), so raw cosines are high for *every* pair. We
# remove the mean vector before comparing ("all-but-the-top", Mu & Viswanath 2018, keeps just
# this first step); the raw cosines are shown too.

# %%
rng = np.random.default_rng(0)
pairs_t, pairs_c = pipeline.make_skipgram_pairs(encoded, window=2, rng=0)
pick = rng.choice(len(pairs_t), 5000, replace=False)
rand_a, rand_b = rng.integers(len(vocab), size=(2, 5000))

def cosine(vectors, a, b):
    n = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return float(np.mean(np.sum(n[a] * n[b], axis=1)))

trained, rows = {}, []
for loss in ("neg", "nce", "sampled_softmax"):
    m, stats = word2vec.train(encoded, vocab.counts, loss=loss, dim=32, epochs=5, negatives=5,
                              batch_size=1024, max_row_step=None, progress=False, seed=0)
    vectors = m.word_vectors()
    centred = vectors - vectors.mean(axis=0)
    kv = wordvectors.keyed_vectors(vocab.words, centred)
    trained[loss] = (m, stats, kv)
    rows.append({"loss": loss, "epoch losses": np.round(stats.epoch_loss, 2).tolist(),
                 "seconds": round(stats.seconds, 1),
                 "raw cos(window pairs)": cosine(vectors, pairs_t[pick], pairs_c[pick]),
                 "raw cos(random pairs)": cosine(vectors, rand_a, rand_b),
                 "cos(window pairs)": cosine(centred, pairs_t[pick], pairs_c[pick]),
                 "cos(random pairs)": cosine(centred, rand_a, rand_b),
                 "WordSim353 Spearman": wordvectors.evaluate(kv)["wordsim353"]["spearman"]})
comparison = pd.DataFrame(rows).set_index("loss")
comparison.round(3)

# %%
# Check: every loss falls from its first to its last epoch, and every model puts words that
# share a window closer together than random pairs, after centring (5000 pairs each: the
# standard error of a mean cosine is below 0.01, the margin asserted is 0.05).
for loss, (m, stats, kv) in trained.items():
    assert stats.epoch_loss[-1] < stats.epoch_loss[0], loss
assert (comparison["cos(window pairs)"] > comparison["cos(random pairs)"] + 0.05).all()

# %% [markdown]
# ## Training curves, and why NCE's loss rises before it falls
#
# The mean training loss of each epoch (each loss on its own scale: NEG sums $1 + k$ logistic
# terms, NCE the same terms shifted by $\log kQ$, sampled softmax one softmax over $1 + S$
# candidates). NEG and sampled softmax fall from the first epoch. NCE starts far higher and
# its second epoch is *worse* than its first. The reason is NCE's $-\log kQ$ shift: a fresh
# model scores every pair 0 (the context table starts at zero), so a sampled rare word $j$ gets
# the logit $-\log kQ(j)$ (printed below: large and positive for the rare words that make up
# most of the vocabulary), and costs about that many nats, $\log(1 + e^{x}) \approx x$,
# until the dot products learn to cancel that offset for every word. The einsum model has no bias term, so the offset must be built from the vectors
# themselves, and with negatives shared by the whole batch each rare word's row receives the
# summed push of 1024 pairs per step. At word2vec.c's starting rate 0.025 those summed steps
# overshoot; as the rate decays linearly to zero the loss falls quickly (epochs 3-5). The
# fourth curve checks the explanation: the same NCE run with half the starting rate falls
# from the first epoch on.

# %%
half, half_stats = word2vec.train(encoded, vocab.counts, loss="nce", dim=32, epochs=5, negatives=5,
                                  batch_size=1024, max_row_step=None, progress=False, seed=0,
                                  alpha=0.0125)
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), dpi=80)
epochs = np.arange(1, 6)
for ax, loss in zip(axes, ("neg", "nce", "sampled_softmax")):
    ax.plot(epochs, trained[loss][1].epoch_loss, "o-", label=f"{loss}, alpha 0.025")
    if loss == "nce":
        ax.plot(epochs, half_stats.epoch_loss, "s--", label="nce, alpha 0.0125")
    ax.set(title=loss, xlabel="epoch", ylabel="mean training loss per pair")
    ax.grid(alpha=0.3); ax.legend(fontsize=8)
plt.tight_layout(); plt.show()
q = vocab.counts ** 0.75 / np.sum(vocab.counts ** 0.75)      # NCE's noise distribution
print(f"-log kQ at the start (k = 5): most frequent word {-np.log(5 * q[0]):+.1f}, "
      f"median word {-np.log(5 * np.median(q)):+.1f}, rarest word {-np.log(5 * q[-1]):+.1f}")
print("nce, alpha 0.025: ", np.round(trained["nce"][1].epoch_loss, 2))
print("nce, alpha 0.0125:", np.round(half_stats.epoch_loss, 2))

# %%
# Check: with the default rate NCE's second epoch is above its first (the overshoot the text
# explains); with half the rate every epoch is below the one before.
nce_loss = trained["nce"][1].epoch_loss
assert nce_loss[1] > nce_loss[0] and nce_loss[-1] < nce_loss[0]
assert all(b < a for a, b in zip(half_stats.epoch_loss, half_stats.epoch_loss[1:]))

# %% [markdown]
# ## What the WordSim353 column can tell here
#
# The table's last column looks like a verdict (sampled softmax near 0, the others above
# 0.1), but it is not one. WordSim353 asks for 353 word pairs; only the pairs whose two words
# are both in this 1,831-word vocabulary are scored. On so few pairs a Spearman correlation has
# a standard error of about $1/\sqrt{n - 3}$, and resampling the pairs (bootstrap) shows how far
# each model's score moves. Random vectors are the floor. The window-pair cosines above, on
# 5,000 pairs each, are the measurement that separates the losses on this corpus: by it
# sampled softmax learned as much local structure as NEG.

# %%
from gensim.test.utils import datapath
from scipy.stats import spearmanr

ws = pd.read_csv(datapath("wordsim353.tsv"), sep="\t", comment="#", header=None,
                 names=["a", "b", "human"])
index = {w: i for i, w in enumerate(vocab.words)}
covered = ws[ws.a.str.lower().isin(index) & ws.b.str.lower().isin(index)]
ia = covered.a.str.lower().map(index).to_numpy()
ib = covered.b.str.lower().map(index).to_numpy()
boot = np.random.default_rng(0).integers(len(covered), size=(1000, len(covered)))

def spearman_with_interval(vectors):
    n = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = np.sum(n[ia] * n[ib], axis=1)
    human = covered.human.to_numpy()
    draws = [spearmanr(sims[b], human[b])[0] for b in boot]
    return spearmanr(sims, human)[0], *np.percentile(draws, [5, 95])

random_vectors = np.random.default_rng(1).normal(size=(len(vocab), 32))
ws_rows = {"random vectors": spearman_with_interval(random_vectors)}
for loss, (m, _, kv) in trained.items():
    ws_rows[loss] = spearman_with_interval(kv.vectors)
wordsim = pd.DataFrame(ws_rows, index=["Spearman", "5%", "95%"]).T
print(f"{len(covered)} of {len(ws)} WordSim353 pairs are in the vocabulary; "
      f"standard error of a Spearman on {len(covered)} pairs ~ {1 / np.sqrt(len(covered) - 3):.2f}")
wordsim.round(3)

# %%
# Check: the scores are those of the table above (same pairs, same vectors), every 90%
# interval is wider than 0.3, and the intervals of every two rows overlap: no two losses (nor a
# loss and random vectors) are told apart by this benchmark on this corpus.
np.testing.assert_allclose(wordsim.loc[list(trained), "Spearman"],
                           comparison["WordSim353 Spearman"], atol=1e-6)
assert ((wordsim["95%"] - wordsim["5%"]) > 0.3).all()
assert wordsim["5%"].max() < wordsim["95%"].min()      # one value lies inside every interval

# %% [markdown]
# ## Nearest neighbours
#
# Cosine similarity between the centred input vectors (gensim's `KeyedVectors.most_similar`,
# through `w2v_tf.word2vec.wordvectors.nearest_neighbours`). Five epochs on 51k tokens is very little
# training (gensim's defaults would also give noisy neighbours here); the
# `python -m w2v_tf train` command trains longer on larger corpora. The Lee corpus is Australian news from 2001:
# police, fires, the Middle East, Afghanistan, cricket.

# %%
probe = ["police", "afghanistan", "fire", "israeli", "cricket"]
neighbours = pd.DataFrame({loss: [", ".join(w for w, _ in wordvectors.nearest_neighbours(kv, word, 5))
                                  for word in probe] for loss, (_, _, kv) in trained.items()},
                          index=probe)
neighbours

# %% [markdown]
# ## A 2-D map of the vectors
#
# Five topics of the corpus, seven words each, projected on the first two principal
# components of their centred NEG vectors (a linear map: distances in the plane are a
# shadow of the 32-dimensional ones). Words of one topic share windows, so the training
# pulled their vectors together; the check below measures it in the full 32 dimensions.

# %%
topics = {"Middle East": ["israeli", "palestinian", "arafat", "gaza", "hamas", "ramallah", "jerusalem"],
          "Afghanistan": ["afghanistan", "taliban", "laden", "qaeda", "kabul", "kandahar", "pakistan"],
          "bushfires": ["fire", "fires", "firefighters", "blaze", "crews", "wind", "homes"],
          "cricket": ["cricket", "wickets", "innings", "waugh", "bowler", "runs", "match"],
          "economy": ["economy", "interest", "rates", "growth", "reserve", "market", "cent"]}
kv = trained["neg"][2]
words_ = [w for ws_ in topics.values() for w in ws_]
group = np.repeat(np.arange(len(topics)), [len(v) for v in topics.values()])
X = kv[words_] / np.linalg.norm(kv[words_], axis=1, keepdims=True)
Xc = X - X.mean(axis=0)
_, _, vt = np.linalg.svd(Xc, full_matrices=False)
xy = Xc @ vt[:2].T
fig, ax = plt.subplots(figsize=(8.5, 5.5), dpi=80)
for g, name in enumerate(topics):
    ax.scatter(*xy[group == g].T, label=name, s=25)
    for (x, y), w in zip(xy[group == g], np.array(words_)[group == g]):
        ax.annotate(w, (x, y), fontsize=8, xytext=(3, 2), textcoords="offset points")
ax.set(title="NEG vectors, 5 epochs on the Lee corpus (PCA of 35 words)", xticks=[], yticks=[])
ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5)); plt.tight_layout(); plt.show()
sim = X @ X.T
same = group[:, None] == group[None, :]
off_diagonal = ~np.eye(len(words_), dtype=bool)
within, between = sim[same & off_diagonal].mean(), sim[~same].mean()
print(f"mean cosine within a topic {within:.3f}, between topics {between:.3f}")

# %%
# Check: in the full 32 dimensions, words of one topic are closer than words of different
# topics.
assert within > between + 0.1

# %% [markdown]
# ## Export for the Embedding Projector
#
# `w2v_tf.word2vec.export.export_all` writes `vectors.tsv` and `metadata.tsv` (load both at
# projector.tensorflow.org), word2vec.c's text and binary vector files (readable by gensim's
# `KeyedVectors.load_word2vec_format`), and the vocabulary. Here into a temporary directory;
# `python -m w2v_tf train --out DIR` does the same from the command line.

# %%
vectors = trained["neg"][0].word_vectors()
with tempfile.TemporaryDirectory() as tmp:
    paths = export.export_all(tmp, vocab, vectors)
    tsv = np.loadtxt(paths["projector"], delimiter="\t")
    meta = Path(paths["metadata"]).read_text(encoding="utf-8").splitlines()
    reloaded = wordvectors.load_vectors(tmp)
    print({k: Path(p).name for k, p in paths.items()})
    print("vectors.tsv:", tsv.shape, " metadata.tsv:", len(meta), "lines, first:", meta[:5])

# %%
# Check: the projector files hold one row per word in vocabulary order (6 significant digits),
# and the binary word2vec file reads back exactly.
assert tsv.shape == vectors.shape and meta == vocab.words
np.testing.assert_allclose(tsv, vectors, rtol=1e-5, atol=1e-6)
np.testing.assert_array_equal(reloaded[vocab.words[10]], vectors[10])
