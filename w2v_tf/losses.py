"""The six candidate-sampling training losses, sharing one signature.

All take `(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1,
sampled_values=None, ...)` and return a per-example loss `[batch_size]` (no reduction, as
`tf.nn` does). With o = the logits of `compute_sampled_logits` (true columns first) and
y = its labels (1/num_true on the true columns, 0 elsewhere):

| loss                      | log Q subtracted | hits removed | per-row loss                  | F(x, y) learns      |
|---------------------------|------------------|--------------|-------------------------------|---------------------|
| `nce_loss`                | yes              | no (default) | sum_j sigmoid_xent(y_j, o_j)  | log P               |
| `negative_sampling_loss`  | no               | yes          | sum_j sigmoid_xent(y_j, o_j)  | log P/kQ(1-P)       |
| `sampled_logistic_loss`   | yes              | yes          | sum_j sigmoid_xent(y_j, o_j)  | log P/(1-P)         |
| `full_logistic_loss`      | -                | -            | sum over all classes          | log P/(1-P)         |
| `full_softmax_loss`       | -                | -            | softmax_xent over all classes | log P + K(x)        |
| `sampled_softmax_loss`    | yes              | yes          | softmax_xent(y, o)            | SSM opt + K         |

with P = P(y|x), Q the sampler's distribution, k = `num_sampled`, K(x) any function of x
alone, as measured by the table experiment (`python -m w2v_tf table --variants`, notebook 7;
the claims live in `w2v_tf.study.claims`). In words: NCE learns log P; negative sampling
learns log P/kQ with hits kept and log P/kQ(1-P) with the target skipped (word2vec's rule
and our default); sampled and full logistic learn the log-odds log P/(1-P); the full softmax
learns log P + K(x); sampled softmax with hits removed has its own biased optimum, not
log P + K(x); with hits kept it learns log P + K(x) up to O(1/k) ("SSM opt" is that
optimum, computed numerically by `w2v_tf.study.table.sampled_softmax_optimum`; it is near
log P + K(x) only when kQ(y) << 1, as for most classes of a large vocabulary).

Where we differ from `tf.nn`: `partition_strategy` is a keyword on the v2 signatures
(default "div", the layout the v2 functions fix), `nce_loss` takes a `seed`, and float16 /
bfloat16 losses are computed in float32 and cast back, so masked accidental hits cannot turn
into inf/NaN. Everything else follows `tf.nn.nce_loss` / `tf.nn.sampled_softmax_loss` (v2).
"""
from __future__ import annotations

import tensorflow as tf

from w2v_tf import shards as _shards
from w2v_tf.sampled_logits import (_check_batch, _check_labels, _check_table, _in_xla,
                                   _positive_int, check_ranks, compute_sampled_logits,
                                   dense, nan_where_invalid)


def _loss_dtype(logits):
    """Half-precision logits are scored in float32 (exp/log overflow there)."""
    return tf.float32 if logits.dtype in (tf.float16, tf.bfloat16) else logits.dtype


def _sigmoid_xent_sum(logits, labels, out_dtype):
    """sum_j [max(o,0) - o*y + log(1 + exp(-|o|))] per row: binary cross-entropy of each column."""
    dt = _loss_dtype(logits)
    per_column = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(labels, dt), logits=tf.cast(logits, dt))                 # [B, C]
    # Summed by a matmul with a column of ones, as tf.nn.nce_loss's `_sum_rows`: same rounding.
    ones = tf.ones(tf.stack([tf.shape(per_column)[1], 1]), dt)                 # [C, 1]
    return tf.cast(tf.reshape(tf.matmul(per_column, ones), [-1]), out_dtype)   # [B]


def _softmax_xent(logits, labels, out_dtype):
    """-sum_j y_j log softmax(o)_j per row; labels are targets, not trained."""
    dt = _loss_dtype(logits)
    loss = tf.nn.softmax_cross_entropy_with_logits(
        labels=tf.stop_gradient(tf.cast(labels, dt)), logits=tf.cast(logits, dt))  # [B]
    return tf.cast(loss, out_dtype)


_SHARED_ARGS = """
    Args:
      weights: class embeddings `[num_classes, dim]`, or a list of shards whose rows add up
        to `num_classes` (laid out by `partition_strategy`).
      biases: class biases `[num_classes]` (or shards, like `weights`), or None for none.
      labels: int `[batch_size, num_true]`, the target class ids, in `[0, num_classes)`.
      inputs: float `[batch_size, dim]`, the input representations x.
      num_sampled: S, the classes the default sampler draws per batch, shared by every row.
      num_classes: C, the number of classes.
      num_true: true classes per example; each gets the target 1/num_true.
      sampled_values: `(sampled_candidates [S], true_expected_count [batch_size, num_true],
        sampled_expected_count [S])` from any sampler (`w2v_tf.sampling`, `tf.random.*`);
        None draws S unique classes with TensorFlow's log-uniform sampler (ids must then be
        sorted by decreasing frequency).
      remove_accidental_hits: mask a sampled class that equals one of the row's true classes.
      name: name scope.
      partition_strategy: how sharded `weights`/`biases` split the ids, "div" (the default
        of the v2 `tf.nn` functions) or "mod"; ignored for a single tensor.
      seed: op seed of the default sampler.

    Returns:
      `[batch_size]` float, the loss of each example (no reduction, as `tf.nn`).

    Raises:
      ValueError: bad input, naming the argument (`compute_sampled_logits` lists the checks).
        Under XLA (`jit_compile=True`), where nothing can raise, an example whose labels
        hold an id outside `[0, num_classes)` gets a NaN loss instead (and an invalid
        sampled id makes every example's loss NaN); eagerly a ValueError, in a
        `tf.function` an assertion.
"""


def _shared_args(fn):
    """Appends the arguments all six losses share to `fn`'s docstring."""
    fn.__doc__ = fn.__doc__.rstrip() + "\n" + _SHARED_ARGS
    return fn


@_shared_args
def nce_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1,
             sampled_values=None, remove_accidental_hits=False, name="nce_loss", *,
             partition_strategy="div", seed=None):
    """Noise-contrastive estimation loss (Gutmann & Hyvarinen 2010; Mnih & Teh 2012).

    Each true class is a "data" sample and each sampled class a "noise" sample; logistic
    regression separates them on the logit o - log(k Q): P(d=1 | y, x) = P / (P + kQ).
    With `remove_accidental_hits=True` TensorFlow's docs call this "Sampled Logistic".
    """
    logits, out_labels = compute_sampled_logits(
        weights, biases, labels, inputs, num_sampled, num_classes, num_true=num_true,
        sampled_values=sampled_values, subtract_log_q=True,
        remove_accidental_hits=remove_accidental_hits,
        partition_strategy=partition_strategy, name=name, seed=seed)
    return _sigmoid_xent_sum(logits, out_labels, logits.dtype)


@_shared_args
def sampled_softmax_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1,
                         sampled_values=None, remove_accidental_hits=True, seed=None,
                         name="sampled_softmax_loss", *, partition_strategy="div"):
    """Sampled softmax loss (Jean et al. 2015): softmax over the true and sampled classes.

    The logits are corrected by -log Q, which makes the sampled softmax a consistent (but
    biased) estimate of the full softmax gradient. It is a training loss: it underestimates
    the full loss, so evaluate with `full_softmax_loss` or full logits.
    """
    logits, out_labels = compute_sampled_logits(
        weights, biases, labels, inputs, num_sampled, num_classes, num_true=num_true,
        sampled_values=sampled_values, subtract_log_q=True,
        remove_accidental_hits=remove_accidental_hits,
        partition_strategy=partition_strategy, name=name, seed=seed)
    return _softmax_xent(logits, out_labels, logits.dtype)


@_shared_args
def negative_sampling_loss(weights, biases, labels, inputs, num_sampled, num_classes,
                           num_true=1, sampled_values=None, remove_accidental_hits=True,
                           name="negative_sampling_loss", *, partition_strategy="div",
                           seed=None):
    """word2vec's negative sampling (NEG, Mikolov et al. 2013, eq. 4), which `tf.nn` lacks.

        J = -log s(o_t) - sum_k log s(-o_k),   o = x . w + b,   s = sigmoid

    i.e. NCE without the log-Q correction (NCE with kQ = 1). word2vec draws the negatives from
    unigram^0.75 (pass `sampled_values` from `w2v_tf.sampling.fixed_unigram_candidate_sampler`);
    the default here is the log-uniform sampler, as in `tf.nn`. word2vec skips a negative equal
    to the target, hence `remove_accidental_hits=True` by default. With num_true > 1 the true
    labels are 1/num_true, as in `tf.nn.nce_loss`.
    """
    logits, out_labels = compute_sampled_logits(
        weights, biases, labels, inputs, num_sampled, num_classes, num_true=num_true,
        sampled_values=sampled_values, subtract_log_q=False,
        remove_accidental_hits=remove_accidental_hits,
        partition_strategy=partition_strategy, name=name, seed=seed)
    return _sigmoid_xent_sum(logits, out_labels, logits.dtype)


@_shared_args
def sampled_logistic_loss(weights, biases, labels, inputs, num_sampled, num_classes,
                          num_true=1, sampled_values=None, remove_accidental_hits=True,
                          name="sampled_logistic_loss", *, partition_strategy="div", seed=None):
    """Sampled logistic: NCE's logits (log Q subtracted) with accidental hits removed.

    Trains F(x, y) towards the log-odds log(P(y|x) / (1 - P(y|x))) of each class.
    """
    return nce_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true,
                    sampled_values, remove_accidental_hits, name,
                    partition_strategy=partition_strategy, seed=seed)


def full_logits(weights, biases, inputs, partition_strategy="div"):
    """o = x W^T + b over every class: `[batch_size, num_classes]` (for evaluation/serving)."""
    w_shards = _shards.as_shard_list(weights, "weights")
    b_shards = None if biases is None else _shards.as_shard_list(biases, "biases")
    inputs = tf.convert_to_tensor(dense(inputs, "inputs", "[batch_size, dim]"))
    check_ranks(w_shards, b_shards)
    rows = _shards.shard_sizes(w_shards)
    if -1 not in rows:   # -1: a row count unknown when traced
        _check_table(w_shards, b_shards, inputs, sum(rows), partition_strategy)
    table = _whole_table(w_shards, partition_strategy)
    logits = tf.matmul(inputs, tf.cast(table, inputs.dtype), transpose_b=True)    # [B, C]
    if b_shards is not None:
        logits += tf.cast(_whole_table(b_shards, partition_strategy), inputs.dtype)[None, :]
    return logits


def _whole_table(shards, partition_strategy):
    """The rows of every class id 0..C-1 in order, from one shard or several."""
    if len(shards) == 1:
        return shards[0]
    rows = _shards.shard_sizes(shards)
    # A row count unknown when traced (-1) is read when the graph runs.
    count = sum(rows) if -1 not in rows else tf.add_n(
        [tf.shape(s, out_type=tf.int64)[0] for s in shards])
    return _shards.lookup(shards, tf.range(count, dtype=tf.int64), partition_strategy,
                          check_ids=False)


def _full_labels(labels, num_true, num_classes, logits):
    """Dense targets `[B, C]`: 1/num_true at each true class (repeats add up).

    The labels get the checks of the sampled losses (integer ids in `[0, num_classes)`, shape
    `[batch_size, num_true]`, one row per input): `tf.one_hot` would turn an id out of range
    into a row of zeros, i.e. a loss of 0, silently.
    """
    num_true = _positive_int("num_true", num_true)
    if num_classes is not None:
        num_classes = _positive_int("num_classes", num_classes)
    rows = logits.shape[1]
    if num_classes is None:
        num_classes = rows
    elif rows is not None and num_classes != rows:
        raise ValueError(f"`num_classes`={num_classes} but the table has {rows} rows; expected "
                         "the same number (or num_classes=None).")
    labels = _check_labels(labels, num_true, num_classes)
    _check_batch(labels, logits)                  # logits [B, C]: B is the inputs' batch
    targets = tf.reduce_sum(tf.one_hot(labels, num_classes, dtype=logits.dtype), axis=1)
    if _in_xla():   # no assertion under XLA: a row with a bad label gets NaN targets, NaN loss
        targets = nan_where_invalid(targets, labels, num_classes)
    return targets / num_true


@_shared_args
def full_softmax_loss(weights, biases, labels, inputs, num_sampled=None, num_classes=None,
                      num_true=1, sampled_values=None, remove_accidental_hits=None,
                      name="full_softmax_loss", *, partition_strategy="div", seed=None):
    """Softmax cross-entropy over all classes (the exact loss the sampled ones estimate).

    `num_sampled`, `sampled_values`, `remove_accidental_hits` and `seed` are accepted for the
    shared signature and ignored; `num_classes` may be None (the table's rows).
    """
    with tf.name_scope(name):
        logits = full_logits(weights, biases, inputs, partition_strategy)
        targets = _full_labels(labels, num_true, num_classes, logits)
        return _softmax_xent(logits, targets, logits.dtype)


@_shared_args
def full_logistic_loss(weights, biases, labels, inputs, num_sampled=None, num_classes=None,
                       num_true=1, sampled_values=None, remove_accidental_hits=None,
                       name="full_logistic_loss", *, partition_strategy="div", seed=None):
    """Independent binary cross-entropy on every class (true: 1/num_true, others: 0).

    `num_sampled`, `sampled_values`, `remove_accidental_hits` and `seed` are accepted for the
    shared signature and ignored; `num_classes` may be None (the table's rows).
    """
    with tf.name_scope(name):
        logits = full_logits(weights, biases, inputs, partition_strategy)
        targets = _full_labels(labels, num_true, num_classes, logits)
        return _sigmoid_xent_sum(logits, targets, logits.dtype)


LOSSES = {
    "nce": nce_loss,
    "neg": negative_sampling_loss,
    "sampled_logistic": sampled_logistic_loss,
    "full_logistic": full_logistic_loss,
    "softmax": full_softmax_loss,
    "sampled_softmax": sampled_softmax_loss,
}
