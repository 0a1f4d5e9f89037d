"""Recall models at MovieLens-20M scale: load + split time, peak memory, training and evaluation speed.

Generates a synthetic dataset shaped like ML-20M (138,493 users, 26,744 items, 20,000,263
ratings; `--quick`: a tenth of each) with Zipf-like item popularity (P(item of rank r) ~
1 / (r + 10)^1.1), at least 20 ratings per user with a long tail (20 + a lognormal draw,
scaled to the total), and per-user time order (increasing timestamps), writes it as
`ratings.csv` + `movies.csv` (the ml-latest / ML-20M layout) and measures, in one process:

- `load_split_s`: parse + encode + leave-last-out split (`load_dataset(..., format="ml-latest")`);
- `train_examples_per_s`: YouTubeDNN training examples per second over `--steps` steps of
  batch 1024 with 100 log-uniform sampled negatives, through the streaming pipeline that
  `python -m recall_models train` uses (`prefix_dataset`), after `--warmup` steps (XLA
  compilation and tracing excluded);
- `eval_s`: one exact full-catalogue evaluation of every user's test item through the
  harness (`evaluate_model`: the filtered and the unfiltered ranking);
- `peak_rss_gb`: the process's peak resident memory (`ru_maxrss`) over all of the above;
  `peak_rss_after_load_gb` the same right after loading.

Generating and writing the CSV is not timed. The data folder is kept (`--data`) and reused
when it already holds a `ratings.csv` of the same size.

Usage:
  python benchmarks/recall_scale.py [--quick] [--json] [--data DIR] [--steps N]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FULL = {"users": 138_493, "items": 26_744, "ratings": 20_000_263}
GOALS = {"peak_rss_gb": 4.0, "load_split_s": 60.0, "train_examples_per_s": 50_000.0,
         "eval_s": 120.0}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a tenth of ML-20M's size")
    p.add_argument("--data", default=None,
                   help="folder for the synthetic files (default: a folder under /tmp)")
    p.add_argument("--steps", type=int, default=200, help="timed training steps")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="last line: one JSON object")
    p.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ("steps", "warmup"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    return args


def synthetic_ratings(users: int, items: int, ratings: int, seed: int = 0):
    """(user_id, item_id, timestamp) int64 arrays [ratings], users in order, time increasing
    within each user; Zipf-like item popularity; every user has >= 20 ratings."""
    import numpy as np

    rng = np.random.default_rng(seed)
    extra = rng.lognormal(mean=0.0, sigma=1.2, size=users)
    per_user = 20 + np.floor(extra / extra.sum() * (ratings - 20 * users)).astype(np.int64)
    per_user[: ratings - per_user.sum()] += 1                           # exact total
    user = np.repeat(np.arange(1, users + 1, dtype=np.int64), per_user)
    p = 1.0 / (np.arange(items) + 10.0) ** 1.1
    ranks = rng.choice(items, size=ratings, p=p / p.sum())
    item_id = rng.permutation(items).astype(np.int64)[ranks] + 1       # ids not by popularity
    steps = rng.integers(1, 3600, size=ratings, dtype=np.int64)
    start = np.repeat(np.cumsum(per_user) - per_user, per_user)
    stamp = np.cumsum(steps)
    stamp = 1_000_000_000 + stamp - stamp[start] + steps[start]        # restart per user
    return user, item_id, stamp


def write_dataset(folder: Path, size: dict, seed: int) -> None:
    import numpy as np
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "size.json"
    if marker.exists() and json.loads(marker.read_text()) == {**size, "seed": seed}:
        return
    user, item, stamp = synthetic_ratings(size["users"], size["items"], size["ratings"], seed)
    rating = np.random.default_rng(seed + 1).integers(1, 11, size=len(user)) / 2.0
    frame = pd.DataFrame({"userId": user, "movieId": item, "rating": rating,
                          "timestamp": stamp})
    frame.to_csv(folder / "ratings.csv", index=False, chunksize=1_000_000)
    ids = np.arange(1, size["items"] + 1)
    pd.DataFrame({"movieId": ids, "title": [f"Movie {i} (1999)" for i in ids],
                  "genres": ["Drama|Comedy" if i % 2 else "Action" for i in ids]}).to_csv(
        folder / "movies.csv", index=False)
    marker.write_text(json.dumps({**size, "seed": seed}))


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9   # KiB on Linux


def step_clock(first: int):
    """A Keras callback timing from the start of batch `first` to the end of training."""
    import keras

    class Clock(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == first:
                self.start = time.perf_counter()

        def on_train_end(self, logs=None):
            self.seconds = time.perf_counter() - self.start
    return Clock()


def time_training(ds, steps: int, warmup: int, seed: int):
    """(YouTubeDNN examples/s over `steps` steps after `warmup` (batch 1024, S = 100),
    the model). One `fit` call and one iterator: the epoch's sample permutation and the
    XLA compilation fall in the untimed warm-up steps (an epoch of ML-20M is ~19,000
    steps, so the per-epoch permutation is amortised there as well)."""
    import keras

    from recall_models.train import TrainConfig, build_model, prefix_dataset

    cfg = TrainConfig(model="youtubednn", sampler="log_uniform", num_sampled=100,
                      batch_size=1024, seed=seed, out="unused")
    keras.utils.set_random_seed(seed)
    model = build_model(cfg, ds)
    data = prefix_dataset(ds, cfg.batch_size, seed, epochs=1)
    clock = step_clock(warmup)
    model.fit(data, epochs=1, steps_per_epoch=warmup + steps, verbose=0, shuffle=False,
              callbacks=[clock])
    return steps * cfg.batch_size / clock.seconds, model


def main(argv=None) -> int:
    args = parse_args(argv)
    from w2v_tf.cli import import_tensorflow_quietly
    import_tensorflow_quietly()   # TensorFlow without its start-up information lines
    scale = 10 if args.quick else 1
    size = {k: v // scale for k, v in FULL.items()}
    folder = Path(args.data or f"/tmp/recall_scale_{'quick' if args.quick else 'full'}")
    if args.write_only:
        write_dataset(folder, size, args.seed)
        return 0
    print(f"writing {size['ratings']:,} synthetic ratings to {folder} (not timed, in a "
          "child process so that its memory is not counted)", file=sys.stderr)
    subprocess.run([sys.executable, __file__, "--write-only", "--data", str(folder),
                    "--seed", str(args.seed)] + (["--quick"] if args.quick else []),
                   check=True)

    from recall_models.data.dataset import load_dataset
    from recall_models.train import evaluate_model

    start = time.perf_counter()
    ds = load_dataset(str(folder), format="ml-latest")
    load_split_s = time.perf_counter() - start
    after_load = peak_rss_gb()
    print(f"load + split {load_split_s:.1f} s, {len(ds.train):,} training examples",
          file=sys.stderr)
    examples_per_s, model = time_training(ds, args.steps, args.warmup, args.seed)
    print(f"training {examples_per_s:,.0f} examples/s", file=sys.stderr)
    start = time.perf_counter()
    evaluate_model(model, ds, "test")
    eval_s = time.perf_counter() - start
    result = {"ratings": int(ds.num_ratings), "users": int(ds.num_users),
              "items": int(ds.num_items - 1), "train_examples": int(len(ds.train)),
              "load_split_s": round(load_split_s, 2), "peak_rss_gb": round(peak_rss_gb(), 3),
              "peak_rss_after_load_gb": round(after_load, 3),
              "train_examples_per_s": round(examples_per_s, 1), "eval_s": round(eval_s, 2),
              "steps": args.steps, "quick": bool(args.quick), "cpus": os.cpu_count(),
              # Other processes on a shared machine slow every figure down: say how busy.
              "load_average": [round(x, 2) for x in os.getloadavg()],
              "goals_full_size": GOALS}
    for key in ("ratings", "load_split_s", "peak_rss_gb", "train_examples_per_s", "eval_s"):
        print(f"{key:<22}{result[key]}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
