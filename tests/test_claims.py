"""The claims of `w2v_tf.study.claims` agree with the table experiment and are quoted where
they are made (docstrings, notebook sources), and the statements they replaced are gone."""
import os
import re

import pytest

from w2v_tf.study import claims, table

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def _words(text):
    """Text with comment markers ('# ' of a notebook source) and line breaks folded away."""
    text = re.sub(r"(?m)^\s*#\s?", "", text)
    return " ".join(text.split())


@pytest.mark.parametrize("loss", list(claims.CLAIMS))
def test_claim_is_the_table_experiments_row_and_target(loss):
    row, target, formula = claims.CLAIMS[loss]
    rows = {**table.ROWS, **table.VARIANT_ROWS}
    assert row in rows, f"{row} is not a row of the table experiment"
    assert rows[row][2] == target, f"the table trains {row} towards {rows[row][2]}, not {target}"
    assert table.TARGETS[target][0] == formula
    assert row in table.TOLERANCE       # the experiment's test checks this row reaches it


def test_phrases_say_what_the_claims_say():
    p = claims.PHRASES
    assert f"learns {claims.learns('neg_keep_hits')} with hits kept" in p["neg"]
    assert f"{claims.learns('neg')} with the target skipped" in p["neg"]
    assert p["nce"].endswith(f"learns {claims.learns('nce')}")
    assert f"learn the log-odds {claims.learns('sampled_logistic')}" in p["logistic"]
    assert claims.learns("full_logistic") == claims.learns("sampled_logistic")
    assert "with hits removed has its own biased optimum" in p["sampled_softmax"]
    assert claims.CLAIMS["sampled_softmax"][1] == "ssm_optimum"
    assert f"with hits kept it learns {claims.learns('sampled_softmax_keep_hits')}" in \
        p["sampled_softmax"]


@pytest.mark.parametrize("path", list(claims.QUOTED_IN))
def test_sources_quote_the_claims(path):
    text = _words(_read(path))
    for key in claims.QUOTED_IN[path]:
        assert _words(claims.PHRASES[key]) in text, f"{path} does not quote claims.PHRASES[{key!r}]"


@pytest.mark.parametrize("path", list(claims.RETRACTED))
def test_retracted_statements_are_gone(path):
    text = _read(path)
    for old in claims.RETRACTED[path]:
        assert old not in text, f"{path} still says {old!r}"


def test_losses_table_column_is_the_claims():
    doc = _read("w2v_tf/losses.py")
    for fn, loss in (("nce_loss", "nce"), ("negative_sampling_loss", "neg"),
                     ("sampled_logistic_loss", "sampled_logistic"),
                     ("full_logistic_loss", "full_logistic"), ("full_softmax_loss", "softmax"),
                     ("sampled_softmax_loss", "sampled_softmax")):
        line = next(l for l in doc.splitlines() if l.startswith(f"| `{fn}`"))
        assert line.rstrip(" |").split("|")[-1].strip() == claims.learns(loss), line
