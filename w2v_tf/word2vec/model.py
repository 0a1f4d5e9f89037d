"""Word2Vec as a Keras model: the reference path of the word2vec wing.

The model of the TensorFlow word2vec tutorial: a target table and a context table, and a
score for each (word, context) pair,

    dots = tf.einsum('be,bce->bc', word_emb, context_emb)        # [B, C]

with `word_emb` the word's input vector ([B, e], skip-gram) or the mean of the input vectors
of its window (CBOW), and `context_emb` the output vectors of C candidate contexts.
word2vec.c calls the tables `syn0` (input, exported) and `syn1neg` (output). Any loss of the
package trains it: `pair_loss` turns a batch of (word, context) pairs into per-pair losses
`[B]` with `compute_sampled_logits`, `nce_loss`, `sampled_softmax_loss`, the hierarchical or
the full softmax. And it trains the Keras way, the sum of those losses differentiated by a
`GradientTape` and applied by a Keras optimizer (`Word2Vec.train_step`):

    model = Word2Vec(len(vocab), dim=100)
    model.compile(keras.optimizers.SGD(LinearDecay(0.025, total_steps)),
                  loss="neg_shared", counts=vocab.counts)
    model.fit(pipeline.skipgram_dataset(encoded, keep_prob=keep, shuffle="pairs"), epochs=5)
    vectors = model.word_vectors()

`w2v_tf.word2vec.training.train` trains the same model with word2vec.c's recipe; for
"neg" and "neg_shared" it runs `w2v_tf.word2vec.fast_sgd`, the same objective with the
gradients written out, which tests/test_word2vec_reference.py shows learns vectors as good as
this path's (WordSim353 Spearman, same corpus, seeds and epochs).

Losses (`LOSS_NAMES`), all per pair, then summed over the batch:

* ``neg``  word2vec's negative sampling (Mikolov et al. 2013b, eq. 4): each pair draws its
  own k negatives from unigram^0.75, none equal to the pair's target,
  -log s(o_t) - sum_k log s(-o_k). Here the negatives equal to the target are redrawn;
  word2vec.c (and `fast_sgd`) skip them instead.
* ``neg_shared``  an unbiased estimate of the same objective with S negatives shared by the
  batch: -log s(o_t) - (k/S) sum_{s=1..S} log s(-o_s); the negative logits are then one
  matmul [B, dim] x [dim, S]. The default (`DEFAULT_LOSS`).
* ``neg_per_pair``  the same as ``neg`` here; the name says "through this model and
  autodiff" where `train` would otherwise take the fast path.
* ``nce``  `nce_loss` (log kQ subtracted), same noise distribution.
* ``sampled_softmax``  `sampled_softmax_loss` (Jean et al. 2015, log Q subtracted).
* ``hs``  hierarchical softmax over word2vec's Huffman tree (`w2v_tf.hierarchical`).
* ``softmax``  `full_softmax_loss` over the whole vocabulary (small vocabularies only:
  O(V dim) per pair).
* ``tutorial_softmax``  the TF tutorial's loss: softmax cross-entropy over the einsum's
  [positive, k negatives] columns *without* log-Q, i.e. a sampled softmax with the
  correction left out (it learns log P(c|w) - log Q(c) + const, like NEG, not log P). Unlike
  the tutorial, each pair draws its own k negatives from unigram^0.75 and a negative never
  equals the pair's positive context (tensorflow/tensorflow#44758).

Shared negatives. For ``neg_shared``, ``nce`` and ``sampled_softmax`` the S = `num_sampled`
negatives are drawn once per batch and shared by all pairs, as `tf.nn` does. A shared
negative equal to a pair's positive context is masked for that pair
(`remove_accidental_hits=True`), which is word2vec.c's "skip a negative equal to the
target". How the summed updates of shared negatives behave at word2vec's learning rate, and
why ``neg`` keeps its own k negatives per pair, is in `training.py`.
"""
from __future__ import annotations

from typing import Callable, Optional

import keras
import numpy as np
import tensorflow as tf

from w2v_tf import losses as _losses
from w2v_tf.hierarchical import HierarchicalSoftmax, build_huffman_tree, hierarchical_softmax_loss
from w2v_tf.sampled_logits import compute_sampled_logits
from w2v_tf.sampling import FixedUnigramSampler
from w2v_tf.word2vec.choices import (ARCHS, DEFAULT_LOSS, FAST_LOSSES, LOSS_NAMES,  # noqa: F401
                                    PER_PAIR_NEGATIVE_LOSSES, SHARED_NEGATIVE_LOSSES)

DEFAULT_NUM_SHARED = 16                  # S for skip-gram "neg_shared" (the fastest of 16/32/64
                                         # measured, and as good: benchmarks/results/)
DEFAULT_NUM_SHARED_CBOW = 16             # S for CBOW "neg_shared": 32 with independent draws,
                                         # 16 once stratified (see default_num_shared)
MAX_SOFTMAX_VOCAB = 50_000   # full softmax costs O(V dim) per pair; refuse beyond this


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


@keras.saving.register_keras_serializable(package="w2v_tf")
class Word2Vec(keras.Model):
    """Target and context embedding tables scored by `einsum('be,bce->bc')`.

    Args:
        vocab_size: V, the number of words (ids 0..V-1, most frequent first).
        dim: embedding size e.
        arch: "skipgram" (word_emb = input vector of the word) or "cbow" (word_emb = mean of
            the input vectors of the window; the target table then has one extra, zero,
            padding row `pad_id = V` that the mask ignores).
        counts: `[V]` word counts, needed for `hierarchical=True` (the Huffman tree).
        hierarchical: add a `HierarchicalSoftmax` layer (inner-node vectors [V-1, e]).
        seed: seed of the input-vector initialiser.

    Initialisation follows word2vec.c: input vectors U(-0.5/e, 0.5/e), output vectors (and
    HS inner-node vectors) zero.

    Call:
        `model((words, contexts))` with words `[B]` int (skip-gram) or `[B, 2*window]` int
        (CBOW window, padded with `pad_id`) and contexts `[B, C]` int; returns the dots
        `[B, C]`.

    Fit:
        `model.compile(optimizer, loss=..., counts=...)` then `model.fit(words, contexts)`
        or `model.fit(dataset of (words [B], contexts [B]))`: see `compile`, `train_step`.
        A `pipeline.cbow_dataset` yields `(window, n, target)`: map it to
        `(window, target)` first. `evaluate` reports the same loss without a step.
        The loss is summed over the batch, so a step moves a frequent word's row by the rate
        times its number of pairs, and large rates diverge (skip-gram, "lee" corpus, batch
        1024, one epoch: at 0.025 loss 3.92 with subsampling as above, inf without it; at
        0.05, CBOW's rate in word2vec.c, 1.6e15 even with it; 4.11 at 0.0025 without it).
        `train()` caps each row's step and trains at word2vec.c's rates.

    Save:
        `model.save("w2v.keras")` and `keras.models.load_model` keep the architecture and
        the tables; the compiled loss and optimizer are not saved: compile again to go on.
    """

    def __init__(self, vocab_size: int, dim: int = 100, arch: str = "skipgram",
                 counts=None, hierarchical: bool = False, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = _check_int("vocab_size", vocab_size, 1)
        self.dim = _check_int("dim", dim, 1)
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
        self.arch = arch
        self.pad_id = self.vocab_size            # CBOW padding row, never sampled
        rows = self.vocab_size + (arch == "cbow")
        half = 0.5 / self.dim
        init = keras.initializers.RandomUniform(-half, half, seed=seed)
        self.target_embedding = keras.layers.Embedding(rows, self.dim, embeddings_initializer=init,
                                                       name="target_embedding")
        self.context_embedding = keras.layers.Embedding(self.vocab_size, self.dim,
                                                        embeddings_initializer="zeros",
                                                        name="context_embedding")
        self.target_embedding.build((None,))
        self.context_embedding.build((None,))
        if arch == "cbow":   # the padding row starts (and, masked, stays) at zero
            table = self.target_embedding.embeddings
            table.assign(tf.tensor_scatter_nd_update(
                tf.convert_to_tensor(table), [[self.pad_id]], tf.zeros([1, self.dim])))
        self.hs = None
        if hierarchical:
            if counts is None:
                raise ValueError("hierarchical=True needs the word counts (counts=vocab.counts)")
            self.hs = HierarchicalSoftmax(build_huffman_tree(counts), name="hierarchical_softmax")
            self.hs.build((None, self.dim))
        self.loss_tracker = keras.metrics.Mean(name="loss")   # what `fit` reports
        self.fit_loss = None                                  # set by `compile`
        self._config = dict(vocab_size=self.vocab_size, dim=self.dim, arch=arch,
                            counts=None if counts is None else np.asarray(counts).tolist(),
                            hierarchical=bool(hierarchical), seed=seed)
        self.built = True   # every weight exists; `fit` need not build by calling the model

    @property
    def target_table(self) -> tf.Variable:
        """The input vectors `[V (+1 for CBOW), dim]` as a `tf.Variable` (word2vec's syn0)."""
        return self.target_embedding.embeddings.value

    @property
    def context_table(self) -> tf.Variable:
        """The output vectors `[V, dim]` as a `tf.Variable` (word2vec's syn1neg)."""
        return self.context_embedding.embeddings.value

    def encode(self, words) -> tf.Tensor:
        """word_emb `[B, dim]`: the input vector (skip-gram) or the window mean (CBOW).

        CBOW: h = (1/n) sum_{j in window} v_j over the n real slots. The returned tensor has
        that value, but its gradient reaches each v_j unscaled (d h / d v_j := I), which is
        word2vec.c's update (`syn0[c] += neu1e` for every window word).
        """
        table = self.target_table
        if self.arch == "skipgram":
            return tf.gather(table, words)                                   # [B, e]
        vectors = tf.gather(table, words)                                    # [B, 2w, e]
        mask = tf.cast(tf.not_equal(words, self.pad_id), vectors.dtype)      # [B, 2w]
        summed = tf.einsum("bwe,bw->be", vectors, mask)                      # [B, e]
        n = tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1.0)      # [B, 1]
        # value: summed / n (the mean); gradient: that of `summed` (word2vec.c's rule)
        return summed + tf.stop_gradient(summed / n - summed)

    def call(self, inputs):
        words, contexts = inputs
        word_emb = self.encode(words)                                        # [B, e]
        context_emb = tf.gather(self.context_table, contexts)               # [B, C, e]
        return tf.einsum("be,bce->bc", word_emb, context_emb)                # [B, C]

    def word_vectors(self) -> np.ndarray:
        """The trained input vectors `[V, dim]` (padding row dropped), what word2vec exports."""
        return self.target_table.numpy()[:self.vocab_size]

    # ------------------------------------------------------------------------- model.fit
    def compile(self, optimizer="sgd", loss: str = DEFAULT_LOSS, *, counts=None, sampler=None,
                num_sampled: int = 5, negatives: Optional[int] = None, seed: int = 0,
                jit_compile=False, **kwargs):
        """Sets what `fit` trains: `loss`, summed over the batch, applied by `optimizer`.

        Args:
            optimizer: a Keras optimizer or its name. word2vec's is plain SGD with its
                linearly decaying rate, `keras.optimizers.SGD(LinearDecay(alpha, steps))`.
            loss: one of `LOSS_NAMES`: a loss of ours through `pair_loss` (it needs the
                model's tables and a sampler, not Keras' `(y_true, y_pred)`).
            counts: `[V]` word counts; the sampled losses then draw their negatives with
                `unigram_sampler(counts, seed)` (unigram^0.75).
            sampler: the negatives' sampler instead of `counts`.
            num_sampled: S negatives shared by a batch, or k per pair (`pair_loss`).
            negatives: k of "neg_shared" (weight k/S of its S negatives; None: k = S).
            seed: seed of the sampler made from `counts`.
            jit_compile: compile the step with XLA; off by default, as the per-pair redraw
                loop of "neg"/"neg_per_pair"/"tutorial_softmax" is slow under XLA.
            **kwargs: passed to `keras.Model.compile` (e.g. `steps_per_execution`).

        Raises:
            ValueError: an unknown loss, a sampled loss with neither `counts` nor `sampler`,
                or "hs" on a model built without `hierarchical=True`.
        """
        if loss not in LOSS_NAMES:
            raise ValueError(f"loss must be one of {LOSS_NAMES}, got {loss!r}")
        if loss == "hs" and self.hs is None:
            raise ValueError("loss='hs' needs a model built with hierarchical=True (and counts)")
        if sampler is None and loss in SHARED_NEGATIVE_LOSSES + PER_PAIR_NEGATIVE_LOSSES:
            if counts is None:
                raise ValueError(f"loss={loss!r} samples negatives: pass counts=[V] word "
                                 "counts (or sampler=)")
            sampler = unigram_sampler(counts, seed=seed)
        self.fit_loss = dict(loss=loss, sampler=sampler, num_sampled=num_sampled,
                             negatives=negatives)
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    def train_step(self, data):
        """One `fit` step on `(words, contexts)` or `(words, contexts, weights)`.

        The per-pair losses of the compiled loss (`pair_loss`), times the weights, summed
        over the batch: L = sum_b w_b l_b, so the optimizer's step on each row is lr times
        the sum of the per-pair gradients, word2vec's updates (`make_train_step` is the same
        step with `sgd_step` in place of the Keras optimizer). Reports the mean loss per
        pair (weighted) as "loss".
        """
        words, contexts, weights = self._batch(data)
        variables = trained_variables(self, self.fit_loss["loss"])
        with tf.GradientTape() as tape:
            total = summed_pair_loss(self, words, contexts, weights, **self.fit_loss)
        grads = tape.gradient(total, [v.value for v in variables])
        self.optimizer.apply_gradients(zip(grads, variables))
        pairs = tf.reduce_sum(tf.cast(weights, tf.float32))
        self.loss_tracker.update_state(total / tf.maximum(pairs, 1e-12), sample_weight=pairs)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        """`evaluate`: the mean loss per pair of `train_step`, without the update."""
        words, contexts, weights = self._batch(data)
        total = summed_pair_loss(self, words, contexts, weights, **self.fit_loss)
        pairs = tf.reduce_sum(tf.cast(weights, tf.float32))
        self.loss_tracker.update_state(total / tf.maximum(pairs, 1e-12), sample_weight=pairs)
        return {"loss": self.loss_tracker.result()}

    def _batch(self, data):
        """(words, contexts, weights) of a `fit`/`evaluate` batch; weights default to 1."""
        words, contexts, weights = keras.utils.unpack_x_y_sample_weight(data)
        if weights is None:
            return words, contexts, tf.ones_like(contexts, tf.float32)
        if weights.dtype.is_integer:
            raise ValueError("a batch's third element is read as per-pair weights and must be "
                             f"float, got {weights.dtype.name}: for pipeline.cbow_dataset's "
                             "(window, n, target) batches, map them to (window, target)")
        return words, contexts, weights

    @property
    def metrics(self):
        return [self.loss_tracker]

    def get_config(self):
        """The constructor's arguments (`keras.models.load_model` rebuilds the model)."""
        return {**super().get_config(), **self._config}

    def get_compile_config(self):
        """None: `compile` takes our loss names and samplers, which Keras cannot restore;
        a loaded model is compiled again."""
        return None


# ----------------------------------------------------------------------------- losses glue
def unigram_sampler(counts, seed: int = 0, distortion: float = 0.75) -> FixedUnigramSampler:
    """word2vec's noise distribution Q(w) = count_w^0.75 / Z as one of our samplers."""
    counts = np.asarray(counts, dtype=np.float64)
    return FixedUnigramSampler(len(counts), distortion=distortion, unigrams=counts, seed=seed)


def draw_negatives_excluding(sampler, positives, k: int) -> tf.Tensor:
    """k negatives per pair from the sampler, none equal to the pair's positive.

    Draws [B, k] ids i.i.d. from Q and redraws, until none is left, every entry that equals
    its row's positive: each negative is then distributed as Q restricted to w != positive.
    The loop ends with probability 1 unless Q puts all its mass on the positive; callers
    ensure V >= 2 with Q > 0 on at least two words.

    Args:
        sampler: a `w2v_tf.sampling.CandidateSampler` (e.g. `unigram_sampler`).
        positives: int `[B]` the positive context of each pair.
        k: negatives per pair.

    Returns:
        int64 `[B, k]`.
    """
    positives = tf.cast(positives, tf.int64)[:, None]                        # [B, 1]
    shape = tf.stack([tf.shape(positives)[0], k])

    def fresh():
        flat, _ = _draw_flat(sampler, tf.reduce_prod(shape))
        return tf.reshape(flat, shape)

    negatives = fresh()

    def cond(neg):
        return tf.reduce_any(tf.equal(neg, positives))

    def body(neg):
        return (tf.where(tf.equal(neg, positives), fresh(), neg),)

    (negatives,) = tf.while_loop(cond, body, (negatives,))
    return negatives


def _draw_flat(sampler, n):
    """n i.i.d. draws from the sampler's distribution, n a (possibly dynamic) scalar tensor.

    `CandidateSampler.draw` wants a Python int; its `_draw(seed, n)` hook takes any n.
    """
    seed = sampler.rng.make_seeds(1)[:, 0]
    return sampler._draw(seed, n), seed


def pair_loss(model: Word2Vec, loss: str, words, contexts, sampler=None, num_sampled: int = 5,
              negatives: Optional[int] = None):
    """Per-pair loss `[B]` of `model` on (words, contexts) for one of `LOSS_NAMES`.

    This is the Keras-model / autodiff path (`make_train_step` differentiates it with a
    tape); `train` runs "neg" and "neg_shared" through `w2v_tf.word2vec.fast_sgd` instead, whose
    hand-written gradients are checked against this one's in tests/test_word2vec.py.

    Args:
        model: the `Word2Vec` model.
        loss: the loss name.
        words: `[B]` target ids (skip-gram) or `[B, 2*window]` windows (CBOW).
        contexts: `[B]` the word to predict (skip-gram: the context word; CBOW: the centre).
        sampler: negatives' sampler (unigram^0.75) for the sampled losses.
        num_sampled: S shared negatives per batch, or k per pair for the per-pair losses.
        negatives: k of word2vec's objective for "neg_shared", whose S negative terms are
            weighted k/S (None: k = S, weight 1).

    Returns:
        float32 `[B]`.
    """
    labels = tf.cast(contexts, tf.int64)[:, None]                            # [B, 1]
    if loss == "tutorial_softmax":
        negatives_ = draw_negatives_excluding(sampler, labels[:, 0], num_sampled)  # [B, k]
        dots = model((words, tf.concat([labels, negatives_], axis=1)))      # [B, 1+k]
        # softmax over [positive, negatives], no log-Q: the TF tutorial's CategoricalCrossentropy
        return tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.zeros_like(labels[:, 0]), logits=dots)                # [B]
    if loss in ("neg", "neg_per_pair"):
        negatives_ = draw_negatives_excluding(sampler, labels[:, 0], num_sampled)  # [B, k]
        dots = model((words, tf.concat([labels, negatives_], axis=1)))      # [B, 1+k]
        # NEG (Mikolov et al. 2013b, eq. 4): -log s(o_t) - sum_k log s(-o_k); -log s(x) = softplus(-x)
        return tf.math.softplus(-dots[:, 0]) + tf.reduce_sum(tf.math.softplus(dots[:, 1:]), 1)
    h = model.encode(words)                                                  # [B, e]
    if loss == "hs":
        return hierarchical_softmax_loss(model.hs.inner_vectors.value, h, labels[:, 0],
                                         model.hs.tree)
    if loss == "softmax":
        return _losses.full_softmax_loss(model.context_table, None, labels, h,
                                         num_classes=model.vocab_size)
    if loss not in SHARED_NEGATIVE_LOSSES:
        raise ValueError(f"loss must be one of {LOSS_NAMES}, got {loss!r}")
    sampled_values = sampler(labels, 1, num_sampled, unique=False)          # S shared, Q = S P
    if loss == "neg_shared":
        # J' = -log s(o_t) - (k/S) sum_s log s(-o_s): E_{n_s ~ Q}[J'] = word2vec's J with k
        # negatives. Logits without log-Q; a negative equal to the target gets the lowest
        # logit, so its term softplus(o_s) is 0 (word2vec skips it).
        logits, _ = compute_sampled_logits(
            model.context_table, None, labels, h, num_sampled, model.vocab_size,
            sampled_values=sampled_values, subtract_log_q=False, remove_accidental_hits=True)
        weight = (num_sampled if negatives is None else negatives) / num_sampled   # k / S
        return tf.math.softplus(-logits[:, 0]) + weight * tf.reduce_sum(
            tf.math.softplus(logits[:, 1:]), axis=1)                         # [B]
    fn = {"nce": _losses.nce_loss, "sampled_softmax": _losses.sampled_softmax_loss}[loss]
    return fn(model.context_table, None, labels, h, num_sampled, model.vocab_size,
              sampled_values=sampled_values, remove_accidental_hits=True)


def _sum_duplicate_rows(g: tf.IndexedSlices):
    """Rows u and summed gradients G_u = sum_{i: idx_i = u} g_i of an `IndexedSlices`.

    Sort-based, so it compiles with XLA (`tf.unique` has a dynamic shape): after sorting the
    n indices, a new segment starts wherever the index changes. Returns `(rows [n],
    summed [n, d])` where only the first U entries are real; the n - U tail entries have
    row 0 and a zero gradient, so applying them changes nothing.
    """
    idx = tf.cast(g.indices, tf.int64)
    order = tf.argsort(idx, stable=True)
    sorted_idx = tf.gather(idx, order)                                        # [n]
    starts = tf.concat([[True], sorted_idx[1:] != sorted_idx[:-1]], axis=0)  # [n]
    segment = tf.cumsum(tf.cast(starts, tf.int32)) - 1                        # [n] in 0..U-1
    n = tf.shape(idx)[0]
    summed = tf.math.unsorted_segment_sum(tf.gather(g.values, order), segment, n)  # [n, d]
    rows = tf.math.unsorted_segment_max(sorted_idx, segment, n)                     # [n]
    rows = tf.maximum(rows, 0)          # empty segments get the dtype's minimum: use row 0
    return rows, summed


def sgd_step(variables, grads, lr, max_row_step=None):
    """Plain SGD, v -= lr * g, touching only the rows in an `IndexedSlices` gradient.

    A row used by n pairs of the batch moves by lr times the sum of its n per-pair gradients,
    what n successive word2vec updates would do to first order. With `max_row_step` that
    move is clipped to a Euclidean norm of at most `max_row_step` per row:

        delta_u = lr G_u * min(1, max_row_step / ||lr G_u||)

    which only binds for rows that many pairs push the same way at once (the root of the
    Huffman tree, a negative shared by the whole batch, very frequent words); without it the
    summed step of such rows exceeds the stable step size (lr n curvature > 2) and training
    diverges, where word2vec's one-pair-at-a-time updates see each other's effect.
    """
    for v, g in zip(variables, grads):
        if g is None:
            continue
        if isinstance(g, tf.IndexedSlices):
            rows, summed = _sum_duplicate_rows(g)
            delta = tf.cast(lr, summed.dtype) * summed                       # [n, d]
            if max_row_step is not None:
                delta = tf.clip_by_norm(delta, max_row_step, axes=[1])
            v.scatter_sub(tf.IndexedSlices(delta, rows, g.dense_shape))
        else:
            delta = tf.cast(lr, g.dtype) * g
            if max_row_step is not None:
                delta = tf.clip_by_norm(delta, max_row_step, axes=[1])
            v.assign_sub(delta)


class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """word2vec.c's learning rate as a Keras schedule: alpha_t = alpha max(min_ratio, 1 - t/T).

    t is the optimizer's step count and T = `total_steps` the steps of the whole run, so
    progress t/T is the share of the training done (`training.learning_rate` is the same
    rule for a Python float of progress).
    """

    def __init__(self, alpha: float, total_steps: int, min_alpha_ratio: float = 1e-4):
        self.alpha = float(alpha)
        self.total_steps = _check_int("total_steps", total_steps, 1)
        self.min_alpha_ratio = float(min_alpha_ratio)

    def __call__(self, step):
        progress = tf.cast(step, tf.float32) / float(self.total_steps)
        return self.alpha * tf.maximum(self.min_alpha_ratio, 1.0 - progress)

    def get_config(self):
        return {"alpha": self.alpha, "total_steps": self.total_steps,
                "min_alpha_ratio": self.min_alpha_ratio}


def trained_variables(model: Word2Vec, loss: str) -> list:
    """The Keras variables a loss trains: the input table, and the output table (or, for
    "hs", the Huffman tree's inner-node vectors)."""
    out = model.hs.inner_vectors if loss == "hs" else model.context_embedding.embeddings
    return [model.target_embedding.embeddings, out]


def summed_pair_loss(model: Word2Vec, words, contexts, weights, loss: str, sampler=None,
                     num_sampled: int = 5, negatives: Optional[int] = None):
    """sum_b weights_b l_b, the batch's loss that word2vec's SGD differentiates (`pair_loss`
    gives l `[B]`; weights `[B]` are 0 on padding pairs)."""
    per_pair = pair_loss(model, loss, words, contexts, sampler, num_sampled, negatives)  # [B]
    return tf.reduce_sum(per_pair * tf.cast(weights, per_pair.dtype))


def make_train_step(model: Word2Vec, loss: str, sampler=None, num_sampled: int = 5,
                    jit_compile: Optional[bool] = None,
                    max_row_step: Optional[float] = None,
                    negatives: Optional[int] = None) -> Callable:
    """A compiled step `(words, contexts, weights [B], lr) -> summed loss`.

    `weights` is 1 for real pairs and 0 for the padding that fills an epoch's last batch up
    to the batch size (so every call has the same shape and compiles once).
    """
    if loss not in LOSS_NAMES:
        raise ValueError(f"loss must be one of {LOSS_NAMES}, got {loss!r}")
    variables = [v.value for v in trained_variables(model, loss)]           # tf.Variables

    @tf.function(jit_compile=jit_compile, reduce_retracing=True, autograph=False)
    def step(words, contexts, weights, lr):
        with tf.GradientTape() as tape:
            total = summed_pair_loss(model, words, contexts, weights, loss, sampler,
                                     num_sampled, negatives)
        sgd_step(variables, tape.gradient(total, variables), lr, max_row_step)
        return total

    return step
