"""Our `skipgrams`/`make_sampling_table` against the legacy Keras functions (the oracle).

TF 2.21 still exposes them as `tf.keras.preprocessing.sequence.*`, which resolves to
`keras.src.legacy.preprocessing.sequence`; the first test checks that this is so.
"""
import random

import numpy as np
import pytest

from w2v_tf.word2vec.skipgrams import make_sampling_table, skipgrams


@pytest.fixture(scope="module")
def legacy():
    import tensorflow as tf
    from keras.src.legacy.preprocessing import sequence

    assert tf.keras.preprocessing.sequence.skipgrams is sequence.skipgrams
    assert tf.keras.preprocessing.sequence.make_sampling_table is sequence.make_sampling_table
    return sequence


def _random_sequences(n_cases, seed=0):
    """Sequences with id 0 ("not a word") mixed in, lengths 0..60, vocabularies 2..50."""
    rng = np.random.default_rng(seed)
    for _ in range(n_cases):
        vocab_size = int(rng.integers(2, 50))
        yield rng.integers(0, vocab_size, int(rng.integers(0, 60))).tolist(), vocab_size


@pytest.mark.parametrize("size", [1, 2, 3, 10, 1000, 50_000])
@pytest.mark.parametrize("factor", [1e-5, 1e-3, 0.5])
def test_make_sampling_table_identical(legacy, size, factor):
    ours = make_sampling_table(size, factor)
    np.testing.assert_array_equal(ours, legacy.make_sampling_table(size, factor))
    assert ours.dtype == np.float64 and ours.shape == (size,)


@pytest.mark.parametrize("window_size", [1, 2, 4, 7])
@pytest.mark.parametrize("categorical", [False, True])
def test_deterministic_case_identical(legacy, window_size, categorical):
    """No negatives, no shuffle, no table: the legacy output is deterministic."""
    for seq, vocab_size in _random_sequences(40, seed=window_size):
        kwargs = dict(window_size=window_size, negative_samples=0.0, shuffle=False,
                      categorical=categorical)
        assert skipgrams(seq, vocab_size, **kwargs) == legacy.skipgrams(seq, vocab_size, **kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(),                                                # legacy defaults: 1 negative, shuffle
    dict(window_size=2, negative_samples=2.5, categorical=True),
    dict(window_size=3, negative_samples=0.0, seed=123),
    dict(shuffle=False, negative_samples=0.7),
    dict(window_size=2, negative_samples=0.0, sampling_table="table"),
    dict(window_size=5, negative_samples=1.0, sampling_table="table", seed=7),
])
def test_random_cases_identical_under_same_python_seed(legacy, kwargs):
    """Both draw from Python's `random` in the same order: same seed -> same lists.

    The state of `random` after the call must match too (same number of draws).
    """
    for case, (seq, vocab_size) in enumerate(_random_sequences(30, seed=1)):
        kw = dict(kwargs)
        if kw.get("sampling_table") == "table":
            kw["sampling_table"] = make_sampling_table(vocab_size, sampling_factor=0.05)
        random.seed(case)
        expected = legacy.skipgrams(seq, vocab_size, **kw)
        state_expected = random.getstate()
        random.seed(case)
        assert skipgrams(seq, vocab_size, **kw) == expected
        assert random.getstate() == state_expected


def test_numpy_sequence_input(legacy):
    seq = np.array([3, 1, 0, 2, 2, 4, 1])
    random.seed(5)
    expected = legacy.skipgrams(seq.tolist(), 5, window_size=2)
    random.seed(5)
    assert skipgrams(seq, 5, window_size=2) == expected


def test_negative_distribution_uniform_over_nonzero_ids():
    """Legacy semantics: negatives uniform over [1, V); chi-square against uniform.

    Threshold: the 0.9999 quantile of chi2(V-2), so a false alarm has probability 1e-4
    (and the seed is fixed).
    """
    from scipy import stats

    random.seed(0)
    vocab_size = 20
    seq = list(range(1, vocab_size)) * 50
    couples, labels = skipgrams(seq, vocab_size, window_size=2, negative_samples=3.0)
    negatives = np.array([c[1] for c, y in zip(couples, labels) if y == 0])
    assert negatives.min() >= 1 and negatives.max() <= vocab_size - 1
    observed = np.bincount(negatives, minlength=vocab_size)[1:]
    expected = len(negatives) / (vocab_size - 1)
    chi2 = np.sum((observed - expected) ** 2 / expected)
    assert chi2 < stats.chi2.ppf(0.9999, vocab_size - 2)
    assert labels.count(0) == int(3.0 * labels.count(1))


@pytest.mark.parametrize("args, kwargs, match", [
    (([1, 2, 3], 4), dict(window_size=0), "window_size must be an int >= 1, got 0"),
    (([1, 2, 3], 4), dict(negative_samples=-1), "negative_samples must be >= 0"),
    (([1, 5, 3], 4), {}, r"\[0, vocabulary_size=4\)"),
    (([1, -1], 4), {}, r"\[0, vocabulary_size=4\)"),
    (([1, 3], 4), dict(sampling_table=[1.0, 1.0]), "sampling_table"),
    (([[1, 2]], 4), {}, "1-D"),
    (([0, 0, 0], 1), dict(negative_samples=1.0), None),  # no positives: legal, empty output
])
def test_bad_input(args, kwargs, match):
    if match is None:
        assert skipgrams(*args, **kwargs) == ([], [])
        return
    with pytest.raises(ValueError, match=match):
        skipgrams(*args, **kwargs)


@pytest.mark.parametrize("size, factor", [(0, 1e-5), (10, 0.0), (2.5, 1e-5)])
def test_make_sampling_table_bad_input(size, factor):
    with pytest.raises(ValueError, match="size|sampling_factor"):
        make_sampling_table(size, factor)
