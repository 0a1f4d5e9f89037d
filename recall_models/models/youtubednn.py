"""YouTubeDNN (Covington et al., RecSys 2016) on MovieLens, trained with w2v_tf's sampled softmax.

User tower (paper, fig. 3):

    h      = masked_mean_{t < n} E_hist[x_t]                  [B, d]   watch history
    g      = masked_mean_{t < n} mean_k E_genre[genre_k(x_t)] [B, d_g] (option `use_genres`)
    p      = [E_gender[u], E_age[u], E_occupation[u], E_zip[u]] [B, 4 d_p]
    z      = ReLU tower([h, g, p]) -> Dense(d_out)            [B, d_out] (last layer linear)

Output softmax over the catalogue with its own item table W [I, d_out] and bias b [I]
(separate from E_hist, as in the paper), trained by `w2v_tf.layers.SampledSoftmaxLayer`
with one of `recall_models.models.samplers` (or the full softmax):

    logit(u, i) = <x_u, w_i> + b_i,
    x_u = z_u / tau,  w_i = W_i               (normalize=False)
    x_u = z_u / (tau |z_u|),  w_i = W_i / |W_i|  (normalize=True, Yi et al. 2019)

Serving uses the same normalisation and temperature: `export()` returns user vectors
[x_u, 1] and item vectors [w_i, b_i] (the bias folded into one extra coordinate when
`use_bias`), so <user, item> is exactly the logit the training loss sees (before log-Q).
The test `tests/test_youtubednn.py` checks this.

Keras workflows: `fit` reports the training loss, `evaluate` (inputs with a "label") the
exact full-softmax cross-entropy over the catalogue, `predict` the logits [B, I];
`model.save("m.keras")` / `keras.models.load_model` restore the configuration, the sampler
(`get_config` of `recall_models.models.samplers`) and its draw counter.

Inputs (a dict, `model_inputs`): "history" int32 [B, L] (0-padded), "gender", "age",
"occupation", "zip" int32 [B], and "label" int32 [B] in training.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from recall_models.models import samplers as _samplers

from w2v_tf.layers import SampledSoftmaxLayer

PROFILE = ("gender", "age", "occupation", "zip")


def model_inputs(ds, samples, with_label: bool = True) -> dict:
    """Numpy input dict of `samples` (a `recall_models.data.dataset.Samples` of `ds`).

    Raises:
        ValueError: a sample with an empty history (the user vector would be undefined).
    """
    length = np.asarray(samples.length)
    if len(length) and length.min() < 1:
        row = int(np.argmin(length))
        raise ValueError(f"sample {row} (user {int(samples.user[row])}) has an empty history; "
                         "expected at least one item before the label")
    out = {"history": samples.history.astype(np.int32)}
    for name in PROFILE:
        out[name] = ds.user_features[name][samples.user].astype(np.int32)
    if with_label:
        out["label"] = samples.label.astype(np.int32)
    return out


def genre_weights(item_genres) -> np.ndarray:
    """A [I, n_genres] float32 with A_ig = 1/|genres(i)| for each genre g of item i.

    `item_genres` int [I, G] holds genre codes padded with 0; code 0 gets weight 0, so
    A @ E_genre is the mean genre embedding of each item (0 for an item with no genre).
    """
    codes = np.asarray(item_genres, np.int64)
    if codes.ndim != 2:
        raise ValueError(f"`item_genres` must have shape [num_items, G], got {codes.shape}.")
    a = np.zeros((codes.shape[0], int(codes.max()) + 1), np.float32)
    np.add.at(a, (np.repeat(np.arange(codes.shape[0]), codes.shape[1]), codes.ravel()), 1.0)
    a[:, 0] = 0.0
    return a / np.maximum(a.sum(axis=1, keepdims=True), 1.0)


def masked_mean(values, mask):
    """mean_{t: mask[b, t]} values[b, t]: values [B, L, d], mask bool [B, L] -> [B, d]."""
    m = tf.cast(mask, values.dtype)[..., None]                            # [B, L, 1]
    count = tf.maximum(tf.reduce_sum(m, axis=1), 1.0)                     # [B, 1]
    return tf.reduce_sum(values * m, axis=1) / count


@keras.saving.register_keras_serializable(package="recall_models")
class ItemSoftmax(SampledSoftmaxLayer):
    """`SampledSoftmaxLayer` whose rows are L2-normalised when `normalize=True`.

    It only overrides the layer's `table()` hook: the loss, the logits and `export` all read
    the table from there, so training and serving agree.
    """

    def __init__(self, *args, normalize: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.normalize = bool(normalize)

    def table(self):
        """w_i = W_i / |W_i| if normalize else W_i: [I, d]."""
        return tf.math.l2_normalize(self.kernel, axis=1) if self.normalize else self.kernel

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize}


def check_positive_int(value, name: str) -> int:
    """int(value) if it is a positive int (not bool), else ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
    return int(value)


def check_tower(hidden_units, dropout) -> tuple[list[int], float]:
    """(widths, rate) of a ReLU tower: positive ints and a rate in [0, 1); else a ValueError
    naming `hidden_units` or `dropout` (Keras would name its own `units` or `rate`)."""
    if isinstance(hidden_units, (int, np.integer, str)) or not hasattr(hidden_units, "__iter__"):
        raise ValueError(f"`hidden_units` must be a sequence of positive ints, e.g. (128,), "
                         f"got {hidden_units!r}.")
    units = [check_positive_int(u, "hidden_units") for u in hidden_units]
    if not 0 <= float(dropout) < 1:
        raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}.")
    return units, float(dropout)


@keras.saving.register_keras_serializable(package="recall_models")
class YouTubeDNN(keras.Model):
    """YouTubeDNN candidate generator (module docstring).

    Args:
      num_items: I, including padding id 0.
      user_feature_sizes: {"gender": n, "age": n, "occupation": n, "zip": n} vocab sizes.
      item_genres: int [I, G] genre codes per item (0 = none), used when `use_genres`.
      sampler: a `recall_models.models.samplers` sampler, or None with `loss="softmax"`.
      num_sampled: S, negatives per batch (the sampler's `num_sampled`).
      loss: "sampled_softmax" or "softmax" (full).
      embedding_dim: d of the history embedding.
      profile_dim: d_p of each profile embedding.
      hidden_units: widths of the ReLU layers.
      output_dim: d_out of user and item vectors.
      normalize, temperature: L2 normalisation and tau (module docstring).
      use_bias: an item bias b_i.
      use_genres: add the pooled genres of the history.
      dropout: dropout rate after each ReLU layer (training only).
      l2: L2 penalty on the embeddings and kernels of the tower.
    """

    def __init__(self, num_items, user_feature_sizes, item_genres=None, sampler=None,
                 num_sampled=64, loss="sampled_softmax", embedding_dim=64, profile_dim=8,
                 hidden_units=(128,), output_dim=64, normalize=False, temperature=1.0,
                 use_bias=True, use_genres=True, dropout=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(sampler, dict):                   # from get_config
            sampler = keras.saving.deserialize_keras_object(sampler)
        hidden_units, dropout = check_tower(hidden_units, dropout)
        for name, value in (("embedding_dim", embedding_dim), ("profile_dim", profile_dim),
                            ("output_dim", output_dim)):
            check_positive_int(value, name)
        self._config = dict(
            num_items=int(num_items), num_sampled=int(num_sampled), loss=loss,
            user_feature_sizes={k: int(v) for k, v in dict(user_feature_sizes).items()},
            item_genres=None if item_genres is None else np.asarray(item_genres).tolist(),
            embedding_dim=int(embedding_dim), profile_dim=int(profile_dim),
            hidden_units=[int(u) for u in hidden_units], output_dim=int(output_dim),
            normalize=bool(normalize), temperature=float(temperature), use_bias=bool(use_bias),
            use_genres=bool(use_genres), dropout=float(dropout), l2=float(l2))
        _samplers.check_loss_and_sampler(loss, sampler, int(num_sampled))
        if not float(temperature) > 0:
            raise ValueError(f"`temperature` must be > 0, got {temperature}.")
        missing = [n for n in PROFILE if n not in user_feature_sizes]
        if missing:
            raise ValueError(f"`user_feature_sizes` lacks {missing}; expected keys {PROFILE}.")
        if use_genres and item_genres is None:
            raise ValueError("`use_genres=True` needs `item_genres` [num_items, G].")
        self.num_items = int(num_items)
        self.normalize, self.temperature = bool(normalize), float(temperature)
        self.use_bias, self.use_genres = bool(use_bias), bool(use_genres)
        reg = keras.regularizers.L2(l2) if l2 else None
        self.history_embedding = keras.layers.Embedding(self.num_items, embedding_dim,
                                                        embeddings_regularizer=reg,
                                                        name="history_embedding")
        if self.use_genres:
            self.genre_weights = tf.constant(genre_weights(item_genres))      # [I, n_genres]
            self.genre_embedding = keras.layers.Embedding(
                self.genre_weights.shape[1], embedding_dim, name="genre_embedding")
        self.profile_embeddings = {
            n: keras.layers.Embedding(int(user_feature_sizes[n]), profile_dim,
                                      embeddings_regularizer=reg, name=f"{n}_embedding")
            for n in PROFILE}
        self.tower = [keras.layers.Dense(u, activation="relu", kernel_regularizer=reg,
                                         name=f"relu_{k}") for k, u in enumerate(hidden_units)]
        self.dropout = keras.layers.Dropout(dropout) if dropout else None
        self.top = keras.layers.Dense(output_dim, name="user_vector")
        self.sampler = sampler
        if getattr(sampler, "step", None) is not None:
            self.sampler_step = sampler.step            # tracked: checkpointed and restored
        self.output_layer = ItemSoftmax(
            self.num_items, num_sampled=num_sampled, loss=loss, sampler=sampler,
            normalize=normalize, use_bias=use_bias, name="item_softmax")

    # ------------------------------------------------------------------ user side
    def user_vector(self, inputs, training=None):
        """x_u [B, d_out]: the tower output z_u, normalised if asked, divided by tau."""
        history = tf.cast(inputs["history"], tf.int32)                       # [B, L]
        mask = history > 0                                                    # [B, L]
        parts = [masked_mean(self.history_embedding(history), mask)]         # [B, d]
        if self.use_genres:
            # Genre vector of item i: mean_k E_genre[genre_k(i)] = (A E_genre)_i. The masked
            # mean is linear, so g = masked_mean_t (A E_genre)_{x_t} = (masked_mean_t A_{x_t})
            # E_genre: pool the batch's rows of A first ([B, n_genres]) and multiply once,
            # never forming A E_genre [I, d] or its gradient for the whole catalogue (at
            # 26,744 items that was a fifth of a training step).
            all_genres = self.genre_embedding(tf.range(self.genre_weights.shape[1]))
            pooled = masked_mean(tf.gather(self.genre_weights, history), mask)  # [B, n_genres]
            parts.append(tf.matmul(pooled, all_genres))                         # [B, d]
        for n in PROFILE:
            parts.append(self.profile_embeddings[n](tf.cast(inputs[n], tf.int32)))  # [B, d_p]
        z = tf.concat(parts, axis=-1)
        for layer in self.tower:
            z = layer(z)
            if self.dropout is not None:
                z = self.dropout(z, training=training)
        z = self.top(z)                                                       # [B, d_out]
        if self.normalize:
            z = tf.math.l2_normalize(z, axis=-1)                             # z / |z|
        return z / self.temperature                                          # x_u = z / tau

    def call(self, inputs, training=None):
        """Training with a "label": per-example loss [B] (its mean added with add_loss).
        Otherwise: full logits [B, I] = x_u w_i + b_i; with a "label" the mean full softmax
        cross-entropy is added as the loss, which is what `evaluate` and `val_loss` report
        (`w2v_tf.layers.SampledSoftmaxLayer`)."""
        x = self.user_vector(inputs, training=training)
        return self.output_layer(x, inputs.get("label"), training=training)

    def get_config(self):
        """Constructor arguments (JSON-ready); the sampler as a Keras-serialised object."""
        sampler = (None if self.sampler is None else
                   keras.saving.serialize_keras_object(self.sampler))
        return {**super().get_config(), **self._config, "sampler": sampler}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def build_from_config(self, config):
        """Creates the variables when Keras loads the model: a dummy batch of one user."""
        del config
        dummy = {"history": np.ones((1, 1), np.int32),
                 **{n: np.zeros((1,), np.int32) for n in PROFILE}}
        self(dummy, training=False)

    # ------------------------------------------------------------------ serving
    def item_vectors(self) -> np.ndarray:
        """[I, d_out (+1)]: w_i, with b_i appended when `use_bias`."""
        w = self.output_layer.table()
        if self.use_bias:
            w = tf.concat([w, self.output_layer.bias[:, None]], axis=1)
        return np.array(w, np.float32)

    def user_vectors(self, inputs, batch_size: int = 4096) -> np.ndarray:
        """[N, d_out (+1)]: x_u, with a 1 appended when `use_bias` (so <x, w> = logit)."""
        n = len(inputs["history"])
        out = []
        for lo in range(0, n, batch_size):
            batch = {k: v[lo:lo + batch_size] for k, v in inputs.items() if k != "label"}
            out.append(np.asarray(self.user_vector(batch, training=False)))
        x = np.concatenate(out, 0) if out else np.zeros((0, self.top.units), np.float32)
        if self.use_bias:
            x = np.concatenate([x, np.ones((len(x), 1), x.dtype)], axis=1)
        return x.astype(np.float32)

    def vectors(self, ds, split):
        """(user vectors [U, D], item vectors [I, D], None) for `recall_models.evaluation.metrics`."""
        inputs = model_inputs(ds, ds.samples(split), with_label=False)
        return self.user_vectors(inputs), self.item_vectors(), None
