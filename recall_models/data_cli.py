"""Load a MovieLens dataset (fetching ML-100K if needed) and print a summary.

Shows users, items, ratings (and how many repeat a (user, item) pair), the users dropped
for having fewer than 3 ratings (with their ratings and the items only they rated),
density, the leave-last-out split sizes, ratings-per-user
and training-history-length quantiles, and the feature vocabulary sizes. DATASET is
'ml-100k' (embedded: fetched once from the recbole wheel on PyPI), a directory holding
ML-100K (u.data ...), ML-1M (ratings.dat ...), ml-latest (ratings.csv ...) or RecBole
atomic files, or the name of such a folder in the cache ($RECALL_MODELS_DATA or
~/.cache/recall_models).

Example:
  python -m recall_models data ml-100k
  python -m recall_models data ~/data/ml-1m --json
"""
from __future__ import annotations

import argparse
import json
import sys

HELP = "load a MovieLens dataset (ml-100k or a path) and print its summary"


def add_format_arguments(parser: argparse.ArgumentParser) -> None:
    """--format, --encoding and --inter of a dataset folder (data, evaluate and train share
    them)."""
    from recall_models.data.movielens import FORMATS
    parser.add_argument("--format", default=None, choices=FORMATS,
                        help="file format of a dataset folder: ml-100k, ml-1m (.dat), "
                             "ml-latest (ratings.csv: ML-20M, ML-25M, ml-latest; no user "
                             "file) or recbole (default: detected from the file names)")
    parser.add_argument("--encoding", default=None,
                        help="text encoding of the files (default: latin-1 for ML-100K/ML-1M, "
                             "else utf-8)")
    parser.add_argument("--inter", default=None, metavar="NAME",
                        help="RecBole folder holding several NAME.inter files: read this one "
                             "(with NAME.user and NAME.item when present)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", nargs="?", default="ml-100k",
                        help="ml-100k, a directory or a cached folder name (default: ml-100k)")
    add_format_arguments(parser)
    parser.add_argument("--max-history", type=int, default=50,
                        help="history cap of the training samples (default: 50)")
    parser.add_argument("--json", action="store_true",
                        help="print the summary as one JSON object on the last line")


def main(args: argparse.Namespace) -> int:
    from recall_models.data.dataset import dropped_line, load_dataset, summary

    try:
        ds = load_dataset(args.dataset, max_history=args.max_history, format=args.format,
                          encoding=args.encoding, inter=args.inter)
    except (ValueError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    s = summary(ds)
    print(f"dataset        {s['dataset']}")
    print(f"users          {s['users']:,}")
    print(f"items          {s['items']:,} (ids 1..{s['items']}, sorted by training "
          "frequency; 0 = padding)")
    print(f"ratings        {s['ratings']:,}")
    print(f"repeated       {s['repeated_ratings']:,} ratings of a (user, item) pair rated "
          "before (the filtered metrics never drop the target)")
    print("dropped        " + dropped_line({"users": s["dropped_users"],
                                             "ratings": s["dropped_ratings"],
                                             "items": s["dropped_items"]}))
    print(f"density        {s['density']:.4%}")
    print(f"samples        train {s['train_samples']:,}, valid {s['valid_samples']:,}, "
          f"test {s['test_samples']:,} (history cap {s['max_history']})")
    for key, label in (("ratings_per_user_quantiles", "ratings/user"),
                       ("train_history_length_quantiles", "train history")):
        q = s[key]
        print(f"{label:<15}" + "  ".join(f"{k} {v:g}" for k, v in q.items()))
    print("user features  " + ", ".join(f"{k} {v}" for k, v in s["user_feature_sizes"].items()))
    print("item features  " + ", ".join(f"{k} {v}" for k, v in s["item_feature_sizes"].items()))
    if args.json:
        print(json.dumps(s))
    return 0
