"""A MIND-like multi-interest model (Li et al., CIKM 2019) trained with w2v_tf's sampled softmax.

Behaviour embedding of an item (the table the user tower reads):

    e_i = (E_id[i] + sum_g E_genre[g]) / (1 + |genres(i)|)              [I, d]

With `positions` (the default; not the paper's, whose routing reads the history as a set)
each behaviour also carries its recency, as in ComiRec-SA: e_t <- e_t + P[r_t], with
r_t = n - 1 - t (0 for the newest of the n items, `recency`) and P a learned
[max_positions, d] table; on the ML-100K validation split it lifted HR@50 from 0.41 to 0.47
(docs/recall-ablations.md, sixth round).

Behaviour-to-interest (B2I) dynamic routing, one shared bilinear matrix S [d, d]
(paper, Algorithm 1), for the n real behaviours of a user:

    u_hat_t = S^T e_{x_t}                                 [B, L, d]   (padding rows masked)
    b_jt = b0_jt                                          [B, K, L]   (`routing_init`)
    repeat 3 times:
        w_jt = softmax_j(b_jt)   over the K' active interests (not the behaviours)
        z_j  = sum_t w_jt u_hat_t,   c_j = squash(z_j) = |z|^2 / (1 + |z|^2) z / |z|
        b_jt += c_j . stopgrad(u_hat_t)
    K'_u = max(1, min(K, floor(log2 n_u))) active interests; the others are masked.

With one S shared by all interests, the K capsules differ only through b0: b0 = 0 would
give K equal capsules. `routing_init="random"` draws b0 ~ sigma N(0, 1) per sample on every
forward pass (the paper; serving is then random too), with a Philox normal by default
(`routing_draw="counter_hash"`: a cheaper, approximately normal draw, `counter_hash_normal`);
`"fixed"` draws one b0 [K, L_max] once
from `seed` and keeps it (a non-trainable weight: saved, the same for every user and call).

Each capsule (concatenated with the profile embedding p_u when `use_profile`, and with the
mean behaviour h_u = mean_t e_{x_t} when `pool_history`) goes through ReLU layers and a
linear output layer: v_uj = W_2 ReLU(W_1 [c_uj, h_u, p_u]) [B, K, d]; masked interests are
0 and carry mask False.

Output items (`MultiInterestModel`): with `shared_table=True` the softmax weights are the
behaviour table e_i (the paper, and DeepMatch/ComiRec); with `shared_table=False` a separate
output table W [I, d] (YouTubeDNN's choice), with an item bias b_i when `use_bias`.

The loss (`candidate_score`). By default ("max", not the papers') every candidate item c,
the label and each sampled negative, is scored by the user's best active interest,

    o_uc = max_j v_uj . w_c  (- log Q(c) for the sampled softmax)

which is what max-merge serving ranks by, so training pushes each negative below the label
for every interest, not only for the one nearest the label. On the ML-100K validation split
(10 epochs, 3 seeds, docs/recall-ablations.md, fifth round) it lifted ComiRec-SA's HR@50 from
0.43 to 0.55 and MIND's from 0.40 to 0.41 (log-uniform sampler). The true logit is the hard
label-aware attention's. With "attended" (the papers' loss) the label picks one interest
and every candidate is scored against it alone, through label-aware attention, with a the
dots V_u^T w_label [B, K]:

    v_u = V_u softmax(sign(a) |a|^p)        (p finite > 0; `attention_weights`)
    p = 0: the mean of the active interests;  p = inf: hard attention, argmax_j a_j (raw dot)

sign(a)|a|^p equals pow(a, p) for odd p and keeps the order of the dots for even p (a plain
even power ranks the most negative dot first; DeepMatch's fault). It is computed without
overflow for any |a| and p (see `attention_weights`). That loss is the sampled softmax of
v_u against the output table. Serving scores every active interest of a user and the
harness merges them by max, which is exactly ComiRec's "top-k per interest, merged by score"
(`recall_models.evaluation.retrieval`); `merge="mean"` serves the mean active interest instead.

Speed (`benchmarks/mind_xla_profile.py`, each piece timed with and without XLA): MIND's
XLA epoch was 2.6x slower than its graph epoch (40.8 s vs 15.9 s, one run) because of the
per-step draw of b0: `keras.random.normal` compiles under XLA on CPU to a kernel ~20x
slower than the graph one (19 ms per step against 1 ms), while a Philox
`tf.random.stateless_normal` is as fast compiled as not. b0 was then drawn with Philox, the
routing itself costs the same with and without XLA, and MIND trains under XLA 1.3x faster
than without (`benchmarks/recall_training.py --xla both`). Philox's bits still cost ~7% of
the step (0.7 ms of 10.4 for 51,200 draws); the counter hash, elementwise integer mixes
that XLA fuses, made MIND's step 0.04-0.10x (of YouTubeDNN's examples/s) faster in five
runs side by side but learned worse on the validation split (fifth round), so Philox
stays the default. The routing's first iterations
run without gradient (`dynamic_routing`), 1.2x faster than differentiating all three.

The routing logits are per sample (DeepMatch #44/#75 and fun-rec shared one variable across
the batch): a user's interests never depend on the other users of the batch
(tests/test_mind.py).
"""
from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from recall_models.models import samplers as _samplers

from w2v_tf import losses as _losses
from w2v_tf import sampled_logits as _sampled
from recall_models.models.youtubednn import (PROFILE, check_positive_int, check_tower,  # noqa: F401
                                             genre_weights, masked_mean, model_inputs)

_TINY = 1e-30
_LOG_CLIP = 60.0            # exp(60) ~ 1e26 is finite in float32; exp(-exp(60)) == 0
ROUTING_INITS = ("random", "fixed")
MERGES = ("max", "mean")
CANDIDATE_SCORES = ("attended", "max")
BILINEARS = ("shared", "per_interest")
ROUTING_DRAWS = ("philox", "counter_hash")


def recency(mask):
    """r_t = n - 1 - t, the recency of each history position (0 = the newest real item, the
    padding clipped to 0) for a bool `mask` [B, L] of n real items first: int32 [B, L]."""
    n = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1, keepdims=True)     # [B, 1]
    return tf.maximum(n - 1 - tf.range(tf.shape(mask)[1])[None, :], 0)


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


def dynamic_routing(behaviours, mask, bilinear, routing_logits, active, iterations: int = 3,
                    return_weights: bool = False):
    """B2I dynamic routing (module docstring), computed in the behaviour space.

    Forward values are Algorithm 1's. S is linear and shared by all interests, so it is
    applied to the K capsules instead of the L behaviours (K << L; the same values up to
    float32 round-off, `tests/test_mind.py` checks them and their gradients against the
    u_hat form):

        z_j = sum_t w_jt S^T e_t = S^T (sum_t w_jt e_t)          [B, K, d']
        c_j . u_hat_t = c_j . S^T e_t = (S c_j) . e_t            [B, K, L]

    Projecting every behaviour (u_hat = e S, [B, L, d] x [d, d]: 105 MFLOP of the routing's
    ~150) cost more than the rest of the routing together; now each iteration is two
    batched matmuls over the [B, L, d] behaviours (w e and (S c) e^T, e^T transposed once)
    and S touches [B, K, d] only, each product in the layout XLA's CPU dot runs fastest
    (transposed operands of the batched dots cost 2-3x, benchmarks/mind_xla_profile.py).

    In the backward pass the routing weights w of the last iteration are constants
    (stop-gradient through the earlier iterations, as the reference implementations of
    MIND (DeepMatch) and ComiRec do): the gradient reaches S and the behaviours through
    c_j = squash(S^T sum_t w_jt e_t) only.

    Args:
      behaviours: e [B, L, d] behaviour embeddings.
      mask: bool [B, L], True on real behaviours.
      bilinear: S [d, d'] shared by all interests, or one S_j per interest [K, d, d']
        (`MIND(bilinear="per_interest")`, ComiRec-DR's choice; not MIND's).
      routing_logits: b0 [B, K, L] (or [1, K, L], broadcast), the initial routing logits.
      active: bool [B, K], the interests that exist for each user.
      iterations: routing iterations (3 in the paper).
      return_weights: also return the last iteration's routing weights.

    Returns:
      capsules [B, K, d'], zero on inactive interests (and w [B, K, L] if `return_weights`:
      w_jt, the share of behaviour t routed to interest j; columns of real behaviours sum to 1).
    """
    keep = tf.cast(mask, behaviours.dtype)                                  # [B, L]
    e = behaviours * keep[..., None]                                        # padding rows 0
    e_fixed, s_fixed = tf.stop_gradient(e), tf.stop_gradient(bilinear)
    e_t = tf.transpose(e_fixed, [0, 2, 1])                                  # [B, d, L]
    b = tf.broadcast_to(tf.stop_gradient(routing_logits),
                        tf.concat([tf.shape(e)[:1], tf.shape(routing_logits)[1:]], 0))
    inactive = tf.cast(tf.where(active, 0.0, -1e9), e.dtype)[:, :, None]   # [B, K, 1]

    def weights(b):
        # w_jt = softmax over the active interests j of b_jt (not over behaviours t).
        return tf.nn.softmax(b + inactive, axis=1) * keep[:, None, :]       # [B, K, L]

    per_interest = bilinear.shape.rank == 3                                 # S_j [K, d, d']

    def capsules(w, e, s):
        # c_j = squash(S_j^T sum_t w_jt e_t)                                [B, K, d']
        z = tf.matmul(w, e)                                                 # [B, K, d]
        return squash(tf.einsum("bkd,kde->bke", z, s) if per_interest
                      else tf.tensordot(z, s, axes=1))

    def back(caps, s):                                                      # S_j c_j [B, K, d]
        return (tf.einsum("bke,kde->bkd", caps, s) if per_interest
                else tf.tensordot(caps, s, axes=[[2], [1]]))
    for _ in range(iterations - 1):
        caps = capsules(weights(b), e_fixed, s_fixed)
        b = b + tf.matmul(back(caps, s_fixed), e_t)                         # (S_j c_j) . e_t
    w = weights(b)
    caps = capsules(w, e, bilinear) * tf.cast(active, e.dtype)[..., None]   # with gradient
    return (caps, w) if return_weights else caps


_GOLDEN = 0x9E3779B9


def _fmix32(h):
    """MurmurHash3's 32-bit finaliser: a bijection of uint32 that mixes every bit into all."""
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, 16)) * tf.constant(0x85EBCA6B,
                                                                               tf.uint32)
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, 13)) * tf.constant(0xC2B2AE35,
                                                                               tf.uint32)
    return tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, 16))


def counter_hash_normal(shape, seed):
    """Approximately N(0, 1) draws from a counter hash: cheap, elementwise, fused by XLA.

    Element n gets the 32 bits h_n = fmix(fmix(n G + k_0) xor k_1) (G the golden-ratio
    constant, k_0 and k_1 hashed from the two seed words), read as four bytes
    B_1..B_4 ~ U{0..255}. Their standardised sum (Irwin-Hall, n = 4),

        z = (B_1 + B_2 + B_3 + B_4 - 510) / sqrt(4 (256^2 - 1) / 12),

    has mean 0, variance 1, kurtosis 2.7 (a Gaussian's is 3) and |z| <= 3.46. It is not an
    exact normal: it is for symmetry-breaking starts (MIND's routing logits), where XLA's
    Philox draw costs 3-4x more on CPU (docs/recall-ablations.md, fifth round).

    Args:
      shape: int [rank] tensor or list.
      seed: int [2] tensor (e.g. `keras.random.SeedGenerator.next()`).
    """
    shape = tf.convert_to_tensor(shape, tf.int32)
    seed = tf.cast(seed, tf.int64)
    words = tf.cast(tf.bitwise.bitwise_and(seed, 0xFFFFFFFF), tf.uint32)
    k0 = _fmix32(words[0] + tf.constant(_GOLDEN, tf.uint32))
    k1 = _fmix32(tf.bitwise.bitwise_xor(words[1], k0))
    n = tf.cast(tf.range(tf.reduce_prod(shape)), tf.uint32)
    h = _fmix32(tf.bitwise.bitwise_xor(_fmix32(n * tf.constant(_GOLDEN, tf.uint32) + k0), k1))
    byte = tf.constant(0xFF, tf.uint32)
    total = (tf.bitwise.bitwise_and(h, byte)
             + tf.bitwise.bitwise_and(tf.bitwise.right_shift(h, 8), byte)
             + tf.bitwise.bitwise_and(tf.bitwise.right_shift(h, 16), byte)
             + tf.bitwise.right_shift(h, 24))
    z = (tf.cast(total, tf.float32) - 510.0) / math.sqrt(4 * (256 ** 2 - 1) / 12)
    return tf.reshape(z, shape)


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
    p = check_power(p, "p")
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


def max_interest_logits(interests, active, table, biases=None):
    """o_uc = max over active j of (v_uj . w_c + b_c), every class c: [B, I] (float32).

    What max-merge serving ranks by; the exact full-softmax logits of `candidate_score="max"`.
    """
    logits = tf.einsum("bkd,cd->bkc", interests, tf.cast(table, interests.dtype))
    if biases is not None:
        logits += tf.cast(biases, logits.dtype)[None, None, :]
    return tf.reduce_max(tf.where(active[:, :, None], logits, logits.dtype.min), axis=1)


def label_column(label) -> tf.Tensor:
    """The "label" input, int32 [B] (or [B, 1]), as int64 [B, 1]; other shapes are refused."""
    label = tf.convert_to_tensor(label)
    rank = label.shape.rank
    if rank is not None and not (rank == 1 or rank == 2 and label.shape[1] in (1, None)):
        raise ValueError(f'inputs["label"] has shape {label.shape}; expected [batch] item ids '
                         "(or [batch, 1]).")
    return tf.reshape(tf.cast(label, tf.int64), [-1, 1])


def max_interest_sampled_softmax_loss(weights, biases, labels, interests, active, num_sampled,
                                      num_classes, sampled_values):
    """Sampled softmax where every candidate is scored by its best active interest: [B].

    With V_u [K, d] the interests of user u and the sampled candidates s (shared by the batch):

        o_uc = max_{j active} (v_uj . w_c + b_c) - log Q(c)        c in {label_u} + samples

    log Q(c) and the accidental-hit mask do not depend on j, so they commute with the max:
    the logits are `compute_sampled_logits` of the B K rows v_uj (labels repeated K times,
    the same samples), reshaped to [B, K, 1 + S], inactive rows set to the lowest float and
    maxed over j. The true logit is max_j v_uj . w_label, the hard label-aware attention's
    (p = inf); the negatives are scored as max-merge serving scores them, instead of by the
    attended interest only.
    """
    sampled, true_q, sampled_q = sampled_values
    k = tf.shape(interests)[1]
    d = tf.shape(interests)[2]
    rows = tf.reshape(interests, [-1, d])                                   # [B K, d]
    row_labels = tf.repeat(labels, k, axis=0)                               # [B K, 1]
    logits, _ = _sampled.compute_sampled_logits(
        weights, biases, row_labels, rows, num_sampled, num_classes,
        sampled_values=(sampled, tf.repeat(true_q, k, axis=0), sampled_q),
        subtract_log_q=True, remove_accidental_hits=True, partition_strategy="div")
    logits = tf.reshape(logits, tf.concat([tf.shape(interests)[:2], [-1]], 0))  # [B, K, 1+S]
    logits = tf.reduce_max(tf.where(active[:, :, None], logits, logits.dtype.min), axis=1)
    target = tf.one_hot(tf.zeros(tf.shape(logits)[:1], tf.int32), tf.shape(logits)[1],
                        dtype=logits.dtype)                                 # the true column
    return tf.nn.softmax_cross_entropy_with_logits(labels=target, logits=logits)


def check_power(p, name="pow_p") -> float:
    """float(p) if p >= 0 (inf allowed), else ValueError naming `name`."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number >= 0 or inf, got {p!r}.") from None
    if not value >= 0:
        raise ValueError(f"`{name}` must be >= 0 or inf (the label-aware attention power), "
                         f"got {p!r}.")
    return value


def genre_counts(item_genres) -> np.ndarray:
    """float32 [I, n_genres]: 1 where item i has genre g (code 0 = none is dropped)."""
    return (genre_weights(item_genres) > 0).astype(np.float32)


class MultiInterestModel(keras.Model):
    """Shared parts of the multi-interest models (MIND, ComiRec-SA): item tables, training
    loss through label-aware attention, evaluation loss, serving vectors, config.

    Subclasses implement `interests(inputs, training) -> (V [B, K, d], active bool [B, K])`
    and pass their own constructor arguments to `__init__` as `config` (for `get_config`).

    `call(inputs, training)`: with a "label" in `inputs` it adds a loss (`add_loss`): in
    training the sampled softmax of the candidates' scores (`candidate_score`: max over the
    interests, or the attended interest v_u; module docstring), otherwise the exact
    full-softmax cross-entropy of the same scores (what `evaluate` reports). It returns the
    per-example training loss [B] in training, else the interests V [B, K, d] (`predict`).

    Args:
      config: the subclass's constructor arguments (kept for `get_config`).
      num_items: I, including padding id 0.
      item_genres: int [I, G] genre codes (0 = none).
      sampler: a `recall_models.models.samplers` sampler, or None with loss="softmax".
      num_sampled: S, the sampler's negatives per batch.
      loss: "sampled_softmax" or "softmax" (full).
      embedding_dim: d of items and interests.
      num_interests: K.
      pow_p: p of the label-aware attention (math.inf = hard, 0 = mean).
      shared_table: softmax weights = the behaviour table (True) or a separate table.
      use_bias: an item bias in the softmax (folded into the exported vectors).
      max_positions: the longest history the model accepts.
      merge: "max" (score = max over active interests) or "mean" (one mean vector) at serving.
      l2: L2 penalty on the embeddings.
      candidate_score: how the loss scores the candidates. "max" (the default): every
        candidate by its best active interest, max_j v_uj . w_c, as max-merge serving
        ranks them (`max_interest_sampled_softmax_loss`; `pow_p` is then unused: the true
        logit is the hard attention's). "attended" (the papers'): every candidate against
        the label-attended interest v_u.
    """

    def __init__(self, config, num_items, item_genres, sampler=None, num_sampled=64,
                 loss="sampled_softmax", embedding_dim=64, num_interests=4, pow_p=2.0,
                 shared_table=True, use_bias=False, max_positions=50, merge="max", l2=0.0,
                 candidate_score="max", **kwargs):
        super().__init__(**kwargs)
        _samplers.check_loss_and_sampler(loss, sampler, int(num_sampled))
        self.num_interests = check_positive_int(num_interests, "num_interests")
        self.max_positions = check_positive_int(max_positions, "max_positions")
        self.pow_p = check_power(pow_p, "pow_p")
        if merge not in MERGES:
            raise ValueError(f"`merge`={merge!r}, expected one of {MERGES}.")
        if candidate_score not in CANDIDATE_SCORES:
            raise ValueError(f"`candidate_score`={candidate_score!r}, expected one of "
                             f"{CANDIDATE_SCORES}.")
        self.candidate_score = candidate_score
        if item_genres is None:
            raise ValueError("`item_genres` [num_items, G] is required (item = id + genres).")
        self._config = dict(config)
        self.num_items = check_positive_int(num_items, "num_items")
        self.dim = check_positive_int(embedding_dim, "embedding_dim")
        self.loss_name, self.num_sampled, self.sampler = loss, int(num_sampled), sampler
        self.shared_table, self.use_bias, self.merge = bool(shared_table), bool(use_bias), merge
        # The sampler's draw counter is a weight (checkpointed); a placeholder without one,
        # so that every model of a class has the same variables (save / load).
        step = getattr(sampler, "step", None)
        self.sampler_step = step if step is not None else keras.Variable(
            0, dtype="int64", trainable=False, name="sampler_step")
        counts = genre_counts(item_genres)
        self.genre_counts = tf.constant(counts)                             # [I, n_genres]
        self.item_norm = tf.constant(1.0 + counts.sum(1, keepdims=True))    # 1 + |genres(i)|
        self.reg = keras.regularizers.L2(l2) if l2 else None
        self.id_embedding = keras.layers.Embedding(self.num_items, self.dim,
                                                   embeddings_regularizer=self.reg,
                                                   name="item_id")
        self.genre_embedding = keras.layers.Embedding(counts.shape[1], self.dim, name="genre")
        self.output_table = (None if self.shared_table else self.add_weight(
            shape=(self.num_items, self.dim), name="output_items", initializer="glorot_uniform"))
        self.item_bias = (self.add_weight(shape=(self.num_items,), name="item_bias",
                                          initializer="zeros") if self.use_bias else None)

    # ------------------------------------------------------------------ tables
    def item_table(self):
        """Behaviours: e_i = (E_id[i] + sum_g E_genre[g]) / (1 + |genres(i)|): [I, d]."""
        ids = self.id_embedding(tf.range(self.num_items))                   # [I, d]
        genres = self.genre_embedding(tf.range(self.genre_counts.shape[1]))  # [n_genres, d]
        return (ids + tf.matmul(self.genre_counts, genres)) / self.item_norm

    def softmax_table(self, table=None):
        """Softmax weights [I, d]: the behaviour table if `shared_table`, else W."""
        if self.shared_table:
            return self.item_table() if table is None else table
        return tf.convert_to_tensor(self.output_table)

    def add_profile_embeddings(self, user_feature_sizes, profile_dim: int):
        """One embedding table of `profile_dim` per profile feature (`PROFILE`).

        Raises:
          ValueError: `user_feature_sizes` lacks a feature of `PROFILE`.
        """
        missing = [n for n in PROFILE if n not in (user_feature_sizes or {})]
        if missing:
            raise ValueError(f"`user_feature_sizes` lacks {missing}; expected keys "
                             f"{PROFILE} (or use_profile=False).")
        self.profile_embeddings = {
            n: keras.layers.Embedding(int(user_feature_sizes[n]), profile_dim,
                                      embeddings_regularizer=self.reg, name=f"{n}_embedding")
            for n in PROFILE}

    def profile(self, inputs):
        """p_u = [p_gender, p_age, p_occupation, p_zip] of a batch: [B, 4 d_p]."""
        return tf.concat([self.profile_embeddings[n](tf.cast(inputs[n], tf.int32))
                          for n in PROFILE], axis=-1)

    def add_tower(self, hidden_units, dropout: float = 0.0):
        """The interest tower, shared by every interest: ReLU layers of `hidden_units` (dropout
        after each in training) and a linear layer back to d (`tower_interests`)."""
        hidden_units, dropout = check_tower(hidden_units, dropout)
        self.tower = [keras.layers.Dense(int(u), activation="relu", kernel_regularizer=self.reg,
                                         name=f"relu_{k}") for k, u in enumerate(hidden_units)]
        self.dropout = keras.layers.Dropout(dropout) if dropout else None
        self.top = keras.layers.Dense(self.dim, name="interest")

    def tower_interests(self, h, shared=(), training=None):
        """Dense_d(ReLU(...([h_j, s_u]))) for every interest j: h [B, K, h] -> [B, K, d].

        `shared`: per-user inputs [B, P_i], concatenated (s_u) to every h_j (none: h_j alone).
        """
        if shared:
            user = tf.concat(list(shared), axis=-1)                          # [B, P]
            h = tf.concat([h, tf.tile(user[:, None, :], [1, self.num_interests, 1])], -1)
        for layer in self.tower:
            h = layer(h)
            if self.dropout is not None:
                h = self.dropout(h, training=training)
        return self.top(h)

    def check_history(self, history):
        """ValueError if the history has more positions than the model holds (static shape)."""
        length = history.shape[1]
        if length is not None and length > self.max_positions:
            raise ValueError(f"history has {length} positions, more than max_positions="
                             f"{self.max_positions} of {type(self).__name__}; expected "
                             f"<= {self.max_positions} (train with --max-history <= it).")

    def interests(self, inputs, training=None, table=None):
        raise NotImplementedError

    # ------------------------------------------------------------------ training
    def call(self, inputs, training=None):
        table = self.item_table()
        v, active = self.interests(inputs, training=training, table=table)
        if "label" not in inputs:
            return v
        out = self.softmax_table(table)
        labels = label_column(inputs["label"])                                # [B, 1]
        sampled = training and self.loss_name == "sampled_softmax"
        if self.candidate_score == "max":       # every candidate scored by its best interest
            if sampled:
                loss = max_interest_sampled_softmax_loss(
                    out, self.item_bias, labels, v, active, self.num_sampled, self.num_items,
                    self.sampler(labels))
            else:                 # the exact loss of the max-merged scores
                logits = max_interest_logits(v, active, out, self.item_bias)
                loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels[:, 0], logits)
        else:                                   # every candidate against the attended v_u
            user, _ = label_aware_attention(v, tf.gather(out, labels[:, 0]), active,
                                            self.pow_p)                      # [B, d]
            if sampled:
                loss = _losses.sampled_softmax_loss(
                    out, self.item_bias, labels, user, self.num_sampled, self.num_items,
                    sampled_values=self.sampler(labels))
            else:                 # the exact loss (training with "softmax", and evaluation)
                loss = _losses.full_softmax_loss(out, self.item_bias, labels, user)
        self.add_loss(tf.reduce_mean(loss))
        return loss if training else v

    # ------------------------------------------------------------------ serving
    def item_vectors(self) -> np.ndarray:
        """[I, d (+1)]: the softmax weights, with the bias appended when `use_bias`."""
        e = self.softmax_table()
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
        """(user vectors [U, K, D] or [U, D], item vectors [I, D], mask [U, K] or None)."""
        users, mask = self.user_vectors(model_inputs(ds, ds.samples(split), with_label=False))
        if self.merge == "mean":
            m = mask[..., None].astype(users.dtype)
            return (users * m).sum(1) / m.sum(1), self.item_vectors(), None
        return users, self.item_vectors(), mask

    # ------------------------------------------------------------------ Keras config
    def get_config(self):
        """The constructor arguments (JSON-able). A sampler without `get_config` is stored as
        None: the reloaded model then evaluates and serves, and trains only with
        loss="softmax" unless a sampler is passed again (`from_config(config, sampler=...)`)."""
        cfg = {"name": self.name, "trainable": self.trainable, **self._config}
        cfg["item_genres"] = np.asarray(cfg["item_genres"]).tolist()
        cfg["user_feature_sizes"] = {k: int(v) for k, v in
                                     (cfg.get("user_feature_sizes") or {}).items()}
        sampler = cfg.get("sampler")
        cfg["sampler"] = (keras.saving.serialize_keras_object(sampler)
                          if hasattr(sampler, "get_config") else None)
        for key in ("hidden_units",):
            if key in cfg:
                cfg[key] = list(cfg[key])
        return cfg

    @classmethod
    def from_config(cls, config, sampler=None):
        config = dict(config)
        stored = config.pop("sampler", None)
        if sampler is None and stored is not None:
            sampler = keras.saving.deserialize_keras_object(stored)
        if sampler is None and config.get("loss") == "sampled_softmax":
            config["loss"] = "softmax"
        return cls(sampler=sampler, **config)

    def get_build_config(self):
        return {"history_length": int(self.max_positions)}

    def build_from_config(self, config):
        """Builds every weight by one call on a dummy batch of one user."""
        length = int(config.get("history_length", self.max_positions))
        dummy = {"history": np.ones((1, length), np.int32)}
        dummy.update({n: np.zeros((1,), np.int32) for n in PROFILE})
        self(dummy, training=False)


@keras.saving.register_keras_serializable(package="recall_models")
class MIND(MultiInterestModel):
    """MIND-like multi-interest retrieval model (module docstring).

    Args:
      num_items, user_feature_sizes, item_genres, sampler, num_sampled, loss: as
        `recall_models.models.youtubednn.YouTubeDNN` (loss "sampled_softmax" or "softmax").
      embedding_dim: d of items, capsules and interests.
      profile_dim: d_p of each profile embedding.
      hidden_units: ReLU layers applied to [capsule, profile].
      num_interests: K, the most interests per user.
      iterations: routing iterations.
      pow_p: p of the label-aware attention (math.inf = hard, the default: on the ML-100K
        validation split, 3 seeds, it beat the paper's p = 2, docs/recall-ablations.md).
      routing_init: "random" (new draws per call, the paper's) or "fixed" (one b0 drawn from
        `seed`, kept: deterministic serving).
      routing_stddev: sigma of the initial routing logits.
      use_profile: concatenate the profile embeddings to each capsule.
      shared_table, use_bias, max_positions, merge, l2: `MultiInterestModel`.
      seed: seed of the routing logits.
      dropout: dropout after each ReLU layer (training only).
      pool_history: also concatenate the mean behaviour embedding of the history,
        masked_mean_t e_{x_t} (YouTubeDNN's user input), to each capsule before the tower.
      candidate_score: "attended" or "max", `MultiInterestModel`.
      bilinear: "shared" (one S for every interest, the paper's) or "per_interest" (one S_j
        per interest, as ComiRec-DR; the interests then differ by more than b0).
      routing_draw: how "random" draws b0: "philox" (`tf.random.stateless_normal`) or
        "counter_hash" (`counter_hash_normal`, approximately normal, cheaper under XLA).
      positions: route e_t + P_{r_t} instead of e_t, with P a learned table of
        `max_positions` recency embeddings (r_t = 0 for the newest item): ComiRec-SA's
        positions, not the paper's MIND, which routes a set (False). On by default: on the
        ML-100K validation split (10 epochs, 3 seeds, docs/recall-ablations.md, sixth
        round) HR@50 0.466 against 0.412 without (log-uniform), 0.481 against 0.455
        (in-batch). A `.keras` file saved before this option existed loads without.
    """

    def __init__(self, num_items, user_feature_sizes, item_genres, sampler=None,
                 num_sampled=64, loss="sampled_softmax", embedding_dim=64, profile_dim=8,
                 hidden_units=(128,), num_interests=4, iterations=3, pow_p=math.inf,
                 routing_init="random", routing_stddev=1.0, use_profile=True,
                 shared_table=True, use_bias=False, max_positions=50, merge="max", seed=0,
                 dropout=0.0, l2=0.0, output_dim=None, pool_history=False,
                 candidate_score="max", bilinear="shared", routing_draw="philox",
                 positions=True, **kwargs):
        config = {k: v for k, v in locals().items() if k not in ("self", "kwargs", "__class__")}
        if routing_draw not in ROUTING_DRAWS:
            raise ValueError(f"`routing_draw`={routing_draw!r}, expected one of {ROUTING_DRAWS}.")
        if bilinear not in BILINEARS:
            raise ValueError(f"`bilinear`={bilinear!r}, expected one of {BILINEARS}.")
        if output_dim is not None and int(output_dim) != int(embedding_dim):
            raise ValueError(f"`output_dim`={output_dim}: MIND's interests live in the item "
                             f"space, so output_dim must equal embedding_dim={embedding_dim}.")
        if routing_init not in ROUTING_INITS:
            raise ValueError(f"`routing_init`={routing_init!r}, expected one of {ROUTING_INITS}.")
        super().__init__(config, num_items, item_genres, sampler=sampler,
                         num_sampled=num_sampled, loss=loss, embedding_dim=embedding_dim,
                         num_interests=num_interests, pow_p=pow_p, shared_table=shared_table,
                         use_bias=use_bias, max_positions=max_positions, merge=merge, l2=l2,
                         candidate_score=candidate_score, **kwargs)
        self.iterations = check_positive_int(iterations, "iterations")
        self.routing_init, self.routing_stddev = routing_init, float(routing_stddev)
        self.routing_draw = routing_draw
        self.use_profile, self.pool_history = bool(use_profile), bool(pool_history)
        if self.use_profile:
            self.add_profile_embeddings(user_feature_sizes, profile_dim)
        if bilinear == "shared":
            self.bilinear = self.add_weight(shape=(self.dim, self.dim), name="bilinear_S",
                                            initializer="glorot_normal")
        else:                   # one S_j per interest, each initialised as glorot_normal [d, d]
            self.bilinear = self.add_weight(
                shape=(self.num_interests, self.dim, self.dim), name="bilinear_S",
                initializer=keras.initializers.TruncatedNormal(
                    stddev=math.sqrt(1.0 / self.dim) / 0.87962566103423978, seed=seed))
        self.add_tower(hidden_units, dropout)
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Keras does not save a SeedGenerator's state with the model; as an attribute the
        # variable is one of the model's weights, saved and restored with them.
        self.routing_seed_state = self.seed_generator.state
        # b0 of routing_init="fixed": N(0, sigma^2) [1, K, max_positions], drawn once.
        init = np.random.default_rng(seed).normal(
            0.0, self.routing_stddev, (1, self.num_interests, self.max_positions))
        self.fixed_logits = self.add_weight(
            shape=init.shape, name="routing_b0", trainable=False,
            initializer=keras.initializers.Constant(init.astype(np.float32)))
        self.use_positions = bool(positions)
        if self.use_positions:          # created last: the default model's weights keep their order
            self.position_embedding = keras.layers.Embedding(self.max_positions, self.dim,
                                                             name="position")

    def load_own_variables(self, store):
        """Keras' load, also of a `.keras` file saved before the routing seed state was one of
        the model's weights (one entry fewer): its other weights load and the state starts
        afresh from the constructor's seed."""
        own = self._trainable_variables + self._non_trainable_variables
        if len(store.keys()) != len(own) - 1:
            return super().load_own_variables(store)
        kept = [v for v in own if v is not self.routing_seed_state]
        for i, v in enumerate(kept):
            v.assign(store[f"{i}"])

    @classmethod
    def from_config(cls, config, sampler=None):
        """`MultiInterestModel.from_config`; a config saved before `positions` existed was a
        model without positions."""
        return super().from_config({"positions": False, **config}, sampler=sampler)

    def routing_logits(self, batch, length):
        """b0 [batch, K, length] ("random": new sigma N(0, 1) draws on every call, exact or
        approximate per `routing_draw`) or [1, K, length] ("fixed": the same for every user
        and call)."""
        if self.routing_init == "fixed":
            return tf.convert_to_tensor(self.fixed_logits)[:, :, :length]
        # Stateless draws from the step's seed: keras.random.normal compiles to a ~25x slower
        # kernel under XLA on CPU (benchmarks/mind_xla_profile.py), Philox to a 3-4x slower
        # one than the counter hash.
        seed = tf.cast(self.seed_generator.next(), tf.int64)
        shape = tf.stack([batch, self.num_interests, length])
        if self.routing_draw == "counter_hash":
            return self.routing_stddev * counter_hash_normal(shape, seed)
        return self.routing_stddev * tf.random.stateless_normal(shape, seed, alg="philox")

    def route(self, inputs, routing_logits=None, table=None):
        """(capsules [B, K, d], routing weights w [B, K, L], active bool [B, K])."""
        history = tf.cast(inputs["history"], tf.int32)                       # [B, L]
        self.check_history(history)
        mask = history > 0
        table = self.item_table() if table is None else table
        behaviours = tf.gather(table, history)                               # [B, L, d]
        if self.use_positions:                                               # e_t + P_{r_t}
            behaviours = behaviours + self.position_embedding(recency(mask))
        k_active = num_active_interests(tf.reduce_sum(tf.cast(mask, tf.int32), 1),
                                        self.num_interests)
        active = tf.range(self.num_interests)[None, :] < k_active[:, None]   # [B, K]
        if routing_logits is None:
            routing_logits = self.routing_logits(tf.shape(history)[0], tf.shape(history)[1])
        caps, w = dynamic_routing(behaviours, mask, self.bilinear, routing_logits, active,
                                  self.iterations, return_weights=True)
        return caps, w, active

    def interests(self, inputs, training=None, routing_logits=None, table=None):
        """(V [B, K, d] with zeros on inactive interests, active bool [B, K])."""
        table = self.item_table() if table is None else table
        h, _, active = self.route(inputs, routing_logits, table)             # [B, K, d]
        shared = []                                                          # per user
        if self.pool_history:
            history = tf.cast(inputs["history"], tf.int32)
            shared.append(masked_mean(tf.gather(table, history), history > 0))  # [B, d]
        if self.use_profile:
            shared.append(self.profile(inputs))                              # [B, 4 d_p]
        v = self.tower_interests(h, shared, training)                        # [B, K, d]
        v = v * tf.cast(active, v.dtype)[..., None]
        return v, active
