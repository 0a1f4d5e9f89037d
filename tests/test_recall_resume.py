"""Exact resumption: a run interrupted at any moment and rerun with the same configuration
ends with the weights and metrics of the uninterrupted run (every sampler, both models);
a real training process is killed mid-epoch with SIGKILL; other configurations are refused.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from recall_models.data.dataset import load_dataset
from recall_models.models.samplers import SAMPLERS
from recall_models.train import TrainConfig, train
from recall_testdata import write_ml100k

pytestmark = pytest.mark.slow

SMALL = {"embedding_dim": 8, "profile_dim": 2, "hidden_units": (16,), "dropout": 0.1}


@pytest.fixture(scope="module")
def ds_dir(tmp_path_factory):
    return write_ml100k(tmp_path_factory.mktemp("ml-resume"))


@pytest.fixture(scope="module")
def ds(ds_dir):
    return load_dataset(str(ds_dir))


def config(ds_dir, out, model="youtubednn", sampler="uniform", **kw):
    hparams = dict(SMALL, **({"num_interests": 3} if model == "mind" else {}))
    base = dict(model=model, dataset=str(ds_dir), sampler=sampler, num_sampled=10, epochs=3,
                batch_size=32, patience=5, out=str(out), jit_compile=False, seed=5,
                hparams=hparams)
    base.update(kw)
    return TrainConfig(**base)


class StopAt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt after batch `batch` of epoch `epoch` (0-based)."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


def assert_same_run(a_dir, b_dir):
    a = json.loads((a_dir / "results.json").read_text())
    b = json.loads((b_dir / "results.json").read_text())
    assert a["best_epoch"] == b["best_epoch"] and a["epochs_run"] == b["epochs_run"]
    for x, y in zip(a["history"], b["history"]):
        np.testing.assert_allclose([x["loss"], x["val_ndcg@10"], x["val_hr@50"]],
                                   [y["loss"], y["val_ndcg@10"], y["val_hr@50"]], rtol=1e-5)
    for mode in ("filtered", "unfiltered"):
        for key, value in a["test"][mode].items():
            assert b["test"][mode][key] == pytest.approx(value, rel=1e-5, abs=1e-6), (mode, key)
    va, vb = np.load(a_dir / "vectors.npz"), np.load(b_dir / "vectors.npz")
    for key in ("user_vectors", "item_vectors"):
        np.testing.assert_allclose(va[key], vb[key], rtol=1e-4, atol=1e-5)
    assert not (b_dir / "checkpoint.npz").exists()


@pytest.mark.parametrize("model,sampler", [("youtubednn", s) for s in SAMPLERS]
                         + [("mind", "mixed")])
def test_interrupted_mid_epoch_ends_like_the_uninterrupted_run(tmp_path, ds_dir, ds, model,
                                                                sampler):
    train(config(ds_dir, tmp_path / "whole", model, sampler), ds, verbose=0)
    cfg = config(ds_dir, tmp_path / "cut", model, sampler)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, ds, verbose=0, callbacks=[StopAt(epoch=1, batch=2)])
    assert (tmp_path / "cut" / "checkpoint.npz").exists()
    assert not (tmp_path / "cut" / "results.json").exists()
    # Interrupted again, now in the last epoch, then finished.
    with pytest.raises(KeyboardInterrupt):
        train(cfg, ds, verbose=0, callbacks=[StopAt(epoch=2, batch=0)])
    train(cfg, ds, verbose=0)
    assert_same_run(tmp_path / "whole", tmp_path / "cut")


DRIVER = textwrap.dedent("""
    import json, sys, time
    import keras
    from recall_models.train import TrainConfig, train

    cfg = TrainConfig(**json.loads(sys.argv[1]))
    marker = sys.argv[2] if len(sys.argv) > 2 else None

    class Pause(keras.callbacks.Callback):
        # Mid-epoch 2 of 3: say so, then wait to be killed.
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def on_train_batch_end(self, batch, logs=None):
            if marker and self.epoch == 1 and batch == 3:
                open(marker, "w").write("paused")
                time.sleep(600)

    train(cfg, verbose=0, callbacks=[Pause()])
""")


def run_driver(cfg, cwd, marker=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = [sys.executable, "-c", DRIVER, json.dumps(cfg.__dict__)] + (
        [str(marker)] if marker else [])
    return subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("model,sampler", [("youtubednn", "log_uniform"), ("mind", "in_batch")])
def test_killed_training_process_resumes_exactly(tmp_path, ds_dir, model, sampler):
    whole = run_driver(config(ds_dir, tmp_path / "whole", model, sampler), tmp_path)
    cfg = config(ds_dir, tmp_path / "cut", model, sampler)
    marker = tmp_path / "paused"
    victim = run_driver(cfg, tmp_path, marker)
    deadline = time.time() + 300
    while not marker.exists():
        assert victim.poll() is None, victim.communicate()[1][-2000:]
        assert time.time() < deadline, "the training process never reached epoch 2"
        time.sleep(0.2)
    os.kill(victim.pid, signal.SIGKILL)                    # mid-epoch 2, no clean-up
    victim.communicate()
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "cut" / "results.json").exists()
    again = run_driver(cfg, tmp_path)                       # the same command
    for proc in (whole, again):
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
    assert_same_run(tmp_path / "whole", tmp_path / "cut")


def test_rerun_with_another_configuration_is_refused(tmp_path, ds_dir, ds):
    cfg = config(ds_dir, tmp_path / "run", epochs=2)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, ds, verbose=0, callbacks=[StopAt(epoch=0, batch=1)])
    other = config(ds_dir, tmp_path / "run", epochs=2, learning_rate=0.01)
    before = sorted(p.name for p in (tmp_path / "run").iterdir())
    with pytest.raises(ValueError, match=r"another configuration \(learning_rate: 0.003 -> 0.01"):
        train(other, ds, verbose=0)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == before
    train(cfg, ds, verbose=0)                              # its own settings still resume
    assert (tmp_path / "run" / "results.json").exists()


def test_a_moved_folder_and_another_spelling_of_the_dataset_still_resume(tmp_path, ds_dir, ds):
    cfg = config(ds_dir, tmp_path / "run", epochs=2)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, ds, verbose=0, callbacks=[StopAt(epoch=1, batch=1)])
    os.rename(tmp_path / "run", tmp_path / "moved")
    moved = config(str(ds_dir) + "/", tmp_path / "moved", epochs=2)    # trailing slash
    result = train(moved, ds, verbose=0)
    assert result["epochs_run"] == 2 and (tmp_path / "moved" / "results.json").exists()


def test_a_refused_setting_leaves_the_folder_free(tmp_path, ds_dir, ds):
    # Settings that fail only when the model is built write nothing, so the corrected
    # command can use the same folder; settings with a flag are named by it.
    bad = config(ds_dir, tmp_path / "run", model="mind", hparams={"routing_init": "bogus"})
    with pytest.raises(ValueError, match="routing_init"):
        train(bad, ds, verbose=0)
    assert not (tmp_path / "run" / "config.json").exists()
    for hparams, flag in (({"dropout": 1.5}, "--dropout"), ({"embedding_dim": 0}, "--embedding-dim"),
                          ({"temperature": 0.0}, "--temperature")):
        with pytest.raises(ValueError, match=flag):
            train(config(ds_dir, tmp_path / "run", hparams=hparams), ds, verbose=0)
    train(config(ds_dir, tmp_path / "run", epochs=1), ds, verbose=0)
    assert (tmp_path / "run" / "results.json").exists()


def test_a_folder_with_files_but_no_run_is_refused_untouched(tmp_path, ds_dir, ds):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "log.csv").write_text("precious")
    with pytest.raises(ValueError, match="is not empty and holds no run"):
        train(config(ds_dir, tmp_path / "mine", epochs=1), ds, verbose=0)
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["log.csv"]
    assert (tmp_path / "mine" / "log.csv").read_text() == "precious"
    # Only hidden files count as empty: `make demo` trains into a folder holding its marker.
    from w2v_tf.demo_cli import MARKER, _fresh_dir
    _fresh_dir(str(tmp_path / "marked"))
    assert [p.name for p in (tmp_path / "marked").iterdir()] == [MARKER]
    train(config(ds_dir, tmp_path / "marked", epochs=1), ds, verbose=0)
    assert (tmp_path / "marked" / "results.json").exists()


def test_a_run_written_before_a_setting_existed_is_still_the_same_run(tmp_path, ds_dir, ds):
    # config.json / results.json from before `inter` existed lack the key: absent equals the
    # default (None), so the same command finds its finished run; another value is refused.
    cfg = config(ds_dir, tmp_path / "run", epochs=1)
    first = train(cfg, ds, verbose=0)
    for name in ("config.json", "results.json"):
        path = tmp_path / "run" / name
        saved = json.loads(path.read_text())
        (saved["config"] if name == "results.json" else saved).pop("inter")
        path.write_text(json.dumps(saved))
    again = train(config(ds_dir, tmp_path / "run", epochs=1), ds, verbose=0)
    assert again["test"] == first["test"]
    with pytest.raises(ValueError, match=r"inter: None -> 'x'"):
        train(config(ds_dir, tmp_path / "run", epochs=1, inter="x"), ds, verbose=0)


def test_a_mind_run_from_before_positions_reloads_and_resumes_without_them(tmp_path, ds_dir,
                                                                          ds):
    # MIND's positions became the default after runs had been recorded without the keyword:
    # such a run was trained without positions, and reloads, re-serves and matches as one.
    from recall_models.serving import load_run
    old = config(ds_dir, tmp_path / "run", model="mind", epochs=1)
    old.hparams["positions"] = False
    first = train(old, ds, verbose=0)
    for name in ("config.json", "results.json"):
        path = tmp_path / "run" / name
        saved = json.loads(path.read_text())
        (saved["config"] if name == "results.json" else saved)["hparams"].pop("positions")
        path.write_text(json.dumps(saved))
    model, _, _ = load_run(tmp_path / "run")
    assert model.use_positions is False
    assert config(ds_dir, "x", model="mind").hparams["positions"] is True      # new default
    with pytest.raises(ValueError, match=r"'positions': False.*'positions': True"):
        train(config(ds_dir, tmp_path / "run", model="mind", epochs=1), ds, verbose=0)
    again = train(config(ds_dir, tmp_path / "run", model="mind", epochs=1,
                         hparams={**SMALL, "num_interests": 3, "positions": False}), ds,
                  verbose=0)
    assert again["test"] == first["test"] and again.get("already_finished")
