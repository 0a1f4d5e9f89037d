"""Item samplers for sampled-softmax retrieval: `labels [B, 1] -> (sampled, true_q, sampled_q)`.

Each sampler is a callable for the `sampler=` argument of `w2v_tf.layers.SampledSoftmaxLayer`
(and for `sampled_values` of `w2v_tf.losses.sampled_softmax_loss`). It returns

    sampled_candidates     int64   [S]      negatives shared by the batch
    true_expected_count    float32 [B, 1]   Q(y_b), expected count of the label in the sample
    sampled_expected_count float32 [S]      Q(s) for each sampled id

and the loss subtracts log Q from every logit (Jean et al. 2015, eq. 11; Yi et al. 2019's
log-Q correction; subtract, never add: tensorflow/recommenders#219 shipped the wrong sign).

Item id 0 is padding and is never drawn. Items are the ids 1..I-1 (I = `Dataset.num_items`).

| name          | proposal P(i), i in 1..I-1                        | draws             | Q(i)                 |
|---------------|---------------------------------------------------|-------------------|----------------------|
| `log_uniform` | log((i+1)/i) / log(I)  (ids sorted by frequency)  | S, unique         | 1-(1-P)^tries        |
| `unigram`     | c_i^0.75 / sum_j c_j^0.75 (training counts c)     | S, unique         | 1-(1-P)^tries        |
| `uniform`     | 1 / (I-1)                                         | S, unique         | 1-(1-P)^tries        |
| `in_batch`    | c_i / sum_j c_j (Yi et al. 2019)                  | the B batch labels| B P(i)               |
| `mixed`       | in-batch labels plus M uniform draws (Yang 2020)  | B + M             | B c_i/sum c + M/(I-1)|

log-uniform is w2v_tf's log-uniform sampler over the I-1 real items shifted by one: id
i = k + 1 with P(k) = log((k+2)/(k+1)) / log(I-1+1), which is the table's formula. It is
only sensible because `recall_models.data.dataset` numbers items by decreasing training frequency.
With `unique=True` (TensorFlow's default) the S ids are distinct and Q is the probability
that i appears in the `tries` draws it took; with `unique=False`, Q = S P(i).

Mixed: the negatives are the union of two independent samples, B draws from the unigram
P_b(i) = c_i / sum c (the batch labels) and M uniform draws P_u(i) = 1/(I-1), with
replacement. The expected number of times item i appears in the union is the sum of the two
expected counts, Q(i) = B P_b(i) + M P_u(i), which is also (B + M) times the mixture
proposal (B P_b + M P_u) / (B + M): every occurrence of i gets the same correction log Q(i).
In-batch and mixed remove accidental hits through the loss (a row's own label and every
duplicate of it in the batch is masked; `remove_accidental_hits=True` in
`sampled_softmax_loss`); other duplicates stay, as the with-replacement estimate needs.

Determinism: draws come from w2v_tf.sampling's stateless Philox samplers, keyed by
`(seed, step)` where `step` is a `keras.Variable` counter incremented on every call. A model
that holds the sampler tracks the counter as a weight (see `track`), so it is saved in
checkpoints and restored when a run resumes (`recall_models.train`'s checkpoint).
"""
from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf

from recall_models.config import SAMPLERS  # noqa: F401  (the names, without TensorFlow)
from w2v_tf import sampling as _sampling


class ItemSampler:
    """Base class. Subclasses set `num_sampled` and implement `_sample(labels, seed)`.

    Args:
      num_items: I, including the padding id 0.
      seed: int, the first half of every stateless seed `(seed, step)`.
    """
    name = "sampler"

    def __init__(self, num_items: int, seed: int = 0):
        num_items = int(num_items)
        if num_items < 2:
            raise ValueError(f"`num_items` must be >= 2 (id 0 is padding), got {num_items}.")
        self.num_items = num_items
        self.seed = int(seed)
        self.step = keras.Variable(0, dtype="int64", trainable=False, name=f"{self.name}_step")

    def _next_seed(self):
        """The stateless seed int64 [2] of this call, then step += 1."""
        seed = tf.stack([tf.constant(self.seed, tf.int64),
                         tf.convert_to_tensor(self.step.value)])
        self.step.assign_add(1)
        return seed

    def __call__(self, labels):
        """labels int [B, 1] (or [B]) -> (sampled int64 [S], true_q f32 [B, 1], sampled_q f32 [S])."""
        labels = tf.cast(tf.convert_to_tensor(labels), tf.int64)
        if labels.shape.rank == 1:
            labels = labels[:, None]
        return self._sample(labels, self._next_seed())

    def _sample(self, labels, seed):
        raise NotImplementedError

    def probabilities(self) -> np.ndarray:
        """float64 [I]: the per-draw proposal P(i) (P(0) = 0), for tests and plots."""
        raise NotImplementedError

    # Keras serialisation: a model holding the sampler saves and reloads it (`get_config`);
    # the draw counter `step` is a variable the model saves with its weights.
    def get_config(self) -> dict:
        """The constructor arguments, JSON-ready (`from_config` rebuilds the sampler)."""
        return dict(self._config)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _ShiftedSampler(ItemSampler):
    """A w2v_tf.sampling sampler over k = 0..I-2, returned as item ids i = k + 1."""

    def __init__(self, base, num_items, num_sampled, unique, seed):
        super().__init__(num_items, seed)
        num_sampled = _check_num_sampled(num_sampled, num_items - 1, unique)
        self.base, self.num_sampled, self.unique = base, num_sampled, bool(unique)

    def _sample(self, labels, seed):
        # Labels i >= 1 are the base sampler's classes k = i - 1; expected counts carry over.
        sampled, true_q, sampled_q = self.base(labels - 1, 1, self.num_sampled, self.unique,
                                               seed=seed)
        return sampled + 1, true_q, sampled_q

    def probabilities(self):
        p = self.base.probabilities().numpy().astype(np.float64)          # [I-1]
        return np.concatenate([[0.0], p])


class LogUniformSampler(_ShiftedSampler):
    """Log-uniform over frequency-sorted ids 1..I-1: P(i) = log((i+1)/i) / log(I)."""
    name = "log_uniform"

    def __init__(self, num_items, num_sampled, unique=True, seed=0):
        base = _sampling.LogUniformSampler(int(num_items) - 1, seed=seed)
        super().__init__(base, num_items, num_sampled, unique, seed)
        self._config = dict(num_items=self.num_items, num_sampled=self.num_sampled,
                            unique=self.unique, seed=self.seed)


class UniformSampler(_ShiftedSampler):
    """Uniform over ids 1..I-1: P(i) = 1 / (I-1)."""
    name = "uniform"

    def __init__(self, num_items, num_sampled, unique=True, seed=0):
        base = _sampling.UniformSampler(int(num_items) - 1, seed=seed)
        super().__init__(base, num_items, num_sampled, unique, seed)
        self._config = dict(num_items=self.num_items, num_sampled=self.num_sampled,
                            unique=self.unique, seed=self.seed)


class UnigramSampler(_ShiftedSampler):
    """Unigram^distortion of training counts: P(i) = c_i^0.75 / sum_j c_j^0.75, i >= 1.

    Items with no training occurrence have P = 0: they are never drawn, and must not be
    labels (training labels always have c >= 1).
    """
    name = "unigram"

    def __init__(self, item_freq, num_sampled, distortion=0.75, unique=True, seed=0):
        freq = _check_freq(item_freq)
        base = _sampling.FixedUnigramSampler(len(freq) - 1, unigrams=freq[1:].astype(np.float64),
                                             distortion=distortion, seed=seed)
        positive = int(np.count_nonzero(freq[1:]))
        if unique and int(num_sampled) > positive:
            raise ValueError(f"`num_sampled`={num_sampled} is larger than the {positive} items "
                             "with a training count; expected num_sampled <= that for unique "
                             "unigram sampling.")
        super().__init__(base, len(freq), num_sampled, unique, seed)
        self._config = dict(item_freq=freq.tolist(), num_sampled=self.num_sampled,
                            distortion=float(distortion), unique=self.unique, seed=self.seed)


class InBatchSampler(ItemSampler):
    """The batch's own labels as negatives, Q(i) = B c_i / sum_j c_j (Yi et al. 2019).

    Args:
      item_freq: int [I] training counts (`Dataset.item_freq`), item_freq[0] ignored.
      batch_size: B; `num_sampled` = B (batches must be full: drop the remainder).
    """
    name = "in_batch"

    def __init__(self, item_freq, batch_size, seed=0):
        freq = _check_freq(item_freq)
        super().__init__(len(freq), seed)
        self.num_sampled = _check_num_sampled(batch_size, None, False, "batch_size")
        p = freq.astype(np.float64)
        p[0] = 0.0
        self.p = p / p.sum()
        self._p = tf.constant(self.p, tf.float32)                            # [I]
        self._config = dict(item_freq=freq.tolist(), batch_size=self.num_sampled, seed=self.seed)

    def _batch_counts(self, labels):
        """(in-batch ids [B], expected count fn) with Q(i) = B p(i)."""
        batch = tf.cast(tf.shape(labels)[0], tf.float32)
        return labels[:, 0], (lambda ids: batch * tf.gather(self._p, ids))

    def _sample(self, labels, seed):
        del seed                                       # nothing random: the batch is the sample
        sampled, q = self._batch_counts(labels)
        return sampled, q(labels), q(sampled)

    def probabilities(self):
        return self.p.copy()


class MixedSampler(InBatchSampler):
    """In-batch labels plus M uniform draws with replacement (Yang et al. 2020).

    Q(i) = B c_i / sum_j c_j + M / (I-1)  (module docstring); `num_sampled` = B + M.
    """
    name = "mixed"

    def __init__(self, item_freq, batch_size, num_uniform, seed=0):
        super().__init__(item_freq, batch_size, seed)
        self.num_uniform = _check_num_sampled(num_uniform, None, False, "num_uniform")
        self.num_sampled = self.num_sampled + self.num_uniform
        self._config["num_uniform"] = self.num_uniform

    def _sample(self, labels, seed):
        in_batch, q_batch = self._batch_counts(labels)
        m, n = self.num_uniform, self.num_items - 1
        uniform = tf.random.stateless_uniform([m], seed, minval=1, maxval=self.num_items,
                                              dtype=tf.int64, alg="philox")    # [M] in 1..I-1
        sampled = tf.concat([in_batch, uniform], axis=0)                     # [B + M]

        def q(ids):                                    # B P_b(i) + M P_u(i)
            return q_batch(ids) + tf.cast(m / n, tf.float32)
        return sampled, q(labels), q(sampled)

    def probabilities(self):
        """Per-draw mixture (B P_b + M P_u) / (B + M) for a batch of the configured size."""
        b, m = self.num_sampled - self.num_uniform, self.num_uniform
        u = np.full(self.num_items, 1.0 / (self.num_items - 1))
        u[0] = 0.0
        return (b * self.p + m * u) / (b + m)


for _cls in (LogUniformSampler, UniformSampler, UnigramSampler, InBatchSampler, MixedSampler):
    keras.saving.register_keras_serializable(package="recall_models")(_cls)
del _cls


def make_sampler(name: str, item_freq, num_sampled: int, batch_size: int, seed: int = 0,
                 unique: bool = True):
    """The sampler called `name` (one of `SAMPLERS`); None for "full" (no sampling).

    `num_sampled` is S for log_uniform / unigram / uniform and the number M of uniform draws
    for mixed; in_batch uses the batch (S = batch_size) and ignores it.
    """
    if name not in SAMPLERS:
        raise ValueError(f"`sampler`={name!r} is unknown; expected one of {', '.join(SAMPLERS)}.")
    freq = _check_freq(item_freq)
    if name == "full":
        return None
    if name == "in_batch":
        return InBatchSampler(freq, batch_size, seed=seed)
    if name == "mixed":
        _check_num_sampled(num_sampled, len(freq) - 1, False)
        return MixedSampler(freq, batch_size, num_sampled, seed=seed)
    if name == "unigram":
        return UnigramSampler(freq, num_sampled, unique=unique, seed=seed)
    if name == "log_uniform" and (np.diff(freq[1:]) > 0).any():
        warnings.warn("the log_uniform sampler assumes item ids sorted by decreasing frequency "
                      "(id 1 the most frequent), but `item_freq` rises somewhere along ids "
                      "1..I-1: renumber the items by frequency (load_dataset does) or use "
                      "'unigram'.", UserWarning, stacklevel=2)
    cls = LogUniformSampler if name == "log_uniform" else UniformSampler
    return cls(len(freq), num_sampled, unique=unique, seed=seed)


def _check_freq(item_freq) -> np.ndarray:
    freq = np.asarray(item_freq)
    if freq.ndim != 1 or freq.size < 2 or not np.issubdtype(freq.dtype, np.number):
        raise ValueError(f"`item_freq` must be a 1-D array of counts [num_items >= 2], got "
                         f"shape {freq.shape} and dtype {freq.dtype}.")
    if (freq < 0).any() or not np.isfinite(freq).all() or freq[1:].sum() <= 0:
        raise ValueError("`item_freq` must be finite counts >= 0 with at least one positive "
                         "count among ids 1..I-1.")
    return freq


def _check_num_sampled(value, catalogue, unique, arg="num_sampled") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{arg}` must be a positive int, got {value!r}.")
    if catalogue is not None and value > catalogue:
        raise ValueError(f"`{arg}`={value} is larger than the catalogue of {catalogue} items; "
                         f"expected {arg} <= {catalogue}.")
    return int(value)


def check_loss_and_sampler(loss: str, sampler, num_sampled: int | None = None) -> None:
    """ValueError unless `loss` is a known model loss with the sampler it needs, and the
    model's `num_sampled` is the sampler's (the sampler decides how many it draws)."""
    if loss not in ("sampled_softmax", "softmax"):
        raise ValueError(f"`loss`={loss!r}, expected 'sampled_softmax' or 'softmax'.")
    if loss == "sampled_softmax" and sampler is None:
        raise ValueError("`sampler` is None with loss='sampled_softmax'; pass a sampler "
                         "from recall_models.models.samplers or use loss='softmax'.")
    drawn = getattr(sampler, "num_sampled", None)
    if loss == "sampled_softmax" and None not in (drawn, num_sampled) and drawn != num_sampled:
        raise ValueError(f"`num_sampled`={num_sampled} but the sampler draws {drawn} per "
                         f"batch; expected num_sampled={drawn} (or a sampler of "
                         f"{num_sampled}).")
