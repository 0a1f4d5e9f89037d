"""The main job (`make demo`): what the project does, end to end, with its measured results.

1. Parity: our `compute_sampled_logits`, NCE, sampled softmax and negative sampling against
   TensorFlow's (`python -m w2v_tf parity`).
2. Word2Vec: skip-gram with negative sampling on the embedded English corpus, evaluated with
   gensim's analogy and word-similarity sets (`python -m w2v_tf train`).
3. Recall: YouTubeDNN trained with our sampled softmax on MovieLens-100K, beside MostPop, in
   the retrieval harness (`python -m recall_models train` / `evaluate`).

Outputs go under `--out` (default `runs/demo`): the demo replaces the sub-folders it made on
an earlier run (they hold a marker file) and refuses to touch anything else.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time

HELP = "run the main job: parity report, word2vec on the embedded corpus, YouTubeDNN vs MostPop"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo",
                   help="folder for the demo's outputs (its sub-folders are replaced)")
    p.add_argument("--skip", nargs="*", default=[], choices=["parity", "word2vec", "recall"],
                   help="steps to leave out")
    p.add_argument("--json", action="store_true", help="last line: every step's results as JSON")


def _banner(text: str) -> None:
    print("\n" + "=" * 78 + f"\n{text}\n" + "=" * 78, flush=True)


def _last_json(captured: str):
    for line in reversed(captured.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    return None


def _run_command(package: str, argv) -> tuple[int, dict | None]:
    """Runs `python -m PACKAGE ARGV... --json`, streaming its output; returns (code, JSON)."""
    import subprocess
    cmd = [sys.executable, "-m", package, *argv, "--json"]
    print("$ " + " ".join(["python", "-m", package, *argv]), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if not line.lstrip().startswith("{"):
            print(line, end="", flush=True)
    code = proc.wait()
    return code, _last_json("".join(lines))


MARKER = ".made-by-w2v_tf-demo"


def _fresh_dir(path: str) -> str:
    """Empties `path` if the demo made it (it holds our marker file); refuses otherwise."""
    import shutil
    if os.path.isdir(path) and os.listdir(path):
        if not os.path.exists(os.path.join(path, MARKER)):
            raise SystemExit(f"--out: {path} exists and was not made by the demo; "
                             "choose another --out (nothing was overwritten).")
        shutil.rmtree(path)
    os.makedirs(path, exist_ok=True)
    open(os.path.join(path, MARKER), "w").close()
    return path


def main(args: argparse.Namespace) -> int:
    results, failures = {}, []
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()

    if "parity" not in args.skip:
        _banner("1. Parity with TensorFlow (ours vs tf.nn / tf.compat.v1.nn / nn_impl)")
        code, rep = _run_command("w2v_tf", ["parity"])
        results["parity"] = rep and {k: rep[k] for k in ("ok", "n_configs", "n_failed")}
        if code:
            failures.append("parity")

    if "word2vec" not in args.skip and importlib.util.find_spec("w2v_tf.word2vec.train_cli"):
        _banner("2. Word2Vec (skip-gram, negative sampling) on the embedded corpus")
        out = _fresh_dir(os.path.join(args.out, "word2vec"))
        code, rep = _run_command("w2v_tf", ["train", "--corpus", "both", "--out", out, "--force"])
        results["word2vec"] = rep
        if code:
            failures.append("word2vec")

    if "recall" not in args.skip and importlib.util.find_spec("recall_models.train_cli"):
        _banner("3. YouTubeDNN with sampled softmax on MovieLens-100K, beside MostPop")
        code, pop = _run_command("recall_models", ["evaluate", "--model", "mostpop"])
        out = _fresh_dir(os.path.join(args.out, "youtubednn"))
        code2, ytb = _run_command("recall_models", ["train", "--model", "youtubednn",
                                                    "--out", out])
        results["recall"] = {"mostpop": pop, "youtubednn": ytb}
        if code or code2:
            failures.append("recall")
        if pop and ytb:
            _print_recall(pop, ytb)

    _banner(f"Done in {time.time() - t0:.0f} s" + (f"; FAILED: {failures}" if failures else ""))
    if args.json:
        print(json.dumps(results, default=str))
    return 1 if failures else 0


def _print_recall(pop: dict, ytb: dict) -> None:
    metrics = ["hr@10", "hr@50", "hr@100", "ndcg@10"]
    ytb_metrics = ytb.get("test", ytb)
    print(f"\n{'ML-100K test, history-filtered':<34}" + "".join(f"{m:>10}" for m in metrics))
    for name, rep in (("MostPop", pop), ("YouTubeDNN (sampled softmax)", ytb_metrics)):
        f = rep.get("filtered", {})
        print(f"{name:<34}" + "".join(f"{f.get(m, float('nan')):>10.4f}" for m in metrics))
