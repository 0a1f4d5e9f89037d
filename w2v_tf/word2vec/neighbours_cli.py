"""Nearest neighbours of a word by cosine similarity.

    python -m w2v_tf neighbours runs/w2v government
    python -m w2v_tf neighbours runs/w2v/vectors.txt police --topn 5 --json
"""
from __future__ import annotations

import argparse
import json
import sys

HELP = "nearest neighbours of a word (cosine similarity) in trained vectors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="DIR",
                        help="a `train --out` directory, or a word2vec-format vector file")
    parser.add_argument("word", metavar="WORD", help="the query word")
    parser.add_argument("--topn", type=int, default=10, help="how many neighbours (10)")
    parser.add_argument("--json", action="store_true",
                        help="print the neighbours as one JSON object on the last line")


def main(args: argparse.Namespace) -> int:
    from w2v_tf.word2vec import wordvectors
    if args.topn < 1:
        print(f"error: --topn must be >= 1, got {args.topn}", file=sys.stderr)
        return 2
    try:
        kv = wordvectors.load_vectors(args.path)
        neighbours = wordvectors.nearest_neighbours(kv, args.word, args.topn)
    except (FileNotFoundError, ValueError, UnicodeDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    width = max(len(w) for w, _ in neighbours)
    for w, s in neighbours:
        print(f"{w:<{width}}  {s:.4f}")
    if args.json:
        print(json.dumps({"word": args.word, "neighbours": [[w, s] for w, s in neighbours]}))
    return 0
