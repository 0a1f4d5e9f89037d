"""Training throughput of the recall models on ML-100K: sampled vs full softmax, per sampler.

For every sampler of `recall_models.models.samplers` (and the full softmax) the same model is built,
compiled as `python -m recall_models train` compiles it, warmed up (tracing / XLA
compilation excluded), and timed over `--steps` training steps of `--batch-size` examples:

    examples/s = steps * batch_size / seconds

Each configuration is timed `--repeats` times and the best is kept (other processes on a
shared machine only slow a run down). With 1,682 items the full softmax is cheap, so the
sampled losses win little here; the gap grows with the catalogue (see
benchmarks/sampled_losses.py for the loss alone).

Usage:
  python benchmarks/recall_training.py [--model youtubednn ...] [--xla auto|on|off|both]
                                       [--steps 100] [--json]

Several --model values (and --xla both) are timed in one run, interleaved by repeat, so
their ratios are measured side by side. A --model value may carry model keywords after a
colon, `MODEL:key=value[,key=value]` (values read as Python literals), e.g.
`comirec_sa:attention_units=64`, to time a variant beside the default.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def parse_model_spec(spec: str) -> tuple[str, dict]:
    """'comirec_sa:attention_units=64,num_interests=2' -> ('comirec_sa', {...}).

    Raises:
      ValueError: an unknown model, or a keyword not written `key=<Python literal>`.
    """
    from recall_models.config import MODELS
    name, _, rest = spec.partition(":")
    if name not in MODELS:
        raise ValueError(f"--model {spec!r}: unknown model {name!r}, expected one of {MODELS}.")
    hparams = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        try:
            if not (eq and key.isidentifier()):
                raise ValueError
            hparams[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ValueError(f"--model {spec!r}: {item!r} is not key=<Python literal>, "
                             "e.g. attention_units=64.") from None
    return name, hparams


def parse_args(argv=None):
    from recall_models.config import SAMPLERS
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    from recall_models.config import MODELS
    p.add_argument("--model", nargs="+", default=["youtubednn"],
                   help=f"{', '.join(MODELS)}, each optionally MODEL:key=value[,key=value]")
    p.add_argument("--xla", default="auto", choices=("auto", "on", "off", "both"),
                   help="jit_compile of the step: the train command's default, on, off, both")
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=SAMPLERS,
                   help="samplers to time (default: all, and 'full')")
    p.add_argument("--num-sampled", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=100, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = p.parse_args(argv)
    try:                                        # {"comirec_sa:attention_units=64": (name, hparams)}
        args.specs = {spec: parse_model_spec(spec) for spec in args.model}
    except ValueError as err:
        p.error(str(err))
    for name in ("num_sampled", "batch_size", "steps", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    return args


def time_configs(ds, inputs, args, configs) -> list[dict]:
    """Best-of-repeats examples/s of each (model, sampler, jit), repeats interleaved."""
    from recall_models.train import TrainConfig, build_model, train_dataset

    data = train_dataset(ds, inputs, args.batch_size, seed=0).repeat()
    built, rows = [], []
    for model_name, sampler, jit in configs:
        name, hparams = args.specs[model_name]
        cfg = TrainConfig(model=name, sampler=sampler, num_sampled=args.num_sampled,
                          batch_size=args.batch_size, jit_compile=jit, hparams=hparams)
        model = build_model(cfg, ds)
        start = time.perf_counter()
        model.fit(data.take(5), verbose=0)              # tracing and compilation
        built.append(model)
        rows.append({"model": model_name, "sampler": sampler,
                     "xla": "auto" if jit is None else ("on" if jit else "off"),
                     "warmup_s": time.perf_counter() - start, "best_s": float("inf")})
    for _ in range(args.repeats):
        batches = data.take(args.steps).cache()
        for _ in batches:                               # materialise outside the timing
            pass
        for model, row in zip(built, rows):
            start = time.perf_counter()
            model.fit(batches, verbose=0)
            row["best_s"] = min(row["best_s"], time.perf_counter() - start)
    for row in rows:
        best = row.pop("best_s")
        row.update(examples_per_s=args.steps * args.batch_size / best,
                   step_ms=1000 * best / args.steps)
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    from w2v_tf.cli import import_tensorflow_quietly
    import_tensorflow_quietly()   # TensorFlow without its start-up information lines
    from tqdm.auto import tqdm
    from recall_models.data.dataset import load_dataset
    from recall_models.models.youtubednn import model_inputs

    try:
        ds = load_dataset(args.dataset)
    except (ValueError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    inputs = model_inputs(ds, ds.train)
    jits = {"auto": [None], "on": [True], "off": [False], "both": [True, False]}[args.xla]
    configs = [(m, s, j) for m in args.model for s in args.samplers for j in jits]
    rows = time_configs(ds, inputs, args, tqdm(configs, desc="configs", disable=args.json))
    first = rows[0]["examples_per_s"]
    print(f"{' '.join(args.model)} on {ds.name}: batch {args.batch_size}, num_sampled "
          f"{args.num_sampled}, {args.steps} steps x {args.repeats} (best, interleaved)")
    width = max(12, *(len(m) + 2 for m in args.model))
    print(f"{'model':<{width}}{'sampler':<12}{'xla':<6}{'examples/s':>12}{'ms/step':>10}"
          f"{'vs first':>9}{'warm-up s':>11}")
    for r in rows:
        print(f"{r['model']:<{width}}{r['sampler']:<12}{r['xla']:<6}{r['examples_per_s']:>12.0f}"
              f"{r['step_ms']:>10.1f}{r['examples_per_s'] / first:>8.2f}x{r['warmup_s']:>11.1f}")
    if args.json:
        print(json.dumps({"models": args.model, "dataset": ds.name,
                          "batch_size": args.batch_size, "num_sampled": args.num_sampled,
                          "steps": args.steps, "repeats": args.repeats, "results": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
