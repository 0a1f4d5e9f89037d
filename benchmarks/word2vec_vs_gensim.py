"""Our word2vec against gensim's: words per second and wordsim353 Spearman, same job.

    python benchmarks/word2vec_vs_gensim.py            # corpus "both" repeated to >= 2M words, 3 seeds, 5 epochs
    python benchmarks/word2vec_vs_gensim.py --epochs 1 # one pass: our fixed XLA compile weighs most
    python benchmarks/word2vec_vs_gensim.py --quick    # 1 copy of the corpus, 1 seed
    python benchmarks/word2vec_vs_gensim.py --json     # last line: one JSON object
    python benchmarks/word2vec_vs_gensim.py --out benchmarks/results/word2vec_vs_gensim.json

Runs alternate (gensim, ours, gensim, ours, ... one seed each) so both see the same machine
load; the 1-minute load average is recorded with each run. Both train on the same sentences with the same hyper-parameters (dim 100, window 5, 5
negatives, sample 1e-3, min_count 5, the same number of epochs; skip-gram and CBOW, each
with its word2vec learning rate), gensim with 2 worker threads. Only training is timed
(gensim's `train()` after `build_vocab()`; our `w2v_tf.word2vec.train` after the vocabulary
and encoding).

Epochs: 5 by default, word2vec.c's `-iter` and gensim's `epochs` default. Our time includes
a fixed cost per job, tracing and XLA-compiling the step (about 1 s here, reported per run as
warm_up_s), which a 1-epoch job of this corpus feels about five times more than a 5-epoch one;
both are reported in the README.

words/s counts as word2vec.c does: in-vocabulary corpus tokens (before subsampling) times
epochs, divided by the wall seconds of training; it is the same numerator for both, so the
ratio is the ratio of training times. On a shared machine wall time depends on what else
runs, so the process CPU seconds (all threads) are reported as well, with their ratio:
with gensim at 2 threads and TensorFlow free to use every core, a CPU-seconds ratio is the
fairer "work per word" comparison and the wall ratio the "time to vectors" one.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

HYPER = dict(dim=100, window=5, negatives=5, sample=1e-3, min_count=5)


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run_gensim(sentences, arch, epochs, seed, workers=2):
    from gensim.models import Word2Vec
    model = Word2Vec(vector_size=HYPER["dim"], window=HYPER["window"], negative=HYPER["negatives"],
                     sample=HYPER["sample"], min_count=HYPER["min_count"], sg=int(arch == "skipgram"),
                     alpha=0.025 if arch == "skipgram" else 0.05, workers=workers, seed=seed)
    model.build_vocab(sentences)
    words = int(sum(model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key))
    _, wall, cpu = _timed(lambda: model.train(sentences, total_examples=len(sentences),
                                              epochs=epochs))
    return model.wv, words * epochs, wall, cpu, 0.0


def run_ours(sentences, arch, epochs, seed, loss="neg_shared", batch_size=None, jit_compile="auto",
             num_shared=None, stratified=True):
    from w2v_tf import word2vec as w2v
    from w2v_tf.word2vec.corpus import Vocabulary
    from w2v_tf.word2vec.wordvectors import keyed_vectors
    vocab = Vocabulary.build(sentences, min_count=HYPER["min_count"])
    encoded = vocab.encode(sentences)
    (model, stats), wall, cpu = _timed(lambda: w2v.train(
        encoded, vocab.counts, arch=arch, loss=loss, dim=HYPER["dim"], window=HYPER["window"],
        negatives=HYPER["negatives"], epochs=epochs, sample=HYPER["sample"],
        batch_size=batch_size or w2v.default_batch_size(loss), seed=seed,
        jit_compile=jit_compile, num_shared=num_shared, stratified=stratified,
        progress=False))
    return (keyed_vectors(vocab.words, model.word_vectors()), stats.words, wall, cpu,
            stats.warm_up_seconds)


def spearman(kv):
    from w2v_tf.word2vec.wordvectors import evaluate
    return evaluate(kv)["wordsim353"]["spearman"]


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuses, before any training, what would fail after the first (minutes-long) run."""
    from w2v_tf.word2vec.choices import ARCHS, LOSS_NAMES
    for name in ("epochs", "seeds", "min_words"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    archs = args.archs.split(",")
    if not archs or not set(archs) <= set(ARCHS):
        parser.error(f"--archs must be a comma-separated subset of {', '.join(ARCHS)}, "
                     f"got {args.archs!r}")
    if args.loss not in LOSS_NAMES:
        parser.error(f"--loss must be one of {', '.join(LOSS_NAMES)}, got {args.loss!r}")
    for name in ("batch_size", "num_shared"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one copy of the corpus (~0.4M words) and one seed")
    parser.add_argument("--min-words", type=int, default=2_000_000,
                        help="repeat the corpus until it has at least this many tokens")
    parser.add_argument("--epochs", type=int, default=5,
                        help="passes over the corpus, the same for both (default 5, word2vec.c's "
                             "and gensim's default)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N per arch (3)")
    parser.add_argument("--archs", default="skipgram,cbow",
                        help="comma-separated: skipgram, cbow (both)")
    parser.add_argument("--loss", default="neg_shared",
                        help="our loss (default neg_shared, as `python -m w2v_tf train`)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--num-shared", type=int, default=None,
                        help="S for --loss neg_shared (default word2vec.default_num_shared: "
                             "16, stratified)")
    parser.add_argument("--independent-negatives", action="store_true",
                        help="draw the S shared negatives independently instead of one per "
                             "slice of the unigram table (fast_sgd.draw_stratified_negatives)")
    parser.add_argument("--no-xla", action="store_true", help="run our step without XLA")
    parser.add_argument("--json", action="store_true",
                        help="print the report as one JSON object on the last line")
    parser.add_argument("--out", default=None,
                        help="also write that JSON report to this file (the committed ones: "
                             "benchmarks/results/word2vec_vs_gensim*.json); default: none")
    args = parser.parse_args(argv)
    check_args(parser, args)
    from w2v_tf.cli import import_tensorflow_quietly
    import_tensorflow_quietly()   # TensorFlow without its start-up information lines
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    from w2v_tf import word2vec as w2v
    from w2v_tf.word2vec.corpus import load_corpus
    base = load_corpus("both")
    n_base = sum(map(len, base))
    copies = 1 if args.quick else max(1, -(-args.min_words // n_base))
    sentences = base * copies
    seeds = [1] if args.quick else list(range(1, args.seeds + 1))
    print(f"corpus: 'both' x {copies} = {n_base * copies:,} tokens, {len(sentences):,} "
          f"sentences; {args.epochs} epoch(s), seeds {seeds}; {HYPER}", file=sys.stderr)

    rows = {}
    loads = [os.getloadavg()[0]]
    for arch in args.archs.split(","):
        fns = {"gensim": lambda s: run_gensim(sentences, arch, args.epochs, s),
               "ours": lambda s: run_ours(sentences, arch, args.epochs, s, args.loss,
                                          args.batch_size, None if args.no_xla else "auto",
                                          args.num_shared, not args.independent_negatives)}
        runs = {name: [] for name in fns}
        for seed in seeds:          # interleaved, so both see the same machine load
            for name, fn in fns.items():
                kv, words, wall, cpu, warm_up = fn(seed)
                runs[name].append(dict(seed=seed, words=words, wall_s=wall, cpu_s=cpu,
                                       warm_up_s=warm_up,
                                       words_per_s=words / wall, words_per_cpu_s=words / cpu,
                                       wordsim353_spearman=spearman(kv),
                                       load_1min=os.getloadavg()[0]))
                loads.append(os.getloadavg()[0])
                print(f"{arch:8s} {name:6s} seed {seed}: {words / wall:10,.0f} words/s "
                      f"({wall:6.1f} s wall incl. {warm_up:.1f} s warm-up, {cpu:6.1f} s CPU), "
                      f"wordsim353 Spearman "
                      f"{runs[name][-1]['wordsim353_spearman']:.3f}, load "
                      f"{loads[-1]:.1f}", file=sys.stderr, flush=True)
        for name, rs in runs.items():
            mean = lambda k: sum(r[k] for r in rs) / len(rs)
            rows.setdefault(arch, {})[name] = dict(
                runs=rs, words_per_s=mean("words_per_s"),
                words_per_cpu_s=mean("words_per_cpu_s"),
                wordsim353_spearman=mean("wordsim353_spearman"))
        g, o = rows[arch]["gensim"], rows[arch]["ours"]
        rows[arch]["speed_ratio_wall"] = o["words_per_s"] / g["words_per_s"]
        rows[arch]["speed_ratio_cpu"] = o["words_per_cpu_s"] / g["words_per_cpu_s"]
        rows[arch]["spearman_gap"] = o["wordsim353_spearman"] - g["wordsim353_spearman"]
        rows[arch]["goal_met"] = bool(rows[arch]["speed_ratio_wall"] >= 1.0
                                      and rows[arch]["spearman_gap"] >= -0.02)

    print(f"\n{'arch':9s}{'ours w/s':>12s}{'gensim w/s':>12s}{'ratio':>7s}{'CPU ratio':>10s}"
          f"{'ours rho':>10s}{'gensim rho':>11s}  goal")
    for arch, r in rows.items():
        o, g = r["ours"], r["gensim"]
        print(f"{arch:9s}{o['words_per_s']:12,.0f}{g['words_per_s']:12,.0f}"
              f"{r['speed_ratio_wall']:7.2f}{r['speed_ratio_cpu']:10.2f}"
              f"{o['wordsim353_spearman']:10.3f}{g['wordsim353_spearman']:11.3f}  "
              f"{'met' if r['goal_met'] else 'not met'}")
    report = dict(corpus_copies=copies, tokens=n_base * copies, epochs=args.epochs,
                  seeds=seeds, hyper=HYPER, loss=args.loss,
                  num_shared={a: args.num_shared or w2v.default_num_shared(a)
                              for a in rows} if args.loss == "neg_shared" else None,
                  stratified=not args.independent_negatives
                  if args.loss == "neg_shared" else None,
                  load_1min=dict(min=min(loads), max=max(loads)),
                  cpus=os.cpu_count(), results=rows)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
