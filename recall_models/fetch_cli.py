"""Fetch MovieLens-100K into the cache and verify it.

Downloads the recbole==1.2.1 wheel from PyPI (without installing it or its dependencies),
extracts recbole/dataset_example/ml-100k/ml-100k.{inter,user,item} into
$RECALL_MODELS_DATA/ml-100k (default ~/.cache/recall_models/ml-100k) and checks their
SHA-256. When the cache is already good this only re-checks the hashes (well under a
second), so `make data` can run it every time.
"""
from __future__ import annotations

import argparse
import json
import sys

from recall_models.data import fetch

HELP = "fetch MovieLens-100K (from the recbole wheel on PyPI) into the cache and verify it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="download and extract again even if the cache is good")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (directory, files, status) as the last line")


def main(args: argparse.Namespace) -> int:
    directory = fetch.ml100k_dir()
    cached = not args.force and not fetch.verify(directory)
    try:
        directory = fetch.ensure_ml100k(force=args.force,
                                        log=lambda line: print(line, file=sys.stderr))
    except (RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    status = "cached" if cached else "fetched"
    print(f"MovieLens-100K {status} and verified (SHA-256) in {directory}")
    if args.json:
        print(json.dumps({"directory": str(directory), "status": status,
                          "files": {name: {"sha256": digest}
                                    for name, digest in fetch.ML100K_SHA256.items()}}))
    return 0
