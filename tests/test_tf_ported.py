# Copyright 2015 The TensorFlow Authors. All Rights Reserved.
# Modifications copyright 2026 the w2v-tf authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
# ==============================================================================
"""TensorFlow's own unit tests for these functions, pointed at ours (and at TensorFlow's).

Adapted from TensorFlow's sources:

* `tensorflow/python/ops/nn_test.py`, `ComputeSampledLogitsTest` (TF 2.x), and its TF 1.x
  revision (`testComputeSampledLogitsShapes/Values`, `testNCELoss` and
  `testSampledSoftmaxLoss` with `num_sampled=1` and four given ids);
* `tensorflow/python/kernel_tests/random/candidate_sampler_ops_test.py`, `RangeSamplerOpsTest`;
* `tensorflow/core/kernels/range_sampler_test.cc` (C++ `RangeSamplerTest`), in Python.

What changed: pytest functions instead of `tf.test.TestCase` methods; every test of the
losses runs twice, `impl="tensorflow"` (TensorFlow 2.21 in TF2/eager mode, which must pass:
it shows the test is TensorFlow's) and `impl="ours"` (`w2v_tf`); TF1 sessions, placeholders
and `variable_scope` partitioners became eager constants (`fixed_size_partitioner(3)` of 5
rows is `np.array_split`, the same [2, 2, 1] "div" layout); the TF 1.x tests that shard "mod"
call the v1 functions (`tf.compat.v1.nn.*`, whose default is "mod") for TF and pass
`partition_strategy="mod"` to ours (TF 2.21's `tf.nn.*` are the v2 "div" functions, so the
1.x test as written fails on TensorFlow itself in TF2 mode); `testSeed` (a v1 graph test: a
new graph gives a new kernel) replays with a fresh sampler (`reset_sampler_cache()`);
`testUnigramRangeTooLarge` is run on ours only, because TensorFlow 2.21 aborts the process
there (a CHECK failure in `ThreadUnsafeUnigramSampler`), which a test cannot catch; the C++
sampler tests drive our sampler objects (`SampleBatch` = `draw(n, unique=False)`, `Update`
= a call with those true classes); `Avoid` (no Python API in TF) and `testTrueCandidates`
(only `tf.reshape`) are not ported.
"""
import math
import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.ops import nn_impl

from w2v_tf import losses, sampling
from w2v_tf.sampled_logits import compute_sampled_logits

EPS = 1e-3

IMPLS = {
    "tensorflow": dict(logits=nn_impl._compute_sampled_logits, nce=tf.nn.nce_loss,
                       softmax=tf.nn.sampled_softmax_loss,
                       nce_mod=tf.compat.v1.nn.nce_loss,
                       softmax_mod=tf.compat.v1.nn.sampled_softmax_loss),
    "ours": dict(logits=compute_sampled_logits, nce=losses.nce_loss,
                 softmax=losses.sampled_softmax_loss,
                 nce_mod=lambda *a, **k: losses.nce_loss(*a, partition_strategy="mod", **k),
                 softmax_mod=lambda *a, **k: losses.sampled_softmax_loss(
                     *a, partition_strategy="mod", **k)),
}


@pytest.fixture(params=list(IMPLS))
def impl(request):
    return IMPLS[request.param]


# ------------------------------------------------------------- ComputeSampledLogitsTest (2.x)
def _generate_test_data(num_classes, dim, batch_size, num_true, labels, sampled,
                        subtract_log_q):
    """TF's `_GenerateTestData`: random W, b, inputs, sampled values and the numpy logits."""
    weights = np.random.randn(num_classes, dim).astype(np.float32)
    biases = np.random.randn(num_classes).astype(np.float32)
    hidden_acts = np.random.randn(batch_size, dim).astype(np.float32)
    true_exp = np.full([batch_size, 1], fill_value=0.5, dtype=np.float32)
    sampled_exp = np.full([len(sampled)], fill_value=0.5, dtype=np.float32)
    sampled_vals = (sampled, true_exp, sampled_exp)
    sampled_w, sampled_b = weights[sampled], biases[sampled]
    true_w, true_b = weights[labels], biases[labels]
    true_logits = np.sum(hidden_acts.reshape((batch_size, 1, dim)) *
                         true_w.reshape((batch_size, num_true, dim)), axis=2)
    true_logits += true_b.reshape((batch_size, num_true))
    sampled_logits = np.dot(hidden_acts, sampled_w.T) + sampled_b
    if subtract_log_q:
        true_logits -= np.log(true_exp)
        sampled_logits -= np.log(sampled_exp[np.newaxis, :])
    exp_logits = np.concatenate([true_logits, sampled_logits], axis=1)
    exp_labels = np.hstack((np.ones_like(true_logits) / num_true, np.zeros_like(sampled_logits)))
    return weights, biases, hidden_acts, sampled_vals, exp_logits, exp_labels


def _shard(weights, biases, num_shards=3):
    """`fixed_size_partitioner(num_shards)`: contiguous blocks, the first ones one row longer."""
    return np.array_split(weights, num_shards), np.array_split(biases, num_shards)


def _logits(impl, weights, biases, labels, hidden_acts, batch_size, num_true, sampled_vals,
            subtract_log_q, remove_accidental_hits, num_sampled=4, num_classes=5):
    as_const = (lambda w: [tf.constant(s) for s in w] if isinstance(w, list) else tf.constant(w))
    logits, out_labels = impl["logits"](
        weights=as_const(weights), biases=as_const(biases),
        labels=tf.constant(labels, dtype=tf.int64, shape=(batch_size, num_true)),
        inputs=tf.constant(hidden_acts), num_sampled=num_sampled, num_classes=num_classes,
        num_true=num_true, sampled_values=sampled_vals, subtract_log_q=subtract_log_q,
        remove_accidental_hits=remove_accidental_hits, partition_strategy="div")
    return logits.numpy(), out_labels.numpy()


@pytest.mark.parametrize("case", ["shapes", "basic", "subtract_log_q", "sharded"])
def test_compute_sampled_logits(impl, case):
    """testShapes, testBasic, testSubtractLogQ, testSharded."""
    np.random.seed(0)
    num_classes, batch_size = 5, 3
    log_q = case == "subtract_log_q"
    for num_true in range(1, 5):
        labels = np.random.randint(low=0, high=num_classes, size=batch_size * num_true)
        weights, biases, hidden_acts, sampled_vals, exp_logits, exp_labels = _generate_test_data(
            num_classes, 10, batch_size, num_true, labels, [1, 0, 2, 3], log_q)
        if case == "sharded":
            weights, biases = _shard(weights, biases)
        got_logits, got_labels = _logits(impl, weights, biases, labels, hidden_acts, batch_size,
                                         num_true, sampled_vals, log_q, False)
        assert got_logits.shape == exp_logits.shape and got_labels.shape == exp_labels.shape
        if case != "shapes":
            np.testing.assert_allclose(got_logits, exp_logits, atol=EPS, rtol=EPS)
            np.testing.assert_allclose(got_labels, exp_labels, atol=EPS, rtol=EPS)


def test_accidental_hit_removal(impl):
    """testAccidentalHitRemoval: exp(logit) of every accidental hit is near 0."""
    np.random.seed(0)
    num_classes, batch_size, sampled = 5, 3, [1, 0, 2, 3]
    for num_true in range(1, 5):
        labels = np.random.randint(low=0, high=num_classes, size=batch_size * num_true)
        weights, biases, hidden_acts, sampled_vals, _, _ = _generate_test_data(
            num_classes, 10, batch_size, num_true, labels, sampled, False)
        got_logits, _ = _logits(impl, weights, biases, labels, hidden_acts, batch_size, num_true,
                                sampled_vals, False, True, num_sampled=len(sampled))
        labels_reshape = labels.reshape((batch_size, num_true))
        n_hits = 0
        for row in range(batch_size):
            for col in range(len(sampled)):
                if sampled[col] in labels_reshape[row, :]:
                    n_hits += 1
                    assert abs(np.exp(got_logits[row, col + num_true])) < EPS
        assert n_hits > 0


def _softmax_xent_np(logits, targets):
    stable = np.exp(logits - np.amax(logits, axis=1, keepdims=True))
    pred = stable / np.sum(stable, 1, keepdims=True)
    return -np.sum(targets * np.log(pred + 1.0e-20), axis=1)


def _sigmoid_xent_np(logits, targets):
    pred = np.clip(1. / (1. + np.exp(-logits)), 0.0001, 1 - 0.0001)
    return -targets * np.log(pred) - (1. - targets) * np.log(1. - pred)


@pytest.mark.parametrize("loss", ["nce", "softmax"])
def test_loss_numerics(impl, loss):
    """testNCELoss and testSampledSoftmaxLoss (v2 functions, "div" shards)."""
    np.random.seed(0)
    batch_size, labels = 3, [0, 1, 2]
    weights, biases, hidden_acts, sampled_vals, exp_logits, exp_labels = _generate_test_data(
        5, 10, batch_size, 1, labels, [1, 0, 2, 3], True)
    if loss == "nce":
        expected = np.sum(_sigmoid_xent_np(exp_logits, exp_labels), 1)
        kwargs = {}
    else:
        expected = _softmax_xent_np(exp_logits, exp_labels)
        kwargs = dict(remove_accidental_hits=False)
    weight_shards, bias_shards = _shard(weights, biases)
    for w, b in ((tf.constant(weights), tf.constant(biases)),
                 ([tf.constant(s) for s in weight_shards], [tf.constant(s) for s in bias_shards])):
        got = impl[loss](weights=w, biases=b, labels=tf.constant(labels, shape=(batch_size, 1)),
                         inputs=tf.constant(hidden_acts), num_sampled=4, num_classes=5,
                         num_true=1, sampled_values=sampled_vals, **kwargs)
        np.testing.assert_allclose(got.numpy(), expected, atol=1e-4, rtol=1e-4)


def test_sampled_softmax_loss_bf16(impl):
    """testSampledSoftmaxLossBf16: bfloat16 table, inputs, expected counts *and labels*."""
    np.random.seed(0)
    batch_size, labels, sampled = 3, [0, 1, 2], [1, 0, 2, 3]
    weights, biases, hidden_acts, _, exp_logits, exp_labels = _generate_test_data(
        5, 10, batch_size, 1, labels, sampled, True)
    expected = _softmax_xent_np(exp_logits, exp_labels)
    bf16 = tf.bfloat16.as_numpy_dtype
    sampled_vals = (sampled, np.full([batch_size, 1], 0.5, dtype=bf16),
                    np.full([len(sampled)], 0.5, dtype=bf16))
    got = impl["softmax"](
        weights=tf.constant(weights, dtype=tf.bfloat16), biases=tf.constant(biases, tf.bfloat16),
        labels=tf.constant(labels, shape=(batch_size, 1), dtype=tf.bfloat16),
        inputs=tf.constant(hidden_acts, dtype=tf.bfloat16), num_sampled=4, num_classes=5,
        num_true=1, sampled_values=sampled_vals, remove_accidental_hits=False)
    np.testing.assert_allclose(tf.cast(got, tf.float32).numpy(), expected, atol=1e-1, rtol=1e-1)


# ------------------------------------------------------------- ComputeSampledLogitsTest (1.x)
def _inputs_1x():
    """TF 1.x `_GenerateTestInputs`: W [5, 10], b [5], inputs [3, 10], "mod" weight shards."""
    np.random.seed(0)
    weights = np.random.randn(5, 10).astype(np.float32)
    biases = np.random.randn(5).astype(np.float32)
    hidden_acts = np.random.randn(3, 10).astype(np.float32)
    sharded_weights = [weights[[r for r in range(5) if r % 3 == shard]] for shard in range(3)]
    return weights, biases, hidden_acts, sharded_weights


def test_1x_shapes_with_true_expected_counts_of_another_shape(impl):
    """testComputeSampledLogitsShapes: true_exp is a [4] list for a batch of 3; with
    subtract_log_q=False it is never read."""
    weights, biases, hidden_acts, _ = _inputs_1x()
    sampled = [1, 0, 2, 3]
    test_sampled_vals = (sampled, [1., 1., 1., 1.], [1., 1., 1., 1.])
    for num_true in range(1, 5):
        labels = np.random.randint(low=0, high=5, size=3 * num_true)
        logits, out_labels = impl["logits"](
            tf.constant(weights), tf.constant(biases),
            tf.constant(labels, dtype=tf.int64, shape=(3, num_true)), tf.constant(hidden_acts),
            4, 5, num_true, test_sampled_vals, subtract_log_q=False,
            remove_accidental_hits=True)
        assert logits.shape == (3, num_true + 4) and out_labels.shape == (3, num_true + 4)


@pytest.mark.parametrize("loss", ["nce", "softmax"])
def test_1x_losses_with_more_sampled_ids_than_num_sampled(impl, loss):
    """testNCELoss / testSampledSoftmaxLoss of TF 1.x: num_sampled=1 but four given ids (TF
    uses what it is given); the second half shards "mod" (TF 1.x's default)."""
    weights, biases, hidden_acts, sharded_weights = _inputs_1x()
    labels, sampled = [0, 1, 2], [1, 0, 2, 3]
    true_exp = np.full([3, 1], 0.5, np.float32)
    sampled_exp = np.full([4], 0.5, np.float32)
    true_logits = np.sum(hidden_acts * weights[labels], 1, keepdims=True) + biases[labels][:, None]
    sampled_logits = hidden_acts @ weights[sampled].T + biases[sampled]
    logits_np = np.concatenate([true_logits - np.log(true_exp),
                                sampled_logits - np.log(sampled_exp)], 1)
    labels_np = np.hstack([np.ones((3, 1)), np.zeros((3, 4))])
    if loss == "nce":
        expected, kwargs = np.sum(_sigmoid_xent_np(logits_np, labels_np), 1), {}
    else:
        expected, kwargs = _softmax_xent_np(logits_np, labels_np), dict(remove_accidental_hits=False)
    args = dict(biases=tf.constant(biases), labels=tf.constant(labels, shape=(3, 1)),
                inputs=tf.constant(hidden_acts), num_sampled=1, num_classes=5, num_true=1,
                sampled_values=(sampled, true_exp, sampled_exp), **kwargs)
    got = impl[loss](weights=tf.constant(weights), **args)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-4, rtol=1e-4)
    got = impl[loss + "_mod"](weights=[tf.constant(s) for s in sharded_weights], **args)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------------- RangeSamplerOpsTest
TRUE_LABELS = [[1, 2], [0, 4], [3, 3]]
SAMPLER_IMPLS = {
    "tensorflow": dict(all=tf.random.all_candidate_sampler,
                       hits=tf.nn.compute_accidental_hits,
                       log_uniform=tf.random.log_uniform_candidate_sampler,
                       uniform=tf.random.uniform_candidate_sampler),
    "ours": dict(all=sampling.all_candidate_sampler, hits=sampling.compute_accidental_hits,
                 log_uniform=sampling.log_uniform_candidate_sampler,
                 uniform=sampling.uniform_candidate_sampler),
}


@pytest.fixture(params=list(SAMPLER_IMPLS))
def samplers(request):
    sampling.reset_sampler_cache()
    return SAMPLER_IMPLS[request.param]


def test_sampled_candidates_and_log_expected_counts(samplers):
    """testSampledCandidates, testTrueLogExpectedCount, testSampledLogExpectedCount."""
    true_classes = tf.constant(TRUE_LABELS, dtype=tf.int64)
    sampled, true_count, sampled_count = samplers["all"](true_classes, 2, 5, True)
    np.testing.assert_array_equal(sampled.numpy(), [0, 1, 2, 3, 4])
    assert sampled.shape == [5]
    np.testing.assert_array_equal(tf.math.log(true_count).numpy(), [[0.0] * 2] * 3)
    assert true_count.shape == [3, 2]
    np.testing.assert_array_equal(tf.math.log(sampled_count).numpy(), [0.0] * 5)
    assert sampled_count.shape == [5]


def test_accidental_hits(samplers):
    """testAccidentalHits."""
    true_classes = tf.constant(TRUE_LABELS, dtype=tf.int64)
    sampled, _, _ = samplers["all"](true_classes, 2, 5, True)
    hits = samplers["hits"](true_classes, sampled, 2)
    indices, ids, weights = (t.numpy() for t in hits)
    assert all(t.shape.ndims == 1 for t in hits)
    assert len(indices) == 6
    for index, id_, weight in zip(indices, ids, weights):
        assert id_ in TRUE_LABELS[index]
        assert weight < -1.0e37


@pytest.mark.slow
def test_seed(samplers):
    """testSeed: a seed repeats its draws (in a fresh graph for TF 1.x; with a fresh sampler
    here); no seed gives different draws."""
    true_classes = tf.constant(TRUE_LABELS, dtype=tf.int64)
    tf.random.set_seed(None)    # no global seed from an earlier test: op seed None is random

    def draw(seed):
        sampling.reset_sampler_cache()
        fresh = tf.function(lambda: samplers["log_uniform"](true_classes, 2, 5, True, 5, seed=seed)[0])
        return fresh().numpy()

    for seed in [1, 12, 123, 1234]:
        np.testing.assert_array_equal(draw(seed), draw(seed))
    num_same = sum(np.allclose(draw(None), draw(None)) for _ in range(10))
    assert num_same <= 2


def test_unigram_range_too_large_ours():
    """testUnigramRangeTooLarge / testLearnedUnigramRangeTooLarge (TF 2.21 aborts instead)."""
    for range_max in (2**32 + 1, np.iinfo(np.int32).max, np.iinfo(np.int64).max):
        with pytest.raises(ValueError, match="range_max must be less than 2147483647"):
            sampling.learned_unigram_candidate_sampler([[0]], 1, 1, False, int(range_max))


@pytest.mark.parametrize("range_max", [0, -1])
def test_unigram_nonpositive_range_ours(range_max):
    """testUnigramNonpositiveRange."""
    with pytest.raises(ValueError, match="range_max"):
        sampling.learned_unigram_candidate_sampler([[0]], 1, 1, False, range_max)


@pytest.mark.parametrize("unique", [False, True])
def test_unigram_single_class(unique):
    """testUnigramSingleClass, TF's and ours side by side."""
    for fn in (tf.random.learned_unigram_candidate_sampler,
               sampling.learned_unigram_candidate_sampler):
        sampled, true_count, sampled_count = fn(tf.constant([[0]], dtype=tf.int64), 1, 1,
                                                unique, 1)
        np.testing.assert_array_equal(sampled.numpy(), [0])
        np.testing.assert_array_equal(true_count.numpy(), [[1.0]])
        np.testing.assert_array_equal(sampled_count.numpy(), [1.0])


@pytest.mark.parametrize("kind", ["uniform", "log_uniform"])
@pytest.mark.parametrize("unique", [False, True])
def test_large_uniform_range(samplers, kind, unique):
    """testLargeUniformRange: range_max = 2**32 + 1 (ours: no [range_max] array is built)."""
    range_max = 2**32 + 1
    sampled, true_count, sampled_count = (t.numpy() for t in samplers[kind](
        tf.constant([[0]], dtype=tf.int64), 1, 2, unique, range_max, seed=123))
    assert np.all(sampled >= 0) and np.all(sampled < range_max)
    for count in (true_count, sampled_count):
        assert np.all(np.isfinite(count)) and np.all(count > 0)


def test_candidate_out_of_range(samplers):
    """testCandidateOutOfRange."""
    for true_classes in ([[0, 10]], [[0, -10]]):
        with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="out of range"):
            samplers["log_uniform"](true_classes=true_classes, num_true=2, num_sampled=1000,
                                    unique=False, range_max=2)


# ------------------------------------------------------ range_sampler_test.cc, in Python
VOCAB = "w1,1\nw2,2\nw3,4\nw4,8\nw5,16\nw6,32\nw7,64\nw8,128\nw9,256"
WEIGHTS = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def _probs(sampler):
    return sampler.probabilities().numpy().astype(np.float64)


def _check_histogram(sampler, num_samples=1000, tolerance=0.05):
    a = sampler.draw(num_samples, unique=False, seed=tf.constant([123, 17], tf.int64))[0].numpy()
    assert a.min() >= 0 and a.max() < sampler.range_max
    h = np.bincount(a, minlength=sampler.range_max) / num_samples
    np.testing.assert_allclose(h, _probs(sampler), atol=tolerance)


def _learned_after(updates):
    sampler = sampling.LearnedUnigramSampler(10, seed=0)
    for values in updates:
        sampler(tf.constant(values, tf.int64)[:, None], 1, 1, False)
    return sampler


def test_cc_uniform():
    """UniformProbabilities, UniformChecksum, UniformHistogram."""
    sampler = sampling.UniformSampler(10, seed=0)
    p = _probs(sampler)
    assert np.all(p == p[0]) and abs(p.sum() - 1) < 1e-4
    _check_histogram(sampler)


def test_cc_log_uniform():
    """LogUniformProbabilities (range 1e6), LogUniformChecksum, LogUniformHistogram."""
    p = sampling.LogUniformSampler(1_000_000, seed=0).probability(
        tf.constant([i for k in range(14) for i in (100 * 2**k, 50 * 2**k)], tf.int64)).numpy()
    np.testing.assert_allclose(p[0::2] / p[1::2], 0.5, atol=0.1)
    sampler = sampling.LogUniformSampler(10, seed=0)
    assert abs(_probs(sampler).sum() - 1) < 1e-4
    _check_histogram(sampler)


def test_cc_unigram():
    """UnigramProbabilities1/2, UnigramChecksum, UnigramHistogram (the learned sampler)."""
    sampler = _learned_after([[3] * 10])                                      # Update1
    p = _probs(sampler)
    assert abs(p[3] - 0.55) < 1e-4 and np.all(np.abs(np.delete(p, 3) - 0.05) < 1e-4)
    assert abs(p.sum() - 1) < 1e-4
    _check_histogram(sampler)
    sampler = _learned_after([list(range(i, 10)) for i in range(1, 10)])     # Update2
    np.testing.assert_allclose(_probs(sampler), (np.arange(10) + 1) / 55.0, atol=1e-4)


@pytest.mark.parametrize("source", ["file", "vector"])
@pytest.mark.parametrize("reserved", [0, 1, 2])
def test_cc_fixed_unigram(tmp_path, source, reserved):
    """FixedUnigramProbabilities[Reserve1|Reserve2][FromVector], Checksum, Histogram."""
    vocab = tmp_path / "vocab_file"
    vocab.write_text(VOCAB)
    src = dict(vocab_file=str(vocab)) if source == "file" else dict(unigrams=WEIGHTS)
    sampler = sampling.FixedUnigramSampler(9 + reserved, distortion=0.8,
                                           num_reserved_ids=reserved, seed=0, **src)
    p = _probs(sampler)
    np.testing.assert_allclose(p[:reserved], 0, atol=1e-4)
    np.testing.assert_allclose(p[reserved:], 2 ** (np.arange(9) * 0.8) / 197.05, atol=1e-4)
    assert abs(p.sum() - 1) < 1e-4
    if reserved == 0:
        _check_histogram(sampler)


def test_cc_fixed_unigram_bad_file_or_range(tmp_path):
    """FixedUnigramNoExistingFilename (NotFound), FixedUnigramNoMatchingRangeWeights."""
    with pytest.raises((FileNotFoundError, tf.errors.NotFoundError)):
        sampling.FixedUnigramSampler(9, vocab_file=os.path.join(tmp_path, "NoExistingFile"),
                                     distortion=0.8)
    vocab = tmp_path / "vocab_file"
    vocab.write_text(VOCAB)
    with pytest.raises(ValueError, match="range_max=8"):
        sampling.FixedUnigramSampler(8, vocab_file=str(vocab), distortion=0.8)


def test_cc_all():
    """All: every class once, expected counts 1 (for the batch and for extra ids)."""
    sampled, true_count, sampled_count = sampling.all_candidate_sampler([[0], [9]], 1, 10, False)
    np.testing.assert_array_equal(sampled.numpy(), np.arange(10))
    np.testing.assert_array_equal(sampled_count.numpy(), np.ones(10))
    np.testing.assert_array_equal(true_count.numpy(), [[1.0], [1.0]])


def test_cc_unique():
    """Unique: 100 unique batches of 50 from log-uniform(100): the expected counts agree with
    one another (within 50%) and with the observed frequency of each value (within 0.2)."""
    sampler = sampling.LogUniformSampler(100, seed=123)
    all_values = tf.range(100, dtype=tf.int64)[:, None]
    histogram = np.zeros(100)
    expected = None
    for _ in range(101):
        batch, trial_expected, _ = (t.numpy() for t in sampler(all_values, 1, 50, True))
        assert len(set(batch.tolist())) == 50
        if expected is None:
            expected = trial_expected[:, 0]
            continue
        np.testing.assert_array_less(np.abs(trial_expected[:, 0] - expected), expected * 0.5 + 1e-6)
        histogram[batch] += 1
    np.testing.assert_allclose(histogram / 100, expected, atol=0.2)
    assert math.isclose(expected.sum(), 50, rel_tol=0.2)
