"""ComiRec-SA (Cen et al., KDD 2020): self-attentive multi-interest retrieval, trained with
w2v_tf's sampled softmax.

Behaviour embeddings e_t of the L history items (the `MultiInterestModel` item table: id plus
genres) and positional embeddings P, here counted from the most recent item (position
r_t = n - 1 - t of a history x_0..x_{n-1} in time order, so the newest item always has
position 0 whatever the length):

    H   = tanh((E + P) W_1)              [B, L, d_a]     d_a = `attention_units` (d)
    A   = softmax_t(H W_2  masked)       [B, L, K]       one attention head per interest,
                                                          over the real behaviours t < n
    V_j = sum_t A_tj e_t                 [B, K, d]       interest j (no positions in the value)

With `use_profile` (not the paper's; YouTubeDNN's profile input) the user's profile
embeddings p_u = [p_gender, p_age, p_occupation, p_zip] [B, 4 d_p] move every interest by
the same vector: V_j <- V_j + p_u W_p (W_p [4 d_p, d], no bias), so that the profile adds
p_u W_p . w_i to every interest's score of item i.

With `hidden_units` (not the paper's; MIND's and YouTubeDNN's tower) every interest then
goes through the same ReLU layers and a linear layer back to d,
V_j <- Dense_d(ReLU(...([V_j, m_u]))), where m_u = masked_mean_t e_t (YouTubeDNN's
history input) is concatenated only with `pool_history`.

All K interests are active for every user. The loss is the sampled softmax over the label
and the negatives against the output table (shared with the behaviour table when
`shared_table`, as in the paper, or separate), each candidate c scored by the user's best
interest, max_j V_j . w_c (`candidate_score="max"`, the default; what serving ranks by).
This is not the paper's loss: with `candidate_score="attended"` the training is label-aware
as in the paper: with the dots a_j = V_j . w_label, v_u = sum_j softmax(sign(a)|a|^p)_j V_j,
hard attention at p = inf (v_u = V_{argmax_j a_j}), and every candidate is scored against
v_u alone. On the ML-100K validation split (10 epochs, 3 seeds, docs/recall-ablations.md,
fifth round) the max score reached HR@50 0.554 against 0.427 for the paper's loss, and
0.482 for YouTubeDNN. Serving: top-k per interest merged by score, which is the max over
interests of `recall_models.evaluation.retrieval` (`merge="max"`).

d_a defaults to d, not the paper's 4 d: on the ML-100K validation split (30-epoch budget,
patience 3, docs/recall-ablations.md, third round) d_a = d and 4 d reach the same HR@50
within seed noise, d_a = d learns faster (better at 10 epochs) and its training step is
2.3-4.0x faster on one core (the tanh layer over every history position was most of the
step): 15.6 ms with d = d_a = 64 against 35-64 ms with d_a = 256 in three runs of
benchmarks/recall_training.py.

The positions are a table of `max_positions` rows; a longer history is a ValueError.
"""
from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from recall_models.models.mind import MultiInterestModel, check_positive_int, recency
from recall_models.models.youtubednn import masked_mean


def self_attentive_interests(behaviours, positions, mask, w1, w2):
    """V [B, K, d] and the attention A [B, K, L] of ComiRec-SA (module docstring).

    Args:
      behaviours: E [B, L, d].
      positions: P [B, L, d] (or broadcastable), added before the attention only.
      mask: bool [B, L], True on real behaviours (at least one per row).
      w1: W_1 [d, d_a];  w2: W_2 [d_a, K].

    Returns:
      (V [B, K, d], A [B, K, L] with rows summing to 1 over the real behaviours).
    """
    h = tf.tanh(tf.tensordot(behaviours + positions, w1, axes=1))          # [B, L, d_a]
    scores = tf.transpose(tf.tensordot(h, w2, axes=1), [0, 2, 1])           # [B, K, L]
    scores = tf.where(mask[:, None, :], scores, -1e9)
    att = tf.nn.softmax(scores, axis=-1)                                    # over t
    return tf.matmul(att, behaviours), att                                  # V_j = sum_t A_jt e_t


@keras.saving.register_keras_serializable(package="recall_models")
class ComiRecSA(MultiInterestModel):
    """ComiRec-SA (module docstring).

    Args:
      num_items, item_genres, sampler, num_sampled, loss: as `recall_models.models.mind.MIND`.
      user_feature_sizes: the profile features' vocabulary sizes, read when `use_profile`
        (else unused).
      embedding_dim: d.
      num_interests: K attention heads.
      attention_units: d_a of W_1 (default d; the paper's is 4 d, module docstring).
      pow_p: label-aware attention power (math.inf = the paper's hard attention).
      shared_table, use_bias, max_positions, merge, l2: `MultiInterestModel`.
      use_profile: add the projected profile embeddings to every interest (module docstring).
      profile_dim: d_p of each profile embedding (with `use_profile`).
      hidden_units: widths of a ReLU tower applied to every interest (default none, the
        paper's: the interests are the attention-weighted behaviours themselves).
      pool_history: with `hidden_units`, concatenate the mean behaviour embedding of the
        history to every interest before the tower.
      candidate_score: "attended" or "max", `recall_models.models.mind.MultiInterestModel`.
    """

    def __init__(self, num_items, user_feature_sizes=None, item_genres=None, sampler=None,
                 num_sampled=64, loss="sampled_softmax", embedding_dim=64, num_interests=4,
                 attention_units=None, pow_p=math.inf, shared_table=True, use_bias=False,
                 max_positions=50, merge="max", l2=0.0, seed=0, use_profile=False,
                 profile_dim=8, hidden_units=(), pool_history=False,
                 candidate_score="max", **kwargs):
        config = {k: v for k, v in locals().items() if k not in ("self", "kwargs", "__class__")}
        super().__init__(config, num_items, item_genres, sampler=sampler,
                         num_sampled=num_sampled, loss=loss, embedding_dim=embedding_dim,
                         num_interests=num_interests, pow_p=pow_p, shared_table=shared_table,
                         use_bias=use_bias, max_positions=max_positions, merge=merge, l2=l2,
                         candidate_score=candidate_score, **kwargs)
        units = self.dim if attention_units is None else attention_units
        self.attention_units = check_positive_int(units, "attention_units")
        # Saved with its value, so a model reloads with its own d_a whatever the default.
        self._config["attention_units"] = self.attention_units
        self.position_embedding = keras.layers.Embedding(self.max_positions, self.dim,
                                                         name="position")
        self.w1 = self.add_weight(shape=(self.dim, self.attention_units), name="attention_W1",
                                  initializer="glorot_uniform")
        self.w2 = self.add_weight(shape=(self.attention_units, self.num_interests),
                                  name="attention_W2", initializer="glorot_uniform")
        self.use_profile = bool(use_profile)
        if self.use_profile:
            self.add_profile_embeddings(user_feature_sizes,
                                        check_positive_int(profile_dim, "profile_dim"))
            self.profile_projection = keras.layers.Dense(self.dim, use_bias=False,
                                                         name="profile_projection")
        units = [check_positive_int(u, "hidden_units") for u in hidden_units]
        self.pool_history = bool(pool_history)
        if self.pool_history and not units:
            raise ValueError("`pool_history`=True needs a tower (`hidden_units`): the mean "
                             "behaviour is an input of the tower's first layer.")
        self._config["hidden_units"] = units
        if units:
            self.add_tower(units)
        else:
            self.tower, self.top = [], None

    def attention(self, inputs, table=None):
        """(V [B, K, d], A [B, K, L], mask bool [B, L]) for a batch of `inputs`."""
        return self._attend(inputs, table)[:3]

    def _attend(self, inputs, table=None):
        """`attention`, and the behaviours E [B, L, d] it attended over."""
        history = tf.cast(inputs["history"], tf.int32)                       # [B, L]
        self.check_history(history)
        mask = history > 0
        table = self.item_table() if table is None else table
        behaviours = tf.gather(table, history)                               # [B, L, d]
        positions = self.position_embedding(recency(mask))                   # [B, L, d]
        v, att = self_attentive_interests(behaviours, positions, mask, self.w1, self.w2)
        return v, att, mask, behaviours

    def interests(self, inputs, training=None, table=None):
        """(V [B, K, d], active bool [B, K], all True)."""
        v, _, mask, behaviours = self._attend(inputs, table)
        if self.use_profile:                                  # V_j + p_u W_p, every j
            v = v + self.profile_projection(self.profile(inputs))[:, None, :]
        if self.tower:                                        # [V_j, m_u] with pool_history
            pooled = [masked_mean(behaviours, mask)] if self.pool_history else []
            v = self.tower_interests(v, pooled, training)     # [B, K, d]
        return v, tf.ones(tf.shape(v)[:2], tf.bool)
