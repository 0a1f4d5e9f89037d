"""Sampled softmax, NCE and negative sampling, reimplemented and checked against TensorFlow."""
