"""Cost of one training step as the catalogue grows: sampled softmax on a sharded table vs full.

    python benchmarks/scaling.py [--quick] [--json] [--sizes 1e4,1e5,1e6,1e7] [--shards 4]

One step = forward, backward and the SGD update of a class table W [N, dim] split into
`--shards` "div" shards (a list of `tf.Variable`s, the layout `ParameterServerStrategy`
builds), for a batch of B inputs, inside `tf.function`:

* `sampled`: `w2v_tf.sampled_softmax_loss` with S log-uniform negatives. The lookup gathers
  the B + S rows it needs from each shard and the gradient is `IndexedSlices` over those
  rows, applied with `scatter_sub`: work O((B + S) dim), independent of N.
* `full`:    `w2v_tf.full_softmax_loss`, logits [B, N] and a dense gradient [N, dim]:
  O(B N dim) work and O(B N) memory. Skipped above `--full-max` classes (default 1e6: at
  1e7 the logits alone are B*N*4 = 10 GB), reported as skipped.

Each (N, method) runs in its own process, so the peak resident memory it reports
(`resource.getrusage`, ru_maxrss) belongs to that case alone; "extra" is the peak minus the
process's memory just before the table was made, and "table" is N*dim*4 bytes. Time is the
median over `--steps` steps after 3 warm-up steps; ratios are relative to the smallest N of
the same method. The machine's load moves absolute times; the ratios are the result.
A plot goes to OUT_DIR/scaling.png and the table to OUT_DIR/scaling.json (`scaling_quick.*` for
`--quick`); OUT_DIR is benchmarks/results unless `--out-dir` says otherwise, and the files there
are replaced.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    """Resident set size now (MiB), from /proc; the peak if /proc is unavailable."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return _rss_mb()


def run_case(n: int, method: str, dim: int, batch: int, num_sampled: int, shards: int,
             steps: int, seed: int = 0) -> dict:
    """Times one (N, method) in this process; returns its measurements."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, ROOT)
    from w2v_tf.cli import import_tensorflow_quietly
    import_tensorflow_quietly()   # TensorFlow without its start-up information lines
    import numpy as np
    import tensorflow as tf
    from w2v_tf import full_softmax_loss, sampled_softmax_loss

    tf.constant(0.0)                                                    # initialise TF
    base = _current_rss_mb()
    sizes = [n // shards + (1 if p < n % shards else 0) for p in range(shards)]  # "div" sizes
    table = [tf.Variable(tf.random.normal([m, dim], stddev=0.05, seed=seed + p))
             for p, m in enumerate(sizes)]
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(batch, dim)).astype(np.float32))
    # Zipf labels (ids sorted by frequency), as the log-uniform sampler assumes
    labels = tf.constant(np.minimum(rng.zipf(1.3, size=(batch, 1)) - 1, n - 1))
    lr = tf.constant(0.1)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            if method == "sampled":
                per = sampled_softmax_loss(table, None, labels, x, num_sampled, n)
            else:
                per = full_softmax_loss(table, None, labels, x, num_classes=n)
            loss = tf.reduce_mean(per)                                  # [B] -> scalar
        for v, g in zip(table, tape.gradient(loss, table)):
            if isinstance(g, tf.IndexedSlices):                         # touched rows only
                v.scatter_sub(tf.IndexedSlices(lr * g.values, g.indices, g.dense_shape))
            elif g is not None:
                v.assign_sub(lr * g)
        return loss

    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        float(step())
        times.append(time.perf_counter() - t0)
    return {"num_classes": n, "method": method, "ms": 1e3 * float(np.median(times)),
            "peak_rss_mb": _rss_mb(), "extra_mb": _rss_mb() - base,
            "table_mb": n * dim * 4 / 2**20}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="sizes 1e4..1e6 and 5 timed steps (about a minute)")
    p.add_argument("--sizes", default=None, help="comma-separated N (default 1e4,1e5,1e6,1e7)")
    p.add_argument("--dim", type=int, default=32, help="embedding size (default 32)")
    p.add_argument("--batch", type=int, default=256, help="examples per step (default 256)")
    p.add_argument("--num-sampled", type=int, default=64, help="negatives S (default 64)")
    p.add_argument("--shards", type=int, default=4, help="table shards (default 4)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 20; quick 5)")
    p.add_argument("--full-max", type=float, default=1e6,
                   help="largest N for the full softmax (default 1e6)")
    p.add_argument("--json", action="store_true", help="last line: results as one JSON object")
    p.add_argument("--no-plot", action="store_true", help="do not write the plot")
    p.add_argument("--out-dir", default=RESULTS,
                   help="folder for the JSON table and the plot (default benchmarks/results; "
                        "files of the same name there are replaced)")
    p.add_argument("--case", nargs=2, metavar=("N", "METHOD"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    steps = args.steps or (5 if args.quick else 20)
    for name in ("dim", "batch", "num_sampled", "shards", "steps"):
        value = steps if name == "steps" else getattr(args, name)
        if value < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.case:                                          # child: one case, JSON on stdout
        print(json.dumps(run_case(int(float(args.case[0])), args.case[1], args.dim, args.batch,
                                  args.num_sampled, args.shards, steps)))
        return 0
    try:
        sizes = [int(float(s)) for s in (args.sizes or
                                         ("1e4,1e5,1e6" if args.quick else "1e4,1e5,1e6,1e7"))
                 .split(",")]
    except ValueError:
        p.error(f"--sizes must be comma-separated numbers such as 1e4,1e5, got {args.sizes!r}")
    if min(sizes) < max(args.shards, args.num_sampled + 1):
        p.error(f"--sizes: every N must be > --num-sampled={args.num_sampled} and >= "
                f"--shards={args.shards}, got {min(sizes)}")

    from tqdm import tqdm
    cases = [(n, m) for n in sizes for m in ("sampled", "full")]
    rows = []
    for n, method in tqdm(cases, desc="scaling", file=sys.stderr):
        if method == "full" and n > args.full_max:
            rows.append({"num_classes": n, "method": method, "skipped":
                         f"N > --full-max={args.full_max:g}: logits alone need "
                         f"{args.batch * n * 4 / 2**30:.1f} GiB"})
            continue
        cmd = [sys.executable, os.path.abspath(__file__), "--case", str(n), method,
               "--dim", str(args.dim), "--batch", str(args.batch), "--num-sampled",
               str(args.num_sampled), "--shards", str(args.shards), "--steps", str(steps)]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        if proc.returncode != 0:
            rows.append({"num_classes": n, "method": method,
                         "skipped": f"failed: {proc.stderr.strip().splitlines()[-1:]}"})
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for method in ("sampled", "full"):
        timed = [r for r in rows if r["method"] == method and "ms" in r]
        for r in timed:
            r["time_ratio"] = r["ms"] / timed[0]["ms"]

    print(f"dim {args.dim}, batch {args.batch}, S {args.num_sampled}, {args.shards} shards, "
          f"median of {steps} steps")
    print(f"{'N':>10} {'method':>8} {'ms/step':>9} {'x N_min':>8} {'table MiB':>10} "
          f"{'extra MiB':>10} {'peak MiB':>9}")
    for r in rows:
        if "ms" in r:
            print(f"{r['num_classes']:>10.0e} {r['method']:>8} {r['ms']:>9.2f} "
                  f"{r['time_ratio']:>8.2f} {r['table_mb']:>10.0f} {r['extra_mb']:>10.0f} "
                  f"{r['peak_rss_mb']:>9.0f}")
        else:
            print(f"{r['num_classes']:>10.0e} {r['method']:>8}   skipped: {r['skipped']}")
    result = {"dim": args.dim, "batch": args.batch, "num_sampled": args.num_sampled,
              "shards": args.shards, "steps": steps, "rows": rows}
    os.makedirs(args.out_dir, exist_ok=True)
    name = "scaling_quick" if args.quick else "scaling"
    with open(os.path.join(args.out_dir, name + ".json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"table: {os.path.join(args.out_dir, name + '.json')}", file=sys.stderr)
    if not args.no_plot:
        _plot(rows, os.path.join(args.out_dir, name + ".png"), args)
    if args.json:
        print(json.dumps(result))
    return 0


def _plot(rows, path, args) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for method, style in (("sampled", "o-"), ("full", "s--")):
        r = [x for x in rows if x["method"] == method and "ms" in x]
        if not r:
            continue
        n = [x["num_classes"] for x in r]
        ax_t.plot(n, [x["ms"] for x in r], style, label=f"{method} softmax")
        ax_m.plot(n, [x["extra_mb"] for x in r], style, label=f"{method}: peak - baseline")
    tables = sorted({x["num_classes"] for x in rows})
    ax_m.plot(tables, [t * args.dim * 4 / 2**20 for t in tables], ":", color="gray",
              label="table size N*dim*4")
    for ax, label in ((ax_t, "ms per step (median)"), (ax_m, "MiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("classes N")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    ax_t.set_title(f"step time, B={args.batch}, S={args.num_sampled}, {args.shards} shards")
    ax_m.set_title("memory")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot: {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
