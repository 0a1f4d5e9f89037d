"""Score word vectors with gensim's benchmarks: analogies (questions-words), wordsim353, simlex999.

    python -m w2v_tf evaluate runs/w2v            # the --out directory of `train`
    python -m w2v_tf evaluate vectors.bin --json  # or any word2vec-format file

Analogy questions and word pairs with an out-of-vocabulary word are skipped (as gensim does);
the share skipped is printed next to each score.
"""
from __future__ import annotations

import argparse
import json
import sys

HELP = "evaluate word vectors (analogies, wordsim353, simlex999) with gensim's evaluators"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="DIR",
                        help="a `train --out` directory, or a word2vec-format vector file")
    parser.add_argument("--restrict-vocab", type=int, default=300_000,
                        help="only the most frequent words take part (gensim's default 300000)")
    parser.add_argument("--json", action="store_true",
                        help="print the results as one JSON object on the last line")


def main(args: argparse.Namespace) -> int:
    if args.restrict_vocab < 1:
        print(f"error: --restrict-vocab must be >= 1, got {args.restrict_vocab}", file=sys.stderr)
        return 2
    from w2v_tf.word2vec import wordvectors
    try:
        kv = wordvectors.load_vectors(args.path)
    except (FileNotFoundError, ValueError, UnicodeDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results = wordvectors.evaluate(kv, restrict_vocab=args.restrict_vocab)
    results["vocab_size"] = len(kv)
    print(f"{args.path}: {len(kv):,} words, dim {kv.vector_size}")
    print(wordvectors.format_results(results))
    if args.json:
        print(json.dumps(results))
    return 0
