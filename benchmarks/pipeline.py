"""Skip-gram examples per second: our vectorised tf.data pipeline vs the legacy Keras loop.

    python benchmarks/pipeline.py [--quick] [--json] [--corpus both] [--repeats N]

Same corpus, vocabulary (min_count 5) and window (5), no subsampling, no negatives:

* `legacy loop`  : the TF word2vec tutorial's loop, one call of the legacy
  `tf.keras.preprocessing.sequence.skipgrams(seq, V + 1, window_size, negative_samples=0)`
  per sentence (ids shifted by 1 because it reserves id 0; its default `shuffle=True`),
  over a fixed slice of the corpus (`--legacy-tokens`) per round. It only builds Python
  lists; turning them into batched tensors would cost it more still.
* `tf.data`      : `--epochs` full epochs of `w2v_tf.pipeline.skipgram_dataset` (random window
  shrink, `shuffle=True`: a uniform permutation of every epoch's pairs, batches of
  `--batch-size` int64 tensors) consumed inside a `tf.function` loop, as a compiled training
  loop takes its batches.
* `tf.data centres`: the same with `shuffle='centres'` (centre words in random order, each
  centre's pairs together; expanded piece by piece while TF serves the previous piece).
* `tf.data eager`: the `shuffle=True` dataset iterated by a Python `for` loop (one eager
  call per batch).
* `numpy arrays` : `make_skipgram_pairs` alone (one epoch of arrays, not shuffled).

The variants run round-robin (`--repeats` rounds) so the load of a shared machine hits them
alike; each figure is the median over rounds of examples/s, and the headline ratio is
median(tf.data) / median(legacy loop). Absolute rates depend on the machine and its load;
the ratio is the result. The goal in issue 4 is a ratio >= 50.

Wall-clock rates of multi-threaded tf.data suffer more than a single-threaded Python loop on
an oversubscribed machine (every batch crosses threads), so the same ratios are also given
per CPU-second of this process (`time.process_time`, all threads): the work each variant
costs, which the load does not change.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from w2v_tf.corpus import Vocabulary, load_corpus  # noqa: E402
from w2v_tf.pipeline import make_skipgram_pairs, skipgram_dataset  # noqa: E402


def legacy_round(encoded, vocab_size, window, n_tokens):
    """Legacy loop over the first sentences holding `n_tokens` tokens; returns examples."""
    from keras.src.legacy.preprocessing.sequence import skipgrams as legacy_skipgrams

    sequences, total = [], 0
    for s in encoded:
        if total >= n_tokens:
            break
        sequences.append((s + 1).tolist())  # legacy reserves id 0 for "not a word"
        total += len(s)
    n = 0
    for seq in sequences:
        couples, _ = legacy_skipgrams(seq, vocab_size + 1, window_size=window,
                                      negative_samples=0.0)
        n += len(couples)
    return n


def make_graph_consumer():
    import tensorflow as tf

    @tf.function
    def consume(ds):
        n = tf.constant(0, tf.int64)
        for targets, contexts in ds:
            # Touch both tensors so neither can be optimised away.
            n += tf.shape(targets, out_type=tf.int64)[0] + 0 * tf.reduce_sum(contexts)
        return n
    return consume


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="corpus 'lee', 3 rounds, 20k legacy tokens per round (a smoke run)")
    p.add_argument("--corpus", default=None,
                   help="lee | wiki500 | both | path to a UTF-8 text file (default both; quick lee)")
    p.add_argument("--window", type=int, default=5, help="(maximal) half-window (default 5)")
    p.add_argument("--batch-size", type=int, default=1024,
                   help="tf.data batch size (default 1024); TF's fixed cost per batch "
                        "(tens of microseconds) caps the rate of small batches")
    p.add_argument("--epochs", type=int, default=1,
                   help="epochs per pass over the dataset (skipgram_dataset(epochs=...)); "
                        "rates are per example either way (default 1, as Keras re-iterates)")
    p.add_argument("--repeats", type=int, default=None, help="rounds (default 5; quick 3)")
    p.add_argument("--legacy-tokens", type=int, default=None,
                   help="corpus tokens the legacy loop processes per round "
                        "(default 100000; quick 20000)")
    p.add_argument("--json", action="store_true", help="last line: results as one JSON object")
    args = p.parse_args(argv)
    if min(args.window, args.batch_size, args.epochs) < 1:
        p.error(f"--window, --batch-size and --epochs must be >= 1, got {args.window}, "
                f"{args.batch_size}, {args.epochs}")
    corpus = args.corpus or ("lee" if args.quick else "both")
    repeats = args.repeats or (3 if args.quick else 5)
    legacy_tokens = args.legacy_tokens or (20_000 if args.quick else 100_000)
    if repeats < 1 or legacy_tokens < 1:
        p.error("--repeats and --legacy-tokens must be >= 1")

    from tqdm import tqdm

    try:
        sentences = load_corpus(corpus)
        vocab = Vocabulary.build(sentences, min_count=5)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    encoded = vocab.encode(sentences)
    n_tokens = sum(len(s) for s in encoded)

    ds = skipgram_dataset(encoded, args.window, args.batch_size, seed=0, epochs=args.epochs)
    ds_centres = skipgram_dataset(encoded, args.window, args.batch_size, seed=0,
                                  epochs=args.epochs, shuffle="centres")
    consume = make_graph_consumer()
    int(consume(ds))  # trace the tf.function and warm up
    int(consume(ds_centres))
    legacy_round(encoded, len(vocab), args.window, 1000)

    def run_eager():
        n = 0
        for targets, _ in ds:
            n += int(targets.shape[0])
        return n

    variants = {
        "legacy loop": lambda: legacy_round(encoded, len(vocab), args.window, legacy_tokens),
        "tf.data": lambda: int(consume(ds)),
        "tf.data centres": lambda: int(consume(ds_centres)),
        "tf.data eager": run_eager,
        "numpy arrays": lambda: len(make_skipgram_pairs(encoded, args.window,
                                                        np.random.default_rng(0))[0]),
    }
    rates = {k: [] for k in variants}
    cpu_rates = {k: [] for k in variants}
    for _ in tqdm(range(repeats), desc="rounds", file=sys.stderr):
        for name, fn in variants.items():
            wall0, cpu0 = time.perf_counter(), time.process_time()
            n = fn()
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            rates[name].append(n / wall)
            cpu_rates[name].append(n / max(cpu, 1e-9))
    median = {k: statistics.median(v) for k, v in rates.items()}
    cpu_median = {k: statistics.median(v) for k, v in cpu_rates.items()}
    legacy, legacy_cpu = median["legacy loop"], cpu_median["legacy loop"]
    result = {
        "corpus": corpus, "tokens": n_tokens, "vocab_size": len(vocab), "window": args.window,
        "batch_size": args.batch_size, "epochs_per_pass": args.epochs, "repeats": repeats, "legacy_tokens_per_round":
        legacy_tokens, "examples_per_s": median,
        "ratio_tf_data_over_legacy": median["tf.data"] / legacy,
        "ratio_tf_data_centres_over_legacy": median["tf.data centres"] / legacy,
        "cpu_ratio_tf_data_centres_over_legacy": cpu_median["tf.data centres"] / legacy_cpu,
        "ratio_tf_data_eager_over_legacy": median["tf.data eager"] / legacy,
        "ratio_numpy_over_legacy": median["numpy arrays"] / legacy,
        "examples_per_cpu_s": cpu_median,
        "cpu_ratio_tf_data_over_legacy": cpu_median["tf.data"] / legacy_cpu,
        "cpu_ratio_numpy_over_legacy": cpu_median["numpy arrays"] / legacy_cpu,
        "goal_ratio": 50,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    print(f"corpus {corpus}: {n_tokens} tokens, vocabulary {len(vocab)}, window {args.window}, "
          f"batch {args.batch_size}, {args.epochs} epoch(s) per pass, {repeats} rounds (medians)")
    print(f"  {'':14s} {'M examples/s':>14s} {'vs legacy':>10s}   {'M examples/CPU-s':>16s} "
          f"{'vs legacy':>10s}")
    for name, rate in median.items():
        cpu_rate = cpu_median[name]
        print(f"  {name:14s} {rate / 1e6:14.3f} {rate / legacy:9.1f}x   {cpu_rate / 1e6:16.3f} "
              f"{cpu_rate / legacy_cpu:9.1f}x")
    for key, label in (("tf_data", "tf.data (shuffle=True)"),
                       ("tf_data_centres", "tf.data (shuffle='centres')")):
        ratio = result[f"ratio_{key}_over_legacy"]
        verdict = "meets" if ratio >= 50 else "misses"
        print(f"{label} / legacy = {ratio:.1f}x wall-clock ({verdict} the 50x goal), "
              f"{result[f'cpu_ratio_{key}_over_legacy']:.1f}x per CPU-second")
    print(f"load average {result['load_average']} on {os.cpu_count()} CPUs")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
