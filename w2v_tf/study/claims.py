"""What each loss learns, said once: the claims the docstrings and notebooks quote.

Each claim names a row of the table experiment (`w2v_tf.study.table.ROWS` or `VARIANT_ROWS`,
measured by `python -m w2v_tf table --variants`) and the target column it converges to
(`table.TARGETS`); `learns` is that column's formula as the table prints it. `PHRASES` are
the sentences that say it in words; `QUOTED_IN` lists the files that must contain each
phrase verbatim (whitespace and comment markers aside), and `RETRACTED` the earlier
statements the experiment contradicts, which no file may contain. `tests/test_claims.py`
checks all of it, so a docstring or notebook cannot drift from the measured table.

The derivation is in `w2v_tf/study/table.py`; in short, with P = P(y|x), Q the proposal and
k samples, the per-cell optimum of a logistic loss solves e^o = P / N, where o is the logit
(minus log kQ when log Q is subtracted) and N the expected negative count, kQ with hits kept
or kQ(1 - P) with hits (the target) skipped.
"""
from __future__ import annotations

# loss row -> (row of the table experiment, its target column, the formula it learns)
CLAIMS = {
    "nce": ("nce", "log_p", "log P"),
    "neg": ("neg", "log_p_over_kq_1mp", "log P/kQ(1-P)"),
    "neg_keep_hits": ("neg_keep_hits", "log_p_over_kq", "log P/kQ"),
    "sampled_logistic": ("sampled_logistic", "log_odds", "log P/(1-P)"),
    "full_logistic": ("full_logistic", "log_odds", "log P/(1-P)"),
    "softmax": ("softmax", "log_p_plus_k", "log P + K(x)"),
    "sampled_softmax": ("sampled_softmax", "ssm_optimum", "SSM opt + K"),
    "sampled_softmax_keep_hits": ("sampled_softmax_keep_hits", "log_p_plus_k", "log P + K(x)"),
}

PHRASES = {
    "neg": ("negative sampling learns log P/kQ with hits kept and log P/kQ(1-P) with the "
            "target skipped"),
    "nce": "NCE learns log P",
    "sampled_softmax": ("sampled softmax with hits removed has its own biased optimum, not "
                        "log P + K(x); with hits kept it learns log P + K(x) up to O(1/k)"),
    "logistic": "sampled and full logistic learn the log-odds log P/(1-P)",
}

# file (relative to the repository root) -> the phrases it must quote
QUOTED_IN = {
    "w2v_tf/losses.py": ("neg", "nce", "sampled_softmax", "logistic"),
    "w2v_tf/sampled_logits.py": ("neg",),
    "notebooks/src/05_compute_sampled_logits.py": ("neg",),
    "notebooks/src/07_what_each_loss_learns.py": ("neg", "nce", "sampled_softmax", "logistic"),
    "notebooks/src/12_choosing_a_loss.py": ("neg", "sampled_softmax"),
}

# statements the table experiment contradicts (file -> substrings that must not appear)
RETRACTED = {
    "w2v_tf/losses.py": ("log P(y|x) - log Q(y)",),
    "w2v_tf/sampled_logits.py": ("learn log(P/Q)",),
    "notebooks/src/07_what_each_loss_learns.py": ("notebook 12 measures this on MovieLens",),
    "notebooks/src/12_choosing_a_loss.py": (
        "(NCE, NEG, sampled/full logistic\n# with targets 1/0 per label) have optimum",
        "estimates the softmax gradient (notebook 4) and learns $\\log P + K(x)$;"),
    "notebooks/src/05_compute_sampled_logits.py": (
        "we overwrite with `where`/`tensor_scatter_nd_update` after the $\\log Q$ step",),
}


def learns(loss: str) -> str:
    """The formula `loss` (a key of `CLAIMS`) learns, as the table prints its target."""
    return CLAIMS[loss][2]
