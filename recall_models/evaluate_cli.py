"""Evaluate a baseline on a MovieLens split with the retrieval harness.

Ranks the whole catalogue for every user (exact TensorFlow top-k), in two modes:
"filtered" (items in the user's history removed; primary) and "unfiltered". Prints
HR@K and NDCG@K for K in 10, 20, 50, 100 and MRR (cut at 100).

With --json the last line is one JSON object:
  {"model": "mostpop", "dataset": "ml-100k", "split": "test", "seed": 0,
   "filtered": {"hr@10": ..., "hr@100": ..., "ndcg@10": ..., ..., "mrr": ...},
   "unfiltered": {...}, "ks": [10, 20, 50, 100], "num_users": 943, "num_items": 1682,
   "seconds": ...}

Example:
  python -m recall_models evaluate --model itemknn --dataset ml-100k --json
"""
from __future__ import annotations

import argparse
import json
import sys
import time

HELP = "evaluate a baseline (random, mostpop, itemknn, item2vec) with HR/NDCG/MRR, filtered and not"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from recall_models.data_cli import add_format_arguments
    from recall_models.evaluation.baselines import BASELINES
    parser.add_argument("--model", required=True, choices=sorted(BASELINES),
                        help="baseline to evaluate")
    parser.add_argument("--dataset", default="ml-100k",
                        help="'ml-100k' (fetched once), a directory of MovieLens files, or "
                             "the name of a folder in the cache (default: ml-100k)")
    add_format_arguments(parser)
    parser.add_argument("--split", default="test", choices=("valid", "test"),
                        help="held-out item to rank (default: test)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--max-history", type=int, default=50,
                        help="history cap used to build the samples (default: 50)")
    parser.add_argument("--neighbours", type=int, default=None,
                        help="itemknn only: keep this many neighbours per item (default: all)")
    parser.add_argument("--json", action="store_true",
                        help="print the result as one JSON object on the last line")


def main(args: argparse.Namespace) -> int:
    from recall_models.evaluation.baselines import evaluate_baseline, make_baseline
    from recall_models.data.dataset import load_dataset
    from recall_models.evaluation.metrics import format_table

    start = time.perf_counter()
    try:
        ds = load_dataset(args.dataset, max_history=args.max_history, format=args.format,
                          encoding=args.encoding, inter=args.inter)
        kwargs = {"neighbours": args.neighbours} if args.model == "itemknn" else {}
        if args.neighbours is not None and args.model != "itemknn":
            raise ValueError("--neighbours applies to --model itemknn only")
        model = make_baseline(args.model, **kwargs).fit(ds, seed=args.seed)
        result = evaluate_baseline(model, ds, split=args.split, progress=not args.json)
    except (ValueError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    print(f"{args.model} on {ds.name} ({args.split}, {result['num_users']} users, "
          f"{result['num_items']} items, seed {args.seed}), {seconds:.1f} s")
    print(format_table(result))
    if args.json:
        print(json.dumps({"model": args.model, "dataset": ds.name, "split": args.split,
                          "seed": args.seed, **result, "seconds": round(seconds, 3)}))
    return 0
