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
    assert len(runs) >= 4
    for line in runs:
        script = re.search(r"benchmarks/(\w+)\.py", line).group(1)
        source = open(os.path.join(ROOT, "benchmarks", script + ".py")).read()
        if "savefig" in source or "json.dump(" in source:
            assert re.search(r"--out(-dir)? runs/bench\b", line), line
