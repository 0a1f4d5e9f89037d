"""The fast path: an optimisation of the `Word2Vec` model of `model.py`, nothing new to learn.

Same model (the two tables, scores u . h of `einsum('be,bce->bc')`), same objective as
`pair_loss`'s "neg" (word2vec's negative sampling, each example's own k negatives; a negative
equal to the target is skipped here, as word2vec.c does, and redrawn there) or "neg_shared"
(S negatives shared by the batch, each term weighted k/S; drawn stratified here by default,
independently there), same update (the summed per-pair gradients times word2vec's decaying
rate). It is faster than `model.fit` or
the tape step because it leaves out what the general path needs and NEG does not: no
`GradientTape` (the gradients below are two lines of algebra), no optimizer, many steps per
compiled call (a `tf.while_loop` under XLA: Python is entered once per chunk of steps), the
negatives drawn by numpy from word2vec.c's unigram table one chunk ahead, and for CBOW the
rows of a run of consecutive centres gathered and scattered once. That both paths learn
equally good vectors is tested in tests/test_word2vec_reference.py (same corpus, seeds and
epochs, WordSim353 Spearman within 0.03, the seconds of both printed); that the gradients
are autodiff's of `pair_loss`, in tests/test_fast_sgd.py.

Each example (skip-gram pair, or CBOW window -> centre) draws its own k negatives from
word2vec's noise distribution Q(w) = count_w^0.75 / Z, as word2vec.c does, and scores

    J = -log s(u_o . h) - sum_{j=1..k} [n_j != o] log s(-u_{n_j} . h)       (Mikolov 2013b, eq. 4)

with h the input vector of the centre word (skip-gram) or the mean of the window's input
vectors (CBOW), u the output vectors and o the word to predict. A negative equal to o is
skipped (word2vec.c: `if (target == word) continue`). With c_0 = o, c_j = n_j and labels
y = (1, 0, ..., 0) the gradients are

    e_j = s(u_{c_j} . h) - y_j                       # [B, 1+k] "error" of each column
    dJ/du_{c_j} = e_j h,      dJ/dh = sum_j e_j u_{c_j}

which is word2vec.c's `g = (label - f) * alpha` with the sign folded into the step. We apply
them with `scatter_sub` to the rows the batch touched, lr times the sum over the batch (no
tape, no dense [V, dim] gradient). CBOW adds dJ/dh in full to every window word, word2vec.c's
rule. A `tf.while_loop` runs many such steps per call, so Python is entered once per chunk.

Negatives are drawn as word2vec.c draws them: a table of T entries in which word w fills a
share Q(w) of the slots, indexed by uniform integers (`unigram_table`, `draw_negatives`),
with numpy, outside the compiled step, and passed in.

Cost (2-core CPU, XLA, dim 100): ~1 us a skip-gram pair, much of it moving rows in XLA on
CPU: a row scatter-add costs 80-125 ns (100 floats, a scalar loop whether or not the rows
are in cache), a row gather 7-20 ns (measured in a compiled loop of 1344-row gathers and
scatters on a 33k x 100 table). CBOW with a window per example gathers and scatters 2w rows per
centre (about 3.3 us an example); with `segments=True` a batch is R runs of G consecutive
centres and a run's G + 2w tokens are gathered and scattered once, the windows being 0/1
matrices M_r (`segment_window_matrices`) so that h = M v and the input update is M^T dJ/dh
(about 1.6 us an example, measured side by side; 1.2-1.4 us once M is built as a band by
pad/reshape; 0.9-1.1 us with M and M^T built by numpy one chunk ahead, found by profiling
each HLO op with XLA_FLAGS=--xla_cpu_enable_xprof_traceme=true; 6% less again with the loss
on every 8th step, `loss_every`). XLA spreads each op over both cores (~1.7 cores busy), so
a step slows with anything else on the machine.
"""
from __future__ import annotations

import functools
from typing import Optional

import numpy as np
import tensorflow as tf

TABLE_SIZE = 10_000_000   # word2vec.c uses 1e8; 1e7 keeps Q's relative error < 1e-3 for
                          # every word with Q >= 1e-4 and costs 40 MB


def unigram_table(counts, power: float = 0.75, size: int = TABLE_SIZE) -> np.ndarray:
    """word2vec.c's `InitUnigramTable`: int32 `[size]`, word w in ~size * Q(w) slots.

    Q(w) = count_w^power / sum_v count_v^power. Slot i holds the word whose cumulative share
    interval contains (i + 0.5) / size, so a uniform slot has probability Q(w) up to 1/size.
    Every word with a positive count gets at least one slot, as in word2vec.c.

    Args:
        counts: `[V]` positive word counts.
        power: the distortion (word2vec: 0.75).
        size: number of slots T; must be >= V.

    Raises:
        ValueError: counts not a non-empty 1-D positive array, or size < V.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0 or np.any(counts <= 0):
        raise ValueError(f"counts must be a non-empty 1-D array of positive counts, got shape "
                         f"{counts.shape}")
    if size < counts.size:
        raise ValueError(f"size={size} must be at least the vocabulary size {counts.size}")
    q = counts ** power
    cdf = np.cumsum(q / q.sum())                                            # [V]
    # Slot i holds #{w : cdf_w <= x_i}, x_i = (i + 0.5) / T (clipped to V - 1): word w
    # fills the slots with cdf_{w-1} <= x_i < cdf_w, so its last slot + 1 is
    # e_w = #{i : x_i < cdf_w} = ceil(cdf_w T - 1/2) (clipped to [0, T]), computed for the
    # V boundaries and nudged by one where rounding put it on the wrong side of an x_i
    # (no [T] grid of x_i: a fresh process paid ~0.5 s CPU for it and a sort of the table).
    c = cdf[:-1]                                                            # [V-1]
    ends = np.clip(np.ceil(c * size - 0.5), 0, size).astype(np.int64)
    ends -= (ends > 0) & ((ends - 1 + 0.5) / size >= c)                   # x_{e-1} must be < c
    ends += (ends < size) & ((ends + 0.5) / size < c)                     # x_e must be >= c
    sizes = np.diff(np.concatenate([[0], ends, [size]]))                    # [V]
    missing = np.flatnonzero(sizes == 0)                                    # ~never for T >> V
    if missing.size:   # one slot each, taken from the words with the most slots (T >= V)
        sizes[missing] = 1
        owed = missing.size
        for donor in np.argsort(-sizes, kind="stable"):
            give = min(owed, int(sizes[donor]) - 1)
            sizes[donor] -= give
            owed -= give
            if owed == 0:
                break
    # ids in order, so the table stays sorted by id (`draw_stratified_negatives` relies on
    # its first slices holding the commonest words)
    return np.repeat(np.arange(counts.size, dtype=np.int32), sizes)         # [T]


def neg_errors(h, out_rows, negative_ok):
    """e = s(u . h) - y for the positive column and the k negatives.

    Args:
        h: `[B, d]` input representations.
        out_rows: `[B, 1+k, d]` output vectors u of (positive, negatives).
        negative_ok: `[B, k]` float, 0 where a negative equals the positive (skipped).

    Returns:
        (e `[B, 1+k]`, o `[B, 1+k]`): e is 0 on skipped negatives; o = u . h, the scores
        (`neg_loss(o[:, 0], o[:, 1:], negative_ok)` is J per example).
    """
    o = tf.einsum("bd,bcd->bc", h, out_rows)                                # [B, 1+k]
    mask = tf.concat([tf.ones_like(negative_ok[:, :1]), negative_ok], axis=1)  # [B, 1+k]
    y = tf.one_hot(tf.zeros_like(o[:, 0], tf.int32), tf.shape(o)[1], dtype=o.dtype)
    e = (tf.sigmoid(o) - y) * mask                                           # [B, 1+k]
    return e, o


def neg_loss(o_target, o_negatives, negative_ok, weight=1.0):
    """J per example: -log s(o_t) - weight sum_j [n_j != o] log s(-o_j), with -log s(x) =
    softplus(-x). `[B]` from o_target `[B]`, o_negatives and negative_ok `[B, k]`."""
    return tf.math.softplus(-o_target) + weight * tf.reduce_sum(
        tf.math.softplus(o_negatives) * negative_ok, axis=1)


def draw_negatives(table: np.ndarray, rng: np.random.Generator, shape) -> np.ndarray:
    """Negatives n ~ Q as word2vec.c draws them: uniform slots of the unigram table.

    Drawn with numpy, outside the compiled step: ~5 ns a draw, where TensorFlow's stateless
    RNG inside XLA cost ~0.3 us a draw on this CPU.

    Returns:
        int32 array of `shape`.
    """
    return table[rng.integers(0, len(table), size=shape)]


def draw_stratified_negatives(table: np.ndarray, rng: np.random.Generator, shape) -> np.ndarray:
    """S shared negatives, one from each of S equal slices of the unigram table.

    Cut the T slots into S slices of T/S slots; draw s takes a uniform point of slice s,

        n_s = table[floor((s + u_s) T / S)],   u_s ~ U[0, 1),   s = 0 .. S-1.

    Draw s has density S/T on slice s, so the S draws together land on every slot with the
    same expected count S/T, as S independent draws do: for any f,
    E[sum_s f(n_s)] = S E_{n~Q}[f(n)], and the shared-negative objective of
    `make_neg_train_chunk` stays an unbiased estimate of word2vec's (T need not be a
    multiple of S). What changes is the spread: the table lists the words by decreasing
    count, so slice 0 holds the most frequent words, and every set of S draws holds about
    S Q(top words) of them instead of a binomial number. E.g. the draws among the words
    filling the first half of the table number S/2 (+-1) instead of S/2 +- sqrt(S)/2.

    This is classic stratified sampling (each stratum sampled once). Measured on the
    2.38M-word benchmark corpus (CBOW, 5 epochs, 6 seeds, wordsim353 Spearman): S = 16
    stratified 0.372, S = 16 independent 0.331, S = 32 independent 0.361 (gensim 0.357);
    S = 16 does ~10% less work a step than S = 32.

    Args:
        table: `unigram_table` `[T]`.
        rng: numpy generator.
        shape: `(..., S)`; the last axis is stratified.

    Returns:
        int32 array of `shape`; column s holds words of slice s.
    """
    shape = tuple(shape)
    strata = shape[-1]
    slots = ((np.arange(strata) + rng.random(shape)) * (len(table) / strata)).astype(np.int64)
    np.minimum(slots, len(table) - 1, out=slots)      # (s + u) T / S < T, guard the rounding
    return table[slots]


def row_step_scale(ids, amounts, num_rows: int, cap: Optional[float]):
    """min(1, cap / n_u) for each update of row u, n_u = the pair updates row u gets.

    word2vec applies the n_u updates of a row one after another, each seeing the last (and
    the sigmoid saturating); summed at once they are a step n_u times larger, which diverges
    once lr n_u times the curvature exceeds 2 (tiny vocabularies, or very frequent words in
    large batches). Scaling each row's summed update by min(1, cap / n_u) caps its step at
    `cap` pair updates and leaves rows used fewer than `cap` times exactly as word2vec.

    Args:
        ids: int `[N]` row of each update.
        amounts: float `[N]` pair updates each entry stands for (1, or B k / S summed ones).
        num_rows: rows of the table.
        cap: the most pair updates a row takes in one step; None for no cap.

    Returns:
        float32 `[N]` scale of each update (all ones when cap is None).
    """
    if cap is None:
        return tf.ones_like(amounts)
    n_u = tf.math.unsorted_segment_sum(amounts, ids, num_rows)             # [V]
    return tf.minimum(1.0, cap / tf.maximum(tf.gather(n_u, ids), 1e-12))    # [N]


def segment_window_matrices(used):
    """The 0/1 band matrices of CBOW runs, built with numpy outside the compiled step.

    M `[..., G, G + 2w]` has M[g, t] = used[g, k] at t = g + w + o_k: centre g of a run sits
    at token g + w of the run's G + 2w tokens (w on each side) and slot k of its window
    (offset o_k in -w..-1, +1..+w) at token g + w + o_k, so row g of M is the row
    x_g = (used[g, :w], 0, used[g, w:]) (2w + 1 entries, the 0 at the centre) shifted right
    by g: a band matrix, M[g, t] = x_g[t - g]. Built without arithmetic: pad every x_g
    with G zeros to length L = G + 2w + 1, lay the rows end to end and cut the flat sequence
    into rows of L - 1 = G + 2w. Row g then starts g entries further into its padded row,
    which is the shift (the entries left of the band are the previous row's zero padding).

    Why numpy and not the step: XLA on CPU spends more on this pad/reshape/slice (an index
    division per entry) than on the matmul that uses M, and the transposed matmul M^T d,
    which XLA folds into the dot as a transposed operand, runs ~2x slower than a plain one
    with M^T laid out in memory (profiled: 124 + 62 + 370 us of a 1.5 ms step). A background
    thread builds the next chunk's matrices while the current one trains.

    Args:
        used: bool or 0/1 `[..., G, 2w]`, 1 where centre g uses slot k (shrunk window,
            sentence).

    Returns:
        (M uint8 `[..., G, G + 2w]`, M^T uint8 `[..., G + 2w, G]`, inv_n float32 `[..., G]`
        = 1 / max(1, window size), the CBOW mean's weight).
    """
    used = np.asarray(used)
    g, two_w = used.shape[-2], used.shape[-1]
    w = two_w // 2
    lead = used.shape[:-2]
    x = np.zeros(lead + (g, g + two_w + 1), np.uint8)                     # [..., G, L]
    x[..., :w] = used[..., :w]                                            # x_g, then G zeros
    x[..., w + 1:two_w + 1] = used[..., w:]
    flat = x.reshape(lead + (g * (g + two_w + 1),))[..., :g * (g + two_w)]
    matrix = flat.reshape(lead + (g, g + two_w))
    inv_n = 1.0 / np.maximum(used.sum(-1, dtype=np.float32), 1.0)         # [..., G]
    return matrix, np.ascontiguousarray(np.swapaxes(matrix, -1, -2)), inv_n


@functools.lru_cache(maxsize=8)
def _band_rows(run_length: int, window: int):
    """Every row M can have: `[(w+1)^2 G]` items of G + 2w bytes (uint8 0/1), item c G + g
    the band row of centre g whose window has code c (`w2v_tf.word2vec.pipeline.window_slot_table`),
    and `[(w+1)^2]` float32 1 / max(1, window size) per code."""
    from w2v_tf.word2vec.pipeline import window_slot_table
    rows = window_slot_table(window)                                        # [C, 2w]
    shape = (len(rows), run_length, 2 * window)
    matrix, _, inv_n = segment_window_matrices(np.broadcast_to(rows[:, None, :], shape))
    length = run_length + 2 * window
    # each row as one opaque (G + 2w)-byte item: np.take then copies whole rows (3x faster
    # than fancy-indexing a 2-D uint8 table)
    rows = np.ascontiguousarray(matrix.reshape(-1, length)).view(np.dtype((np.void, length)))
    return rows.ravel(), inv_n[:, 0]


def segment_window_matrices_of_codes(code, window: int):
    """`segment_window_matrices` of runs whose windows come as codes (`[..., G]`, rows of
    `w2v_tf.word2vec.pipeline.window_slot_table`, as `w2v_tf.word2vec.pipeline.cbow_run_codes` makes them).

    Row g of M depends only on g and the code of centre g, so M is one row lookup per
    centre in a table of the (w + 1)^2 G possible rows: 1.1 ms a chunk of 64 steps x 1024
    centres (G = 16, w = 5) where laying the band out from `used` takes 2.8 ms; and the
    codes are 1/(2w) of `used`'s bytes to shuffle and batch. Windows over 64 (a large
    table) decode the codes and take the general path.

    Returns:
        the same (M, M^T, inv_n) as `segment_window_matrices(window_slot_table(w)[code])`.
    """
    code = np.asarray(code)
    g = code.shape[-1]
    if window > 64:
        from w2v_tf.word2vec.pipeline import window_slots_of_codes
        return segment_window_matrices(window_slots_of_codes(code, window))
    rows, inv_n = _band_rows(g, window)
    index = code.astype(np.intp) * g + np.arange(g)                         # [..., G]
    matrix = np.take(rows, index).view(np.uint8).reshape(index.shape + (-1,))  # [..., G, G+2w]
    return matrix, np.ascontiguousarray(np.swapaxes(matrix, -1, -2)), inv_n[code]


def segment_window_sum(vecs, matrix):
    """CBOW window sums of R runs of G consecutive centres from the rows of their tokens.

        out[r, g] = sum_k used[r, g, k] vecs[r, g + w + o_k] = (M_r vecs_r)[g]

    One gather of G + 2w rows per run instead of 2w per centre (consecutive centres share
    2w - 1 window words), and a batched matmul.

    Args:
        vecs: `[R, G + 2w, d]` rows of the runs' tokens.
        matrix: M of `segment_window_matrices`, `[R, G, G + 2w]` (any real dtype).

    Returns:
        `[R, G, d]`.
    """
    return tf.einsum("rgt,rtd->rgd", tf.cast(matrix, vecs.dtype), vecs)


def segment_window_spread(d, matrix_t):
    """The transpose of `segment_window_sum`: what each run token receives, M_r^T d_r.

        out[r, t] = sum_{g, k : g + w + o_k = t} used[r, g, k] d[r, g]

    Args:
        d: `[R, G, c]` per-centre values (dJ/dh, or a weight with c = 1).
        matrix_t: M^T of `segment_window_matrices`, `[R, G + 2w, G]`, laid out transposed
            in memory (a `tf.transpose` of M here would be folded by XLA into a dot that
            contracts M's first axis, about 2x slower on CPU).

    Returns:
        `[R, G + 2w, c]`.
    """
    return tf.einsum("rtg,rgc->rtc", tf.cast(matrix_t, d.dtype), d)


def make_neg_train_chunk(target_table: tf.Variable, context_table: tf.Variable,
                         negatives: int = 5, arch: str = "skipgram",
                         pad_id: Optional[int] = None, shared: bool = False,
                         jit_compile: Optional[bool] = True,
                         max_row_updates: Optional[float] = None,
                         segments: bool = False, loss_every: int = 1):
    """A compiled `(words, targets, neg, weights, lrs) -> summed loss` running n SGD steps.

    Args:
        target_table: input vectors `[V (+1), d]` (skip-gram centre / CBOW window words).
        context_table: output vectors `[V, d]`.
        negatives: k, the negatives per example of word2vec's objective.
        arch: "skipgram" or "cbow".
        pad_id: CBOW padding id in the windows (its row gets zero updates).
        shared: False: each example has its own k negatives (`neg` is `[n, B, k]`), word2vec's
            objective exactly. True: the S examples of `neg` `[n, S]` are shared by the
            whole batch and each negative term is weighted k/S,

                J' = -log s(u_o . h) - (k/S) sum_{s=1..S} [n_s != o] log s(-u_{n_s} . h),

            an unbiased estimate of J (E over n_s ~ Q is the same), computed with matmuls.
        jit_compile: compile with XLA (~2x faster on CPU).
        max_row_updates: cap on the pair updates a row takes per step (`row_step_scale`);
            None: plain summed SGD.
        segments: CBOW only: the batch is R runs of G consecutive centres
            (`w2v_tf.word2vec.pipeline.make_cbow_runs`) and `words` is the tuple
            `(ext [n, R, G+2w], M [n, R, G, G+2w], M^T [n, R, G+2w, G], inv_n [n, R, G])`,
            the run tokens and `segment_window_matrices` of the runs' `used`; the rows of a
            run's G + 2w tokens are gathered and scattered once instead of 2w times (see
            `segment_window_sum`). The same update as the window layout.
        loss_every: compute the loss on steps i = 0, m, 2m, ... of each call only (m =
            loss_every), for the returned sum; the updates do not depend on it. The loss's
            softplus terms cost ~9% of a CBOW step with 32 shared negatives (measured side by
            side); with batches in random order, every m-th step is an unbiased sample of
            the epoch's loss (`w2v_tf.word2vec.train` uses m = 8 and divides by the examples
            of those steps).

    The returned function takes
        words: int32 `[n, B]` centre ids (skip-gram) or `[n, B, 2w]` windows (CBOW), or
            for `segments` the tuple above (B = R G),
        targets: int32 `[n, B]` the word to predict (context word / centre word),
        neg: int32 `[n, B, k]` (or `[n, S]` if shared) negatives (`draw_negatives`),
        weights: float32 `[n, B]`, 1 for real examples and 0 for padding,
        lrs: float32 `[n]`, the learning rate of each step,
    runs step i on row i, in order, and returns the summed loss of the real examples of the
    steps i with i % loss_every == 0.
    """
    if arch not in ("skipgram", "cbow"):
        raise ValueError(f"arch must be 'skipgram' or 'cbow', got {arch!r}")
    if arch == "cbow" and pad_id is None:
        raise ValueError("arch='cbow' needs pad_id (the padding id of the windows)")
    if segments and arch != "cbow":
        raise ValueError("segments=True needs arch='cbow'")
    if isinstance(loss_every, bool) or not isinstance(loss_every, int) or loss_every < 1:
        raise ValueError(f"loss_every must be an int >= 1, got {loss_every!r}")
    steps = _NegSteps(target_table, context_table, float(negatives), arch, pad_id,
                      max_row_updates, segments)
    one_step = steps.shared_step if shared else steps.per_pair_step

    @tf.function(jit_compile=jit_compile, autograph=False, reduce_retracing=True)
    def chunk(words, targets, neg, weights, lrs):
        def body(i, total):
            words_i = tf.nest.map_structure(lambda a: a[i], words)   # a tuple for segments
            loss = one_step(words_i, targets[i], neg[i], weights[i], lrs[i])   # J, deferred
            if loss_every == 1:
                return i + 1, total + loss()
            return i + 1, total + tf.cond(tf.equal(i % loss_every, 0), loss,
                                          lambda: tf.constant(0.0))

        _, total = tf.while_loop(lambda i, t: i < tf.shape(targets)[0], body,
                                 (tf.constant(0), tf.constant(0.0)))
        return total

    return chunk


class _NegSteps:
    """One SGD step of `make_neg_train_chunk` on the two tables, traced inside its loop.

    `per_pair_step` / `shared_step` take one step's `(words, targets [B], neg, weights [B],
    lr)`, write the updates into the tables, and return J of the step as a function (called
    only on the steps whose loss is measured).
    """

    def __init__(self, target_table, context_table, k, arch, pad_id, cap, segments):
        self.target_table, self.context_table = target_table, context_table
        self.k, self.arch, self.pad_id, self.cap, self.segments = k, arch, pad_id, cap, segments
        self.dim = int(target_table.shape[1])
        self.rows_in, self.rows_out = int(target_table.shape[0]), int(context_table.shape[0])

    # -- the input side: h from the target table, and dJ/dh back into it
    def encode(self, words):
        """h [B, d] and, for CBOW, the window mask [B, 2w] (segments: the pair (ext, M^T))."""
        if self.segments:   # (ext [R, G+2w], M [R, G, G+2w], M^T [R, G+2w, G], 1/n [R, G])
            ext, matrix, matrix_t, inv_n = words
            vecs = tf.gather(self.target_table, ext)                        # [R, G+2w, d]
            h = segment_window_sum(vecs, matrix) * inv_n[..., None]         # [R, G, d]
            return tf.reshape(h, [-1, self.dim]), (ext, matrix_t)
        if self.arch == "skipgram":
            return tf.gather(self.target_table, words), None                # [B, d]
        vecs = tf.gather(self.target_table, words)                          # [B, 2w, d]
        used = tf.cast(tf.not_equal(words, self.pad_id), tf.float32)        # [B, 2w]
        n_used = tf.maximum(tf.reduce_sum(used, 1, keepdims=True), 1.0)     # [B, 1]
        return tf.einsum("bwd,bw->bd", vecs, used) / n_used, used           # mean of window

    def update_inputs(self, words, d_h, used, weights):
        """Subtracts d_h [B, d] (lr and weights folded in) from the input rows of `words`."""
        if self.segments:
            self._update_runs(d_h, *used, weights)
        elif self.arch == "skipgram":
            d_h *= row_step_scale(words, weights, self.rows_in, self.cap)[:, None]
            self.target_table.scatter_sub(tf.IndexedSlices(d_h, words))
        else:   # word2vec.c: every window word gets the full dJ/dh (padding slots: zero)
            d_win = tf.reshape(d_h[:, None, :] * used[:, :, None], [-1, self.dim])  # [B*2w, d]
            flat = tf.reshape(words, [-1])                                   # [B*2w]
            d_win *= row_step_scale(flat, tf.reshape(used * weights[:, None], [-1]),
                                    self.rows_in, self.cap)[:, None]
            self.target_table.scatter_sub(tf.IndexedSlices(d_win, flat))

    def _update_runs(self, d_h, ext, matrix_t, weights):
        """Segments: every window word gets dJ/dh of its centre, summed per run token."""
        dim = self.dim                                                      # ext [R, G+2w]
        run_shape = tf.stack([tf.shape(matrix_t)[0], tf.shape(matrix_t)[2]])  # [R, G]
        d_h = tf.reshape(d_h, tf.concat([run_shape, [dim]], 0))             # [R, G, d]
        d_ext = tf.reshape(segment_window_spread(d_h, matrix_t), [-1, dim])  # [R (G+2w), d]
        flat = tf.reshape(ext, [-1])                                        # [R (G+2w)]
        if self.cap is not None:   # pair updates per run token: sum of the centres using it
            w_runs = tf.reshape(weights, run_shape)[..., None]              # [R, G, 1]
            amounts = tf.reshape(segment_window_spread(w_runs, matrix_t), [-1])
            d_ext *= row_step_scale(flat, amounts, self.rows_in, self.cap)[:, None]
        self.target_table.scatter_sub(tf.IndexedSlices(d_ext, flat))

    # -- one step: the output rows, then the input rows
    def per_pair_step(self, words, targets, neg, weights, lr):
        """Each example's own k negatives, `neg` [B, k]: word2vec's J exactly."""
        h, used = self.encode(words)                                        # [B, d]
        negative_ok = tf.cast(tf.not_equal(neg, targets[:, None]), tf.float32)   # [B, k]
        ids = tf.concat([targets[:, None], neg], axis=1)                    # [B, 1+k]
        out_rows = tf.gather(self.context_table, ids)                       # [B, 1+k, d]
        e, o = neg_errors(h, out_rows, negative_ok)
        e = e * (lr * weights)[:, None]                                     # [B, 1+k]
        # dJ/du_c = e_c h ;  dJ/dh = sum_c e_c u_c   (both from the rows before the update)
        d_out = tf.reshape(e[:, :, None] * h[:, None, :], [-1, self.dim])  # [B*(1+k), d]
        d_h = tf.einsum("bc,bcd->bd", e, out_rows)                          # [B, d]
        flat = tf.reshape(ids, [-1])                                        # [B*(1+k)]
        mask = tf.concat([tf.ones_like(negative_ok[:, :1]), negative_ok], 1) * weights[:, None]
        d_out *= row_step_scale(flat, tf.reshape(mask, [-1]), self.rows_out, self.cap)[:, None]
        self.context_table.scatter_sub(tf.IndexedSlices(d_out, flat))
        self.update_inputs(words, d_h, used, weights)
        return lambda: tf.reduce_sum(neg_loss(o[:, 0], o[:, 1:], negative_ok) * weights)

    def shared_step(self, words, targets, neg, weights, lr):
        """S negatives `neg` [S] shared by the batch, each term weighted k/S: J'."""
        k = self.k
        h, used = self.encode(words)                                        # [B, d]
        u_o = tf.gather(self.context_table, targets)                        # [B, d]
        u_s = tf.gather(self.context_table, neg)                            # [S, d]
        num_sampled = tf.cast(tf.shape(neg)[0], tf.float32)
        negative_ok = tf.cast(tf.not_equal(neg[None, :], targets[:, None]), tf.float32)  # [B, S]
        o_t = tf.reduce_sum(h * u_o, axis=1)                                # [B]
        # (XLA folds these tf.transpose calls into the dots' dimension numbers, as it would
        # transpose_a/b; for these [B, S] products that costs little, unlike M^T, which
        # `segment_window_matrices` lays out in memory)
        o_s = tf.matmul(h, tf.transpose(u_s))                               # [B, S]
        scale = lr * weights                                                # [B]
        # e_t = s(o_t) - 1 ;  e_s = (k/S) s(o_s), 0 on a negative equal to the target
        e_t = (tf.sigmoid(o_t) - 1.0) * scale                               # [B]
        e_s = tf.sigmoid(o_s) * negative_ok * (k / num_sampled) * scale[:, None]  # [B, S]
        d_h = e_t[:, None] * u_o + tf.matmul(e_s, u_s)                      # [B, d]
        d_u = tf.concat([e_t[:, None] * h, tf.matmul(tf.transpose(e_s), h)], 0)  # [B+S, d]
        rows = tf.concat([targets, neg], 0)                                 # [B+S]
        # pair updates per entry: 1 per real pair; (k/S) sum_b w_b [n_s != o_b] per negative
        amounts = tf.concat([weights, (k / num_sampled) * tf.reduce_sum(
            negative_ok * weights[:, None], axis=0)], 0)                    # [B+S]
        d_u *= row_step_scale(rows, amounts, self.rows_out, self.cap)[:, None]
        self.context_table.scatter_sub(tf.IndexedSlices(d_u, rows))
        self.update_inputs(words, d_h, used, weights)
        return lambda: tf.reduce_sum(neg_loss(o_t, o_s, negative_ok, k / num_sampled) * weights)
