"""Training loop for the recall models: Keras `fit`, validation NDCG@10, best checkpoint, resume.

`train(TrainConfig(...))`:

1. checks every argument (model, sampler, sizes, output folder) and loads the dataset,
   so bad input fails before any training;
2. builds the model (`build_model`) and a shuffled `tf.data` pipeline of the training
   prefixes (full batches only: the in-batch samplers need B rows);
3. `model.fit` with callbacks, in this order:
   - `EpochTimer`: seconds of training per epoch (evaluation excluded);
   - `ValidationCallback`: ranks the whole catalogue for every user's validation item
     through the harness (`recall_models.evaluation.metrics`, history-filtered), puts
     `val_ndcg_at_10` / `val_hr_at_50` in the logs, saves `best.weights.h5` when NDCG@10
     improves and stops after `patience` epochs without improvement; its state lives in
     `best.json`, so it survives an interruption;
   - `keras.callbacks.BackupAndRestore(out/backup)`: weights, optimizer and sampler
     counters at each epoch end; rerunning the same command resumes after the last
     finished epoch;
   - `keras.callbacks.CSVLogger(out/log.csv)` and, when the tensorboard package is
     installed, `keras.callbacks.TensorBoard(out/logs)`;
4. reloads the best weights, evaluates the test split (filtered and unfiltered) and
   writes `results.json` and the exported test-user and item vectors, `vectors.npz`
   (`user_vectors` [U, d] or [U, K, d], `item_vectors` [I, d], `mask`, `user_index`,
   `item_raw_id`); <user, item> is the model's logit, bias included.

Seeds: `keras.utils.set_random_seed(seed)` (Python, numpy, TF, Keras), the shuffle seed and
the samplers' stateless seeds all derive from `seed`.
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

from recall_models.models import samplers as _samplers
from recall_models.evaluation.baselines import Baseline, evaluate_baseline

MODELS = ("youtubednn", "mind", "comirec_sa")
STRATEGIES = ("none", "mirrored", "multi_worker")
MONITOR = "val_ndcg_at_10"


@dataclasses.dataclass
class TrainConfig:
    """Everything a run needs; defaults give the README's default ML-100K run."""
    model: str = "youtubednn"
    dataset: str = "ml-100k"
    sampler: str = "log_uniform"
    num_sampled: int = 100
    epochs: int = 10
    seed: int = 0
    out: str = "runs/recall"
    batch_size: int = 256
    learning_rate: float = 3e-3
    patience: int = 3
    max_history: int = 50
    unique: bool = True
    jit_compile: bool | None = None      # None: XLA on one device (build_model)
    strategy: str = "none"               # "none" | "mirrored" | "multi_worker" (tf.distribute)
    hparams: dict = dataclasses.field(default_factory=dict)   # model keyword arguments


def check_config(cfg: TrainConfig) -> None:
    """ValueError naming the field for anything that cannot train (before loading data)."""
    if cfg.model not in MODELS:
        raise ValueError(f"model={cfg.model!r} is unknown; expected one of {', '.join(MODELS)}.")
    if cfg.sampler not in _samplers.SAMPLERS:
        raise ValueError(f"sampler={cfg.sampler!r} is unknown; expected one of "
                         f"{', '.join(_samplers.SAMPLERS)}.")
    for name in ("num_sampled", "epochs", "batch_size", "patience", "max_history"):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}={value!r}, expected a positive integer.")
    if not cfg.learning_rate > 0:
        raise ValueError(f"learning_rate={cfg.learning_rate!r}, expected > 0.")
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"strategy={cfg.strategy!r} is unknown; expected one of "
                         f"{', '.join(STRATEGIES)}.")


def check_against_dataset(cfg: TrainConfig, ds) -> None:
    catalogue = ds.num_items - 1
    if cfg.num_sampled > catalogue:          # checked for every sampler, even where unused
        raise ValueError(f"num_sampled={cfg.num_sampled} is larger than the catalogue of "
                         f"{catalogue} items of {ds.name}; expected <= {catalogue}.")
    if cfg.batch_size > len(ds.train):
        raise ValueError(f"batch_size={cfg.batch_size} exceeds the {len(ds.train)} training "
                         "samples; expected a smaller batch.")


def build_model(cfg: TrainConfig, ds, replicas: int = 1) -> keras.Model:
    """The compiled model named by `cfg.model`, built on one batch (BackupAndRestore needs it).

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
    first = {k: v[:cfg.batch_size] for k, v in model_inputs(ds, ds.train).items()}
    model(first, training=False)                                       # build the weights
    return model


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
    """Shuffled full batches of the training inputs (a new order every epoch)."""
    n = len(inputs["label"])
    data = tf.data.Dataset.from_tensor_slices(inputs)
    return (data.shuffle(n, seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))


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


class ValidationCallback(keras.callbacks.Callback):
    """Validation NDCG@10 (filtered) each epoch; best checkpoint and early stopping.

    State (best epoch and value, one line per epoch) is kept in `out/best.json` and
    reloaded at `on_train_begin`, so a resumed run compares against the right best.
    """

    def __init__(self, ds, out: Path, patience: int):
        super().__init__()
        self.ds, self.out, self.patience = ds, Path(out), int(patience)
        self.state_path = self.out / "best.json"
        self.weights_path = self.out / "best.weights.h5"

    def on_train_begin(self, logs=None):
        self.state = {"best": -1.0, "best_epoch": -1, "history": []}
        # A backup means an interrupted run is being resumed: keep its best so far.
        if self.state_path.exists() and (self.out / "backup").exists():
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
            self.model.save_weights(self.weights_path, overwrite=True)
        elif epoch + 1 - self.state["best_epoch"] >= self.patience:
            self.model.stop_training = True
        tmp = self.state_path.with_suffix(".part")
        tmp.write_text(json.dumps(self.state, indent=1))
        os.replace(tmp, self.state_path)


def tensorboard_available() -> bool:
    """tf.summary needs the tensorboard package (not a dependency of tensorflow-cpu)."""
    import importlib.util
    return importlib.util.find_spec("tensorboard") is not None


def train(cfg: TrainConfig, ds=None, verbose: int = 1, callbacks=()) -> dict:
    """Trains, checkpoints and evaluates one model (module docstring).

    Args:
      cfg: the run's `TrainConfig`.
      ds: an already loaded `recall_models.data.dataset.Dataset` (default: load `cfg.dataset`).
      verbose: Keras `fit` verbosity (1 = progress bar, 2 = a line per epoch, 0 = silent).
      callbacks: extra Keras callbacks, run after the built-in ones.

    Returns:
      {"config": ..., "epochs_run", "best_epoch", "seconds_per_epoch", "history": [...],
       "valid": {...}, "test": {"filtered": {...}, "unfiltered": {...}, ...}}
    """
    check_config(cfg)
    if ds is None:
        from recall_models.data.dataset import load_dataset
        ds = load_dataset(cfg.dataset, max_history=cfg.max_history)
    check_against_dataset(cfg, ds)
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} exists and is not a directory.")
    if (out / "results.json").exists():
        raise ValueError(f"out={str(out)!r} already holds a finished run (results.json); "
                         "expected a new folder, or the folder of an interrupted run.")
    out.mkdir(parents=True, exist_ok=True)

    keras.utils.set_random_seed(cfg.seed)
    from w2v_tf.distribute import make_strategy
    strategy = make_strategy(cfg.strategy)
    replicas = strategy.num_replicas_in_sync
    if cfg.batch_size % replicas:
        raise ValueError(f"batch_size={cfg.batch_size} must be divisible by the {replicas} "
                         f"replicas of strategy={cfg.strategy!r}.")
    with strategy.scope():          # the default strategy's scope is a no-op
        model = build_model(cfg, ds, replicas)
    from recall_models.models.youtubednn import model_inputs
    inputs = model_inputs(ds, ds.train)
    data = train_dataset(ds, inputs, cfg.batch_size, cfg.seed)
    timer = EpochTimer()
    validation = ValidationCallback(ds, out, cfg.patience)
    builtin = [timer, validation,
               keras.callbacks.BackupAndRestore(str(out / "backup")),
               keras.callbacks.CSVLogger(str(out / "log.csv"), append=True)]
    if tensorboard_available():
        builtin.append(keras.callbacks.TensorBoard(str(out / "logs"), write_graph=False))
    elif verbose:
        print("note: the tensorboard package is not installed; epoch logs go to "
              f"{out / 'log.csv'} only")
    model.fit(data, epochs=cfg.epochs, callbacks=builtin + list(callbacks), verbose=verbose)

    if validation.weights_path.exists():
        model.load_weights(validation.weights_path)
    state = validation.state
    test = evaluate_model(model, ds, "test")
    # Exported vectors of the test users (history = everything but the test item).
    users, items, mask = model.vectors(ds, "test")
    np.savez_compressed(out / "vectors.npz", user_vectors=users, item_vectors=items,
                        mask=np.ones(users.shape[:-1], bool) if mask is None else mask,
                        user_index=ds.test.user, item_raw_id=ds.item_raw_id)
    seconds = [h["seconds"] for h in state["history"]]
    result = {"model": cfg.model, "dataset": ds.name, "sampler": cfg.sampler,
              "num_sampled": cfg.num_sampled, "seed": cfg.seed,
              "config": dataclasses.asdict(cfg),
              "epochs_run": len(state["history"]), "best_epoch": state["best_epoch"],
              # Median: epoch 1 also pays for tracing / XLA compilation.
              "seconds_per_epoch": float(np.median(seconds)) if seconds else float("nan"),
              "history": state["history"],
              "valid": {"ndcg@10": state["best"]}, "test": test}
    (out / "results.json").write_text(json.dumps(result, indent=1))
    return result
