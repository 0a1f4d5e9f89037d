"""Export a finished training run as a TensorFlow SavedModel that serves top-k by raw id.

The SavedModel needs neither recall_models nor w2v_tf to load (`tf.saved_model.load`):

  serving_default: user_id tf.string [B] (raw user ids of the data files)
      -> item_ids tf.string [B, k] (raw item ids), scores float32 [B, k]
      the top-k over the whole catalogue with the user's known items left out, ranked
      like the evaluation harness (max over the interests of multi-interest models).
      An unknown user id is an error (InvalidArgumentError "unknown user_id").
  new_user: history tf.string [B, T] (raw item ids in time order, "" = padding),
      gender, occupation, zip_code tf.string [B], age tf.int32 [B] (-1 unknown)
      -> the same outputs, for users that training never saw (history items left out).

--upto all (default) ranks from each user's whole sequence; --upto test from everything
but the last rating, exactly the state the harness ranks for the test item. Also writes
OUT/items.tsv (raw item id, title) and OUT/export.json. See docs/serving.md.

Example:
  python -m recall_models export runs/ytdnn --out runs/ytdnn/export --k 100
"""
from __future__ import annotations

import argparse
import json
import sys

HELP = "export a finished run as a SavedModel serving top-k items by raw user id"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="folder of a finished `train` run (results.json)")
    parser.add_argument("--out", required=True, help="new folder for the SavedModel")
    parser.add_argument("--k", type=int, default=None,
                        help="items per user (default: 100, or the catalogue if smaller)")
    parser.add_argument("--upto", default="all", choices=("all", "test"),
                        help="user state: whole sequence, or all but the test item "
                             "(default: all)")
    parser.add_argument("--json", action="store_true",
                        help="print export.json as one JSON object on the last line")


def main(args: argparse.Namespace) -> int:
    from recall_models.serving import export_run

    try:
        print(f"exporting {args.run_dir} (user states, then the SavedModel) ...", flush=True)
        info = export_run(args.run_dir, args.out, k=args.k, upto=args.upto)
    except (ValueError, TypeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"SavedModel of {info['model']} on {info['dataset']} in {args.out}: "
          f"top-{info['k']} of {info['num_items']:,} items for {info['num_users']:,} users "
          f"(signatures {', '.join(info['signatures'])})")
    if args.json:
        print(json.dumps(info))
    return 0
