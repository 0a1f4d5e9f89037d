# %% [markdown]
# # 11. The MIND-like model: multi-interest retrieval
#
# One vector per user has to sit between all the user's tastes: a user who watches both
# children's films and horror gets a vector in between, near neither. MIND (Li et al. 2019)
# gives each user up to $K$ interest vectors (多兴趣, multi-interest), extracted from the
# history by the dynamic routing (动态路由) of capsule networks (胶囊网络, Sabour et al.
# 2017), trains them with a label-aware attention (标签感知注意力), and retrieves (召回) with
# every interest. The code is `recall_models/mind.py`; the loss is again
# `w2v_tf.sampled_softmax_loss`.

# %%
import math
import warnings

import numpy as np
import pandas as pd
import keras
import tensorflow as tf

from recall_models import train as rtrain
from recall_models.evaluation.baselines import evaluate_baseline, make_baseline
from recall_models.data.dataset import load_dataset
from recall_models.models.mind import (attention_weights, dynamic_routing, num_active_interests,
                                squash)
from recall_models.models.youtubednn import model_inputs

warnings.filterwarnings("ignore", message=".*shuffle=True.*")
warnings.filterwarnings("ignore", message="IProgress not found")
tf.get_logger().setLevel("ERROR")
rng = np.random.default_rng(0)

# %% [markdown]
# ## Capsules and the squash function
#
# A capsule is a vector whose *length* says how strongly its feature is present and whose
# direction says what it is. The squash non-linearity keeps the direction and maps the length
# into $[0, 1)$:
#
# $$\operatorname{squash}(z) = \frac{\lVert z\rVert^2}{1 + \lVert z\rVert^2}\,\frac{z}{\lVert z\rVert}.$$
#
# How many interests? MIND lets the number grow with the history: $K'_u = \max(1, \min(K,
# \lfloor\log_2 n_u\rfloor))$ for a user with $n_u$ behaviours.

# %%
z = tf.constant(rng.normal(size=(5, 4)) * np.array([[0.1], [0.5], [1.0], [3.0], [30.0]]), tf.float32)
s = squash(z).numpy()
norms = np.linalg.norm(z.numpy(), axis=1)
print("|z|        :", norms.round(3))
print("|squash(z)|:", np.linalg.norm(s, axis=1).round(4))
lengths = np.arange(1, 21)
print("n_u =", lengths.tolist(), "\nK'_u =", num_active_interests(tf.constant(lengths), 4).numpy().tolist())

# %%
# Check: squash keeps directions, maps |z| to |z|^2 / (1 + |z|^2), and K' follows the formula.
np.testing.assert_allclose(np.linalg.norm(s, axis=1), norms**2 / (1 + norms**2), rtol=1e-5)
np.testing.assert_allclose(s / np.linalg.norm(s, axis=1, keepdims=True),
                           z.numpy() / norms[:, None], rtol=1e-5, atol=1e-6)
expected = [max(1, min(4, int(math.floor(math.log2(n))))) for n in lengths]
assert num_active_interests(tf.constant(lengths), 4).numpy().tolist() == expected

# %% [markdown]
# ## Dynamic routing: behaviours to interests
#
# Behaviour $t$ (an item embedding $e_t$) is mapped by one shared bilinear matrix $S$ to
# $\hat u_t = S^\top e_t$. Routing logits $b_{jt}$ start random and are refined three times:
#
# $$w_{jt} = \operatorname{softmax}_j(b_{jt}),\qquad c_j = \operatorname{squash}\Big(\sum_t w_{jt}\,\hat u_t\Big),
#   \qquad b_{jt} \leftarrow b_{jt} + c_j\cdot\hat u_t .$$
#
# Each behaviour splits its vote over the interests ($\sum_j w_{jt} = 1$), and the vote moves
# toward the interest it agrees with: "routing by agreement", a soft clustering. A toy check:
# histories mixing two well-separated kinds of item (directions $e_1$ and $e_2$ of
# $\mathbb{R}^8$), $S = I$, $K = 2$. The more iterations, the more the two capsules split
# into one per kind: we measure $|\cos(c_1, e_1) - \cos(c_2, e_1)|$ averaged over 200 users
# (0: both capsules alike; 1: one capsule per kind).

# %%
d, L, users = 8, 12, 200
kind = rng.integers(2, size=(users, L))
behaviours = tf.constant(3 * np.eye(d)[kind] + 0.3 * rng.normal(size=(users, L, d)), tf.float32)
mask = tf.ones((users, L), tf.bool)
active = tf.ones((users, 2), tf.bool)
b0 = tf.constant(rng.normal(size=(users, 2, L)), tf.float32)
separation = {}
for iterations in (1, 2, 3, 5):
    caps = dynamic_routing(behaviours, mask, tf.eye(d), b0, active, iterations).numpy()
    unit = caps / np.linalg.norm(caps, axis=-1, keepdims=True)
    separation[iterations] = float(np.mean(np.abs(unit[:, 0, 0] - unit[:, 1, 0])))
print({k: round(v, 3) for k, v in separation.items()})

# Masks: a user with 3 real behaviours (9 padded) and only 1 active interest of 2.
short_mask = tf.constant([[True] * 3 + [False] * 9])
caps_short = dynamic_routing(behaviours[:1], short_mask, tf.eye(d), b0[:1],
                             tf.constant([[True, False]]), 3).numpy()

# %%
# Check: routing separates the two kinds more with every iteration (fixed seed; the steps are
# 0.1 or more, far above rounding); inactive interests are exactly zero and capsules have
# length below 1.
steps = np.diff([separation[k] for k in (1, 2, 3, 5)])
assert np.all(steps > 0.05), separation
assert separation[5] > 0.6
assert np.all(caps_short[0, 1] == 0) and 0 < np.linalg.norm(caps_short[0, 0]) < 1

# %% [markdown]
# ## Label-aware attention
#
# In training the target item $e$ picks which interests explain it: with the dots
# $a_j = v_{uj}\cdot e$,
#
# $$v_u = \sum_j \operatorname{softmax}_j\!\big(\operatorname{sign}(a_j)\,|a_j|^{p}\big)\, v_{uj}.$$
#
# $p = 0$ averages the active interests, $p \to \infty$ takes the interest closest to the
# target (hard attention); MIND uses $p$ around 2. (Writing $\operatorname{sign}(a)|a|^p$
# instead of $a^p$ keeps the order for even $p$: a plain square would rank the most
# *negative* dot first.) The sampled softmax then scores $v_u$ against the item table.

# %%
dots = tf.constant([[2.0, -3.0, 0.5, 1.0]])
act = tf.constant([[True, True, True, False]])
weights = {p: attention_weights(dots, act, p).numpy()[0] for p in (0.0, 1.0, 2.0, math.inf)}
pd.DataFrame(weights, index=[f"interest {j} (a = {a})" for j, a in enumerate(dots.numpy()[0])]).round(4)

# %%
# Check: p = 0 is uniform over active interests, p = inf one-hot at the largest dot, p = 2 the
# softmax of sign(a)|a|^2 over the active ones; the inactive interest gets weight 0.
np.testing.assert_allclose(weights[0.0], [1 / 3, 1 / 3, 1 / 3, 0], atol=1e-6)
np.testing.assert_array_equal(weights[math.inf], [1, 0, 0, 0])
a = dots.numpy()[0, :3]
ref = np.exp(np.sign(a) * a**2) / np.exp(np.sign(a) * a**2).sum()
np.testing.assert_allclose(weights[2.0][:3], ref, rtol=1e-5)
assert weights[2.0][3] == 0

# %% [markdown]
# ## Multi-interest retrieval on MovieLens
#
# At serving time every active interest of a user retrieves its own top items and the lists
# are merged by score (the max over interests, `recall_models.evaluation.metrics`). As in notebook 10,
# one short pass over 15,000 training prefixes keeps this within a minute (with the in-batch
# sampler); `python -m recall_models train --model mind` runs the full recipe.

# %%
ds = load_dataset("ml-100k", max_history=50)
inputs = model_inputs(ds, ds.train)
subset = rng.choice(len(inputs["label"]), 15_000, replace=False)
cfg = rtrain.TrainConfig(model="mind", sampler="in_batch", batch_size=256, jit_compile=False,
                         hparams={"num_interests": 4})
keras.utils.set_random_seed(0)
mind = rtrain.build_model(cfg, ds)
mind.fit(rtrain.train_dataset(ds, {k: v[subset] for k, v in inputs.items()}, 256, seed=0),
         epochs=1, verbose=0)
user_vecs, item_vecs, interest_mask = mind.vectors(ds, "test")
results = {"random": evaluate_baseline(make_baseline("random").fit(ds), ds, "test")["filtered"],
           "MIND (15k prefixes, 1 pass)": rtrain.evaluate_model(mind, ds, "test")["filtered"]}
print("user vectors", user_vecs.shape, " interests per test user:",
      np.bincount(interest_mask.sum(axis=1)).tolist(), "(count of users with 0, 1, 2, ... interests)")
pd.DataFrame(results).T[["hr@10", "ndcg@10", "hr@50"]].round(4)

# %%
# Check: each test user has K' = max(1, min(4, floor(log2 n))) active interests, and the
# multi-interest model retrieves far better than random (random HR@50 ~ 0.03).
hist_len = (model_inputs(ds, ds.test, with_label=False)["history"] > 0).sum(axis=1)
np.testing.assert_array_equal(interest_mask.sum(axis=1),
                              num_active_interests(tf.constant(hist_len), 4).numpy())
assert results["MIND (15k prefixes, 1 pass)"]["hr@50"] > 3 * results["random"]["hr@50"]
