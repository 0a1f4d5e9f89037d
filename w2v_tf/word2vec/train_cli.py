"""Train word2vec on a corpus, export the vectors and evaluate them.

    python -m w2v_tf train --corpus both --out runs/w2v            # skip-gram, negative sampling
    python -m w2v_tf train --corpus lee --arch cbow --loss hs --epochs 10 --out runs/cbow --json

Writes into --out: vectors.txt / vectors.bin (word2vec.c's formats, read by gensim's
`KeyedVectors.load_word2vec_format`), vectors.tsv + metadata.tsv (Embedding Projector),
vocab.txt (word and count per line), checkpoints/ (one per epoch, `tf.train.Checkpoint`) and
results.json (what --json prints). Then scores the vectors with gensim's analogy and
word-pair benchmarks. The learning rate decays linearly from --alpha to alpha*1e-4 over the
run, as in word2vec.c.

Losses: neg_shared (the default: word2vec's negative-sampling objective estimated without
bias from S = 16 negatives shared by the batch, each weighted k/S; ~1.7x faster than neg,
same quality on real corpora), neg (word2vec's negative sampling exactly as word2vec.c: k
negatives of each pair's own from unigram^0.75; hand-written gradients, like neg_shared), nce,
sampled_softmax (negatives shared by the batch as in tf.nn), hs (hierarchical softmax),
softmax (full; small vocabularies), neg_per_pair (neg through the Keras model and autodiff,
slower) and tutorial_softmax (the TF tutorial's softmax over a positive and k per-pair
negatives without log-Q). An existing non-empty --out is refused unless --force is given; bad input (empty
corpus, invalid UTF-8, min_count removing every word, window/dim < 1, more negatives than
words) is reported before anything is written.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Optional

HELP = "train word2vec (skip-gram/CBOW, any loss), export vectors, evaluate"

PROBE_WORDS = ("government", "school", "war", "police")   # neighbours printed after training
CORPUS_HELP = "lee, wiki500, both (built into gensim's wheel) or a path to a UTF-8 text file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from w2v_tf.word2vec.choices import ARCHS, DEFAULT_LOSS, LOSS_NAMES

    parser.add_argument("--corpus", default="both", help=f"{CORPUS_HELP} (default: both)")
    parser.add_argument("--arch", choices=ARCHS, default="skipgram",
                        help="skipgram (predict each context word from the centre word) or cbow "
                             "(predict the centre word from the mean of its context); default "
                             "skipgram")
    parser.add_argument("--loss", choices=LOSS_NAMES, default=DEFAULT_LOSS,
                        help="training loss (default: neg_shared, word2vec's negative "
                             "sampling objective estimated with S negatives shared by the "
                             "batch: as good as neg and ~1.7x faster on CPU; neg is "
                             "word2vec.c's exact per-pair version)")
    parser.add_argument("--dim", type=int, default=100, help="vector size (default 100)")
    parser.add_argument("--window", type=int, default=5, help="max half-window (default 5)")
    parser.add_argument("--negatives", type=int, default=5,
                        help="negatives per pair for the sampled losses (default 5)")
    parser.add_argument("--epochs", type=int, default=5, help="passes over the corpus (5)")
    parser.add_argument("--min-count", type=int, default=5, help="drop rarer words (5)")
    parser.add_argument("--sample", type=float, default=1e-3,
                        help="subsampling threshold t, 0 disables (default 1e-3)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="starting learning rate (default: 0.025 skip-gram, 0.05 CBOW)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="pairs (CBOW: windows) per step (default: "
                             "word2vec.DEFAULT_BATCH_SIZE for the loss)")
    parser.add_argument("--shared-negatives", type=int, default=None,
                        help="S, negatives shared by a batch for --loss neg_shared (default "
                             "16, drawn one from each of 16 slices of the unigram table: "
                             "word2vec.default_num_shared, fast_sgd.draw_stratified_negatives)")
    parser.add_argument("--max-row-updates", type=float, default=None,
                        help="neg/neg_shared: a row's summed step counts at most this many "
                             "pair updates (default: 32 for neg, none for neg_shared; 0: none)")
    parser.add_argument("--max-row-step", type=float, default=None,
                        help="autodiff losses (not neg/neg_shared): clip each table row's move "
                             "per step to this norm (default word2vec.DEFAULT_MAX_ROW_STEP; 0 "
                             "turns clipping off)")
    parser.add_argument("--xla", choices=("auto", "on", "off"), default="auto",
                        help="compile the step with XLA (auto: for neg, neg_shared, nce and "
                             "sampled_softmax)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the initial vectors, the window sizes, subsampling and the negatives (0)")
    parser.add_argument("--strategy", default="none", choices=("none", "mirrored", "multi_worker"),
                        help="tf.distribute strategy: one device (the fast compiled path), "
                             "MirroredStrategy over the local GPUs (else CPU devices), or "
                             "MultiWorkerMirroredStrategy from TF_CONFIG; under a strategy "
                             "neg/neg_shared train as neg_per_pair through autodiff "
                             "(default: none)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty --out, replacing the files a run writes "
                             "there (vectors.*, metadata.tsv, vocab.txt, results.json, "
                             "checkpoints/ckpt-*); other files stay")
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation")
    parser.add_argument("--json", action="store_true",
                        help="print the results as one JSON object on the last line")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _argument_error(args: argparse.Namespace) -> Optional[str]:
    """What is wrong with the arguments, checked before TensorFlow or the corpus is loaded."""
    for name in ("dim", "window", "epochs", "min_count", "negatives"):
        if getattr(args, name) < 1:
            return f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}"
    for name, low in (("batch_size", 1), ("max_row_step", 0), ("max_row_updates", 0),
                      ("shared_negatives", 1)):          # optional: None is the default
        value = getattr(args, name)
        if value is not None and value < low:
            return f"--{name.replace('_', '-')} must be >= {low}, got {value}"
    if args.alpha is not None and not args.alpha > 0:
        return f"--alpha must be > 0, got {args.alpha}"
    if not args.sample >= 0:                             # NaN too
        return f"--sample must be >= 0, got {args.sample}"
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        return f"--out {args.out!r} exists and is not a directory"
    if os.path.isdir(args.out) and os.listdir(args.out) and not args.force:
        return f"--out {args.out!r} is not empty; pass --force to write into it"
    corpus = os.path.realpath(args.corpus)
    if corpus in map(os.path.realpath, _written_paths(args.out)):
        return (f"--corpus {args.corpus!r} would be overwritten by the output in --out "
                f"{args.out!r}; expected another --out, or the corpus under another name")
    return None


def _written_paths(out: str) -> list:
    """The files a run writes in `out` (checkpoints aside), which --force replaces."""
    from w2v_tf.word2vec.export import FILES
    return [os.path.join(out, name) for name in [*FILES.values(), "results.json"]]


def _remove_checkpoints(folder: str) -> None:
    """Removes what `_checkpointer` writes in `folder` (`checkpoint`, `ckpt-N.*`) and the
    folder if that empties it; other files there stay."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        if name == "checkpoint" or re.fullmatch(r"ckpt-\d+\.(index|data-\d+-of-\d+)", name):
            os.remove(os.path.join(folder, name))
    if not os.listdir(folder):
        os.rmdir(folder)


def _train_options(args: argparse.Namespace) -> dict:
    """`word2vec.train`'s keyword arguments from the command line (defaults resolved)."""
    from w2v_tf import word2vec as w2v
    return dict(
        arch=args.arch, loss=args.loss, dim=args.dim, window=args.window,
        negatives=args.negatives, epochs=args.epochs, alpha=args.alpha, sample=args.sample,
        batch_size=args.batch_size or w2v.default_batch_size(args.loss), seed=args.seed,
        jit_compile={"auto": "auto", "on": True, "off": None}[args.xla],
        max_row_step=(w2v.DEFAULT_MAX_ROW_STEP if args.max_row_step is None
                      else args.max_row_step or None),
        max_row_updates=("auto" if args.max_row_updates is None
                         else args.max_row_updates or None),
        num_shared=args.shared_negatives or w2v.default_num_shared(args.arch),
        strategy=args.strategy)


def _checkpointer(out: str):
    """`on_epoch_end` for `word2vec.train`: a `tf.train.Checkpoint` of the model per epoch
    in out/checkpoints/ (the last two kept)."""
    import tensorflow as tf

    state = {}

    def on_epoch_end(epoch, model, stats):
        if "manager" not in state:
            ckpt = tf.train.Checkpoint(model=model)
            state["manager"] = tf.train.CheckpointManager(
                ckpt, os.path.join(out, "checkpoints"), max_to_keep=2)
        state["manager"].save(checkpoint_number=epoch + 1)
    return on_epoch_end


def _result(args, vocab, options, stats, paths) -> dict:
    """results.json: the run's settings (defaults resolved), sizes, timing and files."""
    from w2v_tf import word2vec as w2v
    max_row_updates = options["max_row_updates"]
    return {
        "corpus": args.corpus, "arch": args.arch, "loss": args.loss, "dim": args.dim,
        "window": args.window, "negatives": args.negatives, "epochs": args.epochs,
        "min_count": args.min_count, "sample": args.sample,
        "batch_size": options["batch_size"],
        "max_row_step": None if args.loss in w2v.FAST_LOSSES else options["max_row_step"],
        "max_row_updates": ((w2v.DEFAULT_MAX_ROW_UPDATES if args.loss == "neg" else None)
                            if max_row_updates == "auto" else max_row_updates),
        "shared_negatives": options["num_shared"] if args.loss == "neg_shared" else None,
        "seed": args.seed, "vocab_size": len(vocab), "corpus_words": vocab.total,
        "words_trained": stats.words, "seconds": round(stats.seconds, 3),
        "words_per_second": round(stats.words_per_second, 1),
        "loss_history": [round(x, 6) for x in stats.epoch_loss],
        "files": {k: os.path.basename(p) for k, p in paths.items()},
    }


def _evaluate(vocab, vectors) -> dict:
    """Analogies, word-pair correlations and the neighbours of a few probe words (printed);
    returns {"evaluation": ..., "neighbours": {probe: [[word, cosine], ...]}}."""
    from w2v_tf.word2vec import wordvectors

    kv = wordvectors.keyed_vectors(vocab.words, vectors)
    out = {"evaluation": wordvectors.evaluate(kv), "neighbours": {}}
    print(wordvectors.format_results(out["evaluation"]))
    probes = [w for w in PROBE_WORDS if w in kv.key_to_index] or [vocab.words[0]]
    for probe in probes:
        neighbours = wordvectors.nearest_neighbours(kv, probe, 8)
        out["neighbours"][probe] = [[w, round(s, 4)] for w, s in neighbours]
        print(f"nearest to {probe!r}: " + ", ".join(f"{w} ({s:.2f})" for w, s in neighbours))
    return out


def main(args: argparse.Namespace) -> int:
    error = _argument_error(args)    # cheap checks first, before TensorFlow or the corpus
    if error is not None:
        return _fail(error)
    from w2v_tf.word2vec.corpus import Vocabulary, load_corpus
    try:
        sentences = load_corpus(args.corpus)
        vocab = Vocabulary.build(sentences, min_count=args.min_count)
    except (ValueError, FileNotFoundError) as e:
        return _fail(str(e))
    encoded = vocab.encode(sentences)
    del sentences
    if not any(len(s) >= 2 for s in encoded):
        return _fail(f"--corpus {args.corpus!r}: no line has two words of the vocabulary, so "
                     "there is no (centre, context) pair to train on; expected sentences of "
                     "several words per line (or a lower --min-count)")

    from w2v_tf import word2vec as w2v
    options = _train_options(args)
    try:
        w2v.check_hyperparameters(len(vocab), args.dim, args.window, args.negatives,
                                  args.epochs, options["batch_size"], args.loss, args.arch)
    except ValueError as e:
        return _fail(str(e))

    from w2v_tf.word2vec import export
    os.makedirs(args.out, exist_ok=True)
    checkpoints = os.path.join(args.out, "checkpoints")
    _remove_checkpoints(checkpoints)    # --force: no epochs of an older run
    print(f"corpus {args.corpus}: {vocab.total:,} words, vocabulary {len(vocab):,} "
          f"(min_count {args.min_count}); {args.arch}/{args.loss}, dim {args.dim}, window "
          f"{args.window}, {args.epochs} epochs, batch {options['batch_size']}", file=sys.stderr)
    model, stats = w2v.train(encoded, vocab.counts, progress=True,
                             on_epoch_end=_checkpointer(args.out), **options)
    vectors = model.word_vectors()
    try:
        paths = export.export_all(args.out, vocab, vectors, overwrite=True)
    except ValueError as e:   # NaN vectors: training diverged
        _remove_checkpoints(checkpoints)       # they hold the diverged model
        return _fail(str(e))
    result = _result(args, vocab, options, stats, paths)
    print(f"trained {stats.words:,} words in {stats.seconds:.1f} s "
          f"({stats.words_per_second:,.0f} words/s); loss per epoch "
          + ", ".join(f"{x:.4f}" for x in stats.epoch_loss))
    if not args.no_eval:
        result.update(_evaluate(vocab, vectors))
    with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}/: " + ", ".join(sorted(result["files"].values()))
          + ", results.json, checkpoints/")
    if args.json:
        print(json.dumps(result))
    return 0
