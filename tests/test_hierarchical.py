"""Oracle tests for w2v_tf.hierarchical: the Huffman tree and the hierarchical softmax loss.

Oracles: a hand trace of word2vec.c's CreateBinaryTree, an independent heapq Huffman code
(optimal expected length), Shannon's bound, a per-word numpy walk of Eq. (1), the analytic
gradients of Eq. (2) and tf.GradientTape.
"""
import heapq
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from w2v_tf.hierarchical import (MAX_CODE_LENGTH, HierarchicalSoftmax, HuffmanTree,
                                 all_log_probs, build_huffman_tree, hierarchical_softmax_loss)


def make_counts(kind: str, v: int, seed: int) -> np.ndarray:
    """Word counts of several shapes: Zipf by rank, random with ties, random shuffled."""
    rng = np.random.default_rng(seed)
    if kind == "zipf":            # sorted, as our vocabularies are: c_r ~ 1e6 / r
        return np.maximum(1, (1e6 / np.arange(1, v + 1))).astype(np.int64)
    if kind == "ties":            # small integers, many equal counts, unsorted
        return rng.integers(1, 5, size=v)
    if kind == "shuffled":        # wide range, unsorted
        return rng.permutation(rng.integers(1, 10**6, size=v))
    raise ValueError(kind)


COUNT_CASES = [(kind, v, seed) for kind in ("zipf", "ties", "shuffled")
               for v in (2, 3, 17, 500) for seed in (0, 1)][:-1] + [("zipf", 3000, 0)]


def heapq_huffman_lengths(counts) -> np.ndarray:
    """Independent Huffman construction: code length of each word via a binary heap."""
    counter = itertools.count()
    heap = [(c, next(counter), [w]) for w, c in enumerate(counts)]
    heapq.heapify(heap)
    depth = np.zeros(len(counts), np.int64)
    while len(heap) > 1:
        c1, _, words1 = heapq.heappop(heap)
        c2, _, words2 = heapq.heappop(heap)
        depth[words1 + words2] += 1           # every leaf below the merge gets one level deeper
        heapq.heappush(heap, (c1 + c2, next(counter), words1 + words2))
    return depth


def test_hand_traced_word2vec_c_example():
    # Traced by hand through word2vec.c's CreateBinaryTree with counts {5, 3, 2, 1}:
    # merges (3,2)->inner 0 [count 3], (inner 0, word 1)->inner 1 [6], (word 0, inner 1)->2.
    tree = build_huffman_tree([5, 3, 2, 1])
    assert [c.tolist() for c in tree.codes] == [[0], [1, 1], [1, 0, 1], [1, 0, 0]]
    assert [p.tolist() for p in tree.points] == [[2], [2, 1], [2, 1, 0], [2, 1, 0]]
    assert tree.code_lengths.tolist() == [1, 2, 3, 3]
    # Any id order: the same words, permuted, get the same codes.
    perm = build_huffman_tree([1, 3, 5, 2])
    assert [c.tolist() for c in perm.codes] == [[1, 0, 0], [1, 1], [0], [1, 0, 1]]


@pytest.mark.parametrize("kind,v,seed", COUNT_CASES)
def test_codes_are_prefix_free_and_form_a_full_binary_tree(kind, v, seed):
    tree = build_huffman_tree(make_counts(kind, v, seed))
    words = ["".join(map(str, c)) for c in tree.codes]
    assert len(set(words)) == v
    ordered = sorted(words)
    # In lexicographic order a code that is a prefix of another is followed by one of them.
    assert not any(b.startswith(a) for a, b in zip(ordered, ordered[1:]))
    # Kraft equality sum 2^-L = 1 holds exactly for a full binary tree (no wasted branch).
    assert sum(2.0 ** -len(w) for w in words) == 1.0


@pytest.mark.parametrize("kind,v,seed", COUNT_CASES)
def test_points_name_the_inner_nodes_of_the_code_prefixes(kind, v, seed):
    tree = build_huffman_tree(make_counts(kind, v, seed))
    node_of_prefix = {}
    for code, point in zip(tree.codes, tree.points):
        assert len(code) == len(point) >= 1 and point[0] == v - 2      # root first
        for j in range(len(code)):
            prefix = tuple(code[:j])
            assert node_of_prefix.setdefault(prefix, int(point[j])) == point[j]
    # One inner node per distinct prefix, all V-1 of them, numbered 0..V-2.
    assert sorted(node_of_prefix.values()) == list(range(v - 1))
    # Padded arrays agree with the ragged ones and the mask.
    assert tree.mask.sum(1).tolist() == tree.code_lengths.tolist()
    for w in range(v):
        n = tree.code_lengths[w]
        assert tree.padded_codes[w, :n].tolist() == tree.codes[w].tolist()
        assert tree.padded_points[w, :n].tolist() == tree.points[w].tolist()
        assert not tree.padded_codes[w, n:].any() and not tree.padded_points[w, n:].any()


@pytest.mark.parametrize("kind,v,seed", COUNT_CASES)
def test_expected_code_length_is_optimal_and_within_shannon_bound(kind, v, seed):
    counts = make_counts(kind, v, seed)
    tree = build_huffman_tree(counts)
    # All Huffman codes are optimal, so sum_w c_w L_w is the same integer for any tie-breaking.
    assert int(np.dot(counts, tree.code_lengths)) == int(np.dot(counts, heapq_huffman_lengths(
        counts.tolist())))
    p = counts / counts.sum()
    entropy = float(-(p * np.log2(p)).sum())
    expected = tree.expected_code_length()
    assert entropy - 1e-12 <= expected < entropy + 1.0


def test_unsorted_counts_give_the_sorted_tree_permuted():
    rng = np.random.default_rng(3)
    counts = np.sort(rng.choice(10**6, size=200, replace=False))[::-1] + 1    # distinct
    perm = rng.permutation(200)
    sorted_tree = build_huffman_tree(counts)
    perm_tree = build_huffman_tree(counts[perm])
    np.testing.assert_array_equal(perm_tree.padded_codes, sorted_tree.padded_codes[perm])
    np.testing.assert_array_equal(perm_tree.padded_points, sorted_tree.padded_points[perm])


def test_code_length_limit_is_word2vec_c_s_40():
    fib = [1, 1]
    while len(fib) < 42:
        fib.append(fib[-1] + fib[-2])
    # Fibonacci counts give the most skewed tree: depth V - 1.
    assert build_huffman_tree(fib[:41]).max_code_length == MAX_CODE_LENGTH == 40
    with pytest.raises(ValueError, match="max_code_length=40"):
        build_huffman_tree(fib)
    assert build_huffman_tree(fib, max_code_length=41).max_code_length == 41


@pytest.mark.parametrize("counts,error,match", [
    ([[1, 2], [3, 4]], ValueError, "1-D"),
    ([7], ValueError, "at least 2"),
    ([3, -1, 2], ValueError, ">= 0"),
    ([3, float("nan")], ValueError, "finite"),
    (["a", "b"], TypeError, "numbers"),
])
def test_bad_counts_are_rejected(counts, error, match):
    with pytest.raises(error, match=match):
        build_huffman_tree(counts)


def numpy_log_prob(inner, h, word, tree) -> float:
    """Eq. (1) by walking the ragged path of one word: sum_j log sigmoid((1 - 2 c_j) v.h)."""
    total = 0.0
    for c, n in zip(tree.codes[word], tree.points[word]):
        x = (1 - 2 * int(c)) * float(inner[n] @ h)
        total += -np.logaddexp(0.0, -x)
    return total


def random_setup(v, dim, batch, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    tree = build_huffman_tree(make_counts("zipf", v, seed))
    inner = rng.normal(scale=0.5, size=(v - 1, dim)).astype(dtype)
    h = rng.normal(size=(batch, dim)).astype(dtype)
    words = rng.integers(0, v, size=batch)
    return tree, inner, h, words


@pytest.mark.parametrize("v,dim,seed", [(2, 3, 0), (17, 8, 1), (500, 16, 2), (3000, 32, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_probabilities_of_all_words_sum_to_one(v, dim, seed, dtype):
    tree, inner, h, _ = random_setup(v, dim, 8, seed, dtype)
    log_p = np.asarray(all_log_probs(tf.constant(inner), tf.constant(h), tree), np.float64)
    assert log_p.shape == (8, v)
    # float32 rounding of V terms each ~1/V, summed in float64: error ~ 1e-7, far below 1e-5.
    np.testing.assert_allclose(np.exp(log_p).sum(axis=1), 1.0, rtol=0, atol=1e-5)


@pytest.mark.parametrize("v,dim,seed", [(3, 4, 0), (60, 8, 1), (700, 16, 2)])
def test_loss_matches_a_numpy_walk_of_each_path(v, dim, seed):
    tree, inner, h, words = random_setup(v, dim, 16, seed)
    loss = hierarchical_softmax_loss(tf.constant(inner), tf.constant(h), words, tree).numpy()
    want = [-numpy_log_prob(inner, h[b], words[b], tree) for b in range(16)]
    np.testing.assert_allclose(loss, want, rtol=1e-12, atol=1e-12)
    # all_log_probs agrees at the target words; [B, 1] ids give the same loss.
    full = all_log_probs(tf.constant(inner), tf.constant(h), tree).numpy()
    np.testing.assert_allclose(full[np.arange(16), words], -loss, rtol=1e-12, atol=1e-12)
    loss_2d = hierarchical_softmax_loss(inner, h, words[:, None], tree).numpy()
    np.testing.assert_array_equal(loss_2d, loss)


@pytest.mark.parametrize("v,dim,batch,seed", [(5, 3, 4, 0), (80, 8, 32, 1), (1000, 16, 64, 2)])
def test_gradients_equal_autodiff(v, dim, batch, seed):
    tree, inner, h, words = random_setup(v, dim, batch, seed)
    words[: batch // 2] = words[0]                        # repeated targets share path nodes
    # Analytic Eq. (2): for each path node, g = sigmoid(v.h) - t with t = 1 - code.
    d_inner = np.zeros_like(inner)
    d_h = np.zeros_like(h)
    for b, w in enumerate(words):
        for c, n in zip(tree.codes[w], tree.points[w]):
            g = 1.0 / (1.0 + np.exp(-inner[n] @ h[b])) - (1 - int(c))
            d_inner[n] += g * h[b]
            d_h[b] += g * inner[n]

    layer = HierarchicalSoftmax(tree, dtype="float64")
    h_var = tf.Variable(h)
    layer.build(h.shape)
    layer.inner_vectors.assign(inner)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(h_var, words))
    tape_inner, tape_h = tape.gradient(loss, [layer.inner_vectors, h_var])
    np.testing.assert_allclose(tf.convert_to_tensor(tape_inner).numpy(), d_inner,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tape_h.numpy(), d_h, rtol=1e-10, atol=1e-12)


def test_layer_starts_at_zero_like_word2vec_and_log_prob_is_minus_the_loss():
    tree = build_huffman_tree(make_counts("zipf", 300, 0))
    layer = HierarchicalSoftmax(tree)
    h = np.random.default_rng(0).normal(size=(5, 12)).astype(np.float32)
    words = np.array([0, 1, 50, 299, 7])
    # Zero inner vectors: every node says 1/2, so P(w) = 2^-L(w).
    np.testing.assert_allclose(layer(h, words).numpy(),
                               tree.code_lengths[words] * np.log(2.0), rtol=1e-6)
    np.testing.assert_array_equal(layer.log_prob(h, words).numpy(), -layer(h, words).numpy())
    assert layer.all_log_probs(h).shape == (5, 300)


def test_graph_mode_and_a_keras_model_round_trip(tmp_path):
    tree, inner, h, words = random_setup(200, 8, 10, 4, np.float32)
    # First use inside a tf.function (the tree's cached constants must not belong to it) ...
    graph_fn = tf.function(lambda a, b, c: hierarchical_softmax_loss(a, b, c, tree))
    graph = graph_fn(tf.constant(inner), tf.constant(h), tf.constant(words))
    # ... then eagerly and in a second trace (another batch size).
    eager = hierarchical_softmax_loss(inner, h, words, tree)
    np.testing.assert_allclose(graph.numpy(), eager.numpy(), rtol=1e-6)
    np.testing.assert_allclose(graph_fn(inner[:, :], h[:3], words[:3]).numpy(),
                               eager.numpy()[:3], rtol=1e-6)

    h_in = keras.Input((8,))
    w_in = keras.Input((1,), dtype="int32")
    layer = HierarchicalSoftmax(tree, inner_initializer=keras.initializers.RandomNormal(seed=1))
    model = keras.Model([h_in, w_in], layer(h_in, w_in))
    layer.inner_vectors.assign(inner)
    path = tmp_path / "hs.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    out = loaded.predict([h, words[:, None]], verbose=0)
    np.testing.assert_allclose(out, eager.numpy(), rtol=1e-5, atol=1e-6)


def test_a_few_sgd_steps_fit_the_targets():
    # Usable as a loss: with h fixed, gradient descent on inner vectors lowers -log P.
    tree, _, h, words = random_setup(50, 64, 32, 5, np.float32)
    layer = HierarchicalSoftmax(tree)
    opt = keras.optimizers.SGD(learning_rate=0.5)
    first = float(tf.reduce_mean(layer(h, words)))
    for _ in range(30):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(layer(h, words))
        opt.apply_gradients(zip(tape.gradient(loss, layer.trainable_variables),
                                layer.trainable_variables))
    # Starts at mean L(w) log 2 (~4.5 nats); with dim 64 > 32 examples every node's decisions
    # are separable, so 30 steps take the loss below a tenth of that.
    assert float(loss) < 0.1 * first


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(words=np.array([0, 50])), ValueError, r"ids in \[0, 50\)"),
    (dict(words=np.array([0, -1])), ValueError, r"ids in \[0, 50\)"),
    (dict(words=np.array([0.0, 1.0])), TypeError, "integer"),
    (dict(words=np.array([[0, 1]])), ValueError, r"\[batch\] or \[batch, 1\]"),
    (dict(words=np.array([0, 1, 2])), ValueError, "same batch size"),
    (dict(h=np.zeros((2, 4, 1))), ValueError, r"\[batch, dim\]"),
    (dict(h=np.zeros((2, 4), np.int32)), TypeError, "float"),
    (dict(inner=np.zeros((50, 4))), ValueError, r"\[V-1, dim\]"),
    (dict(tree="not a tree"), TypeError, "HuffmanTree"),
    (dict(inner=np.zeros((50, 4)).tolist()), ValueError, r"\[V-1, dim\]"),   # was AttributeError
    (dict(words=tf.ragged.constant([[0], [1]])), ValueError, "`words` is a RaggedTensor"),
    (dict(h=tf.ragged.constant([[0.0] * 4, [0.0] * 4])), ValueError, "`h` is a RaggedTensor"),
])
def test_bad_inputs_are_rejected_with_the_argument_named(kwargs, error, match):
    args = dict(inner=np.zeros((49, 4)), h=np.zeros((2, 4)), words=np.array([0, 1]),
                tree=build_huffman_tree(np.arange(50, 0, -1)))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        hierarchical_softmax_loss(args["inner"], args["h"], args["words"], args["tree"])


def test_tree_type_is_checked_by_the_layer():
    with pytest.raises(TypeError, match="HuffmanTree"):
        HierarchicalSoftmax([3, 2, 1])
    assert isinstance(build_huffman_tree([2, 1]), HuffmanTree)


def test_keras_workflows_fit_evaluate_predict_save(tmp_path):
    # The layer adds its exact loss: fit, validation and evaluate need no compiled loss and
    # all report mean -log P(w | h); predict without words gives log P of every word.
    tree, inner, h, words = random_setup(40, 6, 64, 7, np.float32)
    keras.utils.set_random_seed(0)
    h_in = keras.Input((6,))
    w_in = keras.Input((1,), dtype="int64", optional=True)
    model = keras.Model([h_in, w_in], HierarchicalSoftmax(tree, name="hs")(h_in, w_in))
    model.compile(keras.optimizers.Adam(0.05))
    hist = model.fit([h, words[:, None]], validation_split=0.25, epochs=3, batch_size=16,
                     verbose=0).history
    assert set(hist) == {"loss", "val_loss"} and hist["loss"][-1] < hist["loss"][0]
    layer = model.get_layer("hs")
    nll = hierarchical_softmax_loss(layer.inner_vectors, h, words, tree).numpy()
    assert model.evaluate([h, words[:, None]], batch_size=64, verbose=0) == pytest.approx(
        nll.mean(), rel=1e-5)
    log_p = model.predict([h, None], verbose=0)
    assert log_p.shape == (64, 40)
    np.testing.assert_allclose(log_p[np.arange(64), words], -nll, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "hs.keras")
    loaded = keras.models.load_model(tmp_path / "hs.keras")
    assert loaded.get_layer("hs").get_config() == layer.get_config()
    np.testing.assert_array_equal(loaded.predict([h, None], verbose=0), log_p)


def test_add_loss_false_leaves_the_reduction_to_the_caller():
    tree, inner, h, words = random_setup(20, 4, 8, 8, np.float32)
    for add in (True, False):
        layer = HierarchicalSoftmax(tree, add_loss=add)
        out = layer(h, words)
        assert out.shape == (8,) and len(layer.losses) == int(add)
        assert HierarchicalSoftmax.from_config(layer.get_config()).add_loss_to_model is add
    spec = layer.compute_output_spec(keras.KerasTensor((8, 4)), None)
    assert spec.shape == tuple(layer(h).shape) == (8, 20)


def test_inner_vectors_as_a_python_list_work_like_an_array():
    # (was an AttributeError on .shape) A list of floats converts to float32, as TF converts.
    tree, inner, h, words = random_setup(20, 4, 6, 3, np.float32)
    np.testing.assert_array_equal(hierarchical_softmax_loss(inner.tolist(), h, words, tree),
                                  hierarchical_softmax_loss(inner, h, words, tree))


def test_all_zero_counts_are_refused():
    # expected_code_length() was 0/0 = NaN for such a tree
    with pytest.raises(ValueError, match="counts are all 0"):
        build_huffman_tree([0, 0, 0, 0])
    assert build_huffman_tree([0, 0, 3, 0]).expected_code_length() > 0


@pytest.mark.parametrize("bad", [50, -1])
def test_out_of_range_words_assert_in_a_graph_and_give_nan_under_xla(bad):
    # Inside tf.function the gather raised a raw GatherV2 error (CPU) or read zeros (GPU);
    # under XLA it clamps the id silently.
    tree, inner, h, words = random_setup(50, 4, 3, 5, np.float32)
    wrong = tf.constant([int(words[0]), bad, int(words[2])], tf.int64)
    call = lambda w: hierarchical_softmax_loss(inner, h[:3], w, tree)   # noqa: E731
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"words must be ids in \[0, 50\)"):
        tf.function(call)(wrong)
    xla = tf.function(call, jit_compile=True)
    ok, nan = xla(tf.constant(words[:3], tf.int64)).numpy(), xla(wrong).numpy()
    assert np.isnan(nan[1]) and np.all(np.isfinite(ok))
    np.testing.assert_array_equal(nan[[0, 2]], ok[[0, 2]])


@pytest.mark.parametrize("h_spec,inner_spec", [([None, None], [49, 8]), ([None, 8], [None, 8])])
def test_shapes_unknown_when_traced_are_not_refused(h_spec, inner_spec):
    # h traced as [None, None] (or inner vectors as [None, dim]) was refused with
    # "inner_vectors must have shape [V-1, dim] = [49, None], got [49, 8]": None compared
    # unequal to the known dim. Known dims are still checked (the test above).
    tree, inner, h, words = random_setup(50, 8, 6, 0, np.float32)
    fn = tf.function(lambda a, b, c: hierarchical_softmax_loss(a, b, c, tree),
                     input_signature=[tf.TensorSpec(inner_spec), tf.TensorSpec(h_spec),
                                      tf.TensorSpec([None], tf.int64)])
    eager = hierarchical_softmax_loss(inner, h, words, tree).numpy()
    np.testing.assert_allclose(fn(inner, h, words.astype(np.int64)).numpy(), eager,
                               rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[V-1, dim\] = \[49, 8\], got \[49, 7\]"):
        hierarchical_softmax_loss(np.zeros((49, 7), np.float32), h, words, tree)
