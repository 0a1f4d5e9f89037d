"""MIND-like model: routing against numpy, per-sample routing noise, safe label-aware
attention, active-interest masking in retrieval.

Oracles: numpy float64 re-implementations (routing, softmax of sign(a)|a|^p, which float64
holds exactly for |a| <= 1e3 and p <= 100 since 1e300 < 1.8e308), TF's softmax
cross-entropy, and the numpy max-merge of the active interests' scores. Tolerances are
float32 round-off on values of order 1.
"""
import math

import numpy as np
import pytest
import tensorflow as tf

from recall_models.evaluation import retrieval
from recall_models.models.mind import (MIND, attention_weights, counter_hash_normal,
                                dynamic_routing, max_interest_sampled_softmax_loss,
                                num_active_interests, recency, squash)
from w2v_tf import losses

I, L, K = 17, 16, 4
SIZES = {"gender": 3, "age": 8, "occupation": 5, "zip": 4}


def tiny_inputs(rng, lengths, with_label=True):
    b = len(lengths)
    hist = rng.integers(1, I, size=(b, L)) * (np.arange(L)[None, :] < np.asarray(lengths)[:, None])
    out = {"history": hist.astype(np.int32)}
    for name, n in SIZES.items():
        out[name] = rng.integers(0, n, size=b).astype(np.int32)
    if with_label:
        out["label"] = rng.integers(1, I, size=b).astype(np.int32)
    return out


def make_model(rng, **kw):
    tf.keras.utils.set_random_seed(0)
    genres = rng.integers(0, 4, size=(I, 2)).astype(np.int32)
    model = MIND(I, SIZES, genres, loss="softmax", embedding_dim=6, profile_dim=2,
                 hidden_units=(8,), num_interests=K, seed=1, **kw)
    model(tiny_inputs(rng, [3, 8]), training=False)
    return model


def numpy_softmax_pow(a, active, p):
    x = np.sign(a) * np.abs(a).astype(np.float64) ** p
    x = np.where(active, x, -np.inf)
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_num_active_interests_matches_log2_formula():
    n = np.arange(1, 200)
    for k in (1, 3, 4, 7):
        ref = np.maximum(1, np.minimum(k, np.floor(np.log2(n)).astype(int)))
        np.testing.assert_array_equal(num_active_interests(n, k).numpy(), ref)


def test_squash_matches_formula(rng):
    z = rng.normal(size=(5, 3, 4)) * rng.choice([0.01, 1, 100], size=(5, 3, 1))
    norm = np.linalg.norm(z, axis=-1, keepdims=True)
    ref = norm ** 2 / (1 + norm ** 2) * z / norm
    np.testing.assert_allclose(squash(tf.constant(z, tf.float32)).numpy(), ref, rtol=1e-4,
                               atol=1e-6)


def numpy_routing(e, mask, s, b0, active, iters):
    u = (e @ s) * mask[..., None]                                       # [B, L, d']
    b = b0.astype(np.float64)
    for it in range(iters):
        logits = np.where(active[:, :, None], b, -np.inf)
        w = np.exp(logits - logits.max(1, keepdims=True))
        w = w / w.sum(1, keepdims=True) * mask[:, None, :]              # softmax over K
        z = np.einsum("bkl,ble->bke", w, u)
        n2 = (z ** 2).sum(-1, keepdims=True)
        c = z * np.sqrt(n2) / (1 + n2)
        b = b + np.einsum("bke,ble->bkl", c, u)
    return c * active[..., None]


@pytest.mark.parametrize("iters", [1, 3])
def test_dynamic_routing_matches_numpy(rng, iters):
    b, d = 3, 5
    e = rng.normal(size=(b, L, d))
    mask = np.arange(L)[None, :] < np.array([[2], [7], [16]])
    s = rng.normal(size=(d, d)) * 0.5
    b0 = rng.normal(size=(b, K, L))
    active = np.arange(K)[None, :] < np.array([[1], [2], [4]])
    got = dynamic_routing(*(tf.constant(x, tf.float32) for x in (e,)), tf.constant(mask),
                          tf.constant(s, tf.float32), tf.constant(b0, tf.float32),
                          tf.constant(active), iters).numpy()
    np.testing.assert_allclose(got, numpy_routing(e, mask, s, b0, active, iters), rtol=1e-4,
                               atol=1e-5)


def routing_in_u_hat_space(behaviours, mask, bilinear, routing_logits, active, iterations):
    """The previous formulation (every behaviour projected, u_hat = e S [B, L, d']; logits
    [B, K, L]), kept as the oracle of the behaviour-space one. A per-interest S [K, d, d']
    projects every behaviour once per interest: u_hat_jt = S_j^T e_t [B, K, L, d']."""
    keep3 = tf.cast(mask, tf.float32)[..., None]
    if bilinear.shape.rank == 3:
        u_hat = tf.einsum("bld,kde->bkle", behaviours * keep3, bilinear)
    else:
        u_hat = tf.tensordot(behaviours, bilinear, axes=1) * keep3
        u_hat = tf.tile(u_hat[:, None], [1, routing_logits.shape[1], 1, 1])
    u_fixed, keep = tf.stop_gradient(u_hat), tf.cast(mask, tf.float32)[:, None, :]
    b = tf.broadcast_to(routing_logits, [behaviours.shape[0], *routing_logits.shape[1:]])

    def weights(b):
        return tf.nn.softmax(tf.where(active[:, :, None], b, -1e9), axis=1) * keep
    for _ in range(iterations - 1):
        caps = squash(tf.einsum("bkl,bkle->bke", weights(b), u_fixed))
        b = b + tf.einsum("bke,bkle->bkl", caps, u_fixed)
    w = weights(b)
    caps = squash(tf.einsum("bkl,bkle->bke", w, u_hat))
    return caps * tf.cast(active, tf.float32)[..., None], w


@pytest.mark.parametrize("iters,shared_b0,per_interest", [
    (1, False, False), (3, False, False), (3, True, False), (3, False, True)])
def test_behaviour_space_routing_equals_the_u_hat_form(rng, iters, shared_b0, per_interest):
    """Values, routing weights and gradients (e, S) equal the u_hat formulation to float32
    round-off, at the training sizes' d = 64 with ragged histories and K' < K, with one S
    for all interests or one per interest."""
    b, length, d = 8, 50, 64
    e = tf.constant(rng.normal(size=(b, length, d)) * 0.3, tf.float32)
    s = tf.Variable(rng.normal(size=(K, d, d) if per_interest else (d, d)) / 8,
                    dtype=tf.float32)
    mask = tf.constant(np.arange(length)[None, :] < rng.integers(1, length + 1, (b, 1)))
    b0 = tf.constant(rng.normal(size=(1 if shared_b0 else b, K, length)), tf.float32)
    active = tf.constant(np.arange(K)[None, :] < rng.integers(1, K + 1, (b, 1)))
    up = tf.constant(rng.normal(size=(b, K, d)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(e)
        got, w_got = dynamic_routing(e, mask, s, b0, active, iters, return_weights=True)
        ref, w_ref = routing_in_u_hat_space(e, mask, s, b0, active, iters)
        lg, lr = tf.reduce_sum(got * up), tf.reduce_sum(ref * up)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w_got.numpy(), w_ref.numpy(), rtol=1e-5, atol=1e-6)
    for x in (e, s):
        g, g_ref = tape.gradient(lg, x).numpy(), tape.gradient(lr, x).numpy()
        np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-5 * np.abs(g_ref).max())


def test_interests_of_one_user_ignore_the_other_users(rng):
    model = make_model(rng)
    x = tiny_inputs(rng, [16, 9, 5])
    b0 = model.routing_logits(3, L)
    v1, _ = model.interests(x, routing_logits=b0)
    x2 = {k: v.copy() for k, v in x.items()}
    x2["history"][1:] = tiny_inputs(rng, [12, 16])["history"]           # other users change
    x2["gender"][1:] = (x2["gender"][1:] + 1) % SIZES["gender"]
    v2, _ = model.interests(x2, routing_logits=b0)
    np.testing.assert_allclose(v2.numpy()[0], v1.numpy()[0], rtol=1e-6, atol=1e-6)
    assert np.abs(v2.numpy()[1] - v1.numpy()[1]).max() > 1e-4           # ... theirs do


@pytest.mark.parametrize("draw", ["counter_hash", "philox"])
def test_routing_logits_are_redrawn_per_call_and_per_sample(rng, draw):
    model = make_model(rng, routing_init="random", routing_draw=draw)
    r1, r2 = model.routing_logits(4, L).numpy(), model.routing_logits(4, L).numpy()
    # counter_hash takes 1,021 values, so a few equal entries are expected by chance.
    assert np.mean(r1 == r2) < 0.02 and np.abs(r1 - r2).mean() > 0.5   # new draws per call
    assert np.mean(r1[0] == r1[1]) < 0.05 and np.abs(r1[0] - r1[1]).mean() > 0.5  # per sample
    assert abs(r1.std() - 1.0) < 0.15        # N(0, 1): 256 draws, std error of std ~0.045
    x = tiny_inputs(rng, [16, 16])
    v1, v2 = model.interests(x)[0].numpy(), model.interests(x)[0].numpy()
    assert np.abs(v1 - v2).max() > 1e-5      # K' = 4 > 1: the random start matters


def test_counter_hash_normal_is_standard_deterministic_and_the_same_under_xla():
    shape = [100, 4, 250]
    z = counter_hash_normal(shape, tf.constant([0, 7], tf.int64)).numpy().ravel()
    again = counter_hash_normal(shape, tf.constant([0, 7], tf.int64)).numpy().ravel()
    other = counter_hash_normal(shape, tf.constant([0, 8], tf.int64)).numpy().ravel()
    other_key = counter_hash_normal(shape, tf.constant([1, 7], tf.int64)).numpy().ravel()
    np.testing.assert_array_equal(z, again)
    # 100,000 draws: standard errors 0.003 (mean), 0.002 (std), ~0.015 (kurtosis).
    assert abs(z.mean()) < 0.015 and abs(z.std() - 1.0) < 0.01
    kurtosis = np.mean((z - z.mean()) ** 4) / z.var() ** 2
    assert abs(kurtosis - 2.7) < 0.06                       # Irwin-Hall, n = 4 (normal: 3)
    assert np.abs(z).max() <= math.sqrt(3 * 4) + 1e-6       # 510 / sqrt(4 (256^2 - 1) / 12)
    for a, b in ((z, other), (z, other_key), (z[:-1], z[1:])):
        assert abs(np.corrcoef(a, b)[0, 1]) < 0.015        # independent streams, no lag-1 link
    compiled = tf.function(counter_hash_normal, jit_compile=True)
    np.testing.assert_allclose(compiled(tf.constant(shape), tf.constant([0, 7], tf.int64))
                               .numpy().ravel(), z, atol=1e-6)


def test_fixed_routing_logits_are_the_same_for_every_user_and_call(rng):
    model = make_model(rng, routing_init="fixed")
    b0 = model.routing_logits(4, L).numpy()
    assert b0.shape == (1, K, L) and abs(b0.std() - 1.0) < 0.25
    np.testing.assert_array_equal(b0, model.routing_logits(3, L).numpy())
    x = tiny_inputs(rng, [16, 16, 5])
    np.testing.assert_array_equal(model.interests(x)[0].numpy(), model.interests(x)[0].numpy())
    # the same as passing b0 broadcast to every user explicitly
    explicit = model.interests(x, routing_logits=np.repeat(b0, 3, 0))[0].numpy()
    np.testing.assert_allclose(model.interests(x)[0].numpy(), explicit, rtol=1e-6, atol=1e-6)
    assert np.abs(np.diff(model.interests(x)[0].numpy()[0], axis=0)).max() > 1e-4  # K distinct


def test_pool_history_feeds_the_mean_behaviour_to_every_capsule(rng):
    """v_uj = top(ReLU(W_1 [c_uj, mean_t e_t, p_u])), recomputed by hand from the layers."""
    model = make_model(rng, routing_init="fixed", pool_history=True)
    x = tiny_inputs(rng, [16, 3, 9], with_label=False)
    caps, _, active = model.route(x)
    e = tf.gather(model.item_table(), x["history"]).numpy()
    mask = (x["history"] > 0)[..., None]
    pooled = (e * mask).sum(1) / mask.sum(1)                            # [B, d]
    profile = np.concatenate([model.profile_embeddings[n](x[n]).numpy() for n in SIZES], -1)
    user = np.concatenate([pooled, profile], -1)[:, None, :].repeat(K, 1)
    ref = model.top(model.tower[0](np.concatenate([caps.numpy(), user], -1))).numpy()
    ref *= active.numpy()[..., None]
    np.testing.assert_allclose(model.interests(x)[0].numpy(), ref, rtol=1e-5, atol=1e-6)


def test_recency_counts_from_the_newest_item():
    mask = tf.constant([[True, True, True, False], [True, False, False, False],
                        [False] * 4])
    np.testing.assert_array_equal(recency(mask).numpy(), [[2, 1, 0, 0], [0, 0, 0, 0],
                                                          [0, 0, 0, 0]])


def test_positions_route_the_behaviours_plus_their_recency_embedding(rng):
    """positions=True: the routing reads e_t + P[n - 1 - t]; oracle: numpy_routing of those."""
    model = make_model(rng, routing_init="fixed")                      # positions: the default
    x = tiny_inputs(rng, [16, 3, 9], with_label=False)
    table = model.item_table().numpy()
    p = model.position_embedding.embeddings.numpy()
    n = (x["history"] > 0).sum(1)
    r = np.maximum(n[:, None] - 1 - np.arange(L)[None, :], 0)
    e = table[x["history"]] + p[r]
    mask = x["history"] > 0
    active = np.arange(K)[None, :] < np.array([[4], [1], [3]])
    b0 = np.repeat(model.routing_logits(3, L).numpy(), 3, 0)
    caps, _, got_active = model.route(x)
    np.testing.assert_array_equal(got_active.numpy(), active)
    ref = numpy_routing(e, mask, model.bilinear.numpy(), b0, active, model.iterations)
    np.testing.assert_allclose(caps.numpy(), ref, rtol=1e-4, atol=1e-5)
    # the positions change the capsules (not a no-op); without them there is no table
    plain = numpy_routing(table[x["history"]], mask, model.bilinear.numpy(), b0, active, 3)
    assert np.abs(caps.numpy() - plain).max() > 1e-3
    off = make_model(rng, routing_init="fixed", positions=False)
    assert not hasattr(off, "position_embedding")
    table = off.item_table().numpy()
    b0 = np.repeat(off.routing_logits(3, L).numpy(), 3, 0)
    ref = numpy_routing(table[x["history"]], mask, off.bilinear.numpy(), b0, active, 3)
    np.testing.assert_allclose(off.route(x)[0].numpy(), ref, rtol=1e-4, atol=1e-5)


def test_a_config_saved_before_positions_existed_builds_without_them(rng):
    model = make_model(rng, routing_init="fixed", positions=False)
    old = {k: v for k, v in model.get_config().items() if k != "positions"}
    assert MIND.from_config(old).use_positions is False
    assert MIND.from_config(model.get_config()).use_positions is False
    assert MIND.from_config(make_model(rng).get_config()).use_positions is True


def test_routing_gradient_flows_through_the_last_iteration_only(rng):
    """Oracle: the last iteration with its routing weights w frozen (numpy forward)."""
    b, d = 3, 5
    e = tf.constant(rng.normal(size=(b, L, d)), tf.float32)
    mask = np.arange(L)[None, :] < np.array([[2], [7], [16]])
    s = tf.Variable(rng.normal(size=(d, d)) * 0.5, dtype=tf.float32)
    b0 = rng.normal(size=(b, K, L))
    active = np.arange(K)[None, :] < np.array([[1], [2], [4]])
    up = tf.constant(rng.normal(size=(b, K, d)), tf.float32)
    # w of the last iteration: the numpy routing with iters - 1, then one logit update.
    u = (e.numpy() @ s.numpy()) * mask[..., None]
    c2 = numpy_routing(e.numpy(), mask, s.numpy(), b0, active, 2)
    bl = b0 + numpy_routing(e.numpy(), mask, s.numpy(), b0, active, 1) @ \
        u.transpose(0, 2, 1) + c2 @ u.transpose(0, 2, 1)
    logits = np.where(active[:, :, None], bl, -np.inf)
    w = np.exp(logits - logits.max(1, keepdims=True))
    w = tf.constant(w / w.sum(1, keepdims=True) * mask[:, None, :], tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(e)
        got = dynamic_routing(e, tf.constant(mask), s, tf.constant(b0, tf.float32),
                              tf.constant(active), 3)
        u_hat = tf.tensordot(e, s, axes=1) * tf.cast(mask, tf.float32)[..., None]
        ref = squash(tf.matmul(w, u_hat)) * tf.cast(active, tf.float32)[..., None]
        lg, lr = tf.reduce_sum(got * up), tf.reduce_sum(ref * up)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-4, atol=1e-5)
    for x in (e, s):
        np.testing.assert_allclose(tape.gradient(lg, x).numpy(), tape.gradient(lr, x).numpy(),
                                   rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 7.0])
def test_attention_weights_match_numpy_for_moderate_dots(rng, p):
    a = rng.uniform(-2, 2, size=(50, K))
    active = np.arange(K)[None, :] < rng.integers(1, K + 1, size=(50, 1))
    got = attention_weights(tf.constant(a, tf.float32), tf.constant(active), p).numpy()
    np.testing.assert_allclose(got, numpy_softmax_pow(a, active, p), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("p", [99.0, 100.0])
def test_attention_is_finite_for_huge_dots(rng, p):
    a = rng.uniform(-1e3, 1e3, size=(200, K))
    a[:5] = [[-1e3, 1e3, 999.0, 0.0]] * 5
    a[5:10] = [[0.5, -0.4, 0.2, 0.0]] * 5                                # near-uniform case
    active = np.arange(K)[None, :] < rng.integers(1, K + 1, size=(200, 1))
    active[:10] = True
    dots = tf.constant(a, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(dots)
        w = attention_weights(dots, tf.constant(active), p)
        loss = tf.reduce_sum(w * tf.constant(rng.normal(size=(200, K)), tf.float32))
    grad = tape.gradient(loss, dots).numpy()
    assert np.isfinite(w.numpy()).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(w.numpy().sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(w.numpy(), numpy_softmax_pow(a, active, p), atol=1e-5)


def test_hard_attention_takes_the_raw_dot_argmax():
    a = np.array([[-5.0, 1.0, 3.0, -0.5], [-9.0, -2.0, -8.0, 0.0]])
    active = np.array([[True, True, True, True], [True, True, True, False]])
    hard = attention_weights(tf.constant(a, tf.float32), tf.constant(active), math.inf).numpy()
    np.testing.assert_array_equal(hard, [[0, 0, 1, 0], [0, 1, 0, 0]])
    # An even power would have picked the most negative dot (-5, -9): that is the fault.
    assert np.argmax(a[0] ** 100) == 0 and np.argmax(a[1, :3] ** 100) == 0
    soft = attention_weights(tf.constant(a, tf.float32), tf.constant(active), 100.0).numpy()
    np.testing.assert_allclose(soft, hard, atol=1e-6)
    mean = attention_weights(tf.constant(a, tf.float32), tf.constant(active), 0.0).numpy()
    np.testing.assert_allclose(mean, [[0.25] * 4, [1 / 3] * 3 + [0]], rtol=1e-6)


def test_masked_interests_never_reach_retrieval(rng):
    model = make_model(rng)
    lengths = [1, 2, 3, 4, 7, 8, 15, 16]                   # K' = 1, 1, 1, 2, 2, 3, 3, 4
    x = tiny_inputs(rng, lengths, with_label=False)
    users, mask = model.user_vectors(x)
    np.testing.assert_array_equal(mask.sum(1), [1, 1, 1, 2, 2, 3, 3, 4])
    assert np.all(users[~mask] == 0)
    items = model.item_vectors().copy()
    items[1:] -= items[1:].mean(0) + 2 * np.abs(items[1:]).max()   # every score negative...
    scores = np.einsum("ukd,id->uki", users, items)
    ref = np.where(mask[..., None], scores, -np.inf).max(1)         # max over active only
    ref[:, 0] = -np.inf
    k = 5
    _, ids = retrieval.search_vectors(users, items, k, mask=mask)
    np.testing.assert_array_equal(ids, np.argsort(-ref, axis=1, kind="stable")[:, :k])
    # ...so an inactive (zero) interest scoring 0 everywhere would change the ranking.
    _, unmasked = retrieval.search_vectors(users, items, k, mask=np.ones_like(mask))
    assert (unmasked != ids).any()


def test_training_loss_is_softmax_of_the_attended_interest(rng):
    model = make_model(rng, use_bias=True)
    model.item_bias.assign(rng.normal(size=I).astype(np.float32))
    x = tiny_inputs(rng, [1, 2, 3, 2])                     # K' = 1: attention picks interest 0
    loss = model(x, training=True).numpy()
    users, mask = model.user_vectors(x)
    logits = users[:, 0] @ model.item_vectors().T
    ref = tf.nn.sparse_softmax_cross_entropy_with_logits(x["label"], logits).numpy()
    np.testing.assert_allclose(loss, ref, rtol=1e-5, atol=1e-5)


def numpy_max_score_sampled_loss(v, active, table, bias, labels, sampled, true_q, sampled_q):
    """-log softmax of the true column, every candidate scored by its best active interest."""
    out = []
    for b in range(len(v)):
        scores = v[b].astype(np.float64) @ table.T.astype(np.float64) + bias   # [K, I]
        best = np.where(active[b][:, None], scores, -np.inf).max(0)            # [I]
        z = np.concatenate([[best[labels[b]] - np.log(true_q[b])],
                            best[sampled] - np.log(sampled_q)])
        z[1:][sampled == labels[b]] = -np.inf                                  # accidental hits
        out.append(np.logaddexp.reduce(z) - z[0])
    return np.array(out)


def test_max_score_sampled_loss_matches_numpy(rng):
    b, k, d, n = 6, 3, 5, 30
    v = rng.normal(size=(b, k, d)).astype(np.float32)
    active = rng.random((b, k)) < 0.6
    active[:, 0] = True
    active[1] = [True, False, False]
    table = rng.normal(size=(n, d)).astype(np.float32)
    bias = rng.normal(size=n).astype(np.float32)
    labels = rng.integers(1, n, size=b)
    sampled = np.concatenate([[labels[0], labels[2]], rng.choice(n, 6, replace=False)])
    true_q = rng.uniform(0.1, 2.0, size=(b, 1)).astype(np.float32)
    sampled_q = rng.uniform(0.1, 2.0, size=len(sampled)).astype(np.float32)
    loss = max_interest_sampled_softmax_loss(
        table, bias, labels[:, None], v, active, len(sampled), n,
        (sampled, true_q, sampled_q)).numpy()
    ref = numpy_max_score_sampled_loss(v, active, table, bias, labels, sampled, true_q[:, 0],
                                       sampled_q)
    np.testing.assert_allclose(loss, ref, rtol=1e-5, atol=1e-5)
    # One interest: exactly the sampled softmax of that interest (the core loss).
    one = max_interest_sampled_softmax_loss(
        table, bias, labels[:, None], v[:, :1], active[:, :1], len(sampled), n,
        (sampled, true_q, sampled_q)).numpy()
    plain = losses.sampled_softmax_loss(table, bias, labels[:, None], v[:, 0], len(sampled), n,
                                        sampled_values=(sampled, true_q, sampled_q)).numpy()
    np.testing.assert_allclose(one, plain, rtol=1e-6, atol=1e-6)


def test_max_score_exact_loss_ranks_as_max_merge_serving(rng):
    model = make_model(rng, use_bias=True, routing_init="fixed", candidate_score="max")
    model.item_bias.assign(rng.normal(size=I).astype(np.float32))
    # Large embeddings and routing starts, so that the interests really differ.
    model.fixed_logits.assign(10 * rng.normal(size=model.fixed_logits.shape).astype(np.float32))
    ids = model.id_embedding.embeddings
    ids.assign(5 * rng.normal(size=ids.shape).astype(np.float32))
    x = tiny_inputs(rng, [3, 8, 16, 5])                    # K' = 1, 3, 4, 2
    loss = model(x, training=True).numpy()                 # loss="softmax": the exact one
    users, mask = model.user_vectors(x)
    scores = np.einsum("ukd,id->uki", users, model.item_vectors())
    logits = np.where(mask[..., None], scores, -np.inf).max(1)      # what serving ranks by
    ref = tf.nn.sparse_softmax_cross_entropy_with_logits(x["label"], logits).numpy()
    np.testing.assert_allclose(loss, ref, rtol=1e-5, atol=1e-5)
    # The attended default scores the negatives by one interest only: a lower loss once a
    # user has several interests (the true logit, the hard attention's, is the same).
    model.candidate_score = "attended"
    attended = model(x, training=True).numpy()
    np.testing.assert_allclose(attended[0], loss[0], rtol=1e-5)        # K' = 1: the same
    assert np.all(attended[1:] < loss[1:] - 1e-3)


@pytest.mark.parametrize("kwargs,match", [
    ({"candidate_score": "sum"}, "candidate_score"), ({"bilinear": "none"}, "bilinear"),
    ({"routing_draw": "mt"}, "routing_draw"),
    ({"loss": "nce"}, "loss"), ({"loss": "sampled_softmax"}, "sampler"),
    ({"num_interests": 0}, "num_interests"), ({"pow_p": -1.0}, "pow_p"),
    ({"output_dim": 7}, "output_dim"), ({"pow_p": "x"}, "pow_p"),
    ({"routing_init": "zeros"}, "routing_init"), ({"merge": "sum"}, "merge"),
    ({"max_positions": 0}, "max_positions"), ({"num_interests": 2.0}, "num_interests"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    args = {"loss": "softmax", **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        MIND(I, SIZES, np.zeros((I, 2), np.int32), embedding_dim=6, **args)
