"""`compute_sampled_logits` and the losses: a numpy reference, where we differ from TensorFlow
(each difference shown on both sides), and the errors for bad input."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.ops import nn_impl

from w2v_tf import (compute_sampled_logits, full_logistic_loss, full_softmax_loss, nce_loss,
                    negative_sampling_loss, sampled_logistic_loss, sampled_softmax_loss)

# The problem of TensorFlow's own ComputeSampledLogitsTest: W [5, 10], b [5], inputs [3, 10],
# sampled [1, 0, 2, 3], all expected counts 0.5.
NUM_CLASSES, DIM, BATCH = 5, 10, 3
SAMPLED = np.array([1, 0, 2, 3])


def _problem(num_true, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(NUM_CLASSES, DIM)).astype(np.float32)
    b = rng.normal(size=NUM_CLASSES).astype(np.float32)
    x = rng.normal(size=(BATCH, DIM)).astype(np.float32)
    labels = np.stack([rng.choice(NUM_CLASSES, num_true, replace=False) for _ in range(BATCH)])
    true_q = np.full((BATCH, num_true), 0.5, np.float32)
    sampled_q = np.full(len(SAMPLED), 0.5, np.float32)
    return w, b, x, labels, (SAMPLED, true_q, sampled_q)


def _numpy_logits(w, b, x, labels, sampled, true_q, sampled_q, log_q, hits):
    """Reference: o = x.w + b - log Q; hits -> very negative."""
    true = np.einsum("bd,btd->bt", x, w[labels]) + b[labels]
    samp = x @ w[sampled].T + b[sampled]
    if log_q:
        true = true - np.log(true_q)
        samp = samp - np.log(sampled_q)
    if hits:
        mask = (labels[:, :, None] == sampled[None, None, :]).any(1)
        samp = np.where(mask, -np.finfo(np.float32).max, samp)
    num_true = labels.shape[1]
    out_labels = np.concatenate([np.full_like(true, 1 / num_true), np.zeros_like(samp)], 1)
    return np.concatenate([true, samp], 1), out_labels


def _sigmoid_xent(z, o):
    return np.maximum(o, 0) - o * z + np.log1p(np.exp(-np.abs(o)))


@pytest.mark.parametrize("num_true", [1, 2, 3, 4])
@pytest.mark.parametrize("log_q", [True, False])
@pytest.mark.parametrize("hits", [True, False])
def test_logits_match_numpy_reference(num_true, log_q, hits):
    w, b, x, labels, sv = _problem(num_true)
    logits, out_labels = compute_sampled_logits(w, b, labels, x, 4, NUM_CLASSES, num_true, sv,
                                                subtract_log_q=log_q, remove_accidental_hits=hits)
    ref_logits, ref_labels = _numpy_logits(w, b, x, labels, *sv, log_q, hits)
    assert logits.shape == (BATCH, num_true + 4)
    np.testing.assert_allclose(logits.numpy(), ref_logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out_labels.numpy(), ref_labels)
    if hits:  # exp(logit) ~ 0 at the hits, as TensorFlow's test checks
        mask = (labels[:, :, None] == SAMPLED[None, None, :]).any(1)
        assert mask.any()
        assert np.all(np.exp(logits.numpy()[:, num_true:][mask]) == 0)


@pytest.mark.parametrize("num_true", [1, 2, 3])
def test_losses_match_numpy_reference(num_true):
    w, b, x, labels, sv = _problem(num_true)
    o, z = _numpy_logits(w, b, x, labels, *sv, True, False)
    np.testing.assert_allclose(nce_loss(w, b, labels, x, 4, NUM_CLASSES, num_true, sv).numpy(),
                               _sigmoid_xent(z, o).sum(1), rtol=1e-5, atol=1e-6)
    o, z = _numpy_logits(w, b, x, labels, *sv, True, True)
    log_softmax = o - o.max(1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(1, keepdims=True))
    np.testing.assert_allclose(
        sampled_softmax_loss(w, b, labels, x, 4, NUM_CLASSES, num_true, sv).numpy(),
        -(z * log_softmax).sum(1), rtol=1e-5, atol=1e-6)
    o, z = _numpy_logits(w, b, x, labels, *sv, False, True)
    np.testing.assert_allclose(
        negative_sampling_loss(w, b, labels, x, 4, NUM_CLASSES, num_true, sv).numpy(),
        _sigmoid_xent(z, o).sum(1), rtol=1e-5, atol=1e-6)


def test_full_losses_match_numpy_and_sampled_limit():
    """Full softmax/logistic over all classes; the full loss equals the sampled one when
    every other class is sampled once with Q = 1 (no correction, hits removed)."""
    w, b, x, labels, _ = _problem(1)
    o = x @ w.T + b
    lse = np.log(np.exp(o - o.max(1, keepdims=True)).sum(1)) + o.max(1)
    np.testing.assert_allclose(full_softmax_loss(w, b, labels, x, num_classes=5).numpy(),
                               lse - o[np.arange(BATCH), labels[:, 0]], rtol=1e-5, atol=1e-6)
    z = np.eye(NUM_CLASSES)[labels[:, 0]]
    np.testing.assert_allclose(full_logistic_loss(w, b, labels, x, num_classes=5).numpy(),
                               _sigmoid_xent(z, o).sum(1), rtol=1e-5, atol=1e-6)
    all_classes = (np.arange(NUM_CLASSES), np.ones((BATCH, 1), np.float32),
                   np.ones(NUM_CLASSES, np.float32))
    np.testing.assert_allclose(
        sampled_softmax_loss(w, b, labels, x, NUM_CLASSES, NUM_CLASSES, 1, all_classes).numpy(),
        full_softmax_loss(w, b, labels, x, num_classes=5).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        sampled_logistic_loss(w, b, labels, x, NUM_CLASSES, NUM_CLASSES, 1, all_classes).numpy(),
        full_logistic_loss(w, b, labels, x, num_classes=5).numpy(), rtol=1e-5, atol=1e-6)


def test_stop_gradient_on_sampled_values():
    w, b, x, labels, (s, tq, sq) = _problem(1)
    tq, sq = tf.Variable(tq), tf.Variable(sq)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(sampled_softmax_loss(w, b, labels, x, 4, 5, 1, (s, tq, sq)))
    assert tape.gradient(loss, [tq, sq]) == [None, None]


# ------------------------------------------------------------------ where we differ from TF
def _hit_problem(dtype):
    w, b, x, labels, sv = _problem(1)
    labels = np.array([[1], [0], [4]])          # rows 0 and 1 have a hit in SAMPLED
    cast = lambda a: tf.cast(a, dtype)
    return cast(w), cast(b), cast(x), labels, (sv[0], sv[1], sv[2])


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_half_precision_hits_finite_where_tensorflow_is_nan(dtype):
    w, b, x, labels, sv = _hit_problem(dtype)
    ours = sampled_softmax_loss(w, b, labels, x, 4, 5, 1, sv)
    assert ours.dtype == dtype
    assert np.all(np.isfinite(ours.numpy().astype(np.float32)))
    ref = sampled_softmax_loss(*(tf.cast(t, tf.float32) for t in (w, b)), labels,
                               tf.cast(x, tf.float32), 4, 5, 1, sv)
    np.testing.assert_allclose(ours.numpy().astype(np.float32), ref.numpy(), rtol=0.05, atol=0.05)
    # TensorFlow: -FLT_MAX becomes -inf in half precision and the loss is NaN.
    sv_half = (sv[0], tf.cast(sv[1], dtype), tf.cast(sv[2], dtype))
    theirs = tf.nn.sampled_softmax_loss(w, b, labels, x, 4, 5, 1, sv_half)
    assert np.isnan(theirs.numpy().astype(np.float32)[:2]).all()


def test_float64_with_default_sampler_works_where_tensorflow_raises():
    w, b, x, labels, _ = _problem(2)
    w, b, x = w.astype(np.float64), b.astype(np.float64), x.astype(np.float64)
    tf.random.set_seed(5)
    ours = sampled_softmax_loss(w, b, labels, x, 3, NUM_CLASSES, 2, seed=1)
    assert ours.dtype == tf.float64 and np.all(np.isfinite(ours.numpy()))
    # Same draws in float32 (seed replay) give the same loss up to float32 precision.
    tf.random.set_seed(5)
    ref = sampled_softmax_loss(w.astype(np.float32), b.astype(np.float32), labels,
                               x.astype(np.float32), 3, NUM_CLASSES, 2, seed=1)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-5)
    with pytest.raises((TypeError, tf.errors.InvalidArgumentError)):
        tf.nn.sampled_softmax_loss(w, b, labels, x, 3, NUM_CLASSES, 2, seed=1)


def test_float32_table_with_half_inputs_is_cast_where_tensorflow_refuses():
    """Mixed precision: a float32 class table and float16 activations."""
    w, b, x, labels, sv = _problem(1)
    x16 = tf.cast(x, tf.float16)
    ours = sampled_softmax_loss(w, b, labels, x16, 4, NUM_CLASSES, 1, sv)
    assert ours.dtype == tf.float16
    same = sampled_softmax_loss(tf.cast(w, tf.float16), tf.cast(b, tf.float16), labels, x16, 4,
                                NUM_CLASSES, 1, sv)
    np.testing.assert_array_equal(ours.numpy(), same.numpy())
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        tf.nn.sampled_softmax_loss(w, b, labels, x16, 4, NUM_CLASSES, 1, sv)


def test_tuple_of_shards_works_where_tensorflow_fails():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(10, 4)).astype(np.float32)
    b = np.zeros(10, np.float32)
    x = rng.normal(size=(2, 4)).astype(np.float32)
    labels = np.array([[9], [3]])
    sv = (np.array([0, 7, 8]), np.full((2, 1), 0.3, np.float32), np.full(3, 0.3, np.float32))
    shards = (w[:4], w[4:7], w[7:])
    as_tuple = compute_sampled_logits(shards, b, labels, x, 3, 10, 1, sv, partition_strategy="div")
    whole = compute_sampled_logits(w, b, labels, x, 3, 10, 1, sv)
    np.testing.assert_allclose(as_tuple[0].numpy(), whole[0].numpy(), rtol=1e-6)
    with pytest.raises(Exception):
        nn_impl._compute_sampled_logits(shards, b, labels, x, 3, 10, 1, sv,
                                        partition_strategy="div")


def test_div_shards_off_tensorflow_layout_mean_concatenation():
    """Shards [4, 4, 2] over 10 rows: TF's "div" assumes [4, 3, 3] and reads wrong rows."""
    rng = np.random.default_rng(2)
    w = rng.normal(size=(10, 4)).astype(np.float32)
    b = np.zeros(10, np.float32)
    x = rng.normal(size=(2, 4)).astype(np.float32)
    labels = np.array([[7], [8]])
    sv = (np.array([0, 2, 5]), np.full((2, 1), 0.3, np.float32), np.full(3, 0.3, np.float32))
    shards = [w[:4], w[4:8], w[8:]]
    ours = compute_sampled_logits(shards, b, labels, x, 3, 10, 1, sv, partition_strategy="div")
    whole = compute_sampled_logits(w, b, labels, x, 3, 10, 1, sv)
    np.testing.assert_allclose(ours[0].numpy(), whole[0].numpy(), rtol=1e-6)
    theirs = nn_impl._compute_sampled_logits(shards, b, labels, x, 3, 10, 1, sv,
                                             partition_strategy="div")
    assert np.abs(theirs[0].numpy() - whole[0].numpy()).max() > 1e-3


def test_duplicate_sampled_ids_masked_at_every_position():
    """unique=False samples may repeat an id: TF masks only its last position, we mask all."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=(8, 3)).astype(np.float32)
    b = np.zeros(8, np.float32)
    x = rng.normal(size=(2, 3)).astype(np.float32)
    labels = np.array([[3], [5]])
    sv = (np.array([3, 1, 3, 7]), np.full((2, 1), 0.4, np.float32), np.full(4, 0.4, np.float32))
    ours = compute_sampled_logits(w, b, labels, x, 4, 8, 1, sv, remove_accidental_hits=True)[0]
    theirs = nn_impl._compute_sampled_logits(w, b, labels, x, 4, 8, 1, sv,
                                             remove_accidental_hits=True)[0]
    lowest = -np.finfo(np.float32).max
    assert ours.numpy()[0, 1] == lowest and ours.numpy()[0, 3] == lowest      # both copies of 3
    assert theirs.numpy()[0, 1] != lowest and theirs.numpy()[0, 3] == lowest  # only the last
    np.testing.assert_allclose(np.delete(ours.numpy(), 1, axis=1),
                               np.delete(theirs.numpy(), 1, axis=1), rtol=1e-6)


def test_no_biases_equals_zero_biases():
    w, b, x, labels, sv = _problem(2)
    none = nce_loss(w, None, labels, x, 4, 5, 2, sv)
    zeros = nce_loss(w, np.zeros(5, np.float32), labels, x, 4, 5, 2, sv)
    np.testing.assert_allclose(none.numpy(), zeros.numpy(), rtol=1e-6)


def test_keras_variable_gradients_reach_the_table():
    w, b, x, labels, sv = _problem(1)
    kw = keras.Variable(w)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(sampled_softmax_loss(kw, b, labels, x, 4, 5, 1, sv))
    g = tf.convert_to_tensor(tape.gradient(loss, kw.value))
    touched = np.unique(np.concatenate([labels.ravel(), SAMPLED]))
    assert np.abs(g.numpy()[touched]).sum() > 0


def test_runs_under_xla_with_given_sampled_values():
    w, b, x, labels, sv = _problem(2)
    fn = tf.function(lambda w, x: sampled_softmax_loss(w, b, labels, x, 4, 5, 2, sv),
                     jit_compile=True)
    np.testing.assert_allclose(fn(tf.constant(w), tf.constant(x)).numpy(),
                               sampled_softmax_loss(w, b, labels, x, 4, 5, 2, sv).numpy(),
                               rtol=1e-5)


# ------------------------------------------------------------------ errors for bad input
def _call(**overrides):
    w, b, x, labels, sv = _problem(1)
    args = dict(weights=w, biases=b, labels=labels, inputs=x, num_sampled=4,
                num_classes=NUM_CLASSES, num_true=1, sampled_values=sv)
    args.update(overrides)
    return compute_sampled_logits(**args)


@pytest.mark.parametrize("overrides, match", [
    (dict(labels=np.array([1, 2, 3])), "`labels` must have rank 2"),
    (dict(num_true=2), "`labels` has 1 columns but num_true=2"),
    (dict(labels=np.array([[1], [5], [0]])), r"`labels` contains 5, outside \[0, num_classes=5\)"),
    (dict(labels=np.array([[1], [-1], [0]])), "`labels` contains -1"),
    (dict(labels=np.array([[1.0], [2.5], [0.0]])), "`labels` has dtype float64 and the non-integer"),
    (dict(labels=np.array([[True], [False], [True]])), "`labels` must hold integer class ids"),
    (dict(labels=tf.constant([["a"], ["b"], ["c"]])), "`labels` must be an integer tensor"),
    (dict(weights=np.ones((6, 10), np.float32)), "num_classes=5"),
    (dict(inputs=np.ones((3, 7), np.float32)), "`inputs` has dim 7 but `weights` rows have dim 10"),
    (dict(weights=[np.ones((2, 10), np.float32), np.ones((2, 10), np.float32)]),
     "add up to num_classes=5"),
    (dict(sampled_values=(SAMPLED[None], np.full((3, 1), .5, np.float32), np.full(4, .5, np.float32))),
     r"sampled_values\[0\]"),
    (dict(sampled_values=(SAMPLED, np.full((3, 1), .5, np.float32), np.full(3, .5, np.float32))),
     r"sampled_values\[2\]"),
    (dict(sampled_values=(SAMPLED, np.full((2, 1), .5, np.float32), np.full(4, .5, np.float32))),
     r"sampled_values\[1\]"),
    (dict(sampled_values=(SAMPLED, np.full((3, 1), .5, np.float32), np.array([.5, 0, .5, .5], np.float32))),
     r"`sampled_values\[2\]` \(expected counts\) holds 0.0"),
    (dict(sampled_values=None, num_sampled=6), "`num_sampled`=6 is larger than num_classes=5"),
    (dict(sampled_values=None, num_sampled=0), "`num_sampled` must be an integer >= 1 .*got 0"),
    (dict(sampled_values=None, num_sampled=-1), "`num_sampled` must be an integer >= 1"),
    (dict(labels=np.array([[1], [2]])), "`labels` has 2 rows but `inputs` has 3"),
    (dict(partition_strategy="rows"), "`partition_strategy` must be one of"),
    # num_true / num_classes: Python ints >= 1 (0 gave NaN/zeros, 1.0 and "5" raw TypeErrors)
    (dict(num_true=0), r"`num_true` must be a Python int >= 1 .*got 0"),
    (dict(num_true=1.0), r"`num_true` must be a Python int >= 1 .*got 1.0 \(float\)"),
    (dict(num_true=True), r"`num_true` must be a Python int >= 1 .*got True \(bool\)"),
    (dict(num_classes=None), r"`num_classes` must be a Python int >= 1 .*got None"),
    (dict(num_classes="5"), r"`num_classes` must be a Python int >= 1 .*got '5' \(str\)"),
    # malformed sampled_values (a raw unpacking or GatherV2 error, or silent truncation, before)
    (dict(sampled_values=(SAMPLED, np.full((3, 1), .5, np.float32))),
     "`sampled_values` must be a triple .* got tuple of length 2"),
    (dict(sampled_values=(np.array([1, 0, 5, 3]), np.full((3, 1), .5, np.float32),
                          np.full(4, .5, np.float32))),
     r"`sampled_values\[0\]` contains 5, outside \[0, num_classes=5\)"),
    (dict(sampled_values=(np.array([1, -1, 2, 3]), np.full((3, 1), .5, np.float32),
                          np.full(4, .5, np.float32))), r"`sampled_values\[0\]` contains -1"),
    (dict(sampled_values=(np.array([1.0, 0.5, 2.0, 3.0]), np.full((3, 1), .5, np.float32),
                          np.full(4, .5, np.float32))), "non-integer value 0.5"),
    (dict(sampled_values=(SAMPLED, np.full((3, 1), .5, np.float32),
                          np.array([.5, np.nan, .5, .5], np.float32))),
     r"`sampled_values\[2\]` \(expected counts\) holds nan"),
    (dict(sampled_values=(SAMPLED, np.full((3, 1), np.inf, np.float32),
                          np.full(4, .5, np.float32))),
     r"`sampled_values\[1\]` \(expected counts\) holds inf"),
    (dict(labels=np.array([[1.0], [1e20], [0.0]])), r"`labels` contains 1e\+20, outside"),
    (dict(labels=tf.ragged.constant([[1], [2], [0]])), "`labels` is a RaggedTensor"),
    (dict(inputs=tf.ragged.constant(np.ones((3, 10)).tolist())), "`inputs` is a RaggedTensor"),
])
def test_bad_input_raises_clear_value_error(overrides, match):
    with pytest.raises(ValueError, match=match):
        _call(**overrides)


# The exact losses take the same labels: an id out of range is an error, not a row of zeros
# (tf.one_hot's answer for it, which would make the loss 0), in eager mode and in a graph.
FULL_BAD = [
    (dict(labels=np.array([[1], [5], [0]])), r"`labels` contains 5, outside \[0, num_classes=5\)"),
    (dict(labels=np.array([[1], [-1], [0]])), "`labels` contains -1"),
    (dict(labels=np.array([[1.0], [2.5], [0.0]])), "non-integer value 2.5"),
    (dict(labels=np.array([[1], [2]])), "`labels` has 2 rows but `inputs` has 3"),
    (dict(inputs=np.ones((3, 7), np.float32)), "`inputs` has dim 7 but `weights` rows have dim 10"),
    (dict(num_classes=6), "`num_classes`=6 but the table has 5 rows"),
]


@pytest.mark.parametrize("loss", [full_softmax_loss, full_logistic_loss])
@pytest.mark.parametrize("overrides, match", FULL_BAD)
def test_full_losses_check_their_input(loss, overrides, match):
    w, b, x, labels, _ = _problem(1)
    args = dict(weights=w, biases=b, labels=labels, inputs=x, num_classes=NUM_CLASSES)
    args.update(overrides)
    with pytest.raises(ValueError, match=match):
        loss(**args)


@pytest.mark.parametrize("loss", [full_softmax_loss, full_logistic_loss])
def test_full_losses_assert_the_label_range_in_a_graph(loss):
    w, b, x, _, _ = _problem(1)
    fn = tf.function(lambda y: loss(w, b, y, x, num_classes=NUM_CLASSES))
    assert np.all(np.isfinite(fn(tf.constant([[1], [4], [0]], tf.int64)).numpy()))
    with pytest.raises(tf.errors.InvalidArgumentError, match="class ids in \\[0, num_classes=5\\)"):
        fn(tf.constant([[1], [5], [0]], tf.int64))


def test_mod_shards_with_wrong_sizes_rejected():
    w = np.ones((5, 10), np.float32)
    with pytest.raises(ValueError, match="partition_strategy='mod'"):
        _call(weights=[w[:2], w[2:]], partition_strategy="mod")


def test_zero_expected_count_allowed_without_log_q():
    sv = (SAMPLED, np.full((3, 1), .5, np.float32), np.array([.5, 0, .5, .5], np.float32))
    logits, _ = _call(sampled_values=sv, subtract_log_q=False)
    assert np.all(np.isfinite(logits.numpy()))


# ------------------------------------------------------------------ exact to the gradient
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log_q", [True, False])
def test_masked_logit_passes_upstream_gradient_like_tensorflow(dtype, log_q):
    """TF masks a hit by adding -FLT_MAX (before log Q): d logit / d w is still x there. With
    an upstream gradient only on the masked logits, TF's and our gradients are equal and
    non-zero (overwriting the logit with where() would give 0)."""
    w, b, x, _, sv = _problem(1)
    labels = np.array([[1], [0], [4]])                       # rows 0 and 1 hit SAMPLED
    w, b, x = (tf.Variable(a.astype(dtype)) for a in (w, b, x))
    sv = (sv[0], sv[1].astype(dtype), sv[2].astype(dtype))
    hit = labels == SAMPLED[None, :]                          # [3, 4]
    upstream = np.zeros((3, 5), dtype)
    upstream[:, 1:][hit] = [0.7, -1.3]
    grads = []
    for fn in (nn_impl._compute_sampled_logits, compute_sampled_logits):
        with tf.GradientTape() as tape:
            logits, _ = fn(w, b, labels, x, 4, NUM_CLASSES, 1, sv, subtract_log_q=log_q,
                           remove_accidental_hits=True)
        grads.append(tape.gradient(logits, [x, w, b], output_gradients=tf.constant(upstream)))
        np.testing.assert_array_equal(logits.numpy()[:, 1:][hit], -np.finfo(np.float32).max)
    for theirs, ours in zip(*grads):
        np.testing.assert_array_equal(tf.convert_to_tensor(ours).numpy(),
                                      tf.convert_to_tensor(theirs).numpy())
    assert np.abs(grads[1][0].numpy()).sum() > 0


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_half_precision_masked_logit_is_finite_and_stops_the_gradient(dtype):
    """Our half-precision rule (where TF's -FLT_MAX is -inf): the masked logit is the dtype's
    lowest finite value, set after log Q, and passes no gradient."""
    w, b, x, labels, sv = _hit_problem(dtype)
    x = tf.Variable(x)
    hit = labels == SAMPLED[None, :]
    upstream = np.zeros((3, 5), np.float32)
    upstream[:, 1:][hit] = 1.0
    with tf.GradientTape() as tape:
        logits, _ = compute_sampled_logits(w, b, labels, x, 4, NUM_CLASSES, 1, sv,
                                           remove_accidental_hits=True)
    assert np.all(logits.numpy()[:, 1:][hit].astype(np.float32) == float(dtype.min))
    grad = tape.gradient(logits, x, output_gradients=tf.constant(upstream, dtype))
    assert np.all(grad.numpy().astype(np.float32) == 0)


# ------------------------------------------------------------------ what TensorFlow accepts
def test_integer_valued_float_labels_are_cast_like_tensorflow():
    w, b, x, labels, sv = _problem(2)
    for dtype in (tf.bfloat16, tf.float32):
        as_float = tf.cast(labels, dtype)
        ours = compute_sampled_logits(w, b, as_float, x, 4, NUM_CLASSES, 2, sv)[0]
        theirs = nn_impl._compute_sampled_logits(w, b, as_float, x, 4, NUM_CLASSES, 2, sv)[0]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_non_integer_float_labels_raise_in_a_graph_too():
    w, b, x, _, sv = _problem(1)
    fn = tf.function(lambda l: compute_sampled_logits(w, b, l, x, 4, NUM_CLASSES, 1, sv)[0])
    fn(tf.constant([[1.0], [2.0], [0.0]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="integer-valued"):
        fn(tf.constant([[1.0], [2.5], [0.0]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes=5"):
        fn(tf.constant([[1.0], [-1.0], [0.0]]))


@pytest.mark.parametrize("n_ids", [2, 6])
@pytest.mark.parametrize("hits", [False, True])
def test_sampled_values_with_another_count_than_num_sampled_are_used_as_given(n_ids, hits):
    w, b, x, labels, _ = _problem(1)
    ids = np.array([1, 0, 2, 3, 4, 0])[:n_ids]
    sv = (ids, np.full((3, 1), .5, np.float32), np.full(n_ids, .5, np.float32))
    ours = compute_sampled_logits(w, b, labels, x, 4, NUM_CLASSES, 1, sv,
                                  remove_accidental_hits=hits)[0]
    assert ours.shape == (3, 1 + n_ids)
    ref, _ = _numpy_logits(w, b, x, labels, ids, sv[1], sv[2], True, hits)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-5)
    if not hits:   # TF uses what it is given too (with hits its mask is [B, num_sampled])
        theirs = nn_impl._compute_sampled_logits(w, b, labels, x, 4, NUM_CLASSES, 1, sv)[0]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_true_expected_counts_of_any_shape_are_not_read_without_log_q():
    w, b, x, labels, sv = _problem(1)
    odd = (sv[0], np.ones(7, np.float32), sv[2])
    ours = compute_sampled_logits(w, b, labels, x, 4, NUM_CLASSES, 1, odd, subtract_log_q=False)
    theirs = nn_impl._compute_sampled_logits(w, b, labels, x, 4, NUM_CLASSES, 1, odd,
                                             subtract_log_q=False)
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
    with pytest.raises(ValueError, match=r"sampled_values\[1\]"):
        compute_sampled_logits(w, b, labels, x, 4, NUM_CLASSES, 1, odd, subtract_log_q=True)


# ------------------------------------------------------- invalid ids in each execution mode
SAMPLED_LOSSES = [nce_loss, sampled_softmax_loss, negative_sampling_loss, sampled_logistic_loss]


@pytest.mark.parametrize("loss", SAMPLED_LOSSES + [full_softmax_loss, full_logistic_loss])
@pytest.mark.parametrize("bad", [5, -1, 25])
def test_bad_label_eager_raises_graph_asserts_xla_gives_nan(loss, bad):
    # XLA can neither raise nor assert; its gather clamps the id (full_softmax_loss gave a
    # loss of 0.0 for that row, the sampled losses a finite loss of another class). Ours: NaN
    # for that example's loss (the others unchanged, bit for bit), so training shows it.
    w, b, x, _, sv = _problem(1)
    good, wrong = np.array([[1], [4], [0]]), np.array([[1], [bad], [0]])
    call = lambda y: loss(w, b, y, x, 4, NUM_CLASSES, 1, sv)   # noqa: E731
    with pytest.raises(ValueError, match=f"`labels` contains {bad}"):
        call(wrong)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"num_classes=5\)"):
        tf.function(call)(tf.constant(wrong))
    xla = tf.function(call, jit_compile=True)
    ok, nan = xla(tf.constant(good)).numpy(), xla(tf.constant(wrong)).numpy()
    assert np.isnan(nan[1]) and np.all(np.isfinite(ok))
    np.testing.assert_array_equal(nan[[0, 2]], ok[[0, 2]])


def test_non_integer_float_label_under_xla_gives_nan():
    w, b, x, _, sv = _problem(1)
    xla = tf.function(lambda y: sampled_softmax_loss(w, b, y, x, 4, NUM_CLASSES, 1, sv),
                      jit_compile=True)
    loss = xla(tf.constant([[1.0], [2.5], [0.0]])).numpy()
    assert np.isnan(loss[1]) and np.all(np.isfinite(loss[[0, 2]]))


@pytest.mark.parametrize("bad", [5, -1])
def test_bad_sampled_id_eager_raises_graph_asserts_xla_gives_nan(bad):
    w, b, x, labels, (_, tq, sq) = _problem(1)
    sampled = tf.constant([1, 0, bad, 3], tf.int64)
    call = lambda s: nce_loss(w, b, labels, x, 4, NUM_CLASSES, 1, (s, tq, sq))   # noqa: E731
    with pytest.raises(ValueError, match=rf"`sampled_values\[0\]` contains {bad}"):
        call(sampled)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"sampled_values\[0\]"):
        tf.function(call)(sampled)
    # The ids are shared by every row: each row has a NaN column, so every loss is NaN.
    assert np.all(np.isnan(tf.function(call, jit_compile=True)(sampled).numpy()))


@pytest.mark.parametrize("hits", [False, True])
def test_xla_guard_leaves_valid_logits_and_gradients_bit_identical(hits):
    # The NaN guard is a `where` that selects the original values for valid ids.
    import w2v_tf.sampled_logits as sl
    w, b, x, labels, sv = _problem(3)
    w, x = tf.Variable(w), tf.constant(x)

    def step():
        with tf.GradientTape() as tape:
            logits, _ = compute_sampled_logits(w, b, labels, x, 4, NUM_CLASSES, 3, sv,
                                               remove_accidental_hits=hits)
            total = tf.reduce_sum(logits * tf.range(1.0, 8.0))
        return logits, tape.gradient(total, w)
    guarded = tf.function(step, jit_compile=True)()
    original = sl.nan_where_invalid
    try:
        sl.nan_where_invalid = lambda logits, *args, **kw: logits
        unguarded = tf.function(step, jit_compile=True)()
    finally:
        sl.nan_where_invalid = original
    for a, c in zip(guarded, unguarded):
        np.testing.assert_array_equal(tf.convert_to_tensor(a).numpy(),
                                      tf.convert_to_tensor(c).numpy())


# ------------------------------------------------------------------ biases of another shape
BAD_BIASES = {   # TF gives a raw Slice/AddV2/GatherV2 error or an IndexError for each
    "[V, 1]": (lambda b, w: b[:, None], r"`biases` has shape \[5, 1\]; expected \[num_classes\]"),
    "[V, D]": (lambda b, w: w, r"`biases` has shape \[5, 10\]; expected \[num_classes\]"),
    "scalar": (lambda b, w: np.float32(0.5), r"`biases` has shape \[\]; expected"),
    "shards [n, 1]": (lambda b, w: [b[:3, None], b[3:, None]], "`biases` shard 0 has shape"),
    "list of floats": (lambda b, w: b.tolist(), "`biases` is a Python list of 5 numbers"),
}


@pytest.mark.parametrize("case", list(BAD_BIASES))
@pytest.mark.parametrize("loss", [sampled_softmax_loss, full_softmax_loss])
def test_biases_of_another_shape_raise_value_error_naming_biases(case, loss):
    w, b, x, labels, sv = _problem(1)
    make, match = BAD_BIASES[case]
    with pytest.raises(ValueError, match=match):
        loss(w, make(b, w), labels, x, 4, NUM_CLASSES, 1, sv)
    with pytest.raises((tf.errors.InvalidArgumentError, IndexError)):   # TF: no named error
        tf.nn.sampled_softmax_loss(w, make(b, w), labels, x, 4, NUM_CLASSES, 1, sv)


def test_python_list_of_floats_as_biases_fails_in_tensorflow_too():
    # A list means shards to TF as well: 5 scalar shards, IndexError. A numpy array works.
    w, b, x, labels, sv = _problem(1)
    with pytest.raises(IndexError):
        tf.nn.sampled_softmax_loss(w, b.tolist(), labels, x, 4, NUM_CLASSES, 1, sv)
    np.testing.assert_allclose(
        sampled_softmax_loss(w, np.asarray(b.tolist(), np.float32), labels, x, 4, NUM_CLASSES,
                             1, sv).numpy(),
        tf.nn.sampled_softmax_loss(w, b, labels, x, 4, NUM_CLASSES, 1, sv).numpy(), rtol=1e-6)
