"""Parity of our sampled logits, losses and gradients with TensorFlow's, over the whole grid.

Each configuration of `w2v_tf.study.parity.grid()` (a pairwise covering of num_true 1..4 x log-Q
on/off x accidental hits on/off x six table kinds x biases on/off x int32/int64 labels x
float32/float64, plus default-sampler seed replays) is one test; `python -m w2v_tf parity
--full` runs the whole product; the oracle is TensorFlow's own
`nn_impl._compute_sampled_logits`, `tf.nn.*` and `tf.compat.v1.nn.*`.
"""
import numpy as np
import pytest
import tensorflow as tf

from w2v_tf.study import parity

CONFIGS = [pytest.param(c, id=parity.config_name(c).replace(" ", "_")) for c in parity.grid()]


@pytest.mark.parametrize("config", CONFIGS)
def test_matches_tensorflow(config):
    errors = parity.run_config(config)
    tol = parity.TOLERANCE[config["dtype"]]
    expected_keys = {"logits", "labels", "nce", "sampled_softmax", "grad_inputs[logits]",
                     "grad_weights[logits]"}
    assert expected_keys <= set(errors)
    assert any(k.startswith("grad_weights") for k in errors)
    bad = {k: v for k, v in errors.items() if not v <= tol}
    assert not bad, f"over tolerance {tol}: {bad}"


def test_grid_covers_every_pair_of_axis_values():
    grid = [c for c in parity.grid() if c["sampler"] == "given"]
    all_pairs = set().union(*(parity._pairs(c) for c in parity.grid(full=True)))
    covered = set().union(*(parity._pairs(c) for c in grid))
    assert covered == all_pairs
    assert len(grid) < len(parity.grid(full=True)) / 10
    assert {c["sampler"] for c in parity.grid()} == {"given", "default"}


@pytest.mark.parametrize("num_true", [1, 3])
def test_planted_hits_are_present(num_true):
    """The hits configurations really contain accidental hits (else they would test nothing)."""
    c = dict(num_true=num_true, subtract_log_q=True, remove_accidental_hits=True, table="tensor",
             biases=True, labels_dtype="int64", dtype="float32", sampler="given")
    _, _, _, _, labels, sv = parity._problem(c, seed=0)
    sampled = sv[0].numpy()
    hits = (labels[:, :, None] == sampled[None, None, :]).any(axis=1)
    assert hits.sum() >= 2
    assert len(set(sampled.tolist())) == len(sampled)


def test_error_measure_detects_differences():
    assert parity._err(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert parity._err(np.array([1.0, 2.0 + 1e-3]), np.array([1.0, 2.0])) > 1e-4
    assert parity._err(np.array([np.nan]), np.array([1.0])) == np.inf
    assert parity._err(np.zeros(2), np.zeros(3)) == np.inf
