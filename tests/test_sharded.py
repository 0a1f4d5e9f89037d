"""Sharded class tables: a list of shards or a `ShardedVariable` through our core.

Oracles: the same computation on the unsharded table (concatenation of the shards, the "div"
layout of any sizes), TensorFlow's `tf.math.top_k` on the whole score matrix, and the
gradient of the unsharded table split at the shard boundaries. Float32 results are compared
at rtol/atol 1e-5 (the sharded lookup gathers the same rows; only summation order differs).
"""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.distribute.sharded_variable import ShardedVariable

from w2v_tf import distribute as dist
from w2v_tf import losses
from w2v_tf.sampled_logits import compute_sampled_logits

N, D, B, S = 23, 6, 5, 7
LAYOUTS = {"even-ish": [6, 6, 6, 5], "uneven": [2, 11, 1, 9], "one": [23]}


def _table(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, D)).astype(np.float32), rng.normal(size=N).astype(np.float32)


def _split(x, sizes):
    return np.split(x, np.cumsum(sizes)[:-1])


def _sharded(x, sizes, kind):
    parts = [tf.Variable(p) for p in _split(x, sizes)]
    return ShardedVariable(parts) if kind == "sharded_variable" else parts


def _batch(seed=1, num_true=1):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, N, (B, num_true)).astype(np.int64)
    inputs = rng.normal(size=(B, D)).astype(np.float32)
    sampled = rng.choice(N, S, replace=False).astype(np.int64)
    sv = (tf.constant(sampled), tf.fill([B, num_true], 0.3), tf.fill([S], 0.2))
    return labels, inputs, sv


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("kind", ["list", "sharded_variable"])
@pytest.mark.parametrize("num_true", [1, 3])
def test_sampled_logits_over_shards_equal_unsharded(layout, kind, num_true):
    w, b = _table()
    labels, inputs, sv = _batch(num_true=num_true)
    expected = compute_sampled_logits(w, b, labels, inputs, S, N, num_true, sv,
                                      remove_accidental_hits=True, partition_strategy="div")
    got = compute_sampled_logits(_sharded(w, LAYOUTS[layout], kind),
                                 _sharded(b, LAYOUTS[layout], kind), labels, inputs, S, N,
                                 num_true, sv, remove_accidental_hits=True,
                                 partition_strategy="div")
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("loss", ["sampled_softmax", "nce", "neg"])
@pytest.mark.parametrize("layout", ["even-ish", "uneven"])
def test_gradients_reach_every_shard_as_slices_of_the_unsharded_gradient(loss, layout):
    w, b = _table()
    labels, inputs, sv = _batch()
    fn = losses.LOSSES[loss]
    whole = tf.Variable(w)
    with tf.GradientTape() as tape:
        ref = tf.reduce_sum(fn(whole, None, labels, inputs, S, N, sampled_values=sv))
    g_whole = tf.convert_to_tensor(tape.gradient(ref, whole))                   # [N, D]
    table = _sharded(w, LAYOUTS[layout], "sharded_variable")
    with tf.GradientTape() as tape:
        got = tf.reduce_sum(fn(table, None, labels, inputs, S, N, sampled_values=sv))
    grads = tape.gradient(got, table.variables)
    np.testing.assert_allclose(float(got), float(ref), rtol=1e-5)
    touched = set(labels.ravel()) | set(sv[0].numpy())
    for g, part, lo in zip(grads, _split(g_whole.numpy(), LAYOUTS[layout]),
                           np.cumsum([0] + LAYOUTS[layout][:-1])):
        rows = set(range(lo, lo + len(part)))
        if rows & touched:
            assert isinstance(g, tf.IndexedSlices)         # sparse: only gathered rows
            np.testing.assert_allclose(tf.convert_to_tensor(g), part, rtol=1e-5, atol=1e-6)
        else:
            assert g is None or not np.any(tf.convert_to_tensor(g))


def _exact_top_k(q, w, b, k):
    scores = q @ w.T + (0 if b is None else b[None, :])
    top = tf.math.top_k(scores, k=k)
    return top.values.numpy(), top.indices.numpy()


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("k", [1, 4, 12, N])
@pytest.mark.parametrize("with_bias", [False, True])
def test_sharded_top_k_equals_exact_top_k(layout, k, with_bias):
    w, b = _table(3)
    q = np.random.default_rng(4).normal(size=(9, D)).astype(np.float32)
    bias = b if with_bias else None
    values, ids = dist.sharded_top_k(q, _sharded(w, LAYOUTS[layout], "sharded_variable"), k,
                                     biases=None if bias is None else
                                     _sharded(bias, LAYOUTS[layout], "list"))
    ref_values, ref_ids = _exact_top_k(q, w, bias, k)
    np.testing.assert_array_equal(ids.numpy(), ref_ids)
    np.testing.assert_allclose(values, ref_values, rtol=1e-5, atol=1e-5)


def test_sharded_top_k_breaks_ties_like_top_k_on_the_whole_table():
    # integer-valued rows with many equal scores across shard boundaries
    w = np.repeat(np.eye(3, dtype=np.float32), [5, 4, 5], axis=0)                # [14, 3]
    q = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 1]], np.float32)
    values, ids = dist.sharded_top_k(q, [w[:3], w[3:9], w[9:]], k=7)
    ref_values, ref_ids = _exact_top_k(q, w, None, 7)
    np.testing.assert_array_equal(ids.numpy(), ref_ids)
    np.testing.assert_array_equal(values.numpy(), ref_values)


def test_sharded_top_k_mod_layout_maps_rows_to_global_ids():
    w, _ = _table(5)
    q = np.random.default_rng(6).normal(size=(4, D)).astype(np.float32)
    mod_shards = [w[p::3] for p in range(3)]                        # id i in shard i % 3
    values, ids = dist.sharded_top_k(q, mod_shards, 5, partition_strategy="mod")
    ref_values, ref_ids = _exact_top_k(q, w, None, 5)
    np.testing.assert_array_equal(ids.numpy(), ref_ids)             # continuous scores: no ties
    np.testing.assert_allclose(values, ref_values, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 0}, "`k`"), ({"k": N + 1}, "`k`"), ({"k": 2.0}, "`k`"),
    ({"k": 2, "queries": np.zeros((2, D + 1), np.float32)}, "`queries`"),
    ({"k": 2, "biases": np.zeros(N - 1, np.float32)}, "`biases`"),
    ({"k": 2, "partition_strategy": "range"}, "partition_strategy"),
])
def test_sharded_top_k_bad_input(kwargs, match):
    w, _ = _table()
    args = {"queries": np.zeros((2, D), np.float32), "shards": _split(w, [10, 13]), **kwargs}
    with pytest.raises(ValueError, match=match):
        dist.sharded_top_k(**args)


@pytest.mark.parametrize("strategy", ["div", "mod"])
@pytest.mark.parametrize("loss", ["nce_loss", "sampled_softmax_loss"])
def test_shards_of_unknown_row_count_in_a_tf_function_equal_tensorflow(strategy, loss):
    # Traced with input_signature [None, D] per shard, the row counts are symbolic: the "div"
    # lookup did int(tf.shape(shard)[0]) and failed. TF's layout (7, 7, 6 rows for 20 ids) so
    # that tf.compat.v1's embedding_lookup is a valid oracle for both strategies.
    n, p = 20, 3
    w, b = _table()
    w, b = w[:n], b[:n]
    ids = np.arange(n)
    parts = ([ids[k::p] for k in range(p)] if strategy == "mod"
             else np.split(ids, [7, 14]))
    w_sh, b_sh = [w[i] for i in parts], [b[i] for i in parts]
    labels, x, _ = _batch(num_true=2)
    labels = labels % n
    sv = (tf.constant([0, 5, 19, 7, 13], tf.int64), tf.fill([B, 2], 0.3),
          tf.fill([5], 0.2))
    spec = [tf.TensorSpec([None, D], tf.float32)] * p
    bspec = [tf.TensorSpec([None], tf.float32)] * p

    @tf.function(input_signature=[spec, bspec])
    def ours(ws, bs):
        return getattr(losses, loss)(ws, bs, labels, x, 5, n, num_true=2, sampled_values=sv,
                                     partition_strategy=strategy)
    theirs = getattr(tf.compat.v1.nn, loss)(w_sh, b_sh, labels, x, 5, n, num_true=2,
                                            sampled_values=sv, partition_strategy=strategy)
    np.testing.assert_allclose(ours(w_sh, b_sh).numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("strategy", ["div", "mod"])
def test_full_logits_of_shards_with_unknown_rows_in_a_tf_function(strategy):
    # Traced with [None, D] shards, full_logits summed the -1 placeholders into tf.range(-2)
    # and failed; the class count is now read when the graph runs. Oracle: x W^T + b.
    n, p = 20, 3
    w, b = _table()
    w, b = w[:n], b[:n]
    ids = np.arange(n)
    parts = [ids[k::p] for k in range(p)] if strategy == "mod" else np.split(ids, [7, 14])
    _, x, _ = _batch()
    spec = [tf.TensorSpec([None, D], tf.float32)] * p
    bspec = [tf.TensorSpec([None], tf.float32)] * p

    @tf.function(input_signature=[spec, bspec])
    def ours(ws, bs):
        return losses.full_logits(ws, bs, x, partition_strategy=strategy)
    got = ours([w[i] for i in parts], [b[i] for i in parts]).numpy()
    np.testing.assert_allclose(got, x @ w.T + b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"shards": [np.zeros((10, D), np.float32), np.zeros((13, D - 1), np.float32)]},
     "one dim"),                                  # was a raw MatMul error
    ({"shards": [np.zeros((10, D), np.float32), np.zeros(13, np.float32)]}, "`shards`"),
    ({"biases": np.zeros((N, 1), np.float32)}, "`biases`"),        # was a raw AddV2 error
])
def test_sharded_top_k_refuses_bad_shards_and_biases_by_name(kwargs, match):
    w, _ = _table()
    args = {"queries": np.zeros((2, D), np.float32), "shards": _split(w, [10, 13]), "k": 2,
            **kwargs}
    with pytest.raises(ValueError, match=match):
        dist.sharded_top_k(**args)


def test_sharded_top_k_refuses_integer_queries():
    # They cast the table to int32 (rows truncated towards 0): scores [[0, 0]], ids [[0, 1]]
    # where top_k on the float scores gives another ranking, silently.
    w, _ = _table()
    with pytest.raises(TypeError, match="`queries` must be floating point"):
        dist.sharded_top_k(np.eye(1, D, dtype=np.int64), _split(w, [10, 13]), 2)


def test_sharded_top_k_in_a_tf_function_and_with_a_numpy_k_equals_eager():
    # int(tf.shape(shard)[0]) failed when traced (OperatorNotAllowedInGraphError), and a
    # numpy integer k (what tf.math.top_k accepts) was refused.
    w, b = _table(3)
    q = np.random.default_rng(4).normal(size=(9, D)).astype(np.float32)
    shards, bias = _split(w, [10, 13]), _split(b, [10, 13])
    eager = dist.sharded_top_k(q, shards, 5, biases=bias)
    traced = tf.function(lambda x: dist.sharded_top_k(x, shards, np.int64(5), biases=bias))(q)
    np.testing.assert_array_equal(traced[1].numpy(), eager[1].numpy())
    # values: graph and eager MatMul kernels may round differently (observed 4.8e-7)
    np.testing.assert_allclose(traced[0].numpy(), eager[0].numpy(), rtol=1e-5, atol=1e-5)
    ref_values, ref_ids = _exact_top_k(q, w, b, 5)
    np.testing.assert_array_equal(traced[1].numpy(), ref_ids)


def test_sharded_top_k_of_shards_with_unknown_rows_in_a_tf_function_is_refused_by_name():
    w, _ = _table()
    spec = [tf.TensorSpec([None, D], tf.float32)] * 2
    fn = tf.function(lambda s: dist.sharded_top_k(np.zeros((1, D), np.float32), s, 2),
                     input_signature=[spec])
    with pytest.raises(ValueError, match="static row counts"):
        fn(_split(w, [10, 13]))


@pytest.mark.parametrize("fn", ["lookup", "route"])
def test_an_unknown_partition_strategy_is_refused_by_the_lookup_itself(fn):
    # lookup(shards, ids, "x") returned the "div" rows silently (route read anything but
    # "mod" as "div"); the losses checked it first, a direct caller did not.
    from w2v_tf import shards as sh
    w, _ = _table()
    ids = tf.constant([7, 3], tf.int64)
    args = (_split(w, [10, 13]), ids) if fn == "lookup" else (ids, [10, 13])
    with pytest.raises(ValueError, match="`partition_strategy` must be one of"):
        getattr(sh, fn)(*args, "Div")


@pytest.mark.parametrize("sizes", [[10, 13], [23]])
@pytest.mark.parametrize("strategy", ["div", "mod"])
@pytest.mark.parametrize("bad", [-1, N, 40])
def test_lookup_refuses_ids_outside_the_table_eagerly(sizes, strategy, bad):
    # Several shards: a raw GatherV2 error naming a local row ("indices[0] = 0 is not in
    # [0, 13)" for id 23, div), or zeros silently on GPU; the docstring promised rows.
    from w2v_tf import shards as sh
    w, _ = _table()
    shards = _split(w, sizes) if strategy == "div" else [w[p::len(sizes)] for p in
                                                         range(len(sizes))]
    with pytest.raises(ValueError, match=rf"`ids` must be in \[0, {N}\).*\[{min(bad, 3)}, "
                                         rf"{max(bad, 3)}\]"):
        sh.lookup([tf.constant(s) for s in shards], tf.constant([3, bad], tf.int64), strategy)
    ok = sh.lookup([tf.constant(s) for s in shards], tf.constant([3, N - 1], tf.int64), strategy)
    np.testing.assert_array_equal(ok.numpy(), w[[3, N - 1]])


def test_lookup_refuses_ids_that_are_not_an_integer_vector():
    # [2, 2] ids: a raw DynamicPartition / UpperBound error with several shards (rows of shape
    # [2, 2, D] with one); float ids a raw error too.
    from w2v_tf import shards as sh
    w, _ = _table()
    for ids in (tf.constant([[1, 7], [3, 9]], tf.int64), tf.constant([1.0, 2.0])):
        with pytest.raises(ValueError, match=r"`ids` must be an integer vector \[n\]"):
            sh.lookup(_split(w, [10, 13]), ids, "div")
