"""Training loop for the recall models: Keras `fit`, validation NDCG@10, best checkpoint, resume.

`train(TrainConfig(...))`:

1. checks every argument (model, sampler, sizes, output folder) and loads the dataset,
   so bad input fails before any training;
2. builds the model (`build_model`) and a streaming `tf.data` pipeline of the training
   prefixes (`prefix_dataset`: a stateless per-epoch order, histories gathered per batch;
   full batches only: the in-batch samplers need B rows);
3. `model.fit` with callbacks, in this order:
   - `EpochTimer`: seconds of training per epoch (evaluation excluded);
   - `ValidationCallback`: ranks the whole catalogue for every user's validation item
     through the harness (`recall_models.evaluation.metrics`, history-filtered), puts
     `val_ndcg_at_10` / `val_hr_at_50` in the logs, saves `best.weights.h5` when NDCG@10
     improves and stops after `patience` epochs without improvement; its state lives in
     `best.json`, so it survives an interruption;
   - `Checkpoint(out/checkpoint.npz)`: every model and optimizer variable (weights, Adam's
     slots and step, the samplers' counters, the random-seed states) at each epoch end;
     rerunning the same command restores it and repeats the interrupted epoch in the same
     order, ending with the weights and metrics of an uninterrupted run (a run folder
     refuses another configuration: `out/config.json`);
   - `keras.callbacks.CSVLogger(out/log.csv)` and, when the tensorboard package is
     installed, `keras.callbacks.TensorBoard(out/logs)`;
4. reloads the best weights, evaluates the test split (filtered and unfiltered) and
   writes `results.json`, and `vectors.npz` with faiss indexes over the item vectors
   (`recall_models.serving.write_vectors`, docs/serving.md): every user's vectors (from
   the whole sequence) and the item vectors without padding, keyed by raw ids;
   <user, item> is the model's logit, bias included.

Seeds: `keras.utils.set_random_seed(seed)` (Python, numpy, TF, Keras), the per-epoch order
(`epoch_order(seed, epoch)`) and the samplers' stateless seeds all derive from `seed`.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

# The names and the run's configuration live in recall_models.config, without TensorFlow, so
# that `python -m recall_models train --help` answers at once; this module re-exports them.
from recall_models.config import (LEARNING_RATES, MODELS, STRATEGIES, TrainConfig,  # noqa: F401
                                   recorded_config)
from recall_models.evaluation.baselines import Baseline, evaluate_baseline
from recall_models.models import samplers as _samplers

MONITOR = "val_ndcg_at_10"


def check_config(cfg: TrainConfig) -> None:
    """ValueError naming the field for anything that cannot train (before loading data)."""
    if cfg.model not in MODELS:
        raise ValueError(f"model={cfg.model!r} is unknown; expected one of {', '.join(MODELS)}.")
    if cfg.sampler not in _samplers.SAMPLERS:
        raise ValueError(f"sampler={cfg.sampler!r} is unknown; expected one of "
                         f"{', '.join(_samplers.SAMPLERS)}.")
    for name in ("num_sampled", "epochs", "batch_size", "patience", "max_history"):
        value = getattr(cfg, name)
        if not _is_positive_int(value):
            raise ValueError(f"{name}={value!r}, expected a positive integer.")
    if cfg.learning_rate is None or not cfg.learning_rate > 0:
        raise ValueError(f"learning_rate={cfg.learning_rate!r}, expected > 0.")
    from recall_models.data.movielens import FORMATS, check_encoding
    if cfg.format is not None and cfg.format not in FORMATS:
        raise ValueError(f"format={cfg.format!r} is unknown; expected one of "
                         f"{', '.join(FORMATS)}.")
    if cfg.encoding is not None:
        check_encoding(cfg.encoding)
    if cfg.inter is not None and (not isinstance(cfg.inter, str) or not cfg.inter
                                  or os.sep in cfg.inter or cfg.inter.endswith(".inter")):
        raise ValueError(f"inter={cfg.inter!r}, expected the NAME of a NAME.inter file in the "
                         "dataset folder (no folder, no extension).")
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"strategy={cfg.strategy!r} is unknown; expected one of "
                         f"{', '.join(STRATEGIES)}.")
    check_hparams(cfg.hparams)


def _is_positive_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= 1


# Model settings whose bad values would otherwise surface as a Keras layer's own argument
# (`output_dim`, `rate`) or only at the first step: checked by name (the flag is the name
# with dashes: embedding_dim -> --embedding-dim).
POSITIVE_INT_HPARAMS = ("embedding_dim", "profile_dim", "output_dim", "num_interests",
                        "max_positions", "iterations", "attention_units")


def check_hparams(hparams: dict) -> None:
    """ValueError naming the setting for a model hyperparameter that cannot train."""
    def bad(name, value, expected):
        raise ValueError(f"{name}={value!r} (--{name.replace('_', '-')}): expected {expected}.")
    for name in POSITIVE_INT_HPARAMS:
        if not _is_positive_int(hparams.get(name, 1)):
            bad(name, hparams[name], "a positive integer")
    units = hparams.get("hidden_units", ())
    if isinstance(units, (int, str)) or not all(map(_is_positive_int, units)):
        bad("hidden_units", units, "positive integers")
    if not 0 <= hparams.get("dropout", 0.0) < 1:
        bad("dropout", hparams["dropout"], "a rate in [0, 1)")
    if not hparams.get("temperature", 1.0) > 0:
        bad("temperature", hparams["temperature"], "a number > 0")
    if not hparams.get("l2", 0.0) >= 0:
        bad("l2", hparams["l2"], "a number >= 0")


def check_against_dataset(cfg: TrainConfig, ds) -> None:
    catalogue = ds.num_items - 1
    if cfg.num_sampled > catalogue:          # checked for every sampler, even where unused
        raise ValueError(f"num_sampled={cfg.num_sampled} is larger than the catalogue of "
                         f"{catalogue} items of {ds.name}; expected <= {catalogue}.")
    if cfg.batch_size > len(ds.train):
        raise ValueError(f"batch_size={cfg.batch_size} exceeds the {len(ds.train)} training "
                         "samples; expected a smaller batch.")


def build_model(cfg: TrainConfig, ds, replicas: int = 1) -> keras.Model:
    """The compiled model named by `cfg.model`, built on one batch, optimizer slots included
    (so a checkpoint can be restored into it).

    Under a distribution strategy call it inside `strategy.scope()`; in-batch and mixed
    samplers then see each replica's slice of the batch (`batch_size / replicas` rows).
    """
    sampler = _samplers.make_sampler(cfg.sampler, ds.item_freq, cfg.num_sampled,
                                     cfg.batch_size // replicas, seed=cfg.seed,
                                     unique=cfg.unique)
    loss = "softmax" if sampler is None else "sampled_softmax"
    num_sampled = cfg.num_sampled if sampler is None else sampler.num_sampled
    common = dict(num_items=ds.num_items, user_feature_sizes=ds.user_feature_sizes,
                  item_genres=ds.item_features["genres"], sampler=sampler,
                  num_sampled=num_sampled, loss=loss, **cfg.hparams)
    if cfg.model == "youtubednn":
        from recall_models.models.youtubednn import YouTubeDNN, model_inputs
        model = YouTubeDNN(**common)
    else:
        from recall_models.models.youtubednn import model_inputs
        model = multi_interest_model(cfg, common)
    # XLA doubles YouTubeDNN's steps/s on CPU and speeds MIND up by 1.3x since its routing
    # logits are drawn with Philox (benchmarks/recall_training.py --xla both; see
    # recall_models/models/mind.py). XLA under a strategy is untested here: off there.
    jit = (replicas == 1 and cfg.strategy == "none"
           if cfg.jit_compile is None else bool(cfg.jit_compile))
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), jit_compile=jit)
    first = model_inputs(ds, ds.train.select(np.arange(cfg.batch_size)))
    model(first, training=False)                                       # build the weights
    model.optimizer.build(model.trainable_variables)                   # its slots exist now
    return model


def epoch_order(n: int, seed: int, epoch):
    """The training-sample order of `epoch`: a permutation of 0..n-1 that depends on
    (seed, epoch) only (stateless), so a resumed run sees the same order. int32 [n]."""
    seed = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int32), seed=seed)


def multi_interest_model(cfg: TrainConfig, common: dict) -> keras.Model:
    """MIND or ComiRec-SA; their positions default to (and must hold) `cfg.max_history`."""
    from recall_models.models.comirec import ComiRecSA
    from recall_models.models.mind import MIND
    positions = common.pop("max_positions", cfg.max_history)
    if isinstance(positions, (int, np.integer)) and positions < cfg.max_history:
        raise ValueError(f"max_positions={positions} is shorter than max_history="
                         f"{cfg.max_history}: histories would not fit the model's positions; "
                         f"expected max_positions >= {cfg.max_history}.")
    cls = MIND if cfg.model == "mind" else ComiRecSA
    return cls(seed=cfg.seed, max_positions=positions, **common)


def train_dataset(ds, inputs: dict, batch_size: int, seed: int) -> tf.data.Dataset:
    """Shuffled full batches of an in-memory input dict (a new order every epoch).

    For small data in notebooks; `train()` streams with `prefix_dataset` instead, whose
    memory does not grow with the [N, L] history matrix this one holds.
    """
    n = len(inputs["label"])
    data = tf.data.Dataset.from_tensor_slices(inputs)
    return (data.shuffle(n, seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))


def prefix_dataset(ds, batch_size: int, seed: int, first_epoch: int = 0,
                   epochs: int = 1) -> tf.data.Dataset:
    """Full batches of epochs `first_epoch`..`epochs`-1, back to back, each epoch in its own
    `epoch_order`; histories are gathered per batch from the per-user sequences.

    Batch b of epoch e holds samples n = order_e[b B : (b+1) B] with
        history[n, t] = items[end_n - length_n + t] for t < length_n, else 0   [B, L]
    (`recall_models.data.dataset.windows`, written in TensorFlow), so memory grows with the
    number of ratings, never with ratings x L.
    """
    train = ds.train
    n, L = len(train), int(train.max_history)
    steps = n // batch_size
    items = tf.constant(train.items, tf.int32)                              # [R]
    end = tf.constant(train.end, tf.int64)                                  # [N]
    length = tf.constant(train.length, tf.int32)                            # [N]
    user = tf.constant(train.user, tf.int32)                                # [N]
    profile = {name: tf.constant(ds.user_features[name], tf.int32)
               for name in ds.user_features}

    def epoch_batches(epoch):
        order = epoch_order(n, seed, epoch)[:steps * batch_size]
        return tf.data.Dataset.from_tensor_slices(tf.reshape(order, [steps, batch_size]))

    def gather(rows):                                                       # rows [B]
        e, h = tf.gather(end, rows), tf.gather(length, rows)
        cols = tf.range(L)[None, :]
        real = cols < h[:, None]                                            # [B, L]
        pos = e[:, None] - tf.cast(h[:, None] - cols, tf.int64)             # [B, L]
        history = tf.where(real, tf.gather(items, tf.where(real, pos, 0)), 0)
        u = tf.gather(user, rows)
        batch = {name: tf.gather(codes, u) for name, codes in profile.items()}
        batch.update(history=history, label=tf.gather(items, e))
        return batch

    return (tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_batches)
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


class _Adapter(Baseline):
    """Presents a model's `vectors(ds, split)` to `evaluate_baseline`."""
    name = "model"

    def __init__(self, model):
        self.model = model

    def vectors(self, ds, split):
        return self.model.vectors(ds, split)


def evaluate_model(model, ds, split: str = "test", progress: bool = False) -> dict:
    """Harness metrics (filtered and unfiltered) of a trained model on `split`."""
    return evaluate_baseline(_Adapter(model), ds, split=split, progress=progress)


class EpochTimer(keras.callbacks.Callback):
    """Seconds of training per epoch, `logs["epoch_seconds"]` (before any evaluation)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        if logs is not None:
            logs["epoch_seconds"] = self.seconds[-1]


class Checkpoint(keras.callbacks.Callback):
    """The whole training state at every epoch end, for exact resumption.

    `out/checkpoint.npz` holds every variable of the model (weights, the samplers' step
    counters, the random-seed states of MIND's routing and of dropout) and of the optimizer
    (Adam's iteration count, learning rate and both moment slots), the number of finished
    epochs and the early-stopping flag. It is written after the validation callback (which
    draws MIND's routing logits too) and atomically (a temporary file, then `os.replace`),
    so a kill at any moment leaves the state of the last finished epoch. A rerun restores
    it and repeats the interrupted epoch from its start with the same sample order
    (`epoch_order`), hence the same weights as an uninterrupted run.
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)

    @staticmethod
    def variables(model) -> list:
        seen, out = set(), []
        for v in list(model.variables) + list(model.optimizer.variables):
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    def on_epoch_end(self, epoch, logs=None):
        arrays = {f"v{i}": np.asarray(v.numpy()) for i, v in enumerate(self.variables(
            self.model))}
        part = self.path.with_name("checkpoint.part.npz")
        with open(part, "wb") as f:
            np.savez(f, epochs_done=epoch + 1, stopped=bool(self.model.stop_training), **arrays)
        os.replace(part, self.path)

    def restore(self, model) -> tuple[int, bool]:
        """Loads the checkpoint into `model`; returns (epochs done, stopped early)."""
        state = np.load(self.path)
        variables = self.variables(model)
        if len(state.files) - 2 != len(variables):
            raise ValueError(f"{self.path} holds {len(state.files) - 2} variables, the model "
                             f"has {len(variables)}; expected the same configuration")
        for i, v in enumerate(variables):
            value = state[f"v{i}"]
            if tuple(value.shape) != tuple(v.shape):
                raise ValueError(f"{self.path}: variable {v.path} has shape {value.shape} "
                                 f"in the checkpoint, {tuple(v.shape)} in the model")
            v.assign(value)
        return int(state["epochs_done"]), bool(state["stopped"])


def _saved_form(cfg: TrainConfig) -> dict:
    """`cfg` as config.json and results.json hold it (tuples -> lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _same_place(a, b) -> bool:
    """Two spellings of one dataset: equal, or paths to the same existing folder."""
    if a == b:
        return True
    return (isinstance(a, str) and isinstance(b, str) and os.path.exists(a)
            and os.path.exists(b) and os.path.samefile(a, b))


def _check_same_config(saved: dict, current: dict, out: Path, what: str) -> None:
    """ValueError listing the settings that differ. The folder itself (`out`) is not a
    setting: a run folder may be moved or named another way; nor is another spelling of
    the same dataset folder."""
    diff = sorted(k for k in set(saved) | set(current)
                  if k != "out" and saved.get(k) != current.get(k)
                  and not (k == "dataset" and _same_place(saved.get(k), current.get(k))))
    if diff:
        changes = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in diff)
        raise ValueError(f"out={str(out)!r} holds {what} with another configuration "
                         f"({changes}); rerun it with its own settings or choose a new "
                         "folder.")


def check_same_run(cfg: TrainConfig, out: Path) -> bool:
    """Refuses a folder holding another configuration's interrupted run; records `cfg`.

    Returns:
        True when `out` holds an interrupted run of this same configuration (to resume).
    """
    path = out / "config.json"
    current = _saved_form(cfg)
    if path.exists():
        _check_same_config(recorded_config(json.loads(path.read_text())), current, out,
                           "an interrupted run")
        return (out / "checkpoint.npz").exists()
    # Hidden files (a marker such as `python -m w2v_tf demo`'s, .gitkeep) do not count.
    if out.exists() and any(not p.name.startswith(".") for p in out.iterdir()):
        raise ValueError(f"out={str(out)!r} is not empty and holds no run (no config.json); "
                         "expected a new or empty folder, or the folder of an interrupted "
                         "run. Nothing was written.")
    out.mkdir(parents=True, exist_ok=True)
    part = out / "config.part.json"
    part.write_text(json.dumps(current, indent=1))
    os.replace(part, path)
    return False


class ValidationCallback(keras.callbacks.Callback):
    """Validation NDCG@10 (filtered) each epoch; best checkpoint and early stopping.

    State (best epoch and value, one line per epoch) is kept in `out/best.json` and
    reloaded at `on_train_begin`, so a resumed run compares against the right best.
    """

    def __init__(self, ds, out: Path, patience: int, resuming: bool = False):
        super().__init__()
        self.ds, self.out, self.patience = ds, Path(out), int(patience)
        self.resuming = bool(resuming)
        self.state_path = self.out / "best.json"
        self.weights_path = self.out / "best.weights.h5"
        self.load_state()

    def load_state(self):
        self.state = {"best": -1.0, "best_epoch": -1, "history": []}
        # A checkpoint means an interrupted run is being resumed: keep its best so far.
        if self.resuming and self.state_path.exists():
            self.state = json.loads(self.state_path.read_text())

    def on_epoch_end(self, epoch, logs=None):
        result = evaluate_model(self.model, self.ds, "valid")["filtered"]
        logs = logs if logs is not None else {}
        logs[MONITOR] = result["ndcg@10"]
        logs["val_hr_at_50"] = result["hr@50"]
        entry = {"epoch": epoch + 1, "loss": float(logs.get("loss", float("nan"))),
                 "seconds": float(logs.get("epoch_seconds", float("nan"))),
                 "val_ndcg@10": result["ndcg@10"], "val_hr@50": result["hr@50"]}
        history = [h for h in self.state["history"] if h["epoch"] <= epoch]  # a re-run epoch
        self.state["history"] = history + [entry]
        if result["ndcg@10"] > self.state["best"]:
            self.state.update(best=result["ndcg@10"], best_epoch=epoch + 1)
            part = self.out / "best.part.weights.h5"        # a kill never leaves half a file
            self.model.save_weights(part, overwrite=True)
            os.replace(part, self.weights_path)
        elif epoch + 1 - self.state["best_epoch"] >= self.patience:
            self.model.stop_training = True
        tmp = self.state_path.with_suffix(".part")
        tmp.write_text(json.dumps(self.state, indent=1))
        os.replace(tmp, self.state_path)


def tensorboard_available() -> bool:
    """tf.summary needs the tensorboard package (not a dependency of tensorflow-cpu)."""
    import importlib.util
    return importlib.util.find_spec("tensorboard") is not None


def finished_run(cfg: TrainConfig, out: Path):
    """The stored result when `out` holds this configuration's finished run, else None.

    Raises:
        ValueError: `out` is a file, or holds a finished run of another configuration.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} exists and is not a directory.")
    if not (out / "results.json").exists():
        return None
    result = json.loads((out / "results.json").read_text())
    _check_same_config(recorded_config(result.get("config", {})), _saved_form(cfg), out,
                       "a finished run")
    return {**result, "already_finished": True}


def fit(model, ds, cfg: TrainConfig, out: Path, resuming: bool, verbose: int = 1,
        callbacks=()) -> "ValidationCallback":
    """`model.fit` from the last finished epoch (or the start); returns the validation
    callback, whose `state` holds the history and the best epoch."""
    checkpoint = Checkpoint(out / "checkpoint.npz")
    done, stopped = checkpoint.restore(model) if resuming else (0, False)
    validation = ValidationCallback(ds, out, cfg.patience, resuming=resuming)
    if stopped or done >= cfg.epochs:
        return validation                   # killed after the last epoch, before the end
    timer = EpochTimer()
    builtin = [timer, validation, checkpoint,
               keras.callbacks.CSVLogger(str(out / "log.csv"), append=True)]
    if tensorboard_available():
        builtin.append(keras.callbacks.TensorBoard(str(out / "logs"), write_graph=False))
    elif verbose:
        print("note: the tensorboard package is not installed; epoch logs go to "
              f"{out / 'log.csv'} only")
    data = prefix_dataset(ds, cfg.batch_size, cfg.seed, first_epoch=done, epochs=cfg.epochs)
    model.fit(data, epochs=cfg.epochs, initial_epoch=done, shuffle=False,
              steps_per_epoch=len(ds.train) // cfg.batch_size,
              callbacks=builtin + list(callbacks), verbose=verbose)
    return validation


def train(cfg: TrainConfig, ds=None, verbose: int = 1, callbacks=()) -> dict:
    """Trains, checkpoints and evaluates one model (module docstring).

    Args:
      cfg: the run's `TrainConfig`.
      ds: an already loaded `recall_models.data.dataset.Dataset` (default: load `cfg.dataset`
        with `cfg.format`, `cfg.encoding` and `cfg.inter`).
      verbose: Keras `fit` verbosity (1 = progress bar, 2 = a line per epoch, 0 = silent).
      callbacks: extra Keras callbacks, run after the built-in ones.

    Returns:
      {"config": ..., "epochs_run", "best_epoch", "seconds_per_epoch", "history": [...],
       "valid": {...}, "test": {"filtered": {...}, "unfiltered": {...}, ...}}
    """
    check_config(cfg)
    if ds is None:
        from recall_models.data.dataset import load_dataset
        ds = load_dataset(cfg.dataset, max_history=cfg.max_history, format=cfg.format,
                          encoding=cfg.encoding, inter=cfg.inter)
    if verbose and ds.dropped.get("users"):
        from recall_models.data.dataset import dropped_line
        print(f"note: dropped {dropped_line(ds.dropped)}", flush=True)
    check_against_dataset(cfg, ds)
    out = Path(cfg.out)
    done = finished_run(cfg, out)
    if done is not None:
        return done                         # the same command again: nothing to train

    keras.utils.set_random_seed(cfg.seed)
    from w2v_tf.distribute import make_strategy
    strategy = make_strategy(cfg.strategy)
    replicas = strategy.num_replicas_in_sync
    if cfg.batch_size % replicas:
        raise ValueError(f"batch_size={cfg.batch_size} must be divisible by the {replicas} "
                         f"replicas of strategy={cfg.strategy!r}.")
    with strategy.scope():          # the default strategy's scope is a no-op
        model = build_model(cfg, ds, replicas)
    # Only now is the folder written to: a setting the model refuses leaves no config.json
    # behind that would lock the folder against the corrected command.
    resuming = check_same_run(cfg, out)
    validation = fit(model, ds, cfg, out, resuming, verbose, callbacks)

    if validation.weights_path.exists():
        model.load_weights(validation.weights_path)
    state = validation.state
    if verbose:
        print(f"best epoch {state['best_epoch']}: evaluating it on the test split, then writing "
              f"{out / 'vectors.npz'} and the faiss indexes ...", flush=True)
    test = evaluate_model(model, ds, "test")
    # Every user's vectors (whole sequence), the item vectors and faiss indexes over them.
    from recall_models.serving import write_vectors
    write_vectors(model, ds, out)
    seconds = [h["seconds"] for h in state["history"]]
    result = {"model": cfg.model, "dataset": ds.name, "sampler": cfg.sampler,
              "num_sampled": cfg.num_sampled, "seed": cfg.seed,
              "config": dataclasses.asdict(cfg),
              "epochs_run": len(state["history"]), "best_epoch": state["best_epoch"],
              # Median: epoch 1 also pays for tracing / XLA compilation.
              "seconds_per_epoch": float(np.median(seconds)) if seconds else float("nan"),
              "history": state["history"],
              "valid": {"ndcg@10": state["best"]}, "test": test}
    part = out / "results.part.json"
    part.write_text(json.dumps(result, indent=1))
    os.replace(part, out / "results.json")
    (out / "checkpoint.npz").unlink(missing_ok=True)    # the run is finished
    return result
