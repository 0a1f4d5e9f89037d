"""The vectorised skip-gram/CBOW pipeline against a per-word Python loop (word2vec.c's order).

The oracle consumes the same numpy Generator in the documented order (subsampling uniforms
[N], then window draws b [N']) and walks sentences word by word as word2vec.c does, so the
vectorised arrays must equal it exactly. Statistical tests check the shrunk window itself.
"""
import numpy as np
import pytest

from w2v_tf.word2vec.pipeline import (cbow_dataset, effective_window_counts, make_cbow_examples,
                             make_skipgram_pairs, skipgram_dataset)


def _random_corpus(seed, n_sentences=40, vocab_size=30, max_len=25):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, vocab_size, int(rng.integers(1, max_len))).astype(np.int64)
            for _ in range(n_sentences)]


def _oracle_sentences(encoded, window, rng, keep_prob):
    """Subsample per token, then draw b_i per surviving token; returns sentences and w_i."""
    sentences = [np.asarray(s) for s in encoded]
    if keep_prob is not None:
        flat = np.concatenate(sentences)
        keep = rng.random(len(flat)) < keep_prob[flat]
        bounds = np.cumsum([0] + [len(s) for s in sentences])
        sentences = [s[keep[a:b]] for s, a, b in zip(sentences, bounds[:-1], bounds[1:])]
    n = sum(len(s) for s in sentences)
    eff = iter((window - rng.integers(0, window, size=n)).tolist())
    return [(s.tolist(), [next(eff) for _ in s]) for s in sentences]


def oracle_skipgram(encoded, window, rng, keep_prob=None):
    pairs = []
    for sentence, effs in _oracle_sentences(encoded, window, rng, keep_prob):
        for i, (word, w) in enumerate(zip(sentence, effs)):
            for j in range(i - w, i + w + 1):
                if j != i and 0 <= j < len(sentence):
                    pairs.append((word, sentence[j]))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def oracle_cbow(encoded, window, rng, keep_prob, pad_id):
    rows, counts, targets = [], [], []
    for sentence, effs in _oracle_sentences(encoded, window, rng, keep_prob):
        for i, (word, w) in enumerate(zip(sentence, effs)):
            row = [sentence[i + o] if abs(o) <= w and 0 <= i + o < len(sentence) else pad_id
                   for o in list(range(-window, 0)) + list(range(1, window + 1))]
            if any(x != pad_id for x in row):
                rows.append(row)
                counts.append(sum(x != pad_id for x in row))
                targets.append(word)
    return (np.array(rows, np.int64).reshape(-1, 2 * window), np.array(counts, np.int64),
            np.array(targets, np.int64))


def _keep_prob(vocab_size, use):
    return np.linspace(0.2, 1.0, vocab_size) if use else None


@pytest.mark.parametrize("window", [1, 2, 5, 8])
@pytest.mark.parametrize("subsample", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_skipgram_pairs_equal_word_loop(window, subsample, seed):
    encoded = _random_corpus(seed)
    keep_prob = _keep_prob(30, subsample)
    targets, contexts = make_skipgram_pairs(encoded, window, np.random.default_rng(seed),
                                            keep_prob)
    expected = oracle_skipgram(encoded, window, np.random.default_rng(seed), keep_prob)
    assert targets.dtype == contexts.dtype == np.int64
    np.testing.assert_array_equal(np.stack([targets, contexts], 1), expected)
    counts = effective_window_counts(encoded, window, np.random.default_rng(seed), keep_prob)
    assert counts.sum() == len(targets)


@pytest.mark.parametrize("window", [1, 3, 5])
@pytest.mark.parametrize("subsample", [False, True])
def test_cbow_examples_equal_word_loop(window, subsample):
    encoded = _random_corpus(7 + window)
    keep_prob = _keep_prob(30, subsample)
    got = make_cbow_examples(encoded, window, np.random.default_rng(3), keep_prob, pad_id=30)
    expected = oracle_cbow(encoded, window, np.random.default_rng(3), keep_prob, pad_id=30)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    np.testing.assert_array_equal(got[1], (got[0] != 30).sum(1))


def test_windows_never_cross_sentences():
    # Sentence k uses ids 10k .. 10k+9, so a pair across sentences would mix decades.
    rng = np.random.default_rng(0)
    encoded = [10 * k + rng.integers(0, 10, int(rng.integers(1, 12))) for k in range(50)]
    targets, contexts = make_skipgram_pairs(encoded, 5, rng)
    np.testing.assert_array_equal(targets // 10, contexts // 10)
    ctx, _, tgt = make_cbow_examples(encoded, 5, rng, pad_id=500)
    real = ctx != 500
    np.testing.assert_array_equal((ctx // 10)[real], np.broadcast_to(tgt[:, None] // 10,
                                                                      ctx.shape)[real])


def test_single_word_sentences_give_nothing():
    encoded = [np.array([3]), np.array([4])]
    targets, _ = make_skipgram_pairs(encoded, 5, 0)
    contexts, counts, _ = make_cbow_examples(encoded, 5, 0, pad_id=5)
    assert len(targets) == 0 and contexts.shape == (0, 10) and len(counts) == 0


@pytest.mark.parametrize("window", [2, 5, 10])
def test_effective_window_is_uniform(window):
    """Inside one long sentence each centre yields 2 w_i pairs, w_i ~ U{1..window}.

    n = 200k centres (edges excluded). Each frequency is within 5 binomial standard
    deviations of 1/window (false alarm ~6e-7 per cell); the mean pair count 2 E[w] =
    window + 1 within 5 standard errors (sd of 2w is 2*sqrt((window^2-1)/12)).
    """
    n = 200_000
    counts = effective_window_counts([np.zeros(n + 2 * window, np.int64)], window,
                                     np.random.default_rng(window))
    inner = counts[window:-window]
    assert np.all(inner % 2 == 0)
    freq = np.bincount(inner // 2, minlength=window + 1)[1:] / n
    sd = np.sqrt((1 / window) * (1 - 1 / window) / n)
    np.testing.assert_array_less(np.abs(freq - 1 / window), 5 * sd)
    se = 2 * np.sqrt((window ** 2 - 1) / 12) / np.sqrt(n)
    assert abs(inner.mean() - (window + 1)) < 5 * se + 1e-12


def test_context_distance_distribution():
    """A context at distance d is used with probability (window - d + 1) / window.

    Pairs at distance d per centre ~ 2 * Bernoulli((window-d+1)/window); 5 binomial sd.
    """
    window, n = 5, 100_000
    encoded = [np.arange(n + 2 * window, dtype=np.int64)]  # id = position
    targets, contexts = make_skipgram_pairs(encoded, window, np.random.default_rng(0))
    inner = (targets >= window) & (targets < n + window)
    dist = np.abs(targets - contexts)[inner]
    for d in range(1, window + 1):
        p = (window - d + 1) / window
        rate = np.sum(dist == d) / (2 * n)
        assert abs(rate - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-12, (d, rate, p)


def test_subsampling_applied_before_windowing():
    """A dropped token frees its slot: the survivors become neighbours (word2vec.c)."""
    encoded = [np.array([0, 1, 0, 1, 0, 1], np.int64)]
    keep_prob = np.array([1.0, 0.0])  # drop every 1
    targets, contexts = make_skipgram_pairs(encoded, 1, 0, keep_prob)
    np.testing.assert_array_equal(targets, [0, 0, 0, 0])
    np.testing.assert_array_equal(contexts, [0, 0, 0, 0])  # 0-0 pairs at former distance 2


def test_subsample_rate_in_pipeline():
    """Per-word survival over 100k tokens matches keep_prob within 5 binomial sd."""
    rng = np.random.default_rng(0)
    keep_prob = np.array([0.1, 0.5, 1.0])
    encoded = [rng.integers(0, 3, 1000) for _ in range(100)]
    n_tokens = np.bincount(np.concatenate(encoded), minlength=3)
    counts = effective_window_counts(encoded, 1, np.random.default_rng(1), keep_prob)
    kept_total = len(counts)
    expected = float(np.sum(n_tokens * keep_prob))
    sd = np.sqrt(np.sum(n_tokens * keep_prob * (1 - keep_prob)))
    assert abs(kept_total - expected) < 5 * sd


def _collect(ds):
    parts = [tuple(t.numpy() for t in batch) for batch in ds]
    return parts, tuple(np.concatenate(p) for p in zip(*parts))


@pytest.mark.parametrize("batch_size,window", [(7, 3), (64, 3), (7, 16)])
def test_skipgram_dataset_epochs_match_arrays(batch_size, window):
    """Window 3 takes the window-code path (codes in a uint8), window 16 the reach arrays."""
    encoded = _random_corpus(4)
    keep_prob = _keep_prob(30, True)
    ds = skipgram_dataset(encoded, window, batch_size, seed=11, keep_prob=keep_prob,
                          shuffle=False)
    for epoch in range(2):  # each iteration is the next epoch, seeded [seed, epoch]
        batches, (t, c) = _collect(ds)
        et, ec = make_skipgram_pairs(encoded, window, np.random.default_rng([11, epoch]),
                                     keep_prob)
        np.testing.assert_array_equal(t, et)
        np.testing.assert_array_equal(c, ec)
        sizes = [len(b[0]) for b in batches]
        assert all(s == batch_size for s in sizes[:-1]) and 1 <= sizes[-1] <= batch_size
        assert batches[0][0].dtype == np.int64


@pytest.mark.parametrize("shuffle", [True, "pairs"])
def test_skipgram_dataset_shuffle_is_a_permutation_and_reproducible(shuffle):
    encoded = _random_corpus(5)
    ds = skipgram_dataset(encoded, 4, 50, seed=3, shuffle=shuffle)
    _, (t, c) = _collect(ds)
    et, ec = make_skipgram_pairs(encoded, 4, np.random.default_rng([3, 0]))
    pairs = sorted(zip(t.tolist(), c.tolist()))
    assert pairs == sorted(zip(et.tolist(), ec.tolist()))
    assert not np.array_equal(t, et)  # actually shuffled
    # A uniform pair permutation splits centres: some centre's pairs are not adjacent.
    runs = np.flatnonzero(np.diff(t) != 0).size + 1
    assert runs > len(t) // 2
    _, (t2, c2) = _collect(skipgram_dataset(encoded, 4, 50, seed=3, shuffle=shuffle))
    np.testing.assert_array_equal(t, t2)
    np.testing.assert_array_equal(c, c2)
    _, (t3, _) = _collect(ds)  # second pass = epoch 1: new windows, new order
    assert not np.array_equal(t, t3[:len(t)])


@pytest.mark.parametrize("piece_centres", [7, 1 << 16])
def test_skipgram_dataset_centres_shuffle(monkeypatch, piece_centres):
    """'centres': same pairs as the epoch's arrays, each centre's pairs contiguous and in
    corpus order, centres in a random order; batches exact across piece boundaries."""
    import w2v_tf.word2vec.pipeline as pipeline

    monkeypatch.setattr(pipeline, "PIECE_CENTRES", piece_centres)
    encoded = _random_corpus(9)
    keep_prob = _keep_prob(30, True)
    batches, (t, c) = _collect(skipgram_dataset(encoded, 3, 13, seed=5, keep_prob=keep_prob,
                                                shuffle="centres"))
    assert all(len(b[0]) == 13 for b in batches[:-1]) and 1 <= len(batches[-1][0]) <= 13
    # Oracle: the epoch in corpus order, cut into runs per centre position, permuted by
    # the generator's next draw (subsampling, windows, then the permutation of N' centres).
    rng = np.random.default_rng([5, 0])
    et, ec = make_skipgram_pairs(encoded, 3, rng, keep_prob)
    rng = np.random.default_rng([5, 0])
    counts = effective_window_counts(encoded, 3, rng, keep_prob)
    order = rng.permutation(len(counts))
    runs_t = np.split(et, np.cumsum(counts)[:-1])
    runs_c = np.split(ec, np.cumsum(counts)[:-1])
    np.testing.assert_array_equal(t, np.concatenate([runs_t[i] for i in order]))
    np.testing.assert_array_equal(c, np.concatenate([runs_c[i] for i in order]))
    assert not np.array_equal(t, et)


@pytest.mark.parametrize("with_keep_prob,window", [(True, 3), (False, 3), (False, 15)])
def test_skipgram_pairs_by_centre_is_the_datasets_epoch(with_keep_prob, window):
    """The trainer's arrays (`skipgram_pairs_by_centre`, corpus flattened once) are the
    epochs of skipgram_dataset(shuffle='centres') for the same generator seeds."""
    from w2v_tf.word2vec.pipeline import flatten_corpus, skipgram_pairs_by_centre

    encoded = _random_corpus(9)
    keep_prob = _keep_prob(30, True) if with_keep_prob else None
    ds = skipgram_dataset(encoded, window, 13, seed=5, keep_prob=keep_prob,
                          shuffle="centres")
    flat = flatten_corpus(encoded, window, keep_prob)
    for epoch in range(2):
        _, (t, c) = _collect(ds)
        et, ec = skipgram_pairs_by_centre(*flat, window, keep_prob,
                                          np.random.default_rng([5, epoch]))
        np.testing.assert_array_equal(t, et)
        np.testing.assert_array_equal(c, ec)


def test_window_codes_expand_like_the_reaches():
    from w2v_tf.word2vec.pipeline import _skipgram_expand, _skipgram_expand_codes

    rng = np.random.default_rng(0)
    for window in (1, 5, 14):
        ids = rng.integers(0, 50, 300)
        reach_l = np.minimum(rng.integers(0, window + 1, 300), np.arange(300))
        reach_r = np.minimum(rng.integers(0, window + 1, 300), np.arange(300)[::-1])
        codes = (reach_l * (window + 1) + reach_r).astype(np.uint8)
        centres = rng.permutation(300)[:120]
        for a, b in zip(_skipgram_expand(ids, reach_l, reach_r, centres),
                        _skipgram_expand_codes(ids, codes, centres, window)):
            np.testing.assert_array_equal(a, b)


def test_epoch_plans_are_redrawn_identically(monkeypatch):
    """The dataset keeps only a few epoch plans in Python; one dropped while its iterator
    idled is drawn again from [seed, k], identical, so that iterator's epoch is intact."""
    import w2v_tf.word2vec.pipeline as pipeline
    from w2v_tf.word2vec.pipeline import _EpochPlans

    calls = []

    def plan(rng):
        calls.append(1)
        return (rng.permutation(50),)

    plans = _EpochPlans(plan, seed=7, size=2)
    first = plans[0][0].copy()
    plans[1], plans[2]                        # drop epoch 0
    np.testing.assert_array_equal(plans[0][0], first)
    assert len(calls) == 4
    plans[0]                                  # kept now: not drawn again
    assert len(calls) == 4

    monkeypatch.setattr(pipeline, "PIECE_CENTRES", 7)   # many pieces: most expanded later
    encoded = _random_corpus(9)
    ds = skipgram_dataset(encoded, 3, 8, seed=5, shuffle="centres")
    first_it = iter(ds)                       # epoch 0
    head = [next(first_it)]
    others = [iter(ds) for _ in range(5)]     # epochs 1..5 push epoch 0 out
    for it in others:
        next(it)
    rest = list(first_it)
    t = np.concatenate([b[0].numpy() for b in head + rest])
    expected = skipgram_dataset(encoded, 3, 8, seed=5, shuffle="centres")
    np.testing.assert_array_equal(t, np.concatenate([b[0].numpy() for b in expected]))


def test_default_shuffle_is_centres():
    encoded = _random_corpus(9)
    _, default = _collect(skipgram_dataset(encoded, 3, 13, seed=5))
    _, centres = _collect(skipgram_dataset(encoded, 3, 13, seed=5, shuffle="centres"))
    _, pairs = _collect(skipgram_dataset(encoded, 3, 13, seed=5, shuffle="pairs"))
    for d, c in zip(default, centres):
        np.testing.assert_array_equal(d, c)
    assert not np.array_equal(default[0], pairs[0])
    _, default = _collect(cbow_dataset(encoded, 2, 9, seed=1, pad_id=30))
    _, centres = _collect(cbow_dataset(encoded, 2, 9, seed=1, shuffle="centres", pad_id=30))
    for d, c in zip(default, centres):
        np.testing.assert_array_equal(d, c)


@pytest.mark.parametrize("shuffle", ["centres", "pairs", False])
def test_dataset_pulled_inside_tf_function(shuffle):
    """`next(iterator)` inside a compiled loop (as Keras' train step and the benchmark take
    batches) yields the batches a Python loop over the dataset yields, across epochs."""
    import tensorflow as tf

    encoded = _random_corpus(11)
    eager = [b for b in skipgram_dataset(encoded, 3, 16, seed=4, shuffle=shuffle, epochs=2)]
    it = iter(skipgram_dataset(encoded, 3, 16, seed=4, shuffle=shuffle, epochs=None))

    @tf.function
    def pull(iterator, steps):
        targets = tf.TensorArray(tf.int64, size=steps, infer_shape=False)
        contexts = tf.TensorArray(tf.int64, size=steps, infer_shape=False)
        for k in tf.range(steps):
            t, c = next(iterator)
            targets = targets.write(k, t)
            contexts = contexts.write(k, c)
        return targets.concat(), contexts.concat()

    t, c = pull(it, tf.constant(len(eager)))
    np.testing.assert_array_equal(t.numpy(), np.concatenate([b[0].numpy() for b in eager]))
    np.testing.assert_array_equal(c.numpy(), np.concatenate([b[1].numpy() for b in eager]))


def test_cbow_dataset_centres_shuffle_is_a_permutation(monkeypatch):
    import w2v_tf.word2vec.pipeline as pipeline

    monkeypatch.setattr(pipeline, "PIECE_CENTRES", 5)
    encoded = _random_corpus(10)
    expected = make_cbow_examples(encoded, 2, np.random.default_rng([1, 0]), pad_id=30)
    batches, got = _collect(cbow_dataset(encoded, 2, 9, seed=1, shuffle="centres", pad_id=30))
    assert all(len(b[0]) == 9 for b in batches[:-1])
    rows = sorted(map(tuple, np.column_stack(got).tolist()))
    assert rows == sorted(map(tuple, np.column_stack(expected).tolist()))
    assert not np.array_equal(got[2], expected[2])


def test_dataset_epochs_argument():
    encoded = _random_corpus(6)
    _, (t, _) = _collect(skipgram_dataset(encoded, 2, 32, seed=0, shuffle=False, epochs=3))
    expected = [make_skipgram_pairs(encoded, 2, np.random.default_rng([0, k]))[0]
                for k in range(3)]
    np.testing.assert_array_equal(t, np.concatenate(expected))
    endless = skipgram_dataset(encoded, 2, 32, seed=0, shuffle=False, epochs=None)
    n_batches = sum(1 for _ in endless.take(3 * len(t) // 32))
    assert n_batches == 3 * len(t) // 32


def test_cbow_dataset_matches_arrays():
    encoded = _random_corpus(8)
    ds = cbow_dataset(encoded, 3, 16, seed=2, shuffle=False, pad_id=30)
    batches, (ctx, cnt, tgt) = _collect(ds)
    expected = make_cbow_examples(encoded, 3, np.random.default_rng([2, 0]), pad_id=30)
    for g, e in zip((ctx, cnt, tgt), expected):
        np.testing.assert_array_equal(g, e)
    assert batches[0][0].shape == (16, 6)
    _, (ctx_s, cnt_s, tgt_s) = _collect(cbow_dataset(encoded, 3, 16, seed=2, pad_id=30))
    rows = sorted(map(tuple, np.column_stack([ctx, cnt, tgt]).tolist()))
    assert rows == sorted(map(tuple, np.column_stack([ctx_s, cnt_s, tgt_s]).tolist()))


@pytest.mark.parametrize("call, exc, match", [
    (lambda e: make_skipgram_pairs(e, 0), ValueError, "window must be an int >= 1, got 0"),
    (lambda e: make_skipgram_pairs(e, 2.5), ValueError, "window"),
    (lambda e: make_skipgram_pairs([], 2), ValueError, "encoded is empty"),
    (lambda e: make_skipgram_pairs([np.array([], np.int64)], 2), ValueError, "no word ids"),
    (lambda e: make_skipgram_pairs([np.array([1, -2])], 2), ValueError, ">= 0"),
    (lambda e: make_skipgram_pairs([np.array([1.5])], 2), TypeError, "int array"),
    (lambda e: make_skipgram_pairs(np.arange(5), 2), TypeError, "list of 1-D"),
    (lambda e: make_skipgram_pairs(e, 2, 0, np.ones(3)), ValueError, "keep_prob"),
    (lambda e: make_skipgram_pairs(e, 2, 0, np.full(30, 1.5)), ValueError, r"\[0, 1\]"),
    (lambda e: make_cbow_examples(e, 2, 0, pad_id=5), ValueError, "pad_id"),
    (lambda e: skipgram_dataset(e, 0), ValueError, "window"),
    (lambda e: skipgram_dataset(e, 2, batch_size=0), ValueError, "batch_size"),
    (lambda e: skipgram_dataset(e, 2, epochs=0), ValueError, "epochs"),
    (lambda e: skipgram_dataset(e, 2, shuffle="words"), ValueError, "shuffle must be"),
    (lambda e: cbow_dataset(e, 2, shuffle=1, pad_id=30), ValueError, "shuffle must be"),
    (lambda e: cbow_dataset(e, 2, pad_id=29), ValueError, "pad_id"),
    (lambda e: cbow_dataset([], 2, pad_id=29), ValueError, "encoded is empty"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call(_random_corpus(0))


@pytest.mark.parametrize("run_length,window", [(1, 3), (7, 3), (64, 3), (8, 15), (5, 70)])
def test_cbow_runs_hold_the_cbow_examples(run_length, window):
    """Runs of consecutive centres carry exactly make_cbow_examples' windows, in order
    (window codes: uint8 up to w = 14, int32 beyond; windows over 64 decode without the
    slot table)."""
    from w2v_tf.word2vec.pipeline import make_cbow_runs

    encoded = _random_corpus(12)
    keep_prob = _keep_prob(30, True)
    ext, used, targets, real = make_cbow_runs(encoded, window, np.random.default_rng(5),
                                              keep_prob, pad_id=30, run_length=run_length)
    contexts, counts, centres = make_cbow_examples(encoded, window, np.random.default_rng(5),
                                                   keep_prob, pad_id=30)
    w = window
    token = np.arange(run_length)[:, None] + w + np.r_[-w:0, 1:w + 1]      # [G, 2w]
    windows = np.where(used, ext[:, token], 30)                           # [R, G, 2w]
    np.testing.assert_array_equal(windows[real], contexts)
    np.testing.assert_array_equal(targets[real], centres)
    np.testing.assert_array_equal(used[real].sum(1), counts)
    assert ext.shape == (len(ext), run_length + 2 * w)


def test_cbow_runs_bad_run_length():
    from w2v_tf.word2vec.pipeline import make_cbow_runs

    with pytest.raises(ValueError, match="run_length must be an int >= 1, got 0"):
        make_cbow_runs(_random_corpus(0), 2, 0, pad_id=30, run_length=0)
