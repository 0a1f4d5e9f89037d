"""A MIND-like multi-interest model (Li et al., CIKM 2019) trained with w2v_tf's sampled softmax.

Item embedding (one table, used for behaviours *and* as the softmax weights):

    e_i = (E_id[i] + sum_g E_genre[g]) / (1 + |genres(i)|)              [I, d]

Behaviour-to-interest (B2I) dynamic routing, one shared bilinear matrix S [d, d]
(paper, Algorithm 1), for the n real behaviours of a user:

    u_hat_t = S^T e_{x_t}                                 [B, L, d]   (padding rows masked)
    b_jt ~ N(0, sigma^2)         drawn per sample on every forward pass      [B, K, L]
    repeat 3 times:
        w_jt = softmax_j(b_jt)   over the K' active interests (not the behaviours)
        z_j  = sum_t w_jt u_hat_t,   c_j = squash(z_j) = |z|^2 / (1 + |z|^2) z / |z|
        b_jt += c_j . stopgrad(u_hat_t)
    K'_u = max(1, min(K, floor(log2 n_u))) active interests; the others are masked.

Each capsule is concatenated with the profile embedding p_u and goes through ReLU layers
and a linear output layer: v_uj = W_2 ReLU(W_1 [c_uj, p_u]) [B, K, d]; masked interests
are set to 0 and carry mask False.

Label-aware attention for training, with a the dots V_u^T e_label [B, K]:

    v_u = V_u softmax(sign(a) |a|^p)        (p finite > 0; `attention_weights`)
    p = 0: the mean of the active interests;  p = inf: hard attention, argmax_j a_j (raw dot)

sign(a)|a|^p equals pow(a, p) for odd p and keeps the order of the dots for even p (a plain
even power ranks the most negative dot first; DeepMatch's fault). It is computed without
overflow for any |a| and p (see `attention_weights`). The loss is the sampled softmax of
v_u against the item table. Serving scores every active interest of a user and the
harness merges them by max (protocol step 5).

The routing logits are drawn per sample and per call (DeepMatch #44/#75 and fun-rec shared
one variable across the batch): a user's interests never depend on the other users of the
batch, given the same draws (tests/test_mind.py).
"""
from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from recall_models.models import samplers as _samplers

from w2v_tf import losses as _losses
from recall_models.models.youtubednn import PROFILE, model_inputs  # noqa: F401 (shared input dict)

_TINY = 1e-30
_LOG_CLIP = 60.0            # exp(60) ~ 1e26 is finite in float32; exp(-exp(60)) == 0


def squash(z, axis=-1):
    """squash(z) = |z|^2 / (1 + |z|^2) * z / |z| (Sabour et al. 2017), safe at z = 0."""
    sq = tf.reduce_sum(tf.square(z), axis=axis, keepdims=True)
    return z * tf.sqrt(sq + 1e-9) / (1.0 + sq)


def num_active_interests(length, num_interests: int):
    """K'_u = max(1, min(K, floor(log2 n_u))), exactly, for int `length` [B] -> int32 [B].

    floor(log2 n) = #{k >= 1 : 2^k <= n}, so min(K, floor(log2 n)) counts k = 1..K.
    """
    n = tf.cast(length, tf.int64)[:, None]                                  # [B, 1]
    powers = tf.constant([2 ** k for k in range(1, num_interests + 1)], tf.int64)
    k = tf.reduce_sum(tf.cast(n >= powers[None, :], tf.int32), axis=1)     # [B]
    return tf.maximum(k, 1)


def dynamic_routing(behaviours, mask, bilinear, routing_logits, active, iterations: int = 3):
    """B2I dynamic routing (module docstring).

    Args:
      behaviours: e [B, L, d] behaviour embeddings.
      mask: bool [B, L], True on real behaviours.
      bilinear: S [d, d'] shared by all interests.
      routing_logits: b0 [B, K, L], the initial routing logits.
      active: bool [B, K], the interests that exist for each user.
      iterations: routing iterations (3 in the paper).

    Returns:
      capsules [B, K, d'], zero on inactive interests.
    """
    u_hat = tf.tensordot(behaviours, bilinear, axes=1)                      # [B, L, d']
    u_hat *= tf.cast(mask, u_hat.dtype)[..., None]
    u_fixed = tf.stop_gradient(u_hat)
    b = routing_logits
    keep = tf.cast(mask, b.dtype)[:, None, :]                              # [B, 1, L]
    for it in range(iterations):
        # w_jt = softmax over the active interests j of b_jt (not over behaviours t).
        logits = tf.where(active[:, :, None], b, -1e9)
        w = tf.nn.softmax(logits, axis=1) * keep                            # [B, K, L]
        caps = squash(tf.matmul(w, u_hat))                                  # [B, K, d']
        if it + 1 < iterations:
            b = b + tf.matmul(caps, u_fixed, transpose_b=True)              # b += c . u_hat
    return caps * tf.cast(active, caps.dtype)[..., None]


def attention_weights(dots, active, p):
    """softmax_j(sign(a_j) |a_j|^p) over active j, finite for any |a| and p; p=inf: argmax.

    x = sign(a)|a|^p is increasing in a, so the largest x belongs to a* = max_j a_j. With
    M_j = max(|a_j|, |a*|) and the ratios y_j = sign(a_j)(|a_j| / M_j)^p, y*_j =
    sign(a*)(|a*| / M_j)^p, both in [-1, 1] (no overflow, and one of them is +-1, so their
    gap does not underflow to 0 unless it is 0):
        x* - x_j = M_j^p (y*_j - y_j) = exp(p log M_j + log(y*_j - y_j))
    and the weights are exp(-(x* - x_j)) / sum. The exponent is clipped at 60
    (exp(-e^60) is 0 in float32 anyway), so neither values nor gradients are inf or NaN.

    Args:
      dots: a [B, K] float.
      active: bool [B, K] (at least one True per row).
      p: float >= 0, or math.inf for hard attention. p = 0 averages the active interests.

    Returns:
      weights [B, K], rows summing to 1, 0 on inactive interests.
    """
    p = float(p)
    if not (p >= 0):
        raise ValueError(f"`p` must be >= 0 or inf, got {p}.")
    act = tf.cast(active, dots.dtype)
    if p == 0:
        return act / tf.reduce_sum(act, axis=1, keepdims=True)
    best = tf.argmax(tf.where(active, dots, dots.dtype.min), axis=1)        # argmax_j a_j
    if math.isinf(p):
        # Hard attention: the argmax of the raw dot (never of a power of it).
        return tf.one_hot(best, tf.shape(dots)[1], dtype=dots.dtype)
    a_star = tf.gather(dots, best, batch_dims=1)[:, None]                   # a* [B, 1]
    mag, mag_star = tf.abs(dots), tf.abs(a_star)
    big = tf.maximum(tf.maximum(mag, mag_star), _TINY)                      # M_j [B, K]

    def ratio_pow(m):                                                       # (m / M_j)^p <= 1
        return tf.exp(p * tf.math.log(tf.maximum(m, _TINY) / big))
    gap = tf.maximum(tf.sign(a_star) * ratio_pow(mag_star) - tf.sign(dots) * ratio_pow(mag),
                     0.0)                                                   # y*_j - y_j
    expo = tf.minimum(p * tf.math.log(big) + tf.math.log(tf.maximum(gap, _TINY)), _LOG_CLIP)
    shift = tf.where(gap > 0, tf.exp(expo), 0.0)                            # x* - x_j >= 0
    e = tf.where(active, tf.exp(-shift), 0.0)
    return e / tf.reduce_sum(e, axis=1, keepdims=True)


def label_aware_attention(interests, target, active, p):
    """v_u = sum_j w_j v_uj with w = attention_weights(V_u^T e, p): [B, d], weights [B, K]."""
    dots = tf.einsum("bkd,bd->bk", interests, target)
    w = attention_weights(dots, active, p)
    return tf.einsum("bk,bkd->bd", w, interests), w


class MIND(keras.Model):
    """MIND-like multi-interest retrieval model (module docstring).

    Args:
      num_items, user_feature_sizes, item_genres, sampler, num_sampled, loss: as
        `recall_models.models.youtubednn.YouTubeDNN` (loss "sampled_softmax" or "softmax").
      embedding_dim: d of items, capsules and interests.
      profile_dim: d_p of each profile embedding.
      hidden_units: ReLU layers applied to [capsule, profile].
      num_interests: K, the most interests per user.
      iterations: routing iterations.
      pow_p: p of the label-aware attention (math.inf = hard).
      routing_stddev: sigma of the initial routing logits.
      use_bias: an item bias in the softmax (folded into the exported vectors).
      seed: seed of the routing-logit generator.
    """

    def __init__(self, num_items, user_feature_sizes, item_genres, sampler=None,
                 num_sampled=64, loss="sampled_softmax", embedding_dim=64, profile_dim=8,
                 hidden_units=(128,), num_interests=4, iterations=3, pow_p=2.0,
                 routing_stddev=1.0, use_bias=False, seed=0, dropout=0.0, l2=0.0,
                 output_dim=None, **kwargs):
        super().__init__(**kwargs)
        _samplers.check_loss_and_sampler(loss, sampler)
        if output_dim is not None and int(output_dim) != int(embedding_dim):
            raise ValueError(f"`output_dim`={output_dim}: MIND's interests live in the item "
                             f"space, so output_dim must equal embedding_dim={embedding_dim}.")
        if not isinstance(num_interests, (int, np.integer)) or num_interests < 1:
            raise ValueError(f"`num_interests` must be a positive int, got {num_interests!r}.")
        if not isinstance(iterations, (int, np.integer)) or iterations < 1:
            raise ValueError(f"`iterations` must be a positive int, got {iterations!r}.")
        if not (float(pow_p) >= 0):
            raise ValueError(f"`pow_p` must be >= 0 or inf, got {pow_p!r}.")
        if item_genres is None:
            raise ValueError("`item_genres` [num_items, G] is required (item = id + genres).")
        self.num_items, self.dim = int(num_items), int(embedding_dim)
        self.num_interests, self.iterations = int(num_interests), int(iterations)
        self.pow_p, self.routing_stddev = float(pow_p), float(routing_stddev)
        self.loss_name, self.num_sampled = loss, int(num_sampled)
        self.sampler, self.use_bias = sampler, bool(use_bias)
        if getattr(sampler, "step", None) is not None:
            self.sampler_step = sampler.step            # tracked: checkpointed and restored
        codes = np.asarray(item_genres, np.int64)
        counts = np.zeros((codes.shape[0], int(codes.max()) + 1), np.float32)
        np.add.at(counts, (np.repeat(np.arange(codes.shape[0]), codes.shape[1]),
                           codes.ravel()), 1.0)
        counts[:, 0] = 0.0
        self.genre_counts = tf.constant(counts)                             # [I, n_genres]
        self.item_norm = tf.constant(1.0 + counts.sum(1, keepdims=True))    # 1 + |genres(i)|
        reg = keras.regularizers.L2(l2) if l2 else None
        self.id_embedding = keras.layers.Embedding(self.num_items, self.dim,
                                                   embeddings_regularizer=reg, name="item_id")
        self.genre_embedding = keras.layers.Embedding(counts.shape[1], self.dim, name="genre")
        self.profile_embeddings = {
            n: keras.layers.Embedding(int(user_feature_sizes[n]), profile_dim,
                                      embeddings_regularizer=reg, name=f"{n}_embedding")
            for n in PROFILE}
        self.bilinear = self.add_weight(shape=(self.dim, self.dim), name="bilinear_S",
                                        initializer="glorot_normal")
        self.tower = [keras.layers.Dense(u, activation="relu", kernel_regularizer=reg,
                                         name=f"relu_{k}") for k, u in enumerate(hidden_units)]
        self.dropout = keras.layers.Dropout(dropout) if dropout else None
        self.top = keras.layers.Dense(self.dim, name="interest")
        self.item_bias = (self.add_weight(shape=(self.num_items,), name="item_bias",
                                          initializer="zeros") if self.use_bias else None)
        self.seed_generator = keras.random.SeedGenerator(seed)

    # ------------------------------------------------------------------ pieces
    def item_table(self):
        """e_i = (E_id[i] + sum_g E_genre[g]) / (1 + |genres(i)|): [I, d]."""
        ids = self.id_embedding(tf.range(self.num_items))                   # [I, d]
        genres = self.genre_embedding(tf.range(self.genre_counts.shape[1]))  # [n_genres, d]
        return (ids + tf.matmul(self.genre_counts, genres)) / self.item_norm

    def routing_logits(self, batch, length):
        """b0 ~ N(0, sigma^2) [batch, K, length], new draws on every call."""
        return keras.random.normal((batch, self.num_interests, length),
                                   stddev=self.routing_stddev, seed=self.seed_generator)

    def interests(self, inputs, training=None, routing_logits=None, table=None):
        """(V [B, K, d] with zeros on inactive interests, active bool [B, K])."""
        history = tf.cast(inputs["history"], tf.int32)                       # [B, L]
        mask = history > 0
        table = self.item_table() if table is None else table
        behaviours = tf.gather(table, history)                               # [B, L, d]
        k_active = num_active_interests(tf.reduce_sum(tf.cast(mask, tf.int32), 1),
                                        self.num_interests)
        active = tf.range(self.num_interests)[None, :] < k_active[:, None]   # [B, K]
        if routing_logits is None:
            routing_logits = self.routing_logits(tf.shape(history)[0], tf.shape(history)[1])
        caps = dynamic_routing(behaviours, mask, self.bilinear, routing_logits, active,
                               self.iterations)                              # [B, K, d]
        profile = tf.concat([self.profile_embeddings[n](tf.cast(inputs[n], tf.int32))
                             for n in PROFILE], axis=-1)                     # [B, P]
        profile = tf.tile(profile[:, None, :], [1, self.num_interests, 1])    # [B, K, P]
        h = tf.concat([caps, profile], axis=-1)
        for layer in self.tower:
            h = layer(h)
            if self.dropout is not None:
                h = self.dropout(h, training=training)
        v = self.top(h) * tf.cast(active, h.dtype)[..., None]                # [B, K, d]
        return v, active

    def call(self, inputs, training=None):
        """Training with a "label": per-example loss [B] (mean added with add_loss).
        Otherwise: interests [B, K, d] (zero where inactive)."""
        table = self.item_table()
        v, active = self.interests(inputs, training=training, table=table)
        if not (training and "label" in inputs):
            return v
        labels = tf.cast(inputs["label"], tf.int64)[:, None]                 # [B, 1]
        user, _ = label_aware_attention(v, tf.gather(table, labels[:, 0]), active,
                                        self.pow_p)                          # [B, d]
        if self.loss_name == "softmax":
            loss = _losses.full_softmax_loss(table, self.item_bias, labels, user)
        else:
            loss = _losses.sampled_softmax_loss(
                table, self.item_bias, labels, user, self.num_sampled, self.num_items,
                sampled_values=self.sampler(labels))
        self.add_loss(tf.reduce_mean(loss))
        return loss

    # ------------------------------------------------------------------ serving
    def item_vectors(self) -> np.ndarray:
        """[I, d (+1)]: e_i, with the bias appended when `use_bias`."""
        e = self.item_table()
        if self.use_bias:
            e = tf.concat([e, self.item_bias[:, None]], axis=1)
        return np.array(e, np.float32)

    def user_vectors(self, inputs, batch_size: int = 2048):
        """(V [N, K, d (+1)], active bool [N, K]); inactive interests are zero and masked."""
        vs, masks = [], []
        for lo in range(0, len(inputs["history"]), batch_size):
            batch = {k: v[lo:lo + batch_size] for k, v in inputs.items() if k != "label"}
            v, active = self.interests(batch, training=False)
            vs.append(np.asarray(v))
            masks.append(np.asarray(active))
        v, mask = np.concatenate(vs, 0), np.concatenate(masks, 0)
        if self.use_bias:
            v = np.concatenate([v, mask[..., None].astype(v.dtype)], axis=2)
        return v.astype(np.float32), mask

    def vectors(self, ds, split):
        """(user interests [U, K, D], item vectors [I, D], mask [U, K]) for the harness."""
        users, mask = self.user_vectors(model_inputs(ds, ds.samples(split), with_label=False))
        return users, self.item_vectors(), mask
