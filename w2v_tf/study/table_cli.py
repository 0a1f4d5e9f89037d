"""`python -m w2v_tf table`: what each candidate-sampling loss learns, by experiment.

Trains a free table F(x, y) with each loss on a problem whose true P(y|x) and noise Q are
known, and compares it with the table of targets (log P, log P/kQ, ...): see
`w2v_tf.study.table` for the problem, the targets and the tolerances.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

HELP = "train a free table F(x, y) with each loss and compare it with the table of targets"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=3000, help="training steps per loss (3000)")
    p.add_argument("--batch-size", type=int, default=512, help="examples per step (512)")
    p.add_argument("--num-sampled", type=int, default=40,
                   help="k, negatives per step drawn with replacement from Q (40)")
    p.add_argument("--seed", type=int, default=0, help="seeds the problem, data and TF (0)")
    p.add_argument("--draws", type=int, default=3000,
                   help="draws of k negatives averaged to compute the sampled-softmax optimum "
                        "(3000; its error shrinks like 1/sqrt(draws))")
    p.add_argument("--variants", action="store_true",
                   help="also train negative sampling and sampled softmax with accidental "
                        "hits kept")
    p.add_argument("--out", default=os.path.join("runs", "table"),
                   help="directory for the plots table_<loss>.png (overwritten if present; "
                        "default runs/table)")
    p.add_argument("--no-plots", action="store_true", help="do not write plots")
    p.add_argument("--check", action="store_true",
                   help="exit with status 1 if a loss is farther than its tolerance from its "
                        "own target (tolerances hold for the default sizes and steps)")
    p.add_argument("--json", action="store_true", help="last line: the results as one JSON object")


def main(args: argparse.Namespace) -> int:
    from w2v_tf.study.table import (TOLERANCE, format_table, plot_table, run_experiment,
                                    summary)

    try:
        results = run_experiment(seed=args.seed, steps=args.steps, batch_size=args.batch_size,
                                 num_sampled=args.num_sampled, draws=args.draws,
                                 variants=args.variants,
                                 progress=True)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(results))
    failed = [row for row, col in results["own"].items()
              if results["errors"][row][col] > TOLERANCE[row]]
    if not args.no_plots:
        plot_table(results, args.out)
        print(f"plots: {os.path.join(args.out, 'table_<loss>.png')}")
    if args.check:
        print("check: " + ("all within tolerance" if not failed else
                           f"beyond tolerance: {failed}"))
    if args.json:
        out = summary(results)
        out["within_tolerance"] = {row: results["errors"][row][col] <= TOLERANCE[row]
                                   for row, col in results["own"].items()}
        print(json.dumps(out))
    return 1 if (args.check and failed) else 0
