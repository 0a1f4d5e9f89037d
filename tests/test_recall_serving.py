"""Serving: the SavedModel export (harness parity, new users, unknown ids, loading without
our packages), `recommend`, and `vectors.npz` with its faiss indexes.

One tiny YouTubeDNN and one tiny MIND run are trained once per module (a few seconds each).
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from recall_models import export_cli, recommend_cli
from recall_models.data.dataset import load_dataset
from recall_models.evaluation.retrieval import search_vectors
from recall_models.serving import export_model, export_run, user_states
from recall_models.train import TrainConfig, train
from recall_testdata import write_ml100k

pytestmark = pytest.mark.slow

SMALL = {"embedding_dim": 8, "profile_dim": 2, "hidden_units": (16,)}
MAX_HISTORY = 6          # below the longest histories, so "the last L items" is exercised


@pytest.fixture(scope="module")
def ds_dir(tmp_path_factory):
    return write_ml100k(tmp_path_factory.mktemp("ml-serving"))


@pytest.fixture(scope="module")
def ds(ds_dir):
    return load_dataset(str(ds_dir), max_history=MAX_HISTORY)


@pytest.fixture(scope="module", params=["youtubednn", "mind"])
def run(request, tmp_path_factory, ds_dir, ds):
    out = tmp_path_factory.mktemp(f"run-{request.param}") / "run"
    cfg = TrainConfig(model=request.param, dataset=str(ds_dir), sampler="uniform",
                      num_sampled=10, epochs=2, batch_size=32, out=str(out),
                      max_history=MAX_HISTORY, jit_compile=False, hparams=dict(SMALL))
    train(cfg, ds, verbose=0)
    return out


def assert_same_top(served_ids, served_scores, ref_ids, ref_scores):
    """Equal ids, except where two items have (float32-)equal scores and swap."""
    np.testing.assert_allclose(served_scores, ref_scores, rtol=1e-5, atol=1e-6)
    differ = served_ids != ref_ids
    tied = np.isclose(ref_scores, np.roll(ref_scores, 1, axis=1), rtol=1e-6) | np.isclose(
        ref_scores, np.roll(ref_scores, -1, axis=1), rtol=1e-6)
    assert not (differ & ~tied).any(), np.argwhere(differ & ~tied)[:5]


def raw(ds, ids):
    """Encoded item ids [U, k] -> raw id strings ("" for -1)."""
    names = np.array([""] + [str(i) for i in ds.item_raw_id[1:]], object)
    return names[np.where(ids < 0, 0, ids)]


def test_savedmodel_top10_equals_the_harness_for_every_test_user(run, ds, tmp_path):
    from recall_models.serving import load_run
    model, ds_run, result = load_run(run)
    export_run(run, tmp_path / "exp", k=10, upto="test")
    served = tf.saved_model.load(str(tmp_path / "exp")).signatures["serving_default"]
    out = served(user_id=tf.constant([str(u) for u in ds.user_raw_id[ds.test.user]]))
    if result["model"] == "youtubednn":     # deterministic: the harness's own vectors
        users, items, mask = model.vectors(ds_run, "test")
    else:                                   # MIND draws routing logits per call: the frozen draw
        users, mask, items, _ = user_states(model, ds_run, "test")
    scores, ids = search_vectors(users, items, 10, exclude=ds.test_seen.subset(ds.test.user),
                                 mask=mask)
    assert_same_top(out["item_ids"].numpy().astype(str), out["scores"].numpy(),
                    raw(ds, ids).astype(str), scores)


def test_new_user_signature_ranks_like_the_known_user(run, ds, tmp_path):
    from recall_models.serving import load_run
    model, ds_run, result = load_run(run)
    if result["model"] != "youtubednn":
        pytest.skip("MIND's routing draws differ per call; shapes checked below")
    export_run(run, tmp_path / "exp", k=10, upto="test")
    sig = tf.saved_model.load(str(tmp_path / "exp")).signatures
    users = ds.user_raw_id
    # Raw profiles as written by write_ml100k; histories s_1..s_{n-1} as raw ids, padded "".
    seen = [[str(ds.item_raw_id[i]) for i in ds.test_seen[u]] for u in range(ds.num_users)]
    width = max(map(len, seen))
    history = np.array([h + [""] * (width - len(h)) for h in seen], object)
    got = sig["new_user"](
        history=tf.constant(history), gender=tf.constant(["MF"[u % 2] for u in users]),
        age=tf.constant([20 + u % 40 for u in users], tf.int32),
        occupation=tf.constant([f"job{u % 5}" for u in users]),
        zip_code=tf.constant([str(10000 + u * 37) for u in users]))
    want = sig["serving_default"](user_id=tf.constant([str(u) for u in users]))
    assert_same_top(got["item_ids"].numpy(), got["scores"].numpy(),
                    want["item_ids"].numpy(), want["scores"].numpy())
    # Only the last MAX_HISTORY items count: earlier ones change nothing but the exclusions.
    assert width > MAX_HISTORY


BLOCKED = textwrap.dedent("""
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("recall_models", "w2v_tf"):
                raise ImportError("blocked " + name)
    sys.meta_path.insert(0, Block())
""")

LOAD = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    for name in ("recall_models", "w2v_tf"):
        try:
            __import__(name)
            raise SystemExit(name + " was importable")
        except ImportError:
            pass
    sig = tf.saved_model.load(sys.argv[1]).signatures
    out = sig["serving_default"](user_id=tf.constant(sys.argv[2:4]))
    new = sig["new_user"](history=tf.constant([[sys.argv[4], ""]]), gender=tf.constant(["M"]),
                          age=tf.constant([30]), occupation=tf.constant(["nobody"]),
                          zip_code=tf.constant([""]))
    errors = []
    for call in (lambda: sig["serving_default"](user_id=tf.constant(["no-such-user"])),
                 lambda: sig["new_user"](history=tf.constant([["no-such-item"]]),
                                         gender=tf.constant([""]), age=tf.constant([-1]),
                                         occupation=tf.constant([""]),
                                         zip_code=tf.constant([""]))):
        try:
            call()
            errors.append("no error")
        except tf.errors.InvalidArgumentError as err:
            errors.append(err.message)
    print(json.dumps({"ids": out["item_ids"].numpy().astype(str).tolist(),
                      "new_ids": new["item_ids"].numpy().astype(str).tolist(),
                      "errors": errors}))
""")


def test_savedmodel_loads_where_our_packages_cannot_be_imported(run, ds, tmp_path):
    export_run(run, tmp_path / "exp", k=5)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(BLOCKED)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    users = [str(u) for u in ds.user_raw_id[:2]]
    proc = subprocess.run([sys.executable, "-c", LOAD, str(tmp_path / "exp"), *users,
                           str(ds.item_raw_id[1])], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    want = tf.saved_model.load(str(tmp_path / "exp")).signatures["serving_default"](
        user_id=tf.constant(users))["item_ids"].numpy().astype(str).tolist()
    assert got["ids"] == want
    assert len(got["new_ids"][0]) == 5 and str(ds.item_raw_id[1]) not in got["new_ids"][0]
    assert "unknown user_id" in got["errors"][0] and "no-such-user" in got["errors"][0]
    assert "unknown item id" in got["errors"][1] and "no-such-item" in got["errors"][1]


def test_known_items_are_left_out_and_vectors_npz_matches_the_export(run, ds, tmp_path):
    export_run(run, tmp_path / "exp", k=10)                     # upto="all"
    served = tf.saved_model.load(str(tmp_path / "exp")).signatures["serving_default"]
    out = served(user_id=tf.constant([str(u) for u in ds.user_raw_id]))
    ids = out["item_ids"].numpy().astype(str)
    for u in range(ds.num_users):
        known = {str(ds.item_raw_id[i]) for i in ds.user_sequence[u]}
        assert not known & set(ids[u]) - {""}
    vec = np.load(run / "vectors.npz")
    assert set(vec.files) == {"user_vectors", "mask", "user_raw_id", "item_vectors",
                              "item_raw_id"}
    np.testing.assert_array_equal(vec["user_raw_id"], ds.user_raw_id)
    np.testing.assert_array_equal(vec["item_raw_id"], ds.item_raw_id[1:])
    assert vec["item_vectors"].shape[0] == ds.num_items - 1
    # The npz alone: max over active interests of <x_uj, e_i>, known items left out.
    s = np.einsum("ukd,id->uki", vec["user_vectors"], vec["item_vectors"])
    s = np.where(vec["mask"][:, :, None], s, -np.inf).max(axis=1)
    rows, cols = ds.user_sequence.pairs()
    s[rows, cols - 1] = -np.inf
    top = np.argsort(-s, axis=1, kind="stable")[:, :10]
    assert_same_top(ids, out["scores"].numpy(), vec["item_raw_id"][top].astype(str),
                    np.take_along_axis(s, top, 1))


def test_faiss_files_and_ann_recall(run, ds):
    import faiss
    info = json.loads((run / "index.json").read_text())
    exact = faiss.read_index(str(run / info["exact"]))
    ann = faiss.read_index(str(run / info["ann"]))
    ids = np.load(run / info["id_map"])
    vec = np.load(run / "vectors.npz")
    assert exact.ntotal == ann.ntotal == len(ids) == ds.num_items - 1
    np.testing.assert_array_equal(ids, vec["item_raw_id"])
    q = np.ascontiguousarray(vec["user_vectors"][:, 0])
    _, j = exact.search(q, 5)
    s = q @ vec["item_vectors"].T
    np.testing.assert_allclose(np.take_along_axis(s, j, 1), np.sort(s, 1)[:, ::-1][:, :5],
                               rtol=1e-5, atol=1e-6)
    assert 0.0 <= info[f"ann_recall@{info['recall_k']}"] <= 1.0


def test_recommend_cli_gives_the_savedmodel_ids(run, ds, capsys, tmp_path):
    import argparse
    parser = argparse.ArgumentParser()
    recommend_cli.add_arguments(parser)
    user = str(ds.user_raw_id[3])
    code = recommend_cli.main(parser.parse_args([str(run), "--user", user, "-k", "7",
                                                 "--json"]))
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    served = tf.saved_model.load(str(run / "export")).signatures["serving_default"]
    want = served(user_id=tf.constant([user]))["item_ids"].numpy()[0][:7].astype(str)
    assert code == 0 and [r["item_id"] for r in last["items"]] == list(want)
    assert all(r["title"].startswith("Movie ") for r in last["items"])
    code = recommend_cli.main(parser.parse_args([str(run), "--user", "no-such", "-k", "3"]))
    assert code == 1 and "not a user of this run" in capsys.readouterr().err


def test_export_refuses_unfinished_runs_and_used_folders(run, ds, tmp_path, capsys):
    import argparse
    parser = argparse.ArgumentParser()
    export_cli.add_arguments(parser)
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "best.json").write_text("{}")
    code = export_cli.main(parser.parse_args([str(tmp_path / "half"), "--out",
                                              str(tmp_path / "e")]))
    assert code == 1 and "holds no finished run" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        export_run(run, tmp_path / "used")
    assert (tmp_path / "used" / "keep.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="k=0"):
        export_run(run, tmp_path / "k0", k=0)


def test_export_of_a_dataset_without_user_file(tmp_path):
    # ml-latest folders (and ML-1M / ML-100K ones without users.dat / u.user) have no profile
    # vocabulary: the export holds empty profile tables and accepts any profile value.
    from recall_testdata import write_ml_latest
    (tmp_path / "ml-latest").mkdir()
    data = write_ml_latest(tmp_path / "ml-latest")
    ds_latest = load_dataset(str(data), max_history=MAX_HISTORY)
    out = tmp_path / "run"
    train(TrainConfig(model="youtubednn", dataset=str(data), sampler="uniform", num_sampled=10,
                      epochs=1, batch_size=32, out=str(out), max_history=MAX_HISTORY,
                      jit_compile=False, hparams=dict(SMALL)), ds_latest, verbose=0)
    export_run(out, tmp_path / "exp", k=5, upto="test")
    sig = tf.saved_model.load(str(tmp_path / "exp")).signatures
    user = str(ds_latest.user_raw_id[2])
    known = sig["serving_default"](user_id=tf.constant([user]))
    seen = [str(ds_latest.item_raw_id[i]) for i in ds_latest.test_seen[2]]
    new = sig["new_user"](history=tf.constant([seen]), gender=tf.constant(["F"]),
                          age=tf.constant([30]), occupation=tf.constant([""]),
                          zip_code=tf.constant(["12345"]))
    assert known["item_ids"].shape == new["item_ids"].shape == (1, 5)
    # No profile: the history alone decides, whatever profile values come in.
    assert_same_top(new["item_ids"].numpy(), new["scores"].numpy(),
                    known["item_ids"].numpy(), known["scores"].numpy())


def test_export_reads_the_inter_file_the_run_was_trained_on(tmp_path):
    # A RecBole folder with two NAME.inter files: the run records `inter`, and export loads
    # that file again (without it the folder is refused as ambiguous).
    from recall_testdata import write_ml_latest
    (tmp_path / "src").mkdir()
    ratings = pd.read_csv(write_ml_latest(tmp_path / "src") / "ratings.csv")
    data = tmp_path / "recbole"
    data.mkdir()
    header = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    for name, frame in (("a", ratings), ("b", ratings[ratings.userId % 2 == 0])):
        (data / f"{name}.inter").write_text(header + "".join(
            f"{r.userId}\t{r.movieId}\t{r.rating}\t{r.timestamp}\n"
            for r in frame.itertuples()))
    with pytest.raises(ValueError, match="--inter NAME"):
        load_dataset(str(data))
    ds_a = load_dataset(str(data), max_history=MAX_HISTORY, inter="a")
    ds_b = load_dataset(str(data), max_history=MAX_HISTORY, inter="b")
    assert len(ds_b.user_raw_id) < len(ds_a.user_raw_id)
    out = tmp_path / "run"
    train(TrainConfig(model="youtubednn", dataset=str(data), inter="a", sampler="uniform",
                      num_sampled=10, epochs=1, batch_size=32, out=str(out),
                      max_history=MAX_HISTORY, jit_compile=False, hparams=dict(SMALL)),
          ds_a, verbose=0)
    assert json.loads((out / "config.json").read_text())["inter"] == "a"
    export_run(out, tmp_path / "exp", k=5, upto="test")
    user = str(ds_a.user_raw_id[1])
    got = tf.saved_model.load(str(tmp_path / "exp")).signatures["serving_default"](
        user_id=tf.constant([user]))
    assert got["item_ids"].shape == (1, 5)
