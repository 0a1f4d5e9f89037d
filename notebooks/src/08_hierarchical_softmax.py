# %% [markdown]
# # 8. Hierarchical softmax
#
# Hierarchical softmax ([层次softmax / 分层softmax](../docs/glossary.md#hierarchical-softmax); Morin & Bengio 2005) replaces the $V$-way
# softmax by a walk down a binary tree whose leaves are the words: each inner node makes one
# binary (logistic) decision, so the probability of a word costs one sigmoid per node on its
# path, $O(\log V)$ instead of $O(V)$. word2vec (`-hs 1`, Mikolov et al. 2013) uses a Huffman
# tree ([哈夫曼树](../docs/glossary.md#huffman-tree)), which gives frequent words short paths.
#
# The code is `w2v_tf/hierarchical.py`: `build_huffman_tree` (word2vec.c's O(V) two-pointer
# construction), `hierarchical_softmax_loss`, `all_log_probs` and the Keras layer
# `HierarchicalSoftmax`.

# %%
%matplotlib inline
import numpy as np
import pandas as pd
import tensorflow as tf
import matplotlib.pyplot as plt

from w2v_tf.study import derivations as d
from w2v_tf.word2vec.corpus import Vocabulary, load_corpus
from w2v_tf.hierarchical import all_log_probs, build_huffman_tree, hierarchical_softmax_loss

plt.rcParams["figure.dpi"] = 80
rng = np.random.default_rng(0)

# %% [markdown]
# ## The Huffman tree
#
# Huffman's algorithm merges the two least frequent nodes into a new inner node until one
# node (the root) is left. word2vec.c labels the second-smallest child of each merge with
# bit 1 and the smallest with bit 0; a word's **code** is the bits on its path from the root
# and its **points** are the inner nodes on that path (numbered in merge order, so the root
# is $V-2$). A toy vocabulary:

# %%
words = ["the", "road", "sun", "wide", "hot", "shimmered"]
counts = np.array([40, 15, 12, 10, 8, 3])
toy = build_huffman_tree(counts)
pd.DataFrame({"word": words, "count": counts,
              "code": ["".join(map(str, c)) for c in toy.codes],
              "points (inner nodes, root first)": [list(p) for p in toy.points],
              "L(w)": toy.code_lengths}).set_index("word")

# %% [markdown]
# ## Path probabilities and the sum-to-one identity
#
# Give every inner node $n$ a vector $v_n$ (word2vec.c's `syn1`) and let $h$ be the context
# vector (skip-gram: the centre word's input vector). At node $n_j$ on the path of $w$, with
# code bit $c_j$, go "with" $\sigma(+v_{n_j}\cdot h)$ if $c_j = 0$ and "with"
# $\sigma(-v_{n_j}\cdot h)$ if $c_j = 1$ (word2vec.c's sign convention):
#
# $$P(w \mid h) = \prod_{j=0}^{L(w)-1} \sigma\big((1 - 2c_j)\, v_{n_j}\cdot h\big).$$
#
# **Why it sums to one.** Call $m(n)$ the sum of $P(w\mid h)$ over the leaves below node $n$,
# each product taken from $n$ down. At an inner node $n$ with children $a$ (bit 0) and $b$
# (bit 1), $m(n) = \sigma(x)\,m(a) + \sigma(-x)\,m(b)$ with $x = v_n \cdot h$. A leaf has
# $m = 1$; if both children have $m = 1$, then $m(n) = \sigma(x) + \sigma(-x) = 1$. By
# induction from the leaves up, $m(\text{root}) = \sum_w P(w\mid h) = 1$, for *any* vectors
# $v_n$ and $h$: no normaliser $Z$ is ever computed.
#
# A special case: word2vec.c starts with $v_n = 0$, so every node says $\sigma(0) = 1/2$ and
# $P(w) = 2^{-L(w)}$; summing to one is then Kraft's equality for a full binary tree,
# $\sum_w 2^{-L(w)} = 1$.

# %%
dim = 8
inner = tf.constant(rng.normal(size=(toy.num_inner_nodes, dim)))      # [V-1, dim]
h = tf.constant(rng.normal(size=(4, dim)))                             # [B, dim]
log_p = all_log_probs(inner, h, toy).numpy()                           # [B, V]
print("P(w | h) for 4 random h:\n", np.array2string(np.exp(log_p), precision=4, suppress_small=True))
print("row sums:", np.exp(log_p).sum(axis=1))

# By hand for one word: the product along its path.
w = 5
x = inner.numpy()[toy.points[w]] @ h.numpy()[0]                       # v_{n_j} . h, [L(w)]
code_w = toy.codes[w].astype(np.float64)                               # uint8 -> float
p_by_hand = np.prod(d.sigmoid((1 - 2 * code_w) * x))
loss_w = hierarchical_softmax_loss(inner, h[:1], [w], toy).numpy()[0]  # -log P(w | h)
print(f"P({words[w]!r} | h_0): by hand {p_by_hand:.6f}, exp(-loss) {np.exp(-loss_w):.6f}")

# %%
# Check: probabilities sum to 1 for random vectors; the path product equals the loss;
# zero vectors give 2^-L(w) (Kraft equality).
np.testing.assert_allclose(np.exp(log_p).sum(axis=1), 1.0, rtol=1e-12)
np.testing.assert_allclose(np.exp(-loss_w), p_by_hand, rtol=1e-12)
np.testing.assert_allclose(np.exp(log_p[0, w]), p_by_hand, rtol=1e-12)
zero = all_log_probs(tf.zeros_like(inner), h, toy).numpy()
np.testing.assert_allclose(np.exp(zero), np.broadcast_to(2.0 ** -toy.code_lengths, zero.shape), rtol=1e-12)
assert np.sum(2.0 ** -toy.code_lengths) == 1.0

# %% [markdown]
# ## Gradients
#
# With targets $t_j = 1 - c_j$ and the identity $\frac{d}{dx}\log\sigma(sx) = s\,\sigma(-sx)$,
# each node contributes a logistic-regression term (notebook 2), and for
# $L = -\log P(w\mid h)$:
#
# $$\frac{\partial L}{\partial v_{n_j}} = \big(\sigma(v_{n_j}\cdot h) - t_j\big)\,h,\qquad
#   \frac{\partial L}{\partial h} = \sum_j \big(\sigma(v_{n_j}\cdot h) - t_j\big)\,v_{n_j}.$$
#
# Only the $L(w)$ vectors on the path receive a gradient: the update touches $O(\log V)$ rows.

# %%
h0 = tf.Variable(h[:1])
inner_var = tf.Variable(inner)
with tf.GradientTape() as tape:
    loss = hierarchical_softmax_loss(inner_var, h0, [w], toy)[0]
g_inner, g_h = tape.gradient(loss, [inner_var, h0])
g_inner = tf.convert_to_tensor(g_inner).numpy()
err = d.sigmoid(x) - (1 - code_w)                                # sigma(v.h) - t, [L(w)]
by_hand_inner = np.zeros_like(g_inner)
by_hand_inner[toy.points[w]] = np.outer(err, h.numpy()[0])
by_hand_h = err @ inner.numpy()[toy.points[w]]
print("rows with a gradient:", np.flatnonzero(np.abs(g_inner).sum(axis=1)), " path:", toy.points[w])

# %%
# Check: the analytic gradients equal autodiff.
np.testing.assert_allclose(g_inner, by_hand_inner, rtol=1e-10, atol=1e-12)
np.testing.assert_allclose(g_h.numpy()[0], by_hand_h, rtol=1e-10, atol=1e-12)

# %% [markdown]
# ## Cost in $\log V$
#
# The work per training example is one dot product per node on the path, so the cost is the
# code length. Huffman codes are optimal prefix codes: with word frequencies $p_w$ the mean
# code length $\bar L = \sum_w p_w L(w)$ satisfies $H \le \bar L < H + 1$, where
# $H = -\sum_w p_w \log_2 p_w \le \log_2 V$ is the entropy of the unigram distribution. A
# full softmax costs $V$ dot products. On the Lee corpus (word2vec's `min_count = 5`):

# %%
vocab = Vocabulary.build(load_corpus("lee"), min_count=5)
tree = build_huffman_tree(vocab.counts)
p_w = vocab.counts / vocab.counts.sum()
H = -(p_w * np.log2(p_w)).sum()
L_bar = tree.expected_code_length()
print(f"V = {len(vocab)}: entropy H = {H:.2f} bits, mean code length {L_bar:.2f}, "
      f"max code length {tree.max_code_length}, log2 V = {np.log2(len(vocab)):.2f}")
print(f"dot products per example: full softmax {len(vocab)}, hierarchical {L_bar:.1f} "
      f"({len(vocab) / L_bar:.0f}x fewer)")
for word in ("the", "police", "shimmered" if "shimmered" in vocab.index else vocab.words[-1]):
    print(f"  {word!r}: count {vocab.counts[vocab.index[word]]}, code length {tree.code_lengths[vocab.index[word]]}")

# %% [markdown]
# How the cost grows with $V$, on Zipfian counts (count $\propto$ 1/rank) for $V$ from 100 to
# 100,000. In the table and the plot, the mean code length stays within 0.05 bits above the
# entropy (Huffman's bound allows 1), both grow by about 2 bits per tenfold $V$, more slowly than
# $\log_2 V$ (3.3 bits), and the longest code (20 at $V = 10^5$) stays far below word2vec.c's
# limit of 40.

# %%
sizes = [100, 1_000, 10_000, 100_000]
rows = []
for V in sizes:
    zipf = 1.0 / np.arange(1, V + 1)                 # Zipf's law: count ~ 1 / rank
    t = build_huffman_tree(zipf)
    q = zipf / zipf.sum()
    rows.append(dict(V=V, entropy=-(q * np.log2(q)).sum(), mean_length=t.expected_code_length(),
                     max_length=t.max_code_length, log2V=np.log2(V)))
cost = pd.DataFrame(rows).set_index("V")
print(cost.round(2))
fig, ax = plt.subplots(figsize=(6, 3.5))
for col, style in (("mean_length", "o-"), ("entropy", "s--"), ("max_length", "^-"), ("log2V", "k:")):
    ax.plot(cost.index, cost[col], style, label=col)
ax.set_xscale("log")
ax.set_xlabel("vocabulary size V (Zipfian counts)")
ax.set_ylabel("bits = sigmoids per example")
ax.legend()
plt.show()

# %%
# Check: H <= mean code length < H + 1 (Huffman's bound) on the Lee vocabulary, and within
# 0.05 bits of H on every Zipfian size; per tenfold V the mean path grows by a roughly constant number of bits (about
# 2 here: for counts ~ 1/rank the entropy grows like 1/2 log2 V + log2 ln V, that is by
# 1.66 + ~0.3 bits per tenfold V, much slower than log2 V's log2(10) = 3.3).
assert H <= L_bar < H + 1
assert all(r.entropy <= r.mean_length < r.entropy + 0.05 for r in cost.itertuples())
steps = np.diff(cost["mean_length"].to_numpy())
assert np.all((steps > 1.5) & (steps < np.log2(10) + 0.1)), steps
assert cost["max_length"].iloc[-1] < 40                # word2vec.c's MAX_CODE_LENGTH
