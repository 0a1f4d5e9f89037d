"""Training throughput of YouTubeDNN (or MIND) on ML-100K: sampled vs full softmax, per sampler.

For every sampler of `recall_models.models.samplers` (and the full softmax) the same model is built,
compiled as `python -m recall_models train` compiles it, warmed up (tracing / XLA
compilation excluded), and timed over `--steps` training steps of `--batch-size` examples:

    examples/s = steps * batch_size / seconds

Each configuration is timed `--repeats` times and the best is kept (other processes on a
shared machine only slow a run down). With 1,682 items the full softmax is cheap, so the
sampled losses win little here; the gap grows with the catalogue (see
benchmarks/sampled_losses.py for the loss alone).

Usage:
  python benchmarks/recall_training.py [--model youtubednn] [--steps 100] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None):
    from recall_models.models.samplers import SAMPLERS
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="youtubednn", choices=("youtubednn", "mind"))
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=SAMPLERS,
                   help="samplers to time (default: all, and 'full')")
    p.add_argument("--num-sampled", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=100, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = p.parse_args(argv)
    for name in ("num_sampled", "batch_size", "steps", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    return args


def time_config(ds, inputs, args, sampler: str) -> dict:
    import tensorflow as tf
    from recall_models.train import TrainConfig, build_model, train_dataset

    cfg = TrainConfig(model=args.model, sampler=sampler, num_sampled=args.num_sampled,
                      batch_size=args.batch_size)
    model = build_model(cfg, ds)
    data = train_dataset(ds, inputs, args.batch_size, seed=0).repeat()
    warm = data.take(5)
    start = time.perf_counter()
    model.fit(warm, verbose=0)                          # tracing and compilation
    compile_s = time.perf_counter() - start
    best = float("inf")
    for _ in range(args.repeats):
        batches = data.take(args.steps).cache()
        for _ in batches:                               # materialise outside the timing
            pass
        start = time.perf_counter()
        model.fit(batches, verbose=0)
        best = min(best, time.perf_counter() - start)
    tf.keras.backend.clear_session()
    return {"sampler": sampler, "examples_per_s": args.steps * args.batch_size / best,
            "step_ms": 1000 * best / args.steps, "warmup_s": compile_s}


def main(argv=None) -> int:
    args = parse_args(argv)
    from tqdm.auto import tqdm
    from recall_models.data.dataset import load_dataset
    from recall_models.models.youtubednn import model_inputs

    try:
        ds = load_dataset(args.dataset)
    except (ValueError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    inputs = model_inputs(ds, ds.train)
    rows = [time_config(ds, inputs, args, s)
            for s in tqdm(args.samplers, desc="samplers", disable=args.json)]
    full = next((r["examples_per_s"] for r in rows if r["sampler"] == "full"), None)
    print(f"{args.model} on {ds.name}: batch {args.batch_size}, num_sampled "
          f"{args.num_sampled}, {args.steps} steps x {args.repeats} (best)")
    print(f"{'sampler':<12}{'examples/s':>12}{'ms/step':>10}{'vs full':>9}{'warm-up s':>11}")
    for r in rows:
        ratio = f"{r['examples_per_s'] / full:.2f}x" if full else "-"
        print(f"{r['sampler']:<12}{r['examples_per_s']:>12.0f}{r['step_ms']:>10.1f}"
              f"{ratio:>9}{r['warmup_s']:>11.1f}")
    if args.json:
        print(json.dumps({"model": args.model, "dataset": ds.name,
                          "batch_size": args.batch_size, "num_sampled": args.num_sampled,
                          "steps": args.steps, "repeats": args.repeats, "results": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
