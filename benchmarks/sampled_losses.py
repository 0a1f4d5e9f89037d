"""Step time of our sampled softmax vs TensorFlow's, and of sampled vs full softmax.

    python benchmarks/sampled_losses.py [--quick] [--json] [--repeats N]
    python benchmarks/sampled_losses.py --profile 100000 8192 [--given]   # per-op profile

One step = forward + backward (gradients w.r.t. inputs, the class table and the biases) of the
mean loss over a batch of 1024 examples of dim 128, inside `tf.function`. For each
(num_classes, num_sampled) we time, interleaved in one run (round-robin, so the machine's
load hits every variant alike), the median (or with `--stat min` the best) over `--repeats`
rounds of:

* `tf.nn`            : `tf.nn.sampled_softmax_loss`, default sampler (TensorFlow's CPU kernel);
* `ours`             : `w2v_tf.sampled_softmax_loss`, same default sampler;
* `tf.nn given`      : TensorFlow with precomputed `sampled_values`;
* `ours given`       : ours with the same `sampled_values`;
* `ours given + XLA` : the same inside `tf.function(jit_compile=True)` (TensorFlow's sampler
  kernels cannot be compiled, so only precomputed values can);
* `full softmax`     : `w2v_tf.full_softmax_loss` over every class (the cost sampling avoids).
  It does not depend on num_sampled, so it is timed once per num_classes, in the rounds of
  the smallest num_sampled; the full/sampled ratio of the other cells divides that time by
  theirs (same run, other rounds).

Reported: ratios ours/TF (< 1 means ours is faster) and full/sampled speed-ups. Absolute
times are printed for context only; they depend on the machine and its load.
A plot goes to `OUT_DIR/sampled_losses.png` and the table to `...json` (`_quick` for
`--quick`); OUT_DIR is `benchmarks/results` unless `--out-dir` says otherwise, and the files
there are replaced.

`--profile V S` instead times one cell op by op (TensorFlow's step stats, a graph-mode
session, 10 traced steps each): the total microseconds per op type for `tf.nn` and for ours,
side by side, to show which kernels each runs (`--given`: with given `sampled_values`).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

STATS = {"median": statistics.median, "min": min}
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
BATCH, DIM = 1024, 128


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="num_classes 1e4 and 1e5 only, 5 repeats (a smoke run)")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds (default 10; quick 5)")
    p.add_argument("--json", action="store_true", help="last line: results as one JSON object")
    p.add_argument("--no-plot", action="store_true", help="do not write the plot")
    p.add_argument("--profile", nargs=2, type=int, metavar=("V", "S"),
                   help="per-op profile of one cell (num_classes V, num_sampled S)")
    p.add_argument("--given", action="store_true", help="--profile with given sampled_values")
    p.add_argument("--stat", choices=sorted(STATS), default="median",
                   help="statistic of the rounds: median (default) or min, the best round, "
                        "which is what load from other processes disturbs least")
    p.add_argument("--out-dir", default=RESULTS,
                   help="folder for the JSON table and the plot (default benchmarks/results; "
                        "files of the same name there are replaced)")
    args = p.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.given and not args.profile:
        p.error("--given only applies to --profile V S")
    return args


if __name__ == "__main__":
    parse_args()  # --help and a bad flag answer before TensorFlow loads (seconds)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from w2v_tf.cli import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()   # TensorFlow without its start-up information lines
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from w2v_tf import full_softmax_loss, sampled_softmax_loss  # noqa: E402


def make_steps(num_classes: int, num_sampled: int, seed: int = 0, full: bool = True):
    """Compiled step functions for one (num_classes, num_sampled)."""
    rng = np.random.default_rng(seed)
    w = tf.Variable(rng.normal(0, 0.05, size=(num_classes, DIM)).astype(np.float32))
    b = tf.Variable(np.zeros(num_classes, np.float32))
    x = tf.constant(rng.normal(size=(BATCH, DIM)).astype(np.float32))
    # Zipf-distributed labels (ids sorted by frequency), as the log-uniform sampler assumes.
    labels = tf.constant(np.minimum(rng.zipf(1.3, size=(BATCH, 1)) - 1, num_classes - 1))
    sv = tuple(tf.random.log_uniform_candidate_sampler(labels, 1, num_sampled, True,
                                                       num_classes, seed=seed))

    def grads(loss_fn):
        def step():
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_mean(loss_fn())
            return tape.gradient(loss, [x, w, b])
        return step

    args = (labels, x, num_sampled, num_classes)
    steps = {
        "tf.nn": tf.function(grads(lambda: tf.nn.sampled_softmax_loss(w, b, *args))),
        "ours": tf.function(grads(lambda: sampled_softmax_loss(w, b, *args))),
        "tf.nn given": tf.function(grads(lambda: tf.nn.sampled_softmax_loss(
            w, b, *args, sampled_values=sv))),
        "ours given": tf.function(grads(lambda: sampled_softmax_loss(
            w, b, *args, sampled_values=sv))),
        "ours given + XLA": tf.function(grads(lambda: sampled_softmax_loss(
            w, b, *args, sampled_values=sv)), jit_compile=True),
    }
    if full:
        steps["full softmax"] = tf.function(grads(lambda: full_softmax_loss(
            w, b, labels, x, num_classes=num_classes)))
    return steps


def _run(step):
    out = step()
    # Block until the values exist (IndexedSlices: their values tensor).
    for g in out:
        (g.values if isinstance(g, tf.IndexedSlices) else g).numpy()


def time_steps(steps, repeats: int, stat=statistics.median):
    """`stat` (median or min) of the seconds per step of each function, timed round-robin."""
    for fn in steps.values():   # trace/compile and warm up
        _run(fn)
        _run(fn)
    times = {k: [] for k in steps}
    for _ in range(repeats):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            _run(fn)
            times[name].append(time.perf_counter() - t0)
    return {k: stat(v) for k, v in times.items()}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.profile:
        return profile(*args.profile, given=args.given,
                       repeats=10 if args.repeats is None else args.repeats)
    repeats = (5 if args.quick else 10) if args.repeats is None else args.repeats
    class_grid = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    sample_grid = [64, 1024, 8192]
    rows = []
    from tqdm import tqdm
    cells = [(v, s) for v in class_grid for s in sample_grid if s < v]
    for v, s in tqdm(cells, desc="benchmark", file=sys.stderr):
        # The full softmax does not depend on num_sampled: time it once per num_classes.
        t = time_steps(make_steps(v, s, full=(s == sample_grid[0])), repeats, STATS[args.stat])
        row = dict(num_classes=v, num_sampled=s, seconds=t,
                   ours_over_tf=t["ours"] / t["tf.nn"],
                   ours_over_tf_given=t["ours given"] / t["tf.nn given"],
                   xla_over_tf_given=t["ours given + XLA"] / t["tf.nn given"],
                   xla_over_tf=t["ours given + XLA"] / t["tf.nn"])
        rows.append(row)
    full = {r["num_classes"]: r["seconds"]["full softmax"] for r in rows if "full softmax" in r["seconds"]}
    for r in rows:
        r["full_over_ours"] = full[r["num_classes"]] / r["seconds"]["ours"]

    print(f"batch {BATCH}, dim {DIM}, forward+backward, {args.stat} of {repeats} interleaved rounds; "
          f"TensorFlow {tf.__version__}")
    print(f"{'classes':>9} {'sampled':>8} | {'ours/TF':>8} {'given':>8} {'XLA/TF given':>13} "
          f"{'XLA/TF':>8} | {'full/ours':>10} | {'TF ms':>8} {'ours ms':>8}")
    for r in rows:
        t = r["seconds"]
        print(f"{r['num_classes']:>9} {r['num_sampled']:>8} | {r['ours_over_tf']:>8.2f} "
              f"{r['ours_over_tf_given']:>8.2f} {r['xla_over_tf_given']:>13.2f} "
              f"{r['xla_over_tf']:>8.2f} | {r['full_over_ours']:>10.1f} | "
              f"{1e3 * t['tf.nn']:>8.1f} {1e3 * t['ours']:>8.1f}")
    summary = dict(batch=BATCH, dim=DIM, repeats=repeats, statistic=args.stat,
                   tensorflow=tf.__version__, rows=rows,
                   max_ours_over_tf=max(r["ours_over_tf"] for r in rows),
                   max_ours_over_tf_given=max(r["ours_over_tf_given"] for r in rows))
    os.makedirs(args.out_dir, exist_ok=True)
    name = "sampled_losses_quick" if args.quick else "sampled_losses"
    with open(os.path.join(args.out_dir, name + ".json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"table: {os.path.join(args.out_dir, name + '.json')}", file=sys.stderr)
    if not args.no_plot:
        plot(rows, os.path.join(args.out_dir, name + ".png"))
        print(f"plot: {os.path.join(args.out_dir, name + '.png')}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary))
    return 0


def profile(num_classes: int, num_sampled: int, given: bool, repeats: int) -> int:
    """Microseconds per op type of one fwd+bwd step, tf.nn vs ours (mean of traced steps)."""
    import collections
    v1 = tf.compat.v1
    rng = np.random.default_rng(0)
    with tf.Graph().as_default():
        w = v1.Variable(rng.normal(0, 0.05, size=(num_classes, DIM)).astype(np.float32),
                        use_resource=True)
        b = v1.Variable(np.zeros(num_classes, np.float32), use_resource=True)
        x = tf.constant(rng.normal(size=(BATCH, DIM)).astype(np.float32))
        labels = tf.constant(np.minimum(rng.zipf(1.3, size=(BATCH, 1)) - 1, num_classes - 1))
        sv = tuple(tf.random.log_uniform_candidate_sampler(labels, 1, num_sampled, True,
                                                           num_classes, seed=0))
        fetch = {}
        for name, fn in (("tf.nn", tf.nn.sampled_softmax_loss), ("ours", sampled_softmax_loss)):
            loss = tf.reduce_mean(fn(w, b, labels, x, num_sampled, num_classes,
                                     sampled_values=sv if given else None))
            fetch[name] = tf.gradients(loss, [x, w, b])
        stats = {k: collections.Counter() for k in fetch}
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            for k in fetch:                                  # warm up
                sess.run(fetch[k])
            for _ in range(repeats):
                for k in fetch:
                    meta = v1.RunMetadata()
                    sess.run(fetch[k], options=v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE),
                             run_metadata=meta)
                    for dev in meta.step_stats.dev_stats:
                        for node in dev.node_stats:
                            op = node.timeline_label.split("(")[0].split("=")[-1].strip()
                            stats[k][op or node.node_name] += node.all_end_rel_micros / repeats
    ops = sorted(set(stats["tf.nn"]) | set(stats["ours"]),
                 key=lambda o: -max(stats["tf.nn"][o], stats["ours"][o]))
    print(f"per-op profile, num_classes={num_classes}, num_sampled={num_sampled}, "
          f"{'given sampled_values' if given else 'default sampler'}, batch {BATCH}, dim {DIM}, "
          f"mean of {repeats} steps; microseconds per op type (summed over ops and threads)")
    print(f"{'op type':34} {'tf.nn':>10} {'ours':>10}")
    for op in ops:
        print(f"{op:34} {stats['tf.nn'][op]:10.1f} {stats['ours'][op]:10.1f}")
    print(f"{'total':34} {sum(stats['tf.nn'].values()):10.1f} {sum(stats['ours'].values()):10.1f}")
    only = {k: sorted(set(stats[k]) - set(stats[o])) for k, o in (("tf.nn", "ours"), ("ours", "tf.nn"))}
    print(f"op types only in tf.nn: {only['tf.nn']}; only in ours: {only['ours']}")
    return 0


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for s in sorted({r["num_sampled"] for r in rows}):
        sub = [r for r in rows if r["num_sampled"] == s]
        xs = [r["num_classes"] for r in sub]
        a1.plot(xs, [r["ours_over_tf"] for r in sub], "o-", label=f"S={s} default sampler")
        a1.plot(xs, [r["xla_over_tf"] for r in sub], "s--", label=f"S={s} given + XLA")
        a2.plot(xs, [r["full_over_ours"] for r in sub], "o-", label=f"S={s}")
    a1.axhline(1.0, color="grey", lw=0.8)
    a1.set(xscale="log", xlabel="num_classes", ylabel="step time ours / tf.nn",
           title="Ours vs TensorFlow (lower is faster)")
    a2.set(xscale="log", yscale="log", xlabel="num_classes", ylabel="full / sampled step time",
           title="Speed-up of sampled over full softmax")
    a1.legend(fontsize=7)
    a2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
