"""Item samplers (distribution, expected counts, padding never drawn, determinism) and the
training loop / CLI (checkpoint, resumption, JSON output, errors before training).

Training runs use a synthetic MovieLens-100K-format folder (60 users, 40 items) and
tiny models without XLA, so each run takes a few seconds.
"""
import argparse
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from recall_models.models import samplers as S
from recall_models import train_cli
from recall_models.data.dataset import load_dataset
from recall_models.train import TrainConfig, build_model, evaluate_model, train
from recall_testdata import run_cli as run_testdata_cli, write_ml100k

FREQ = np.array([0, 40, 25, 20, 10, 8, 5, 3, 2, 1, 1, 0, 7], np.int64)   # I = 13, id 11 unseen
NUM_ITEMS = len(FREQ)


# ----------------------------------------------------------------------------- samplers
@pytest.mark.parametrize("name", ["log_uniform", "unigram", "uniform"])
def test_with_replacement_draws_follow_the_proposal(name):
    big = np.concatenate([[0], 1000 // np.arange(1, 101), [0]])          # I = 102, id 101 unseen
    s = S.make_sampler(name, big, 100, 8, seed=3, unique=False)
    labels = tf.constant([[1], [4], [100], [2]], tf.int64)
    draws, p = [], s.probabilities()
    assert p[0] == 0 and abs(p.sum() - 1) < 1e-6
    for _ in range(60):
        sampled, true_q, sampled_q = s(labels)
        draws.append(sampled.numpy())
        # Q = S P for draws with replacement, for labels and samples alike.
        np.testing.assert_allclose(true_q.numpy()[:, 0], 100 * p[[1, 4, 100, 2]], rtol=1e-5)
        np.testing.assert_allclose(sampled_q.numpy(), 100 * p[sampled.numpy()], rtol=1e-5)
    draws = np.concatenate(draws)                                      # n = 6,000 draws
    assert draws.min() >= 1 and draws.max() < len(big)                # never padding
    freq = np.bincount(draws, minlength=len(big)) / len(draws)
    # Each frequency is binomial: 5 standard deviations sqrt(p (1 - p) / n), plus 1e-3.
    np.testing.assert_array_less(np.abs(freq - p), 5 * np.sqrt(p * (1 - p) / 6000) + 1e-3)
    if name == "unigram":
        ref = big.astype(float) ** 0.75
        ref[0] = 0
        np.testing.assert_allclose(p, ref / ref.sum(), rtol=1e-5)
        assert freq[101] == 0                                          # count 0: never drawn
    if name == "log_uniform":
        i = np.arange(1, len(big))
        np.testing.assert_allclose(p[1:], np.log((i + 1) / i) / np.log(len(big)), rtol=1e-5)


@pytest.mark.parametrize("name", ["log_uniform", "unigram", "uniform"])
def test_unique_draws_are_distinct_with_tf_expected_counts(name):
    s = S.make_sampler(name, FREQ, 6, 8, seed=0, unique=True)
    p = s.probabilities()
    for _ in range(20):
        sampled, _, q = s(tf.constant([[3]], tf.int64))
        ids = sampled.numpy()
        assert len(set(ids)) == 6 and ids.min() >= 1
        # Q = 1 - (1 - P)^tries with one `tries` for every id (or S P when tries == S).
        if not np.allclose(q.numpy(), 6 * p[ids], rtol=1e-5):
            tries = np.log1p(-q.numpy()) / np.log1p(-p[ids])
            np.testing.assert_allclose(tries, tries[0], rtol=1e-3)
            assert tries[0] >= 6


def test_in_batch_and_mixed_expected_counts():
    labels = tf.constant([[1], [3], [3], [9]], tf.int64)
    p = FREQ / FREQ.sum()
    ib = S.make_sampler("in_batch", FREQ, 99, 4)
    sampled, tq, sq = ib(labels)
    np.testing.assert_array_equal(sampled.numpy(), [1, 3, 3, 9])       # labels are item ids
    np.testing.assert_allclose(tq.numpy()[:, 0], 4 * p[[1, 3, 3, 9]], rtol=1e-6)
    np.testing.assert_allclose(sq.numpy(), 4 * p[[1, 3, 3, 9]], rtol=1e-6)
    mx = S.make_sampler("mixed", FREQ, 5, 4, seed=1)
    sampled, tq, sq = mx(labels)
    ids = sampled.numpy()
    assert ids.shape == (9,) and (ids[:4] == [1, 3, 3, 9]).all() and ids[4:].min() >= 1
    # Q(i) = B p_i + M / (I - 1)
    np.testing.assert_allclose(sq.numpy(), 4 * p[ids] + 5 / (NUM_ITEMS - 1), rtol=1e-6)
    np.testing.assert_allclose(tq.numpy()[:, 0], 4 * p[[1, 3, 3, 9]] + 5 / 12, rtol=1e-6)


def test_same_seed_replays_and_steps_advance():
    a, b = (S.make_sampler("log_uniform", FREQ, 5, 8, seed=7) for _ in range(2))
    c = S.make_sampler("log_uniform", FREQ, 5, 8, seed=8)
    labels = tf.constant([[2]], tf.int64)
    ra = [a(labels)[0].numpy() for _ in range(3)]
    rb = [b(labels)[0].numpy() for _ in range(3)]
    rc = [c(labels)[0].numpy() for _ in range(3)]
    np.testing.assert_array_equal(ra, rb)
    assert int(a.step.numpy()) == 3
    assert any((x != y).any() for x, y in zip(ra, rc))
    assert any((ra[0] != r).any() for r in ra[1:])


@pytest.mark.parametrize("args,match", [
    (("nope", FREQ, 5, 8), "sampler"),
    (("uniform", FREQ, 13, 8), "catalogue"),
    (("mixed", FREQ, 50, 8), "catalogue"),
    (("unigram", FREQ, 12, 8), "training count"),
    (("log_uniform", FREQ, 0, 8), "num_sampled"),
    (("in_batch", FREQ, 5, 0), "batch_size"),
    (("uniform", [5], 1, 8), "item_freq"),
])
def test_sampler_errors_name_the_argument(args, match):
    with pytest.raises(ValueError, match=match):
        S.make_sampler(*args)


# ----------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def movielens_dir(tmp_path_factory):
    """A synthetic ML-100K folder: 60 users walking through 40 items in a cycle."""
    return write_ml100k(tmp_path_factory.mktemp("ml-synthetic"))


@pytest.fixture(scope="module")
def ds(movielens_dir):
    return load_dataset(str(movielens_dir))


SMALL = {"embedding_dim": 8, "profile_dim": 2, "hidden_units": (16,)}


def config(tmp_path, **kw):
    base = dict(dataset="unused", sampler="uniform", num_sampled=10, epochs=2, batch_size=32,
                out=str(tmp_path / "run"), jit_compile=False, hparams=dict(SMALL))
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.slow
@pytest.mark.parametrize("model,sampler", [("youtubednn", "in_batch"), ("mind", "mixed")])
def test_train_writes_best_checkpoint_and_test_metrics(tmp_path, ds, model, sampler):
    cfg = config(tmp_path, model=model, sampler=sampler)
    result = train(cfg, ds, verbose=0)
    out = tmp_path / "run"
    assert (out / "best.weights.h5").exists() and not (out / "checkpoint.npz").exists()
    saved = json.loads((out / "results.json").read_text())
    assert saved["test"] == result["test"] and result["epochs_run"] == 2
    best = max(h["val_ndcg@10"] for h in result["history"])
    assert result["valid"]["ndcg@10"] == best
    assert result["best_epoch"] == 1 + [h["val_ndcg@10"] for h in result["history"]].index(best)
    f = result["test"]["filtered"]
    assert 0 <= f["hr@10"] <= f["hr@20"] <= f["hr@50"] <= 1
    vec = np.load(out / "vectors.npz")
    assert vec["item_vectors"].shape[0] == ds.num_items - 1 and len(vec["user_vectors"]) == ds.num_users
    if model == "youtubednn":   # deterministic: a fresh model with the best weights agrees
        again = build_model(cfg, ds)
        again.load_weights(out / "best.weights.h5")
        assert evaluate_model(again, ds, "test") == result["test"]


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch, self.epochs = at_epoch, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_interrupted_run_resumes_after_the_last_finished_epoch(tmp_path, ds):
    cfg = config(tmp_path, model="youtubednn", sampler="log_uniform", epochs=3, patience=5)
    first = _Interrupt(at_epoch=1)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, ds, verbose=0, callbacks=[first])
    assert first.epochs == [0, 1]
    assert int(np.load(tmp_path / "run" / "checkpoint.npz")["epochs_done"]) == 2
    second = _Interrupt(at_epoch=-1)
    result = train(cfg, ds, verbose=0, callbacks=[second])
    assert second.epochs == [2]                                       # only the last epoch
    assert [h["epoch"] for h in result["history"]] == [1, 2, 3]


def run_cli(argv, capsys):
    return run_testdata_cli(train_cli, argv, capsys)


@pytest.mark.parametrize("extra,match", [
    (["--num-sampled", "41"], "larger than the catalogue of 40"),
    (["--dataset", "EMPTY"], "holds no MovieLens ratings file"),
    (["--dataset", "no-such-dataset"], "neither an embedded dataset"),
    (["--model", "youtubednn", "--pow-p", "2"], "mind only"),
    (["--epochs", "0"], "epochs=0"),
])
def test_cli_bad_input_fails_before_training(tmp_path, movielens_dir, capsys, extra, match):
    (tmp_path / "EMPTY").mkdir()
    extra = [str(tmp_path / "EMPTY") if e == "EMPTY" else e for e in extra]
    argv = ["--dataset", str(movielens_dir), "--out", str(tmp_path / "run"),
            "--sampler", "uniform"] + extra
    code, _, err = run_cli(argv, capsys)
    assert code == 1 and match in err
    assert not (tmp_path / "run" / "checkpoint.npz").exists()


def test_cli_rejects_unknown_model_and_sampler():
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    for argv in (["--model", "sasrec"], ["--sampler", "zipf"]):
        with pytest.raises(SystemExit) as err:
            parser.parse_args(argv)
        assert err.value.code == 2


@pytest.mark.slow
def test_cli_json_last_line(tmp_path, movielens_dir, capsys):
    argv = ["--dataset", str(movielens_dir), "--out", str(tmp_path / "run"), "--epochs", "1",
            "--sampler", "full", "--num-sampled", "10", "--embedding-dim", "8",
            "--output-dim", "8", "--no-xla", "--json"]
    code, out, _ = run_cli(argv, capsys)
    last = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and last["sampler"] == "full" and last["epochs_run"] == 1
    assert last["seconds_per_epoch"] > 0 and set(last["test"]) >= {"filtered", "unfiltered"}
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir()}
    code, out, _ = run_cli(argv, capsys)              # the same command: its results again
    again = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and "already holds this finished run" in out
    assert again["test"] == last["test"] and again["already_finished"]
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir()} == before
    code, _, err = run_cli(argv[:-1] + ["--seed", "1", "--json"], capsys)
    assert code == 1 and "holds a finished run with another configuration (seed: 0 -> 1)" in err


@pytest.mark.parametrize("model", ["youtubednn", "mind", "comirec_sa"])
def test_each_model_trains_at_its_own_learning_rate_unless_told(ds, model):
    from recall_models.train import LEARNING_RATES
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    for argv, want in ([], LEARNING_RATES[model]), (["--learning-rate", "0.02"], 0.02):
        cfg = train_cli.config_from_args(parser.parse_args(["--model", model] + argv))
        assert cfg.learning_rate == want
    assert LEARNING_RATES["comirec_sa"] != LEARNING_RATES["youtubednn"]
    built = build_model(TrainConfig(model=model, batch_size=8, num_sampled=5,
                                    jit_compile=False), ds)
    assert np.isclose(float(built.optimizer.learning_rate), LEARNING_RATES[model])


def test_strategy_is_checked_before_training():
    from recall_models.train import TrainConfig, check_config
    with pytest.raises(ValueError, match="strategy='ps' is unknown"):
        check_config(TrainConfig(strategy="ps"))
    check_config(TrainConfig(strategy="mirrored"))


def test_prefix_dataset_gathers_the_numpy_windows_in_a_resumable_order(ds):
    from recall_models.models.youtubednn import model_inputs
    from recall_models.train import epoch_order, prefix_dataset
    B, steps = 32, len(ds.train) // 32
    batches = list(prefix_dataset(ds, B, seed=7, first_epoch=0, epochs=2))
    assert len(batches) == 2 * steps
    for e in range(2):
        order = epoch_order(len(ds.train), 7, e).numpy()
        assert sorted(order) == list(range(len(ds.train)))          # a permutation
        for b in (0, steps - 1):
            want = model_inputs(ds, ds.train.select(order[b * B:(b + 1) * B]))
            got = batches[e * steps + b]
            assert set(got) == set(want)
            for key in want:
                np.testing.assert_array_equal(got[key].numpy(), want[key], err_msg=key)
    # Starting at epoch 1 gives epoch 1's batches, not epoch 0's again.
    resumed = list(prefix_dataset(ds, B, seed=7, first_epoch=1, epochs=2))
    for a, b in zip(resumed, batches[steps:]):
        np.testing.assert_array_equal(a["history"].numpy(), b["history"].numpy())
    assert not np.array_equal(batches[0]["label"].numpy(), batches[steps]["label"].numpy())
