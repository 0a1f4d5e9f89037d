# %% [markdown]
# # 9. Word2Vec in Keras
#
# The model of the TensorFlow word2vec tutorial, trained with the losses of the previous
# notebooks: `w2v_tf.word2vec.Word2Vec` (a `keras.Model`) and `w2v_tf.word2vec.train`
# (word2vec.c's recipe: shrunk windows, subsampling, linear learning-rate decay, sparse SGD).
# Skip-gram (跳字模型) on the Lee corpus shipped with gensim; then nearest neighbours, and the
# files for the Embedding Projector.

# %%
import tempfile
from pathlib import Path

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
# * `neg`: word2vec's negative sampling (负采样), negatives from unigram$^{0.75}$, no $\log Q$;
# * `nce`: NCE (噪声对比估计), same negatives, $\log kQ$ subtracted;
# * `sampled_softmax`: sampled softmax (采样softmax), $\log Q$ subtracted.
#
# (`neg` is word2vec's exact per-pair update: k negatives for every pair, hand-written
# gradients in `w2v_tf.word2vec.fast_sgd`. `nce` and `sampled_softmax` go through autodiff with
# negatives shared by the batch; the per-row step clip of `train` for those, `max_row_step`,
# is switched off here: on a corpus this small its default of 0.1 held their loss flat.) The losses are on different scales, so we compare what the vectors
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
