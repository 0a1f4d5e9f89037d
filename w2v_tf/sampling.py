"""Candidate samplers with TensorFlow's signatures, compilable with XLA and seed-deterministic.

Drop-in replacements for `tf.random.{uniform, log_uniform, fixed_unigram,
learned_unigram}_candidate_sampler` and `tf.nn.compute_accidental_hits`: the result plugs
into `sampled_values` of `tf.nn.sampled_softmax_loss` / `tf.nn.nce_loss`. Shapes and dtypes
are TF's: `sampled_candidates` int64 `[S]`, `true_expected_count` float32 `[B, num_true]`,
`sampled_expected_count` float32 `[S]` (S = num_sampled).

Distributions (`P` is float32, computed as TF computes it, so expected counts match TF):
    uniform       P(v) = 1 / V
    log-uniform   P(v) = log((v + 2) / (v + 1)) / log(V + 1)      (float64 math, then float32)
    fixed unigram P(v) = w_v / sum_u w_u,  w_v = count_v ** distortion, 0 for reserved ids
    learned       P(v) = c_v / sum_u c_u,  c_v = 1 + times v was seen as a true class

Drawing with replacement, O(S log V) per call, no O(V) work for fixed distributions:
    uniform       integer uniform in [0, V)
    log-uniform   inverse CDF in closed form: v = floor(exp(u * log(V + 1))) - 1, u ~ U[0, 1)
    unigram       inverse CDF by binary search, v = #{i : CDF_i <= u * total} (`upper_bound`
                  on the float64 cumulative weights; learned counts use an exact int64 CDF;
                  `tf.searchsorted` would be O(S V) under XLA, which compares all pairs).
TF uses an alias table instead; both sample P exactly up to float64 rounding.

Unique sampling (`unique=True`) reproduces TF's rejection loop without a data-dependent
loop per draw: draw a fixed-length chunk of M i.i.d. draws, keep values in order of first
appearance (a stable sort marks first occurrences), and repeat with `tf.while_loop` until S
distinct values are found. `num_tries` is the position of the S-th first appearance + 1,
which has exactly the distribution of TF's count of draws. M is chosen so that one chunk
usually suffices: the smallest m with E[#distinct in m draws] = sum_v 1 - (1 - P(v))^m >= S,
times 1.25. Expected counts then follow TF's formula, float32 math:
    num_tries == S:  Q(v) = P(v) * S                        (always the case if unique=False)
    otherwise:       Q(v) = -expm1(num_tries * log1p(-P(v))) = 1 - (1 - P(v))^num_tries

Randomness and determinism. All draws come from stateless Philox ops
(`tf.random.stateless_uniform(..., alg="philox")`, which XLA implements bit-for-bit, so eager
and `jit_compile=True` give the same ids) keyed by a per-call seed `[2]`. Each sampler object
owns a `tf.random.Generator` (a checkpointable variable): every call takes the next seed from
it, so the same constructor seed gives the same sequence in every run while successive calls
differ. Pass `seed=<int64 [2] tensor>` to a call for a purely functional draw (e.g.
`(seed, step)`). The function-style wrappers keep one sampler per configuration and seed in
a module cache, like TF's kernel cache (`reset_sampler_cache()` replays them, as
`tf.random.set_seed` does for TF); they also accept `rng=tf.random.Generator`.
TF's own samplers are CPU-only kernels that XLA cannot compile (tensorflow/tensorflow#32240),
and their eager draws are not reproducible across calls (#23882).

Where we differ from TF: true classes are checked in eager mode with a `ValueError` (in a
`tf.function` a `tf.debugging` assertion, which XLA drops); `unique=True` with fewer
positive-probability classes than `num_sampled` raises instead of looping forever; the
learned-unigram counts are int64 and checkpoint; `compute_accidental_hits` can also report
every position of a duplicated sampled id (`keep="all"`).
"""
from __future__ import annotations

import collections
import ctypes
import ctypes.util
import functools
import math
import os

import keras
import numpy as np
import tensorflow as tf

FLT_MAX = float(np.finfo(np.float32).max)

CandidateSamplerResult = collections.namedtuple(
    "CandidateSamplerResult", ["sampled_candidates", "true_expected_count", "sampled_expected_count"])


# ----------------------------------------------------------------------------- probabilities
def log_uniform_probabilities(range_max):
    """Exact log-uniform (Zipf) probabilities P(v) = log((v+2)/(v+1)) / log(V+1), float32 [V].

    Computed in float64 as TF's `LogUniformSampler::Probability` does, then rounded to float32.
    """
    range_max = _check_positive_int("range_max", range_max)
    v = np.arange(range_max, dtype=np.float64)
    return (np.log((v + 2.0) / (v + 1.0)) / math.log1p(range_max)).astype(np.float32)


def read_counts_file(path):
    """Read a TF `vocab_file`: one class per non-blank line, the count in the last CSV field.

    Args:
        path: text file; lines such as `word,123`, `123` or `id,word,123`.

    Returns:
        float32 numpy array `[num_lines]` of counts, in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line whose last field is not a finite number >= 0 (file and line named).
    """
    path = os.fspath(path)
    counts = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue  # TF skips empty lines too
            field = text.split(",")[-1].strip()
            try:
                value = float(field)
            except ValueError:
                value = float("nan")
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{path}:{lineno}: bad count {field!r} in line {text!r}; expected the "
                                 "last comma-separated field to be a finite number >= 0")
            counts.append(value)
    if not counts:
        raise ValueError(f"{path}: no counts found; expected one 'token,count' line per class")
    return np.asarray(counts, dtype=np.float32)


def _shard_weights(unigrams, distortion, num_reserved_ids, num_shards, shard):
    """TF's FixedUnigramSampler weights (float32 [V_shard]): reserved ids 0, others w**distortion."""
    w = np.asarray(unigrams, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"unigrams must be a non-empty 1-D list of counts, got shape {w.shape}")
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if bad.size:
        raise ValueError(f"unigrams must be finite and >= 0; got {w[bad[0]]} at index {bad[0]}")
    if not isinstance(num_reserved_ids, (int, np.integer)) or num_reserved_ids < 0:
        raise ValueError(f"num_reserved_ids must be an int >= 0, got {num_reserved_ids!r}")
    num_shards = _check_positive_int("num_shards", num_shards)
    if not isinstance(shard, (int, np.integer)) or not 0 <= shard < num_shards:
        raise ValueError(f"shard must be an int in [0, num_shards={num_shards}), got {shard!r}")
    # Reserved ids g in [0, R) with g % N == shard weigh 0. TF then numbers unigrams[k] as
    # r + k, r = the number of reserved ids kept in this shard (not R: a TF quirk that only
    # matters when R > 0 and N > 1), and keeps those with (r + k) % N == shard.
    reserved = np.zeros(len(range(shard, num_reserved_ids, num_shards)), np.float32)
    powered = _powf(w.astype(np.float32), np.float32(distortion))
    first = (shard - reserved.size) % num_shards
    kept = powered[first::num_shards]
    _check_powered(kept, w[first::num_shards], distortion)
    return np.concatenate([reserved, kept])


def _powf(counts, distortion):
    """count ** distortion in float32 by the C library's `powf`, as TF's kernel computes it.

    The kernel's `std::pow(float, float)` is libm's `powf`, which is not correctly rounded:
    the exact power rounded to float32 differs from it by 1 ulp for about 1 count in 1,000
    (measured: 1-25 of 5,000 random counts < 1e6, distortions 0.3-2). So we call the same
    `powf` (through ctypes, once per distinct count) and match TF bit for bit on the same
    C library (once per sampler: 0.8 s for a million distinct counts). Without a loadable
    libm (e.g. Windows) the power is taken in float64 and rounded, within 1 ulp of TF's.
    """
    values, inverse = np.unique(counts, return_inverse=True)
    libm_powf = _libm_powf()
    if libm_powf is None:
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            powered = np.power(values.astype(np.float64), np.float64(distortion))
    else:
        powered = [libm_powf(float(v), float(distortion)) for v in values]
    return np.asarray(powered, np.float32)[inverse.ravel()]


@functools.lru_cache(maxsize=1)
def _libm_powf():
    """The C library's `powf(float, float) -> float` via ctypes, or None where unavailable."""
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        powf = libm.powf
    except (OSError, AttributeError):
        return None
    powf.restype, powf.argtypes = ctypes.c_float, [ctypes.c_float, ctypes.c_float]
    return powf


def _check_powered(powered, counts, distortion):
    """Every weight count ** distortion finite, and their float32 total finite and > 0.

    TensorFlow does not check: a zero count with a negative distortion (0 ** -1 = inf), a
    float32 overflow (1e30 ** 2) or an all-zero shard make its probabilities NaN or 0, and
    with `unique=True` its rejection loop never ends (measured: TF 2.21 hangs).
    """
    bad = np.flatnonzero(~np.isfinite(powered))
    if bad.size:
        raise ValueError(f"distortion={distortion} turns unigrams[{bad[0]}]={counts[bad[0]]} "
                         f"(in this shard) into the weight {powered[bad[0]]}; expected finite "
                         "weights count ** distortion (a zero count needs distortion >= 0, "
                         "and the weights must fit in float32)")
    with np.errstate(over="ignore"):
        total = np.cumsum(powered, dtype=np.float32)[-1] if powered.size else np.float32(0)
    if not (np.isfinite(total) and total > 0):
        raise ValueError(f"the weights unigrams ** distortion (distortion={distortion}) of "
                         f"this shard sum to {total}; expected a finite total > 0 (at least "
                         "one positive count, and a sum that fits in float32)")


def unigram_probabilities(counts, distortion=0.75, num_reserved_ids=0, num_shards=1, shard=0):
    """Fixed-unigram probabilities P(v) = w_v / sum w, w_v = count_v ** distortion, float32.

    The total is a float32 running sum, as in TF's kernel, so these equal TF's probabilities.
    Note the default distortion is word2vec's 0.75; the sampler's default is TF's 1.0.

    Args:
        counts: 1-D counts (or relative probabilities) >= 0, one per id after the reserved ids.
        distortion: power applied to each count (0 gives uniform, 1 the raw unigram).
        num_reserved_ids: ids `[0, num_reserved_ids)` get probability 0 and shift the others.
        num_shards, shard: keep only ids with `id % num_shards == shard`, renumbered 0, 1, ...
            (TF's rule, quirk included: see `_shard_weights`).

    Returns:
        float32 numpy array `[(num_reserved_ids + len(counts)) of this shard]`.

    Raises:
        ValueError: negative or non-finite counts; weights count ** distortion that are not
            finite or whose total is not finite and > 0 (named `distortion`/`unigrams`:
            TensorFlow returns NaN there, or hangs with `unique=True`); bad reserved ids /
            shards.
    """
    w = _shard_weights(counts, distortion, num_reserved_ids, num_shards, shard)
    total = np.cumsum(w, dtype=np.float32)[-1]    # sequential float32 sum (> 0: checked)
    return w / total


def expected_count(probability, num_sampled, num_tries):
    """TF's expected count of a class in one call: Q = P*S if num_tries == S, else 1-(1-P)^num_tries.

    TF's `ExpectedCountHelper`: P*S in float32 when num_tries == S (always so for
    `unique=False`), else `-expm1(num_tries * log1p(-P))`. We evaluate the latter in float64
    from the float32 P and round once: TF's float32 libm result is within 2 ulps of that
    (checked; TF's own float32 ops `tf.math.log1p/expm1` would be up to 4 ulps away).

    Args:
        probability: float32 tensor of any shape, P(v).
        num_sampled: Python int S.
        num_tries: int scalar tensor, draws made to get S unique candidates.

    Returns:
        float32 tensor shaped like `probability`.
    """
    p = tf.cast(probability, tf.float32)
    tries = tf.cast(num_tries, tf.float64)
    p64 = tf.cast(p, tf.float64)
    return tf.where(tf.equal(tf.cast(num_tries, tf.int64), num_sampled),
                    p * float(num_sampled),
                    tf.cast(-tf.math.expm1(tries * tf.math.log1p(-p64)), tf.float32))


# ------------------------------------------------------------------------------- samplers
class CandidateSampler(tf.Module):
    """Base class: a distribution over `[0, range_max)` plus TF's sampling protocol.

    Subclasses define `probability(ids)` (float32, TF's values) and `_draw(seed, n)`
    (n i.i.d. int64 draws). Calling the sampler returns a `CandidateSamplerResult`.

    Args:
        range_max: number of classes V.
        seed: int for a reproducible stream, or None for a non-deterministic one (unlike
            TF's samplers, `tf.random.set_seed` does not fix it: pass `seed` or `rng`).
        rng: a `tf.random.Generator` to take per-call seeds from (overrides `seed`).
        jit_compile: compile the sampling step with XLA (True), run it as a graph (None/False).
        name: module name.
    """

    def __init__(self, range_max, seed=None, rng=None, jit_compile=None, name=None):
        super().__init__(name=name)
        self.range_max = _check_positive_int("range_max", range_max)
        if rng is not None and not isinstance(rng, tf.random.Generator):
            raise TypeError(f"rng must be a tf.random.Generator, got {type(rng).__name__}")
        self._seed, self._jit_compile = (seed if rng is None else None), jit_compile
        if rng is None:
            with tf.init_scope():
                rng = (tf.random.Generator.from_non_deterministic_state() if seed is None
                       else tf.random.Generator.from_seed(_check_int("seed", seed)))
        self.rng = rng
        self._chunk_sizes = {}
        self._step = tf.function(self._sample_step, jit_compile=jit_compile, autograph=False)

    # -- to override
    def probability(self, ids):
        """float32 P(ids) for int64 `ids` of any shape (TF's float32 values)."""
        raise NotImplementedError

    def _draw(self, seed, n):
        """n i.i.d. int64 draws from P, from the stateless seed `[2]`."""
        raise NotImplementedError

    def _num_positive(self):
        return self.range_max

    def _probabilities_np(self):
        return np.full(self.range_max, 1.0 / self.range_max)

    def _update(self, flat_true):
        del flat_true

    # -- protocol
    def probabilities(self):
        """The full float32 probability vector `[range_max]` (for plots and tests)."""
        return self.probability(tf.range(self.range_max, dtype=tf.int64))

    def chunk_size(self, num_sampled):
        """Draws per chunk for unique sampling: about 1.25x the expected draws to see S distinct.

        m* = smallest m with E[#distinct] = sum_v 1 - (1 - P(v))^m >= S (bisection over m);
        the chunk is 1.25 m* + 16, at least S and at most max(4 S, 16384). `tf.while_loop`
        draws further chunks when one is short, so this only affects speed.
        """
        if num_sampled not in self._chunk_sizes:
            distinct = self._expected_distinct()
            cap = max(4 * num_sampled, 16384)
            lo, hi = num_sampled - 1, cap                  # distinct(lo) <= lo < S
            if distinct(hi) >= num_sampled:
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    lo, hi = (lo, mid) if distinct(mid) >= num_sampled else (mid, hi)
            self._chunk_sizes[num_sampled] = int(min(cap, max(num_sampled, math.ceil(1.25 * hi) + 16)))
        return self._chunk_sizes[num_sampled]

    def _expected_distinct(self):
        """m -> E[#distinct ids in m draws] = sum_v 1 - (1 - P(v))^m, from P's distinct values.

        The unigram samplers hold their V weights anyway; uniform and log-uniform override
        this with O(1) forms (no [V] array: V may be 2**32 + 1).
        """
        p, mult = np.unique(self._probabilities_np(), return_counts=True)
        keep = p > 0
        log_q = np.log1p(-np.minimum(p[keep], 1.0 - 1e-16))                  # log(1 - P(v))
        mult = mult[keep]
        return lambda m: float(np.sum(-mult * np.expm1(m * log_q)))

    def draw(self, num_sampled, unique, seed=None):
        """Sampled ids and the number of draws made (no expected counts, no learning update).

        Args:
            num_sampled: Python int S.
            unique: Python bool; if True the S ids are distinct (TF's rejection semantics).
            seed: optional stateless seed, int64 `[2]`; default: the next seed from `self.rng`.

        Returns:
            (sampled_candidates int64 `[S]`, num_tries int32 scalar).
        """
        num_sampled, unique = self._check_sizes(num_sampled, unique)
        seed = self.rng.make_seeds(1)[:, 0] if seed is None else _check_seed(seed)
        if not unique:
            return self._draw(seed, num_sampled), tf.constant(num_sampled, tf.int32)
        return _unique_stream(self._draw, seed, num_sampled, self.chunk_size(num_sampled))

    def __call__(self, true_classes, num_true, num_sampled, unique, seed=None, name=None):
        """Sample candidates, TF-style.

        Args:
            true_classes: int `[batch_size, num_true]`, each in `[0, range_max)`.
            num_true: Python int.
            num_sampled: Python int S (`<= range_max` if unique).
            unique: Python bool.
            seed: optional stateless seed int64 `[2]`; default: the next seed from `self.rng`.
            name: name scope.

        Returns:
            `CandidateSamplerResult(sampled_candidates int64 [S], true_expected_count float32
            [batch_size, num_true], sampled_expected_count float32 [S])`.
        """
        with tf.name_scope(name or self.name):
            true_classes = _check_true_classes(true_classes, num_true, self.range_max)
            num_sampled, unique = self._check_sizes(num_sampled, unique)
            seed = None if seed is None else _check_seed(seed)
            return self._step(true_classes, num_sampled, unique, seed)

    def _sample_step(self, true_classes, num_sampled, unique, seed):
        sampled, num_tries = self.draw(num_sampled, unique, seed)
        true_count = expected_count(self.probability(true_classes), num_sampled, num_tries)
        sampled_count = expected_count(self.probability(sampled), num_sampled, num_tries)
        self._update(tf.reshape(true_classes, [-1]))  # learned unigram: counts += 1 after sampling
        return CandidateSamplerResult(sampled, true_count, sampled_count)

    def _check_sizes(self, num_sampled, unique):
        num_sampled = _check_positive_int("num_sampled", num_sampled)
        if not isinstance(unique, (bool, np.bool_)):
            raise TypeError(f"unique must be a Python bool, got {unique!r}")
        if unique and num_sampled > self._num_positive():
            raise ValueError(
                f"Sampler's range is too small: num_sampled={num_sampled} unique classes requested but "
                f"only {self._num_positive()} of range_max={self.range_max} have positive probability")
        return num_sampled, bool(unique)

    # -- Keras serialisation (`keras.saving.serialize_keras_object` / `deserialize_keras_object`)
    def get_config(self):
        """The constructor arguments, JSON-ready: `from_config` builds a sampler whose draws
        equal those of a fresh sampler with this config. A sampler made with `rng=` records
        seed None; the generator's state (and learned counts) are variables, which
        `w2v_tf.layers.SampledSoftmaxLayer` saves with the model's weights."""
        return {"range_max": self.range_max, "seed": self._seed,
                "jit_compile": self._jit_compile, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class UniformSampler(CandidateSampler):
    """Uniform over `[0, range_max)`: P(v) = 1/V (float32 1.0f / V, as TF)."""

    def probability(self, ids):
        return tf.fill(tf.shape(ids), np.float32(1.0) / np.float32(self.range_max))

    def _draw(self, seed, n):
        return tf.random.stateless_uniform([n], seed, minval=0, maxval=self.range_max,
                                           dtype=tf.int64, alg="philox")

    def _expected_distinct(self):
        # One distinct value: E[#distinct in m] = V (1 - (1 - 1/V)^m), O(1).
        p = float(np.float32(1.0) / np.float32(self.range_max))
        log_q = math.log1p(-min(p, 1.0 - 1e-16))
        return lambda m: -self.range_max * math.expm1(m * log_q)


class LogUniformSampler(CandidateSampler):
    """Log-uniform (Zipf): P(v) = log((v+2)/(v+1)) / log(V+1); ids sorted by decreasing frequency."""

    def probability(self, ids):
        v = tf.cast(ids, tf.float64)
        p = tf.math.log((v + 2.0) / (v + 1.0)) / math.log1p(self.range_max)
        return tf.cast(p, tf.float32)

    def _probabilities_np(self):
        return log_uniform_probabilities(self.range_max).astype(np.float64)

    def _expected_distinct(self):
        """E[#distinct in m draws], O(1) in V: exact over the head v < H, an integral beyond.

        f(v) = 1 - (1 - P(v))^m with P(v) = log1p(1 / (v + 1)) / log(V + 1) is summed exactly
        for v < H = min(V, 4096); the tail sum_{v=H}^{V-1} f(v) is the midpoint-rule integral
        of f over [H - 1/2, V - 1/2], computed with Simpson's rule in t = log(x + 1) on 513
        points (f is smooth and monotone there; the error is far below one id, and the chunk
        size only sets how many draws one loop iteration makes).
        """
        big_v = self.range_max
        log_v1 = math.log1p(big_v)
        head = np.arange(min(big_v, 4096), dtype=np.float64)
        log_q_head = np.log1p(-np.log1p(1.0 / (head + 1.0)) / log_v1)
        if big_v <= 4096:
            return lambda m: float(np.sum(-np.expm1(m * log_q_head)))
        t = np.linspace(math.log(head.size + 0.5), math.log(big_v + 0.5), 513)   # t = log(x+1)
        x1 = np.exp(t)                                                            # x + 1
        log_q_tail = np.log1p(-np.log1p(1.0 / x1) / log_v1)
        weights = np.full(t.size, 2.0)
        weights[1::2], weights[[0, -1]] = 4.0, 1.0
        weights *= (t[1] - t[0]) / 3.0 * x1                                       # dx = e^t dt

        def distinct(m):
            return float(np.sum(-np.expm1(m * log_q_head)) +
                         np.sum(-np.expm1(m * log_q_tail) * weights))
        return distinct

    def _draw(self, seed, n):
        # Inverse CDF: CDF(v) = log(v + 2) / log(V + 1), so v = floor(exp(u log(V + 1))) - 1.
        u = _uniform01(seed, n)
        v = tf.cast(tf.math.exp(u * math.log1p(self.range_max)), tf.int64) - 1
        return tf.math.floormod(v, self.range_max)  # u*log(V+1) rounding up to V wraps, as TF


class FixedUnigramSampler(CandidateSampler):
    """Fixed unigram: P(v) = w_v / sum w with w_v = count_v ** distortion (TF's op, same args).

    Args:
        range_max: number of ids in this shard; must equal the shard's weight count.
        vocab_file: a counts file (see `read_counts_file`); exactly one of it and `unigrams`.
        distortion: power on each count; 0.75 gives word2vec's unigram^0.75.
        num_reserved_ids: ids `[0, R)` have probability 0 (e.g. padding / UNK).
        num_shards, shard: this sampler covers ids with `id % num_shards == shard`, numbered
            locally 0, 1, ... as TF does (including TF's numbering quirk with reserved ids,
            see `_shard_weights`).
        unigrams: counts (or relative probabilities), one per id after the reserved ones.
        seed, rng, jit_compile, name: see `CandidateSampler`.
    """

    def __init__(self, range_max, vocab_file="", distortion=1.0, num_reserved_ids=0, num_shards=1,
                 shard=0, unigrams=(), seed=None, rng=None, jit_compile=None, name=None):
        has_file, has_unigrams = bool(vocab_file), len(unigrams) > 0
        if has_file == has_unigrams:
            raise ValueError("pass exactly one of vocab_file and unigrams; got "
                             f"vocab_file={vocab_file!r} and {len(unigrams)} unigrams")
        counts = read_counts_file(vocab_file) if has_file else unigrams
        self._unigram_config = {  # the counts themselves, so a saved config needs no file
            "unigrams": np.asarray(counts, np.float64).tolist(), "distortion": float(distortion),
            "num_reserved_ids": num_reserved_ids, "num_shards": num_shards, "shard": shard}
        w = _shard_weights(counts, distortion, num_reserved_ids, num_shards, shard)
        if range_max != w.size:
            raise ValueError(f"range_max={range_max} must equal the number of weights in shard "
                             f"{shard} of {num_shards}, which is {w.size}")
        super().__init__(range_max, seed=seed, rng=rng, jit_compile=jit_compile, name=name)
        self._p32 = unigram_probabilities(counts, distortion, num_reserved_ids, num_shards, shard)
        cdf = np.cumsum(w.astype(np.float64))
        self._cdf = tf.constant(cdf)                     # [V] float64, CDF_v = sum_{u<=v} w_u
        self._probs = tf.constant(self._p32)             # [V] float32, TF's P
        self._last_positive = int(np.flatnonzero(w > 0)[-1])
        self._positive = int(np.count_nonzero(w > 0))

    def get_config(self):
        return {**super().get_config(), **self._unigram_config}

    def probability(self, ids):
        return tf.gather(self._probs, ids)

    def _probabilities_np(self):
        return self._p32.astype(np.float64)

    def _num_positive(self):
        return self._positive

    def _draw(self, seed, n):
        # Inverse CDF by binary search: v = #{i : CDF_i <= u * total}, O(n log V).
        r = _uniform01(seed, n) * self._cdf[-1]
        return tf.minimum(upper_bound(self._cdf, r), self._last_positive)  # guards u * total rounding up to total


class LearnedUnigramSampler(CandidateSampler):
    """Unigram learned from the true classes: P(v) = c_v / sum c, c_v = 1 + times v was a label.

    `counts` is an int64 `tf.Variable` `[range_max]` that checkpoints with the sampler (TF's
    kernel state is lost on restore). Each call samples first, then adds 1 to the count of
    every entry of `true_classes` (duplicates count twice), as TF does.
    """

    def __init__(self, range_max, seed=None, rng=None, jit_compile=None, name=None):
        if _check_positive_int("range_max", range_max) >= 2**31 - 1:
            # TF's kernel requires range_max < 2147483647 (and aborts the process on a CHECK);
            # the counts here are a [range_max] int64 variable.
            raise ValueError(f"range_max must be less than 2147483647 for the learned unigram "
                             f"sampler, got {range_max}")
        super().__init__(range_max, seed=seed, rng=rng, jit_compile=jit_compile, name=name)
        with tf.init_scope():
            self.counts = tf.Variable(tf.ones([self.range_max], tf.int64), trainable=False,
                                      name="counts")

    def probability(self, ids):
        # TF: float(weight) / total in float32.
        c = tf.cast(self.counts.read_value(), tf.float32)
        return tf.gather(c, ids) / tf.cast(tf.reduce_sum(self.counts), tf.float32)

    def _probabilities_np(self):
        # Chunk size from the counts when traced (the loop covers any later shortfall).
        with tf.init_scope():
            c = self.counts.numpy().astype(np.float64)
        return c / c.sum()

    def _draw(self, seed, n):
        # Exact integer inverse CDF: r ~ U{0..total-1}, v = #{i : CDF_i <= r}.
        cdf = tf.math.cumsum(self.counts.read_value())
        r = tf.random.stateless_uniform([n], seed, minval=tf.constant(0, tf.int64), maxval=cdf[-1],
                                        dtype=tf.int64, alg="philox")
        return upper_bound(cdf, r)

    def _update(self, flat_true):
        self.counts.scatter_add(tf.IndexedSlices(tf.ones_like(flat_true), flat_true))


for _cls in (UniformSampler, LogUniformSampler, FixedUnigramSampler, LearnedUnigramSampler):
    keras.saving.register_keras_serializable(package="w2v_tf")(_cls)
del _cls

# ----------------------------------------------------------------------- unique sampling
def _unique_stream(draw, seed, num_sampled, chunk):
    """First S distinct values of an i.i.d. stream and the draws used (TF's rejection loop).

    Chunk i holds draws (i*M ... i*M + M-1) from seed fold_in(seed, i). Within
    [already picked; chunk] a stable sort marks first occurrences; new values get slots
    count, count+1, ... in stream order; num_tries = index of the S-th new value + 1.

    Returns:
        (int64 `[S]` distinct ids in order of first appearance, int32 num_tries).
    """
    S, M = num_sampled, chunk

    def body(i, picked, count, tries):
        d = draw(tf.random.experimental.stateless_fold_in(seed, i, alg="philox"), M)  # [M]
        both = tf.concat([picked, d], 0)                                       # [S + M]
        order = tf.argsort(both, stable=True)
        sorted_vals = tf.gather(both, order)
        first_sorted = tf.concat([[1], tf.cast(sorted_vals[1:] != sorted_vals[:-1], tf.int32)], 0)
        first = tf.scatter_nd(order[:, None], first_sorted, [S + M])          # back to stream order
        new = first[S:]                                                        # [M] 1 if unseen
        slot = count + tf.cumsum(new) - 1                                      # [M] rank among new
        take = (new > 0) & (slot < S)
        picked = tf.tensor_scatter_nd_update(
            tf.concat([picked, [-1]], 0), tf.where(take, slot, S)[:, None], d)[:S]
        n_new = tf.reduce_sum(new)
        last = tf.cast(tf.argmax(tf.cast(take & (slot == S - 1), tf.int32)), tf.int32)
        tries = tries + tf.where(count + n_new >= S, last + 1, M)
        return i + 1, picked, tf.minimum(count + n_new, S), tries

    init = (tf.constant(0, tf.int32), tf.fill([S], tf.constant(-1, tf.int64)),
            tf.constant(0, tf.int32), tf.constant(0, tf.int32))
    _, picked, _, tries = tf.while_loop(lambda i, p, count, t: count < S, body, init)
    return picked, tries


def upper_bound(sorted_values, x):
    """#{i : sorted_values_i <= x} for each x: binary search, O(n log V), XLA-friendly.

    Equals `tf.searchsorted(sorted_values, x, side="right")`, whose XLA lowering compares
    every x with every value (O(n V)). Invariant: the answer lies in [lo, hi]; each of the
    bit_length(V) + 1 unrolled steps halves hi - lo.

    Args:
        sorted_values: `[V]` non-decreasing, static V.
        x: `[n]` same dtype.

    Returns:
        int64 `[n]` in [0, V].
    """
    size = int(sorted_values.shape[0])
    lo = tf.zeros(tf.shape(x), tf.int64)
    hi = tf.fill(tf.shape(x), tf.constant(size, tf.int64))
    for _ in range(size.bit_length() + 1):
        mid = (lo + hi) // 2
        active = lo < hi
        right = tf.gather(sorted_values, tf.minimum(mid, size - 1)) <= x  # answer > mid
        lo = tf.where(active & right, mid + 1, lo)
        hi = tf.where(active & ~right, mid, hi)
    return lo


def _uniform01(seed, n):
    """n float64 uniforms in [0, 1) built from 53 random bits (identical in eager and XLA)."""
    bits = tf.random.stateless_uniform([n], seed, minval=None, maxval=None, dtype=tf.uint64,
                                       alg="philox")
    return tf.cast(tf.bitwise.right_shift(bits, tf.constant(11, tf.uint64)), tf.float64) * 2.0 ** -53


# ---------------------------------------------------------------------- checks and cache
def _check_int(arg, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{arg} must be a Python int, got {value!r} ({type(value).__name__})")
    return int(value)


def _check_positive_int(arg, value):
    value = _check_int(arg, value)
    if value < 1:
        raise ValueError(f"{arg} must be >= 1, got {value}")
    return value


def _check_seed(seed):
    """A stateless seed: int64 `[2]`."""
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer or seed.shape.rank != 1 or seed.shape[0] != 2:
        raise ValueError(f"seed passed to a call must be an integer tensor of shape [2], got {seed!r}")
    return tf.cast(seed, tf.int64)


def _check_true_classes(true_classes, num_true, range_max):
    """int64 `[B, num_true]` true classes; values checked eagerly (ValueError) or by assertion.

    `range_max=None` checks dtype and shape only.
    """
    num_true = _check_positive_int("num_true", num_true)
    t = tf.convert_to_tensor(true_classes)
    if not t.dtype.is_integer:
        raise TypeError(f"true_classes must be an integer tensor, got dtype {t.dtype.name}")
    t = tf.cast(t, tf.int64)
    if t.shape.rank is not None and (t.shape.rank != 2 or t.shape[1] not in (None, num_true)):
        raise ValueError(f"true_classes must have shape [batch_size, num_true={num_true}], "
                         f"got {t.shape}")
    if range_max is None:
        return t
    if tf.executing_eagerly():
        v = t.numpy()
        bad = np.argwhere((v < 0) | (v >= range_max))
        if bad.size:
            raise ValueError(f"true_classes out of range [0, {range_max}): value {v[tuple(bad[0])]} "
                             f"at position {tuple(int(i) for i in bad[0])}")
    else:
        tf.debugging.assert_non_negative(t, message="true_classes out of range")
        tf.debugging.assert_less(t, tf.constant(range_max, tf.int64),
                                 message=f"true_classes out of range [0, {range_max})")
    return t


_CACHE = {}


def reset_sampler_cache():
    """Forget the samplers kept by the function-style wrappers (their next calls replay)."""
    _CACHE.clear()


def _cached(key, make):
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def _wrapper_call(sampler, true_classes, num_true, num_sampled, unique, rng, name):
    seed = None if rng is None else rng.make_seeds(1)[:, 0]
    return sampler(true_classes, num_true, num_sampled, unique, seed=seed, name=name)


# ------------------------------------------------------------- function-style (TF signatures)
def uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None,
                              name=None, *, rng=None):
    """`tf.random.uniform_candidate_sampler`, reproducible and XLA-compilable.

    Args: as TF's (see `CandidateSampler.__call__`); `seed` is an int (a reproducible
    stream per (configuration, seed), advanced by each call) or None; `rng` a
    `tf.random.Generator` to draw the call's seed from instead.

    Returns:
        `CandidateSamplerResult` (int64 `[S]`, float32 `[B, num_true]`, float32 `[S]`).
    """
    s = _cached(("uniform", range_max, seed), lambda: UniformSampler(range_max, seed=seed))
    return _wrapper_call(s, true_classes, num_true, num_sampled, unique, rng, name)


def log_uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max,
                                  seed=None, name=None, *, rng=None):
    """`tf.random.log_uniform_candidate_sampler` (TF's default sampler for sampled softmax).

    Args and Returns as `uniform_candidate_sampler`.
    """
    s = _cached(("log_uniform", range_max, seed), lambda: LogUniformSampler(range_max, seed=seed))
    return _wrapper_call(s, true_classes, num_true, num_sampled, unique, rng, name)


def learned_unigram_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max,
                                      seed=None, name=None, *, rng=None):
    """`tf.random.learned_unigram_candidate_sampler`; the counts live in a cached sampler.

    Calls with the same (range_max, seed) share counts, as TF's cached kernel does; use
    `LearnedUnigramSampler` directly to checkpoint them. Args and Returns as
    `uniform_candidate_sampler`.
    """
    s = _cached(("learned", range_max, seed), lambda: LearnedUnigramSampler(range_max, seed=seed))
    return _wrapper_call(s, true_classes, num_true, num_sampled, unique, rng, name)


def fixed_unigram_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max,
                                    vocab_file="", distortion=1.0, num_reserved_ids=0,
                                    num_shards=1, shard=0, unigrams=(), seed=None, name=None, *,
                                    rng=None):
    """`tf.random.fixed_unigram_candidate_sampler`, same arguments (see `FixedUnigramSampler`).

    Returns:
        `CandidateSamplerResult` (int64 `[S]`, float32 `[B, num_true]`, float32 `[S]`).
    """
    counts = np.asarray(unigrams, np.float64)   # shape in the key: [[1, 2]] is not [1, 2]
    key = ("fixed", range_max, os.fspath(vocab_file), counts.shape, counts.tobytes(),
           float(distortion), num_reserved_ids, num_shards, shard, seed)
    s = _cached(key, lambda: FixedUnigramSampler(
        range_max, vocab_file=vocab_file, distortion=distortion, num_reserved_ids=num_reserved_ids,
        num_shards=num_shards, shard=shard, unigrams=unigrams, seed=seed))
    return _wrapper_call(s, true_classes, num_true, num_sampled, unique, rng, name)


def all_candidate_sampler(true_classes, num_true, num_sampled, unique, seed=None, name=None):
    """`tf.random.all_candidate_sampler`: the classes `[0, num_sampled)`, each counted once.

    For tests and experiments with every class as a candidate (`num_sampled` = the number of
    classes). `unique` and `seed` are accepted for TF's signature and ignored.

    Returns:
        `CandidateSamplerResult` (int64 `[S]` = 0..S-1, float32 ones `[B, num_true]`, float32
        ones `[S]`).
    """
    del unique, seed
    with tf.name_scope(name or "all_candidate_sampler"):
        t = _check_true_classes(true_classes, num_true, None)
        num_sampled = _check_positive_int("num_sampled", num_sampled)
        return CandidateSamplerResult(tf.range(num_sampled, dtype=tf.int64),
                                      tf.ones(tf.shape(t), tf.float32),
                                      tf.ones([num_sampled], tf.float32))


# ---------------------------------------------------------------------- accidental hits
def compute_accidental_hits(true_classes, sampled_candidates, num_true, seed=None, name=None, *,
                            keep="last"):
    """Positions where a sampled candidate equals a true class of the same row (TF's op).

    Output order is row, then label, then position, as TF. With `keep="last"` (TF's
    behaviour) a sampled id that appears several times is reported only at its last
    position; `keep="all"` reports every position (what masking the logits needs when
    `unique=False`). A label repeated within a row is reported once per repeat, like TF.
    The output length is data-dependent, so this op is not for `jit_compile`.

    Args:
        true_classes: int `[batch_size, num_true]`.
        sampled_candidates: int `[num_sampled]`.
        num_true: Python int.
        seed: unused (TF's signature).
        name: name scope.
        keep: "last" or "all".

    Returns:
        (indices int32 `[K]` rows, ids int64 `[K]` positions in `sampled_candidates`,
        weights float32 `[K]` all -FLT_MAX).
    """
    del seed
    if keep not in ("last", "all"):
        raise ValueError(f"keep must be 'last' or 'all', got {keep!r}")
    with tf.name_scope(name or "compute_accidental_hits"):
        labels = _check_true_classes(true_classes, num_true, None)
        sampled = tf.convert_to_tensor(sampled_candidates)
        if not sampled.dtype.is_integer or sampled.shape.rank not in (None, 1):
            raise ValueError("sampled_candidates must be a 1-D integer tensor, got "
                             f"{sampled.dtype.name} {sampled.shape}")
        sampled = tf.cast(sampled, tf.int64)
        match = tf.equal(labels[:, :, None], sampled[None, None, :])          # [B, T, S]
        if keep == "all":
            where = tf.where(match)                                            # [K, 3] (b, t, s)
            rows, ids = where[:, 0], where[:, 2]
        else:
            # last = the largest matching position (a max, not an argmax: S may be 0)
            positions = tf.range(tf.size(sampled, out_type=tf.int64))         # [S]
            last = tf.reduce_max(tf.where(match, positions, -1), axis=2)       # [B, T]
            where = tf.where(tf.reduce_any(match, axis=2))                     # [K, 2] (b, t)
            rows, ids = where[:, 0], tf.gather_nd(last, where)
        weights = tf.fill(tf.shape(rows), np.float32(-FLT_MAX))
        return tf.cast(rows, tf.int32), ids, weights
