"""benchmarks/word2vec_vs_gensim.py runs end to end and reports what the README quotes."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_word2vec_vs_gensim_quick_json(tmp_path):
    """One copy of the corpus, one seed, one epoch, CBOW: both sides train, the JSON line has
    the ratios, each run's wall/CPU seconds and our warm-up (trace + XLA compile) seconds."""
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "word2vec_vs_gensim.py"), "--quick",
         "--epochs", "1", "--archs", "cbow", "--json", "--out", str(tmp_path / "r.json")],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert json.loads((tmp_path / "r.json").read_text()) == report      # --out: the same report
    assert report["epochs"] == 1 and report["seeds"] == [1]
    cbow = report["results"]["cbow"]
    assert cbow["speed_ratio_wall"] > 0 and cbow["speed_ratio_cpu"] > 0
    ours, gensim = cbow["ours"]["runs"][0], cbow["gensim"]["runs"][0]
    assert ours["words"] == gensim["words"]               # the same numerator for both
    assert 0 < ours["warm_up_s"] < ours["wall_s"] and gensim["warm_up_s"] == 0
    assert -1 <= ours["wordsim353_spearman"] <= 1
