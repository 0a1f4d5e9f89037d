"""The Keras layer: trains inside `model.fit` with keras.Input (where tf.nn.* fails), returns
full logits outside training, and its training loss is the functional loss on its own table."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from w2v_tf import full_logits, negative_sampling_loss, sampled_softmax_loss
from w2v_tf.layers import FULL_LOSSES, SAMPLED_LOSSES, SampledSoftmaxLayer

V, D = 40, 8


def _data(n=2048, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(V, D)).astype(np.float32)
    x = rng.normal(size=(n, D)).astype(np.float32)
    y = np.argmax(x @ w.T, axis=1)[:, None].astype(np.int64)
    return x, y


def test_tf_nn_rejects_keras_tensors():
    h = keras.Input((D,))
    y = keras.Input((1,), dtype="int64")
    with pytest.raises(ValueError, match="KerasTensor"):
        tf.nn.sampled_softmax_loss(tf.zeros((V, D)), tf.zeros(V), y, h, 5, V)


@pytest.mark.parametrize("loss", SAMPLED_LOSSES + FULL_LOSSES)
def test_functional_model_fits_with_every_loss(loss):
    keras.utils.set_random_seed(0)
    x, y = _data()
    h = keras.Input((D,))
    lab = keras.Input((1,), dtype="int64")
    out = SampledSoftmaxLayer(V, num_sampled=10, loss=loss, seed=1)(h, lab)
    model = keras.Model([h, lab], out)
    model.compile(keras.optimizers.Adam(0.05))
    hist = model.fit([x, y], epochs=3, batch_size=256, verbose=0).history["loss"]
    assert hist[-1] < 0.95 * hist[0]
    logits = model.predict([x, y], verbose=0)
    assert logits.shape == (len(x), V)
    assert (logits.argmax(1) == y[:, 0]).mean() > 0.15     # chance is 1/40


def test_inference_returns_full_logits_and_training_the_sampled_loss():
    layer = SampledSoftmaxLayer(V, num_sampled=6, loss="neg", bias_initializer="random_normal")
    x, y = _data(16)
    logits = layer(x)
    np.testing.assert_allclose(logits.numpy(), full_logits(layer.kernel, layer.bias, x).numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(logits.numpy(),
                               x @ layer.kernel.numpy().T + layer.bias.numpy(), rtol=1e-5, atol=1e-5)
    sv = (np.arange(6), np.full((16, 1), 0.2, np.float32), np.full(6, 0.2, np.float32))
    layer.sampler = lambda labels: sv
    got = layer(x, y, training=True)
    want = negative_sampling_loss(layer.kernel, layer.bias, y, x, 6, V, sampled_values=sv)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    assert got.shape == (16,)


def test_sampler_callable_receives_labels():
    seen = []

    def sampler(labels):
        seen.append(labels.shape)
        return (tf.constant([1, 2, 3], tf.int64), tf.fill(tf.shape(labels), 0.1),
                tf.fill([3], 0.1))
    layer = SampledSoftmaxLayer(V, num_sampled=3, sampler=sampler)
    x, y = _data(5)
    loss = layer(x, y[:, 0], training=True)
    assert seen == [(5, 1)]
    want = sampled_softmax_loss(layer.kernel, layer.bias, y, x, 3, V,
                                sampled_values=sampler(tf.constant(y)))
    np.testing.assert_allclose(loss.numpy(), want.numpy(), rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_classes=10, loss="hinge"), "`loss` must be one of"),
    (dict(num_classes=0), "`num_classes` must be an integer >= 1, got 0"),
    (dict(num_classes=10.7), "`num_classes` must be an integer >= 1, got 10.7"),
    (dict(num_classes=10, num_sampled=0), "`num_sampled` must be an integer >= 1"),
    (dict(num_classes=10, num_sampled=2.5), "`num_sampled` must be an integer >= 1, got 2.5"),
    (dict(num_classes=10, num_sampled=None), "`num_sampled` must be an integer >= 1, got None"),
    (dict(num_classes=10, num_sampled=11), "`num_sampled`=11 is larger than num_classes=10"),
    (dict(num_classes=10, num_true=0), "`num_true` must be an integer >= 1"),
    (dict(num_classes=10, eval_loss="sampled_softmax"), "`eval_loss` must be one of"),
    (dict(num_classes=10, sampler=3), "`sampler` must be None"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SampledSoftmaxLayer(**kwargs)


def test_the_table_hook_ties_the_classes_to_another_layers_embedding():
    # Weight tying through `table()`: the loss reads the shared embedding, gradients reach it.
    from w2v_tf import sampling
    shared = keras.layers.Embedding(V, D)
    shared.build((None,))

    class Tied(SampledSoftmaxLayer):
        def build(self, inputs_shape, labels_shape=None):
            self.bias = self.add_weight(shape=(V,), initializer="random_normal", name="bias")

        def table(self):
            return shared.embeddings

    layer = Tied(V, num_sampled=5, sampler=sampling.UniformSampler(V, seed=2))
    twin = sampling.UniformSampler(V, seed=2)
    x, y = _data(8)
    with tf.GradientTape() as tape:
        got = layer(x, y, training=True)
    want = sampled_softmax_loss(shared.embeddings, layer.bias, y, x, 5, V,
                                sampled_values=twin(y, 1, 5, True))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    grad = tape.gradient(got, shared.embeddings)            # of the summed losses
    assert float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(grad)))) > 0
    np.testing.assert_allclose(layer(x).numpy(),
                               x @ shared.embeddings.numpy().T + layer.bias.numpy(), rtol=1e-5,
                               atol=1e-5)


def test_more_negatives_than_classes_is_fine_where_draws_need_not_be_unique():
    from w2v_tf import sampling
    assert SampledSoftmaxLayer(10, num_sampled=11, loss="softmax").num_sampled == 11
    layer = SampledSoftmaxLayer(10, num_sampled=11, unique=False,
                                sampler=sampling.UniformSampler(10, seed=0))
    x, y = _data(4)
    assert layer(x, np.minimum(y, 9), training=True).shape == (4,)


def test_the_methods_build_the_layer_on_first_use():
    # `training_loss`, `full_loss` and `logits` are for custom loops: they may come first.
    x, y = _data(6)
    for method, args in (("logits", (x,)), ("training_loss", (x, y)), ("full_loss", (x, y))):
        layer = SampledSoftmaxLayer(V, num_sampled=5, seed=3)
        out = getattr(layer, method)(tf.constant(x), *args[1:])
        assert layer.built and layer.kernel.shape == (V, D)
        assert out.shape == ((6, V) if method == "logits" else (6,))


def test_sample_weight_weights_the_added_loss_in_training_and_evaluation():
    x, y = _data(256)
    w = np.random.default_rng(1).uniform(size=(256, 1)).astype(np.float32)
    layer = SampledSoftmaxLayer(V, num_sampled=5, loss="neg", seed=3)
    layer(x)                                                  # build
    full = layer.full_loss(x, y).numpy()
    got = float(SampledSoftmaxLayer._weighted_mean(tf.constant(full), w))
    np.testing.assert_allclose(got, np.mean(w[:, 0] * full), rtol=1e-6)
    # In a model: evaluate with weights 0 / 1 / None, and a zero weight stops SGD's update.
    h, lab = keras.Input((D,)), keras.Input((1,), dtype="int64", optional=True)
    sw = keras.Input((1,), optional=True)
    model = keras.Model([h, lab, sw], SampledSoftmaxLayer(V, num_sampled=5, seed=3)(
        h, lab, sample_weight=sw))
    model.compile(keras.optimizers.SGD(0.5))
    plain = model.evaluate([x, y, None], batch_size=256, verbose=0)
    assert model.evaluate([x, y, np.zeros_like(w)], batch_size=256, verbose=0) == 0.0
    np.testing.assert_allclose(model.evaluate([x, y, 0.5 + 0 * w], batch_size=256, verbose=0),
                               plain / 2, rtol=1e-6)
    before = [v.numpy().copy() for v in model.trainable_variables]
    model.fit([x, y, np.zeros_like(w)], epochs=1, batch_size=64, verbose=0)
    for a, v in zip(before, model.trainable_variables):
        np.testing.assert_array_equal(a, v.numpy())
    model.fit([x, y, w], epochs=1, batch_size=64, verbose=0)
    assert any(np.abs(a - v.numpy()).max() > 0 for a, v in zip(before, model.trainable_variables))
    with pytest.raises(ValueError, match="`sample_weight` must have shape"):
        SampledSoftmaxLayer._weighted_mean(tf.constant(full), np.ones((256, 2), np.float32))
