"""Sampled logits: our own `_compute_sampled_logits`, step for step as TensorFlow 2.21 does it.

Every candidate-sampling loss (NCE, negative sampling, sampled logistic, sampled softmax)
scores the true classes of each example and a shared set of S sampled classes:

    o_y(x) = x . w_y + b_y                              (a logit, for any class y)
    true logits    o_t(x_b) - log Q(t_b)                  [B, num_true]
    sampled logits o_s(x_b) - log Q(s)                    [B, S]

where Q(y) is the *expected count* of y in the sample (the sampler reports it). Subtracting
log Q is the importance-sampling correction of Jean et al. (2015, eq. 11) and of NCE
(Gutmann & Hyvarinen 2010): sampled softmax and NCE need it; word2vec's negative sampling
leaves it out (Mikolov et al. 2013), which is why negative sampling learns log P/kQ with hits
kept and log P/kQ(1-P) with the target skipped, instead of NCE's log P (k = the number of
samples; measured by the table experiment, `w2v_tf.study.claims`).

The derivation is notebook 5 (`notebooks/05_compute_sampled_logits.ipynb`).

The order of steps is TensorFlow's: lookup, matmul, biases, accidental hits, log Q. In
float32/float64 a hit is masked by *adding* -FLT_MAX (-3.4028235e38) to its logit before log Q
is subtracted, so values and gradients are TensorFlow's for any upstream gradient (a masked
logit passes its upstream gradient back to the inputs, weights and biases, as in TF).

Where we differ from TensorFlow, on purpose (tests show both behaviours):

* float16/bfloat16: -FLT_MAX is -inf in these dtypes, so TensorFlow's masked logits are -inf
  and its losses NaN. We overwrite the masked logits, after the log-Q step, with the most
  negative finite value of the dtype (`where(hit, lowest, logit)`): values stay finite and the
  gradient through a masked logit is 0.
* A sampled id that appears twice (samplers with `unique=False`) is masked at every position;
  `tf.nn.compute_accidental_hits` keeps only the last one.
* Expected counts are cast to the logits' dtype (log taken in float64 for float64 inputs), so
  float64 works with the default sampler; TensorFlow raises (tensorflow/tensorflow#24547).
* A tuple of shards is a list of shards (TensorFlow stacks it and fails), and "div" shards of
  any sizes mean their concatenation (see `w2v_tf.shards`).
* `biases=None` means no biases (TensorFlow requires a tensor).
* Weights and biases of another float dtype are cast to the inputs' dtype (mixed precision:
  float32 tables with float16 activations); TensorFlow's matmul refuses the mix.
* Bad arguments raise `ValueError` naming the argument before any kernel runs; in a
  `tf.function` invalid label and sampled ids fail an assertion. Under XLA, which can do
  neither, an invalid id makes its logits NaN (TensorFlow's gather clamps it, silently).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
import tensorflow as tf

from w2v_tf import sampling as _sampling
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
    if isinstance(num_sampled, bool) or int(num_sampled) != num_sampled or num_sampled < 1:
        raise ValueError(f"`num_sampled` must be an integer >= 1 (the number of classes the "
                         f"default sampler draws), got {num_sampled!r}.")
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
      labels: int `[batch_size, num_true]`, the target classes (integer-valued floats, e.g.
        bfloat16, are cast to int64 as TensorFlow casts them; a non-integer value raises).
      inputs: `[batch_size, dim]` float, the input representations x.
      num_sampled: int S, the number of classes the default sampler draws per batch (shared
        by all rows). With `sampled_values`, S is the number of ids given, as in TensorFlow.
      num_classes: int, the number of possible classes.
      num_true: int, the number of target classes per example.
      sampled_values: a `(sampled [S], true_expected_count [B, num_true],
        sampled_expected_count [S])` triple from a candidate sampler, or None for the
        log-uniform default sampler. The true expected counts are read only when
        `subtract_log_q` (TF never reads them otherwise, whatever their shape).
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
      ValueError: for labels of the wrong dtype, rank/width or out of range, `num_true` or
        `num_classes` not a Python int >= 1, a table whose rows do not add up to
        `num_classes`, mismatched dims, batch sizes or shard sizes, `num_sampled` < 1 or >
        `num_classes` with the default unique sampler, malformed `sampled_values` (not a
        triple, ids not integral or out of range, expected counts not finite and > 0 with
        `subtract_log_q`).

    Invalid ids by mode: eagerly the checks above raise; inside a `tf.function` the labels
    and sampled ids get one assertion each (it fails at run time). XLA
    (`jit_compile=True`) can neither raise nor assert, and its gather would clamp a bad id
    silently (TensorFlow's own `tf.nn` losses are then silently wrong): there a row whose
    labels hold an id outside `[0, num_classes)` (or a non-integer float) gets NaN logits,
    and an invalid sampled id a NaN column in every row, so the loss is NaN and training
    shows it. Valid inputs give bit-identical results with this guard.
    """
    num_true, num_classes = check_counts(num_true, num_classes)
    w_shards = _shards.as_shard_list(weights, "weights")
    b_shards = None if biases is None else _shards.as_shard_list(biases, "biases")
    with tf.name_scope(name or "compute_sampled_logits"):
        inputs = tf.convert_to_tensor(dense(inputs, "inputs", "[batch_size, dim]"))
        labels = _check_labels(labels, num_true, num_classes)
        _check_table(w_shards, b_shards, inputs, num_classes, partition_strategy)
        _check_batch(labels, inputs)

        # Step 1. Negatives: S classes shared by the whole batch, with their expected counts.
        sampled_values_unique = sampled_values is None     # the default sampler's are unique
        if sampled_values is None:
            sampled_values = default_sampler(labels, num_true, num_sampled, num_classes, seed)
        sampled, true_q, sampled_q = (tf.stop_gradient(v) for v in _triple(sampled_values))
        sampled = _check_ids(sampled, num_classes, "sampled_values[0]")         # [S] int64
        _check_sampled_values(sampled, true_q, sampled_q, num_true, labels, subtract_log_q)

        # Step 2. One lookup for the true and the sampled rows: ids = [labels_flat ; sampled].
        labels_flat = tf.reshape(labels, [-1])                                  # [B*T]
        n_true = tf.shape(labels_flat)[0:1]                                     # [1]: B*T
        all_ids = tf.concat([labels_flat, sampled], axis=0)                     # [B*T + S]
        # (ids checked above: the lookup need not check them again)
        all_w = tf.cast(_shards.lookup(w_shards, all_ids, partition_strategy,
                                       check_ids=False), inputs.dtype)
        # tf.slice, not all_w[:n]: the gradient of a slice is one Pad, of a strided slice a
        # StridedSliceGrad several times slower (measured, see docs/losses-speed.md).
        true_w = tf.slice(all_w, [0, 0], tf.concat([n_true, [-1]], 0))         # [B*T, D]
        sampled_w = tf.slice(all_w, tf.concat([n_true, [0]], 0), [-1, -1])     # [S, D]

        # Step 3. Sampled logits o_s(x) = x . w_s for every row and every sample.
        sampled_logits = tf.matmul(inputs, sampled_w, transpose_b=True)         # [B, S]

        # Step 4. True logits o_t(x) = x . w_t, row by row: the products x_d w_td summed by a
        # matmul with a column of ones, as TF's `_sum_rows` does (same rounding, same kernels).
        dim = tf.shape(true_w)[1]
        true_w = tf.reshape(true_w, [-1, num_true, dim])                        # [B, T, D]
        dots = tf.reshape(tf.expand_dims(inputs, 1) * true_w, [-1, dim])        # [B*T, D]
        ones = tf.ones(tf.stack([dim, 1]), dots.dtype)                          # [D, 1]
        true_logits = tf.reshape(tf.matmul(dots, ones), [-1, num_true])         # [B, T]

        # Step 5. Biases: o_y(x) += b_y.
        if b_shards is not None:
            all_b = tf.cast(_shards.lookup(b_shards, all_ids, partition_strategy,
                                           check_ids=False), inputs.dtype)
            true_logits += tf.reshape(tf.slice(all_b, [0], n_true), [-1, num_true])
            sampled_logits += tf.slice(all_b, n_true, [-1])                     # [S] -> [B, S]

        # Step 6. Accidental hits (TensorFlow's order: before log Q). A sampled class equal to
        # a true class of the row is not a negative for that row. float32/float64: add
        # -FLT_MAX there, as TF does, so o + (-FLT_MAX) rounds to -FLT_MAX and the gradient
        # d/do is 1 at every position (the masked logit still passes an upstream gradient
        # back to x, w and b, exactly like TF's). float16/bfloat16: see Step 7.
        half = inputs.dtype in (tf.float16, tf.bfloat16)
        if remove_accidental_hits:
            if half:
                hit = _accidental_hits(labels, sampled)                         # [B, S] bool
            else:
                sampled_logits += _hit_weights(labels, sampled, num_true, inputs.dtype,
                                               unique=sampled_values_unique)    # [B, S]

        # Step 7. log-Q correction: o - log Q (Jean et al. 2015, eq. 11; NCE's "- log kQ").
        if subtract_log_q:
            true_logits -= _log_expected_count(true_q, inputs.dtype)
            sampled_logits -= _log_expected_count(sampled_q, inputs.dtype)      # [S] -> [B, S]
        if remove_accidental_hits and half:
            # -FLT_MAX is -inf in float16/bfloat16 (TF's loss is then NaN): we overwrite the
            # masked logits, after log Q, with the dtype's lowest finite value instead.
            lowest = tf.constant(float(inputs.dtype.min), inputs.dtype)
            sampled_logits = tf.where(hit, lowest, sampled_logits)

        # Step 8. Outputs: true columns first; labels 1/num_true so each row sums to 1.
        logits = tf.concat([true_logits, sampled_logits], axis=1)           # [B, T + S]
        if _in_xla():   # no assertions under XLA: a bad id makes its logits NaN instead
            logits = nan_where_invalid(logits, labels, num_classes, sampled)
        out_labels = tf.concat([tf.ones_like(true_logits) / num_true,
                                tf.zeros_like(sampled_logits)], axis=1)     # [B, T + S]
        return logits, out_labels


def _accidental_hits(labels, sampled):
    """hit[b, s] = sampled[s] is one of row b's labels: `[B, S]` bool.

    A dense comparison, [B, T, S] (O(B T S) compares, cheap next to the [B, D] x [D, S]
    matmul, and XLA-friendly). Every position of a repeated sampled id is a hit.
    """
    if labels.shape[1] == 1:
        return tf.equal(labels, sampled[None, :])                                 # [B, S]
    return tf.reduce_any(tf.equal(labels[:, :, None], sampled[None, None, :]), axis=1)


def _hit_weights(labels, sampled, num_true, dtype, unique):
    """The additive mask `[B, S]`: -FLT_MAX where sampled[s] is a label of row b, else 0.

    Outside XLA, TensorFlow's own kernels, as `_compute_sampled_logits` uses them:
    `compute_accidental_hits` (a hash lookup of every label, O(B T + S)) and `sparse_to_dense`.
    That kernel reports a repeated sampled id only at its last position; we mask every
    position, so when the ids may repeat (given `sampled_values`) a `tf.unique` test sends
    samples with repeats to the dense comparison instead. Under XLA (no kernel for the hit
    search) always the dense comparison, `where(hit, -FLT_MAX, 0)`.
    """
    def dense():
        hit = _accidental_hits(labels, sampled)
        return tf.where(hit, tf.constant(-FLT_MAX, dtype), tf.constant(0.0, dtype))

    if _in_xla():
        return dense()

    def sparse():
        rows, ids, weights = tf.nn.compute_accidental_hits(labels, sampled, num_true=num_true)
        indices = tf.stack([rows, tf.cast(ids, tf.int32)], axis=1)             # [K, 2]
        shape = tf.concat([tf.shape(labels)[:1], tf.shape(sampled)], axis=0)   # [B, S]
        return tf.raw_ops.SparseToDense(
            sparse_indices=indices, output_shape=shape, sparse_values=tf.cast(weights, dtype),
            default_value=tf.constant(0, dtype), validate_indices=False)

    if unique:
        return sparse()
    repeats = tf.size(tf.unique(sampled).y) < tf.size(sampled)
    return tf.cond(repeats, dense, sparse)


def _log_expected_count(q, dtype):
    """log Q in the logits' dtype: float64 stays float64; others take the log in float32."""
    if dtype == tf.float64:
        return tf.math.log(tf.cast(q, tf.float64))
    return tf.cast(tf.math.log(tf.cast(q, tf.float32)), dtype)


# ----------------------------------------------------------------------------- checks
def check_counts(num_true, num_classes):
    """`num_true` and `num_classes` as Python ints >= 1 (bools refused), else a ValueError.

    Unchecked, num_true=0 gave NaN or zero losses, 1.0 a raw TypeError and True was taken
    for 1; num_classes=None or "20" failed inside TensorFlow.
    """
    return _positive_int("num_true", num_true), _positive_int("num_classes", num_classes)


def dense(x, arg, shape):
    """Refuses a `tf.RaggedTensor`/`tf.SparseTensor` by name (TF's message was "ValueError:
    TypeError: object of type 'RaggedTensor' has no len()"); returns `x` unchanged."""
    if isinstance(x, (tf.RaggedTensor, tf.SparseTensor)):
        raise ValueError(f"`{arg}` is a {type(x).__name__}; expected a dense tensor {shape} "
                         "(pad the rows, e.g. `.to_tensor()`, to a fixed width).")
    return x


def _positive_int(arg, value):
    try:
        return _sampling._check_positive_int(arg, value)
    except (TypeError, ValueError):   # the samplers' TypeError is a ValueError here
        raise ValueError(f"`{arg}` must be a Python int >= 1 (not a bool or float), got "
                         f"{value!r} ({type(value).__name__}).") from None


def _triple(sampled_values):
    """`sampled_values` must be a (sampled, true_expected_count, sampled_expected_count)."""
    try:
        size = len(sampled_values)
    except TypeError:
        size = None
    if size != 3:
        raise ValueError(f"`sampled_values` must be a triple (sampled_candidates [S], "
                         "true_expected_count [batch_size, num_true], sampled_expected_count "
                         f"[S]) as a candidate sampler returns, got {type(sampled_values).__name__}"
                         f"{'' if size is None else f' of length {size}'}.")
    return sampled_values


def _check_labels(labels, num_true, num_classes):
    """int64 labels `[B, num_true]`, checked; integer-valued floats are cast, as TF casts.

    TensorFlow casts labels of any dtype to int64 (so bfloat16 labels work there); we do the
    same for floating-point labels, but raise rather than truncate a non-integer value such as
    1.5 (eagerly a ValueError, in a graph an assertion). Other dtypes (bool, string, complex)
    raise a ValueError naming `labels`.
    """
    labels = dense(labels, "labels", f"[batch_size, num_true={num_true}]")
    if isinstance(labels, (list, tuple, np.ndarray)):
        labels = np.asarray(labels)
        if not (np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)
                or labels.dtype == tf.bfloat16.as_numpy_dtype):
            raise ValueError(f"`labels` must hold integer class ids, got dtype {labels.dtype}.")
    labels = tf.convert_to_tensor(labels)
    if not (labels.dtype.is_integer or labels.dtype.is_floating):
        raise ValueError(f"`labels` must be an integer tensor (or integer-valued floats, which "
                         f"are cast to int64 as TensorFlow does), got dtype {labels.dtype.name}.")
    if labels.shape.rank is not None and labels.shape.rank != 2:
        raise ValueError(f"`labels` must have rank 2 [batch_size, num_true], got shape "
                         f"{labels.shape}.")
    width = labels.shape[-1] if labels.shape.rank == 2 else None
    if width is not None and width != num_true:
        raise ValueError(f"`labels` has {width} columns but num_true={num_true}; expected shape "
                         f"[batch_size, {num_true}].")
    return _check_ids(labels, num_classes, "labels")


def _check_ids(ids, num_classes, arg):
    """Class ids as int64, each in `[0, num_classes)`; integer-valued floats are cast.

    Eagerly a ValueError naming `arg` and the value given; in a graph one assertion. XLA
    cannot raise: there a non-integer float id becomes -1, and `nan_where_invalid` turns the
    logits of every invalid id into NaN, so the loss shows it.
    """
    if not (ids.dtype.is_integer or ids.dtype.is_floating):
        raise ValueError(f"`{arg}` must hold integer class ids, got dtype {ids.dtype.name}.")
    as_float = ids if ids.dtype.is_floating else None
    int_ids = tf.cast(ids, tf.int64)
    if tf.executing_eagerly():
        _raise_if_bad_ids(ids.numpy(), num_classes, arg)
        return int_ids
    if not _in_xla():
        return _assert_labels_in_range(int_ids, num_classes, as_float, arg)
    if as_float is None:
        return int_ids
    return tf.where(tf.equal(tf.cast(int_ids, as_float.dtype), as_float), int_ids, -1)


def _raise_if_bad_ids(values, num_classes, arg):
    """Eager check of ids given as numbers: integral and in range (the value given named)."""
    if values.dtype.kind == "f" or values.dtype == tf.bfloat16.as_numpy_dtype:
        f = values.astype(np.float64)
        bad = f[(f != np.floor(f))]
        if bad.size:
            raise ValueError(f"`{arg}` has dtype {values.dtype} and the non-integer value "
                             f"{bad[0]}; expected class ids.")
        values = f
    out = values[(values < 0) | (values >= num_classes)]
    if out.size:
        raise ValueError(f"`{arg}` contains {out[0]}, outside [0, num_classes={num_classes}).")


def nan_where_invalid(logits, labels, num_classes, sampled=None):
    """Under XLA, where nothing can raise: NaN logits for every id out of `[0, num_classes)`.

    `logits [B, T + S]` (or `[B, C]` with `sampled=None`): a row whose labels `[B, T]` hold
    an invalid id becomes NaN, and so does the column of an invalid sampled id `[S]` (in
    every row, since the S ids are shared), so the loss of those examples is NaN and
    training shows it at once. Outside XLA the same ids raise (eagerly) or fail an
    assertion (graph). Other logits pass through a `where` untouched (bit-identical).
    """
    limit = tf.constant(num_classes, tf.uint64)   # negative ids wrap above 2**63
    bad = tf.reduce_any(tf.cast(labels, tf.uint64) >= limit, axis=1, keepdims=True)   # [B, 1]
    if sampled is not None:
        bad_sampled = tf.cast(sampled, tf.uint64) >= limit                             # [S]
        true_cols = tf.zeros(tf.shape(labels)[1:], tf.bool)                           # [T]
        bad = tf.logical_or(bad, tf.concat([true_cols, bad_sampled], 0)[None, :])
    return tf.where(bad, tf.constant(np.nan, logits.dtype), logits)


def _assert_labels_in_range(labels, num_classes, as_float, arg="labels"):
    """One cheap per-step assertion: 0 <= ids < num_classes (and integral if floats).

    As unsigned integers, negative ids wrap above 2**63, so one `<` comparison covers both
    bounds; `Assert` is added as a raw op (no `cond`), so the check costs a compare and a
    reduction on `[B, num_true]`, not a branch.
    """
    ok = tf.reduce_all(tf.cast(labels, tf.uint64) < tf.constant(num_classes, tf.uint64))
    message = f"`{arg}` must hold class ids in [0, num_classes={num_classes})"
    if as_float is not None:
        ok = tf.logical_and(ok, tf.reduce_all(tf.equal(tf.cast(labels, as_float.dtype),
                                                       as_float)))
        message += " (integer-valued, when given as floats)"
    check = tf.raw_ops.Assert(condition=ok, data=[tf.constant(message)], summarize=1)
    with tf.control_dependencies([check]):
        return tf.identity(labels)


def _check_table(w_shards, b_shards, inputs, num_classes, strategy):
    """Ranks, row counts and dims of the table, its biases and the inputs (ValueErrors)."""
    check_ranks(w_shards, b_shards)
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


def check_ranks(w_shards, b_shards):
    """Weights `[num_classes, dim]` and biases `[num_classes]` (or shards of those ranks).

    Biases of another rank ([V, 1], [V, D], a scalar) gave raw Slice/AddV2/Gather errors
    or an IndexError, in TensorFlow too.
    """
    _shards.check_rank(w_shards, 2, "weights", "[num_classes, dim], or a list of [rows, dim] "
                       "shards")
    if b_shards is not None:
        _shards.check_rank(b_shards, 1, "biases", "[num_classes], or a list of 1-D shards "
                           "matching the weights' shards")


def _check_batch(labels, inputs):
    """`labels [B, num_true]` and `inputs [B, dim]` have the same B (when both are known)."""
    b_labels, b_inputs = labels.shape[0], inputs.shape[0]
    if b_labels is not None and b_inputs is not None and b_labels != b_inputs:
        raise ValueError(f"`labels` has {b_labels} rows but `inputs` has {b_inputs}; expected "
                         "one row of labels per input row (the same batch_size).")


def _check_sampled_values(sampled, true_q, sampled_q, num_true, labels, subtract_log_q):
    """Static checks of `sampled_values` (and an eager check of the counts).

    As TensorFlow, the number of sampled ids S' is whatever `sampled_values[0]` holds (it may
    differ from `num_sampled`), and the true expected counts are not read when
    `subtract_log_q=False` (so their shape is then not checked). Stricter than TF, to stop a
    silent wrong answer: the sampled expected counts must have the shape of the ids (TF would
    broadcast a `[1]` over all columns), and with `subtract_log_q` the true expected counts
    must be `[batch_size, num_true]` or `[batch_size, 1]`, and all counts > 0 (eagerly).
    """
    def static(t):
        return t.shape.as_list() if t.shape.rank is not None else None
    s_shape, t_shape, q_shape = static(sampled), static(true_q), static(sampled_q)
    if s_shape is not None and len(s_shape) != 1:
        raise ValueError(f"`sampled_values[0]` (sampled candidates) has shape {s_shape}; "
                         "expected a vector [num_sampled].")
    if (q_shape is not None and s_shape is not None and
            (len(q_shape) != 1 or None not in (q_shape[0], s_shape[0]) and q_shape != s_shape)):
        raise ValueError(f"`sampled_values[2]` (sampled expected count) has shape {q_shape}; "
                         f"expected the shape of the sampled ids, {s_shape}.")
    if not subtract_log_q:
        return
    if t_shape is not None:
        ok = len(t_shape) == 2 and t_shape[1] in (1, num_true, None)
        batch = labels.shape[0]
        if ok and batch is not None and t_shape[0] not in (batch, None):
            ok = False
        if not ok:
            raise ValueError(f"`sampled_values[1]` (true expected count) has shape {t_shape}; "
                             f"expected [batch_size, num_true] = [{batch}, {num_true}] "
                             "(or [batch_size, 1]).")
    if tf.executing_eagerly():
        for arg, q in (("sampled_values[1]", true_q), ("sampled_values[2]", sampled_q)):
            q = np.asarray(q.numpy(), np.float64)
            bad = q[~(np.isfinite(q) & (q > 0))]     # NaN fails both tests
            if bad.size:
                raise ValueError(f"`{arg}` (expected counts) holds {bad[0]}; expected finite "
                                 "counts > 0 (log Q would not be finite and the loss NaN).")


def _in_xla() -> bool:
    """True while tracing inside `tf.function(jit_compile=True)`: no asserts there."""
    try:
        from tensorflow.python.ops import control_flow_util
        from tensorflow.python.framework import ops
        return control_flow_util.GraphOrParentsInXlaContext(ops.get_default_graph())
    except Exception:  # pragma: no cover - private API moved
        return False
