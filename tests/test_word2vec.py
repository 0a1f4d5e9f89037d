"""Oracle tests of the Word2Vec model, its losses glue, sparse SGD and the training loop.

Oracles: numpy formulas written out from the papers (word2vec's NEG gradient, the tutorial's
softmax), TensorFlow's autodiff, and gensim for the exported vectors (tests/test_train_cli.py).
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from w2v_tf import word2vec as w2v
from w2v_tf.word2vec import training
from w2v_tf.sampled_logits import SampledValues


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


def make_model(arch="skipgram", vocab=7, dim=4, seed=0, loss="neg"):
    """A model with random (not word2vec's zero) context vectors so every term is non-trivial."""
    counts = np.arange(vocab, 0, -1) * 10
    model = w2v.Word2Vec(vocab, dim, arch, counts=counts, hierarchical=loss == "hs", seed=seed)
    rng = np.random.default_rng(seed + 1)
    model.context_table.assign(rng.normal(size=(vocab, dim)).astype(np.float32))
    return model


class FixedSampler:
    """Returns the same negatives every call, with expected counts Q = S * P (unique=False)."""

    def __init__(self, ids, probs):
        self.ids = np.asarray(ids, np.int64)
        self.probs = np.asarray(probs, np.float32)

    def __call__(self, labels, num_true, num_sampled, unique):
        assert num_sampled == len(self.ids) and not unique
        s = len(self.ids)
        true_q = tf.gather(self.probs * s, tf.reshape(labels, [-1]))[:, None]
        return SampledValues(tf.constant(self.ids), true_q, tf.constant(self.probs[self.ids] * s))


# ------------------------------------------------------------------------------ the model
@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_einsum_scores_are_dot_products(arch):
    model = make_model(arch)
    win = model.target_table.numpy()
    wout = model.context_table.numpy()
    rng = np.random.default_rng(3)
    if arch == "skipgram":
        words = rng.integers(0, 7, size=5)
        h = win[words]
    else:
        words = rng.integers(0, 7, size=(5, 4))
        words[0, 2:] = model.pad_id        # a window with two padding slots
        mask = words != model.pad_id
        h = (win[words] * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    contexts = rng.integers(0, 7, size=(5, 3))
    dots = model((tf.constant(words), tf.constant(contexts))).numpy()
    want = np.einsum("be,bce->bc", h, wout[contexts])
    np.testing.assert_allclose(dots, want, rtol=1e-5, atol=1e-6)


def test_initialisation_is_word2vecs():
    model = w2v.Word2Vec(50, 20, "cbow", seed=1)
    win = model.target_table.numpy()
    assert np.all(np.abs(win[:50]) <= 0.5 / 20) and win[:50].std() > 0.1 / 20
    assert np.all(win[50] == 0)                       # the CBOW padding row
    assert np.all(model.context_table.numpy() == 0)   # syn1neg starts at zero


def test_cbow_gradient_reaches_each_window_word_unscaled():
    """word2vec.c adds the error of h to every window word: d h / d v_j = I, not I / n."""
    model = make_model("cbow")
    words = tf.constant([[1, 2, 3, model.pad_id], [4, 4, model.pad_id, model.pad_id]])
    g = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    with tf.GradientTape() as tape:
        h = model.encode(words)
        total = tf.reduce_sum(h * g)
    grad = tf.convert_to_tensor(tape.gradient(total, model.target_table)).numpy()
    want = np.zeros_like(grad)
    for row, window in enumerate(words.numpy()):
        for w in window:
            if w != model.pad_id:
                want[w] += g[row]
    np.testing.assert_allclose(grad, want, rtol=1e-6)


# ------------------------------------------------------------------------------ losses glue
def numpy_neg(h, wout, labels, negatives):
    """word2vec's NEG per pair, skipping a negative equal to the pair's positive."""
    out = []
    for b in range(len(labels)):
        loss = softplus(-h[b] @ wout[labels[b]])
        for s in negatives:
            if s != labels[b]:
                loss += softplus(h[b] @ wout[s])
        out.append(loss)
    return np.array(out)


@pytest.mark.parametrize("k", [None, 3, 1])
def test_shared_negatives_skip_the_pairs_own_positive(k):
    """neg_shared: -log s(o_t) - (k/S) sum_s [s != t] log s(-o_s); k = S (None) is word2vec's."""
    model = make_model()
    words = np.array([0, 1, 2, 3])
    labels = np.array([5, 2, 6, 0])
    negatives = [2, 5, 4]            # 5 and 2 are the positives of rows 0 and 1
    sampler = FixedSampler(negatives, np.full(7, 1 / 7))
    got = w2v.pair_loss(model, "neg_shared", tf.constant(words), tf.constant(labels), sampler, 3,
                        negatives=k)
    h = model.target_table.numpy()[words]
    wout = model.context_table.numpy()
    weight = 1.0 if k is None else k / 3
    positive = softplus(-np.sum(h * wout[labels], axis=1))
    want = positive + weight * (numpy_neg(h, wout, labels, negatives) - positive)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)


@pytest.mark.parametrize("loss", ["nce", "sampled_softmax"])
def test_log_q_losses_match_numpy(loss):
    model = make_model()
    words, labels = np.array([0, 1, 2]), np.array([3, 2, 6])
    negatives = [2, 4, 5]
    probs = np.array([.3, .2, .15, .15, .1, .05, .05], np.float32)
    got = w2v.pair_loss(model, loss, tf.constant(words), tf.constant(labels),
                        FixedSampler(negatives, probs), 3).numpy()
    h = model.target_table.numpy()[words]
    wout = model.context_table.numpy()
    log_q = np.log(3 * probs)                         # Q = S * P for draws with replacement
    for b in range(3):
        o_true = h[b] @ wout[labels[b]] - log_q[labels[b]]
        o_neg = np.array([h[b] @ wout[s] - log_q[s] for s in negatives])
        # accidental hits removed for every sampled loss (word2vec skips them)
        o_neg = np.where(np.array(negatives) == labels[b], -np.inf, o_neg)
        if loss == "nce":
            want = softplus(-o_true) + softplus(o_neg).sum()
        else:
            logits = np.concatenate([[o_true], o_neg])
            want = -(o_true - np.log(np.exp(logits).sum()))
        np.testing.assert_allclose(got[b], want, rtol=1e-5)


def test_full_softmax_matches_numpy():
    model = make_model()
    words, labels = np.array([0, 6, 2]), np.array([3, 2, 2])
    got = w2v.pair_loss(model, "softmax", tf.constant(words), tf.constant(labels)).numpy()
    logits = model.target_table.numpy()[words] @ model.context_table.numpy().T
    want = -(logits[np.arange(3), labels] - np.log(np.exp(logits).sum(1)))
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("loss", ["neg", "neg_per_pair", "tutorial_softmax"])
def test_per_pair_losses_match_numpy(loss):
    """neg: word2vec's NEG with k negatives of the pair's own; tutorial: softmax, no log-Q."""
    model = make_model()
    sampler = w2v.unigram_sampler(np.arange(7, 0, -1) * 10, seed=3)
    words, labels = tf.constant([0, 1, 2, 3]), tf.constant([4, 0, 0, 6])
    # Replay: the loss draws its negatives from the sampler's next seed; draw them the same way.
    state = sampler.rng.state.numpy().copy()
    negatives = w2v.draw_negatives_excluding(sampler, labels, 5).numpy()
    sampler.rng.reset(state)
    got = w2v.pair_loss(model, loss, words, labels, sampler, 5).numpy()
    h = model.target_table.numpy()[words.numpy()]
    cols = np.concatenate([labels.numpy()[:, None], negatives], axis=1)   # [B, 1+k]
    dots = np.einsum("be,bce->bc", h, model.context_table.numpy()[cols])
    if loss in ("neg", "neg_per_pair"):
        want = softplus(-dots[:, 0]) + softplus(dots[:, 1:]).sum(1)
    else:
        want = -(dots[:, 0] - np.log(np.exp(dots).sum(1)))                 # no log-Q
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_per_pair_neg_equals_negative_sampling_loss_when_negatives_coincide():
    """With the same k negatives in every row, "neg_per_pair" is `negative_sampling_loss`."""
    from w2v_tf.losses import negative_sampling_loss
    model = make_model()
    words, labels = tf.constant([0, 1, 2]), tf.constant([[4], [0], [6]], tf.int64)
    negatives = tf.constant([1, 2, 3], tf.int64)              # none equals a positive
    dots = model((words, tf.concat([labels, tf.tile(negatives[None], [3, 1])], axis=1)))
    per_pair = tf.math.softplus(-dots[:, 0]) + tf.reduce_sum(tf.math.softplus(dots[:, 1:]), 1)
    ones = tf.ones([3], tf.float32)
    ref = negative_sampling_loss(model.context_table, None, labels, model.encode(words), 3, 7,
                                 sampled_values=(negatives, ones[:, None], ones))
    np.testing.assert_allclose(per_pair.numpy(), ref.numpy(), rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_per_pair_negatives_never_equal_the_positive(seed):
    """The TF tutorial's fault (tensorflow/tensorflow#44758): here it cannot happen.

    Q is concentrated on word 0 (the positive of every other pair), so ~80% of first draws
    collide; after the redraws none may, and the negatives follow Q restricted to w != pos.
    """
    counts = np.array([1000, 50, 30, 20, 10, 5])
    sampler = w2v.unigram_sampler(counts, seed=seed)
    positives = tf.constant(np.tile([0, 1], 2000))                 # [4000]
    neg = w2v.draw_negatives_excluding(sampler, positives, 5).numpy()   # [4000, 5]
    assert neg.shape == (4000, 5)
    assert not np.any(neg == positives.numpy()[:, None])
    # Rows with positive 0: distribution Q(w | w != 0). 10,000 draws; a 5-sigma band.
    q = counts.astype(float) ** 0.75
    q0 = q[1:] / q[1:].sum()
    freq = np.bincount(neg[::2].ravel(), minlength=6)[1:] / neg[::2].size
    sd = np.sqrt(q0 * (1 - q0) / neg[::2].size)
    assert np.all(np.abs(freq - q0) < 5 * sd)


# ------------------------------------------------------------------------------ updates
def test_sparse_sgd_adds_duplicate_rows():
    var = tf.Variable(np.arange(12, dtype=np.float32).reshape(4, 3))
    before = var.numpy()
    g = tf.IndexedSlices(tf.constant(np.float32([[1], [2], [4]]) * np.ones((3, 3), np.float32)),
                         tf.constant([1, 3, 1]), tf.constant([4, 3]))
    w2v.sgd_step([var], [g], 0.5)
    want = before.copy()
    want[1] -= 0.5 * (1 + 4)
    want[3] -= 0.5 * 2
    np.testing.assert_allclose(var.numpy(), want)


@pytest.mark.parametrize("jit", [None, True])
@pytest.mark.parametrize("max_row_step", [None, 0.05])
def test_sparse_sgd_sums_then_clips_each_row(jit, max_row_step):
    """delta_u = lr G_u min(1, c / ||lr G_u||), G_u = sum of the row's gradients (numpy)."""
    rng = np.random.default_rng(1)
    values = rng.normal(size=(9, 3)).astype(np.float32)
    values[6] *= 0.1                                    # row 7: one small gradient
    indices = np.array([4, 0, 4, 2, 4, 0, 7, 4, 2])
    var = tf.Variable(rng.normal(size=(8, 3)).astype(np.float32))
    want = var.numpy().copy()
    lr = 0.1
    for u in np.unique(indices):
        delta = lr * values[indices == u].sum(0)
        if max_row_step is not None:
            delta *= min(1.0, max_row_step / np.linalg.norm(delta))
        want[u] -= delta
    step = tf.function(lambda g: w2v.sgd_step([var], [g], lr, max_row_step), jit_compile=jit)
    step(tf.IndexedSlices(tf.constant(values), tf.constant(indices), tf.constant([8, 3])))
    np.testing.assert_allclose(var.numpy(), want, rtol=1e-5, atol=1e-6)
    if max_row_step is not None:    # the clip binds on row 4 (4 gradients) but not on row 7
        assert np.linalg.norm(lr * values[indices == 4].sum(0)) > max_row_step
        assert np.linalg.norm(lr * values[6]) < max_row_step


@pytest.mark.parametrize("path,jit", [("tape", None), ("tape", True), ("fit", False),
                                      ("fit", True)])
def test_train_step_is_summed_word2vec_updates(path, jit):
    """One step = word2vec's per-pair SGD gradients, summed over the batch, times lr.

    word2vec.c (skip-gram, NEG): g_t = sigma(h.u_t) - 1 (positive), g_s = sigma(h.u_s)
    (negatives, skipped when s equals the positive); du = g h, dh = sum g u. Padding rows
    (weight 0) change nothing. "tape": `make_train_step`; "fit": `model.fit` through
    `Word2Vec.train_step` and Keras' SGD, the padding as `sample_weight`.
    """
    model = make_model()
    win, wout = model.target_table.numpy().copy(), model.context_table.numpy().copy()
    negatives = [2, 5, 1]
    sampler = FixedSampler(negatives, np.full(7, 1 / 7))
    words, labels = np.array([0, 1, 1, 4]), np.array([5, 2, 3, 0])
    weights = np.array([1, 1, 1, 0], np.float32)
    lr = 0.1
    if path == "tape":
        step = w2v.make_train_step(model, "neg_shared", sampler, 3, jit_compile=jit)
        total = step(tf.constant(words), tf.constant(labels), tf.constant(weights),
                     tf.constant(lr, tf.float32))
    else:
        model.compile(keras.optimizers.SGD(lr), "neg_shared", sampler=sampler, num_sampled=3,
                      jit_compile=jit)
        history = model.fit(words, labels, sample_weight=weights, batch_size=4, verbose=0)
        total = history.history["loss"][0] * weights.sum()    # reported: mean per real pair
    d_in, d_out = np.zeros_like(win), np.zeros_like(wout)
    for b in range(3):
        h = win[words[b]]
        cols = [(labels[b], 1.0)] + [(s, 0.0) for s in negatives if s != labels[b]]
        for c, target in cols:
            g = sigmoid(h @ wout[c]) - target
            d_out[c] += g * h
            d_in[words[b]] += g * wout[c]
    np.testing.assert_allclose(model.target_table.numpy(), win - lr * d_in, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(model.context_table.numpy(), wout - lr * d_out, rtol=1e-5,
                               atol=1e-6)
    want_total = numpy_neg(win[words[:3]], wout, labels[:3], negatives).sum()
    np.testing.assert_allclose(float(total), want_total, rtol=1e-5)


def test_learning_rate_decays_linearly_like_word2vec():
    alpha = 0.025
    got = [w2v.learning_rate(alpha, p) for p in (0.0, 0.25, 0.5, 1.0)]
    np.testing.assert_allclose(got, [0.025, 0.01875, 0.0125, 0.025 * 1e-4])
    schedule = w2v.LinearDecay(alpha, total_steps=8)          # the same rule for model.fit
    np.testing.assert_allclose([float(schedule(t)) for t in (0, 2, 4, 8, 9)],
                               [w2v.learning_rate(alpha, t / 8) for t in (0, 2, 4, 8, 9)],
                               rtol=1e-6)


# ------------------------------------------------------------------------------ model.fit
FIT_CASES = [("skipgram", "neg_shared", 4), ("skipgram", "neg", 3), ("cbow", "neg_per_pair", 3),
             ("skipgram", "nce", 4), ("skipgram", "sampled_softmax", 4), ("cbow", "hs", 0),
             ("skipgram", "softmax", 0), ("skipgram", "tutorial_softmax", 2)]


@pytest.mark.parametrize("arch,loss,num_sampled", FIT_CASES)
def test_fit_step_is_the_tape_step(arch, loss, num_sampled):
    """Two steps of `model.fit` (Keras SGD on the summed `pair_loss`) move the tables
    exactly as two `make_train_step` steps (word2vec's `sgd_step`, no clip) with the same
    sampler seed, hence the same negatives; the reported loss is the steps' mean per pair."""
    rng = np.random.default_rng(4)
    words = rng.integers(0, 7, size=(8, 4) if arch == "cbow" else 8)
    if arch == "cbow":
        words[:3, 2:] = 7                                      # padding slots (pad_id = V)
    contexts = rng.integers(0, 7, size=8)
    lr = 0.05
    negatives = 2 if loss == "neg_shared" else None            # weight k/S = 2/4
    tape_model, fit_model = make_model(arch, loss=loss), make_model(arch, loss=loss)
    counts = np.arange(7, 0, -1) * 10
    step = w2v.make_train_step(tape_model, loss, w2v.unigram_sampler(counts, seed=3),
                               num_sampled, negatives=negatives)
    totals = [float(step(tf.constant(words[b:b + 4]), tf.constant(contexts[b:b + 4]),
                         tf.ones(4), tf.constant(lr))) for b in (0, 4)]
    fit_model.compile(keras.optimizers.SGD(lr), loss, counts=counts, seed=3,
                      num_sampled=num_sampled, negatives=negatives)
    history = fit_model.fit(words, contexts, batch_size=4, shuffle=False, verbose=0)
    for mine, theirs in [(fit_model.target_table, tape_model.target_table),
                         (fit_model.context_table, tape_model.context_table)]:
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    if loss == "hs":
        np.testing.assert_allclose(fit_model.hs.inner_vectors.numpy(),
                                   tape_model.hs.inner_vectors.numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(fit_model.target_table.numpy(), make_model(arch).target_table.numpy())
    np.testing.assert_allclose(history.history["loss"][0], sum(totals) / 8, rtol=1e-5)


def test_fit_gradient_is_autodiffs_of_the_summed_loss():
    """The step `fit` takes is -lr times the gradient of sum_b l_b, checked against central
    finite differences of that sum (float64 copy of the tables, fixed negatives)."""
    model = make_model(dim=3)
    sampler = FixedSampler([2, 5, 1], np.full(7, 1 / 7))
    words, contexts = np.array([0, 1, 1, 4]), np.array([5, 2, 3, 0])
    win, wout = (t.numpy().astype(np.float64) for t in (model.target_table, model.context_table))

    def summed(win_, wout_):             # numpy NEG with shared negatives, skip the target
        return numpy_neg(win_[words], wout_, contexts, [2, 5, 1]).sum()

    lr, eps = 0.01, 1e-5
    model.compile(keras.optimizers.SGD(lr), "neg_shared", sampler=sampler, num_sampled=3)
    model.fit(words, contexts, batch_size=4, verbose=0)
    for table, got in [(win, model.target_table.numpy()), (wout, model.context_table.numpy())]:
        fd = np.zeros_like(table, np.float64)
        for idx in np.ndindex(*table.shape):
            table[idx] += eps
            up = summed(win, wout)
            table[idx] -= 2 * eps
            fd[idx] = (up - summed(win, wout)) / (2 * eps)
            table[idx] += eps
        np.testing.assert_allclose(got, table - lr * fd, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    (dict(loss="bogus"), "loss must be one of"), (dict(loss="neg"), "counts"),
    (dict(loss="hs"), "hierarchical=True")])
def test_fit_compile_names_the_bad_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        w2v.Word2Vec(7, 4).compile("sgd", **kwargs)


# ------------------------------------------------------------------------------ training
def topic_corpus(seed=0, n_sentences=300):
    """Two topics with disjoint vocabularies: words co-occur only within their topic."""
    rng = np.random.default_rng(seed)
    topics = [np.arange(0, 10), np.arange(10, 20)]
    return [rng.choice(topics[i % 2], size=12) for i in range(n_sentences)]


# Known weaknesses: NCE with 4 negatives shared by a whole batch and the per-row step clip
# trains on a 20-word vocabulary but does not separate the topics (gap ~0.05).
SHARED_XFAIL = pytest.mark.xfail(reason="batch-shared negatives on a 20-word vocabulary",
                                  strict=False)


@pytest.mark.slow
@pytest.mark.parametrize("arch,loss", [
    ("skipgram", "neg"), ("skipgram", "neg_shared"), ("skipgram", "neg_shared:independent"),
    ("skipgram", "neg_per_pair"), pytest.param("skipgram", "nce", marks=SHARED_XFAIL),
    ("skipgram", "sampled_softmax"),
    ("skipgram", "hs"), ("skipgram", "softmax"), ("skipgram", "tutorial_softmax"),
    ("cbow", "neg"), ("cbow", "hs"),
    pytest.param("cbow", "neg_shared", marks=pytest.mark.xfail(
        reason="summed shared-negative updates diverge on a 20-word CBOW vocabulary",
        strict=False))])
def test_training_separates_topics(arch, loss):
    """After training, a word is closer to words of its own topic than to the other topic.

    Within-topic mean cosine minus across-topic mean cosine must exceed 0.3; random vectors
    give ~0 +- 0.05 (20 words, dim 16), so this fails unless the loss actually trains.
    "neg_shared:independent" draws the shared negatives independently, not stratified.
    """
    loss, _, mode = loss.partition(":")
    encoded = topic_corpus()
    counts = np.bincount(np.concatenate(encoded), minlength=20)
    order = np.argsort(-counts, kind="stable")            # ids must be sorted by count
    remap = np.empty(20, np.int64)
    remap[order] = np.arange(20)
    encoded = [remap[s] for s in encoded]
    topic = (order >= 10).astype(int)                     # topic of new id i
    batch = 256
    model, stats = w2v.train(encoded, counts[order], arch=arch, loss=loss, dim=16, window=3,
                             negatives=4, epochs=8, sample=0, batch_size=batch, seed=0,
                             stratified=mode != "independent", progress=False)
    v = model.word_vectors()
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    cos = v @ v.T
    same = topic[:, None] == topic[None, :]
    off = ~np.eye(20, dtype=bool)
    gap = cos[same & off].mean() - cos[~same].mean()
    assert gap > 0.3, (loss, arch, gap, stats.epoch_loss)
    assert stats.epoch_loss[-1] < stats.epoch_loss[0]


def test_train_counts_words_like_word2vec():
    encoded = topic_corpus(n_sentences=40)
    counts = np.bincount(np.concatenate(encoded), minlength=20)
    order = np.argsort(-counts, kind="stable")
    remap = np.empty(20, np.int64)
    remap[order] = np.arange(20)
    model, stats = w2v.train([remap[s] for s in encoded], counts[order], dim=8, epochs=2,
                             batch_size=64, sample=0, progress=False)
    assert stats.words == 2 * 40 * 12                     # in-vocabulary tokens x epochs
    assert len(stats.epoch_loss) == 2
    assert stats.examples > 0 and stats.seconds > 0


@pytest.mark.parametrize("kwargs,match", [
    (dict(window=0), "window"), (dict(dim=0), "dim"), (dict(epochs=0), "epochs"),
    (dict(negatives=20), "negatives"), (dict(loss="bogus"), "loss"),
    (dict(arch="glove"), "arch"), (dict(loss="neg_shared", stratified="yes"), "stratified")])
def test_bad_hyperparameters_name_the_argument(kwargs, match):
    encoded = [np.arange(20)]
    counts = np.ones(20, np.int64)
    with pytest.raises(ValueError, match=match):
        w2v.train(encoded, counts, progress=False, **kwargs)


def test_deal_puts_each_centres_pairs_in_different_piles():
    """`_deal` is a permutation, and a pile (what consecutive batches cut) holds at most one
    pair of any centre when the piles outnumber a centre's pairs (<= 2w)."""
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 11, 5000)                      # pairs per centre, w = 5
    group = np.repeat(np.arange(len(sizes)), sizes)         # centre of each pair, in order
    dealt = training._deal(group, 16)
    np.testing.assert_array_equal(np.sort(dealt), group)
    bounds = np.cumsum([len(group[r::16]) for r in range(16)])[:-1]
    for pile in np.split(dealt, bounds):
        assert len(np.unique(pile)) == len(pile)
    np.testing.assert_array_equal(training._deal(np.arange(10), 3), [0, 3, 6, 9, 1, 4, 7, 2, 5, 8])


@pytest.mark.parametrize("kwargs, message", [
    (dict(counts=[5, 4, 3]), "encoded holds word id 5, but counts covers ids 0..2"),
    (dict(alpha=-1.0), "alpha must be a number > 0"),
    (dict(alpha=float("nan")), "alpha must be a number > 0"),
    (dict(min_alpha_ratio=5.0), "min_alpha_ratio must be a number in"),
    (dict(sample=-1), "sample must be a number >= 0"),
    (dict(counts=[[6, 5, 4, 3, 2, 1]]), "counts must be 1-D"),
])
def test_train_refuses_what_trained_to_nan_or_silently_wrong(kwargs, message):
    """Ids beyond counts were clamped on the default fast path (NaN for nce, a raw Gather
    error elsewhere); alpha -1 or NaN and min_alpha_ratio 5 trained to NaN vectors."""
    from w2v_tf import word2vec
    encoded = [np.array([0, 1, 2, 3, 4, 5]), np.array([5, 4, 3, 2, 1, 0])]
    args = dict(counts=[6, 5, 4, 3, 2, 1], dim=4, epochs=1, negatives=2, progress=False)
    with pytest.raises(ValueError, match=message):
        word2vec.train(encoded, **{**args, **kwargs})


def test_train_refuses_a_model_of_other_sizes():
    from w2v_tf import word2vec
    encoded = [np.array([0, 1, 2, 3, 4, 5])]
    args = dict(counts=[6, 5, 4, 3, 2, 1], dim=4, epochs=1, negatives=2, progress=False)
    for model, message in ((word2vec.Word2Vec(5, 4), "vocab_size=5"),
                           (word2vec.Word2Vec(6, 8), "dim=8"),
                           (word2vec.Word2Vec(6, 4, arch="cbow"), "arch='cbow'"),
                           (word2vec.Word2Vec(6, 4), "hierarchical=True")):
        with pytest.raises(ValueError, match=message):
            word2vec.train(encoded, model=model, **args,
                           **({"loss": "hs"} if "hier" in message else {}))


def test_keras_model_saves_evaluates_and_names_a_cbow_triple(tmp_path):
    """Word2Vec had no get_config (save raised NotImplementedError) and no test_step
    (evaluate raised OperatorNotAllowedInGraphError); cbow_dataset's (window, n, target)
    batches were read as (x, y, sample_weight) and trained to NaN."""
    import keras
    from w2v_tf import word2vec
    from w2v_tf.word2vec import pipeline
    rng = np.random.default_rng(0)
    encoded = [rng.integers(0, 12, 20) for _ in range(30)]
    counts = np.sort(np.bincount(np.concatenate(encoded), minlength=12))[::-1] + 1
    model = word2vec.Word2Vec(12, 8, counts=counts, hierarchical=True)
    model.compile(keras.optimizers.SGD(0.01), loss="hs")
    data = pipeline.skipgram_dataset(encoded, 2, batch_size=64)
    model.fit(data, verbose=0)
    assert np.isfinite(model.evaluate(data, verbose=0))
    model.save(tmp_path / "w2v.keras")
    loaded = keras.models.load_model(tmp_path / "w2v.keras")
    np.testing.assert_array_equal(loaded.word_vectors(), model.word_vectors())
    np.testing.assert_array_equal(loaded.hs.inner_vectors.numpy(),
                                  model.hs.inner_vectors.numpy())
    cbow = word2vec.Word2Vec(12, 8, arch="cbow")
    cbow.compile(keras.optimizers.SGD(0.01), loss="neg_shared", counts=counts)
    windows = pipeline.cbow_dataset(encoded, 2, batch_size=64, pad_id=12)
    with pytest.raises(ValueError, match="map them to \\(window, target\\)"):
        cbow.fit(windows, verbose=0)
    history = cbow.fit(windows.map(lambda w, n, t: (w, t)), verbose=0).history
    assert np.isfinite(history["loss"]).all()
