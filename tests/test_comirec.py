"""ComiRec-SA against numpy, and what both multi-interest models (MIND, ComiRec-SA) share:
Keras config, .keras save / load round trip, `evaluate`, bad input before training.

Oracles: a numpy float64 self-attention, TF's softmax cross-entropy of the interest with
the largest dot (hard attention), identical vectors after a reload.
"""
import argparse

import keras
import numpy as np
import pytest
import tensorflow as tf

from recall_models import train_cli
from recall_models.models.comirec import ComiRecSA, self_attentive_interests
from recall_models.models.mind import MIND
from recall_models.models.youtubednn import YouTubeDNN
from test_recall_train import ds, movielens_dir  # noqa: F401 (fixtures)

I, L, K, D = 19, 12, 3, 6
SIZES = {"gender": 3, "age": 8, "occupation": 5, "zip": 4}


def inputs(rng, lengths, with_label=True, width=L):
    b = len(lengths)
    hist = rng.integers(1, I, size=(b, width)) * (np.arange(width)[None] < np.c_[lengths])
    out = {"history": hist.astype(np.int32)}
    out.update({n: rng.integers(0, s, size=b).astype(np.int32) for n, s in SIZES.items()})
    if with_label:
        out["label"] = rng.integers(1, I, size=b).astype(np.int32)
    return out


def make(cls, rng, **kw):
    keras.utils.set_random_seed(0)
    genres = rng.integers(0, 4, size=(I, 2)).astype(np.int32)
    extra = {"profile_dim": 2, "hidden_units": (8,)} if cls is MIND else {}
    model = cls(I, SIZES, genres, loss="softmax", embedding_dim=D, num_interests=K,
                max_positions=L, **extra, **kw)
    model(inputs(rng, [3, 8]), training=False)
    return model


def test_self_attention_matches_numpy(rng):
    b, da = 4, 7
    e, pos = rng.normal(size=(b, L, D)), rng.normal(size=(1, L, D))
    w1, w2 = rng.normal(size=(D, da)), rng.normal(size=(da, K))
    mask = np.arange(L)[None] < np.c_[[1, 4, 9, 12]]
    scores = np.tanh((e + pos) @ w1) @ w2                                # [B, L, K]
    scores = np.where(mask[..., None], scores, -np.inf)
    att = np.exp(scores - scores.max(1, keepdims=True))
    att /= att.sum(1, keepdims=True)                                     # softmax over t
    ref = np.einsum("blk,bld->bkd", att, e)
    got, got_att = self_attentive_interests(*(tf.constant(x, tf.float32) for x in (e, pos)),
                                            tf.constant(mask),
                                            *(tf.constant(x, tf.float32) for x in (w1, w2)))
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_att.numpy(), att.transpose(0, 2, 1), rtol=1e-4, atol=1e-6)


def test_positions_count_from_the_newest_item_and_padding_is_ignored(rng):
    model = make(ComiRecSA, rng)
    x = inputs(rng, [2, 5, 12], with_label=False)
    short = {k: (v[:, :8] if k == "history" else v) for k, v in x.items()}
    short["history"] = short["history"][:2]
    short = {k: v[:2] for k, v in short.items()}
    v_long, _ = model.interests({k: v[:2] for k, v in x.items()})
    v_short, _ = model.interests(short)                   # same users, less padding
    np.testing.assert_allclose(v_short.numpy(), v_long.numpy(), rtol=1e-5, atol=1e-6)
    # one user's interests do not depend on the rest of the batch
    alone, _ = model.interests({k: v[2:] for k, v in x.items()})
    batch, _ = model.interests(x)
    np.testing.assert_allclose(alone.numpy()[0], batch.numpy()[2], rtol=1e-5, atol=1e-6)


def test_training_loss_is_the_softmax_of_the_best_interest(rng):
    model = make(ComiRecSA, rng, use_bias=True)           # pow_p = inf: hard attention
    model.item_bias.assign(rng.normal(size=I).astype(np.float32))
    x = inputs(rng, [1, 4, 7, 12, 12])
    loss = model(x, training=True).numpy()
    users, mask = model.user_vectors(x)
    items = model.item_vectors()
    assert mask.all() and users.shape == (5, K, D + 1)
    dots = np.einsum("bkd,bd->bk", users[..., :D], items[x["label"], :D])
    best = users[np.arange(5), dots.argmax(1)]
    ref = tf.nn.sparse_softmax_cross_entropy_with_logits(x["label"], best @ items.T).numpy()
    np.testing.assert_allclose(loss, ref, rtol=1e-5, atol=1e-5)


def test_attention_units_default_to_the_embedding_dim(rng):
    assert tuple(make(ComiRecSA, rng).w1.shape) == (D, D)          # d_a = d by default
    wide = make(ComiRecSA, rng, attention_units=4 * D)
    assert tuple(wide.w1.shape) == (D, 4 * D)
    # the config holds the value, not None: a saved model keeps its d_a if the default moves
    assert make(ComiRecSA, rng).get_config()["attention_units"] == D
    assert wide.get_config()["attention_units"] == 4 * D


def test_profile_moves_every_interest_by_its_projection(rng):
    model = make(ComiRecSA, rng, use_profile=True, profile_dim=3)
    x = inputs(rng, [1, 5, 12, 9])
    v, active = model.interests(x)
    attended, _, _ = model.attention(x)                   # V_j without the profile
    profile = np.concatenate([model.profile_embeddings[n](x[n]).numpy() for n in SIZES], -1)
    shift = profile.astype(np.float64) @ model.profile_projection.kernel.numpy()   # [B, d]
    np.testing.assert_allclose(v.numpy(), attended.numpy() + shift[:, None, :],
                               rtol=1e-5, atol=1e-6)
    assert np.abs(shift).max() > 1e-3 and active.numpy().all()
    plain = make(ComiRecSA, rng)                            # no profile weights, no shift
    assert not hasattr(plain, "profile_embeddings")


@pytest.mark.parametrize("pool", [False, True])
def test_tower_maps_every_interest_with_the_same_relu_layers(rng, pool):
    model = make(ComiRecSA, rng, hidden_units=(5,), pool_history=pool)
    x = inputs(rng, [1, 5, 12, 9])
    v, _ = model.interests(x)
    attended, _, mask = model.attention(x)
    h = attended.numpy().astype(np.float64)                           # [B, K, d]
    if pool:                                                          # [V_j, mean_t e_t]
        e = tf.gather(model.item_table(), x["history"]).numpy().astype(np.float64)
        m = mask.numpy()[..., None]
        mean = (e * m).sum(1) / m.sum(1)
        h = np.concatenate([h, np.repeat(mean[:, None], K, 1)], -1)
    layer, top = model.tower[0], model.top
    h = np.maximum(h @ layer.kernel.numpy() + layer.bias.numpy(), 0.0)
    want = h @ top.kernel.numpy() + top.bias.numpy()
    np.testing.assert_allclose(v.numpy(), want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(v.numpy(), attended.numpy(), atol=1e-3)
    assert make(ComiRecSA, rng).tower == []                           # the paper's: none


@pytest.mark.parametrize("cls,kw", [  # MIND with a fixed routing start: deterministic vectors
    (MIND, {"routing_init": "fixed"}),
    (MIND, {"routing_init": "fixed", "shared_table": False, "pow_p": 0.0}),
    (MIND, {"routing_init": "fixed", "positions": False}),
    (ComiRecSA, {}), (ComiRecSA, {"shared_table": False, "use_bias": True}),
    (ComiRecSA, {"use_profile": True, "profile_dim": 3}),
    (ComiRecSA, {"hidden_units": (4,), "pool_history": True})])
def test_config_save_load_round_trip_and_evaluate(rng, tmp_path, cls, kw):
    model = make(cls, rng, **kw)
    model.compile(keras.optimizers.Adam(1e-2))
    x = inputs(rng, [2, 5, 9, 12, 7, 3])
    model.fit(x, batch_size=3, epochs=1, verbose=0)
    again = cls.from_config(model.get_config())
    assert again.get_config() == model.get_config()
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is cls and loaded.get_config() == model.get_config()
    for a, b in zip(model.user_vectors(x), loaded.user_vectors(x)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.item_vectors(), loaded.item_vectors())
    # evaluate: the exact full-softmax cross-entropy of every item scored by the user's best
    # active interest (candidate_score="max", the default)
    assert model.candidate_score == "max"
    users, active = model.user_vectors(x)                 # inactive interests masked out
    items = model.item_vectors()
    scores = np.where(active[..., None], np.einsum("bkd,id->bki", users, items), -np.inf)
    ref = tf.nn.sparse_softmax_cross_entropy_with_logits(x["label"], scores.max(1))
    np.testing.assert_allclose(loaded.evaluate(x, batch_size=6, verbose=0),
                               float(tf.reduce_mean(ref)), rtol=1e-4)
    assert loaded.predict({k: v for k, v in x.items() if k != "label"},
                          verbose=0).shape == (6, K, D)


@pytest.mark.parametrize("cls", [MIND, ComiRecSA])
def test_history_longer_than_positions_is_a_clear_error(rng, cls):
    model = make(cls, rng)
    with pytest.raises(ValueError, match=f"history has {L + 1} positions.*max_positions={L}"):
        model.interests(inputs(rng, [3], width=L + 1))


@pytest.mark.parametrize("kwargs,match", [
    ({"num_interests": 0}, "num_interests"), ({"pow_p": -0.5}, "pow_p"),
    ({"attention_units": 0}, "attention_units"), ({"max_positions": -3}, "max_positions"),
    ({"loss": "sampled_softmax"}, "sampler"), ({"merge": "sum"}, "merge"),
    ({"hidden_units": (8, 0)}, "hidden_units"), ({"pool_history": True}, "pool_history"),
])
def test_comirec_bad_arguments_name_themselves(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ComiRecSA(I, None, np.zeros((I, 2), np.int32), **{"loss": "softmax", **kwargs})


@pytest.mark.parametrize("sizes,kw,match", [
    (None, {}, "user_feature_sizes"), ({"gender": 3}, {}, r"lacks \['age'"),
    (SIZES, {"profile_dim": 0}, "profile_dim")])
def test_comirec_profile_needs_the_profile_features(sizes, kw, match):
    with pytest.raises(ValueError, match=match):
        ComiRecSA(I, sizes, np.zeros((I, 2), np.int32), loss="softmax", use_profile=True, **kw)


def run_cli(argv, capsys):
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    code = train_cli.main(parser.parse_args(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("extra,match", [
    (["--model", "comirec_sa", "--num-interests", "0"], "num_interests (--num-interests)"),
    (["--model", "mind", "--pow-p", "-1"], "pow_p (--pow-p)"),
    (["--model", "comirec_sa", "--max-history", "20", "--max-positions", "10"],
     "max_positions=10 is shorter than max_history=20"),
    (["--model", "comirec_sa", "--routing-init", "fixed"], "mind only"),
    (["--model", "comirec_sa", "--candidate-score", "sum"],
     "--candidate-score 'sum': expected one of attended, max"),
    (["--model", "youtubednn", "--candidate-score", "max"], "comirec_sa or mind only"),
    (["--model", "mind", "--positions", "yes"], "--positions 'yes': expected on or off"),
    (["--model", "comirec_sa", "--positions", "off"], "mind only"),
])
def test_cli_bad_multi_interest_input_fails_before_training(tmp_path, movielens_dir, capsys,
                                                             extra, match):
    argv = ["--dataset", str(movielens_dir), "--out", str(tmp_path / "run"),
            "--sampler", "uniform", "--num-sampled", "5"] + extra
    code, err = run_cli(argv, capsys)
    assert code == 1 and match in err
    assert not (tmp_path / "run" / "backup").exists()


@pytest.mark.parametrize("flag,positions", [([], True), (["--positions", "on"], True),
                                            (["--positions", "off"], False)])
def test_cli_positions_flag_reaches_mind(flag, positions):
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    cfg = train_cli.config_from_args(parser.parse_args(["--model", "mind"] + flag))
    assert cfg.hparams["positions"] is positions


@pytest.mark.slow
@pytest.mark.parametrize("sampler,score", [
    (s, c) for s in ("log_uniform", "unigram", "uniform", "in_batch", "mixed", "full")
    for c in ("attended", "max")])
def test_comirec_trains_with_every_sampler_under_xla(tmp_path, ds, sampler, score):  # noqa: F811
    from recall_models.train import TrainConfig, train
    cfg = TrainConfig(model="comirec_sa", dataset="unused", sampler=sampler, num_sampled=10,
                      epochs=1, batch_size=32, out=str(tmp_path / "run"),
                      hparams={"embedding_dim": 8, "candidate_score": score})
    result = train(cfg, ds, verbose=0)
    losses = [h["loss"] for h in result["history"]]
    assert np.isfinite(losses).all() and 0 <= result["test"]["filtered"]["hr@50"] <= 1


def test_mind_reloaded_with_random_routing_trains_on_as_the_original(rng, tmp_path):
    """The routing draws' seed state is saved with the model: a `.keras` file held only the
    sampler's step, so a reloaded MIND replayed its first routing draws (weights 0.005 apart
    after one more epoch on ML-100K)."""
    model = make(MIND, rng, routing_init="random")
    model.compile(keras.optimizers.Adam(1e-2))
    x = inputs(rng, [2, 5, 9, 12, 7, 3])
    model.fit(x, batch_size=3, epochs=2, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.seed_generator.state.numpy(),
                                  model.seed_generator.state.numpy())
    for m in (model, loaded):
        m.fit(x, batch_size=3, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_mind_file_saved_before_the_seed_state_was_a_weight_still_loads(rng):
    model = make(MIND, rng, routing_init="random")
    model.user_vectors(inputs(rng, [3, 4]))                     # built
    own = model._trainable_variables + model._non_trainable_variables
    old = [v for v in own if v is not model.routing_seed_state]  # what such a file holds
    store = {str(i): np.asarray(v.numpy()) + 1 for i, v in enumerate(old)}
    state = model.seed_generator.state.numpy()
    model.load_own_variables(store)
    for i, v in enumerate(old):
        np.testing.assert_array_equal(v.numpy(), store[str(i)])
    np.testing.assert_array_equal(model.seed_generator.state.numpy(), state)


@pytest.mark.parametrize("cls", [MIND, ComiRecSA, YouTubeDNN])
def test_num_sampled_other_than_the_samplers_is_refused(rng, cls):
    """It was ignored: the sampler's own count was drawn, and the config kept the other."""
    from recall_models.models.samplers import LogUniformSampler
    genres = rng.integers(0, 4, size=(I, 2)).astype(np.int32)
    with pytest.raises(ValueError, match="num_sampled`=8 but the sampler draws 5"):
        cls(I, SIZES, genres, sampler=LogUniformSampler(I, 5), num_sampled=8)
    cls(I, SIZES, genres, sampler=LogUniformSampler(I, 5), num_sampled=5)


@pytest.mark.parametrize("cls", [MIND, ComiRecSA])
def test_label_of_shape_batch_1_is_read_and_other_shapes_named(rng, cls):
    """A [B, 1] label (the Keras layer's convention) gave a raw ComputeAccidentalHits error."""
    model = make(cls, rng, **({"routing_init": "fixed"} if cls is MIND else {}))
    model.compile(keras.optimizers.Adam(1e-2))
    x = inputs(rng, [2, 5, 9, 12])
    flat = model.evaluate(x, batch_size=4, verbose=0)
    column = model.evaluate({**x, "label": x["label"][:, None]}, batch_size=4, verbose=0)
    assert column == flat
    with pytest.raises(ValueError, match=r'inputs\["label"\] has shape'):
        model({**x, "label": np.stack([x["label"]] * 2, 1)})


@pytest.mark.parametrize("kw, message", [
    ({"embedding_dim": 0}, "`embedding_dim` must be a positive int"),
    ({"output_dim": 0}, "`output_dim` must be a positive int"),
    ({"hidden_units": (0,)}, "`hidden_units` must be a positive int"),
    ({"hidden_units": 64}, "`hidden_units` must be a sequence"),
    ({"dropout": 1.5}, "`dropout` must be in \\[0, 1\\)"),
])
def test_youtubednn_and_mind_name_their_own_bad_sizes(rng, kw, message):
    """Keras named its own arguments: embedding_dim=0 said `output_dim`, dropout `rate`."""
    genres = rng.integers(0, 4, size=(I, 2)).astype(np.int32)
    with pytest.raises(ValueError, match=message):
        YouTubeDNN(I, SIZES, genres, loss="softmax", **kw)
    if "hidden_units" in kw or "dropout" in kw:
        with pytest.raises(ValueError, match=message):
            MIND(I, SIZES, genres, loss="softmax", **kw)


def test_log_uniform_on_ids_not_sorted_by_frequency_warns():
    """Shuffled ids silently gave the most popular items an arbitrary share of the draws."""
    import warnings
    from recall_models.models.samplers import make_sampler
    freq = np.array([0, 50, 40, 30, 20, 10])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_sampler("log_uniform", freq, 2, 8)
    with pytest.warns(UserWarning, match="sorted by decreasing frequency"):
        make_sampler("log_uniform", freq[[0, 3, 1, 5, 2, 4]], 2, 8)
