"""Legacy Keras `skipgrams` and `make_sampling_table`, kept alive for the TF word2vec tutorial.

Keras 3 dropped both from its public API; TF 2.21 still reaches them through
`tf.keras.preprocessing.sequence` (which resolves to `keras.src.legacy.preprocessing.sequence`).
These versions have the same signature, defaults and output: identical lists when nothing
random is involved, and -- because they draw from Python's global `random` module in the
same order and number as the legacy code -- identical lists under the same `random.seed`
when negatives, a sampling table or shuffling are used. The positive pairs are built with
numpy instead of a double Python loop.

They differ from word2vec (see `w2v_tf.word2vec.pipeline` for the word2vec way):

* the window is fixed (word2vec shrinks it at random per centre word);
* the sampling table only decides whether a word is used as a *centre*; a discarded word
  still appears as a context of its neighbours and still occupies a window slot
  (word2vec deletes it from the sentence before windowing);
* the table's keep probability is min(1, sqrt(t/f)) with f estimated from the rank by
  Zipf's law, not sqrt(t/f) + t/f with f from the counts (`w2v_tf.word2vec.corpus.keep_probabilities`);
* id 0 is reserved as "not a word" and negatives are uniform over [1, vocabulary_size),
  not drawn from the unigram^0.75 distribution, and may equal a true context.
"""
from __future__ import annotations

import random

import numpy as np

_EULER_GAMMA = 0.577  # the legacy code's rounded Euler-Mascheroni constant


def make_sampling_table(size: int, sampling_factor: float = 1e-5) -> np.ndarray:
    """Keep probabilities by frequency rank, the legacy Keras subsampling table.

    Zipf's law (s = 1) with the harmonic-number expansion H_r ~ ln r + gamma + 1/(2r)
    - 1/(12 r^2) gives the frequency of the word of rank r as f(r) = 1 / (r H_r), so

        1 / f(r) = r (ln r + gamma) + 1/2 - 1/(12 r)
        table[r] = min(1, sqrt(t / f(r)))          (t = sampling_factor)

    Rank 0 is evaluated as rank 1 (id 0 is Keras' "not a word"; table[0] == table[1]).

    Args:
        size: number of ids (the table covers ids 0 .. size-1).
        sampling_factor: t, the word2vec sampling threshold (Keras default 1e-5; word2vec.c
            and gensim default to 1e-3, with the keep formula sqrt(t/f) + t/f).

    Returns:
        float64 array [size], table[i] = probability of keeping the i-th most frequent word.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if not sampling_factor > 0:
        raise ValueError(f"sampling_factor must be > 0, got {sampling_factor!r}")
    rank = np.maximum(np.arange(size, dtype=np.float64), 1.0)              # r, with r=0 -> 1
    inv_freq = rank * (np.log(rank) + _EULER_GAMMA) + 0.5 - 1.0 / (12.0 * rank)  # 1/f(r)
    ratio = sampling_factor * inv_freq                                     # t / f(r)
    # sqrt(t/f) written as (t/f) / sqrt(t/f): equal in exact arithmetic, and this rounding
    # reproduces the legacy table bit for bit (np.sqrt alone differs by up to 1 ulp).
    return np.minimum(1.0, ratio / np.sqrt(ratio))


def _positive_pairs(seq: np.ndarray, window_size: int, centre_ok: np.ndarray):
    """All (centre, context) pairs within `window_size`, in legacy order.

    Row i of the [N, 2w] candidate matrix holds positions i-w..i-1, i+1..i+w (left to right),
    so flattening row-major gives pairs ordered by centre, then by context position, which is
    the order of the legacy double loop.
    """
    n = len(seq)
    offsets = np.concatenate([np.arange(-window_size, 0), np.arange(1, window_size + 1)])
    pos = np.arange(n)[:, None] + offsets[None, :]                 # [N, 2w] context positions
    valid = (pos >= 0) & (pos < n) & centre_ok[:, None]
    pos_c = np.clip(pos, 0, max(n - 1, 0))
    valid &= seq[pos_c] != 0                                      # id 0 is never a context
    centres = np.broadcast_to(seq[:, None], pos.shape)[valid]     # [P]
    contexts = seq[pos_c][valid]                                  # [P]
    return centres, contexts


def skipgrams(sequence, vocabulary_size, window_size=4, negative_samples=1.0, shuffle=True,
              categorical=False, sampling_table=None, seed=None):
    """Skip-gram (word, context) couples with 0/1 labels, as the legacy Keras function.

    For every position i with sequence[i] != 0 (and, with a sampling table, kept with
    probability sampling_table[sequence[i]] -- one `random.random()` per such position),
    emit ([sequence[i], sequence[j]], 1) for every j != i with |i - j| <= window_size and
    sequence[j] != 0. Then append int(P * negative_samples) negatives
    ([w, randint(1, vocabulary_size - 1)], 0), w running over a `random.shuffle`d copy of
    the positive centre words; finally shuffle couples and labels alike.

    Randomness comes from Python's global `random` module, consumed exactly as the legacy
    code does, so after the same `random.seed(s)` both return identical lists. As in the
    legacy code, `seed` only seeds the final shuffle (and re-seeds the global `random`
    module with it); the sampling-table and negative draws use the state before the call.

    Args:
        sequence: [N] word ids (list or 1-D int array); 0 means "not a word" and is skipped.
        vocabulary_size: max id + 1; negatives are drawn from [1, vocabulary_size).
        window_size: half-window w >= 1 (contexts are i-w .. i+w).
        negative_samples: ratio of negatives to positives, >= 0.
        shuffle: shuffle the couples (and labels, identically).
        categorical: labels as [0, 1] / [1, 0] lists instead of 1 / 0.
        sampling_table: optional [>= vocabulary_size] keep probability per id
            (`make_sampling_table`).
        seed: seed for the final shuffle; None draws one from `random`.

    Returns:
        (couples, labels): a list of [word, context] int lists and a list of labels.

    Raises:
        ValueError: `window_size` < 1 (the legacy code silently returns no pairs for 0),
            `negative_samples` < 0, ids outside [0, vocabulary_size), a too-short
            `sampling_table`, or negatives requested with `vocabulary_size` < 2.
    """
    seq = np.asarray(sequence)
    if seq.ndim != 1 or (seq.size and not np.issubdtype(seq.dtype, np.integer)):
        raise ValueError(f"sequence must be a 1-D list of int word ids, got shape {seq.shape} "
                         f"dtype {seq.dtype}")
    seq = seq.astype(np.int64)
    if isinstance(window_size, bool) or not isinstance(window_size, (int, np.integer)) \
            or window_size < 1:
        raise ValueError(f"window_size must be an int >= 1, got {window_size!r}")
    if not negative_samples >= 0:
        raise ValueError(f"negative_samples must be >= 0, got {negative_samples!r}")
    if seq.size and (seq.min() < 0 or seq.max() >= vocabulary_size):
        raise ValueError(f"sequence ids must lie in [0, vocabulary_size={vocabulary_size}), "
                         f"got range [{seq.min()}, {seq.max()}]")
    if sampling_table is not None:
        sampling_table = np.asarray(sampling_table, dtype=np.float64)
        if sampling_table.ndim != 1 or (seq.size and len(sampling_table) <= seq.max()):
            raise ValueError(f"sampling_table must be 1-D with an entry for every id in "
                             f"sequence (max id {seq.max() if seq.size else None}), got shape "
                             f"{sampling_table.shape}")

    centre_ok = seq != 0
    if sampling_table is not None:
        # One draw per real word, in sequence order; keep when u <= table[w] (legacy drops
        # the centre when table[w] < u).
        n_real = int(centre_ok.sum())
        u = np.array([random.random() for _ in range(n_real)], dtype=np.float64)
        centre_ok[centre_ok] = sampling_table[seq[centre_ok]] >= u
    centres, contexts = _positive_pairs(seq, window_size, centre_ok)
    couples = np.stack([centres, contexts], axis=1).tolist()
    n_pos = len(couples)
    labels = [[0, 1] for _ in range(n_pos)] if categorical else [1] * n_pos

    if negative_samples > 0:
        n_neg = int(n_pos * negative_samples)
        if n_neg and vocabulary_size < 2:
            raise ValueError(f"negatives need vocabulary_size >= 2, got {vocabulary_size!r}")
        words = centres.tolist()
        random.shuffle(words)
        # Negative k pairs word words[k mod P] with a uniform id in [1, V-1].
        couples += [[words[k % n_pos], random.randint(1, vocabulary_size - 1)]
                    for k in range(n_neg)]
        labels += [[1, 0] for _ in range(n_neg)] if categorical else [0] * n_neg

    if shuffle:
        if seed is None:
            seed = random.randint(0, 10_000_000)  # legacy: randint(0, 10e6), same draw
        # The same permutation for both lists: reseed before each shuffle.
        random.seed(seed)
        random.shuffle(couples)
        random.seed(seed)
        random.shuffle(labels)
    return couples, labels
