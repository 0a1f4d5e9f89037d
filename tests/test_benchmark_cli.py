"""The benchmark scripts as a user meets them: `--help` at once, results where `--out-dir` says,
and `make bench` leaves the committed results alone."""
import glob
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = sorted(glob.glob(os.path.join(ROOT, "benchmarks", "*.py")))


def _run(script, *args, timeout=300):
    return subprocess.run([sys.executable, "-X", "importtime", script, *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_help_answers_before_tensorflow_loads(script):
    """Four scripts imported TensorFlow before parsing their flags (4-5 s for `--help`)."""
    out = _run(script, "--help")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("usage:")
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()}
    assert not {"tensorflow", "keras"} & imported


@pytest.mark.slow
def test_scaling_writes_where_out_dir_says(tmp_path):
    script = os.path.join(ROOT, "benchmarks", "scaling.py")
    committed = os.path.join(ROOT, "benchmarks", "results", "scaling.json")
    before = os.path.getmtime(committed)
    out = subprocess.run([sys.executable, script, "--sizes", "200", "--steps", "1", "--dim", "4",
                          "--batch", "8", "--num-sampled", "4", "--shards", "1",
                          "--out-dir", str(tmp_path), "--json"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    written = json.loads((tmp_path / "scaling.json").read_text())
    assert written == json.loads(out.stdout.strip().splitlines()[-1])
    assert [r["method"] for r in written["rows"]] == ["sampled", "full"]
    assert (tmp_path / "scaling.png").stat().st_size > 0
    assert os.path.getmtime(committed) == before


def test_make_bench_writes_outside_the_committed_results():
    """`make bench` (smoke runs) replaced the committed plots of the full runs, e.g.
    benchmarks/results/hierarchical_cost.png with a three-size plot."""
    recipe = subprocess.run(["make", "-n", "bench", "PY=python", "STAMP="], capture_output=True,
                            text=True, cwd=ROOT, check=True).stdout
    runs = [line for line in recipe.splitlines() if "benchmarks/" in line]
    assert len(runs) >= 7
    for line in runs:
        script = re.search(r"benchmarks/(\w+)\.py", line).group(1)
        source = open(os.path.join(ROOT, "benchmarks", script + ".py")).read()
        if re.search(r"[\"']results[\"']", source):       # writes to benchmarks/results/
            assert re.search(r"--out(-dir)? runs/bench\b", line), line


@pytest.mark.parametrize("script, args, message", [
    ("pipeline.py", ["--repeats", "0"], "--repeats and --legacy-tokens must be >= 1"),
    ("sampled_losses.py", ["--repeats", "0"], "--repeats must be >= 1, got 0"),
    ("sampled_losses.py", ["--given"], "--given only applies to --profile"),
    ("samplers.py", ["--first-call", "--quick"], "--quick do not apply"),
    ("word2vec_vs_gensim.py", ["--seeds", "0"], "--seeds must be >= 1"),
    ("word2vec_vs_gensim.py", ["--quick", "--archs", "foo"], "--archs must be a comma-separated"),
])
def test_flags_that_would_be_ignored_or_fail_late_are_refused(script, args, message):
    """Each was ignored (`--repeats 0` fell back to the default, `--first-call` dropped
    `--quick`) or failed after minutes (`--seeds 0`: ZeroDivisionError at the end)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", script), *args],
                         capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert out.returncode == 2 and message in out.stderr, out.stderr[-2000:]
    # samplers.py imports TensorFlow before this check: its start-up lines are dropped.
    assert "I0000" not in out.stderr and "absl::InitializeLog" not in out.stderr


@pytest.mark.slow
def test_hierarchical_cost_quick_keeps_the_sizes_given():
    script = os.path.join(ROOT, "benchmarks", "hierarchical_cost.py")
    out = subprocess.run([sys.executable, script, "--quick", "--vocab-sizes", "50", "100",
                          "--no-plot", "--json"], capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out.stdout.strip().splitlines()[-1])["rows"]
    assert [r["vocab_size"] for r in rows] == [50, 100]
    assert all(r["hs_us_per_example"] > 0 and r["softmax_us_per_example"] > 0 for r in rows)


def _recall_table(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "recall_table.py"),
                           "--report-only", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_recall_table_keeps_the_rows_it_did_not_measure(tmp_path):
    """`--rows mostpop --results FILE` replaced a 15-row table with one row, and a run that
    found nothing wrote `{}` over it."""
    results = tmp_path / "table.json"
    results.write_text(json.dumps({"random": {"f:hr@50": [0.03, 0.0], "seeds": 1}}))
    empty = _recall_table("--out", tmp_path / "none", "--results", results)
    assert empty.returncode == 2 and "nothing written" in empty.stderr
    assert json.loads(results.read_text())["random"]["seeds"] == 1
    runs = tmp_path / "runs"
    runs.mkdir()
    metrics = {m: 0.1 * k for k, m in enumerate(["hr@10", "hr@50", "hr@100", "ndcg@10"], 1)}
    (runs / "mostpop-0.json").write_text(json.dumps(
        {"test": {"filtered": metrics, "unfiltered": metrics}}))
    one = _recall_table("--rows", "mostpop", "--seeds", 0, "--out", runs, "--results", results)
    assert one.returncode == 0, one.stderr
    table = json.loads(results.read_text())
    assert set(table) == {"random", "mostpop"}
    assert table["mostpop"]["f:hr@50"] == [0.2, 0.0]
