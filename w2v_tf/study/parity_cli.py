"""`python -m w2v_tf parity`: our sampled logits, losses and gradients against TensorFlow's.

    python -m w2v_tf parity            # a table: max |ours - TF| per quantity and configuration
    python -m w2v_tf parity --json     # ... and the whole report as one JSON object, last line

The grid of configurations and the error measure are described in `w2v_tf.study.parity`.
Exits with status 1 if any error exceeds its tolerance (float32 1e-5, float64 1e-10).
"""
from __future__ import annotations

import argparse
import json
from typing import Dict

HELP = "compare our sampled logits, losses and gradients with TensorFlow's, per configuration"


def add_arguments(p: argparse.ArgumentParser) -> None:
    size = p.add_mutually_exclusive_group()          # the default: the pairwise covering (28)
    size.add_argument("--quick", action="store_true",
                      help="one configuration per (num_true, log-Q, hits): 16 + 4")
    size.add_argument("--full", action="store_true",
                   help="the whole product of the axes (768 + 4 configurations, minutes)")
    p.add_argument("--json", action="store_true", help="last line: the report as one JSON object")
    p.add_argument("--verbose", action="store_true",
                   help="with --json, still print every configuration's row (without --json "
                        "every row is printed; with it, only those over tolerance)")


def print_summary(rep: Dict, verbose: bool = False) -> None:
    import tensorflow as tf
    print(f"Parity against TensorFlow {tf.__version__}: {rep['n_configs']} configurations, "
          f"{rep['n_failed']} over tolerance (float32 1e-5, float64 1e-10).")
    cols = ["logits", "nce", "sampled_softmax", "neg"]
    print(f"{'configuration':<72}" + "".join(f"{c:>16}" for c in cols) + f"{'max grad':>12}")
    for r in rep["configs"]:
        e = r["errors"]
        grad = max(v for k, v in e.items() if k.startswith("grad"))
        line = f"{r['name']:<72}" + "".join(
            f"{e[c]:>16.2e}" if c in e else f"{'-':>16}" for c in cols) + f"{grad:>12.2e}"
        if verbose or not r["ok"]:
            print(line + ("" if r["ok"] else "   <-- over tolerance"))
    print("max error per quantity:")
    for k, v in sorted(rep["max"].items()):
        print(f"  {k:<40} {v:.2e}")
    print("PARITY OK" if rep["ok"] else "PARITY FAILED")


def main(args: argparse.Namespace) -> int:
    from w2v_tf.study.parity import report
    rep = report(quick=args.quick, full=args.full)
    print_summary(rep, verbose=args.verbose or not args.json)
    if args.json:
        print(json.dumps({k: rep[k] for k in ("ok", "n_configs", "n_failed", "max")}
                         | {"configs": [{"name": r["name"], "errors": r["errors"], "ok": r["ok"]}
                                        for r in rep["configs"]]}))
    return 0 if rep["ok"] else 1
