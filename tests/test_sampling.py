"""Oracle tests for w2v_tf.sampling against TensorFlow's candidate samplers.

Exact checks: probabilities are bit-equal to TF's (read from TF's expected counts with
num_sampled=1, unique=False, where TF returns P itself); expected counts agree within 2
float32 ulps given the same num_tries (TF's float32 libm vs our float64-then-round).
Statistical checks use fixed seeds, so they are deterministic; each states its test and why
the threshold is safe.
"""
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from w2v_tf import sampling as smp

V = 30  # small range: every class gets enough draws for chi-square tests

SAMPLERS = {
    "uniform": lambda v, **kw: smp.UniformSampler(v, **kw),
    "log_uniform": lambda v, **kw: smp.LogUniformSampler(v, **kw),
    "fixed": lambda v, **kw: smp.FixedUnigramSampler(v, unigrams=_unigrams(v - 2), distortion=0.75,
                                                     num_reserved_ids=2, **kw),
    "learned": lambda v, **kw: smp.LearnedUnigramSampler(v, **kw),
}


def _unigrams(n):
    counts = np.random.default_rng(1).integers(1, 500, n).astype(np.float32)
    counts[3] = 0.0  # a zero count keeps probability 0 (distortion > 0)
    return counts.tolist()


def _tf_sample(kind, true_classes, num_sampled, unique, v, seed=None):
    """TF's sampler for the same distribution as SAMPLERS[kind]."""
    args = (true_classes, true_classes.shape[1], num_sampled, unique, v)
    if kind == "uniform":
        return tf.random.uniform_candidate_sampler(*args, seed=seed)
    if kind == "log_uniform":
        return tf.random.log_uniform_candidate_sampler(*args, seed=seed)
    if kind == "learned":
        return tf.random.learned_unigram_candidate_sampler(*args, seed=seed)
    return tf.random.fixed_unigram_candidate_sampler(
        *args, unigrams=_unigrams(v - 2), distortion=0.75, num_reserved_ids=2, seed=seed)


def _tf_probabilities(kind, v):
    """TF's float32 P for all ids: expected count with S=1, unique=False is P * 1."""
    all_ids = tf.reshape(tf.range(v, dtype=tf.int64), [-1, 1])
    return _tf_sample(kind, all_ids, 1, False, v).true_expected_count.numpy()[:, 0]


def _ulps(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return int(np.max(np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64))))


# ------------------------------------------------------------------------ probabilities
@pytest.mark.parametrize("kind", list(SAMPLERS))
@pytest.mark.parametrize("v", [V, 1001])
def test_probabilities_equal_tf_bitwise(kind, v):
    ours = SAMPLERS[kind](v, seed=0).probabilities().numpy()
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, _tf_probabilities(kind, v))


@pytest.mark.parametrize("v", [1, 2, 10, 100003])
def test_log_uniform_probabilities_helper_equals_tf(v):
    np.testing.assert_array_equal(smp.log_uniform_probabilities(v), _tf_probabilities("log_uniform", v))
    if v > 1000:  # TF's range_sampler_test: P(i) / P(i/2) ~ 0.5 (P ~ 1/(i+1.5): error ~ 0.75/i)
        i = np.arange(1000, v, 997)
        ratio = smp.log_uniform_probabilities(v)[i] / smp.log_uniform_probabilities(v)[i // 2]
        np.testing.assert_allclose(ratio, 0.5, atol=0.001)


@pytest.mark.parametrize("distortion", [1.0, 0.75, 0.8, 0.0])
@pytest.mark.parametrize("reserved,shards,shard", [(0, 1, 0), (3, 1, 0), (0, 3, 1), (3, 3, 2), (4, 2, 1)])
def test_unigram_probabilities_equal_tf_bitwise(distortion, reserved, shards, shard):
    counts = np.random.default_rng(2).integers(0, 1000, 200).astype(np.float32)
    ours = smp.unigram_probabilities(counts, distortion, reserved, shards, shard)
    v = ours.size
    tf_p = tf.random.fixed_unigram_candidate_sampler(
        tf.reshape(tf.range(v, dtype=tf.int64), [-1, 1]), 1, 1, False, v, unigrams=counts.tolist(),
        distortion=distortion, num_reserved_ids=reserved, num_shards=shards, shard=shard)[1]
    np.testing.assert_array_equal(ours, tf_p.numpy()[:, 0])
    np.testing.assert_allclose(ours.sum(dtype=np.float64), 1.0, atol=1e-5)


def test_vocab_file_equals_unigrams_and_tf(tmp_path):
    counts = [5.0, 0.0, 12.0, 3.0, 7.5]
    path = tmp_path / "counts.csv"
    path.write_text("the,5\nunk,0\n\nof,12\nx,y,3\n7.5\n")  # blank line skipped, last field counts
    np.testing.assert_array_equal(smp.read_counts_file(path), counts)
    from_file = smp.FixedUnigramSampler(6, vocab_file=str(path), distortion=0.5, num_reserved_ids=1)
    from_list = smp.FixedUnigramSampler(6, unigrams=counts, distortion=0.5, num_reserved_ids=1)
    tf_p = tf.random.fixed_unigram_candidate_sampler(
        tf.reshape(tf.range(6, dtype=tf.int64), [-1, 1]), 1, 1, False, 6, vocab_file=str(path),
        distortion=0.5, num_reserved_ids=1)[1].numpy()[:, 0]
    np.testing.assert_array_equal(from_file.probabilities().numpy(), tf_p)
    np.testing.assert_array_equal(from_list.probabilities().numpy(), tf_p)


@pytest.mark.parametrize("size", [1, 2, 7, 64, 1000])
def test_upper_bound_equals_numpy_searchsorted_right(size):
    rng = np.random.default_rng(size)
    cdf = np.cumsum(rng.integers(0, 3, size))  # zero steps make ties, like zero-weight classes
    x = np.concatenate([rng.integers(-1, cdf[-1] + 2, 300), cdf])
    got = smp.upper_bound(tf.constant(cdf), tf.constant(x)).numpy()
    np.testing.assert_array_equal(got, np.searchsorted(cdf, x, side="right"))


# ---------------------------------------------------------------------- expected counts
def _fit_num_tries(count, p, num_sampled):
    """TF's num_tries from its counts: n ~ log(1 - Q) / log(1 - P), refined to the closest ulps."""
    i = int(np.argmax(np.where(count < 0.999, p, 0)))  # the most informative unsaturated class
    n0 = int(round(np.log1p(-float(count[i])) / np.log1p(-float(p[i]))))
    cands = range(max(num_sampled, n0 - 3), n0 + 4)
    return min(cands, key=lambda n: _ulps(smp.expected_count(p, num_sampled, n), count))


@pytest.mark.parametrize("kind", ["uniform", "log_uniform", "fixed"])
@pytest.mark.parametrize("num_sampled", [6, 12, 25])
def test_unique_expected_counts_match_tf_given_num_tries(kind, num_sampled):
    p = _tf_probabilities(kind, V)
    all_ids = tf.reshape(tf.range(V, dtype=tf.int64), [-1, 1])
    checked = 0
    for seed in range(8):
        ids, true_count, sampled_count = [t.numpy() for t in _tf_sample(kind, all_ids, num_sampled, True, V, seed)]
        true_count = true_count[:, 0]
        if np.array_equal(true_count, p * np.float32(num_sampled)):  # TF's num_tries == S shortcut
            np.testing.assert_array_equal(smp.expected_count(p, num_sampled, num_sampled).numpy(), true_count)
            continue
        n = _fit_num_tries(true_count, p, num_sampled)
        assert n > num_sampled
        # Same num_tries: every class within 2 ulps (TF's float32 libm vs our float64 rounding),
        # and the sampled ids' counts, not used to fit n, too.
        assert _ulps(smp.expected_count(p, num_sampled, n), true_count) <= 2
        assert _ulps(smp.expected_count(p[ids], num_sampled, n), sampled_count) <= 2
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_non_unique_expected_counts_are_p_times_s_like_tf(kind):
    labels = tf.constant([[0, 4], [7, 2], [1, 1]], tf.int64)
    ours = SAMPLERS[kind](V, seed=3)(labels, 2, 40, False)
    theirs = _tf_sample(kind, labels, 40, False, V)
    assert ours.sampled_candidates.dtype == tf.int64 and ours.sampled_candidates.shape == [40]
    assert ours.true_expected_count.dtype == tf.float32 and ours.true_expected_count.shape == [3, 2]
    assert ours.sampled_expected_count.shape == [40]
    np.testing.assert_array_equal(ours.true_expected_count.numpy(), theirs.true_expected_count.numpy())
    p = _tf_probabilities(kind, V)
    np.testing.assert_array_equal(ours.sampled_expected_count.numpy(),
                                  p[ours.sampled_candidates.numpy()] * np.float32(40))


def test_learned_unigram_updates_after_sampling_like_tf():
    labels = tf.constant([[3], [3]], tf.int64)
    ours = smp.LearnedUnigramSampler(5, seed=0)
    got = [ours(labels, 1, 2, False).true_expected_count.numpy() for _ in range(3)]
    want = [tf.random.learned_unigram_candidate_sampler(labels, 1, 2, False, 5, seed=77)[1].numpy()
            for _ in range(3)]
    np.testing.assert_array_equal(got, want)  # 2/5, 2*3/7, 2*5/9: +1 per label after each call
    np.testing.assert_array_equal(ours.counts.numpy(), [1, 1, 1, 7, 1])


# ---------------------------------------------------------------------------- histograms
def _hist(ids, v):
    return np.bincount(np.asarray(ids), minlength=v)


@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_histogram_matches_formula_and_tf(kind):
    """Chi-square at alpha = 1e-3 with 20000 draws (expected >= 40 per class): a correct sampler
    fails with probability 1e-3 per seed and the seeds are fixed; a sampler off by 5% on a
    class with P >= 0.01 gives chi2 >> the critical value."""
    n = 20000
    sampler = SAMPLERS[kind](V, seed=0)
    ours = _hist(sampler.draw(n, False, seed=[11, 12])[0].numpy(), V)
    p = sampler.probabilities().numpy().astype(np.float64)
    pos = p > 0
    assert ours[~pos].sum() == 0  # reserved ids and zero counts are never drawn
    assert scipy.stats.chisquare(ours[pos], n * p[pos] / p[pos].sum()).pvalue > 1e-3
    theirs = _hist(_tf_sample(kind, tf.zeros([1, 1], tf.int64), n, False, V, seed=5)[0].numpy(), V)
    assert scipy.stats.chi2_contingency(np.stack([ours[pos], theirs[pos]])).pvalue > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_unique_inclusion_rates_match_expected_counts_and_tf(kind):
    """1000 unique draws of 10 out of 30. Inclusion rate of class v ~ mean expected count
    (TF's approximation, bias < 0.02 here) and ~ TF's rate: binomial sd <= 0.016 per rate,
    0.022 for a difference, so 0.08 is > 3.5 sd; max over 30 classes stays well inside."""
    k, s = 1000, 10
    sampler = SAMPLERS[kind](V, seed=0)
    p = sampler.probabilities()

    @tf.function
    def run():
        def body(i, hits, expected, tries):
            ids, n = sampler.draw(s, True, seed=tf.stack([tf.constant(5, tf.int64), i]))
            hits += tf.reduce_sum(tf.one_hot(ids, V), axis=0)
            return i + 1, hits, expected + smp.expected_count(p, s, n), tries + n
        init = (tf.constant(0, tf.int64), tf.zeros([V]), tf.zeros([V]), tf.constant(0))
        return tf.while_loop(lambda i, *_: i < k, body, init)[1:]

    hits, expected, tries = [t.numpy() for t in run()]
    assert hits.sum() == k * s and hits.max() <= k  # s distinct ids per draw
    np.testing.assert_allclose(hits / k, expected / k, atol=0.08)
    if kind != "learned":  # TF's learned sampler would drift with its labels
        @tf.function
        def run_tf():
            def body(i, acc):
                ids = _tf_sample(kind, tf.zeros([1, 1], tf.int64), s, True, V, seed=4)[0]
                return i + 1, acc + tf.reduce_sum(tf.one_hot(ids, V), axis=0)
            return tf.while_loop(lambda i, _: i < k, body, (0, tf.zeros([V])))[1]
        theirs = run_tf().numpy()
        assert theirs.sum() == k * s and theirs.max() <= k
        np.testing.assert_allclose(hits / k, theirs / k, atol=0.08)
    if kind == "uniform":  # coupon collector: E[num_tries] = sum_{j<s} V / (V - j), sd ~ 1.7
        mean = sum(V / (V - j) for j in range(s))
        assert abs(tries / k - mean) < 4 * 1.7 / np.sqrt(k) + 0.05


# ------------------------------------------------------------------- seeds and compilation
@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_seed_reproduces_sequence_and_calls_differ(kind):
    a, b, c = (SAMPLERS[kind](V, seed=sd) for sd in (7, 7, 8))
    seq_a, seq_b, seq_c = ([x.draw(8, True)[0].numpy() for _ in range(3)] for x in (a, b, c))
    np.testing.assert_array_equal(seq_a, seq_b)
    assert not np.array_equal(seq_a[0], seq_a[1]) and not np.array_equal(seq_a[1], seq_a[2])
    assert not np.array_equal(seq_a, seq_c)
    for ids in seq_a:
        assert len(set(ids.tolist())) == 8
    # A stateless seed gives the same draw from any object, whatever its own stream.
    np.testing.assert_array_equal(SAMPLERS[kind](V, seed=1).draw(8, True, seed=[3, 4])[0],
                                  SAMPLERS[kind](V, seed=2).draw(8, True, seed=[3, 4])[0])


@pytest.mark.slow
def test_function_wrappers_replay_after_cache_reset():
    labels = tf.constant([[1, 2]], tf.int64)
    calls = [lambda: smp.uniform_candidate_sampler(labels, 2, 5, True, V, seed=3),
             lambda: smp.log_uniform_candidate_sampler(labels, 2, 5, True, V, seed=3),
             lambda: smp.learned_unigram_candidate_sampler(labels, 2, 5, True, V, seed=3),
             lambda: smp.fixed_unigram_candidate_sampler(labels, 2, 5, True, V, unigrams=_unigrams(V),
                                                         distortion=0.75, seed=3)]
    smp.reset_sampler_cache()
    first = [[f()[0].numpy() for _ in range(2)] for f in calls]
    smp.reset_sampler_cache()
    again = [[f()[0].numpy() for _ in range(2)] for f in calls]
    np.testing.assert_array_equal(first, again)
    assert all(not np.array_equal(a, b) for a, b in first)  # successive calls differ
    rng = tf.random.Generator.from_seed(9)
    x = smp.uniform_candidate_sampler(labels, 2, 5, True, V, rng=rng)[0].numpy()
    y = smp.uniform_candidate_sampler(labels, 2, 5, True, V, rng=tf.random.Generator.from_seed(9))[0]
    np.testing.assert_array_equal(x, y.numpy())
    smp.reset_sampler_cache()


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_runs_under_xla_and_matches_eager(kind):
    """Philox bits are identical under XLA, so ids and num_tries equal the eager ones."""
    sampler = SAMPLERS[kind](V, seed=0)
    labels = tf.constant([[0], [5], [5]], tf.int64)
    seed = tf.constant([21, 22], tf.int64)
    ids, tries = sampler.draw(12, True, seed)  # eager, before the compiled call updates `learned`
    p = tf.gather(sampler.probabilities(), labels)
    result = tf.function(lambda: sampler(labels, 1, 12, True, seed), jit_compile=True)()
    assert int(tries) >= 12 and len(set(ids.numpy().tolist())) == 12
    np.testing.assert_array_equal(result.sampled_candidates.numpy(), ids.numpy())
    # Expected counts in XLA equal the formula with the eager num_tries (XLA's libm: 1 ulp).
    assert _ulps(result.true_expected_count, smp.expected_count(p, 12, tries)) <= 1


def test_learned_counts_checkpoint_and_restore(tmp_path):
    labels = tf.constant([[2], [4], [4]], tf.int64)
    sampler = smp.LearnedUnigramSampler(V, seed=0)
    sampler(labels, 1, 4, True)
    path = tf.train.Checkpoint(sampler=sampler).write(str(tmp_path / "ckpt"))
    after = sampler(labels, 1, 4, True)
    fresh = smp.LearnedUnigramSampler(V, seed=123)
    tf.train.Checkpoint(sampler=fresh).read(path).assert_consumed()
    np.testing.assert_array_equal(fresh.counts.numpy()[[2, 4]], [2, 3])
    replay = fresh(labels, 1, 4, True)
    for x, y in zip(after, replay):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_sampled_values_plug_into_tf_sampled_softmax_loss():
    """With the same sampled_values TF's loss is a function of them; check against numpy."""
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(V, 4)).astype(np.float32), rng.normal(size=V).astype(np.float32)
    x, labels = rng.normal(size=(3, 4)).astype(np.float32), np.array([[1], [2], [3]])
    sv = smp.LogUniformSampler(V, seed=0)(labels, 1, 6, True)
    loss = tf.nn.sampled_softmax_loss(w, b, labels, x, 6, V, sampled_values=sv,
                                      remove_accidental_hits=False).numpy()
    ids = sv.sampled_candidates.numpy()
    logits = np.concatenate([np.sum(x * w[labels[:, 0]], 1, keepdims=True) + b[labels]
                             - np.log(sv.true_expected_count.numpy()),
                             x @ w[ids].T + b[ids] - np.log(sv.sampled_expected_count.numpy())], 1)
    want = -logits[:, 0] + np.log(np.exp(logits).sum(1))
    np.testing.assert_allclose(loss, want, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------- accidental hits
@pytest.mark.parametrize("num_true,num_sampled,seed", [(1, 5, 0), (2, 8, 1), (3, 20, 2), (4, 3, 3)])
def test_accidental_hits_equal_tf(num_true, num_sampled, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 6, (7, num_true))
    sampled = rng.integers(0, 6, num_sampled)  # with duplicates, like unique=False
    ours = smp.compute_accidental_hits(labels, sampled, num_true)
    theirs = tf.nn.compute_accidental_hits(tf.constant(labels, tf.int64), tf.constant(sampled, tf.int64),
                                           num_true)
    assert len(ours[0]) > 0
    for x, y in zip(ours, theirs):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_accidental_hits_keep_all_differs_from_tf_on_duplicates():
    labels, sampled = np.array([[3, 3], [7, 1]]), np.array([3, 1, 3, 7])
    last = smp.compute_accidental_hits(labels, sampled, 2)
    tf_last = tf.nn.compute_accidental_hits(tf.constant(labels, tf.int64), tf.constant(sampled, tf.int64), 2)
    np.testing.assert_array_equal(last[1].numpy(), tf_last[1].numpy())
    np.testing.assert_array_equal(last[1].numpy(), [2, 2, 3, 1])  # position 0 of id 3 not reported
    every = smp.compute_accidental_hits(labels, sampled, 2, keep="all")
    # numpy reference: every (row, label, position) with sampled[position] == label, in that order
    ref = [(r, s) for r in range(2) for t in range(2) for s in range(4) if sampled[s] == labels[r, t]]
    np.testing.assert_array_equal(np.stack([every[0].numpy(), every[1].numpy()], 1), ref)
    np.testing.assert_array_equal(every[2].numpy(), np.full(len(ref), -np.finfo(np.float32).max))


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("make,message", [
    (lambda: smp.UniformSampler(5)([[0]], 1, 6, True), "range is too small"),
    (lambda: smp.FixedUnigramSampler(4, unigrams=[1, 0, 2], num_reserved_ids=1)([[0]], 1, 3, True),
     "only 2 of range_max=4"),
    (lambda: smp.LogUniformSampler(5)([[5]], 1, 2, False), r"out of range \[0, 5\): value 5"),
    (lambda: smp.LogUniformSampler(5)([[1], [-1]], 1, 2, False), "value -1 at position"),
    (lambda: smp.UniformSampler(5)([1, 2], 1, 2, False), r"shape \[batch_size, num_true=1\]"),
    (lambda: smp.UniformSampler(5)([[1, 2]], 1, 2, False), "num_true=1"),
    (lambda: smp.UniformSampler(0), "range_max must be >= 1, got 0"),
    (lambda: smp.FixedUnigramSampler(3, unigrams=[1.0, -2.0, 3.0]), "got -2.0 at index 1"),
    (lambda: smp.FixedUnigramSampler(3, unigrams=[0.0, 0.0, 0.0]), "sum to 0"),
    (lambda: smp.FixedUnigramSampler(4, unigrams=[1.0, 2.0, 3.0]), "range_max=4 must equal .* 3"),
    (lambda: smp.FixedUnigramSampler(3), "exactly one of vocab_file and unigrams"),
    (lambda: smp.FixedUnigramSampler(2, unigrams=[1.0, 2.0], num_shards=2, shard=2), "shard must be"),
    (lambda: smp.compute_accidental_hits([[1]], [1, 2], 1, keep="first"), "keep must be"),
])
def test_bad_input_raises_value_error_naming_it(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_type_errors():
    with pytest.raises(TypeError, match="true_classes must be an integer tensor"):
        smp.UniformSampler(5)([[1.0]], 1, 2, False)
    with pytest.raises(TypeError, match="num_sampled must be a Python int"):
        smp.UniformSampler(5)([[1]], 1, 2.0, False)


def test_counts_file_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("a,1\nb,2\n\nc,three\n")
    with pytest.raises(ValueError, match=r"vocab\.txt:4: bad count 'three'"):
        smp.read_counts_file(path)
    path.write_text("a,1\nb,-2\n")
    with pytest.raises(ValueError, match=r"vocab\.txt:2: bad count '-2'"):
        smp.FixedUnigramSampler(2, vocab_file=str(path))


# ------------------------------------------------- unique sampling setup: O(1) in range_max
@pytest.mark.parametrize("kind", ["uniform", "log_uniform"])
@pytest.mark.parametrize("v", [10, 4096, 5000, 200_000])
def test_expected_distinct_closed_form_equals_the_sum_over_all_classes(kind, v):
    """E[#distinct in m draws] = sum_v 1 - (1 - P(v))^m: our O(1) forms vs the O(V) sum."""
    sampler = SAMPLERS[kind](v, seed=0)
    p = sampler.probabilities().numpy().astype(np.float64)
    distinct = sampler._expected_distinct()
    for m in (1, 10, 100, 1000, 20000):
        exact = float(np.sum(-np.expm1(m * np.log1p(-p))))
        assert abs(distinct(m) - exact) <= 1e-6 * exact + 1e-3, (m, distinct(m), exact)


@pytest.mark.parametrize("kind", ["uniform", "log_uniform"])
def test_chunk_size_at_huge_range_allocates_no_range_sized_array(kind):
    import tracemalloc
    sampler = SAMPLERS[kind](2**32 + 1, seed=0)
    tracemalloc.start()
    chunk = sampler.chunk_size(64)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert 64 <= chunk < 1000
    assert peak < 2**20          # < 1 MiB (the O(V) version needed 32 GiB)


# ------------------------------------------------- fixed unigram weights after distortion
TF_NAN_OR_HANG = [  # (unigrams, distortion): weights count ** distortion TF does not check
    ([3.0, 0.0, 5.0, 1.0], -1.0),   # 0 ** -1 = inf
    ([1e30, 1.0, 2.0], 2.0),        # 1e60 overflows float32
    ([0.0, 0.0, 0.0], 1.0),         # all weights 0
    ([3e38, 3e38], 1.0),            # each finite, the float32 total inf
]


@pytest.mark.parametrize("unigrams,distortion", TF_NAN_OR_HANG)
def test_distorted_weights_must_be_finite_with_a_positive_total(unigrams, distortion):
    # TF 2.21 checks none of these: with unique=False its expected counts are NaN (or 0),
    # with unique=True its rejection loop never returns (measured: killed after 25 s).
    # Ours raises a ValueError naming distortion and unigrams, before any sampling.
    v = len(unigrams)
    tf_counts = tf.random.fixed_unigram_candidate_sampler(
        [[0]], 1, 2, False, v, unigrams=unigrams, distortion=distortion, seed=1)
    got = np.concatenate([tf_counts[1].numpy().ravel(), tf_counts[2].numpy()])
    assert np.all(np.isnan(got) | (got == 0)), got
    for make in (lambda: smp.FixedUnigramSampler(v, unigrams=unigrams, distortion=distortion),
                 lambda: smp.unigram_probabilities(unigrams, distortion),
                 lambda: smp.fixed_unigram_candidate_sampler(
                     [[0]], 1, 2, True, v, unigrams=unigrams, distortion=distortion, seed=1)):
        with pytest.raises(ValueError, match=r"distortion=.*unigrams|unigrams.*distortion="):
            make()


def test_zero_count_with_distortion_zero_is_weight_one_like_tf():
    # pow(0, 0) = 1 in C and numpy: every id weighs 1, as in TF (no error).
    ours = smp.unigram_probabilities([3.0, 0.0, 5.0], 0.0)
    np.testing.assert_array_equal(ours, _tf_probabilities_of([3.0, 0.0, 5.0], 0.0))
    np.testing.assert_array_equal(ours, np.full(3, np.float32(1) / np.float32(3)))


def _tf_probabilities_of(unigrams, distortion):
    v = len(unigrams)
    return tf.random.fixed_unigram_candidate_sampler(
        tf.reshape(tf.range(v, dtype=tf.int64), [-1, 1]), 1, 1, False, v, unigrams=unigrams,
        distortion=distortion)[1].numpy()[:, 0]


def test_wrapper_cache_key_holds_the_shape_of_unigrams():
    smp.fixed_unigram_candidate_sampler([[0]], 1, 1, False, 3, unigrams=[1.0, 2.0, 3.0], seed=7)
    with pytest.raises(ValueError, match="1-D"):   # was served the cached 1-D sampler
        smp.fixed_unigram_candidate_sampler([[0]], 1, 1, False, 3, unigrams=[[1.0, 2.0, 3.0]],
                                            seed=7)


@pytest.mark.parametrize("distortion", [0.75, 0.5, 0.3, 1.5, 2.0, -0.5])
def test_fixed_unigram_probabilities_bitwise_over_random_counts(distortion):
    # TF powers each count with libm's powf (not correctly rounded); so do we.
    counts = np.random.default_rng(5).integers(1, 10**6, 5000).astype(np.float32)
    counts[::7] = 0.0 if distortion > 0 else 1.0
    ours = smp.unigram_probabilities(counts, distortion)
    np.testing.assert_array_equal(ours, _tf_probabilities_of(counts.tolist(), distortion))


def test_fixed_unigram_powf_differs_from_the_rounded_exact_power_like_tf():
    # The exact power rounded once to float32 is 1 ulp away from TF here; we are not.
    counts, d = [664455.0, 100.0], 0.75
    exact = np.power(np.float64(counts), np.float64(np.float32(d))).astype(np.float32)
    tf_p = _tf_probabilities_of(counts, d)
    assert _ulps(exact / np.cumsum(exact, dtype=np.float32)[-1], tf_p) == 1
    np.testing.assert_array_equal(smp.unigram_probabilities(counts, d), tf_p)


@pytest.mark.parametrize("keep", ["last", "all"])
def test_accidental_hits_with_no_sampled_candidates_are_empty_like_tf(keep):
    # keep="last" took an argmax over the empty axis and crashed; TF returns three empties.
    labels = tf.constant([[1, 2], [3, 3]], tf.int64)
    empty = tf.zeros([0], tf.int64)
    ours = smp.compute_accidental_hits(labels, empty, 2, keep=keep)
    theirs = tf.nn.compute_accidental_hits(labels, empty, 2)
    for a, c in zip(ours, theirs):
        assert a.dtype == c.dtype and a.shape == c.shape == (0,)
