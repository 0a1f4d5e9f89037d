"""Every Keras workflow with `SampledSoftmaxLayer`, as a Keras user would try them.

fit with validation_data / validation_split, evaluate (the exact full-softmax
cross-entropy, oracle: numpy), predict without labels, save to .keras and load without
custom_objects (identical predictions; a reloaded model trains exactly as the original
goes on), export to a SavedModel that serves logits, XLA (our samplers compile and draw
what the graph path draws; TensorFlow's cannot: Keras falls back, a hand-made XLA function
raises), compute_output_spec against call, serialisable samplers, bad input.
Tiny sizes: C = 30 classes, dim 6, 96 examples.
"""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from w2v_tf import sampled_softmax_loss, sampling
from w2v_tf.layers import SampledSoftmaxLayer

C, D, N = 30, 6, 96


def _data(seed=0, num_true=1):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(C, D)).astype(np.float32)
    x = rng.normal(size=(N, D)).astype(np.float32)
    y = np.argsort(-(x @ w.T), axis=1)[:, :num_true].astype(np.int64)
    return x, y


def _model(sampler=None, loss="sampled_softmax", num_true=1, jit_compile=False, **kw):
    keras.utils.set_random_seed(0)
    h = keras.Input((D,), name="h")
    y = keras.Input((num_true,), dtype="int64", name="y", optional=True)
    layer = SampledSoftmaxLayer(C, num_sampled=5, loss=loss, num_true=num_true,
                                sampler=sampler, bias_initializer="random_normal", name="out",
                                **kw)
    model = keras.Model([h, y], layer(h, y))
    model.compile(keras.optimizers.Adam(0.05), jit_compile=jit_compile)
    return model


def _samplers():
    return {"tf": None, "log_uniform": sampling.LogUniformSampler(C, seed=1),
            "fixed_unigram": sampling.FixedUnigramSampler(C, unigrams=np.arange(C, 0, -1),
                                                          distortion=0.75, seed=2),
            "learned_unigram": sampling.LearnedUnigramSampler(C, seed=3)}


def _full_xent(logits, y):
    """numpy -log softmax(logits)_y averaged over labels and rows (float64)."""
    z = logits.astype(np.float64)
    log_p = z - z.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    return float(-np.take_along_axis(log_p, y, 1).mean())


SLOW = pytest.mark.slow


@pytest.mark.parametrize("name", ["tf", "log_uniform", pytest.param("fixed_unigram", marks=SLOW),
                                  pytest.param("learned_unigram", marks=SLOW)])
def test_the_issue_workflows_all_work(tmp_path, name):
    x, y = _data()
    model = _model(_samplers()[name])
    hist = model.fit([x, y], validation_data=([x, y],), epochs=2, batch_size=32, verbose=0)
    assert set(hist.history) == {"loss", "val_loss"}
    hist = model.fit([x, y], validation_split=0.25, batch_size=32, verbose=0)
    assert np.isfinite(hist.history["val_loss"]).all()
    logits = model.predict([x, None], verbose=0)                            # no labels
    assert logits.shape == (N, C)
    # evaluate and val_loss: the exact full-softmax cross-entropy of the predicted logits
    result = model.evaluate([x, y], batch_size=N, verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(_full_xent(logits, y), rel=1e-5)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)                                  # no custom_objects
    np.testing.assert_array_equal(loaded.predict([x, None], verbose=0), logits)
    got, want = loaded.get_layer("out").get_config(), model.get_layer("out").get_config()
    assert got == want and got["loss"] == "sampled_softmax" and got["num_sampled"] == 5
    assert type(loaded.get_layer("out").sampler) is type(model.get_layer("out").sampler)


@pytest.mark.parametrize("name, loss", [("log_uniform", "nce"),
                                        pytest.param("learned_unigram", "neg", marks=SLOW)])
def test_a_reloaded_model_trains_exactly_as_the_original_goes_on(tmp_path, name, loss):
    x, y = _data(1)
    model = _model(_samplers()[name], loss=loss)
    model.fit([x, y], batch_size=32, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    sampler, restored = model.get_layer("out").sampler, loaded.get_layer("out").sampler
    # the generator state (and learned counts) came back, not a fresh stream of the seed
    np.testing.assert_array_equal(restored.rng.state.numpy(), sampler.rng.state.numpy())
    fresh = type(sampler).from_config(sampler.get_config())
    assert not np.array_equal(fresh.rng.state.numpy(), sampler.rng.state.numpy())
    for v, w in zip(sampler.variables, restored.variables):
        np.testing.assert_array_equal(v.numpy(), w.numpy())
    model.fit([x, y], batch_size=32, shuffle=False, verbose=0)
    loaded.fit([x, y], batch_size=32, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_evaluate_reports_the_exact_loss_chosen_by_eval_loss():
    x, y = _data(2, num_true=2)
    for eval_loss in ("softmax", "full_logistic"):
        model = _model(sampling.UniformSampler(C, seed=0), loss="nce", num_true=2,
                       eval_loss=eval_loss)
        logits = model.predict([x, None], verbose=0).astype(np.float64)
        targets = np.zeros_like(logits)
        np.put_along_axis(targets, y, 0.5, axis=1)                        # 1/num_true each
        if eval_loss == "softmax":
            z = logits - logits.max(1, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
            want = -(targets * log_p).sum(1).mean()
        else:   # sum over classes of binary cross-entropy
            want = (np.maximum(logits, 0) - logits * targets
                    + np.log1p(np.exp(-np.abs(logits)))).sum(1).mean()
        got = model.evaluate([x, y], batch_size=N, verbose=0)
        assert got == pytest.approx(want, rel=1e-5)


def test_export_serves_logits(tmp_path):
    x, y = _data()
    model = _model(sampling.LogUniformSampler(C, seed=1))
    model.fit([x, y], batch_size=32, verbose=0)
    # A serving model on the same layer takes features only; export it.
    serving = keras.Model(model.get_layer("h").output,
                          model.get_layer("out")(model.get_layer("h").output))
    serving.export(tmp_path / "saved", verbose=False)
    saved = tf.saved_model.load(str(tmp_path / "saved"))
    served = saved.serve(tf.constant(x))
    np.testing.assert_allclose(served.numpy(), model.predict([x, None], verbose=0),
                               rtol=1e-6, atol=1e-6)
    # The two-input model exports too; the label input is accepted and ignored.
    model.export(tmp_path / "saved2", verbose=False)
    saved2 = tf.saved_model.load(str(tmp_path / "saved2"))
    served2 = saved2.serve([tf.constant(x), tf.constant(y)])
    np.testing.assert_allclose(served2.numpy(), served.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cls, unique", [
    (sampling.LogUniformSampler, True),
    pytest.param(sampling.LogUniformSampler, False, marks=SLOW),
    pytest.param(sampling.LearnedUnigramSampler, True, marks=SLOW),
    pytest.param(sampling.LearnedUnigramSampler, False, marks=SLOW)])
def test_our_samplers_draw_the_same_under_xla(cls, unique):
    """Unique sampling folds the chunk index into the seed with Philox; the default
    ("auto_select") algorithm of `stateless_fold_in` differs under XLA and gave other ids."""
    labels = tf.constant([[0], [3], [0]], tf.int64)
    draws = {}
    for jit in (False, True):
        sampler = cls(C, seed=7)
        step = tf.function(lambda: sampler(labels, 1, 6, unique), jit_compile=jit)
        draws[jit] = [[t.numpy() for t in step()] for _ in range(3)]
    for a, b in zip(draws[False], draws[True]):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("loss", ["sampled_softmax", pytest.param("nce", marks=SLOW),
                                  pytest.param("neg", marks=SLOW),
                                  pytest.param("sampled_logistic", marks=SLOW)])
def test_xla_training_with_our_sampler_equals_the_graph_path(loss):
    x, y = _data(3)
    y[:8] = 0                                 # frequent class: accidental hits happen
    weights = {}
    for jit in (False, True):
        model = _model(sampling.LogUniformSampler(C, seed=7), loss=loss, jit_compile=jit)
        assert model.jit_compile is jit
        model.fit([x, y], batch_size=32, epochs=2, shuffle=False, verbose=0)
        weights[jit] = model.get_weights()
    for a, b in zip(weights[False], weights[True]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_tensorflows_sampler_turns_xla_off_and_a_raw_xla_function_raises():
    x, y = _data()
    with pytest.warns(UserWarning, match="doesn't support `jit_compile=True`"):
        model = _model(None, jit_compile=True)
    assert model.jit_compile is False and not model.get_layer("out").supports_jit
    model.fit([x, y], batch_size=32, verbose=0)
    layer = model.get_layer("out")
    with pytest.raises(ValueError, match="XLA cannot compile.*LogUniformSampler"):
        tf.function(lambda a, b: layer(a, b, training=True), jit_compile=True)(x, y)
    assert _model(sampling.UniformSampler(C, seed=0)).get_layer("out").supports_jit


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("with_labels", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "mixed_float16"])
def test_compute_output_spec_matches_call(training, with_labels, dtype):
    x, y = _data()
    layer = SampledSoftmaxLayer(C, num_sampled=5, sampler=sampling.UniformSampler(C, seed=0),
                                dtype=dtype)
    labels = y[:7] if with_labels else None
    out = layer(x[:7], labels, training=training)
    spec = layer.compute_output_spec(keras.KerasTensor((7, D)),
                                     None if labels is None else
                                     keras.KerasTensor((7, 1), dtype="int64"),
                                     training=training)
    assert tuple(out.shape) == spec.shape and out.dtype.name == spec.dtype
    assert spec.shape == ((7,) if training and with_labels else (7, C))


def test_call_matches_the_functional_loss_with_the_same_draws():
    x, y = _data(4)
    sampler = sampling.LogUniformSampler(C, seed=5)
    layer = SampledSoftmaxLayer(C, num_sampled=5, sampler=sampler)
    layer.build(x.shape)
    twin = sampling.LogUniformSampler.from_config(sampler.get_config())
    got = layer(x, y, training=True)
    want = sampled_softmax_loss(layer.kernel, layer.bias, y, x, 5, C,
                                sampled_values=twin(y, 1, 5, True))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: sampling.UniformSampler(C, seed=11),
    lambda: sampling.LogUniformSampler(C, seed=11),
    lambda: sampling.FixedUnigramSampler(C, unigrams=np.arange(1, C - 1) ** 2.0,
                                         distortion=0.5, num_reserved_ids=2,
                                         seed=11),
    lambda: sampling.LearnedUnigramSampler(C, seed=11),
])
@pytest.mark.parametrize("unique", [False, True])
def test_samplers_serialise_config_in_same_draws_out(make, unique):
    original = make()
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(original)))
    copy = keras.saving.deserialize_keras_object(config)                  # registered names
    assert type(copy) is type(original) and copy.get_config() == original.get_config()
    labels = tf.constant([[3], [7], [3]], tf.int64)
    for _ in range(3):                                                    # the same stream
        a, b = original(labels, 1, 6, unique), copy(labels, 1, 6, unique)
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u.numpy(), v.numpy())


def test_a_vocab_file_sampler_serialises_its_counts(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("".join(f"w{i},{C - i}\n" for i in range(C)))
    original = sampling.FixedUnigramSampler(C, vocab_file=str(path), distortion=0.75, seed=4)
    config = original.get_config()
    path.unlink()                                   # the config does not need the file
    copy = sampling.FixedUnigramSampler.from_config(config)
    np.testing.assert_array_equal(copy.probabilities().numpy(),
                                  original.probabilities().numpy())


@pytest.mark.parametrize("sampler, match", [
    ("log_uniform", "`sampler` must be None"),
    (np.arange(5), "`sampler` must be None"),
    (sampling.UniformSampler(C + 1, seed=0), "`sampler` draws from range_max=31"),
    (sampling.log_uniform_candidate_sampler, "takes 5 required positional arguments"),
    (tf.random.log_uniform_candidate_sampler, "pass the sampler object instead"),
])
def test_a_sampler_that_is_not_a_sampler_is_a_value_error(sampler, match):
    with pytest.raises(ValueError, match=match):
        SampledSoftmaxLayer(C, num_sampled=5, sampler=sampler)


def test_bad_labels_and_tables_fail_at_model_construction():
    h = keras.Input((D,))
    with pytest.raises(ValueError, match="`labels` must be integer class ids.*float32"):
        SampledSoftmaxLayer(C, num_sampled=5)(h, keras.Input((1,)))      # float labels
    with pytest.raises(ValueError, match=r"`labels` must have shape \[batch_size, num_true=1\]"):
        SampledSoftmaxLayer(C, num_sampled=5)(h, keras.Input((3,), dtype="int64"))

    class Tied(SampledSoftmaxLayer):                  # a table of the wrong size via the hook
        def table(self):
            return self.kernel[:-1]
    with pytest.raises(ValueError, match=r"`table\(\)` has shape \(29, 6\); expected "
                                         r"\[num_classes, dim\] = \[30, 6\]"):
        Tied(C, num_sampled=5)(np.zeros((2, D), np.float32))
