"""Sampled logits: our own `_compute_sampled_logits`, step for step as TensorFlow 2.21 does it.

Every candidate-sampling loss (NCE, negative sampling, sampled logistic, sampled softmax)
scores the true classes of each example and a shared set of S sampled classes:

    o_y(x) = x . w_y + b_y                              (a logit, for any class y)
    true logits    o_t(x_b) - log Q(t_b)                  [B, num_true]
    sampled logits o_s(x_b) - log Q(s)                    [B, S]

where Q(y) is the *expected count* of y in the sample (the sampler reports it). Subtracting
log Q is the importance-sampling correction of Jean et al. (2015, eq. 11) and of NCE
(Gutmann & Hyvarinen 2010): sampled softmax and NCE need it; word2vec's negative sampling
leaves it out (Mikolov et al. 2013), which is what makes it learn log(P/Q) instead of log P.

The derivation is notebook 5 (`notebooks/05_compute_sampled_logits.ipynb`).

Where we differ from TensorFlow, on purpose (tests show both behaviours):

* Accidental hits are masked with `where(hit, lowest, logit)` *after* the log-Q step, where
  `lowest` is -FLT_MAX (-3.4028235e38) or, for float16/bfloat16, the most negative finite
  value of the dtype. In float32/float64 this is the value TensorFlow's sum ends on, so results
  agree; in float16/bfloat16 TensorFlow's -FLT_MAX becomes -inf and the loss NaN, ours stays
  finite.
* A sampled id that appears twice (samplers with `unique=False`) is masked at every position;
  `tf.nn.compute_accidental_hits` keeps only the last one.
* Expected counts are cast to the logits' dtype (log taken in float64 for float64 inputs), so
  float64 works with the default sampler; TensorFlow raises (tensorflow/tensorflow#24547).
* A tuple of shards is a list of shards (TensorFlow stacks it and fails), and "div" shards of
  any sizes mean their concatenation (see `w2v_tf.shards`).
* `biases=None` means no biases (TensorFlow requires a tensor).
* Bad arguments raise `ValueError` naming the argument before any kernel runs.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
import tensorflow as tf

from w2v_tf import shards as _shards

FLT_MAX = float(np.finfo(np.float32).max)   # TensorFlow's accidental-hit weight is -FLT_MAX


class SampledValues(NamedTuple):
    """What a candidate sampler returns (same order as TensorFlow's samplers)."""
    sampled_candidates: tf.Tensor      # [S] int64
    true_expected_count: tf.Tensor     # [B, num_true] float32 (a [B, 1] broadcasts)
    sampled_expected_count: tf.Tensor  # [S] float32


def default_sampler(labels, num_true, num_sampled, num_classes, seed=None) -> SampledValues:
    """TensorFlow's default: log-uniform (Zipfian) over `[0, num_classes)`, unique draws.

    We call TensorFlow's own kernel here on purpose, so that `sampled_values=None` gives
    exactly the ids TensorFlow draws (see the seed replay in the tests). It assumes ids are
    sorted by decreasing frequency. Our compilable, deterministic samplers are in
    `w2v_tf.sampling`; pass their result as `sampled_values`.
    """
    if num_sampled > num_classes:
        raise ValueError(f"`num_sampled`={num_sampled} is larger than num_classes={num_classes}; "
                         "the default sampler draws unique classes, so it needs "
                         "num_sampled <= num_classes.")
    return SampledValues(*tf.random.log_uniform_candidate_sampler(
        true_classes=labels, num_true=num_true, num_sampled=num_sampled, unique=True,
        range_max=num_classes, seed=seed))


def compute_sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes,
                           num_true=1, sampled_values=None, subtract_log_q=True,
                           remove_accidental_hits=False, partition_strategy="mod",
                           name=None, seed=None):
    """Logits and labels of the true and sampled classes, as TensorFlow's helper computes them.

    Args:
      weights: class embeddings `[num_classes, dim]` (tensor, `tf.Variable`, `keras.Variable`)
        or a list/tuple of shards whose rows add up to `num_classes`.
      biases: class biases `[num_classes]` (or shards, like `weights`), or None for none.
      labels: int `[batch_size, num_true]`, the target classes.
      inputs: `[batch_size, dim]` float, the input representations x.
      num_sampled: int S, the number of sampled classes per batch (shared by all rows).
      num_classes: int, the number of possible classes.
      num_true: int, the number of target classes per example.
      sampled_values: a `(sampled [S], true_expected_count [B, num_true],
        sampled_expected_count [S])` triple from a candidate sampler, or None for the
        log-uniform default sampler.
      subtract_log_q: subtract log Q (the expected counts) from the logits; False for
        word2vec's negative sampling.
      remove_accidental_hits: mask sampled classes that equal a true class of the row.
      partition_strategy: "mod" or "div", how ids map to shards when `weights` is sharded.
      name: name scope.
      seed: op seed of the default sampler.

    Returns:
      `(logits, labels)`, both `[batch_size, num_true + num_sampled]`: the true columns first.
      Labels are `1/num_true` for the true columns and 0 for the sampled ones.

    Raises:
      ValueError: for labels of the wrong rank/width or out of range, mismatched dims or
        shard sizes, `num_sampled > num_classes` with the default unique sampler, malformed
        `sampled_values`, or a zero expected count with `subtract_log_q`.
    """
    w_shards = _shards.as_shard_list(weights, "weights")
    b_shards = None if biases is None else _shards.as_shard_list(biases, "biases")
    with tf.name_scope(name or "compute_sampled_logits"):
        inputs = tf.convert_to_tensor(inputs)
        labels = _check_labels(labels, num_true, num_classes)
        _check_table(w_shards, b_shards, inputs, num_classes, partition_strategy)

        # Step 1. Negatives: S classes shared by the whole batch, with their expected counts.
        if sampled_values is None:
            sampled_values = default_sampler(labels, num_true, num_sampled, num_classes, seed)
        sampled, true_q, sampled_q = (tf.stop_gradient(v) for v in sampled_values)
        sampled = tf.cast(sampled, tf.int64)                                    # [S]
        _check_sampled_values(sampled, true_q, sampled_q, num_sampled, num_true, labels,
                              subtract_log_q)

        # Step 2. One lookup for the true and the sampled rows: ids = [labels_flat ; sampled].
        labels_flat = tf.reshape(labels, [-1])                                  # [B*T]
        n_true = tf.shape(labels_flat)[0]
        all_ids = tf.concat([labels_flat, sampled], axis=0)                     # [B*T + S]
        all_w = tf.cast(_shards.lookup(w_shards, all_ids, partition_strategy), inputs.dtype)
        true_w, sampled_w = all_w[:n_true], all_w[n_true:]                      # [B*T, D], [S, D]

        # Step 3. Sampled logits o_s(x) = x . w_s for every row and every sample.
        sampled_logits = tf.matmul(inputs, sampled_w, transpose_b=True)         # [B, S]

        # Step 4. True logits o_t(x) = x . w_t, row by row.
        dim = tf.shape(true_w)[1]
        true_w = tf.reshape(true_w, [-1, num_true, dim])                        # [B, T, D]
        true_logits = tf.reduce_sum(inputs[:, None, :] * true_w, axis=-1)       # [B, T]

        # Step 5. Biases: o_y(x) += b_y.
        if b_shards is not None:
            all_b = tf.cast(_shards.lookup(b_shards, all_ids, partition_strategy), inputs.dtype)
            true_logits += tf.reshape(all_b[:n_true], [-1, num_true])
            sampled_logits += all_b[n_true:][None, :]

        # Step 6. log-Q correction: o - log Q (Jean et al. 2015, eq. 11; NCE's "- log kQ").
        if subtract_log_q:
            true_logits -= _log_expected_count(true_q, inputs.dtype)
            sampled_logits -= _log_expected_count(sampled_q, inputs.dtype)[None, :]

        # Step 7. Accidental hits: a sampled class equal to a true class of the row is not a
        # negative for that row; give it the lowest finite logit so softmax/sigmoid ignore it.
        if remove_accidental_hits:
            lowest = max(float(inputs.dtype.min), -FLT_MAX)
            sampled_logits = _mask_accidental_hits(sampled_logits, labels, sampled, lowest)

        # Step 8. Outputs: true columns first; labels 1/num_true so each row sums to 1.
        logits = tf.concat([true_logits, sampled_logits], axis=1)           # [B, T + S]
        out_labels = tf.concat([tf.ones_like(true_logits) / num_true,
                                tf.zeros_like(sampled_logits)], axis=1)     # [B, T + S]
        return logits, out_labels


def _mask_accidental_hits(sampled_logits, labels, sampled, lowest):
    """Sets o[b, s] = lowest wherever sampled[s] is one of row b's labels.

    Outside XLA the hits are found sparsely, in O((B*T + S) log S): sort the sampled ids once,
    binary-search every label in them; each label matches the run [lo, hi) of equal sampled
    ids (several positions when the sampler repeats ids), and only those (row, position)
    pairs are overwritten. Under XLA (static shapes) a dense [B, T, S] comparison is used;
    both give the same result.
    """
    lowest = tf.constant(lowest, sampled_logits.dtype)
    if _in_xla():
        hit = tf.reduce_any(labels[:, :, None] == sampled[None, None, :], axis=1)  # [B, S]
        return tf.where(hit, lowest, sampled_logits)
    num_true = tf.shape(labels)[1]
    labels_flat = tf.reshape(labels, [-1])                                      # [B*T]
    order = tf.argsort(sampled, stable=True)                                    # [S]
    sorted_ids = tf.gather(sampled, order)
    lo = tf.searchsorted(sorted_ids, labels_flat, side="left", out_type=tf.int64)
    hi = tf.searchsorted(sorted_ids, labels_flat, side="right", out_type=tf.int64)
    # positions (in sorted order) of every match, and the example row each belongs to
    runs = tf.ragged.range(lo, hi)                                              # [B*T, (hits)]
    cols = tf.gather(order, runs.flat_values)                                   # [H]
    rows = tf.repeat(tf.range(tf.size(labels_flat, out_type=tf.int64)) //
                     tf.cast(num_true, tf.int64), runs.row_lengths())           # [H]
    hits = tf.stack([rows, tf.cast(cols, tf.int64)], axis=1)                   # [H, 2]
    return tf.tensor_scatter_nd_update(sampled_logits, hits,
                                       tf.fill(tf.shape(rows), lowest))


def _log_expected_count(q, dtype):
    """log Q in the logits' dtype: float64 stays float64; others take the log in float32."""
    if dtype == tf.float64:
        return tf.math.log(tf.cast(q, tf.float64))
    return tf.cast(tf.math.log(tf.cast(q, tf.float32)), dtype)


# ----------------------------------------------------------------------------- checks
def _check_labels(labels, num_true, num_classes):
    if isinstance(labels, (list, tuple, np.ndarray)):
        labels = np.asarray(labels)
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"`labels` must hold integer class ids, got dtype {labels.dtype}.")
    labels = tf.convert_to_tensor(labels)
    if not labels.dtype.is_integer:
        raise ValueError(f"`labels` must be an integer tensor, got dtype {labels.dtype.name}.")
    if labels.shape.rank is not None and labels.shape.rank != 2:
        raise ValueError(f"`labels` must have rank 2 [batch_size, num_true], got shape "
                         f"{labels.shape}.")
    width = labels.shape[-1] if labels.shape.rank == 2 else None
    if width is not None and width != num_true:
        raise ValueError(f"`labels` has {width} columns but num_true={num_true}; expected shape "
                         f"[batch_size, {num_true}].")
    labels = tf.cast(labels, tf.int64)
    if tf.executing_eagerly():
        values = labels.numpy()
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            bad = values[(values < 0) | (values >= num_classes)][0]
            raise ValueError(f"`labels` contains {bad}, outside [0, num_classes={num_classes}).")
    elif not _in_xla():
        with tf.control_dependencies([
                tf.debugging.assert_non_negative(labels, message="`labels` must be >= 0"),
                tf.debugging.assert_less(labels, tf.constant(num_classes, tf.int64),
                                         message=f"`labels` must be < num_classes={num_classes}")]):
            labels = tf.identity(labels)
    return labels


def _check_table(w_shards, b_shards, inputs, num_classes, strategy):
    sizes = _shards.shard_sizes(w_shards)
    _shards.check_layout(sizes, num_classes, strategy, "weights")
    if b_shards is not None:
        b_sizes = _shards.shard_sizes(b_shards)
        _shards.check_layout(b_sizes, num_classes, strategy, "biases")
        if len(b_shards) != len(w_shards) and len(w_shards) > 1 and len(b_shards) > 1:
            raise ValueError(f"`biases` has {len(b_shards)} shards but `weights` has "
                             f"{len(w_shards)}; expected the same sharding or one tensor.")
    w_dim = w_shards[0].shape[-1]
    x_dim = inputs.shape[-1]
    if inputs.shape.rank is not None and inputs.shape.rank != 2:
        raise ValueError(f"`inputs` must have rank 2 [batch_size, dim], got shape {inputs.shape}.")
    if w_dim is not None and x_dim is not None and w_dim != x_dim:
        raise ValueError(f"`inputs` has dim {x_dim} but `weights` rows have dim {w_dim}; "
                         "expected weights of shape [num_classes, dim] (the transpose of a "
                         "Dense kernel) with the same dim as inputs.")
    if not inputs.dtype.is_floating:
        raise ValueError(f"`inputs` must be floating point, got {inputs.dtype.name}.")


def _check_sampled_values(sampled, true_q, sampled_q, num_sampled, num_true, labels,
                          subtract_log_q):
    def static(t):
        return t.shape.as_list() if t.shape.rank is not None else None
    s_shape, t_shape, q_shape = static(sampled), static(true_q), static(sampled_q)
    if s_shape is not None and s_shape != [num_sampled] and s_shape != [None]:
        raise ValueError(f"`sampled_values[0]` (sampled candidates) has shape {s_shape}; "
                         f"expected [num_sampled] = [{num_sampled}].")
    if q_shape is not None and q_shape != [num_sampled] and q_shape != [None]:
        raise ValueError(f"`sampled_values[2]` (sampled expected count) has shape {q_shape}; "
                         f"expected [num_sampled] = [{num_sampled}].")
    if t_shape is not None:
        ok = len(t_shape) == 2 and t_shape[1] in (1, num_true, None)
        batch = labels.shape[0]
        if ok and batch is not None and t_shape[0] not in (batch, None):
            ok = False
        if not ok:
            raise ValueError(f"`sampled_values[1]` (true expected count) has shape {t_shape}; "
                             f"expected [batch_size, num_true] = [{batch}, {num_true}] "
                             "(or [batch_size, 1]).")
    if subtract_log_q and tf.executing_eagerly():
        q_min = min(float(tf.reduce_min(true_q)), float(tf.reduce_min(sampled_q)))
        if q_min <= 0:
            raise ValueError(f"`sampled_values` has an expected count of {q_min}; expected "
                             "counts must be > 0 (log Q would be -inf and the loss NaN).")


def _in_xla() -> bool:
    """True while tracing inside `tf.function(jit_compile=True)`: no asserts there."""
    try:
        from tensorflow.python.ops import control_flow_util
        from tensorflow.python.framework import ops
        return control_flow_util.GraphOrParentsInXlaContext(ops.get_default_graph())
    except Exception:  # pragma: no cover - private API moved
        return False
