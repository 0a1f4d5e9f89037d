"""Vectorised skip-gram and CBOW training examples, as numpy arrays or a `tf.data` pipeline.

One epoch, following word2vec.c (Mikolov et al. 2013), from sentences of word ids:

1. Subsampling (optional): token n of word w is kept when u_n < keep_prob[w], u_n ~ U[0,1)
   (`w2v_tf.word2vec.corpus.keep_probabilities`); dropped tokens are removed *before* windowing, so
   the windows of the survivors reach further, as in word2vec.c.
2. Shrunk window: every surviving centre position i draws b_i ~ U{0, ..., window-1} and
   uses the effective half-window w_i = window - b_i, so w_i ~ U{1, ..., window} and a
   context at distance d is used with probability (window - d + 1) / window.
3. Skip-gram: pairs (centre_i, token_j) for 0 < |i - j| <= w_i, j in the same sentence:
   up to 2 w_i pairs per centre. CBOW: one example per centre with its (up to 2 w_i)
   context tokens, centres with no context at all are skipped (word2vec.c's `if (cw)`).

Windows never cross a sentence boundary (word2vec.c and gensim reset at a sentence end, too).
Everything is vectorised over the flat token stream with a sentence-id array, with no
per-pair Python loop: each centre's reach to the left and right (min of w_i and the room left
in its sentence) gives its pair count, and `np.repeat` lays the pairs out in corpus order,
O(pairs) work and memory.

Randomness: one `numpy.random.Generator` per epoch, used in the order subsampling draws [N],
window draws [N'], then (datasets only) the shuffle. The datasets seed epoch k with
`np.random.default_rng([seed, k])`, so `make_skipgram_pairs(..., rng=default_rng([seed, k]))`
reproduces epoch k of `skipgram_dataset` before its shuffle.

Pairs are (target = centre word, context word), the TF tutorial's convention; word2vec.c's
skip-gram feeds the context word's input vector to predict the centre, which is the same
pair set with the roles of the two embedding tables swapped.
"""
from __future__ import annotations

import collections
import functools
import itertools
import threading
from typing import Sequence

import numpy as np


def _check_window(window) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be an int >= 1, got {window!r}")
    return int(window)


def _flatten(encoded: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenates sentences into ids [N] and sentence numbers [N] (validating them)."""
    if isinstance(encoded, np.ndarray) and encoded.dtype != object:
        raise TypeError("encoded must be a list of 1-D id arrays (one per sentence), got a "
                        f"single array of shape {encoded.shape}; wrap it as [ids]")
    if len(encoded) == 0:
        raise ValueError("encoded is empty: no sentences (an empty corpus, or min_count "
                         "removed every word)")
    arrays = [np.asarray(s) for s in encoded]
    for k, a in enumerate(arrays):
        if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
            raise TypeError(f"encoded[{k}] must be a 1-D int array of word ids, got shape "
                            f"{a.shape} dtype {a.dtype}")
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    ids = np.concatenate(arrays).astype(np.int64, copy=False)
    if ids.size == 0:
        raise ValueError("encoded holds no word ids (every sentence is empty)")
    if ids.min() < 0:
        raise ValueError(f"word ids must be >= 0, got {ids.min()}")
    sentence = np.repeat(np.arange(len(arrays), dtype=np.int64), lengths)
    return ids, sentence


def _check_keep_prob(keep_prob, max_id):
    if keep_prob is None:
        return None
    keep_prob = np.asarray(keep_prob, dtype=np.float64)
    if keep_prob.ndim != 1 or len(keep_prob) <= max_id:
        raise ValueError(f"keep_prob must be 1-D with an entry per word id (length > max id "
                         f"{max_id}), got shape {keep_prob.shape}")
    if not np.all((keep_prob >= 0) & (keep_prob <= 1)):
        raise ValueError("keep_prob must lie in [0, 1] (see corpus.keep_probabilities)")
    return keep_prob


def _check_pad_id(pad_id, max_id) -> int:
    if isinstance(pad_id, bool) or not isinstance(pad_id, (int, np.integer)) or pad_id <= max_id:
        raise ValueError(f"pad_id must be an int greater than every word id (max {max_id}); "
                         f"use len(vocab), got {pad_id!r}")
    return int(pad_id)


def _prepare(encoded, window, keep_prob):
    """Validates the arguments once; returns (ids [N], sentence [N], window, keep_prob)."""
    window = _check_window(window)
    ids, sentence = _flatten(encoded)
    return ids, sentence, window, _check_keep_prob(keep_prob, int(ids.max()))


def flatten_corpus(encoded, window: int = 5, keep_prob=None):
    """The checks every `make_*` function runs, then the corpus as (ids [N], sentence [N])
    int64, sentence numbers per token: what a trainer passes to `cbow_run_codes` each epoch
    (flattening 40k sentences anew every epoch cost ~20 ms a CBOW epoch)."""
    return _prepare(encoded, window, keep_prob)[:2]


def _subsample(ids, sentence, keep_prob, rng):
    """Step 1: keep token n when u_n < keep_prob[ids[n]], u_n ~ U[0, 1)."""
    if keep_prob is None:
        return ids, sentence
    keep = rng.random(len(ids)) < keep_prob[ids]                   # [N] bool
    return ids[keep], sentence[keep]


def _room(sentence):
    """Tokens before and after each position inside its sentence: (before [N], after [N])."""
    n = len(sentence)
    # Sentences are runs of equal `sentence` numbers: start and length of each run.
    is_start = np.empty(n, dtype=bool)
    is_start[0] = True
    np.not_equal(sentence[1:], sentence[:-1], out=is_start[1:])
    starts = np.flatnonzero(is_start)                              # [S']
    lengths = np.diff(np.append(starts, n))                        # [S']
    before = np.arange(n) - np.repeat(starts, lengths)             # [N] tokens before i
    after = np.repeat(lengths, lengths) - 1 - before               # [N] tokens after i
    return before, after


def _reaches(sentence, window, rng, room=None):
    """Steps 2-3: how far each centre's window reaches left and right inside its sentence.

    Args:
        room: `_room(sentence)` when already known (it does not change between epochs
            without subsampling).

    Returns:
        reach_l, reach_r: int64 [N]; centre i uses the tokens i-reach_l[i] .. i-1 and
        i+1 .. i+reach_r[i], reach_l = min(w_i, tokens before i in its sentence) and
        reach_r = min(w_i, tokens after i in its sentence).
    """
    # b_i ~ U{0..window-1}; effective half-window w_i = window - b_i in {1..window}.
    eff = rng.integers(0, window, size=len(sentence))               # [N] b_i
    np.subtract(window, eff, out=eff)                              # w_i, in place
    before, after = _room(sentence) if room is None else room
    # Clipping at the sentence edges: a window never crosses a sentence boundary.
    return np.minimum(eff, before), np.minimum(eff, after)


def effective_window_counts(encoded, window: int = 5,
                            rng: np.random.Generator | int | None = None,
                            keep_prob=None) -> np.ndarray:
    """Number of skip-gram pairs each centre produces, reach_l + reach_r.

    Returns:
        int64 [N'] (N' = tokens left after subsampling): 2 w_i for a centre at least w_i
        tokens from both sentence edges, fewer near an edge. Consumes `rng` exactly like
        `make_skipgram_pairs`, so the counts match its output for the same generator state.
    """
    ids, sentence, window, keep_prob = _prepare(encoded, window, keep_prob)
    rng = np.random.default_rng(rng)
    ids, sentence = _subsample(ids, sentence, keep_prob, rng)
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    reach_l, reach_r = _reaches(sentence, window, rng)
    return reach_l + reach_r


def make_skipgram_pairs(encoded: Sequence[np.ndarray], window: int = 5,
                        rng: np.random.Generator | int | None = None,
                        keep_prob: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of skip-gram (target, context) pairs as arrays, in corpus order.

    Args:
        encoded: sentences as 1-D int id arrays (`Vocabulary.encode`).
        window: maximal half-window (word2vec's `-window`, default 5).
        rng: a numpy Generator, or a seed for one.
        keep_prob: optional [V] subsampling keep probabilities (None: no subsampling).

    Returns:
        (targets [P], contexts [P]) int64, ordered by centre position and, within a centre,
        by context position (left to right), so a trainer can decay its learning rate along
        the corpus as word2vec.c does. P = sum_i (reach_l[i] + reach_r[i]) <= 2*window*N.

    Raises:
        ValueError: `window` < 1, no sentences or no ids, negative ids, bad `keep_prob`.
        TypeError: `encoded` is not a list of 1-D int arrays.
    """
    ids, sentence, window, keep_prob = _prepare(encoded, window, keep_prob)
    return _skipgram_epoch(ids, sentence, window, keep_prob, np.random.default_rng(rng))


def _skipgram_epoch(ids, sentence, window, keep_prob, rng):
    ids, sentence = _subsample(ids, sentence, keep_prob, rng)
    if ids.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    reach_l, reach_r = _reaches(sentence, window, rng)
    return _skipgram_expand(ids, reach_l, reach_r, np.arange(len(ids)))


def _skipgram_expand(ids, reach_l, reach_r, centres):
    """The skip-gram pairs of the centre positions `centres` [C], centre by centre.

    Returns (targets [P], contexts [P]) int64: for each centre in the order given, its
    contexts left to right, P = sum over the centres of reach_l + reach_r.
    """
    left = reach_l[centres]
    return _skipgram_layout(ids, left, left + reach_r[centres], centres)


def _skipgram_expand_codes(ids, codes, centres, window):
    """`_skipgram_expand` with each centre's window given as its window code
    (reach_l * (window + 1) + reach_r, see `window_slot_table`) in a uint8 array: one
    gather from an array 8x smaller than the two int64 reaches, which a random centre
    order mostly misses in cache (~8.7 vs ~10 ns a pair at 357k tokens)."""
    left_of, count_of = _code_tables(window)
    code = codes[centres]
    return _skipgram_layout(ids, left_of[code], count_of[code], centres)


@functools.lru_cache(maxsize=None)
def _code_tables(window):
    """(reach_l, reach_l + reach_r) int64 [(w + 1)^2] of each window code."""
    left, right = np.divmod(np.arange((window + 1) ** 2, dtype=np.int64), window + 1)
    return left, left + right


def _skipgram_layout(ids, left, counts, centres):
    """Pairs of centres [C] reaching left[i] tokens to the left, counts[i] pairs in all."""
    first = np.cumsum(counts) - counts                             # [C] first pair of each
    targets = np.repeat(ids[centres], counts)                      # [P]
    # Pair p = first[i] + k (k = 0..counts[i]-1) of centre c = centres[i] has context
    # position c - left[i] + k, plus 1 once k >= left[i] to step over the centre itself.
    p = np.arange(len(targets))                                    # [P]
    position = np.repeat(centres - left - first, counts) + p
    position += p >= np.repeat(first + left, counts)
    return targets, ids[position]


def make_cbow_examples(encoded: Sequence[np.ndarray], window: int = 5,
                       rng: np.random.Generator | int | None = None,
                       keep_prob: np.ndarray | None = None, *,
                       pad_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One epoch of CBOW examples (context window -> centre word) as arrays.

    Args:
        encoded, window, rng, keep_prob: as in `make_skipgram_pairs`.
        pad_id: id written into unused context slots; must exceed every word id. Pass
            `len(vocab)`: a sampler over `range_max=len(vocab)` never draws it, and an
            `Embedding(len(vocab) + 1, ...)` has a row for it that the mask zeroes.

    Returns:
        contexts: int64 [M, 2*window]; slot k holds the token at offset (-window..-1,
            +1..+window)[k] from the centre, or `pad_id` when that offset is beyond w_i or
            outside the sentence.
        counts: int64 [M], number of real context tokens (>= 1); the mask is
            `contexts != pad_id`, the CBOW mean is sum(masked vectors) / counts.
        targets: int64 [M], the centre words, in corpus order (M <= N').
    """
    ids, sentence, window, keep_prob = _prepare(encoded, window, keep_prob)
    pad_id = _check_pad_id(pad_id, int(ids.max()))
    return _cbow_epoch(ids, sentence, window, keep_prob, np.random.default_rng(rng), pad_id)


def cbow_examples_of_flat(ids, sentence, window: int, keep_prob, rng, pad_id: int):
    """`make_cbow_examples` on a corpus flattened and checked once (`flatten_corpus`), for a
    trainer that draws an epoch at a time: the same draws from `rng` (a Generator)."""
    return _cbow_epoch(ids, sentence, window, keep_prob, rng, pad_id)


def _cbow_epoch(ids, sentence, window, keep_prob, rng, pad_id):
    ids, sentence = _subsample(ids, sentence, keep_prob, rng)
    if ids.size == 0:
        return (np.zeros((0, 2 * window), np.int64), np.zeros(0, np.int64),
                np.zeros(0, np.int64))
    reach_l, reach_r = _reaches(sentence, window, rng)
    centres = np.flatnonzero(reach_l + reach_r)                    # skip context-less centres
    return _cbow_expand(ids, reach_l, reach_r, centres, window, pad_id)


def window_slot_table(window: int) -> np.ndarray:
    """bool `[(w + 1)^2, 2w]`: row left * (w + 1) + right is the window of a centre that
    reaches `left` tokens to the left and `right` to the right (slot k, offset -w..-1,
    +1..+w, is used when -left <= offset <= right). A centre's window is one of these
    (w + 1)^2 rows, so a window can travel as that row number (its "window code")."""
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])  # [2w]
    reach = np.arange(window + 1)
    table = (offsets >= -reach[:, None, None]) & (offsets <= reach[None, :, None])
    return table.reshape(-1, 2 * window)


def _window_code_dtype(window):
    """uint8 while every window code (< (w + 1)^2) fits in a byte (w <= 15), else int32."""
    return np.uint8 if (window + 1) ** 2 <= 256 else np.int32


def _window_codes(reach_l, reach_r, window, out):
    """out[:] = reach_l * (window + 1) + reach_r: each centre's window code (its row of
    `window_slot_table`) in `out`'s dtype (`_window_code_dtype`)."""
    np.add(reach_l * (window + 1), reach_r, out=out, casting="unsafe")
    return out


def window_slots_of_codes(code, window: int) -> np.ndarray:
    """bool `[..., 2w]`: the windows of `code` `[...]` (rows of `window_slot_table`)."""
    if window <= 64:
        return window_slot_table(window)[code]
    left, right = np.divmod(code.astype(np.int64), window + 1)   # the table grows as w^3
    return _window_slots(left.ravel(), right.ravel(), window)[1].reshape(code.shape + (-1,))


def _window_slots(left, right, window):
    """used [C, 2w]: slot k (offset -w..-1, +1..+w) lies within -left <= offset <= right."""
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])  # [2w]
    # A centre's row depends only on (left, right) in [0, w]^2: look the rows up in a table
    # of those (w + 1)^2 rows instead of comparing [C, 2w] int64s (3-4x faster, and this
    # was ~1/3 of a CBOW epoch's numpy time). Wide windows fall back to the comparison.
    if window <= 64:
        used = window_slot_table(window)[left * (window + 1) + right]      # [C, 2w]
    else:
        used = (offsets >= -left[:, None]) & (offsets <= right[:, None])
    return offsets, used


def _cbow_expand(ids, reach_l, reach_r, centres, window, pad_id):
    """CBOW rows (contexts [C, 2w], counts [C], targets [C]) of the centre positions `centres`."""
    left, right = reach_l[centres], reach_r[centres]
    offsets, used = _window_slots(left, right, window)                         # [2w], [C, 2w]
    position = np.clip(centres[:, None] + offsets, 0, len(ids) - 1)             # [C, 2w]
    contexts = np.where(used, ids[position], pad_id)                            # [C, 2w]
    return contexts, left + right, ids[centres]


def make_cbow_runs(encoded: Sequence[np.ndarray], window: int = 5,
                   rng: np.random.Generator | int | None = None,
                   keep_prob: np.ndarray | None = None, *, pad_id: int,
                   run_length: int = 32):
    """One epoch of CBOW examples as runs of `run_length` consecutive centres, in corpus order.

    The same examples as `make_cbow_examples` (same generator draws), laid out so that a
    trainer gathers each token's row once per run instead of once per window that holds it
    (`w2v_tf.word2vec.fast_sgd.segment_window_sum`): run j covers the centres at positions
    j G .. j G + G - 1 of the epoch's (subsampled) token stream, G = `run_length`, and
    carries the G + 2w tokens around them.

    Returns:
        ext: int64 `[R, G + 2w]`, the tokens at positions j G - w .. j G + G + w - 1
            (`pad_id` beyond either end of the stream).
        used: bool `[R, G, 2w]`, slot k (offset -w..-1, +1..+w) of centre g is in its
            shrunk window and its sentence; the window of centre g of run j is
            `ext[j, g + w + offset]` where used.
        targets: int64 `[R, G]`, the centres (`pad_id` past the end of the stream).
        real: bool `[R, G]`, a centre with at least one context word (the examples of
            `make_cbow_examples`); the others are padding, weight 0.
    """
    ids, sentence, window, keep_prob = _prepare(encoded, window, keep_prob)
    pad_id = _check_pad_id(pad_id, int(ids.max()))
    if isinstance(run_length, bool) or not isinstance(run_length, (int, np.integer)) \
            or run_length < 1:
        raise ValueError(f"run_length must be an int >= 1, got {run_length!r}")
    ext, code, targets = cbow_run_codes(ids, sentence, window, keep_prob,
                                        np.random.default_rng(rng), pad_id, int(run_length))
    return ext, window_slots_of_codes(code, window), targets, code > 0


def cbow_run_codes(ids, sentence, window, keep_prob, rng, pad_id, run_length):
    """`make_cbow_runs` on a corpus already flattened and checked (`flatten_corpus`), each
    centre's window as its code in `window_slot_table(window)` (uint8 for w <= 15, else
    int32; 0 = no context word, a padding centre) instead of the [2w] bool row: 1/(2w) of
    the bytes to shuffle and batch. A trainer calls this once per epoch (the flattening
    and checks happen once per job).

    Returns:
        (ext int64 `[R, G + 2w]`, code `[R, G]`, targets int64 `[R, G]`), the same draws
        and layout as `make_cbow_runs`.
    """
    g, w = run_length, window
    ids, sentence = _subsample(ids, sentence, keep_prob, rng)
    code_dtype = _window_code_dtype(w)
    if ids.size == 0:
        return (np.zeros((0, g + 2 * w), np.int64), np.zeros((0, g), code_dtype),
                np.zeros((0, g), np.int64))
    reach_l, reach_r = _reaches(sentence, window, rng)
    n_runs = -(-len(ids) // g)
    tail = n_runs * g - len(ids)                     # centres padding the last run
    stream = np.concatenate([np.full(w, pad_id), ids, np.full(tail + w, pad_id)])
    ext = np.lib.stride_tricks.sliding_window_view(stream, g + 2 * w)[::g].copy()  # [R, G+2w]
    code = np.zeros(n_runs * g, code_dtype)                                      # [R G]
    _window_codes(reach_l, reach_r, w, code[:len(ids)])
    targets = stream[w:w + n_runs * g]
    return ext, code.reshape(n_runs, g), targets.reshape(n_runs, g)


def _shuffle_together(arrays, rng):
    """Applies one uniform random permutation to the rows of every array.

    Two [P] id arrays (skip-gram) are packed as target * 2^32 + context into one int64 and
    shuffled in place, ~3x faster than gathering both through a permutation (ids < 2^31).
    """
    if len(arrays) == 2 and arrays[0].ndim == 1 and arrays[0].size \
            and max(arrays[0].max(), arrays[1].max()) < 2**31:
        targets, contexts = arrays
        packed = (targets << 32) | contexts                        # [P] int64
        rng.shuffle(packed)
        return packed >> 32, packed & 0xFFFFFFFF
    perm = rng.permutation(len(arrays[-1]))
    return tuple(a[perm] for a in arrays)


SHUFFLE_MODES = (True, False, "pairs", "centres")
# Centres per piece: pieces are expanded one numpy call at a time, so TF can serve the
# batches of piece j while numpy expands piece j + 1 (~50k skip-gram pairs at window 5, a
# few hundred kB an array: the expansion's temporaries stay in a 1 MB L2 cache, ~10 ns a
# pair instead of ~14-18 ns with pieces of 65536 centres).
PIECE_CENTRES = 1 << 13
# Pieces expanded at once. Skip-gram's expansion is light next to TF's cost per batch: on
# 2 cores one piece at a time is fastest at batch 1024 (TF's own threads need the other
# core) and about as fast at 8192. CBOW's (a [B, 2w] window per example) sets the pace:
# two at a time, 1.1-1.4x the speed of one (measured at batch 1024 and 8192).
SKIPGRAM_PIECES_IN_FLIGHT = 1
CBOW_PIECES_IN_FLIGHT = 2


class _EpochPlans:
    """The plans of a dataset's epochs, k -> plan(np.random.default_rng([seed, k])), kept
    on the Python side: a TF op passes only the epoch number k and a piece number.

    Passing the plan's four [N] arrays through TF instead (as tensors from the epoch's
    `numpy_function` into every piece's) cost ~7 us a batch at batch 1024 on 2 cores
    (~20% of the pipeline's time). A plan is a pure function of (seed, k), so this is a
    cache: the last `size` plans are kept, and one that was dropped (an iterator left
    idle while others ran on) is drawn again, identical. One iteration needs two (the
    epoch being served and the next, drawn ahead); the third spares a redraw when a new
    iterator starts while an old one's prefetch is still drawing. Memory: up to `size`
    plans for as long as the dataset lives (skip-gram: 17 bytes a token each, ~6 MB for
    the 357k-token embedded corpus, ~290 MB for text8).
    """

    def __init__(self, plan, seed, size=3):
        self._plan, self._seed, self._size = plan, seed, size
        self._plans = collections.OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, k):
        k = int(k)
        with self._lock:
            if k in self._plans:
                self._plans.move_to_end(k)
                return self._plans[k]
        drawn = self._plan(np.random.default_rng([self._seed, k]))
        with self._lock:
            self._plans[k] = drawn
            while len(self._plans) > self._size:
                self._plans.popitem(last=False)
        return drawn


def _check_shuffle(shuffle):
    if not any(shuffle is m or (isinstance(m, str) and shuffle == m) for m in SHUFFLE_MODES):
        raise ValueError(f"shuffle must be True/'pairs', 'centres' or False, got {shuffle!r}")
    return "pairs" if shuffle is True else shuffle


def _epoch_dataset(plan, expand, signature, batch_size, seed, shuffle, epochs, in_flight):
    """A tf.data.Dataset of `epochs` epochs per iteration; epoch k is seeded by [seed, k].

    Python runs once per epoch and once per piece, never per batch or per example:

    1. `plan(rng)` draws the epoch's randomness in numpy: subsampling, window shrink and,
       for `shuffle='centres'`, a uniform random order of the centres. It returns (*arrays,
       order [M]), e.g. (ids', reach_l, reach_r, order): the epoch visits the centres
       `order` (corpus order when not shuffled). One `tf.numpy_function` call per epoch
       draws it into an `_EpochPlans` and hands TF only the epoch number and its number
       of pieces.
    2. `expand(*arrays, centres)` (one numpy call per piece of
       `PIECE_CENTRES` centres, `in_flight` at a time) lays out their examples.
       `shuffle='pairs'` instead expands the whole epoch in the plan and permutes it.
    3. `rebatch(batch_size)` cuts the stream of pieces into batches of exactly `batch_size`,
       across piece boundaries; only the last batch of each epoch may be smaller.

    The plan of epoch k + 1 is drawn in a prefetch thread while epoch k is served, and
    the expansion of a piece runs in the map's thread while TF serves the batches of the
    previous one. Nothing runs per batch but TensorFlow's own iterator and `rebatch`.
    Measured at batch 1024 on 2 cores (`benchmarks/pipeline.py`), each of these was worth
    ~10-20%: no prefetch after `rebatch` (a thread hand-off per batch costs more than the
    slicing it would hide), tf.data's autotuning off (its bookkeeping on every batch; the
    parallelism here is fixed anyway), and the plans kept in Python (`_EpochPlans`).
    The dataset carries `tf.data.Options` with autotune off; `with_options` turns it on.
    """
    import tensorflow as tf

    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer))
                               or epochs < 1):
        raise ValueError(f"epochs must be None (endless) or an int >= 1, got {epochs!r}")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (1 << 63))
    batch_size = int(batch_size)
    epoch_counter = itertools.count()  # global over iterations: every epoch is a fresh draw
    dtypes = [s.dtype for s in signature]

    def set_shapes(tensors):
        for t, s in zip(tensors, signature):
            t.set_shape(s.shape)
        return tuple(tensors)

    if shuffle == "pairs":
        def whole_epoch():
            rng = np.random.default_rng([seed, next(epoch_counter)])
            *arrays, order = plan(rng)
            return _shuffle_together(expand(*arrays, order), rng)

        def epoch_arrays(_):
            return set_shapes(tf.numpy_function(whole_epoch, [], dtypes, stateful=True))

        def one_epoch(*arrays):
            return tf.data.Dataset.from_tensors(arrays).rebatch(batch_size)
    else:
        plans = _EpochPlans(plan, seed)
        piece_centres = int(PIECE_CENTRES)

        def epoch_start():
            k = next(epoch_counter)
            n_centres = len(plans[k][-1])
            return np.int64(k), np.int64(-(-n_centres // piece_centres))

        def piece_arrays(k, j):
            *arrays, order = plans[k]
            return expand(*arrays, order[j * piece_centres:(j + 1) * piece_centres])

        def epoch_arrays(_):
            k, n_pieces = tf.numpy_function(epoch_start, [], [tf.int64, tf.int64],
                                            stateful=True)
            k.set_shape([])
            n_pieces.set_shape([])
            return k, n_pieces

        def one_epoch(k, n_pieces):
            def piece(j):
                # Not stateful: the arrays are a function of (k, j) (see _EpochPlans).
                return set_shapes(tf.numpy_function(piece_arrays, [k, j], dtypes,
                                                    stateful=False))
            pieces = tf.data.Dataset.range(n_pieces).map(piece, num_parallel_calls=in_flight,
                                                          deterministic=True)
            return pieces.rebatch(batch_size)

    epochs_ds = (tf.data.Dataset.range(epochs) if epochs is not None
                 else tf.data.Dataset.from_tensors(np.int64(0)).repeat())
    # The numpy work of epoch k + 1 (its plan, or for 'pairs' the whole shuffled epoch) runs
    # in the prefetch thread while the batches of epoch k are served: a sequential map, so
    # the epochs draw their seeds [seed, k] in order.
    epochs_ds = epochs_ds.map(epoch_arrays).prefetch(1)
    options = tf.data.Options()
    options.autotune.enabled = False
    return epochs_ds.flat_map(one_epoch).with_options(options)


def _plan(ids, sentence, window, keep_prob, shuffle, skip_empty):
    """Returns plan(rng) -> (ids', reach_l, reach_r, order) for `_epoch_dataset`."""
    room = _room(sentence) if keep_prob is None else None  # fixed when nothing is dropped

    def plan(rng):
        kept, kept_sentence = _subsample(ids, sentence, keep_prob, rng)
        if kept.size == 0:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty, empty
        reach_l, reach_r = _reaches(kept_sentence, window, rng, room)
        if skip_empty:
            order = np.flatnonzero(reach_l + reach_r)
            if shuffle == "centres":
                order = rng.permutation(order)
        elif shuffle == "centres":
            # The same draw as rng.permutation(np.arange(n)), without copying that arange
            # (~2 ms of the ~8 ms plan at 357k tokens).
            order = rng.permutation(len(kept))
        else:
            order = np.arange(len(kept))
        return kept, reach_l, reach_r, order
    return plan


def skipgram_dataset(encoded: Sequence[np.ndarray], window: int = 5, batch_size: int = 1024,
                     seed: int | None = 0, keep_prob: np.ndarray | None = None,
                     shuffle: bool | str = "centres", epochs: int | None = 1):
    """A `tf.data.Dataset` of skip-gram batches `(targets [B], contexts [B])`, int64.

    One iteration over the dataset yields `epochs` epochs (None: endless, for Keras'
    `steps_per_epoch`). Every epoch, including those of later iterations (each Keras epoch,
    each `repeat`), draws fresh subsampling and windows from `np.random.default_rng([seed,
    k])`, k = 0, 1, ... counting the epochs this dataset object has generated; so with
    `shuffle=False`, epoch k equals `make_skipgram_pairs(encoded, window,
    np.random.default_rng([seed, k]), keep_prob)`. Batches hold exactly `batch_size` pairs;
    the last batch of each epoch may be smaller.

    Shuffling (the cost is per pair for 'pairs', per centre word for 'centres'):

    * 'centres' (default): the centre words in a uniform random order, each centre's pairs
      together (word2vec.c and gensim also train a centre's pairs one after the other, but
      in corpus order; the legacy `skipgrams` shuffles only within a sentence). A
      permutation of the N tokens instead of the pairs (about 6 N at window 5), and the
      expansion streams piece by piece (`PIECE_CENTRES` centres) while TF serves the batches
      of the previous ones: the fast mode.
    * True or 'pairs': a uniform random permutation of the epoch's pairs, made in one numpy
      call per epoch (about 40-50 ns a pair, the most expensive step of the pipeline, and it
      does not overlap with the expansion). Pairs of one centre then land in different
      batches, which matters only for batches not much larger than 2 * window.
    * False: corpus order, as word2vec.c.

    Throughput (`benchmarks/pipeline.py`, 2-core CPU): a training loop that pulls batches
    with `next(iterator)` inside a `tf.function` gets ~25-28M pairs/s at batch 1024 (TF's
    own cost of ~26 us of CPU a batch is more than half of it) and 43-48M/s at 8192 with
    'centres', 40-70x the legacy `skipgrams` loop from 1024 to 32768; 'pairs' about a third
    of that. The dataset carries `tf.data.Options` with autotuning off (its parallelism is
    fixed, and the per-batch bookkeeping cost ~10% at batch 1024); `with_options` turns it
    back on.

    Args:
        encoded: sentences as 1-D int id arrays (`Vocabulary.encode`).
        window: maximal half-window (>= 1).
        batch_size: examples per batch.
        seed: int seed; None draws a random one.
        keep_prob: optional [V] subsampling keep probabilities.
        shuffle: True/'pairs', 'centres' or False (see above).
        epochs: epochs per iteration over the dataset (>= 1), or None for endless.

    Raises:
        ValueError, TypeError: as `make_skipgram_pairs`, raised here before any TF op runs.
    """
    ids, sentence, window, keep_prob = _prepare(encoded, window, keep_prob)
    shuffle = _check_shuffle(shuffle)
    import tensorflow as tf

    spec = tf.TensorSpec([None], tf.int64)
    plan = _plan(ids, sentence, window, keep_prob, shuffle, skip_empty=False)
    expand = _skipgram_expand
    if _window_code_dtype(window) == np.uint8:
        plan, expand = _coded_plan(plan, window), functools.partial(_skipgram_expand_codes,
                                                                     window=window)
    return _epoch_dataset(plan, expand, (spec, spec), batch_size, seed, shuffle, epochs,
                          SKIPGRAM_PIECES_IN_FLIGHT)


def _coded_plan(plan, window):
    """plan(rng) -> (ids', reach_l, reach_r, order) as (ids', codes uint8, order), the two
    reaches as one window code (reach_l * (window + 1) + reach_r) per centre."""
    def coded(rng):
        kept, reach_l, reach_r, order = plan(rng)
        codes = _window_codes(reach_l, reach_r, window, np.empty(len(kept), np.uint8))
        return kept, codes, order
    return coded


def skipgram_pairs_by_centre(ids, sentence, window: int, keep_prob, rng):
    """One epoch of skip-gram pairs, the centre words in a uniform random order and each
    centre's pairs together: the epoch of `skipgram_dataset(..., shuffle='centres')` as two
    arrays, with the same draws (rng = `np.random.default_rng([seed, k])` gives that
    dataset's epoch k), for a corpus flattened once (`flatten_corpus`).

    A trainer that wants its pairs shuffled gets them for the cost of a permutation of the
    N' centres instead of the ~2 E[w] N' pairs (at window 5, 14M pairs: ~0.9 s of CPU an
    epoch for permuting and gathering the pairs, ~0.03 s for the centres).

    Returns:
        (targets [P], contexts [P]) int64.
    """
    kept, reach_l, reach_r, order = _plan(ids, sentence, window, keep_prob, "centres",
                                          skip_empty=False)(rng)
    return _skipgram_expand(kept, reach_l, reach_r, order)


def cbow_dataset(encoded: Sequence[np.ndarray], window: int = 5, batch_size: int = 1024,
                 seed: int | None = 0, keep_prob: np.ndarray | None = None,
                 shuffle: bool | str = "centres", epochs: int | None = 1, *, pad_id: int):
    """A `tf.data.Dataset` of CBOW batches `(contexts [B, 2*window], counts [B], targets [B])`.

    Epochs, seeding and batching as in `skipgram_dataset`; the arrays are those of
    `make_cbow_examples` (unused context slots hold `pad_id`: pass `len(vocab)`). A CBOW
    example is one centre, so 'pairs' and 'centres' shuffling are both a uniform random
    permutation of the examples (drawn differently, so their orders differ); 'centres', the
    default, streams piece by piece.
    """
    ids, sentence, window, keep_prob = _prepare(encoded, window, keep_prob)
    pad_id = _check_pad_id(pad_id, int(ids.max()))
    shuffle = _check_shuffle(shuffle)
    import tensorflow as tf

    def expand(ids_, reach_l, reach_r, centres):
        return _cbow_expand(ids_, reach_l, reach_r, centres, window, pad_id)

    signature = (tf.TensorSpec([None, 2 * window], tf.int64), tf.TensorSpec([None], tf.int64),
                 tf.TensorSpec([None], tf.int64))
    return _epoch_dataset(_plan(ids, sentence, window, keep_prob, shuffle, skip_empty=True),
                          expand, signature, batch_size, seed, shuffle, epochs,
                          CBOW_PIECES_IN_FLIGHT)
