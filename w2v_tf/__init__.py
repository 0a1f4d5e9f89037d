"""Sampled softmax, NCE and negative sampling, reimplemented and checked against TensorFlow.

    from w2v_tf import compute_sampled_logits, nce_loss, sampled_softmax_loss, negative_sampling_loss
"""
from w2v_tf.sampled_logits import SampledValues, compute_sampled_logits
from w2v_tf.losses import (LOSSES, full_logistic_loss, full_logits, full_softmax_loss,
                           nce_loss, negative_sampling_loss, sampled_logistic_loss,
                           sampled_softmax_loss)

__all__ = [
    "SampledValues", "compute_sampled_logits", "nce_loss", "sampled_softmax_loss",
    "negative_sampling_loss", "sampled_logistic_loss", "full_softmax_loss",
    "full_logistic_loss", "full_logits", "LOSSES",
]
