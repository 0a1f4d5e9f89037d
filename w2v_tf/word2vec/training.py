"""`train`: word2vec's training loop over the `Word2Vec` model of `model.py`, for every loss.

`train(encoded, counts, loss=...)` reads the corpus as word ids, draws each epoch's examples
(subsampling, dynamic window) with `pipeline.py`, and updates the tables with word2vec's
sparse SGD and linearly decaying learning rate. The losses "neg" and "neg_shared" run through
`fast_sgd.py`, the hand-written optimisation of the same model (its compiled loop is a
`_FastEngine` here); the others run the model's `pair_loss` under a `GradientTape`
(`model.make_train_step`, a `_TapeEngine`); under a `tf.distribute` strategy every loss takes
the tape path (`_train_distributed`).

Updates. word2vec.c applies plain SGD to every pair in turn with a learning rate that decays
linearly from alpha to alpha * 1e-4 over the run (`learning_rate`, one rate per step). We sum
the per-pair losses of a batch, so the gradient of each row is the sum of the per-pair
gradients that word2vec would have applied one after another, and apply alpha_t * gradient
with `scatter_sub` to the rows the batch touched (`tf.IndexedSlices`: gathered rows get sparse
gradients); nothing else of the [V, dim] tables is read or written. CBOW uses word2vec.c's
update: the error of the mean h is added in full to each window word (not divided by the
window size, which the exact gradient of the mean would do; `Word2Vec.encode`). The tape path
can clip each row's step (`max_row_step`, default 0.1) for its shared-negative losses
(`model.sgd_step`); the fast path can cap the pair updates a row takes per step
(`max_row_updates`, `fast_sgd.row_step_scale`).

Why ``neg`` does not share its k = 5 negatives: with S = k every sampled row receives the
summed gradient of all B pairs at once (B = 4096: 4096 pair updates in one step), which
diverges at word2vec's learning rate, and clipping the row step to make it converge stopped
learning (loss ~4.1, generic neighbours). Per-pair negatives give the most frequent negative
~B k Q(the) ~ 150 updates per step (B = 1024); ``neg_shared`` gives each of its S rows B k / S.

One epoch: its examples are drawn in a background thread while the previous epoch trains
(`_EpochData`), then trained chunk by chunk (`_Run.train_epoch`), each chunk's arguments
(negatives, CBOW window matrices) prepared in a second thread one chunk ahead.
"""
from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from w2v_tf.word2vec import pipeline as _pipeline
from w2v_tf.word2vec.model import (ARCHS, DEFAULT_LOSS, DEFAULT_NUM_SHARED, DEFAULT_NUM_SHARED_CBOW,
                                   FAST_LOSSES, LOSS_NAMES, MAX_SOFTMAX_VOCAB,
                                   PER_PAIR_NEGATIVE_LOSSES, SHARED_NEGATIVE_LOSSES, Word2Vec,
                                   _check_int, make_train_step, pair_loss, unigram_sampler)


# ----------------------------------------------------------------------------- training loop
@dataclass
class TrainStats:
    """What `train` measured.

    Attributes:
        epoch_loss: mean per-pair (or per-window, CBOW) training loss of each epoch (on the
            fast path, neg/neg_shared, estimated from every `LOSS_EVERY`-th step: batches
            come in random order, so it is an unbiased sample of the epoch's loss).
        seconds: wall seconds of the training loop (pair generation, compilation included).
        words: corpus words trained on, counted as word2vec.c counts them: in-vocabulary
            tokens before subsampling, times epochs.
        effective_words: expected tokens left after subsampling, sum_w count_w keep_w, times
            epochs (gensim's "effective words").
        examples: pairs (skip-gram) or windows (CBOW) trained on.
        warm_up_seconds: the part of `seconds` spent tracing and compiling (XLA) the fast
            path's chunk before its first step, while the first epoch's examples and the
            unigram table are drawn in a background thread: a fixed cost per job (0 when
            there is no warm-up: small jobs, other losses).
    """
    epoch_loss: list = field(default_factory=list)
    seconds: float = 0.0
    warm_up_seconds: float = 0.0
    words: int = 0
    effective_words: int = 0
    examples: int = 0

    @property
    def words_per_second(self) -> float:
        return self.words / self.seconds if self.seconds > 0 else float("nan")


def _epoch_examples(arch, flat, window, keep_prob, rng, pad_id):
    """One epoch as numpy arrays `(words, contexts)`, shuffled.

    Skip-gram: words [P] centre ids, contexts [P] context ids: the pairs of the centres in a
    random order (`pipeline.skipgram_pairs_by_centre` on the corpus flattened once, `flat`),
    dealt into piles (`_deal`) so that a batch holds pairs of as many different centres as
    it has pairs, as a permutation of the pairs gives, for ~70 ms of CPU an epoch where
    permuting the 14M pairs of the benchmark corpus cost ~0.9 s. Measured side by side
    (neg_shared, 5 epochs, 3 seeds interleaved): 5% less CPU and 9% more words/s than the
    permutation, wordsim353 Spearman 0.403 vs 0.405. Without the deal (a batch of 1024
    pairs = ~170 whole centres) skip-gram ran 19% faster, but its Spearman dropped (0.388
    vs 0.405) and NCE diverged on the Lee corpus (notebook 9).
    CBOW: words [M, 2w] windows, contexts [M] centres, shuffled. Examples come from
    `w2v_tf.word2vec.pipeline` (subsampling, shrunk windows).
    """
    if arch == "skipgram":
        words, contexts = _pipeline.skipgram_pairs_by_centre(*flat, window, keep_prob, rng)
        piles = max(16, 2 * window + 1)          # more piles than a centre has pairs
        return _deal(words.astype(np.int32), piles), _deal(contexts.astype(np.int32), piles)
    words, _, contexts = _pipeline.cbow_examples_of_flat(*flat, window, keep_prob, rng, pad_id)
    # int32 before the shuffle: half the bytes to permute (ids < 2^31, the step's dtype)
    words, contexts = words.astype(np.int32), contexts.astype(np.int32)
    order = rng.permutation(len(contexts))      # large batches want uncorrelated examples
    return words[order], contexts[order]


def _deal(a, piles: int):
    """`a[0::piles]`, `a[1::piles]`, ... one after another: a stream of pairs in a random
    centre order, each centre's <= 2w pairs together, dealt like cards into `piles` piles.
    Consecutive batches then cut each pile, so a batch holds pairs `piles` apart in the
    stream, from as many different centres as it has pairs, and a centre's pairs land about
    1/piles of the epoch apart; a pass over the pairs instead of a random permutation."""
    return np.concatenate([a[r::piles] for r in range(piles)])


# CBOW fast path: consecutive centres per run (`pipeline.make_cbow_runs`). A run of G
# centres gathers and scatters G + 2w rows and its band products cost (G + 2w) d
# multiply-adds a centre each way: G = 16 moves 1.62 rows a centre instead of 1.31 (G = 32)
# but does 38% fewer multiply-adds, which weigh more in XLA on CPU (a row gather is 7-20 ns,
# a band product 60-90 us of a 600-700 us step). Measured side by side, CBOW 5 epochs on the
# 2.38M-word benchmark corpus, 4 seeds interleaved with gensim: 7% less CPU and 7% more
# words/s than G = 32, Spearman 0.354 vs 0.360 (gensim 0.349).
RUN_LENGTH = 16


def _runs_per_batch(batch_size: int) -> int:
    return max(1, batch_size // RUN_LENGTH)


def _epoch_cbow_runs(flat, window, keep_prob, rng, pad_id, batch_size):
    """One CBOW epoch for the fast path: ((ext, code), targets, weights), batched.

    The epoch's runs of `RUN_LENGTH` consecutive centres (`pipeline.cbow_run_codes` on the
    corpus flattened once, `flat` = (ids, sentence)) in a random order, R = batch_size //
    RUN_LENGTH runs per step (so a step holds R G <= batch_size centres from R places of
    the corpus, G = RUN_LENGTH): ext int32 `[n, R, G+2w]`, code `[n, R, G]` (each centre's
    window as a row of `pipeline.window_slot_table`), targets int32 `[n, R G]` and weights
    float32 `[n, R G]` (0 for padding centres, whose target is set to id 0). The step's
    window matrices are built from the codes a chunk at a time (`_run_matrices`).
    """
    ids, sentence = flat
    ext, code, targets = _pipeline.cbow_run_codes(ids, sentence, window, keep_prob, rng,
                                                  pad_id, RUN_LENGTH)
    order = rng.permutation(len(ext))          # runs from R random places per step
    per = _runs_per_batch(batch_size)
    n_batches = max(1, math.ceil(len(ext) / per))
    pad = n_batches * per - len(ext)

    def shuffled(a, dtype):                    # a[order], then `pad` zero runs, as dtype
        out = np.zeros((n_batches * per,) + a.shape[1:], dtype)
        out[:len(a)] = np.take(a, order, axis=0)
        return out

    code = shuffled(code, code.dtype)
    ext = shuffled(ext, np.int32)
    ext[len(order):] = pad_id
    real = code > 0
    targets = np.where(real, shuffled(targets, np.int32), 0)
    g = RUN_LENGTH
    return ((ext.reshape(n_batches, per, -1), code.reshape(n_batches, per, g)),
            targets.astype(np.int32, copy=False).reshape(n_batches, per * g),
            real.astype(np.float32).reshape(n_batches, per * g))


def _run_matrices(words, window):
    """(ext, code) of a chunk -> the fast path's (ext, M, M^T, 1/n) (`fast_sgd`)."""
    from w2v_tf.word2vec.fast_sgd import segment_window_matrices_of_codes
    ext, code = words
    return (ext,) + segment_window_matrices_of_codes(code, window)


def learning_rate(alpha: float, progress: float, min_alpha_ratio: float = 1e-4) -> float:
    """word2vec.c's linear decay: alpha_t = alpha * max(1 - progress, min_alpha_ratio).

    `progress` is the share of all training words (epochs x corpus) already processed.
    """
    return alpha * max(min_alpha_ratio, 1.0 - progress)


DEFAULT_BATCH_SIZE = 4096
DEFAULT_MAX_ROW_STEP = 0.1
DEFAULT_MAX_ROW_UPDATES = 32.0


def default_batch_size(loss: str) -> int:
    """Pairs per step used by `python -m w2v_tf train` unless --batch-size is given.

    "neg"/"neg_shared" (summed SGD of word2vec's per-pair updates): 1024, where the most
    frequent negative gets ~B k Q(the) ~ 150 pair updates per step and training is stable
    at word2vec's learning rate; the other sampled losses share S negatives per batch
    (autodiff path with the row clip) and use 4096.
    """
    if loss == "softmax":
        return 256               # [B, V] logits
    if loss in FAST_LOSSES:
        return 1024
    return DEFAULT_BATCH_SIZE if loss in SHARED_NEGATIVE_LOSSES else 1024


def default_num_shared(arch: str) -> int:
    """S, the negatives a "neg_shared" batch shares, unless given.

    16 for both, drawn stratified (`w2v_tf.word2vec.fast_sgd.draw_stratified_negatives`). A CBOW batch
    of B windows is B examples where skip-gram has ~2 E[w] B pairs per B centres, so each
    shared negative stands for more of the corpus' negative updates per step and its
    sampling noise counts for more: with S independent draws CBOW needed S = 32. Measured
    (CBOW, 5 epochs on the 2.38M-word benchmark corpus, 6 seeds each, wordsim353
    Spearman): S = 32 independent 0.361, S = 16 independent 0.331, S = 16 stratified 0.372
    (gensim 0.357), S = 16 doing 8-12% less CPU work than S = 32; S = 8 stratified diverged
    on one seed of two (each draw then weighs k/S = 5/8 of a pair update for every
    example of the batch), S = 12 gave 0.32-0.39.
    """
    return DEFAULT_NUM_SHARED_CBOW if arch == "cbow" else DEFAULT_NUM_SHARED


def default_alpha(arch: str) -> float:
    """word2vec.c's starting learning rate: 0.025 (skip-gram), 0.05 (CBOW)."""
    return 0.025 if arch == "skipgram" else 0.05


def check_hyperparameters(vocab_size, dim, window, negatives, epochs, batch_size, loss, arch):
    """Raises ValueError naming the bad argument, before any TensorFlow work."""
    _check_int("dim", dim, 1)
    _check_int("window", window, 1)
    _check_int("epochs", epochs, 1)
    _check_int("batch_size", batch_size, 1)
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    if loss not in LOSS_NAMES:
        raise ValueError(f"loss must be one of {LOSS_NAMES}, got {loss!r}")
    if vocab_size < 2:
        raise ValueError(f"the vocabulary has {vocab_size} word(s); word2vec needs at least 2 "
                         "(lower min_count or use a larger corpus)")
    if loss in SHARED_NEGATIVE_LOSSES + PER_PAIR_NEGATIVE_LOSSES:
        _check_int("negatives", negatives, 1)
        if negatives >= vocab_size:
            raise ValueError(f"negatives={negatives} must be smaller than the vocabulary size "
                             f"{vocab_size} (a negative must differ from the positive word)")
    if loss == "softmax" and vocab_size > MAX_SOFTMAX_VOCAB:
        raise ValueError(f"loss='softmax' costs O(V dim) per pair; vocabulary size {vocab_size} "
                         f"> {MAX_SOFTMAX_VOCAB}: use a sampled loss or raise min_count")


def train(encoded, counts, *, arch: str = "skipgram", loss: str = DEFAULT_LOSS, dim: int = 100,
          window: int = 5, negatives: int = 5, epochs: int = 5, alpha: Optional[float] = None,
          min_alpha_ratio: float = 1e-4, sample: float = 1e-3, batch_size: Optional[int] = None,
          seed: int = 0, jit_compile: Optional[bool] = "auto",
          max_row_step: Optional[float] = DEFAULT_MAX_ROW_STEP,
          num_shared: Optional[int] = None, stratified: bool = True,
          max_row_updates="auto", progress: bool = True,
          on_epoch_end: Optional[Callable] = None, model: Optional[Word2Vec] = None,
          strategy: str = "none"):
    """Trains word vectors on an encoded corpus; returns `(model, TrainStats)`.

    Args:
        encoded: sentences as int id arrays (`Vocabulary.encode`).
        counts: `[V]` word counts (`Vocabulary.counts`), ids sorted by decreasing count.
        arch: "skipgram" or "cbow".
        loss: one of `LOSS_NAMES`.
        dim: embedding size.
        window: maximal half-window (shrunk at random per centre word, as word2vec.c).
        negatives: k, negatives per pair (own per pair for neg, neg_per_pair and
            tutorial_softmax; the weight k/S of the S shared ones for neg_shared; the number
            shared per batch for nce and sampled_softmax).
        epochs: passes over the corpus.
        alpha: starting learning rate; None: word2vec.c's (0.025 skip-gram, 0.05 CBOW).
        min_alpha_ratio: the rate decays linearly to alpha * this (word2vec.c: 1e-4).
        sample: subsampling threshold t (word2vec.c's keep rule); 0 disables it.
        batch_size: pairs (skip-gram) or windows (CBOW) per step; None:
            `default_batch_size(loss)`. CBOW with neg/neg_shared trains on runs of
            `RUN_LENGTH` consecutive centres, batch_size // RUN_LENGTH runs from random
            places of the corpus per step (`_epoch_cbow_runs`).
        seed: seeds initialisation, pair generation and negatives (two generators spawned
            from it: the examples of epoch e + 1 are drawn in a background thread while
            epoch e trains, and on the fast path the unigram table is built while XLA
            compiles the chunk, on steps of weight 0 that change nothing; each chunk's
            negatives and CBOW window matrices are drawn in a second thread, in order, one
            chunk ahead of the compiled steps).
        jit_compile: compile the step with XLA: True, False/None, or "auto" = XLA for neg,
            neg_shared, nce and sampled_softmax (XLA on CPU makes them ~1.5-2x faster, but
            is very slow on the tape path's per-pair redraw loop and sorts of [B*k] ids).
        max_row_step: autodiff path only (not neg/neg_shared): clip each row's update per
            step to this norm (see `sgd_step`); None for plain summed SGD.
        num_shared: S, the negatives shared by a batch for "neg_shared"; None:
            `default_num_shared(arch)` (16).
        stratified: "neg_shared" only: draw the S shared negatives one from each of S equal
            slices of the unigram table (`w2v_tf.word2vec.fast_sgd.draw_stratified_negatives`, the
            default) instead of independently (`draw_negatives`); both are unbiased, the
            stratified draws vary less from step to step.
        max_row_updates: neg/neg_shared only: a row's summed update in one step counts at
            most this many pair updates (`w2v_tf.word2vec.fast_sgd.row_step_scale`); None: plain sum;
            "auto": `DEFAULT_MAX_ROW_UPDATES` (32) for neg, None for neg_shared (with the cap
            neg_shared stops separating the topics of tests/test_word2vec.py; without it,
            CBOW on that 20-word vocabulary diverges; on real vocabularies it is stable).
        progress: show a tqdm bar (words).
        on_epoch_end: called as `on_epoch_end(epoch, model, stats)` after each epoch.
        model: continue training this model instead of a fresh one.
        strategy: "none", or a `tf.distribute` strategy name ("mirrored", "multi_worker";
            `w2v_tf.distribute.make_strategy`). Under a strategy the batch is split over the
            replicas and the step goes through autodiff and `w2v_tf.distribute.make_train_step`
            (summed per-pair loss, word2vec's sparse SGD on the all-reduced gradients);
            "neg"/"neg_shared" then use their autodiff form "neg_per_pair" (the same
            objective), since the fast path's compiled loop writes the tables directly.

    Raises:
        ValueError: bad hyper-parameters (named), before anything is trained.
    """
    counts = np.asarray(counts)
    if counts.ndim != 1:
        raise ValueError(f"counts must be 1-D [vocabulary size], got shape {counts.shape}")
    batch_size, num_shared, alpha, jit_compile, max_row_updates = _resolve_arguments(
        len(counts), arch, loss, dim, window, negatives, epochs, alpha, batch_size, num_shared,
        stratified, jit_compile, max_row_updates)
    _check_rates(alpha, min_alpha_ratio, sample)
    if iter(encoded) is encoded:                 # a generator: read it once, keep the list
        encoded = list(encoded)
    _check_corpus_and_model(encoded, counts, model, arch, loss, dim)
    if strategy != "none":
        return _train_distributed(encoded, counts, model, dim=dim, arch=arch, loss=loss,
                                  window=window, negatives=negatives, epochs=epochs,
                                  alpha=alpha, min_alpha_ratio=min_alpha_ratio, sample=sample,
                                  batch_size=batch_size, seed=seed, strategy=strategy,
                                  progress=progress, on_epoch_end=on_epoch_end)
    if model is None:
        tf.keras.utils.set_random_seed(seed)
        model = Word2Vec(len(counts), dim, arch, counts=counts, hierarchical=loss == "hs",
                         seed=seed)
    # Two generators, so that the next epoch's examples can be drawn in a background thread
    # while the current epoch's negatives are drawn in this one.
    data_rng, neg_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    prep = ThreadPoolExecutor(1)   # numpy work overlapping XLA's compile and steps
    feed = ThreadPoolExecutor(1)   # the next chunk's arguments, while a chunk trains
    if loss in FAST_LOSSES:
        engine = _FastEngine(model, loss, counts, arch=arch, window=window, negatives=negatives,
                             batch_size=batch_size, num_shared=num_shared,
                             stratified=stratified, jit_compile=jit_compile,
                             max_row_updates=max_row_updates, prep=prep, neg_rng=neg_rng)
    else:
        engine = _TapeEngine(model, loss, counts, negatives=negatives, seed=seed,
                             jit_compile=jit_compile, max_row_step=max_row_step)
    keep_prob, words_per_epoch, effective_per_epoch = _epoch_sizes(counts, sample)
    epoch_data = _EpochData(_pipeline.flatten_corpus(encoded, window, keep_prob), arch,
                            window, keep_prob, data_rng, model.pad_id, batch_size, engine.runs)
    run = _Run(model, engine, alpha, min_alpha_ratio, epochs, words_per_epoch,
               effective_per_epoch, on_epoch_end, _progress_bar(
                   progress, words_per_epoch * epochs, f"{arch}/{loss}"))
    with prep, feed:
        run.train(prep, feed, epoch_data)
    return model, run.stats


CHUNK_EXAMPLES = 65_536   # examples per call of the fast path's compiled loop
LOSS_EVERY = 8            # the fast path computes the loss on every 8th step (fast_sgd)


def _resolve_arguments(vocab_size, arch, loss, dim, window, negatives, epochs, alpha, batch_size,
                       num_shared, stratified, jit_compile, max_row_updates):
    """`train`'s arguments checked (ValueError naming the bad one), and its None / "auto"
    defaults resolved: (batch_size, num_shared, alpha, jit_compile, max_row_updates)."""
    if batch_size is None:
        batch_size = default_batch_size(loss)
    check_hyperparameters(vocab_size, dim, window, negatives, epochs, batch_size, loss, arch)
    if num_shared is None:
        num_shared = default_num_shared(arch)
    if loss == "neg_shared":
        _check_int("num_shared", num_shared, 1)
    if not isinstance(stratified, (bool, np.bool_)):
        raise ValueError(f"stratified must be True or False, got {stratified!r}")
    alpha = default_alpha(arch) if alpha is None else float(alpha)
    if jit_compile == "auto":
        jit_compile = True if loss in FAST_LOSSES + SHARED_NEGATIVE_LOSSES else None
    if max_row_updates == "auto":
        max_row_updates = DEFAULT_MAX_ROW_UPDATES if loss == "neg" else None
    return batch_size, num_shared, alpha, jit_compile, max_row_updates


def _check_rates(alpha, min_alpha_ratio, sample) -> None:
    """ValueError naming a learning rate or threshold that would train to NaN or nothing."""
    for name, value, ok, expected in (
            ("alpha", alpha, lambda v: 0 < v < math.inf, "> 0"),
            ("min_alpha_ratio", min_alpha_ratio, lambda v: 0 <= v <= 1, "in [0, 1]"),
            ("sample", sample, lambda v: 0 <= v < math.inf, ">= 0 (0: no subsampling)")):
        try:
            good = ok(float(value))
        except (TypeError, ValueError):
            good = False
        if not good:
            raise ValueError(f"{name} must be a number {expected}, got {value!r}")


def _check_corpus_and_model(encoded, counts, model, arch, loss, dim) -> None:
    """ValueError for word ids `counts` does not cover, or a `model` of other sizes."""
    top = max((int(np.max(s)) for s in encoded if len(s)), default=-1)
    if top >= len(counts):
        raise ValueError(f"encoded holds word id {top}, but counts covers ids "
                         f"0..{len(counts) - 1}; expected the ids of the vocabulary whose "
                         "counts are given")
    if model is None:
        return
    for name, have, want in (("vocab_size", model.vocab_size, len(counts)),
                             ("dim", model.dim, dim), ("arch", model.arch, arch)):
        if have != want:
            raise ValueError(f"model has {name}={have!r} but train was given {want!r}; "
                             "expected a model of the same vocabulary, dim and arch")
    if loss == "hs" and model.hs is None:
        raise ValueError("loss='hs' needs a model built with hierarchical=True (and counts)")


def _epoch_sizes(counts, sample):
    """(keep_prob [V] or None, corpus words per epoch, expected words kept per epoch)."""
    from w2v_tf.word2vec.corpus import keep_probabilities

    keep_prob = keep_probabilities(counts, sample) if sample > 0 else None
    words_per_epoch = int(counts.sum())
    effective_per_epoch = int(round(float(np.sum(counts * keep_prob)))) if sample > 0 \
        else words_per_epoch
    return keep_prob, words_per_epoch, effective_per_epoch


def _progress_bar(progress: bool, total: int, desc: str):
    """A tqdm bar counting words, or None."""
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="word", unit_scale=True, desc=desc, mininterval=0.5)


@dataclass
class _EpochData:
    """Draws one epoch's batched arrays from the corpus flattened once, `flat` (it runs in the
    background thread, with its own generator `rng`, so successive calls draw successive
    epochs).

    Calling it returns `(words, contexts, weights, n, n_batches)`: `[n_batches, B, ...]`
    arrays (`_batched`), or for the CBOW runs of the fast path (`runs`) the arrays of
    `_epoch_cbow_runs`; n is the number of real examples.
    """
    flat: tuple
    arch: str
    window: int
    keep_prob: Optional[np.ndarray]
    rng: np.random.Generator
    pad_id: int
    batch_size: int
    runs: bool

    def __call__(self):
        if self.runs:
            words, contexts, weights = _epoch_cbow_runs(self.flat, self.window, self.keep_prob,
                                                        self.rng, self.pad_id, self.batch_size)
            return words, contexts, weights, int(weights.sum()), len(weights)
        words, contexts = _epoch_examples(self.arch, self.flat, self.window, self.keep_prob,
                                          self.rng, self.pad_id)
        n = len(contexts)
        n_batches = max(1, math.ceil(n / self.batch_size))
        return _batched(words, contexts, n_batches, self.batch_size) + (n, n_batches)


class _TapeEngine:
    """The autodiff path: one step of `model.make_train_step` (tape, summed sparse SGD) per
    call, for every loss but neg/neg_shared."""
    steps_per_call = 1
    runs = False
    loss_every = 1

    def __init__(self, model, loss, counts, *, negatives, seed, jit_compile, max_row_step):
        sampler = unigram_sampler(counts, seed=seed) if loss in \
            SHARED_NEGATIVE_LOSSES + PER_PAIR_NEGATIVE_LOSSES else None
        self.step = make_train_step(model, loss, sampler, negatives, jit_compile, max_row_step)

    def worth_warming_up(self, effective_per_epoch: int) -> bool:
        return False

    def prepare(self, words, contexts, weights, lrs, epoch_steps):   # [1, B, ...] each
        return words[0], contexts[0], weights[0], tf.constant(lrs[0])

    def execute(self, args):
        return self.step(*args)


class _FastEngine:
    """neg/neg_shared: `fast_sgd.make_neg_train_chunk`, a compiled loop of up to
    `CHUNK_EXAMPLES // batch_size` steps per call, fed one chunk ahead with its negatives
    (drawn from `neg_rng`) and, for CBOW runs, the window matrices."""
    loss_every = LOSS_EVERY

    def __init__(self, model, loss, counts, *, arch, window, negatives, batch_size, num_shared,
                 stratified, jit_compile, max_row_updates, prep, neg_rng):
        from w2v_tf.word2vec import fast_sgd

        self.runs = arch == "cbow"      # CBOW: runs of consecutive centres share their rows
        self.window, self.batch_size, self.neg_rng = window, batch_size, neg_rng
        self.chunk = fast_sgd.make_neg_train_chunk(
            model.target_table, model.context_table, negatives, arch, model.pad_id,
            shared=loss == "neg_shared", jit_compile=jit_compile,
            max_row_updates=max_row_updates, segments=self.runs, loss_every=LOSS_EVERY)
        self.table = prep.submit(fast_sgd.unigram_table, counts)   # while XLA compiles
        self.step_size = _runs_per_batch(batch_size) * RUN_LENGTH if self.runs else batch_size
        self.neg_shape = (num_shared,) if loss == "neg_shared" else (self.step_size, negatives)
        self.draw = fast_sgd.draw_stratified_negatives if loss == "neg_shared" and stratified \
            else fast_sgd.draw_negatives
        self.steps_per_call = max(1, CHUNK_EXAMPLES // batch_size)

    def worth_warming_up(self, effective_per_epoch: int) -> bool:
        """A job of many chunks compiles its full-size chunk while epoch 0 is drawn (an epoch
        has about effective_per_epoch centres, and ~2 E[w_i] pairs per centre in skip-gram)."""
        return effective_per_epoch >= 2 * self.steps_per_call * self.step_size

    def prepare(self, words, contexts, weights, lrs, epoch_steps):   # [n, B, ...] each
        # A call with a new number of steps n is a new XLA program (a trace and a compile
        # of ~0.5-1 s); a chunk shorter than steps_per_call is padded with steps of
        # weight 0 and rate 0, whose updates are exactly zero, to steps_per_call (or,
        # when the epoch has fewer steps than that, to the next power of two).
        n = len(lrs)
        size = self.steps_per_call if epoch_steps >= self.steps_per_call else \
            min(self.steps_per_call, 1 << (n - 1).bit_length())
        if self.runs:
            words = _run_matrices(words, self.window)
        words, contexts, weights, lrs = (
            tf.nest.map_structure(lambda a: _pad_steps(a, size), x)
            for x in (words, contexts, weights, lrs))
        neg = self.draw(self.table.result(), self.neg_rng, (size,) + self.neg_shape)
        # tensors made here, in the feed thread, not in the call that trains
        return tf.nest.map_structure(tf.constant, (words, contexts, neg, weights, lrs))

    def execute(self, args):
        return self.chunk(*args)

    def warm_up(self):
        """Compiles the full-size chunk on steps of weight 0 (exact no-ops)."""
        size = self.steps_per_call
        if self.runs:   # the step's arrays from empty runs, shapes as `prepare` makes them
            r, g, w2 = _runs_per_batch(self.batch_size), RUN_LENGTH, 2 * self.window
            words = _run_matrices((np.zeros((size, r, g + w2), np.int32),
                                   np.zeros((size, r, g), np.uint8)), self.window)
        else:
            words = np.zeros((size, self.step_size), np.int32)
        zeros = np.zeros((size, self.step_size), np.float32)
        self.chunk(*tf.nest.map_structure(tf.constant, (
            words, zeros.astype(np.int32), np.zeros((size,) + self.neg_shape, np.int32), zeros,
            np.zeros(size, np.float32))))


class _Run:
    """The epochs of one `train` call: word2vec.c's learning-rate decay, the steps of an
    `engine` chunk by chunk, and what `TrainStats` records."""

    def __init__(self, model, engine, alpha, min_alpha_ratio, epochs, words_per_epoch,
                 effective_per_epoch, on_epoch_end, bar):
        self.model, self.engine, self.bar = model, engine, bar
        self.alpha, self.min_alpha_ratio, self.num_epochs = alpha, min_alpha_ratio, epochs
        self.words_per_epoch, self.effective_per_epoch = words_per_epoch, effective_per_epoch
        self.on_epoch_end = on_epoch_end
        self.stats = TrainStats()

    def train(self, prep, feed, epoch_data):
        """Every epoch, the next one's examples drawn in `prep` while this one trains."""
        start = time.perf_counter()
        next_epoch = prep.submit(epoch_data)
        if self.engine.worth_warming_up(self.effective_per_epoch):
            self.engine.warm_up()
            self.stats.warm_up_seconds = time.perf_counter() - start
        for epoch in range(self.num_epochs):
            arrays = next_epoch.result()
            if epoch + 1 < self.num_epochs:
                next_epoch = prep.submit(epoch_data)
            self.stats.epoch_loss.append(self.train_epoch(feed, epoch, *arrays))
            self.stats.examples += arrays[3]
            self.stats.words += self.words_per_epoch
            self.stats.effective_words += self.effective_per_epoch
            if self.bar is not None:
                self.bar.set_postfix(loss=f"{self.stats.epoch_loss[-1]:.4f}")
            if self.on_epoch_end is not None:
                self.on_epoch_end(epoch, self.model, self.stats)
        self.stats.seconds = time.perf_counter() - start
        if self.bar is not None:
            self.bar.close()

    def train_epoch(self, feed, epoch, words, contexts, weights, n, n_batches) -> float:
        """Trains one epoch chunk by chunk, the next chunk's arguments prepared in `feed`;
        returns the mean loss per example (of the steps the engine measures)."""
        engine = self.engine
        per_call = engine.steps_per_call
        # word2vec.c's linear decay, one rate per step: progress = words done / all words
        lrs = np.array([learning_rate(self.alpha, (epoch + b / n_batches) / self.num_epochs,
                                      self.min_alpha_ratio) for b in range(n_batches)],
                       np.float32)                                          # [n_batches]
        loss_sum, loss_examples, done_words = 0.0, 0.0, 0

        def chunk_args(b):   # runs in `feed`, one chunk ahead of the compiled steps
            e = min(n_batches, b + per_call)
            batch_words = tuple(a[b:e] for a in words) if engine.runs else words[b:e]
            return engine.prepare(batch_words, contexts[b:e], weights[b:e], lrs[b:e], n_batches)

        starts = range(0, n_batches, per_call)
        pending = feed.submit(chunk_args, 0)
        for i, b in enumerate(starts):
            args = pending.result()
            if i + 1 < len(starts):
                pending = feed.submit(chunk_args, starts[i + 1])
            loss_sum += float(engine.execute(args))
            loss_examples += float(weights[b:b + per_call:engine.loss_every].sum())
            if self.bar is not None:
                now = self.words_per_epoch * min(n_batches, b + per_call) // n_batches
                self.bar.update(now - done_words)
                done_words = now
        return loss_sum / max(loss_examples, 1.0)


def _pad_steps(a: np.ndarray, size: int) -> np.ndarray:
    """Pads `a` [n, ...] with zeros to [size, ...] (steps of weight 0: no update)."""
    if len(a) == size:
        return a
    return np.concatenate([a, np.zeros((size - len(a),) + a.shape[1:], a.dtype)])


def _train_distributed(encoded, counts, model, *, dim, arch, loss, window, negatives, epochs, alpha,
                       min_alpha_ratio, sample, batch_size, seed, strategy, progress,
                       on_epoch_end):
    """`train` under a `tf.distribute` strategy (see its `strategy` argument)."""
    from w2v_tf import distribute as dist

    strat = dist.make_strategy(strategy)
    replicas = strat.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(f"batch_size={batch_size} must be divisible by the {replicas} "
                         f"replicas of strategy={strategy!r}.")
    loss = "neg_per_pair" if loss in FAST_LOSSES else loss
    vocab_size = len(counts)
    with strat.scope():          # tables and the sampler's generator live on every replica
        if model is None:
            tf.keras.utils.set_random_seed(seed)
            model = Word2Vec(vocab_size, dim, arch, counts=counts, hierarchical=loss == "hs",
                             seed=seed)
        sampler = unigram_sampler(counts, seed=seed) if loss in \
            SHARED_NEGATIVE_LOSSES + PER_PAIR_NEGATIVE_LOSSES else None
    variables = [model.target_table,
                 model.hs.inner_vectors if loss == "hs" else model.context_table]

    def loss_fn(batch):          # [b] summed per-pair losses of one replica's slice
        return pair_loss(model, loss, batch["words"], batch["contexts"], sampler, negatives,
                         negatives=negatives) * batch["weights"]
    step = dist.make_train_step(strat, loss_fn, variables, update_fn=dist.sgd_update,
                                global_batch_size=batch_size, reduction="sum")
    keep_prob, words_per_epoch, effective_per_epoch = _epoch_sizes(counts, sample)
    rng = np.random.default_rng(seed)
    flat = _pipeline.flatten_corpus(encoded, window, keep_prob)
    stats = TrainStats()
    start = time.perf_counter()
    for epoch in range(epochs):
        words, contexts = _epoch_examples(arch, flat, window, keep_prob, rng, model.pad_id)
        n = len(contexts)
        n_batches = max(1, math.ceil(n / batch_size))
        words, contexts, weights = _batched(words, contexts, n_batches, batch_size)
        data = tf.data.Dataset.from_tensor_slices(
            {"words": words.reshape((-1,) + words.shape[2:]),
             "contexts": contexts.reshape(-1), "weights": weights.reshape(-1)}
        ).batch(batch_size)
        loss_sum = 0.0
        for b, batch in enumerate(strat.experimental_distribute_dataset(data)):
            lr = learning_rate(alpha, (epoch + b / n_batches) / epochs, min_alpha_ratio)
            loss_sum += float(step(batch, tf.constant(lr, tf.float32)))
        stats.epoch_loss.append(loss_sum / max(n, 1))
        stats.examples += n
        stats.words += words_per_epoch
        stats.effective_words += effective_per_epoch
        if progress:
            print(f"epoch {epoch + 1}/{epochs} ({strategy}, {replicas} replicas): "
                  f"loss {stats.epoch_loss[-1]:.4f}", flush=True)
        if on_epoch_end is not None:
            on_epoch_end(epoch, model, stats)
    stats.seconds = time.perf_counter() - start
    return model, stats


def _batched(words, contexts, n_batches, batch_size):
    """`[n_batches, batch_size, ...]` int32 arrays and float32 weights (1 real, 0 padding).

    The epoch's last batch is padded with id-0 rows of weight 0, so every step has the same
    shape and the step compiles once.
    """
    real = len(contexts)
    pad = n_batches * batch_size - real
    if pad:
        words = np.concatenate([words, np.zeros((pad,) + words.shape[1:], words.dtype)])
        contexts = np.concatenate([contexts, np.zeros(pad, contexts.dtype)])
    weights = np.ones(n_batches * batch_size, np.float32)
    weights[real:] = 0.0
    shape = (n_batches, batch_size)
    return (words.astype(np.int32, copy=False).reshape(shape + words.shape[1:]),
            contexts.astype(np.int32, copy=False).reshape(shape), weights.reshape(shape))
