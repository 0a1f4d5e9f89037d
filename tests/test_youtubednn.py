"""YouTubeDNN: training logits = exported dot products, sampled loss = numpy reference.

Tiny synthetic models (I = 13 items, B = 6); the oracles are numpy and TensorFlow's own
softmax cross-entropy. Tolerances are float32 round-off (1e-5 relative) on values of order 1.
"""
import numpy as np
import pytest
import tensorflow as tf

from recall_models.data.dataset import Samples
from recall_models.models.youtubednn import YouTubeDNN, genre_weights, masked_mean, model_inputs

I, B, L = 13, 6, 5
SIZES = {"gender": 3, "age": 8, "occupation": 5, "zip": 4}


def tiny_inputs(rng, with_label=True):
    length = rng.integers(1, L + 1, size=B)
    history = rng.integers(1, I, size=(B, L)) * (np.arange(L)[None, :] < length[:, None])
    out = {"history": history.astype(np.int32)}
    for name, n in SIZES.items():
        out[name] = rng.integers(0, n, size=B).astype(np.int32)
    if with_label:
        out["label"] = rng.integers(1, I, size=B).astype(np.int32)
    return out


def tiny_genres(rng):
    g = rng.integers(0, 4, size=(I, 3)).astype(np.int32)
    g[0] = 0
    return g


class FixedSampler:
    """A sampler stub returning fixed ids and expected counts (no randomness)."""

    def __init__(self, ids, q):
        self.ids, self.q = np.asarray(ids, np.int64), dict(q)
        self.num_sampled = len(ids)

    def __call__(self, labels):
        qv = np.array([self.q[i] for i in range(I)], np.float32)
        return (tf.constant(self.ids), tf.gather(qv, labels), tf.constant(qv[self.ids]))


def make_model(rng, sampler=None, loss="softmax", **kw):
    tf.keras.utils.set_random_seed(0)
    model = YouTubeDNN(I, SIZES, item_genres=tiny_genres(rng), sampler=sampler,
                       num_sampled=getattr(sampler, "num_sampled", 4), loss=loss,
                       embedding_dim=8, profile_dim=3, hidden_units=(16,), output_dim=8, **kw)
    model(tiny_inputs(rng), training=False)
    # Random non-zero biases so that a bias mistake shows.
    if model.use_bias:
        model.output_layer.bias.assign(rng.normal(size=I).astype(np.float32))
    return model


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("temperature", [1.0, 0.07])
@pytest.mark.parametrize("use_bias", [True, False])
def test_training_logits_equal_exported_dot_products(rng, normalize, temperature, use_bias):
    model = make_model(rng, normalize=normalize, temperature=temperature, use_bias=use_bias)
    x = tiny_inputs(rng)
    logits = model(x, training=False).numpy()                              # [B, I]
    users, items = model.user_vectors(x), model.item_vectors()
    np.testing.assert_allclose(users @ items.T, logits, rtol=1e-5, atol=1e-5)
    # The training loss (full softmax here) sees the same logits: TF's xent as the oracle.
    loss = model(x, training=True).numpy()                                 # [B]
    ref = tf.nn.sparse_softmax_cross_entropy_with_logits(x["label"], logits).numpy()
    np.testing.assert_allclose(loss, ref, rtol=1e-5, atol=1e-5)
    if normalize:   # |w_i| = 1 and |x_u| = 1 / tau
        np.testing.assert_allclose(np.linalg.norm(items[:, :8], axis=1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(users[:, :8], axis=1), 1 / temperature,
                                   rtol=1e-5)


@pytest.mark.parametrize("normalize,temperature", [(False, 1.0), (True, 0.1)])
def test_sampled_loss_matches_numpy_reference_with_log_q_subtracted(rng, normalize,
                                                                     temperature):
    q = {i: 0.05 * (i + 1) for i in range(I)}
    sampler = FixedSampler([2, 5, 7, 2, 11], q)
    model = make_model(rng, sampler=sampler, loss="sampled_softmax", normalize=normalize,
                       temperature=temperature)
    x = tiny_inputs(rng)
    x["label"][:2] = [5, 2]                     # accidental hits (5; 2 twice) must be masked
    loss = model(x, training=True).numpy()
    users, items = model.user_vectors(x), model.item_vectors()
    ids = np.concatenate([x["label"][:, None], np.tile(sampler.ids, (B, 1))], axis=1)
    logits = np.einsum("bd,bkd->bk", users, items[ids]).astype(np.float64)
    logits -= np.log([[q[i] for i in row] for row in ids])               # o - log Q
    logits[:, 1:][ids[:, 1:] == ids[:, :1]] = -np.inf                      # accidental hits
    ref = -logits[:, 0] + np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) \
        + logits.max(1)
    np.testing.assert_allclose(loss, ref, rtol=1e-5, atol=1e-5)


def test_masked_mean_ignores_padding(rng):
    values = rng.normal(size=(4, 6, 3)).astype(np.float32)
    mask = rng.random((4, 6)) < 0.5
    mask[:, 0] = True
    ref = np.stack([values[b][mask[b]].mean(0) for b in range(4)])
    np.testing.assert_allclose(masked_mean(values, mask).numpy(), ref, rtol=1e-6)


def test_genre_weights_average_each_items_genres():
    codes = np.array([[0, 0], [1, 3], [2, 0], [3, 3]])
    a = genre_weights(codes)
    emb = np.arange(4 * 2, dtype=np.float32).reshape(4, 2)
    ref = np.stack([np.zeros(2), (emb[1] + emb[3]) / 2, emb[2], emb[3]])  # duplicates count twice
    np.testing.assert_allclose(a @ emb, ref)


def test_user_vector_matches_numpy_tower_with_per_item_genre_vectors(rng):
    """The genre part is pooled as (masked_mean_t A_{x_t}) E_genre; the oracle forms each
    history item's genre vector (A E_genre)_{x_t} first, as the module docstring defines it,
    and the gradient with respect to E_genre agrees with autodiff of that form."""
    model = make_model(rng)
    x = tiny_inputs(rng, with_label=False)
    w = {v.path.split("/")[-2] + "/" + v.path.split("/")[-1]: v.numpy() for v in model.weights}
    a = model.genre_weights.numpy()
    hist, mask = x["history"], x["history"] > 0
    cnt = mask.sum(1, keepdims=True)
    e_hist = w["history_embedding/embeddings"]
    e_gen = a @ w["genre_embedding/embeddings"]                               # [I, d]
    parts = [(e_hist[hist] * mask[..., None]).sum(1) / cnt,
             (e_gen[hist] * mask[..., None]).sum(1) / cnt]
    parts += [w[f"{n}_embedding/embeddings"][x[n]] for n in ("gender", "age", "occupation", "zip")]
    z = np.maximum(np.concatenate(parts, 1) @ w["relu_0/kernel"] + w["relu_0/bias"], 0)
    ref = z @ w["user_vector/kernel"] + w["user_vector/bias"]
    np.testing.assert_allclose(model.user_vector(x).numpy(), ref, rtol=1e-5, atol=1e-6)

    table = model.genre_embedding.embeddings
    upstream = tf.constant(rng.normal(size=ref.shape).astype(np.float32))
    with tf.GradientTape() as tape:
        ours = tf.reduce_sum(model.user_vector(x) * upstream)
    with tf.GradientTape() as tape2:                    # the catalogue-wide form, [I, d]
        item_genre = tf.matmul(model.genre_weights, table)
        g = masked_mean(tf.gather(item_genre, hist), mask)
        h = masked_mean(model.history_embedding(hist), mask)
        prof = [model.profile_embeddings[n](x[n]) for n in ("gender", "age", "occupation", "zip")]
        z2 = model.top(model.tower[0](tf.concat([h, g] + prof, -1)))
        old = tf.reduce_sum(z2 * upstream)
    np.testing.assert_allclose(tf.convert_to_tensor(tape.gradient(ours, table)).numpy(),
                               tf.convert_to_tensor(tape2.gradient(old, table)).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_history_padding_does_not_change_the_user_vector(rng):
    model = make_model(rng)
    x = tiny_inputs(rng)
    base = model.user_vectors(x)
    length = (x["history"] > 0).sum(1)
    x2 = {k: v.copy() for k, v in x.items()}
    x2["history"] = np.concatenate([x["history"], np.zeros((B, 3), np.int32)], axis=1)
    np.testing.assert_allclose(model.user_vectors(x2), base, rtol=1e-6, atol=1e-6)
    # ... while changing a real history item does change it.
    x3 = {k: v.copy() for k, v in x.items()}
    x3["history"][0, length[0] - 1] = x3["history"][0, length[0] - 1] % (I - 1) + 1
    assert np.abs(model.user_vectors(x3)[0] - base[0]).max() > 1e-6


def test_empty_history_is_rejected():
    s = Samples(user=np.array([0, 1], np.int32), history=np.array([[3, 0], [0, 0]], np.int32),
                length=np.array([1, 0], np.int32), label=np.array([2, 4], np.int32))
    with pytest.raises(ValueError, match="sample 1 .*empty history"):
        model_inputs(None, s)


@pytest.mark.parametrize("kwargs,match", [
    ({"loss": "nce"}, "loss"),
    ({"loss": "sampled_softmax", "sampler": None}, "sampler"),
    ({"temperature": 0.0}, "temperature"),
    ({"use_genres": True, "item_genres": None}, "item_genres"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    args = {"item_genres": np.zeros((I, 2), np.int32), "loss": "softmax", **kwargs}
    with pytest.raises(ValueError, match=match):
        YouTubeDNN(I, SIZES, **args)


def _softmax_xent(logits, labels):
    z = logits.astype(np.float64) - logits.max(1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


@pytest.mark.slow
def test_save_load_round_trip_evaluate_and_training_go_on_alike(rng, tmp_path):
    import keras
    from recall_models.models.samplers import LogUniformSampler
    model = make_model(rng, sampler=LogUniformSampler(I, 4, seed=3), loss="sampled_softmax",
                       normalize=True, temperature=0.5)
    model.compile(keras.optimizers.Adam(0.01))
    x = tiny_inputs(rng)
    model.fit(x, batch_size=B, verbose=0)
    # evaluate: the exact full-softmax cross-entropy of the logits (numpy oracle)
    logits = model.predict({k: v for k, v in x.items() if k != "label"}, verbose=0)
    assert model.evaluate(x, batch_size=B, verbose=0) == pytest.approx(
        _softmax_xent(logits, x["label"]), rel=1e-5)
    model.save(tmp_path / "ytdnn.keras")
    loaded = keras.models.load_model(tmp_path / "ytdnn.keras")
    assert loaded.get_config() == model.get_config()
    assert loaded.output_layer.normalize and loaded.sampler.get_config() == \
        model.sampler.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert int(loaded.sampler.step.numpy()) == int(model.sampler.step.numpy()) == 1
    model.fit(x, batch_size=B, verbose=0)
    loaded.fit(x, batch_size=B, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["log_uniform", "unigram", "uniform", "in_batch", "mixed"])
def test_recall_samplers_serialise_config_in_same_draws_out(name):
    import json

    import keras
    from recall_models.models.samplers import make_sampler
    freq = np.arange(I)[::-1].copy()
    sampler = make_sampler(name, freq, num_sampled=4, batch_size=B, seed=5)
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(sampler)))
    copy = keras.saving.deserialize_keras_object(config)
    assert type(copy) is type(sampler) and copy.get_config() == sampler.get_config()
    labels = tf.constant(np.arange(1, B + 1)[:, None], tf.int64)
    for _ in range(2):
        for u, v in zip(sampler(labels), copy(labels)):
            np.testing.assert_array_equal(u.numpy(), v.numpy())
