# %% [markdown]
# # 5. `compute_sampled_logits`, line by line, beside TensorFlow's
#
# Every candidate-sampling loss (NCE 噪声对比估计, negative sampling 负采样, sampled logistic,
# sampled softmax 采样softmax; see the [glossary](../docs/glossary.md)) starts from the same
# helper: TensorFlow's private `nn_impl._compute_sampled_logits`. Ours is
# `w2v_tf.compute_sampled_logits` (`w2v_tf/sampled_logits.py`), written step for step in
# TensorFlow's order: sample, look up, sampled logits, true logits, biases, accidental hits,
# log Q, outputs. This notebook runs each step by hand in numpy on a tiny problem, says what
# TensorFlow does at that step, and checks that our function and TensorFlow's give the same
# numbers *and the same gradients*; then `num_true > 1`, accidental hits (意外命中) in a
# picture, sharded (partitioned) class tables, and a slice of the parity table
# (`python -m w2v_tf parity` runs all of it).
#
# Why the flags matter: without $\log Q$ subtracted, negative sampling learns log P/kQ with
# hits kept and log P/kQ(1-P) with the target skipped, while NCE, with it subtracted, learns
# $\log P$ (notebook 7): the two flags below, `subtract_log_q` and `remove_accidental_hits`,
# are what separates them.
#
# For a class $y$ with weight row $w_y$ and bias $b_y$ the logit is $o_y(x) = x\cdot w_y + b_y$.
# With $Q(y)$ the sampler's *expected count* of $y$ (notebook 6), the helper returns
#
# $$\big[\;o_{t}(x) - \log Q(t)\;\big|\; o_{s}(x) - \log Q(s)\;\big]
#   \in \mathbb{R}^{B \times (T + S)}$$
#
# for the $T$ = `num_true` true classes $t$ of each row and the $S$ = `num_sampled` sampled
# classes $s$ shared by the whole batch, and labels $[\,1/T \;|\; 0\,]$.

# %%
import inspect

import numpy as np
import pandas as pd
import tensorflow as tf
from tensorflow.python.ops import nn_impl           # TensorFlow's helper: the oracle

from w2v_tf import compute_sampled_logits, shards
from w2v_tf.study import parity
from w2v_tf import sampling

FLT_MAX = np.finfo(np.float32).max
np.set_printoptions(linewidth=110, formatter={
    "float_kind": lambda v: "-FLT_MAX" if v == -FLT_MAX else f"{v:7.3f}"})
print("\n".join(line.strip() for line in inspect.getsource(compute_sampled_logits).splitlines()
                if line.strip().startswith("# Step")))

# %% [markdown]
# The problem (the one of TensorFlow's own `ComputeSampledLogitsTest`, in float64): 5 classes,
# dimension 10, a batch of 3, `num_true = 1`, sampled classes $[1, 0, 2, 3]$, every expected
# count 0.5. Row $b$'s label is class $b$, so classes 0, 1, 2 are both labels and samples.

# %%
rng = np.random.default_rng(0)
V, D, B = 5, 10, 3
W = rng.normal(size=(V, D))            # [num_classes, dim]: the transpose of a Dense kernel
b = rng.normal(size=V)                 # [num_classes]
x = rng.normal(size=(B, D))            # [batch_size, dim]
labels = np.array([[0], [1], [2]])     # [batch_size, num_true]
sampled = np.array([1, 0, 2, 3])       # [num_sampled]
true_q = np.full((B, 1), 0.5)          # [batch_size, num_true] expected counts of the labels
sampled_q = np.full(4, 0.5)            # [num_sampled] expected counts of the samples
sv = (tf.constant(sampled), tf.constant(true_q), tf.constant(sampled_q))

# %% [markdown]
# **Step 1. Sampled values.** If `sampled_values` is None, both call the log-uniform sampler
# (`unique=True`, `range_max = num_classes`) on the labels; ours calls TensorFlow's own kernel
# there, so the same seed gives the same ids. The triple (ids, true expected counts, sampled
# expected counts) then goes through `stop_gradient`: the sampler is not differentiated.
#
# **Step 2. One lookup.** True and sampled rows are gathered together:
# `all_ids = concat([labels_flat, sampled])` with `labels_flat` of shape $[B\,T]$, one
# `embedding_lookup` (a plain gather for one tensor; routed by shard for a partitioned table,
# below), then split back into the first $BT$ rows and the last $S$.

# %%
labels_flat = labels.reshape(-1)                         # [B*T]
all_ids = np.concatenate([labels_flat, sampled])         # [B*T + S]
all_w = W[all_ids]                                       # [B*T + S, D]
true_w, sampled_w = all_w[:len(labels_flat)], all_w[len(labels_flat):]
print("all_ids =", all_ids)

# %% [markdown]
# **Step 3. Sampled logits** $o_s(x_b) = x_b \cdot w_s$: one matmul, $[B, D] \times [D, S]$.
#
# **Step 4. True logits** $o_t(x_b) = x_b\cdot w_{t_b}$, row by row: the $BT$ true rows are
# reshaped to $[B, T, D]$ and multiplied elementwise with $x$ broadcast over $T$, then summed
# over $D$ by a matmul against a column of ones $[D, 1]$, as TensorFlow's `_sum_rows` does
# (so float32 results round the same way, bit for bit).
#
# **Step 5. Biases**, gathered with the same ids and added to both parts.

# %%
sampled_logits = x @ sampled_w.T                                     # [B, S]
true_logits = (x[:, None, :] * true_w.reshape(B, 1, D)).sum(-1)      # [B, T]
sampled_logits = sampled_logits + b[sampled][None, :]
true_logits = true_logits + b[labels]
print("true logits [B, T]:", true_logits.ravel(), "\nsampled logits [B, S]:\n", sampled_logits)

# %% [markdown]
# **Step 6. Accidental hits** (`remove_accidental_hits=True`): a sampled class equal to one of
# row $b$'s true classes is not a negative for that row. Both TensorFlow and we find the hits
# with `compute_accidental_hits` and *add* $-$FLT_MAX $= -3.4\times10^{38}$ to those logits
# through `sparse_to_dense`, before the $\log Q$ step; $o + (-\text{FLT\_MAX})$ rounds to
# $-$FLT_MAX, so $e^{o}$ is 0 in a softmax and $\sigma(o)$ is 0 in a sigmoid. Because it is
# an addition, $\partial o_{\text{masked}}/\partial w = x$ as for any logit: a loss of your
# own that puts a non-zero gradient on a masked logit sends it back to $x$, $w$ and $b$,
# identically in both (checked below). (In float16/bfloat16, $-$FLT_MAX is $-\infty$ and
# TensorFlow's loss is NaN; there we overwrite the masked logits with the dtype's lowest
# finite value after the $\log Q$ step instead, and they pass no gradient.)
#
# **Step 7. The $\log Q$ correction** (`subtract_log_q=True`, the default): subtract the log
# of each expected count. This is the importance-weight correction of sampled softmax
# (notebook 4) and the $-\log kQ$ of NCE (notebook 3). word2vec's negative sampling switches
# it off (`subtract_log_q=False`), which `tf.nn` offers no public way to do. On a masked
# logit, $-\text{FLT\_MAX} - \log Q$ rounds back to $-$FLT_MAX.
#
# **Step 8. Outputs**: `concat([true, sampled], axis=1)`, and labels $1/T$ on the true
# columns, 0 on the sampled ones, so that every row of labels sums to 1.

# %%
def by_hand(subtract_log_q, remove_accidental_hits):
    t, s = true_logits.copy(), sampled_logits.copy()
    if remove_accidental_hits:                                              # step 6
        hit = (labels[:, :, None] == sampled[None, None, :]).any(axis=1)    # [B, S]
        s = s + np.where(hit, -FLT_MAX, 0.0)        # float64: x - FLT_MAX == -FLT_MAX here
    if subtract_log_q:                                                      # step 7
        t, s = t - np.log(true_q), s - np.log(sampled_q)[None, :]
    logits = np.concatenate([t, s], axis=1)
    out_labels = np.concatenate([np.ones_like(t) / t.shape[1], np.zeros_like(s)], axis=1)
    return logits, out_labels

print("hits (row, position) by hand:", np.argwhere(labels[:, :, None] == sampled[None, None, :])[:, [0, 2]].tolist())
tf_hits = tf.nn.compute_accidental_hits(labels, sampled, num_true=1)
print("tf.nn.compute_accidental_hits rows/positions:", tf_hits[0].numpy(), tf_hits[1].numpy())
print("logits with log-Q and hits removed [B, T + S]:\n", by_hand(True, True)[0])

# %%
# Check: by hand == ours == TensorFlow's helper, for all four flag combinations, and labels.
args = dict(num_sampled=4, num_classes=V, num_true=1, sampled_values=sv)
for log_q in (True, False):
    for hits in (True, False):
        flags = dict(subtract_log_q=log_q, remove_accidental_hits=hits)
        ours = compute_sampled_logits(W, b, labels, x, **args, **flags)
        theirs = nn_impl._compute_sampled_logits(W, b, labels, x, **args, **flags)
        hand = by_hand(log_q, hits)
        for a, c in ((ours[0], hand[0]), (theirs[0], hand[0]), (ours[1], hand[1])):
            np.testing.assert_allclose(a.numpy(), c, rtol=1e-12, atol=1e-12)

# %% [markdown]
# ## Gradients through a masked logit
#
# With softmax or sigmoid cross-entropy on top, a masked logit gets an upstream gradient of
# 0 ($e^{-\text{FLT\_MAX}} = 0$), so how it was masked does not show. A loss of your own on
# the logits can put any gradient there. Below, a random upstream gradient $G$
# $[B, T + S]$, and the gradients of $\sum G \odot \text{logits}$ with respect to the
# inputs, the class table and the biases, TensorFlow's and ours.

# %%
upstream = tf.constant(rng.normal(size=(B, 1 + 4)))
grads = {}
for name, fn in (("TensorFlow", nn_impl._compute_sampled_logits), ("ours", compute_sampled_logits)):
    Wv, bv, xv = tf.Variable(W), tf.Variable(b), tf.Variable(x)
    with tf.GradientTape() as tape:
        logits_g, _ = fn(Wv, bv, labels, xv, **args, remove_accidental_hits=True)
    grads[name] = [tf.convert_to_tensor(g).numpy()
                   for g in tape.gradient(logits_g, [xv, Wv, bv], output_gradients=upstream)]
hit_rows = np.argwhere(labels[:, :, None] == sampled[None, None, :])[:, 0]
print("d/dx of the masked rows", hit_rows, "(ours):\n", grads["ours"][0][hit_rows][:, :5])

# %%
# Check: identical gradients, bit for bit, and non-zero on the rows with a masked logit.
for g_tf, g_ours in zip(grads["TensorFlow"], grads["ours"]):
    np.testing.assert_array_equal(g_ours, g_tf)
assert np.abs(grads["ours"][0][hit_rows]).min() > 0

# %% [markdown]
# ## Logits and masks, in a picture
#
# A larger batch makes the shape of the output visible: 12 rows, `num_true = 2`, 16 sampled
# classes from TensorFlow's log-uniform sampler, with a few accidental hits planted. Left: the
# raw logits $o = x\cdot w + b$ $[B, T + S]$, true columns first. Middle: the hit mask, which
# sampled column of which row equals one of that row's labels. Right: the returned logits
# after the mask and $\log Q$; the masked cells (black) are $-$FLT_MAX, the true columns have
# grown by $-\log Q(t)$ (rare labels, small $Q$, gain most) and so have the sampled ones.

# %%
%matplotlib inline
import matplotlib.pyplot as plt

Bp, Tp, Sp, Vp = 12, 2, 16, 40
Wp, bp, xp = rng.normal(size=(Vp, D)), rng.normal(size=Vp), rng.normal(size=(Bp, D))
labels_p = np.stack([rng.choice(Vp, Tp, replace=False) for _ in range(Bp)])
ids_p, tq_p, sq_p = tf.random.log_uniform_candidate_sampler(labels_p, Tp, Sp, True, Vp, seed=3)
planted = [labels_p[0, 0], labels_p[5, 1], labels_p[9, 0]]              # plant three hits
keep = [j for j, i in enumerate(ids_p.numpy()) if i not in planted][:Sp - 3]
ids_p = np.array(planted + list(ids_p.numpy()[keep]))
# Each column keeps its own id's expected count: the planted ids are labels, so theirs are
# true expected counts of the same call (same num_tries).
sq_p = np.concatenate([tq_p.numpy()[[0, 5, 9], [0, 1, 0]], sq_p.numpy()[keep]])
sv_p = (tf.constant(ids_p), tf.cast(tq_p, tf.float64), tf.constant(sq_p, tf.float64))
kw_p = dict(num_sampled=Sp, num_classes=Vp, num_true=Tp, sampled_values=sv_p)
raw = compute_sampled_logits(Wp, bp, labels_p, xp, subtract_log_q=False, **kw_p)[0].numpy()
out = compute_sampled_logits(Wp, bp, labels_p, xp, remove_accidental_hits=True, **kw_p)[0].numpy()
mask = (labels_p[:, :, None] == ids_p[None, None, :]).any(axis=1)        # [B, S]

fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), dpi=80, layout="constrained",
                         gridspec_kw=dict(width_ratios=[1.15, 1, 1.15]))
shown = np.ma.masked_where(out <= -1e30, out)
lim = np.abs(np.concatenate([raw.ravel(), shown.compressed()])).max()
cmap = plt.get_cmap("coolwarm").copy()
cmap.set_bad("black")
for ax, data, title in ((axes[0], raw, "raw logits x.w + b  [B, T + S]"),
                        (axes[2], shown, "returned: hits masked, then - log Q")):
    im = ax.imshow(data, cmap=cmap, vmin=-lim, vmax=lim, aspect="auto")
    ax.axvline(Tp - 0.5, color="k", lw=1.5)
    ax.set(title=title, xlabel=f"columns: {Tp} true | {Sp} sampled", ylabel="row b")
    fig.colorbar(im, ax=ax, shrink=0.85)
axes[1].imshow(mask, cmap="Greys", aspect="auto")
axes[1].set(title=f"hit mask [B, S]: {mask.sum()} hits", xlabel="sampled column",
            ylabel="row b")
plt.show()

# %%
# Check: the black cells are exactly the hit mask, and nothing else is masked; each live
# sampled column was shifted by - log Q of its own id (log-uniform, unique: 1 - (1 - P)^n).
p_v = sampling.log_uniform_probabilities(Vp).astype(np.float64)
n_tries = np.log1p(-sq_p[3]) / np.log1p(-p_v[ids_p[3]])
np.testing.assert_allclose(sq_p, -np.expm1(n_tries * np.log1p(-p_v[ids_p])), rtol=1e-4)
live = ~mask
np.testing.assert_allclose((raw[:, Tp:] - out[:, Tp:])[live],
                           np.broadcast_to(np.log(sq_p), mask.shape)[live], rtol=1e-5, atol=1e-6)
np.testing.assert_array_equal(out[:, Tp:] <= -1e30, mask)
assert mask.sum() >= 3 and np.all(out[:, :Tp] > -1e30)

# %% [markdown]
# ## `num_true > 1`
#
# With $T$ true classes per row (e.g. several context words of one centre word), the true
# block is $[B, T]$ and each true label is $1/T$: softmax cross-entropy then targets the
# average of the $T$ one-hot vectors, and NCE's sigmoid cross-entropy uses targets $1/T$, not 1
# (tensorflow/tensorflow#10267). The expected counts of the true classes are $[B, T]$.

# %%
labels3 = np.array([[0, 4, 2], [1, 3, 3], [2, 0, 4]])     # T = 3 (row 1 repeats class 3)
true_q3 = rng.uniform(0.2, 0.9, size=(B, 3))
sv3 = (tf.constant(sampled), tf.constant(true_q3), tf.constant(sampled_q))
kw = dict(num_sampled=4, num_classes=V, num_true=3, sampled_values=sv3, remove_accidental_hits=True)
ours3 = compute_sampled_logits(W, b, labels3, x, **kw)
theirs3 = nn_impl._compute_sampled_logits(W, b, labels3, x, **kw)
print("logits shape", ours3[0].shape, "\nlabels row 0:", ours3[1][0].numpy())
hand_true3 = (x[:, None, :] * W[labels3]).sum(-1) + b[labels3] - np.log(true_q3)

# %%
# Check: num_true = 3 matches TensorFlow; true block and labels as derived.
np.testing.assert_allclose(ours3[0].numpy(), theirs3[0].numpy(), rtol=1e-12, atol=1e-12)
np.testing.assert_allclose(ours3[1].numpy(), theirs3[1].numpy())
np.testing.assert_allclose(ours3[0].numpy()[:, :3], hand_true3, rtol=1e-12)
np.testing.assert_allclose(ours3[1].numpy().sum(axis=1), 1.0)

# %% [markdown]
# ## Where we differ: a sampled id drawn twice
#
# With `unique=False` samplers a class can appear twice among the samples. TensorFlow's
# `compute_accidental_hits` reports only the *last* position of a repeated id, so the first
# copy stays a live negative against its own row's label. We mask every position.

# %%
labels_d = np.array([[3], [5]])
sampled_d = np.array([3, 1, 3, 7])
W8, b8, x2 = rng.normal(size=(8, D)), rng.normal(size=8), rng.normal(size=(2, D))
svd = (tf.constant(sampled_d), tf.ones((2, 1), tf.float64), tf.ones(4, tf.float64))
kw = dict(num_sampled=4, num_classes=8, sampled_values=svd, remove_accidental_hits=True)
ours_d = compute_sampled_logits(W8, b8, labels_d, x2, **kw)[0].numpy()
theirs_d = nn_impl._compute_sampled_logits(W8, b8, labels_d, x2, **kw)[0].numpy()
print("row 0, sampled columns, ours:", ours_d[0, 1:])
print("row 0, sampled columns, TF's:", theirs_d[0, 1:])
print("our compute_accidental_hits(keep='all') positions:",
      sampling.compute_accidental_hits(labels_d, sampled_d, 1, keep="all")[1].numpy())

# %%
# Check: ours masks positions 0 and 2 of row 0; TensorFlow only position 2. Elsewhere equal.
assert np.all(ours_d[0, [1, 3]] == -FLT_MAX)
assert theirs_d[0, 3] == -FLT_MAX and theirs_d[0, 1] > -1e30
np.testing.assert_allclose(np.delete(ours_d.ravel(), 1), np.delete(theirs_d.ravel(), 1), rtol=1e-12)

# %% [markdown]
# ## Partitioned (sharded) class tables
#
# A large class table may be split into $P$ shards. Where does class $i$ live, with $N$ rows
# in all?
#
# * `"mod"`: shard $i \bmod P$, row $\lfloor i/P \rfloor$ (round-robin).
# * `"div"`: contiguous blocks. TensorFlow's `embedding_lookup` assumes the first $N \bmod P$
#   shards hold $\lceil N/P\rceil$ rows and the rest $\lfloor N/P \rfloor$; ours
#   (`w2v_tf.shards`) takes "div" to mean *the concatenation of the shards as given*. The two
#   agree on TensorFlow's layout; on any other layout TensorFlow silently reads wrong rows
#   (tensorflow/tensorflow#19265).
#
# The lookup splits the ids by shard (`dynamic_partition`), gathers each shard once, and puts
# the rows back in order (`dynamic_stitch`).

# %%
N, P = 10, 3
ids = tf.range(N, dtype=tf.int64)
for strategy, sizes in (("mod", [4, 3, 3]), ("div", [4, 3, 3])):
    shard, row = shards.route(ids, sizes, strategy)
    print(f"{strategy}: shard", shard.numpy(), " row", row.numpy())

W10 = rng.normal(size=(N, D))
mod_shards = [W10[p::P] for p in range(P)]                   # row-wise round robin
div_shards = np.split(W10, [4, 7])                           # TensorFlow's layout: 4, 3, 3
uneven = np.split(W10, [4, 8])                               # sizes 4, 4, 2: not TF's layout

def look(table, strategy, ids=ids):                          # ours
    return shards.lookup(shards.as_shard_list([tf.constant(s) for s in table]), ids, strategy).numpy()

def tf_look(table, strategy, ids=ids):                       # TensorFlow's
    return tf.compat.v1.nn.embedding_lookup([tf.constant(s) for s in table], ids,
                                            partition_strategy=strategy).numpy()

# TensorFlow reads the uneven shards as if they were 4, 3, 3: ids 7 and 8 land on shard 2,
# rows 0 and 1 (really classes 8 and 9), silently; id 9 asks for row 2 of a 2-row shard.
first9 = tf.range(9, dtype=tf.int64)
wrong = np.flatnonzero(np.abs(tf_look(uneven, "div", first9) - W10[:9]).max(axis=1) > 0)
print("uneven 'div' shards [4, 4, 2], ids 0..8: TensorFlow returns wrong rows for ids", wrong,
      "; ours for none:", np.flatnonzero(np.abs(look(uneven, "div", first9) - W10[:9]).max(axis=1) > 0))
try:
    tf_look(uneven, "div")
except tf.errors.InvalidArgumentError as e:
    print("id 9:", str(e).split("[Op")[0].split("}}")[-1].strip())

# %%
# Check: every layout gives back the full table's rows, and TensorFlow agrees on its layouts.
for table, strategy in ((mod_shards, "mod"), (div_shards, "div"), (uneven, "div")):
    np.testing.assert_array_equal(look(table, strategy), W10)
for table, strategy in ((mod_shards, "mod"), (div_shards, "div")):
    np.testing.assert_array_equal(tf_look(table, strategy), W10)
assert list(wrong) == [7, 8]        # the documented TensorFlow behaviour (#19265) on TF 2.21
# ... and sharded logits equal unsharded ones.
lab10, smp10 = np.array([[9], [4], [0]]), np.array([1, 7, 2])
sv10 = (tf.constant(smp10), tf.fill((3, 1), tf.constant(0.3, tf.float64)), tf.fill([3], tf.constant(0.3, tf.float64)))
kw10 = dict(num_sampled=3, num_classes=N, sampled_values=sv10)
whole = compute_sampled_logits(W10, None, lab10, x, **kw10)[0].numpy()
for table, strategy in ((mod_shards, "mod"), (uneven, "div")):
    parts = compute_sampled_logits([tf.constant(s) for s in table], None, lab10, x,
                                   partition_strategy=strategy, **kw10)[0].numpy()
    np.testing.assert_allclose(parts, whole, rtol=1e-12)

# %% [markdown]
# ## The parity table
#
# `w2v_tf.study.parity` runs TensorFlow's helper and `tf.nn.nce_loss` / `tf.nn.sampled_softmax_loss`
# (v2 for "div", `tf.compat.v1` for "mod") beside ours over a grid of configurations
# (num_true 1-4, $\log Q$ on/off, accidental hits on/off with hits planted, six table kinds,
# biases, label and float dtypes, and replays of TensorFlow's default sampler with the same
# seed), and reports the largest error of logits, losses and gradients (of the losses, and
# of the logits themselves under a random upstream gradient, hits planted):
# $\max |\text{ours} - \text{TF}| / \max(1, |\text{TF}|)$. Here a slice of the quick grid,
# to stay fast; `python -m w2v_tf parity` runs the full pairwise grid. The `neg` column
# compares our `negative_sampling_loss` with TensorFlow's helper run with
# `subtract_log_q=False` plus a sigmoid cross-entropy (`tf.nn` has no NEG loss); it is NaN in
# the default-sampler row, since no TensorFlow NEG call draws its own negatives to replay.

# %%
quick = parity.grid(quick=True)
given = [c for c in quick if c["sampler"] == "given"]
chosen = [next(c for c in given if (c["num_true"], c["subtract_log_q"], c["remove_accidental_hits"]) == key)
          for key in ((1, True, True), (2, True, False), (3, False, True), (4, False, False))]
chosen += [c for c in quick if c["sampler"] == "default"][:1]
rows = []
for c in chosen:
    errors = parity.run_config(c)
    rows.append({"configuration": parity.config_name(c),
                 **{k: errors.get(k, np.nan) for k in ("logits", "nce", "sampled_softmax", "neg")},
                 "max grad": max(v for k, v in errors.items() if k.startswith("grad")),
                 "tolerance": parity.TOLERANCE[c["dtype"]]})
table = pd.DataFrame(rows).set_index("configuration")
with pd.option_context("display.float_format", "{:.1e}".format, "display.width", 200):
    print(table.to_string())

# %%
# Check: every error of the slice is within its tolerance (1e-5 float32, 1e-10 float64).
errs = table.drop(columns="tolerance")
assert (errs.fillna(0).max(axis=1) <= table["tolerance"]).all(), table
