"""Cost per training example of hierarchical softmax vs a full softmax, as V grows.

For each vocabulary size V, builds word2vec's Huffman tree over Zipfian counts (c_r ~ 1/r),
draws a batch of target words from that unigram distribution, and times one forward +
backward step (loss and gradients w.r.t. the output vectors and h) of

  - hierarchical softmax (`w2v_tf.hierarchical.hierarchical_softmax_loss`): work
    O(B * max_code_length * dim), max_code_length ~ log2 V;
  - full softmax (`tf.nn.sparse_softmax_cross_entropy_with_logits` on h W^T): O(B * V * dim).

Both run inside one `tf.function` each, on `--threads` CPU threads (default 1, so that the
figure measures work rather than contention on a shared machine); times are the fastest of
repeated steps, timed round-robin (the median is in the JSON), divided by the batch size. Prints a table (the
last line is one JSON object with --json) and saves a log-log plot of time per example vs V.

Examples:
  python benchmarks/hierarchical_cost.py --quick
  python benchmarks/hierarchical_cost.py --vocab-sizes 1000 10000 100000 1000000 --json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "hierarchical_cost.png"


def zipf_counts(vocab_size: int) -> np.ndarray:
    """Counts by rank, c_r = max(1, 10^9 / r): sorted by decreasing frequency like a vocabulary."""
    return np.maximum(1, 1e9 / np.arange(1, vocab_size + 1)).astype(np.int64)


def time_steps(steps: dict, args, min_steps: int, min_seconds: float) -> dict:
    """name -> (min, median) wall time of `step(*args)` for each of `steps`, timed round-robin
    (one call of each per round, so load from other processes falls on all alike) after two
    warm-up calls that trace them.

    The minimum is the figure reported: on a shared machine other processes only ever add
    time, so the fastest of several identical steps is the best estimate of the work itself.
    """
    def call(step):
        out = step(*args)
        _ = [t.numpy() if hasattr(t, "numpy") else t for t in out]   # wait for the result

    for step in steps.values():
        call(step), call(step)
    times = {name: [] for name in steps}
    start = time.perf_counter()
    while len(times[next(iter(steps))]) < min_steps or time.perf_counter() - start < min_seconds:
        for name, step in steps.items():
            t0 = time.perf_counter()
            call(step)
            times[name].append(time.perf_counter() - t0)
    return {name: (float(np.min(t)), float(np.median(t))) for name, t in times.items()}


def measure(vocab_size: int, dim: int, batch: int, min_steps: int, min_seconds: float,
            skip_softmax_above: int, seed: int) -> dict:
    """One row of the table for vocabulary size V."""
    import tensorflow as tf

    from w2v_tf.hierarchical import build_huffman_tree, hierarchical_softmax_loss

    rng = np.random.default_rng(seed)
    counts = zipf_counts(vocab_size)
    t0 = time.perf_counter()
    tree = build_huffman_tree(counts)
    build_s = time.perf_counter() - t0
    words = tf.constant(rng.choice(vocab_size, size=batch, p=counts / counts.sum()), tf.int32)
    h = tf.Variable(rng.normal(size=(batch, dim)).astype(np.float32))
    inner = tf.Variable(rng.normal(scale=0.1, size=(vocab_size - 1, dim)).astype(np.float32))

    @tf.function
    def hs_step(h, words):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(hierarchical_softmax_loss(inner, h, words, tree))
        d_inner, d_h = tape.gradient(loss, [inner, h])     # d_inner: IndexedSlices (sparse)
        return loss, d_inner.values, d_h

    steps = {"hs": hs_step}
    if vocab_size <= skip_softmax_above:
        out_w = tf.Variable(rng.normal(scale=0.1, size=(vocab_size, dim)).astype(np.float32))

        @tf.function
        def softmax_step(h, words):
            with tf.GradientTape() as tape:
                logits = tf.matmul(h, out_w, transpose_b=True)                 # [B, V]
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=words, logits=logits))
            return (loss, *tape.gradient(loss, [out_w, h]))

        steps["softmax"] = softmax_step
    times = time_steps(steps, (h, words), min_steps, min_seconds)
    soft = times.get("softmax", (None, None))
    return {
        "vocab_size": vocab_size,
        "mean_code_length": tree.expected_code_length(),
        "max_code_length": tree.max_code_length,
        "tree_build_s": build_s,
        "hs_us_per_example": 1e6 * times["hs"][0] / batch,
        "hs_us_per_example_median": 1e6 * times["hs"][1] / batch,
        "softmax_us_per_example": None if soft[0] is None else 1e6 * soft[0] / batch,
        "softmax_us_per_example_median": None if soft[1] is None else 1e6 * soft[1] / batch,
    }


def save_plot(rows: list[dict], path: Path, title: str) -> None:
    from matplotlib.figure import Figure

    v = np.array([r["vocab_size"] for r in rows], dtype=float)
    hs = np.array([r["hs_us_per_example"] for r in rows])
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.plot(v, hs, marker="o", label="hierarchical softmax")
    soft = [(r["vocab_size"], r["softmax_us_per_example"]) for r in rows
            if r["softmax_us_per_example"] is not None]
    if soft:
        ax.plot(*zip(*soft), marker="s", label="full softmax")
    # Reference: HS time proportional to the longest code (what the padded kernel does).
    max_len = np.array([r["max_code_length"] for r in rows], dtype=float)
    ax.plot(v, hs[-1] * max_len / max_len[-1], color="grey", linestyle=":",
            label="HS scaled by max code length")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("vocabulary size V")
    ax.set_ylabel("microseconds per example (forward + backward)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def format_table(rows: list[dict]) -> str:
    head = (f"{'V':>9} {'mean L':>7} {'max L':>6} {'HS us/ex':>9} {'softmax us/ex':>14} "
            f"{'softmax/HS':>10}")
    lines = [head, "-" * len(head)]
    for r in rows:
        soft, hs = r["softmax_us_per_example"], r["hs_us_per_example"]
        soft_text = "skipped" if soft is None else f"{soft:.2f}"
        ratio_text = "-" if soft is None else f"{soft / hs:.1f}"
        lines.append(f"{r['vocab_size']:>9} {r['mean_code_length']:>7.2f} "
                     f"{r['max_code_length']:>6} {hs:>9.2f} {soft_text:>14} {ratio_text:>10}")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab-sizes", type=int, nargs="+", default=None,
                        help="vocabulary sizes V to measure (each >= 2; default 1000 3000 "
                             "10000 30000 100000, quick 1000 10000 30000)")
    parser.add_argument("--dim", type=int, default=100, help="embedding size (word2vec: 100)")
    parser.add_argument("--batch", type=int, default=1024, help="examples per step")
    parser.add_argument("--min-steps", type=int, default=None,
                        help="timed steps per measurement (default 5, quick 3)")
    parser.add_argument("--min-seconds", type=float, default=None,
                        help="keep timing until at least this long has passed (default 1.0, "
                             "quick 0.2)")
    parser.add_argument("--skip-softmax-above", type=int, default=300000,
                        help="do not time the full softmax above this V (memory B*V floats)")
    parser.add_argument("--quick", action="store_true",
                        help="V in {1000, 10000, 30000}, 3 steps, 0.2 s: a smoke run (flags "
                             "given as well win)")
    parser.add_argument("--threads", type=int, default=1,
                        help="TensorFlow intra- and inter-op threads (0 = TensorFlow's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"plot path (default {DEFAULT_OUT}, replaced if it exists)")
    parser.add_argument("--no-plot", action="store_true", help="do not save the plot")
    parser.add_argument("--json", action="store_true",
                        help="print the results as one JSON object on the last line")
    args = parser.parse_args(argv)
    defaults = ([1000, 10000, 30000], 3, 0.2) if args.quick else \
        ([1000, 3000, 10000, 30000, 100000], 5, 1.0)
    for name, value in zip(("vocab_sizes", "min_steps", "min_seconds"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.threads < 0:
        parser.error(f"--threads must be >= 0, got {args.threads}")
    for name in ("dim", "batch", "min_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    bad = [v for v in args.vocab_sizes if v < 2]
    if bad:
        parser.error(f"--vocab-sizes must all be >= 2, got {bad}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from w2v_tf.cli import import_tensorflow_quietly
    import_tensorflow_quietly()   # TensorFlow without its start-up information lines
    from tqdm import tqdm
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    if device == "CPU":
        device += f", {args.threads or 'default'} thread(s)"
    rows = []
    for v in tqdm(sorted(args.vocab_sizes), desc="vocabulary sizes", file=sys.stderr):
        rows.append(measure(v, args.dim, args.batch, args.min_steps, args.min_seconds,
                            args.skip_softmax_above, args.seed))
    print(f"Hierarchical vs full softmax, dim {args.dim}, batch {args.batch}, {device}, "
          f"forward + backward, fastest step / batch:")
    print(format_table(rows))
    plot = None
    if not args.no_plot:
        save_plot(rows, args.out, f"HS vs full softmax (dim {args.dim}, batch {args.batch}, "
                                  f"{device})")
        plot = str(args.out)
        print(f"plot saved to {plot}")
    if args.json:
        print(json.dumps({"device": device, "dim": args.dim, "batch": args.batch,
                          "threads": args.threads, "rows": rows, "plot": plot}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
