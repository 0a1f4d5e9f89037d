"""docs/keras.md runs: its ```python blocks, executed in order in one namespace.

The guide's own asserts are the checks (full-softmax evaluation equals numpy, a reloaded
model predicts and trains exactly as the original, the SavedModel serves the logits).
"""
import pathlib
import re

import pytest

GUIDE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "keras.md"


def blocks():
    return re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(encoding="utf-8"),
                      flags=re.S | re.M)


def test_the_guide_has_examples_for_each_section():
    code = "\n".join(blocks())
    for needle in ("def train_step", "w2v_tf.sampled_softmax_loss", "keras.Model([h, y]",
                   "FixedUnigramSampler", "model.save(", "load_model", ".export(",
                   "HierarchicalSoftmax"):
        assert needle in code, needle


@pytest.mark.slow
def test_the_guide_examples_run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "docs_keras"}
    for i, code in enumerate(blocks()):
        exec(compile(code, f"{GUIDE.name}[block {i}]", "exec"), namespace)
