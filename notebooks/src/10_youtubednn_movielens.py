# %% [markdown]
# # 10. YouTubeDNN on MovieLens
#
# Retrieval / recall (召回): from a catalogue of items, pick the few hundred a user is likely to
# watch next. YouTubeDNN (Covington et al. 2016) treats it as extreme classification: a user
# tower maps the watch history and profile to a vector $x_u$, the next item is a softmax over
# the whole catalogue, $P(i\mid u) \propto e^{x_u\cdot w_i + b_i}$, trained with sampled
# softmax (采样softmax) and served by nearest-neighbour search on the same vectors. The code is
# `recall_models/youtubednn.py`, `recall_models/samplers.py`, `recall_models/train.py` and
# the evaluation harness `recall_models/evaluate.py`; the data is MovieLens-100K (cached by
# `make data`).

# %%
import warnings

import numpy as np
import pandas as pd
import keras
import tensorflow as tf

from recall_models.models import samplers as item_samplers
from recall_models import train as rtrain
from recall_models.evaluation.baselines import evaluate_baseline, make_baseline
from recall_models.data.dataset import load_dataset, summary
from recall_models.models.youtubednn import PROFILE, model_inputs

warnings.filterwarnings("ignore", message=".*shuffle=True.*")
warnings.filterwarnings("ignore", message="IProgress not found")
tf.get_logger().setLevel("ERROR")
ds = load_dataset("ml-100k", max_history=50)
info = summary(ds)
print({k: info[k] for k in ("users", "items", "ratings", "train_samples", "valid_samples", "test_samples")})

# %% [markdown]
# ## Features
#
# Each user's ratings, ordered by time, give one training example per prefix: the history
# (up to 50 earlier items, 0-padded) predicts the next item; the last two items of every user
# are held out for validation and test (leave-last-out). Item ids are numbered by decreasing
# training frequency (id 0 is padding), which is what the log-uniform sampler assumes
# (notebook 6). The user tower:
#
# $$h = \operatorname{mean}_t E_{\text{hist}}[x_t],\quad g = \operatorname{mean}_t \operatorname{mean}_k E_{\text{genre}}[\text{genre}_k(x_t)],\quad
#   p = [E_{\text{gender}}; E_{\text{age}}; E_{\text{occupation}}; E_{\text{zip}}],$$
# $$x_u = \text{Dense}(\text{ReLU}(\text{Dense}([h; g; p]))).$$

# %%
inputs = model_inputs(ds, ds.train)
print({k: (v.shape, v.dtype.name) for k, v in inputs.items()})
print("profile vocabulary sizes:", {k: ds.user_feature_sizes[k] for k in PROFILE})
freq = ds.item_freq
print("training counts of items 1..5:", freq[1:6], "... last 3:", freq[-3:])

# %%
# Check: histories are left-aligned and 0-padded, labels are real items, item ids are sorted
# by decreasing training frequency.
h = inputs["history"]
lengths = (h > 0).sum(axis=1)
assert np.all(lengths >= 1) and np.all(h[np.arange(len(h)), lengths - 1] > 0)
assert np.all((h > 0).cumsum(axis=1)[:, -1] == lengths)           # no gaps after padding starts
assert inputs["label"].min() >= 1 and freq[0] == 0
assert np.all(np.diff(freq[1:]) <= 0)

# %% [markdown]
# ## Sampled softmax with each sampler
#
# The loss is `w2v_tf.sampled_softmax_loss` with logits $x_u\cdot w_i + b_i - \log Q(i)$
# (notebook 5), where $Q$ is the sampler's expected count (`recall_models/samplers.py`):
#
# | sampler | proposal over items $1..I-1$ | expected count $Q(i)$ |
# |---|---|---|
# | `log_uniform` | Zipf on the frequency rank, $S$ unique draws | $1-(1-P)^{\text{tries}}$ |
# | `unigram` | $c_i^{0.75}$, $S$ unique draws | $1-(1-P)^{\text{tries}}$ |
# | `uniform` | $1/(I-1)$, $S$ unique draws | $1-(1-P)^{\text{tries}}$ |
# | `in_batch` | the other labels of the batch (Yi et al. 2019) | $B\,c_i/\sum c$ |
# | `mixed` | in-batch plus $M$ uniform draws (Yang et al. 2020) | $B\,c_i/\sum c + M/(I-1)$ |
#
# One batch of each, and a check of the expected counts: a with-replacement sampler's counts
# add up to its number of draws; a unique sampler's $\sum_i Q(i)$ is the expected number of
# distinct items in `tries` draws, which is close to $S$.

# %%
B, S = 256, 100
labels = tf.constant(inputs["label"][:B, None], tf.int64)
rows, sums = [], {}
for name in ("log_uniform", "unigram", "uniform", "in_batch", "mixed"):
    sampler = item_samplers.make_sampler(name, freq, S, B, seed=0)
    sampled, true_q, sampled_q = sampler(labels)
    p = sampler.probabilities()                       # proposal over the catalogue
    sums[name] = float(np.asarray(p).sum())
    rows.append({"sampler": name, "negatives": int(tf.size(sampled)),
                 "distinct": len(np.unique(sampled.numpy())),
                 "share of the 100 most frequent items": float(np.mean(sampled.numpy() <= 100)),
                 "median Q of the labels": float(np.median(true_q.numpy()))})
pd.DataFrame(rows).set_index("sampler").round(3)

# %%
# Check: every proposal is a distribution over the catalogue; log-uniform and unigram favour
# frequent items and uniform does not (share of the top 100 of 1682 items: uniform ~6%).
assert all(abs(v - 1) < 1e-5 for v in sums.values()), sums
table = pd.DataFrame(rows).set_index("sampler")
assert table.loc["uniform", "share of the 100 most frequent items"] < 0.15
assert table.loc["log_uniform", "share of the 100 most frequent items"] > 0.3

# %% [markdown]
# ## Training, retrieval and metrics
#
# To stay within a minute on a CPU, each model sees one pass over 20,000 of the 97,000
# training prefixes (`python -m recall_models train` runs the full recipe: 10 epochs, early
# stopping on validation NDCG@10, checkpoints). Retrieval ranks the whole catalogue for each
# test user by $x_u\cdot w_i + b_i$ (exact top-k in TensorFlow, or faiss), filters the items
# already in the user's history, and reports HR@K (the held-out item is in the top K) and
# NDCG@K ($1/\log_2(1 + \text{rank})$ if it is). Baselines: random scores and MostPop.

# %%
rng = np.random.default_rng(0)
subset = rng.choice(len(inputs["label"]), 20_000, replace=False)
train_inputs = {k: v[subset] for k, v in inputs.items()}
results, models = {}, {}
for name in ("random", "mostpop"):
    results[name] = evaluate_baseline(make_baseline(name).fit(ds), ds, "test")["filtered"]
for sampler_name in ("log_uniform", "uniform", "in_batch"):
    cfg = rtrain.TrainConfig(sampler=sampler_name, num_sampled=S, batch_size=B, jit_compile=False)
    keras.utils.set_random_seed(0)
    model = rtrain.build_model(cfg, ds)
    history = model.fit(rtrain.train_dataset(ds, train_inputs, B, seed=0), epochs=1, verbose=0)
    models[sampler_name] = model
    results[sampler_name] = rtrain.evaluate_model(model, ds, "test")["filtered"]
metrics = pd.DataFrame(results).T[["hr@10", "ndcg@10", "hr@50", "ndcg@50"]]
metrics.round(4)

# %% [markdown]
# Serving uses the exported vectors: `model.vectors(ds, "test")` gives user vectors
# $[x_u, 1]$ and item vectors $[w_i, b_i]$, so a plain inner-product search (faiss, ScaNN,
# `recall_models.evaluation.retrieval`) returns exactly the items the softmax ranks first. The log-Q
# correction is used only in training; the served score has none.

# %%
model = models["log_uniform"]
users, items, _ = model.vectors(ds, "test")
test_inputs = model_inputs(ds, ds.test, with_label=False)
logits = model({k: v[:8] for k, v in test_inputs.items()}).numpy()   # full softmax logits [8, I]
print("user vectors", users.shape, " item vectors", items.shape)

# %%
# Check: exported dot products equal the model's logits (float32); every trained model beats
# random retrieval by far (random HR@50 ~ 50/1600 = 0.03; the trained models reach > 0.1).
np.testing.assert_allclose(users[:8] @ items.T, logits, rtol=1e-4, atol=1e-4)
for name in ("log_uniform", "uniform", "in_batch"):
    assert metrics.loc[name, "hr@50"] > 3 * metrics.loc["random", "hr@50"], name
