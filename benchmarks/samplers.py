"""Candidate samplers: ours (`w2v_tf.sampling`) vs TensorFlow's CPU kernels.

    python benchmarks/samplers.py [--quick] [--json] [--repeats N] [--range-max V]

For each sampler (uniform, log-uniform, fixed unigram, learned unigram) and `unique` in
(True, False) we time, interleaved in one run (round-robin, so the machine's load hits
both alike), the median over `--repeats` rounds (>= 10) of:

* `loop`  : `--calls` samplings of `num_sampled` candidates for a batch of labels inside one
  `tf.function`: TF's op in a graph `tf.while_loop` vs ours in the same loop compiled with
  `jit_compile=True` (TF's kernels cannot be compiled). This is the cost inside a training step.
* `eager` : one call from Python: TF's op vs our sampler object (its step is a `tf.function`).

`--first-call` (a separate table, uniform and log-uniform, `unique=True`, V = 1e7 by default,
`--first-call-range`): the first call's setup, side by side. TF: a first eager call with a new
seed (a new kernel, so its construction is included). Ours: what a sampler's first unique
call computes before drawing, `chunk_size(num_sampled)` on a fresh sampler (it ran np.unique
over all V probabilities before; now O(1) in V). Also shown, not compared: our whole first
call, which adds the one-time trace of the sampling step (`tf.function`), independent of V.

Reported: time per sampling call and the ratio ours / TF (< 1 means ours is faster).
Absolute times depend on the machine and its load; the ratio is the figure to read.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

KINDS = ("uniform", "log_uniform", "fixed_unigram", "learned_unigram")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller range and fewer calls (about a minute)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object, last line")
    parser.add_argument("--repeats", type=int, default=10, help="interleaved rounds per variant (>= 10)")
    parser.add_argument("--range-max", type=int, default=None, help="number of classes (default 100000, quick 10000)")
    parser.add_argument("--num-sampled", type=int, default=64, help="candidates per call (default 64)")
    parser.add_argument("--batch", type=int, default=128, help="rows of true classes (default 128)")
    parser.add_argument("--calls", type=int, default=None, help="samplings per timed loop (default 100, quick 20)")
    parser.add_argument("--samplers", nargs="+", choices=KINDS, default=list(KINDS), help="which samplers")
    parser.add_argument("--first-call", action="store_true",
                        help="only the first-call table (setup of unique sampling at a large V)")
    parser.add_argument("--first-call-range", type=int, default=10_000_000,
                        help="V of the first-call table (default 1e7)")
    return parser


if __name__ == "__main__":
    build_parser().parse_args()  # --help and a bad flag answer before TensorFlow loads

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from w2v_tf.cli import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()   # TensorFlow without its start-up information lines
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")  # each case is its own tf.function: retracing notes are expected
from tqdm import tqdm  # noqa: E402

from w2v_tf import sampling  # noqa: E402


def make_pair(kind, range_max, counts):
    """(ours: sampler object, theirs: f(labels, num_true, S, unique) -> TF result)."""
    if kind == "uniform":
        return (sampling.UniformSampler(range_max, seed=0),
                lambda l, t, s, u: tf.random.uniform_candidate_sampler(l, t, s, u, range_max, seed=1))
    if kind == "log_uniform":
        return (sampling.LogUniformSampler(range_max, seed=0),
                lambda l, t, s, u: tf.random.log_uniform_candidate_sampler(l, t, s, u, range_max, seed=1))
    if kind == "learned_unigram":
        return (sampling.LearnedUnigramSampler(range_max, seed=0),
                lambda l, t, s, u: tf.random.learned_unigram_candidate_sampler(l, t, s, u, range_max,
                                                                              seed=1))
    unigrams = counts.tolist()
    return (sampling.FixedUnigramSampler(range_max, unigrams=unigrams, distortion=0.75, seed=0),
            lambda l, t, s, u: tf.random.fixed_unigram_candidate_sampler(
                l, t, s, u, range_max, unigrams=unigrams, distortion=0.75, seed=1))


def loop_fn(sample, labels, num_sampled, unique, calls, jit):
    """A tf.function running `calls` samplings; the sum of outputs keeps every call live."""
    num_true = int(labels.shape[1])

    def run():
        def body(i, acc):
            ids, tc, sc = sample(labels, num_true, num_sampled, unique)
            return i + 1, acc + tf.reduce_sum(tf.cast(ids, tf.float32)) + tf.reduce_sum(tc) + tf.reduce_sum(sc)
        return tf.while_loop(lambda i, _: i < calls, body, (tf.constant(0), tf.constant(0.0)))[1]
    return tf.function(run, jit_compile=jit)


def timed(fn, n=1):
    start = time.perf_counter()
    for _ in range(n):
        out = fn()
    _ = out.numpy() if hasattr(out, "numpy") else [t.numpy() for t in out]
    return (time.perf_counter() - start) / n


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.first_call:
        ignored = [f"--{n.replace('_', '-')}" for n in ("quick", "range_max", "batch", "calls",
                                                         "samplers")
                   if getattr(args, n) != parser.get_default(n)]
        if ignored:
            parser.error(f"--first-call times uniform and log_uniform at --first-call-range "
                         f"with --num-sampled and --repeats; {', '.join(ignored)} do not apply")
        if args.repeats < 1:
            parser.error(f"--repeats must be >= 1, got {args.repeats}")
        return first_call(args)
    if args.repeats < 10:
        parser.error(f"--repeats must be >= 10 for a stable median, got {args.repeats}")
    range_max = args.range_max or (10_000 if args.quick else 100_000)
    calls = args.calls or (20 if args.quick else 100)
    if range_max < args.num_sampled:
        parser.error(f"--range-max {range_max} must be >= --num-sampled {args.num_sampled} for unique sampling")

    rng = np.random.default_rng(0)
    counts = np.ceil(1e7 / np.arange(1, range_max + 1))  # Zipf's law word counts, c_r ~ 1/r
    labels = tf.constant(np.minimum(rng.zipf(1.3, size=(args.batch, 1)) - 1, range_max - 1), tf.int64)

    cases = []
    for kind in args.samplers:
        ours, theirs = make_pair(kind, range_max, counts)
        for unique in (True, False):
            s = args.num_sampled
            cases.append({
                "sampler": kind, "unique": unique,
                "loop": (loop_fn(theirs, labels, s, unique, calls, jit=False),
                         loop_fn(ours, labels, s, unique, calls, jit=True)),
                "eager": ((lambda th=theirs, u=unique: th(labels, 1, s, u)),
                          (lambda o=ours, u=unique: o(labels, 1, s, u))),
            })
    for case in tqdm(cases, desc="warm-up (tracing, XLA compile)", disable=args.json):
        for fn in (*case["loop"], *case["eager"]):
            timed(fn)
    times = {(i, mode, who): [] for i in range(len(cases)) for mode in ("loop", "eager") for who in (0, 1)}
    for _ in tqdm(range(args.repeats), desc="timing rounds", disable=args.json):
        for i, case in enumerate(cases):
            for who in (0, 1):
                times[(i, "loop", who)].append(timed(case["loop"][who]) / calls)
                times[(i, "eager", who)].append(timed(case["eager"][who], n=10))

    rows = []
    for i, case in enumerate(cases):
        row = {"sampler": case["sampler"], "unique": case["unique"]}
        for mode in ("loop", "eager"):
            tf_t, our_t = (statistics.median(times[(i, mode, who)]) for who in (0, 1))
            row.update({f"{mode}_tf_us": tf_t * 1e6, f"{mode}_ours_us": our_t * 1e6,
                        f"{mode}_ratio": our_t / tf_t})
        rows.append(row)

    print(f"range_max={range_max} num_sampled={args.num_sampled} batch={args.batch} calls={calls} "
          f"repeats={args.repeats}; microseconds per sampling call (median); ratio = ours / TF")
    print(f"{'sampler':16} {'unique':6} {'loop TF':>9} {'loop ours(XLA)':>14} {'ratio':>6}   "
          f"{'eager TF':>9} {'eager ours':>10} {'ratio':>6}")
    for r in rows:
        print(f"{r['sampler']:16} {str(r['unique']):6} {r['loop_tf_us']:9.1f} {r['loop_ours_us']:14.1f} "
              f"{r['loop_ratio']:6.2f}   {r['eager_tf_us']:9.1f} {r['eager_ours_us']:10.1f} {r['eager_ratio']:6.2f}")
    if args.json:
        print(json.dumps({"range_max": range_max, "num_sampled": args.num_sampled, "batch": args.batch,
                          "calls": calls, "repeats": args.repeats, "device": "CPU", "rows": rows}))
    return 0


def first_call(args):
    """Median first-call setup, TF vs ours, interleaved over `--repeats` fresh samplers."""
    v, s = args.first_call_range, args.num_sampled
    labels = tf.constant([[0], [7], [123]], tf.int64)
    tf.random.log_uniform_candidate_sampler(labels, 1, 8, True, 1000, seed=1)   # load TF's ops
    rows = []
    for kind, ours_cls, theirs in (
            ("uniform", sampling.UniformSampler, tf.random.uniform_candidate_sampler),
            ("log_uniform", sampling.LogUniformSampler, tf.random.log_uniform_candidate_sampler)):
        t_tf, t_chunk, t_total = [], [], []
        for r in range(args.repeats):
            t_tf.append(timed(lambda: theirs(labels, 1, s, True, v, seed=1000 + r)[0]))
            sampler = ours_cls(v, seed=r)
            start = time.perf_counter()
            sampler.chunk_size(s)
            t_chunk.append(time.perf_counter() - start)
            sampler = ours_cls(v, seed=r)
            t_total.append(timed(lambda: sampler(labels, 1, s, True)[0]))
        tf_ms, chunk_ms, total_ms = (1e3 * statistics.median(t) for t in (t_tf, t_chunk, t_total))
        rows.append(dict(sampler=kind, range_max=v, num_sampled=s, tf_first_ms=tf_ms,
                         ours_setup_ms=chunk_ms, setup_ratio=chunk_ms / tf_ms,
                         ours_first_call_with_trace_ms=total_ms))
    print(f"first unique call, range_max={v}, num_sampled={s}, median of {args.repeats} fresh "
          "samplers; ms")
    print(f"{'sampler':12} {'TF first call':>14} {'ours setup':>11} {'ratio':>6} "
          f"{'ours first call incl. trace':>28}")
    for r in rows:
        print(f"{r['sampler']:12} {r['tf_first_ms']:14.2f} {r['ours_setup_ms']:11.2f} "
              f"{r['setup_ratio']:6.2f} {r['ours_first_call_with_trace_ms']:28.1f}")
    if args.json:
        print(json.dumps({"first_call": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
