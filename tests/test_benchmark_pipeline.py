"""benchmarks/pipeline.py runs end to end and reports what the README quotes."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "pipeline.py")


def _run(*args, timeout=600):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.mark.slow
def test_pipeline_benchmark_sweep_json():
    """Two batch sizes in one run: each has the headline ratio, the made-batches floor and
    every variant; the batch-independent rows are reported once."""
    out = _run("--quick", "--batch-sizes", "256,2048", "--repeats", "1", "--epochs", "1",
               "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["batch_sizes"] == [256, 2048] and report["goal_ratio"] == 50
    ratios = report["ratio_over_legacy"]
    assert ratios["legacy loop"] == 1.0 and ratios["numpy arrays"] > 0
    for b in ("256", "2048"):
        row = ratios["by_batch"][b]
        assert set(row) == {"tf.data centres", "tf.data pairs", "tf.data corpus order",
                            "tf.data for-loop", "tf.data eager", "made batches (TF floor)"}
        assert all(v > 0 for v in row.values())
        assert report["headline_ratio"][b] == row["tf.data centres"]
        assert report["floor_ratio"][b] == row["made batches (TF floor)"]
    assert "batch 256:" in out.stdout and "batch 2048:" in out.stdout


@pytest.mark.parametrize("args, message", [
    (["--batch-sizes", "0,5"], "argument --batch-sizes: expected a comma-separated list"),
    (["--batch-sizes", "a"], "argument --batch-sizes: expected a comma-separated list"),
    (["--batch-size", "8", "--batch-sizes", "4"], "give --batch-size or --batch-sizes"),
    (["--batch-size", "0"], "must be >= 1"),
])
def test_pipeline_benchmark_bad_arguments(args, message):
    out = _run(*args, timeout=120)
    assert out.returncode == 2 and message in out.stderr
