"""The ML-100K results table of the README: every row, every seed, one command each.

    python benchmarks/recall_table.py [--rows ROW ...] [--seeds 0 1 2] [--out runs/recall_table]
                                      [--results benchmarks/results/recall_ml100k.json]

Every row is measured the same way: for each seed (default 0, 1, 2; the deterministic
baselines give the same numbers for every seed) it runs the command printed beside it
(`python -m recall_models evaluate ...` for baselines, `python -m recall_models train ...`
for the models, default settings) with `--json`, and keeps its JSON in
`OUT/<row>-<seed>.json`; a (row, seed) whose JSON is already there is not run again, so the
script can be stopped and resumed. At the end it prints the table (test split, mean +- std
(population) over the seeds found; for trained models also the validation metrics of the
best epoch, `v:`) as Markdown and writes `OUT/table.json`, and the file given by
`--results` (never written unless that flag names it): the rows of this run replace theirs
there, and the file's other rows stay. A run that finds no results writes nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

ROWS = {
    "random": ["evaluate", "--model", "random"],
    "mostpop": ["evaluate", "--model", "mostpop"],
    "itemknn": ["evaluate", "--model", "itemknn"],
    "item2vec": ["evaluate", "--model", "item2vec"],
    **{f"youtubednn-{s}": ["train", "--model", "youtubednn", "--sampler", s]
       for s in ("log_uniform", "unigram", "uniform", "in_batch", "mixed", "full")},
    "mind-log_uniform": ["train", "--model", "mind", "--sampler", "log_uniform"],
    "mind-in_batch": ["train", "--model", "mind", "--sampler", "in_batch"],
    "mind_k1-log_uniform": ["train", "--model", "mind", "--sampler", "log_uniform",
                            "--num-interests", "1"],
    "comirec_sa-log_uniform": ["train", "--model", "comirec_sa", "--sampler", "log_uniform"],
    "comirec_sa-in_batch": ["train", "--model", "comirec_sa", "--sampler", "in_batch"],
}
METRICS = ["hr@10", "hr@50", "hr@100", "ndcg@10"]


def command(row: str, seed: int, out: str) -> list[str]:
    args = ["--seed", str(seed)]
    if ROWS[row][0] == "train":
        args += ["--out", os.path.join(out, f"{row}-{seed}")]
    return ROWS[row] + args


def run(row: str, seed: int, out: str) -> dict:
    path = os.path.join(out, f"{row}-{seed}.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    argv = command(row, seed, out)
    print("$ python -m recall_models " + " ".join(argv), flush=True)
    proc = subprocess.run([sys.executable, "-m", "recall_models", *argv, "--json"],
                          stdout=subprocess.PIPE, text=True)
    if proc.returncode:
        raise SystemExit(f"{row} seed {seed} failed (exit {proc.returncode})")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    with open(path, "w") as f:
        json.dump(result, f)
    return result


def metrics_of(result: dict) -> dict:
    test = result.get("test", result)
    out = {f"{mode[0]}:{m}": test[mode][m] for mode in ("filtered", "unfiltered") for m in METRICS}
    seconds = result.get("seconds_per_epoch")
    if seconds is not None:
        out["s/epoch"] = seconds
    if result.get("history"):                      # validation at the best epoch
        best = result["history"][result["best_epoch"] - 1]
        out["v:hr@50"], out["v:ndcg@10"] = best["val_hr@50"], best["val_ndcg@10"]
    return out


def write_table(path: str, table: dict) -> None:
    """Writes `table` to `path`, keeping the rows of a table already there that it lacks."""
    merged = {}
    if os.path.exists(path):
        with open(path) as f:
            merged = json.load(f)
    merged.update(table)
    with open(path, "w") as f:
        json.dump(merged, f, indent=1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", nargs="*", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    p.add_argument("--out", default="runs/recall_table")
    p.add_argument("--results", default=None,
                   help="also write the table (JSON) to this file, e.g. "
                        "benchmarks/results/recall_ml100k.json; its rows that this run "
                        "does not measure stay")
    p.add_argument("--report-only", action="store_true",
                   help="only tabulate the JSON files already in --out")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    table = {}
    for row in args.rows:
        found = []
        for seed in args.seeds:
            path = os.path.join(args.out, f"{row}-{seed}.json")
            if args.report_only and not os.path.exists(path):
                continue
            found.append(metrics_of(run(row, seed, args.out)))
        if found:
            keys = found[0].keys()
            table[row] = {k: (statistics.mean(f[k] for f in found),
                              statistics.pstdev(f[k] for f in found) if len(found) > 1 else 0.0)
                          for k in keys} | {"seeds": len(found)}
    if not table:
        p.error(f"no results for --rows {' '.join(args.rows)} and --seeds "
                f"{' '.join(map(str, args.seeds))} in --out {args.out!r}; nothing written")
    for path in filter(None, [os.path.join(args.out, "table.json"), args.results]):
        write_table(path, table)
    cols = ([f"{m[0]}:{k}" for m in ("filtered", "unfiltered") for k in METRICS]
            + ["v:hr@50", "v:ndcg@10", "s/epoch"])
    print("| model | seeds | " + " | ".join(c.replace("f:", "F ").replace("u:", "U ")
                                          .replace("v:", "val ") for c in cols) + " |")
    print("|---" * (len(cols) + 2) + "|")
    for row, vals in table.items():
        cells = []
        for c in cols:
            if c not in vals:
                cells.append("-")
            elif c == "s/epoch":
                cells.append(f"{vals[c][0]:.1f}")
            else:
                mean, std = vals[c]
                cells.append(f"{mean:.4f} ± {std:.4f}" if vals["seeds"] > 1 else f"{mean:.4f}")
        print(f"| {row} | {vals['seeds']} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
