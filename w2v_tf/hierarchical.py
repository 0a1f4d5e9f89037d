"""Hierarchical softmax over a Huffman tree, as word2vec.c builds it.

Morin & Bengio (2005) replace the V-way softmax by a walk down a binary tree; Mikolov et al.
(2013, "Distributed Representations", Sec. 2.1) use a Huffman tree so that frequent words get
short paths. With inner-node vectors v_n and a context vector h, each inner node n on the path
of word w makes a binary decision, and

    log P(w | h) = sum_{j < L(w)} log sigmoid((1 - 2 c_j) * v_{n_j} . h)        (1)

where c_j in {0, 1} is bit j of w's code and n_j the j-th inner node on its path from the root.

Sign convention (that of word2vec.c): in `TrainModelThreadHS`, `f = sigmoid(v . h)` and the
update is `g = (1 - code - f) * alpha`, i.e. gradient ascent on log sigmoid with target
t = 1 - code. So code bit 0 means "go with sigmoid(+v.h)" (target 1) and code bit 1 means
"go with sigmoid(-v.h)" (target 0). At every inner node the two children get
sigmoid(x) + sigmoid(-x) = 1, hence sum_w P(w | h) = 1 exactly (tested).

Gradients of the loss L = -log P(w | h) (the analytic form checked against autodiff in
tests/test_hierarchical.py), for node n on the path with target t_n = 1 - c_n:

    dL/dv_n = (sigmoid(v_n . h) - t_n) h,     dL/dh = sum_n (sigmoid(v_n . h) - t_n) v_n.   (2)

Public API:
    build_huffman_tree(counts) -> HuffmanTree
    hierarchical_softmax_loss(inner_vectors, h, words, tree) -> [B] negative log-likelihood
    HierarchicalSoftmax(tree): Keras layer owning inner_vectors [V-1, dim]; call(h, words) -> [B]
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from w2v_tf.sampled_logits import _in_xla, dense, nan_where_invalid

MAX_CODE_LENGTH = 40  # word2vec.c's MAX_CODE_LENGTH: fixed-size code/point arrays per word.


@dataclasses.dataclass(eq=False)
class HuffmanTree:
    """A Huffman tree over V words, with word2vec.c's codes and inner-node indices.

    Inner nodes are numbered as in word2vec.c: the j-th merge creates inner node j, so the
    root is V - 2 and every path starts there. That numbering makes `inner_vectors[n]` the
    same row as word2vec.c's `syn1[n]`, so trained word2vec.c weights can be loaded as is.

    Attributes:
        counts: float64 `[V]`, the counts the tree was built from (in the caller's id order).
        code_lengths: int32 `[V]`, L(w), the depth of word w's leaf.
        padded_codes: int32 `[V, max_len]`; `padded_codes[w, j]` is bit j of w's code, root
            first, right-padded with 0.
        padded_points: int32 `[V, max_len]`; `padded_points[w, j]` is the inner node (in
            0..V-2) deciding bit j, so column 0 is V - 2 (the root); padded with 0 (a valid row,
            masked out).
        mask: bool `[V, max_len]`, True on the real path positions (j < L(w)).
        codes: (cached property) list of V uint8 arrays, the ragged codes.
        points: (cached property) list of V int32 arrays, the ragged inner-node paths.
    """

    counts: np.ndarray
    code_lengths: np.ndarray
    padded_codes: np.ndarray
    padded_points: np.ndarray
    mask: np.ndarray
    _tensors: tuple | None = dataclasses.field(default=None, repr=False)

    @functools.cached_property
    def codes(self) -> list[np.ndarray]:
        """Ragged codes: `codes[w]` is uint8 `[L(w)]`, root first."""
        return [row[:n].astype(np.uint8) for row, n in zip(self.padded_codes, self.code_lengths)]

    @functools.cached_property
    def points(self) -> list[np.ndarray]:
        """Ragged paths: `points[w]` is int32 `[L(w)]`, inner-node ids from the root (V-2)."""
        return [row[:n].copy() for row, n in zip(self.padded_points, self.code_lengths)]

    @property
    def num_words(self) -> int:
        """V, the number of leaves."""
        return int(self.code_lengths.shape[0])

    @property
    def num_inner_nodes(self) -> int:
        """V - 1, the number of inner nodes (rows of the inner-vector matrix)."""
        return self.num_words - 1

    @property
    def max_code_length(self) -> int:
        """The longest code, i.e. the padded width."""
        return int(self.padded_codes.shape[1])

    def expected_code_length(self) -> float:
        """sum_w p_w L(w) with p_w = counts_w / sum(counts): the mean path length per token."""
        return float(np.dot(self.counts, self.code_lengths) / self.counts.sum())

    def as_tensors(self) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        """(padded_codes, padded_points, mask, code_lengths) as TF constants, made once.

        Made eagerly (`tf.init_scope`) even when first asked for inside a `tf.function`, so
        that the cached tensors belong to no graph and every later trace can capture them.
        """
        if self._tensors is None:
            with tf.init_scope():
                self._tensors = (tf.constant(self.padded_codes),
                                 tf.constant(self.padded_points),
                                 tf.constant(self.mask), tf.constant(self.code_lengths))
        return self._tensors


def _check_counts(counts) -> np.ndarray:
    arr = np.asarray(counts)
    if arr.ndim != 1:
        raise ValueError(f"counts must be 1-D (one count per word id), got shape {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"counts must hold at least 2 words to form a tree, got {arr.shape[0]}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"counts must be numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        bad = arr[~(np.isfinite(arr) & (arr >= 0))][:3]
        raise ValueError(f"counts must be finite and >= 0, got values such as {bad.tolist()}")
    if not arr.sum() > 0:   # no word frequencies: expected_code_length would be 0/0
        raise ValueError(f"counts are all 0 ({arr.shape[0]} words); expected at least one "
                         "positive count (the tree weighs words by their frequency)")
    return arr


def build_huffman_tree(counts: Sequence[float] | np.ndarray,
                       max_code_length: int = MAX_CODE_LENGTH) -> HuffmanTree:
    """Builds word2vec.c's Huffman tree (`CreateBinaryTree`) from word counts.

    word2vec.c sorts its vocabulary by decreasing count and then merges with two pointers in
    O(V): `pos1` walks the leaves from the rarest up, `pos2` walks the inner nodes in the order
    they were created (their counts never decrease), and each step takes the two smallest,
    the first (`min1i`) getting bit 0 and the second (`min2i`) bit 1 (`binary[min2i] = 1`).
    On ties the inner node is taken (`count[pos1] < count[pos2]` is strict).

    Any id order is accepted: ids are stably sorted by decreasing count, the tree is built on
    that order, and the result is mapped back to the caller's ids. Our vocabularies are
    already sorted by decreasing frequency, in which case the tree is exactly word2vec.c's.

    Args:
        counts: `[V]` non-negative counts (or frequencies), V >= 2, any order.
        max_code_length: the deepest path allowed (word2vec.c: 40, the size of its arrays).

    Returns:
        A `HuffmanTree`.

    Raises:
        ValueError: counts not 1-D, fewer than 2 words, negative or non-finite, all zero, or a code
            longer than `max_code_length` (word2vec.c would write past its arrays).
        TypeError: counts not numeric.
    """
    counts = _check_counts(counts)
    if isinstance(max_code_length, bool) or not isinstance(max_code_length, (int, np.integer)) \
            or max_code_length < 1:
        raise ValueError(f"max_code_length must be a positive int, got {max_code_length!r}")
    v = counts.shape[0]
    order = np.argsort(-counts, kind="stable")          # sorted position -> caller's id
    # Nodes 0..V-1 are the leaves in sorted order, V..2V-2 the inner nodes in creation order;
    # counts of not-yet-created inner nodes are +inf (word2vec.c uses 1e15).
    count = np.concatenate([counts[order], np.full(v - 1, np.inf)]).tolist()
    parent = [0] * (2 * v - 1)
    binary = [0] * (2 * v - 1)
    pos1, pos2 = v - 1, v                                # rarest leaf, oldest inner node
    for a in range(v - 1):
        # The two smallest of {leaf pos1, inner node pos2}; ties go to the inner node.
        if pos1 >= 0 and count[pos1] < count[pos2]:
            min1i, pos1 = pos1, pos1 - 1
        else:
            min1i, pos2 = pos2, pos2 + 1
        if pos1 >= 0 and count[pos1] < count[pos2]:
            min2i, pos1 = pos1, pos1 - 1
        else:
            min2i, pos2 = pos2, pos2 + 1
        count[v + a] = count[min1i] + count[min2i]       # merged node's count
        parent[min1i] = parent[min2i] = v + a
        binary[min2i] = 1                                # second-smallest child gets bit 1
    root = 2 * v - 2
    parent_arr, binary_arr = np.array(parent), np.array(binary, np.int32)

    # Walk all leaves up to the root at once; step s holds bit and node s above the leaf.
    node = np.arange(v)
    lengths = np.zeros(v, np.int32)
    bits_up, points_up = [], []
    while True:
        alive = node != root
        if not alive.any():
            break
        if len(bits_up) == max_code_length:
            deep = int(order[np.flatnonzero(alive)[0]])
            raise ValueError(
                f"counts give codes longer than max_code_length={max_code_length} (e.g. word "
                f"id {deep}); word2vec.c's limit is {MAX_CODE_LENGTH}. Counts this skewed "
                f"(Fibonacci-like) need a larger max_code_length.")
        bits_up.append(np.where(alive, binary_arr[node], 0))
        node = np.where(alive, parent_arr[node], root)
        points_up.append(node - v)                       # inner node index in 0..V-2
        lengths += alive
    width = len(bits_up)
    # Reverse each leaf's path so that column j is depth j from the root:
    # root-first position j of a leaf of length L is leaf-first step L - 1 - j.
    step = lengths[:, None] - 1 - np.arange(width)[None, :]          # [V, width]
    mask_sorted = step >= 0
    step = np.maximum(step, 0)
    codes_sorted = np.take_along_axis(np.stack(bits_up, 1), step, 1) * mask_sorted
    points_sorted = np.take_along_axis(np.stack(points_up, 1), step, 1) * mask_sorted

    # Back to the caller's ids: sorted position i is word order[i].
    inverse = np.empty(v, np.int64)
    inverse[order] = np.arange(v)
    return HuffmanTree(counts=counts, code_lengths=lengths[inverse],
                       padded_codes=codes_sorted[inverse].astype(np.int32),
                       padded_points=points_sorted[inverse].astype(np.int32),
                       mask=mask_sorted[inverse])


def _check_h(inner_vectors, h, tree: HuffmanTree) -> tf.Tensor:
    """Validates the tree, h `[B, dim]` and inner_vectors `[V-1, dim]`; returns h as a tensor."""
    if not isinstance(tree, HuffmanTree):
        raise TypeError(f"tree must be a HuffmanTree (see build_huffman_tree), got {type(tree)}")
    h = tf.convert_to_tensor(dense(h, "h", "[batch, dim]"))
    if not h.dtype.is_floating:
        raise TypeError(f"h must be a float tensor [batch, dim], got dtype {h.dtype.name}")
    if h.shape.rank != 2:
        raise ValueError(f"h must have shape [batch, dim], got shape {h.shape}")
    want = tf.TensorShape([tree.num_inner_nodes, h.shape[1]])
    got = tf.TensorShape(inner_vectors.shape if hasattr(inner_vectors, "shape")
                         else np.shape(inner_vectors))
    # Dims unknown when traced (None) are not compared: they cannot be checked before running.
    if not got.is_compatible_with(want):
        raise ValueError(f"inner_vectors must have shape [V-1, dim] = {want.as_list()}, got "
                         f"{got.as_list() if got.rank is not None else got}")
    return h


def _check_words(words, h: tf.Tensor, tree: HuffmanTree) -> tf.Tensor:
    """Validates words `[B]` or `[B, 1]` (ids in [0, V), checked eagerly); returns int32 [B]."""
    words = tf.convert_to_tensor(dense(words, "words", "[batch] or [batch, 1]"))
    if not words.dtype.is_integer:
        raise TypeError(f"words must be integer word ids, got dtype {words.dtype.name}")
    if words.shape.rank == 2 and words.shape[1] == 1:
        words = words[:, 0]
    if words.shape.rank != 1:
        raise ValueError(f"words must have shape [batch] or [batch, 1], got shape {words.shape}")
    if h.shape[0] is not None and words.shape[0] is not None and h.shape[0] != words.shape[0]:
        raise ValueError(f"h and words must have the same batch size, got h {h.shape} "
                         f"and words {words.shape}")
    if tf.executing_eagerly() and tf.size(words) > 0:
        # tf.gather returns zeros for out-of-range ids on GPU: check eagerly, never silently.
        lo, hi = int(tf.reduce_min(words)), int(tf.reduce_max(words))
        if lo < 0 or hi >= tree.num_words:
            raise ValueError(f"words must be ids in [0, {tree.num_words}), got values in "
                             f"[{lo}, {hi}]")
    elif not _in_xla():   # in a graph: one assertion (XLA cannot assert: see the loss)
        ok = tf.reduce_all(tf.cast(words, tf.uint64) < tf.constant(tree.num_words, tf.uint64))
        check = tf.raw_ops.Assert(condition=ok, data=[tf.constant(
            f"words must be ids in [0, {tree.num_words})")], summarize=1)
        with tf.control_dependencies([check]):
            words = tf.identity(words)
    return tf.cast(words, tf.int32)


def _path_logits(inner_vectors, h, words, tree: HuffmanTree):
    """x_{b,j} = v_{n_j(w_b)} . h_b with the signs and mask of each example's path.

    Returns:
        (x [B, L], sign [B, L], mask [B, L]) with sign = 1 - 2 c (float, h's dtype).
    """
    codes, points, mask, _ = tree.as_tensors()
    path_nodes = tf.gather(points, words)                            # [B, L]
    path_vectors = tf.gather(inner_vectors, path_nodes)              # [B, L, dim]
    x = tf.einsum("bld,bd->bl", tf.cast(path_vectors, h.dtype), h)   # [B, L]
    sign = 1.0 - 2.0 * tf.cast(tf.gather(codes, words), h.dtype)     # [B, L], +1 for bit 0
    return x, sign, tf.gather(mask, words)


def hierarchical_softmax_loss(inner_vectors, h, words, tree: HuffmanTree) -> tf.Tensor:
    """Per-example negative log-likelihood -log P(w | h) of Eq. (1), the word2vec HS loss.

    The function form of `HierarchicalSoftmax` for a training loop that owns its variables:
    `loss = tf.reduce_mean(hierarchical_softmax_loss(syn1, h, targets, tree))`. Padded path
    positions are masked; the work is `[B, max_code_length, dim]` regardless of V's other words.

    Args:
        inner_vectors: `[V-1, dim]` float, word2vec.c's `syn1` (row n = inner node n).
        h: `[B, dim]` float, the context (skip-gram: input vector of the centre word; CBOW:
            mean of the context input vectors).
        words: `[B]` or `[B, 1]` integer ids of the predicted words, in [0, V).
        tree: the `HuffmanTree` from `build_huffman_tree`.

    Returns:
        `[B]` tensor of -log P(words | h) in h's dtype (not reduced over the batch).

    Raises:
        TypeError / ValueError: wrong types, shapes, or (eagerly) ids outside [0, V). In a
            `tf.function` such ids fail an assertion; under XLA (which can do neither) their
            loss is NaN, so training shows it.
    """
    h = _check_h(inner_vectors, h, tree)
    words = _check_words(words, h, tree)
    x, sign, mask = _path_logits(inner_vectors, h, words, tree)
    # -log sigmoid(s x) = softplus(-s x), summed over the real path positions.
    node_nll = tf.math.softplus(-sign * x)                           # [B, L]
    loss = tf.reduce_sum(tf.where(mask, node_nll, tf.zeros_like(node_nll)), axis=1)
    if _in_xla():   # XLA's gather clamps a bad id silently: NaN loss for it instead
        loss = nan_where_invalid(loss[:, None], words[:, None], tree.num_words)[:, 0]
    return loss


def all_log_probs(inner_vectors, h, tree: HuffmanTree) -> tf.Tensor:
    """log P(w | h) for every word: `[B, V]`, each row's exp sums to 1.

    Computes all inner-node logits once, X = h V^T `[B, V-1]`, then gathers each word's path
    from X: memory `[B, V, max_code_length]`, meant for evaluation and tests, not training.

    Args:
        inner_vectors: `[V-1, dim]` float.
        h: `[B, dim]` float.
        tree: the `HuffmanTree`.

    Returns:
        `[B, V]` log-probabilities in h's dtype.
    """
    h = _check_h(inner_vectors, h, tree)
    codes, points, mask, _ = tree.as_tensors()
    node_logits = tf.matmul(h, tf.cast(inner_vectors, h.dtype), transpose_b=True)  # [B, V-1]
    x = tf.gather(node_logits, points, axis=1)                       # [B, V, L]
    sign = 1.0 - 2.0 * tf.cast(codes, h.dtype)                       # [V, L]
    node_log_p = tf.math.log_sigmoid(sign * x)                       # [B, V, L], Eq. (1)
    return tf.reduce_sum(tf.where(mask, node_log_p, tf.zeros_like(node_log_p)), axis=2)


@keras.saving.register_keras_serializable(package="w2v_tf")
class HierarchicalSoftmax(keras.layers.Layer):
    """Keras layer: hierarchical softmax loss over a Huffman tree (word2vec `-hs 1`).

    Owns the inner-node vectors `inner_vectors` `[V-1, dim]`, initialised to zero as in
    word2vec.c (so every word starts at P = 2^-L(w)). See the module docstring for the
    sign convention (code bit 0 -> sigmoid(+v.h)) and the gradient formulas.

    Example (a functional model; the layer adds its loss, so `compile` needs none):
        tree = build_huffman_tree(counts)                  # counts [V], any order
        h = keras.Input((dim,)); w = keras.Input((1,), dtype="int64", optional=True)
        model = keras.Model([h, w], HierarchicalSoftmax(tree)(h, w))
        model.compile("adam"); model.fit([H, W]); model.evaluate([H, W])
        model.predict([H, None])                           # log P(w | h) [N, V]

    Unlike a sampled loss the hierarchical softmax is exact, so training and evaluation
    report the same quantity: `fit`'s `loss`, `val_loss` and `evaluate`'s `loss` are all the
    mean of -log P(words | h).

    Args:
        tree: the `HuffmanTree`.
        inner_initializer: Keras initializer for `inner_vectors` (default "zeros").
        add_loss: with `words`, also add the batch mean of the loss with `add_loss`
            (default True: what `fit` / `evaluate` without a compiled loss need). False for
            a caller that reduces the returned `[B]` loss itself.
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Call args:
        h: `[B, dim]` float context vectors.
        words: `[B]` or `[B, 1]` integer target ids, or None.

    Returns (call):
        With `words`: `[B]` negative log-likelihood -log P(words | h). Without: `[B, V]`
        log P(w | h) of every word (`all_log_probs`; for prediction and serving, memory
        `[B, V, max_code_length]`).
    """

    def __init__(self, tree: HuffmanTree, inner_initializer="zeros", add_loss: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        if not isinstance(tree, HuffmanTree):
            raise TypeError(f"tree must be a HuffmanTree (see build_huffman_tree), got "
                            f"{type(tree)}")
        self.tree = tree
        self.inner_initializer = keras.initializers.get(inner_initializer)
        self.add_loss_to_model = bool(add_loss)

    def build(self, h_shape, words_shape=None):
        dim = h_shape[-1]
        if dim is None:
            raise ValueError(f"h's last dimension must be known to build the layer, got "
                             f"shape {h_shape}")
        self.inner_vectors = self.add_weight(
            shape=(self.tree.num_inner_nodes, dim), initializer=self.inner_initializer,
            name="inner_vectors")

    def _ensure_built(self, h):
        if not self.built:
            self.build(tuple(tf.convert_to_tensor(h).shape))
            self.built = True

    def call(self, h, words=None):
        if words is None:
            return all_log_probs(self.inner_vectors, h, self.tree)
        loss = hierarchical_softmax_loss(self.inner_vectors, h, words, self.tree)
        if self.add_loss_to_model:
            self.add_loss(tf.reduce_mean(loss))
        return loss

    def log_prob(self, h, words) -> tf.Tensor:
        """log P(words | h), `[B]` (the negative of `call`)."""
        self._ensure_built(h)
        return -hierarchical_softmax_loss(self.inner_vectors, h, words, self.tree)

    def all_log_probs(self, h) -> tf.Tensor:
        """log P(w | h) for all V words, `[B, V]`; see the module-level `all_log_probs`."""
        self._ensure_built(h)
        return all_log_probs(self.inner_vectors, h, self.tree)

    def compute_output_shape(self, h_shape, words_shape=None):
        return (h_shape[0],) if words_shape is not None else (h_shape[0], self.tree.num_words)

    def get_config(self):
        config = super().get_config()
        config.update(counts=self.tree.counts.tolist(), add_loss=self.add_loss_to_model,
                      max_code_length=max(MAX_CODE_LENGTH, self.tree.max_code_length),
                      inner_initializer=keras.initializers.serialize(self.inner_initializer))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        tree = build_huffman_tree(config.pop("counts"), config.pop("max_code_length"))
        config["inner_initializer"] = keras.initializers.deserialize(
            config["inner_initializer"])
        return cls(tree, **config)
