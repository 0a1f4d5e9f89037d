"""A Keras 3 layer that owns a class table and trains it with a candidate-sampling loss.

`tf.nn.sampled_softmax_loss(..., inputs=keras.Input(...))` fails in Keras 3 with "A
KerasTensor cannot be used as input to a TensorFlow function". Inside a layer's `call` the
inputs are real tensors, so the losses work there:

    h = keras.Input((dim,)); y = keras.Input((1,), dtype="int64")
    out = SampledSoftmaxLayer(num_classes, num_sampled=64)(h, y)
    model = keras.Model([h, y], out); model.compile("adam")   # no loss: the layer adds it
    model.fit([H, Y], epochs=...)

With `training=True` (inside `fit`) the layer returns the per-example training loss `[B]` and
adds its mean with `add_loss`; otherwise it returns the full logits `[B, num_classes]`, which
is what evaluation and serving need (sampled losses underestimate the full loss).
"""
from __future__ import annotations

from typing import Callable, Optional

import keras
import tensorflow as tf

from w2v_tf import losses as _losses

SAMPLED_LOSSES = ("sampled_softmax", "nce", "neg", "sampled_logistic")
FULL_LOSSES = ("softmax", "full_logistic")


class SampledSoftmaxLayer(keras.layers.Layer):
    """Class table `W [num_classes, dim]`, `b [num_classes]` with a sampled training loss.

    Args:
      num_classes: number of classes C (rows of the table).
      num_sampled: negatives per batch S (shared by all rows, as in `tf.nn`).
      loss: one of "sampled_softmax", "nce", "neg" (word2vec's negative sampling, no log-Q),
        "sampled_logistic", or the full losses "softmax", "full_logistic" (no sampling).
      num_true: true classes per example.
      sampler: a callable `labels [B, num_true] int64 -> (sampled [S], true_expected_count
        [B, num_true], sampled_expected_count [S])`, e.g. from `w2v_tf.sampling`; None uses
        TensorFlow's log-uniform sampler (ids must be sorted by decreasing frequency).
      remove_accidental_hits: None keeps each loss's default.
      use_bias: learn a bias per class.
      kernel_initializer, bias_initializer: Keras initialisers for W and b.
      seed: op seed of the default sampler.
    """

    def __init__(self, num_classes: int, num_sampled: int = 64, loss: str = "sampled_softmax",
                 num_true: int = 1, sampler: Optional[Callable] = None,
                 remove_accidental_hits: Optional[bool] = None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 seed: Optional[int] = None, **kwargs):
        super().__init__(**kwargs)
        if loss not in SAMPLED_LOSSES + FULL_LOSSES:
            raise ValueError(f"`loss` must be one of {SAMPLED_LOSSES + FULL_LOSSES}, got {loss!r}.")
        if int(num_classes) < 1:
            raise ValueError(f"`num_classes` must be >= 1, got {num_classes}.")
        if loss in SAMPLED_LOSSES and not 1 <= int(num_sampled):
            raise ValueError(f"`num_sampled` must be >= 1, got {num_sampled}.")
        self.num_classes = int(num_classes)
        self.num_sampled = int(num_sampled)
        self.loss_name = loss
        self.num_true = int(num_true)
        self.sampler = sampler
        self.remove_accidental_hits = remove_accidental_hits
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed = seed

    def build(self, inputs_shape, labels_shape=None):
        dim = inputs_shape[-1]
        self.kernel = self.add_weight(shape=(self.num_classes, dim), name="kernel",
                                      initializer=self.kernel_initializer)
        self.bias = (self.add_weight(shape=(self.num_classes,), name="bias",
                                     initializer=self.bias_initializer)
                     if self.use_bias else None)

    def training_loss(self, inputs, labels):
        """Per-example loss `[B]` for `inputs [B, dim]` and `labels [B, num_true]` (or `[B]`)."""
        labels = tf.cast(labels, tf.int64)
        if labels.shape.rank == 1:
            labels = labels[:, None]
        fn = _losses.LOSSES[self.loss_name]
        kwargs = {}
        if self.remove_accidental_hits is not None:
            kwargs["remove_accidental_hits"] = self.remove_accidental_hits
        sampled_values = None
        if self.sampler is not None and self.loss_name in SAMPLED_LOSSES:
            sampled_values = self.sampler(labels)
        return fn(self.kernel, self.bias, labels, inputs, self.num_sampled, self.num_classes,
                  num_true=self.num_true, sampled_values=sampled_values, seed=self.seed,
                  **kwargs)

    def logits(self, inputs):
        """Full logits `[B, num_classes]` = inputs W^T + b."""
        return _losses.full_logits(self.kernel, self.bias, inputs)

    def call(self, inputs, labels=None, training=None):
        if training and labels is not None:
            loss = self.training_loss(inputs, labels)
            self.add_loss(tf.reduce_mean(loss))
            return loss
        return self.logits(inputs)

    def compute_output_spec(self, inputs, labels=None, training=None):
        return keras.KerasTensor((inputs.shape[0], self.num_classes), dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, num_sampled=self.num_sampled,
                      loss=self.loss_name, num_true=self.num_true,
                      remove_accidental_hits=self.remove_accidental_hits,
                      use_bias=self.use_bias, seed=self.seed,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer))
        return config
