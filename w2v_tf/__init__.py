"""Sampled softmax, NCE and negative sampling, reimplemented and checked against TensorFlow.

    from w2v_tf import compute_sampled_logits, nce_loss, sampled_softmax_loss, negative_sampling_loss

Names are imported lazily (PEP 562), so `python -m w2v_tf --help` and the command-line
dispatcher do not pay for importing TensorFlow until a command needs it.
"""
import importlib

_EXPORTS = {
    "SampledValues": "w2v_tf.sampled_logits",
    "compute_sampled_logits": "w2v_tf.sampled_logits",
    "nce_loss": "w2v_tf.losses",
    "sampled_softmax_loss": "w2v_tf.losses",
    "negative_sampling_loss": "w2v_tf.losses",
    "sampled_logistic_loss": "w2v_tf.losses",
    "full_softmax_loss": "w2v_tf.losses",
    "full_logistic_loss": "w2v_tf.losses",
    "full_logits": "w2v_tf.losses",
    "LOSSES": "w2v_tf.losses",
    "SampledSoftmaxLayer": "w2v_tf.layers",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'w2v_tf' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
