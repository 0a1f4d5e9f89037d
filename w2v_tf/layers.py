"""A Keras 3 layer that owns a class table and trains it with a candidate-sampling loss.

`tf.nn.sampled_softmax_loss(..., inputs=keras.Input(...))` fails in Keras 3 with "A
KerasTensor cannot be used as input to a TensorFlow function". Inside a layer's `call` the
inputs are real tensors, so the losses work there:

    h = keras.Input((dim,)); y = keras.Input((1,), dtype="int64", optional=True)
    out = SampledSoftmaxLayer(num_classes, num_sampled=64,
                              sampler=w2v_tf.sampling.LogUniformSampler(num_classes, seed=1))(h, y)
    model = keras.Model([h, y], out); model.compile("adam")   # no loss: the layer adds it
    model.fit([H, Y], validation_data=([H_val, Y_val],), epochs=...)
    model.evaluate([H_val, Y_val])      # loss = exact full-softmax cross-entropy
    model.predict([H, None])            # logits [N, num_classes], no labels needed
    model.save("m.keras"); keras.models.load_model("m.keras")      # no custom_objects

What the layer returns and which loss Keras sees (`docs/keras.md` shows each workflow):

| call                          | returns                   | added with `add_loss`           |
|-------------------------------|---------------------------|---------------------------------|
| `training=True`, labels given | training loss `[B]`       | its mean (the sampled estimate) |
| otherwise, labels given       | logits `[B, num_classes]` | mean exact `eval_loss`          |
| no labels (`None`)            | logits `[B, num_classes]` | nothing                         |

So `fit` reports the (sampled) training loss as `loss`, while `evaluate` and the `val_loss`
of `fit` report the exact loss over all classes, by default the full softmax cross-entropy
`-log softmax(x W^T + b)_y`: the evaluation TensorFlow's documentation of
`tf.nn.sampled_softmax_loss` recommends, since the sampled loss underestimates it. It does
not depend on the sampler, so runs with different samplers and losses compare on it.

XLA. Keras compiles `fit` with XLA by itself where it can (`jit_compile="auto"`: on a GPU).
Our samplers in `w2v_tf.sampling` compile; TensorFlow's candidate-sampler kernels
(`sampler=None`, the `tf.nn` default) do not (tensorflow/tensorflow#32240). With
`sampler=None` the layer therefore sets `supports_jit = False`: Keras then runs `fit` without
XLA (it warns and turns XLA off even for `compile(jit_compile=True)`), and a hand-written
`tf.function(jit_compile=True)` around the layer raises a `ValueError` that says what to pass.
"""
from __future__ import annotations

import inspect
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from w2v_tf import losses as _losses
from w2v_tf import sampling as _sampling
from w2v_tf.sampled_logits import _in_xla

SAMPLED_LOSSES = ("sampled_softmax", "nce", "neg", "sampled_logistic")
FULL_LOSSES = ("softmax", "full_logistic")
EVAL_LOSSES = ("softmax", "full_logistic")


def check_sampler(sampler, num_classes):
    """The `sampler` argument, checked: None, a `CandidateSampler`, or a labels-only callable.

    A Keras config dict (what `get_config` wrote) is deserialised first.

    Raises:
        ValueError: not a sampler, or a sampler over another number of classes.
    """
    if isinstance(sampler, dict):
        sampler = keras.saving.deserialize_keras_object(sampler)
    if sampler is None:
        return None
    if isinstance(sampler, _sampling.CandidateSampler):
        if sampler.range_max != num_classes:
            raise ValueError(f"`sampler` draws from range_max={sampler.range_max} classes but "
                             f"num_classes={num_classes}; expected the same number.")
        return sampler
    if not callable(sampler) or isinstance(sampler, (str, bytes, type)):
        raise ValueError(
            f"`sampler` must be None (TensorFlow's log-uniform sampler), a "
            f"w2v_tf.sampling.CandidateSampler, or a callable labels [B, num_true] -> "
            f"(sampled [S], true_expected_count [B, num_true], sampled_expected_count [S]); "
            f"got {sampler!r} ({type(sampler).__name__}).")
    required = _required_positional(sampler)
    if required is not None and required != 1:
        raise ValueError(
            f"`sampler` {getattr(sampler, '__name__', sampler)!r} takes {required} required "
            "positional arguments; a callable sampler takes the labels only. For TensorFlow's "
            "function-style samplers (labels, num_true, num_sampled, unique, range_max) pass "
            f"the sampler object instead, e.g. w2v_tf.sampling.LogUniformSampler({num_classes}"
            ", seed=...).")
    range_max = getattr(sampler, "num_items", getattr(sampler, "range_max", num_classes))
    if int(range_max) != num_classes:
        raise ValueError(f"`sampler` draws from {range_max} classes but num_classes="
                         f"{num_classes}; expected the same number.")
    return sampler


def _check_count(name, value):
    """`value` is an integer >= 1 (numpy integers too; not bool, not 2.5)."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer))
            or value < 1):
        raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")


def _required_positional(fn):
    """How many positional arguments `fn` requires, or None if Python cannot tell."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               for p in params)


@keras.saving.register_keras_serializable(package="w2v_tf")
class SampledSoftmaxLayer(keras.layers.Layer):
    """Class table `W [num_classes, dim]`, `b [num_classes]` with a sampled training loss.

    Args:
      num_classes: number of classes C (rows of the table).
      num_sampled: negatives per batch S (shared by all rows, as in `tf.nn`).
      loss: one of "sampled_softmax", "nce", "neg" (word2vec's negative sampling, no log-Q),
        "sampled_logistic", or the full losses "softmax", "full_logistic" (no sampling).
      num_true: true classes per example.
      sampler: where the S negatives come from (unused by the full losses):
        * None: TensorFlow's `tf.random.log_uniform_candidate_sampler` (the `tf.nn`
          default; ids must be sorted by decreasing frequency; cannot be XLA-compiled).
        * a `w2v_tf.sampling.CandidateSampler` over `range_max = num_classes`
          (`UniformSampler`, `LogUniformSampler`, `FixedUnigramSampler`,
          `LearnedUnigramSampler`): called as TensorFlow calls its samplers,
          `sampler(labels, num_true, num_sampled, unique)`. Seeded, XLA-compilable, and
          saved with the model (its configuration in the config, its generator state and
          learned counts with the weights), so a reloaded model draws what the original
          would have drawn next.
        * a callable `labels int64 [B, num_true] -> (sampled_candidates int64 [S],
          true_expected_count float32 [B, num_true], sampled_expected_count float32 [S])`,
          e.g. `recall_models.models.samplers`; to save the model it must be
          Keras-serialisable (`get_config`, registered).
      unique: draw S distinct classes (TensorFlow's default); for a `CandidateSampler`.
      remove_accidental_hits: None keeps each loss's default.
      use_bias: learn a bias per class.
      kernel_initializer, bias_initializer: Keras initialisers for W and b.
      seed: op seed of TensorFlow's sampler (`sampler=None`).
      eval_loss: the exact loss added outside training when labels are given (what
        `evaluate` and `val_loss` report): "softmax" (full softmax cross-entropy, default)
        or "full_logistic" (binary cross-entropy over all classes).

    Call args:
      inputs: `[B, dim]` float.
      labels: int `[B, num_true]` or `[B]` (int32/int64), or None for logits only.
      training: Keras' training flag.
      sample_weight: optional float `[B]` (or `[B, 1]`), a weight per example: the added loss
        is then mean_b w_b loss_b. Pass it here, as a model input: `fit(sample_weight=...)`
        and `class_weight` reach only losses given to `compile`, never one added with
        `add_loss`, so Keras would ignore them for this layer.

    Returns:
      training with labels: the per-example training loss `[B]`; otherwise the logits
      `[B, num_classes]` = x W^T + b (module docstring's table).

    Hook: `table()` returns the `[num_classes, dim]` table that the loss and the logits use
    (default: the kernel). A subclass overrides it to supply another table, e.g. L2-normalised
    rows (`recall_models.models.youtubednn.ItemSoftmax`) or rows shared with an embedding;
    its row count must be `num_classes` (checked).

    Raises:
      ValueError: at construction for a bad `loss`, `num_classes`, `num_sampled`, `sampler`
        or `eval_loss`; at build (model construction) for labels that are not integers or
        not `[B, num_true]`, inputs that are not `[B, dim]`, or a table that is not
        `[num_classes, dim]`.
    """

    def __init__(self, num_classes: int, num_sampled: int = 64, loss: str = "sampled_softmax",
                 num_true: int = 1, sampler=None, unique: bool = True,
                 remove_accidental_hits: Optional[bool] = None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 seed: Optional[int] = None, eval_loss: str = "softmax", **kwargs):
        super().__init__(**kwargs)
        if loss not in SAMPLED_LOSSES + FULL_LOSSES:
            raise ValueError(f"`loss` must be one of {SAMPLED_LOSSES + FULL_LOSSES}, got {loss!r}.")
        if eval_loss not in EVAL_LOSSES:
            raise ValueError(f"`eval_loss` must be one of {EVAL_LOSSES}, got {eval_loss!r}.")
        _check_count("num_classes", num_classes)
        _check_count("num_true", num_true)
        if loss in SAMPLED_LOSSES:
            _check_count("num_sampled", num_sampled)
            if sampler is None and unique and num_sampled > num_classes:
                raise ValueError(f"`num_sampled`={num_sampled} is larger than num_classes="
                                 f"{num_classes}; the default sampler draws unique classes, so "
                                 "it needs num_sampled <= num_classes.")
        self.num_classes = int(num_classes)
        self.num_sampled = int(num_sampled)
        self.loss_name = loss
        self.eval_loss = eval_loss
        self.num_true = int(num_true)
        self.sampler = check_sampler(sampler, self.num_classes)
        self.unique = bool(unique)
        self.remove_accidental_hits = remove_accidental_hits
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed = seed
        # TensorFlow's sampler kernels cannot be compiled: tell Keras (jit_compile="auto").
        self.supports_jit = self.sampler is not None or loss in FULL_LOSSES

    # ------------------------------------------------------------------ weights
    def build(self, inputs_shape, labels_shape=None):
        dim = inputs_shape[-1]
        if dim is None:
            raise ValueError(f"`inputs` must have a known last dimension, got {inputs_shape}.")
        self.kernel = self.add_weight(shape=(self.num_classes, dim), name="kernel",
                                      initializer=self.kernel_initializer)
        self.bias = (self.add_weight(shape=(self.num_classes,), name="bias",
                                     initializer=self.bias_initializer)
                     if self.use_bias else None)

    def table(self):
        """The class table `[num_classes, dim]` the loss and the logits use (the hook)."""
        return self.kernel

    def _checked_table(self, inputs):
        if not self.built:              # `training_loss`, `logits`, ... called before `call`
            self.build(tuple(inputs.shape))
        table = self.table()
        rows, dim = table.shape[0], table.shape[-1]
        if (rows is not None and rows != self.num_classes) or (
                dim is not None and inputs.shape[-1] is not None and dim != inputs.shape[-1]):
            raise ValueError(f"`table()` has shape {tuple(table.shape)}; expected "
                             f"[num_classes, dim] = [{self.num_classes}, {inputs.shape[-1]}].")
        return table

    def save_own_variables(self, store):
        """Weights, then the sampler's state (generator state, learned counts) if it has one."""
        super().save_own_variables(store)
        for i, v in enumerate(self._sampler_state()):
            store[f"sampler_{i}"] = np.asarray(v.numpy())

    def load_own_variables(self, store):
        state = self._sampler_state()
        own = {k: store[k] for k in store.keys() if not k.startswith("sampler_")}
        super().load_own_variables(own)
        saved = [k for k in store.keys() if k.startswith("sampler_")]
        if len(saved) != len(state):
            raise ValueError(f"Layer {self.name!r}: the file holds {len(saved)} sampler state "
                             f"variables but the sampler has {len(state)}; expected the "
                             "sampler the model was saved with.")
        for i, v in enumerate(state):
            v.assign(store[f"sampler_{i}"])

    def _sampler_state(self):
        """The variables a `CandidateSampler` draws from: generator state, learned counts."""
        if not isinstance(self.sampler, _sampling.CandidateSampler):
            return []
        return [self.sampler.rng.state] + list(self.sampler.variables)

    # ------------------------------------------------------------------ forward
    def sample(self, labels):
        """`SampledValues` for int64 `labels [B, num_true]`, or None for TF's default sampler."""
        if self.sampler is None:
            if _in_xla():
                raise ValueError(
                    "`sampler=None` uses TensorFlow's log_uniform_candidate_sampler, which XLA "
                    "cannot compile; pass sampler=w2v_tf.sampling.LogUniformSampler("
                    f"{self.num_classes}, seed=...) (the same distribution, compilable) or "
                    "run without jit_compile.")
            return None
        if isinstance(self.sampler, _sampling.CandidateSampler):
            return self.sampler(labels, self.num_true, self.num_sampled, self.unique)
        return self.sampler(labels)

    def training_loss(self, inputs, labels):
        """Per-example loss `[B]` for `inputs [B, dim]` and `labels [B, num_true]` (or `[B]`)."""
        labels = self._labels(labels)
        sampled = self.loss_name in SAMPLED_LOSSES
        kwargs = {}
        if self.remove_accidental_hits is not None:
            kwargs["remove_accidental_hits"] = self.remove_accidental_hits
        return _losses.LOSSES[self.loss_name](
            self._checked_table(inputs), self.bias, labels, inputs, self.num_sampled,
            self.num_classes, num_true=self.num_true,
            sampled_values=self.sample(labels) if sampled else None, seed=self.seed, **kwargs)

    def full_loss(self, inputs, labels):
        """The exact `eval_loss` per example, `[B]`, over all `num_classes` classes."""
        fn = _losses.full_softmax_loss if self.eval_loss == "softmax" else \
            _losses.full_logistic_loss
        return fn(self._checked_table(inputs), self.bias, self._labels(labels), inputs,
                  num_classes=self.num_classes, num_true=self.num_true)

    def logits(self, inputs):
        """Full logits `[B, num_classes]` = inputs table^T + b."""
        return _losses.full_logits(self._checked_table(inputs), self.bias, inputs)

    def call(self, inputs, labels=None, training=None, sample_weight=None):
        if labels is not None and training:
            loss = self.training_loss(inputs, labels)
            self.add_loss(self._weighted_mean(loss, sample_weight))
            return loss
        if labels is not None:
            self.add_loss(self._weighted_mean(self.full_loss(inputs, labels), sample_weight))
        return self.logits(inputs)

    @staticmethod
    def _weighted_mean(loss, sample_weight):
        """mean_b w_b loss_b (Keras' "sum_over_batch_size": divided by B, not by sum w)."""
        if sample_weight is None:
            return tf.reduce_mean(loss)
        w = tf.convert_to_tensor(sample_weight)
        if w.shape.rank is not None and not (w.shape.rank == 1 or
                                             w.shape.rank == 2 and w.shape[1] in (1, None)):
            raise ValueError(f"`sample_weight` must have shape [batch_size] or [batch_size, 1], "
                             f"got {w.shape}.")
        return tf.reduce_mean(tf.reshape(tf.cast(w, loss.dtype), [-1]) * loss)

    def _labels(self, labels):
        labels = tf.convert_to_tensor(labels)
        self._check_label_spec(labels.shape, labels.dtype)
        labels = tf.cast(labels, tf.int64)
        return labels[:, None] if labels.shape.rank == 1 else labels

    def _check_label_spec(self, shape, dtype):
        if not tf.as_dtype(dtype).is_integer:
            raise ValueError(f"`labels` must be integer class ids (int32/int64), got dtype "
                             f"{tf.as_dtype(dtype).name}; e.g. keras.Input((1,), "
                             "dtype='int64').")
        shape = tuple(shape)
        ok = len(shape) == 1 and self.num_true == 1 or (
            len(shape) == 2 and shape[1] in (None, self.num_true))
        if not ok:
            raise ValueError(f"`labels` must have shape [batch_size, num_true={self.num_true}]"
                             f" (or [batch_size] when num_true is 1), got {shape}.")

    def compute_output_spec(self, inputs, labels=None, training=None, sample_weight=None):
        if len(inputs.shape) != 2:
            raise ValueError(f"`inputs` must have shape [batch_size, dim], got {inputs.shape}.")
        if labels is not None:
            self._check_label_spec(labels.shape, labels.dtype)
            if training:
                return keras.KerasTensor((inputs.shape[0],), dtype=self.compute_dtype)
        return keras.KerasTensor((inputs.shape[0], self.num_classes), dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, num_sampled=self.num_sampled,
                      loss=self.loss_name, num_true=self.num_true,
                      sampler=(None if self.sampler is None else
                               keras.saving.serialize_keras_object(self.sampler)),
                      unique=self.unique, remove_accidental_hits=self.remove_accidental_hits,
                      use_bias=self.use_bias, seed=self.seed, eval_loss=self.eval_loss,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer))
        return config
