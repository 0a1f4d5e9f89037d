"""Serving a trained recall model: user states, `vectors.npz`, faiss indexes and a SavedModel.

Everything here ranks the way the evaluation harness does (`recall_models.evaluation`):

    score(u, i) = max_{j active} <x_uj, e_i>          (one interest: K = 1)
    top-k over the whole catalogue, padding id 0 and the user's known items left out,
    ties by the lower item id (tf.math.top_k keeps the lower index first).

User vectors x_u [K, D] and item vectors e_i [D] come from the model's public serving
interface, `model.vectors(ds, split)` and `model.item_vectors()` (the item bias, if any,
folded into the last coordinate, so <x, e> is the training logit). In a TensorFlow graph
the user side is `model.interests(inputs)` -> (V [B, K, D], active [B, K]) for
multi-interest models (MIND, ComiRec) and `model.user_vector(inputs)` [B, D] otherwise.

The state of a known user (`user_states`) is one of two views:

- `upto="all"` (default for serving): history = the last L items of the user's whole
  sequence s_1..s_n, known items = s_1..s_n. What a server should recommend next.
- `upto="test"`: history = s_1..s_{n-1}, known items = s_1..s_{n-1}: exactly the state
  the harness ranks for the test item (tests compare the two).

SavedModel (`export_model`), loadable with `tf.saved_model.load` alone:

    serving_default(user_id tf.string [B]) -> {"item_ids": tf.string [B, k],
                                              "scores": float32 [B, k]}
        raw user ids of the data files; the precomputed user states above.
        An unknown user id is an error (InvalidArgumentError "unknown user_id"), never a
        silent popularity list: a server should route new users to `new_user`.
    new_user(history tf.string [B, T] raw item ids, "" = padding, in time order,
             gender tf.string [B], age tf.int32 [B] (years, or the ML-1M code; -1 unknown),
             occupation tf.string [B], zip_code tf.string [B]) -> the same outputs
        runs the model's user tower on the last L = max_history history items and leaves
        every history item out. Unknown profile values get code 0 ("<unk>"), as in
        training; an unknown item id in the history is an error ("unknown item id").

When fewer than k items are eligible the tail holds item id "" and score -inf (the
harness's -1 / -inf). MIND draws its routing logits on every call (the model's design), so
its `new_user` answers vary between calls; its known users use the one draw frozen in
`vectors.npz` and the export.
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np

from recall_models.data.dataset import AGE_BUCKETS, ItemSets, Samples, windows

UPTO = ("all", "test")
PROFILE_INPUTS = (("gender", "gender"), ("occupation", "occupation"), ("zip", "zip_code"))


class _View:
    """A `Dataset` whose `samples(split)` is one given `Samples` (for `model.vectors`)."""

    def __init__(self, ds, samples: Samples):
        self._ds, self._samples = ds, samples

    def samples(self, split):
        return self._samples

    def __getattr__(self, name):
        return getattr(self._ds, name)


def state_samples(ds, upto: str = "all") -> tuple[Samples, ItemSets]:
    """(samples of every user 0..U-1, known items per user) of the view `upto` (docstring).

    Returns:
        `Samples` with history int32 [U, L] (label = 0 for "all") and `ItemSets` [U].
    """
    if upto not in UPTO:
        raise ValueError(f"upto={upto!r}, expected one of {', '.join(UPTO)}")
    if upto == "test":
        return ds.test, ds.test_seen
    seq = ds.user_sequence
    ends = seq.indptr[1:].astype(np.int64)                              # [U] exclusive ends
    counts = np.minimum(seq.lengths, ds.max_history).astype(np.int64)
    users = np.arange(ds.num_users, dtype=np.int32)
    samples = Samples(user=users, history=windows(seq.indices, ends, counts, ds.max_history),
                      length=counts.astype(np.int32), label=np.zeros(ds.num_users, np.int32))
    return samples, seq


def user_states(model, ds, upto: str = "all"):
    """(user vectors [U, K, D], mask bool [U, K], item vectors [I, D], known `ItemSets`)."""
    samples, known = state_samples(ds, upto)
    users, items, mask = model.vectors(_View(ds, samples), "test")
    users = np.asarray(users, np.float32)
    if users.ndim == 2:
        users = users[:, None, :]
    mask = np.ones(users.shape[:2], bool) if mask is None else np.asarray(mask, bool)
    return users, mask, np.asarray(items, np.float32), known


# --------------------------------------------------------------------------- vectors.npz

def write_vectors(model, ds, out, ann: str = "hnsw", recall_k: int = 10) -> dict:
    """Writes `vectors.npz`, `items.flat.faiss`, `items.<ann>.faiss`, `item_ids.npy` and
    `index.json` into the folder `out` (format in docs/serving.md).

    vectors.npz: user_vectors float32 [U, K, D] (state "all"), mask bool [U, K],
    user_raw_id int64 [U], item_vectors float32 [I-1, D] (no padding row), item_raw_id
    int64 [I-1]; score(u, i) = max over active j of <user_vectors[u, j], item_vectors[i]>.
    The faiss indexes hold item_vectors in the same order: faiss id j is item_raw_id[j]
    (also `item_ids.npy`). `index.json` records the ANN index's recall@`recall_k`
    against the exact index over every user, known items left out.

    Returns:
        The content of `index.json`.
    """
    import faiss

    from recall_models.evaluation import retrieval

    out = Path(out)
    users, mask, items, known = user_states(model, ds, "all")
    np.savez_compressed(out / "vectors.npz", user_vectors=users, mask=mask,
                        user_raw_id=ds.user_raw_id.astype(np.int64),
                        item_vectors=items[1:], item_raw_id=ds.item_raw_id[1:].astype(np.int64))
    np.save(out / "item_ids.npy", ds.item_raw_id[1:].astype(np.int64))
    k = min(recall_k, ds.num_items - 1)
    exact = retrieval.build_index(items, "flat")
    approx = retrieval.build_index(items, ann)
    _, exact_ids = retrieval.search_vectors(users, items, k, exclude=known, mask=mask,
                                            backend="faiss", index=exact)
    _, approx_ids = retrieval.search_vectors(users, items, k, exclude=known, mask=mask,
                                             backend="faiss", index=approx)
    faiss.write_index(exact, str(out / "items.flat.faiss"))
    faiss.write_index(approx, str(out / f"items.{ann}.faiss"))
    info = {"exact": "items.flat.faiss", "ann": f"items.{ann}.faiss", "ann_kind": ann,
            "id_map": "item_ids.npy", "metric": "inner_product",
            f"ann_recall@{k}": retrieval.overlap(approx_ids, exact_ids),
            "recall_users": int(len(users)), "recall_k": int(k)}
    (out / "index.json").write_text(json.dumps(info, indent=1))
    return info


# --------------------------------------------------------------------------- SavedModel

def _user_side(model, inputs):
    """In-graph user vectors (V [B, K, D], active bool [B, K]); bias coordinate appended
    the way `model.user_vectors` does (1 on active interests)."""
    import tensorflow as tf

    if hasattr(model, "interests"):
        v, active = model.interests(inputs, training=False)
    else:
        v = model.user_vector(inputs, training=False)[:, None, :]
        active = tf.ones(tf.shape(v)[:2], tf.bool)
    if getattr(model, "use_bias", False):
        v = tf.concat([v, tf.cast(active, v.dtype)[..., None]], axis=-1)
    return v, active


def _lookup(keys, values, default):
    """A string -> int64 hash table; `default` for a missing key. Without keys (a dataset with
    no user file has no profile vocabulary) every lookup gives `default`: TensorFlow refuses
    an empty table, so it holds one entry, "" -> default."""
    import tensorflow as tf

    if len(keys) == 0:
        keys, values = [""], np.array([default], np.int64)
    init = tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.string),
                                               tf.constant(values, tf.int64))
    return tf.lookup.StaticHashTable(init, default_value=default)


def _server(model, ds, users, mask, items, known, k: int):
    """The tf.Module holding tables, states and the two signatures (module docstring)."""
    import tensorflow as tf

    module = tf.Module()
    num_items = ds.num_items
    module.user_table = _lookup([str(u) for u in ds.user_raw_id],
                                np.arange(ds.num_users, dtype=np.int64), -1)
    module.item_table = _lookup([str(i) for i in ds.item_raw_id[1:]],
                                np.arange(1, num_items, dtype=np.int64), -1)
    module.vocab_tables = {
        feature: _lookup(list(ds.user_vocab[feature][1:]),
                         np.arange(1, len(ds.user_vocab[feature]), dtype=np.int64), 0)
        for feature, _ in PROFILE_INPUTS}
    module.item_raw = tf.Variable(np.array([""] + [str(i) for i in ds.item_raw_id[1:]],
                                           object), trainable=False, dtype=tf.string)
    module.items = tf.Variable(items, trainable=False)                    # [I, D]
    module.users = tf.Variable(users, trainable=False)                    # [U, K, D]
    module.active = tf.Variable(mask, trainable=False)                    # [U, K]
    module.known_values = tf.Variable(known.indices.astype(np.int64), trainable=False)
    module.known_splits = tf.Variable(known.indptr.astype(np.int64), trainable=False)
    k = int(min(k, num_items - 1))
    max_history, zip_prefix = int(ds.max_history), int(getattr(ds, "zip_prefix", 1))
    # Without a user file (ml-latest, ML-20M) training saw age code 0 only: so does serving.
    ages_known = bool(np.any(np.asarray(ds.user_features["age"]) > 0))

    def rank(vectors, active, exclude):
        """Top-k of max_j <x_bj, e_i> with item 0 and `exclude` (ragged [B, None]) left out."""
        s = tf.einsum("bkd,id->bki", vectors, module.items)                # [B, K, I]
        s = tf.reduce_max(tf.where(active[:, :, None], s, -np.inf), axis=1)  # [B, I]
        drop = tf.stack([exclude.value_rowids(), exclude.values], axis=1)   # [nnz, 2]
        s = tf.tensor_scatter_nd_update(s, drop, tf.fill(tf.shape(drop)[:1], -np.inf))
        scores, idx = tf.math.top_k(s[:, 1:], k=k)                         # no padding
        ids = tf.where(tf.math.is_inf(scores), 0, idx + 1)
        return {"item_ids": tf.gather(module.item_raw, ids), "scores": scores}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="user_id")])
    def serve(user_id):
        rows = module.user_table.lookup(user_id)                          # [B]
        check = tf.debugging.Assert(tf.reduce_all(rows >= 0), [
            "unknown user_id (use the new_user signature):",
            tf.boolean_mask(user_id, rows < 0)], summarize=10)
        with tf.control_dependencies([check]):
            rows = tf.identity(rows)
        known_rows = tf.gather(tf.RaggedTensor.from_row_splits(
            module.known_values, module.known_splits, validate=False), rows)
        return rank(tf.gather(module.users, rows), tf.gather(module.active, rows),
                    known_rows)

    @tf.function(input_signature=[
        tf.TensorSpec([None, None], tf.string, name="history"),
        tf.TensorSpec([None], tf.string, name="gender"),
        tf.TensorSpec([None], tf.int32, name="age"),
        tf.TensorSpec([None], tf.string, name="occupation"),
        tf.TensorSpec([None], tf.string, name="zip_code")])
    def new_user(history, gender, age, occupation, zip_code):
        codes = module.item_table.lookup(history)                         # [B, T], -1 unknown
        real = tf.not_equal(history, "")
        check = tf.debugging.Assert(tf.reduce_all(tf.logical_or(codes >= 0, ~real)), [
            "unknown item id in history:",
            tf.boolean_mask(history, (codes < 0) & real)], summarize=10)
        with tf.control_dependencies([check]):
            codes = tf.identity(codes)
        seen = tf.ragged.boolean_mask(codes, real)                        # [B, None]
        recent = seen[:, -max_history:]                                   # last L items
        hist = recent.to_tensor(0, shape=[None, max_history])
        # Age bucket b: AGE_BUCKETS[b-1] <= age < AGE_BUCKETS[b]; -1 (unknown) -> 0.
        bounds = tf.constant(AGE_BUCKETS[1:], tf.int32)
        bucket = 1 + tf.reduce_sum(tf.cast(age[:, None] >= bounds[None, :], tf.int32), 1)
        inputs = {"history": tf.cast(hist, tf.int32),
                  "age": tf.where(age < 0, 0, bucket) if ages_known else tf.zeros_like(age),
                  "gender": module.vocab_tables["gender"].lookup(gender),
                  "occupation": module.vocab_tables["occupation"].lookup(occupation),
                  "zip": module.vocab_tables["zip"].lookup(
                      tf.strings.substr(zip_code, 0, zip_prefix))}
        inputs = {n: tf.cast(v, tf.int32) for n, v in inputs.items()}
        vectors, active = _user_side(model, inputs)
        return rank(vectors, active, seen)

    # Every model variable the tower reads, the random-seed states included (MIND).
    module.model_variables = list(model.variables)
    module.serve, module.new_user = serve, new_user
    return module, {"serving_default": serve, "new_user": new_user}


def read_vectors(path, ds):
    """The "all" user states of `vectors.npz` at `path` in `user_states`' layout, or None
    when the file is missing or belongs to other users/items than `ds`."""
    path = Path(path)
    if not path.exists():
        return None
    vec = np.load(path)
    if not (np.array_equal(vec["user_raw_id"], ds.user_raw_id)
            and np.array_equal(vec["item_raw_id"], ds.item_raw_id[1:])):
        return None
    items = vec["item_vectors"]
    items = np.concatenate([np.zeros((1, items.shape[1]), items.dtype), items])  # padding
    return vec["user_vectors"], vec["mask"], items, ds.user_sequence


def export_model(model, ds, out, k: int = 100, upto: str = "all", meta: dict | None = None,
                 states=None):
    """Writes the SavedModel of `model` (trained on `ds`) to the new folder `out`.

    `states`: the known users' (vectors, mask, item vectors, known items) as
    `user_states(model, ds, upto)` returns them (computed when None); `export_run` passes
    the run's `vectors.npz`, so MIND's frozen routing draw is the one served.
    Also writes `out/items.tsv` (raw item id, title) and `out/export.json` (k, view,
    signatures, the run's model and dataset) for `python -m recall_models recommend`.
    """
    import tensorflow as tf

    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k={k!r}, expected a positive integer")
    if k > ds.num_items - 1:
        raise ValueError(f"k={k} is larger than the catalogue of {ds.num_items - 1} items")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} is a file; expected a new folder")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"out={str(out)!r} exists and is not empty; expected a new folder")
    users, mask, items, known = user_states(model, ds, upto) if states is None else states
    module, signatures = _server(model, ds, users, mask, items, known, k)
    tf.saved_model.save(module, str(out), signatures=signatures)
    titles = [str(t).replace("\t", " ").replace("\n", " ") for t in ds.item_title[1:]]
    (out / "items.tsv").write_text("item_id\ttitle\n" + "".join(
        f"{i}\t{t}\n" for i, t in zip(ds.item_raw_id[1:], titles)), encoding="utf-8")
    info = {"k": int(k), "upto": upto, "signatures": sorted(signatures),
            "num_users": int(ds.num_users), "num_items": int(ds.num_items - 1),
            "max_history": int(ds.max_history), **(meta or {})}
    (out / "export.json").write_text(json.dumps(info, indent=1))
    return info


def load_run(run_dir):
    """(model with the best weights, dataset, saved results) of a finished training run.

    Raises:
        ValueError: `run_dir` is not a folder, or holds no finished run (results.json).
    """
    from recall_models.data.dataset import load_dataset
    from recall_models.config import recorded_config
    from recall_models.train import TrainConfig, build_model

    run = Path(run_dir)
    if not run.is_dir():
        raise ValueError(f"run_dir={str(run)!r} is not a folder")
    if not (run / "results.json").exists():
        raise ValueError(f"run_dir={str(run)!r} holds no finished run (no results.json): "
                         "finish it by rerunning the same train command first")
    result = json.loads((run / "results.json").read_text())
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in recorded_config(result["config"]).items()
                         if k in fields})
    ds = load_dataset(cfg.dataset, max_history=cfg.max_history,
                      **{k: v for k, v in result["config"].items()
                         if k in ("format", "encoding", "inter") and v is not None})
    model = build_model(cfg, ds)
    with warnings.catch_warnings():     # the file also holds Adam's slots; serving needs none
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(run / "best.weights.h5")
    return model, ds, result


def export_run(run_dir, out, k: int | None = None, upto: str = "all") -> dict:
    """`python -m recall_models export`: the SavedModel of a finished run (`export_model`);
    k None: min(100, catalogue size)."""
    if upto not in UPTO:
        raise ValueError(f"upto={upto!r}, expected one of {', '.join(UPTO)}")
    model, ds, result = load_run(run_dir)
    k = min(100, ds.num_items - 1) if k is None else k
    states = read_vectors(Path(run_dir) / "vectors.npz", ds) if upto == "all" else None
    return export_model(model, ds, out, k=k, upto=upto, states=states,
                        meta={"model": result["model"], "dataset": result["dataset"],
                              "run": str(Path(run_dir).resolve())})
