"""Recommend items to one user from a run's SavedModel export, with titles and scores.

RUN_DIR is a `train` run folder (its export is RUN_DIR/export; it is written first, with
the default k = 100, when absent) or an `export` folder itself. The ids are the ones the
SavedModel's serving_default signature returns (tf.saved_model.load, no recall_models
code in the ranking).

With --json the last line is one JSON object:
  {"user_id": "42", "items": [{"rank": 1, "item_id": "50", "title": ..., "score": ...}, ...]}

Example:
  python -m recall_models recommend runs/ytdnn --user 42 -k 10
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "top-k items for one raw user id, with titles and scores, from the SavedModel"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a train run folder or an export folder")
    parser.add_argument("--user", required=True, help="raw user id of the data files")
    parser.add_argument("-k", type=int, default=10, help="items to show (default: 10)")
    parser.add_argument("--json", action="store_true",
                        help="print the list as one JSON object on the last line")


def export_folder(run_dir) -> Path:
    """The export folder of `run_dir` (writing RUN_DIR/export first when it is missing)."""
    run = Path(run_dir)
    if (run / "saved_model.pb").exists():
        return run
    export = run / "export"
    if not (export / "saved_model.pb").exists():
        from recall_models.serving import export_run
        print(f"note: no export yet; writing {export}", file=sys.stderr)
        export_run(run, export)
    return export


def recommend(export, user: str, k: int) -> list[dict]:
    """[{"rank", "item_id", "title", "score"}] of the top-`k` for raw `user` id."""
    import tensorflow as tf

    info = json.loads((Path(export) / "export.json").read_text())
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= info["k"]:
        raise ValueError(f"k={k!r}, expected 1..{info['k']} (the export's k)")
    lines = (Path(export) / "items.tsv").read_text(encoding="utf-8").splitlines()[1:]
    titles = dict(line.split("\t", 1) for line in lines)
    served = tf.saved_model.load(str(export)).signatures["serving_default"]
    try:
        out = served(user_id=tf.constant([str(user)]))
    except tf.errors.InvalidArgumentError:
        raise ValueError(f"user={user!r} is not a user of this run (not in the ratings, or "
                         "one of the users with fewer than 3 ratings, whom the split leaves "
                         "out); the SavedModel's new_user signature ranks for new users"
                         ) from None
    ids = [i.decode() for i in out["item_ids"].numpy()[0][:k]]
    scores = out["scores"].numpy()[0][:k]
    return [{"rank": r + 1, "item_id": i, "title": titles.get(i, ""), "score": float(s)}
            for r, (i, s) in enumerate(zip(ids, scores)) if i]


def main(args: argparse.Namespace) -> int:
    try:
        items = recommend(export_folder(args.run_dir), args.user, args.k)
    except (ValueError, TypeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"top {len(items)} for user {args.user}:")
    for row in items:
        print(f"{row['rank']:>4}  {row['score']:9.4f}  {row['item_id']:>8}  {row['title']}")
    if args.json:
        print(json.dumps({"user_id": str(args.user), "items": items}))
    return 0
