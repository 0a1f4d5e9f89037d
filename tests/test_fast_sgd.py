"""Oracle tests of `w2v_tf.word2vec.fast_sgd`: hand-written NEG gradients against autodiff.

Oracles: `tf.GradientTape` through the Keras `Word2Vec` model (its `encode` carries
word2vec.c's CBOW rule) on the loss written out from Mikolov et al. 2013b eq. 4, and for the
shared variant `word2vec.pair_loss(..., "neg_shared")`, built on `compute_sampled_logits`;
numpy for the unigram table.
"""
import numpy as np
import pytest
import tensorflow as tf

from w2v_tf.word2vec import fast_sgd
from w2v_tf import word2vec as w2v
from w2v_tf.word2vec import training
from w2v_tf.sampled_logits import SampledValues

V, DIM, K = 9, 4, 3


def make_model(arch, seed=0):
    """Random input *and* output vectors, so every gradient term is non-zero."""
    model = w2v.Word2Vec(V, DIM, arch, seed=seed)
    rng = np.random.default_rng(seed + 1)
    model.context_table.assign(rng.normal(size=(V, DIM)).astype(np.float32))
    table = model.target_table.numpy()
    table[:V] = rng.normal(size=(V, DIM))
    model.target_table.assign(table)
    return model


def batch(arch, rng, b=6, window=2, pad_id=V):
    targets = rng.integers(0, V, b).astype(np.int32)
    if arch == "skipgram":
        words = rng.integers(0, V, b).astype(np.int32)
    else:
        words = rng.integers(0, V, (b, 2 * window)).astype(np.int32)
        words[0, 1:] = pad_id                     # windows with 1 and 3 real words
        words[1, 3:] = pad_id
    return words, targets


def per_pair_loss(model, words, targets, neg):
    """sum_b [-log s(u_o.h) - sum_j [n_j != o] log s(-u_{n_j}.h)], through the Keras model."""
    ids = tf.concat([tf.cast(targets[:, None], tf.int64), tf.cast(neg, tf.int64)], axis=1)
    dots = model((tf.constant(words), ids))                                 # [B, 1+k]
    ok = tf.cast(neg != targets[:, None], tf.float32)
    return tf.math.softplus(-dots[:, 0]) + tf.reduce_sum(tf.math.softplus(dots[:, 1:]) * ok, 1)


class FixedSampler:
    """Returns the given shared negatives (expected counts unused: no log-Q for NEG)."""

    def __init__(self, ids):
        self.ids = tf.constant(np.asarray(ids, np.int64))

    def __call__(self, labels, num_true, num_sampled, unique):
        ones = tf.ones([num_sampled])
        return SampledValues(self.ids, tf.ones_like(labels, tf.float32), ones)


def autodiff_step(model, loss_fn, weights, lr):
    """Expected tables after one SGD step of lr * d(sum_b w_b J_b) on the tape's gradients."""
    tables = [model.target_table, model.context_table]
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(loss_fn() * weights)
    grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(total, tables)]
    return [t.numpy() - lr * g for t, g in zip(tables, grads)], float(total)


@pytest.mark.parametrize("jit", [None, True])
@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
@pytest.mark.parametrize("shared", [False, True])
def test_one_step_equals_autodiff_sgd(arch, shared, jit):
    rng = np.random.default_rng(3)
    model = make_model(arch)
    words, targets = batch(arch, rng)
    weights = np.float32([1, 1, 1, 1, 1, 0])           # the last row is padding
    lr = 0.05
    if shared:
        s = 4
        neg = rng.integers(0, V, s).astype(np.int32)
        neg[0] = targets[2]                             # an accidental hit, skipped for row 2
        loss_fn = lambda: w2v.pair_loss(model, "neg_shared", tf.constant(words),
                                        tf.constant(targets), FixedSampler(neg), s, K)
        neg_in = neg[None]                                                  # [1, S]
    else:
        neg = rng.integers(0, V, (len(targets), K)).astype(np.int32)
        neg[1, 0] = targets[1]                          # an accidental hit, skipped
        loss_fn = lambda: per_pair_loss(model, words, targets, neg)
        neg_in = neg[None]                                                  # [1, B, k]
    (want_in, want_out), want_total = autodiff_step(model, loss_fn, weights, lr)
    chunk = fast_sgd.make_neg_train_chunk(model.target_table, model.context_table, K, arch,
                                         model.pad_id, shared=shared, jit_compile=jit)
    total = chunk(words[None], targets[None], neg_in, weights[None], np.float32([lr]))
    np.testing.assert_allclose(float(total), want_total, rtol=1e-5)
    np.testing.assert_allclose(model.target_table.numpy(), want_in, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.context_table.numpy(), want_out, rtol=1e-5, atol=1e-6)
    if arch == "cbow":       # the padding row never moves
        assert np.all(model.target_table.numpy()[model.pad_id] == 0)


@pytest.mark.parametrize("shared", [False, True])
def test_steps_in_one_call_see_each_others_updates(shared):
    """n steps in one compiled call = n calls of one step each (the loop is sequential)."""
    rng = np.random.default_rng(5)
    n, b = 3, 5
    words = rng.integers(0, V, (n, b)).astype(np.int32)
    words[:, 0] = 2                                     # one row shared by every step
    targets = rng.integers(0, V, (n, b)).astype(np.int32)
    neg = rng.integers(0, V, (n, 4) if shared else (n, b, K)).astype(np.int32)
    weights = np.ones((n, b), np.float32)
    lrs = np.float32([0.1, 0.07, 0.04])
    results = []
    for per_call in (n, 1):
        model = make_model("skipgram")
        chunk = fast_sgd.make_neg_train_chunk(model.target_table, model.context_table, K,
                                             shared=shared, jit_compile=True)
        total = sum(float(chunk(words[i:i + per_call], targets[i:i + per_call],
                                neg[i:i + per_call], weights[i:i + per_call],
                                lrs[i:i + per_call])) for i in range(0, n, per_call))
        results.append((total, model.target_table.numpy(), model.context_table.numpy()))
    (t1, in1, out1), (t2, in2, out2) = results
    np.testing.assert_allclose(t1, t2, rtol=1e-5)
    np.testing.assert_allclose(in1, in2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out1, out2, rtol=1e-5, atol=1e-6)
    # and the steps did move the shared row (the test would pass vacuously otherwise)
    assert np.abs(in1[2] - make_model("skipgram").target_table.numpy()[2]).max() > 1e-3


@pytest.mark.parametrize("shared", [False, True])
def test_loss_every_sums_the_sampled_steps_and_changes_no_update(shared):
    """loss_every=m returns the summed loss of steps 0, m, 2m, ... (each step's own loss from
    one-step calls) and leaves the tables exactly as loss_every=1 does."""
    rng = np.random.default_rng(8)
    n, b, m = 5, 6, 2
    words = rng.integers(0, V, (n, b)).astype(np.int32)
    targets = rng.integers(0, V, (n, b)).astype(np.int32)
    neg = rng.integers(0, V, (n, 4) if shared else (n, b, K)).astype(np.int32)
    weights = np.ones((n, b), np.float32)
    weights[2, :3] = 0.0                                  # padding inside a sampled step
    lrs = np.float32([0.1, 0.08, 0.06, 0.04, 0.02])
    model = make_model("skipgram")
    one = fast_sgd.make_neg_train_chunk(model.target_table, model.context_table, K,
                                       shared=shared, jit_compile=True)
    per_step = [float(one(words[i:i + 1], targets[i:i + 1], neg[i:i + 1], weights[i:i + 1],
                          lrs[i:i + 1])) for i in range(n)]
    sampled = make_model("skipgram")
    chunk = fast_sgd.make_neg_train_chunk(sampled.target_table, sampled.context_table, K,
                                         shared=shared, jit_compile=True, loss_every=m)
    total = float(chunk(words, targets, neg, weights, lrs))
    np.testing.assert_allclose(total, sum(per_step[::m]), rtol=1e-5)
    assert abs(total - sum(per_step)) > 1e-3 * abs(total)       # the other steps left out
    np.testing.assert_allclose(sampled.target_table.numpy(), model.target_table.numpy(),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sampled.context_table.numpy(), model.context_table.numpy(),
                               rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="loss_every must be an int >= 1"):
        fast_sgd.make_neg_train_chunk(sampled.target_table, sampled.context_table, K,
                                     loss_every=0)


@pytest.mark.parametrize("shared, cap", [(False, None), (True, None), (True, 2.0)])
def test_padding_steps_are_exact_no_ops(shared, cap):
    """`train` pads a short last chunk with zero-weight, zero-rate steps (`_pad_steps`) so
    the compiled loop keeps one shape: those steps must leave both tables bit-identical."""
    rng = np.random.default_rng(8)
    n, pad, b = 2, 3, 5
    words = rng.integers(0, V, (n, b)).astype(np.int32)
    targets = rng.integers(0, V, (n, b)).astype(np.int32)
    neg_shape = (4,) if shared else (b, K)
    neg = rng.integers(0, V, (n + pad,) + neg_shape).astype(np.int32)
    weights = np.ones((n, b), np.float32)
    lrs = np.float32([0.1, 0.05])
    results = []
    for size in (n, n + pad):
        model = make_model("skipgram")
        chunk = fast_sgd.make_neg_train_chunk(model.target_table, model.context_table, K,
                                             shared=shared, jit_compile=True,
                                             max_row_updates=cap)
        args = [training._pad_steps(a, size) for a in (words, targets)] + [neg[:size]] + \
            [training._pad_steps(a, size) for a in (weights, lrs)]
        assert args[0].shape[0] == size and not args[3][n:].any()
        total = float(chunk(*args))
        results.append((total, model.target_table.numpy(), model.context_table.numpy()))
    (t1, in1, out1), (t2, in2, out2) = results
    assert t1 == t2
    np.testing.assert_array_equal(in1, in2)
    np.testing.assert_array_equal(out1, out2)
    assert np.abs(out1 - make_model("skipgram").context_table.numpy()).max() > 1e-3


@pytest.mark.parametrize("counts", [[50, 20, 20, 7, 1], list(range(300, 0, -1))])
def test_unigram_table_follows_q(counts):
    """Slot shares equal Q = c^0.75 / Z to within one slot (the table's quantisation)."""
    size = 20_000
    table = fast_sgd.unigram_table(counts, size=size)
    q = np.asarray(counts, float) ** 0.75
    q /= q.sum()
    share = np.bincount(table, minlength=len(counts)) / size
    np.testing.assert_allclose(share, q, atol=1.01 / size)
    assert table.dtype == np.int32 and np.all(share > 0)     # every word can be drawn


def test_unigram_table_matches_its_definition_and_gives_every_word_a_slot():
    """Slot i holds #{w : cdf_w <= (i + 1/2) / T}, computed here on the [T] grid directly;
    with T barely above V most rare words get no slot by that rule and take one each from
    the commonest words (this raised a shape error before), the table staying sorted."""
    rng = np.random.default_rng(3)
    zipf = lambda v: np.sort(rng.zipf(1.6, v))[::-1].astype(float)
    cases = [(zipf(50), 1000), (np.arange(3000, 0, -1.0), 123_457),   # every word has slots
             (zipf(700), 12_345), (zipf(300), 301), (zipf(2000), 2100)]  # most rare ones not
    for counts, size in cases:
        v = len(counts)
        table = fast_sgd.unigram_table(counts, size=size)
        q = counts ** 0.75 / np.sum(counts ** 0.75)
        grid = (np.arange(size) + 0.5) / size
        direct = np.minimum(np.searchsorted(np.cumsum(q), grid, side="right"), v - 1)
        assert table.shape == (size,) and np.all(np.diff(table) >= 0)
        share = np.bincount(table, minlength=v)
        assert np.all(share >= 1)
        if np.all(np.bincount(direct, minlength=v) >= 1):
            np.testing.assert_array_equal(table, direct)
        else:   # only words that the rule left out gained, one slot each
            gained = share - np.bincount(direct, minlength=v)
            assert np.all(gained[np.bincount(direct, minlength=v) == 0] == 1)
            assert np.sum(np.maximum(gained, 0)) == -np.sum(np.minimum(gained, 0))


def test_draw_negatives_is_q_distributed():
    """100,000 draws: each word's frequency within 5 standard deviations of Q."""
    counts = np.array([1000, 300, 100, 30, 10, 3])
    table = fast_sgd.unigram_table(counts, size=1_000_000)
    draws = fast_sgd.draw_negatives(table, np.random.default_rng(0), (1000, 100))
    assert draws.shape == (1000, 100) and draws.dtype == np.int32
    q = counts ** 0.75 / np.sum(counts ** 0.75)
    freq = np.bincount(draws.ravel(), minlength=6) / draws.size
    assert np.all(np.abs(freq - q) < 5 * np.sqrt(q * (1 - q) / draws.size))


@pytest.mark.parametrize("size,strata", [(1_000_000, 16), (999_983, 7)])
def test_stratified_negatives_are_unbiased_one_per_slice(size, strata):
    """Each of S draws lies in its slice of the table, and over many sets every word is
    drawn S Q(w) times a set on average, as with independent draws (T need not be a
    multiple of S: 999,983 is prime)."""
    counts = np.array([1000, 300, 100, 30, 10, 3])
    table = fast_sgd.unigram_table(counts, size=size)
    rng = np.random.default_rng(0)
    n = 20_000
    u = np.random.default_rng(0).random((n, strata))          # the same uniforms as rng's
    slots = ((np.arange(strata) + u) * (size / strata)).astype(np.int64)
    draws = fast_sgd.draw_stratified_negatives(table, rng, (n, strata))
    assert draws.shape == (n, strata) and draws.dtype == np.int32
    np.testing.assert_array_equal(draws, table[slots])
    lo, hi = np.arange(strata) * size / strata, (np.arange(strata) + 1) * size / strata
    assert np.all((slots >= np.floor(lo)) & (slots < np.ceil(hi)))   # slot s in slice s
    q = counts ** 0.75 / np.sum(counts ** 0.75)
    freq = np.bincount(draws.ravel(), minlength=6) / draws.size
    # stratified counts vary less than multinomial ones: the 5-sigma bound of independent
    # draws is conservative
    assert np.all(np.abs(freq - q) < 5 * np.sqrt(q * (1 - q) / draws.size))


def test_stratified_negatives_vary_less_than_independent_ones():
    """The number of draws among the words filling the first half of the table: binomial
    (variance S/4) for independent draws, S/2 up to the one slice that straddles the
    boundary for stratified ones."""
    counts = np.arange(2000, 0, -1)
    table = fast_sgd.unigram_table(counts, size=1_000_000)
    half = table[len(table) // 2]                       # words < half fill < half the table
    s = 16
    plain = fast_sgd.draw_negatives(table, np.random.default_rng(1), (5000, s))
    strat = fast_sgd.draw_stratified_negatives(table, np.random.default_rng(1), (5000, s))
    n_plain, n_strat = (np.sum(d < half, axis=1) for d in (plain, strat))
    assert abs(n_plain.var() - s / 4) < 0.5                     # binomial(16, ~1/2)
    assert n_strat.min() >= s // 2 - 1 and n_strat.max() <= s // 2 and n_strat.var() < 0.3
    assert abs(n_plain.mean() - n_strat.mean()) < 0.1          # the same expectation


@pytest.mark.parametrize("kwargs,match", [
    (dict(counts=[3, 0, 1]), "counts"), (dict(counts=[[1, 2]]), "counts"),
    (dict(counts=[3, 2, 1], size=2), "size")])
def test_unigram_table_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fast_sgd.unigram_table(**kwargs)


def test_bad_arch_and_missing_pad_id():
    model = make_model("skipgram")
    with pytest.raises(ValueError, match="arch"):
        fast_sgd.make_neg_train_chunk(model.target_table, model.context_table, arch="glove")
    with pytest.raises(ValueError, match="pad_id"):
        fast_sgd.make_neg_train_chunk(model.target_table, model.context_table, arch="cbow")


@pytest.mark.parametrize("cap", [None, 2.0, 3.5])
def test_row_step_scale_caps_pair_updates_per_row(cap):
    """scale_i = min(1, cap / n_{u_i}), n_u = sum of the amounts of row u's entries (numpy)."""
    ids = np.array([4, 0, 4, 2, 4, 0, 7, 4])
    amounts = np.float32([1, 1, 1, 1, 1, 0.5, 1, 1.5])
    got = fast_sgd.row_step_scale(tf.constant(ids), tf.constant(amounts), 9, cap).numpy()
    n_u = np.bincount(ids, weights=amounts, minlength=9)
    want = np.ones(len(ids)) if cap is None else np.minimum(1.0, cap / n_u[ids])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    if cap is not None:                  # the cap binds on row 4 (4.5 updates), not on row 7
        assert got[0] < 1 and got[6] == 1


@pytest.mark.parametrize("shared, cap", [(True, None), (False, None), (True, 3.0)])
def test_cbow_runs_step_equals_window_step(shared, cap):
    """The run layout (rows gathered once per run, `segment_window_matrices`) applies the same
    update as the window layout (2w rows per centre) to the same examples and negatives."""
    from w2v_tf.word2vec.pipeline import make_cbow_runs

    rng = np.random.default_rng(4)
    vocab, dim, window, g = 40, 8, 3, 5
    encoded = [rng.integers(0, vocab, int(rng.integers(2, 30))) for _ in range(12)]
    ext, used, targets, real = make_cbow_runs(encoded, window, np.random.default_rng(1),
                                              pad_id=vocab, run_length=g)
    offsets = np.r_[-window:0, 1:window + 1]
    token = np.arange(g)[:, None] + window + offsets                      # [G, 2w]
    windows = np.where(used, ext[:, token], vocab)                         # [R, G, 2w]
    n = 1
    weights = real.astype(np.float32).reshape(n, -1)
    tgt = np.where(real, targets, 0).astype(np.int32).reshape(n, -1)
    neg = rng.integers(0, vocab, (n, 6) if shared else (n, tgt.shape[1], 3)).astype(np.int32)
    lrs = np.array([0.5], np.float32)
    init_in = rng.normal(0, 0.3, (vocab + 1, dim)).astype(np.float32)
    init_in[vocab] = 0.0
    init_out = rng.normal(0, 0.3, (vocab, dim)).astype(np.float32)
    tables = []
    for segments in (False, True):
        t_in, t_out = tf.Variable(init_in), tf.Variable(init_out)
        chunk = fast_sgd.make_neg_train_chunk(t_in, t_out, 3, "cbow", vocab, shared=shared,
                                             jit_compile=False, max_row_updates=cap,
                                             segments=segments)
        words = ((ext.astype(np.int32)[None],) + fast_sgd.segment_window_matrices(used[None])
                 if segments else windows.reshape(n, -1, 2 * window).astype(np.int32))
        loss = float(chunk(words, tgt, neg, weights, lrs))
        tables.append((loss, t_in.numpy(), t_out.numpy()))
    (l0, a0, b0), (l1, a1, b1) = tables
    assert abs(l0 - l1) < 1e-4 * abs(l0)
    assert np.abs(a0 - init_in).max() > 1e-3          # the step moved the input rows
    np.testing.assert_allclose(a1[:vocab], a0[:vocab], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, b0, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("g, w", [(1, 1), (4, 2), (32, 5)])
def test_segment_window_matrices_are_the_band_of_used(g, w):
    """M[r, c, c + w + o_k] = used[r, c, k] and 0 elsewhere, from its definition in loops,
    M^T its transpose, 1/n the CBOW mean's weight; window sum and spread against the loops."""
    rng = np.random.default_rng(g + w)
    r = 3
    used = rng.random((2, r, g, 2 * w)) < 0.6           # a leading [n] axis, as in a chunk
    offsets = list(range(-w, 0)) + list(range(1, w + 1))
    expected = np.zeros((2, r, g, g + 2 * w), np.float32)
    for j in range(2):
        for i in range(r):
            for c in range(g):
                for k, o in enumerate(offsets):
                    expected[j, i, c, c + w + o] = used[j, i, c, k]
    matrix, matrix_t, inv_n = fast_sgd.segment_window_matrices(used)
    assert matrix.dtype == matrix_t.dtype == np.uint8 and inv_n.dtype == np.float32
    np.testing.assert_array_equal(matrix, expected)
    np.testing.assert_array_equal(matrix_t, np.swapaxes(expected, -1, -2))
    np.testing.assert_allclose(inv_n, 1.0 / np.maximum(used.sum(-1), 1), rtol=1e-7)
    vecs = rng.normal(size=(r, g + 2 * w, 3)).astype(np.float32)
    d = rng.normal(size=(r, g, 3)).astype(np.float32)
    sums = np.einsum("rct,rtd->rcd", expected[1], vecs)
    spread = np.einsum("rct,rcd->rtd", expected[1], d)
    np.testing.assert_allclose(fast_sgd.segment_window_sum(vecs, matrix[1]).numpy(), sums,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast_sgd.segment_window_spread(d, matrix_t[1]).numpy(), spread,
                               rtol=1e-5, atol=1e-6)


def test_segments_needs_cbow():
    t = tf.Variable(tf.zeros([5, 2]))
    with pytest.raises(ValueError, match="segments=True needs arch='cbow'"):
        fast_sgd.make_neg_train_chunk(t, t, 2, "skipgram", segments=True)


@pytest.mark.parametrize("g, w", [(1, 1), (16, 5), (7, 15), (3, 70)])
def test_window_matrices_of_codes_equal_those_of_used(g, w):
    """M, M^T and 1/n from window codes (a row lookup per centre; w > 64 decodes the codes)
    equal those laid out from the decoded `used`, for every code the table has."""
    from w2v_tf.word2vec.pipeline import window_slot_table, window_slots_of_codes

    rng = np.random.default_rng(g * w)
    n_codes = (w + 1) ** 2
    code = rng.integers(0, n_codes, (2, 4, g)).astype(np.uint8 if n_codes <= 256 else np.int32)
    code.flat[:min(code.size, n_codes)] = np.arange(min(code.size, n_codes))
    used = window_slots_of_codes(code, w)
    assert used.shape == code.shape + (2 * w,)
    if w <= 64:
        np.testing.assert_array_equal(used, window_slot_table(w)[code])
    left, right = np.divmod(code.astype(np.int64), w + 1)      # code = left (w + 1) + right
    np.testing.assert_array_equal(used.sum(-1), left + right)
    for got, want in zip(fast_sgd.segment_window_matrices_of_codes(code, w),
                         fast_sgd.segment_window_matrices(used)):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
