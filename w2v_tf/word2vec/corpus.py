"""Corpora, tokenisation, vocabulary and frequent-word subsampling for word2vec.

Three kinds of corpus are read by `load_corpus`:

* ``"lee"``: ``lee_background.cor`` from the gensim wheel (Lee news corpus, 300 Australian
  news articles, one per line, mixed case with punctuation): 60,533 tokens, 1,831 words
  at min_count 5. No download needed.
* ``"wiki500"``: ``head500.noblanks.cor`` from the gensim wheel (250 long lines of
  Wikipedia text, already lower-cased, stop-word-filtered and Porter-stemmed: "anarch",
  "dictionari"; so analogy test sets do not apply to it): 335,846 tokens, 8,049 words at
  min_count 5.
* ``"both"``: lee followed by wiki500: 396,379 tokens, 9,353 words at min_count 5.
* any other string or path: a UTF-8 text file. One line is one sentence, which covers
  ordinary text files and text8-style files (the whole corpus on one line) alike.

Sentences longer than `max_sentence_length` tokens (default 1000, word2vec.c's
``MAX_SENTENCE_LENGTH``; gensim's `LineSentence` uses 10000) are cut into consecutive
pseudo-sentences of that many tokens, so a text8 line becomes ~17k pseudo-sentences.
Context windows never cross a sentence boundary (see `w2v_tf.word2vec.pipeline`), so the cut only
loses the pairs that would straddle it: at most window*(window+1) per cut.

The vocabulary keeps words seen at least `min_count` times and numbers them by decreasing
count (id 0 = most frequent), which is what `tf.random.log_uniform_candidate_sampler`
assumes (Zipf: P(id) = log((id+2)/(id+1)) / log(V+1)). Out-of-vocabulary words are dropped
by `Vocabulary.encode`, as word2vec.c does, so there is no [UNK] or padding id among the
training ids at all; a model that needs a padding id uses `len(vocab)` (one past the last
word), which no sampler over `range_max=len(vocab)` can ever draw.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

BUILTIN = {"lee": ("lee_background.cor",), "wiki500": ("head500.noblanks.cor",),
           "both": ("lee_background.cor", "head500.noblanks.cor")}

# A token is a run of letters/digits, optionally joined by apostrophes ("don't", "o'brien").
# `[^\W_]` is `\w` without the underscore, so it is Unicode-aware ("encyclopædia").
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def tokenize(line: str, lowercase: bool = True) -> list[str]:
    """Splits one line of text into word tokens; punctuation is dropped.

    Args:
        line: the text.
        lowercase: lower-case the tokens first (Unicode-aware `str.lower`).

    Returns:
        The tokens, in order: runs of Unicode letters/digits, with inner apostrophes kept
        ("4:00pm" -> ["4", "00pm"], "don't" -> ["don't"]).
    """
    if lowercase:
        line = line.lower()
    return _TOKEN.findall(line)


def _builtin_path(filename: str) -> str:
    from gensim.test.utils import datapath  # the files ship in the gensim wheel
    return datapath(filename)


def read_sentences(path: str | os.PathLike, lowercase: bool = True,
                   max_sentence_length: int = 1000) -> list[list[str]]:
    """Reads a UTF-8 text file as sentences, one per line, cut to `max_sentence_length`.

    Args:
        path: the file. Blank lines are skipped.
        lowercase: lower-case every token.
        max_sentence_length: longer lines are split into consecutive chunks of this many
            tokens (the last chunk may be shorter).

    Returns:
        A list of sentences, each a non-empty list of tokens.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the file is not valid UTF-8 (message names the file, line and byte
            offset of the first bad byte), or `max_sentence_length` < 1.
    """
    if int(max_sentence_length) < 1:
        raise ValueError(f"max_sentence_length must be >= 1, got {max_sentence_length!r}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"corpus file {path!r} does not exist (or is not a file); "
                                f"built-in corpora are {sorted(BUILTIN)}")
    sentences: list[list[str]] = []
    interned: dict[str, str] = {}  # one str object per distinct word keeps big corpora small
    offset = 0  # byte offset of the current line in the file
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(
                    f"{path}: invalid UTF-8 at line {line_no}, byte offset {offset + e.start} "
                    f"(byte 0x{raw[e.start]:02x}); expected a UTF-8 text file") from None
            offset += len(raw)
            tokens = [interned.setdefault(t, t) for t in tokenize(text, lowercase)]
            for start in range(0, len(tokens), max_sentence_length):
                sentences.append(tokens[start:start + max_sentence_length])
    return sentences


def load_corpus(name_or_path: str | os.PathLike = "lee", lowercase: bool = True,
                max_sentence_length: int = 1000) -> list[list[str]]:
    """Loads a built-in corpus (``"lee"``, ``"wiki500"``, ``"both"``) or a UTF-8 text file.

    Args:
        name_or_path: a built-in name (see the module docstring) or a path to a text file;
            a file literally named "lee" in the working directory is shadowed by the
            built-in name, pass "./lee" to read it.
        lowercase: lower-case every token.
        max_sentence_length: cut longer lines into pseudo-sentences of this many tokens.

    Returns:
        Sentences, each a non-empty list of str tokens.

    Raises:
        ValueError: the corpus holds no tokens, or the file is not valid UTF-8.
        FileNotFoundError: the path does not exist.
    """
    if isinstance(name_or_path, str) and name_or_path in BUILTIN:
        sentences = []
        for filename in BUILTIN[name_or_path]:
            sentences += read_sentences(_builtin_path(filename), lowercase, max_sentence_length)
    else:
        sentences = read_sentences(name_or_path, lowercase, max_sentence_length)
    if not sentences:
        raise ValueError(f"corpus {os.fspath(name_or_path)!r} contains no tokens "
                         "(empty file or only punctuation/whitespace)")
    return sentences


def _check_tokens(sentence) -> None:
    """TypeError for a sentence given as one string (iterating it would give characters)."""
    if isinstance(sentence, str):
        raise TypeError("sentences must be lists of tokens, got a str sentence "
                        f"{sentence[:40]!r}; use tokenize() or load_corpus()")


@dataclass
class Vocabulary:
    """Words sorted by decreasing count; id i is `words[i]`.

    Attributes:
        words: the words, most frequent first; equal counts keep order of first appearance
            in the corpus (a stable sort), so the ids are deterministic.
        counts: int64 array [V], `counts[i]` = occurrences of `words[i]` in the corpus.
        index: dict word -> id.
    """
    words: list[str]
    counts: np.ndarray
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        self.counts = np.asarray(self.counts, dtype=np.int64)
        if self.counts.shape != (len(self.words),):
            raise ValueError(f"counts must have shape [{len(self.words)}] (one per word), "
                             f"got {self.counts.shape}")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("words must be distinct")
        if self.counts.size and np.any(np.diff(self.counts) > 0):
            raise ValueError("counts must be sorted in decreasing order (id 0 = most frequent)")

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 5,
              max_size: int | None = None) -> "Vocabulary":
        """Counts the words and keeps those seen at least `min_count` times.

        Args:
            sentences: iterable of token lists.
            min_count: drop words seen fewer times (word2vec.c/gensim default 5).
            max_size: keep at most this many of the most frequent words (None: no cap).

        Returns:
            The vocabulary, ids by decreasing count (ties: first appearance first).

        Raises:
            ValueError: `min_count` < 1, `max_size` < 1, the corpus is empty, or
                `min_count` removes every word.
        """
        if int(min_count) < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count!r}")
        if max_size is not None and int(max_size) < 1:
            raise ValueError(f"max_size must be None or >= 1, got {max_size!r}")
        counter: Counter = Counter()
        for sentence in sentences:
            _check_tokens(sentence)
            counter.update(sentence)
        if not counter:
            raise ValueError("cannot build a vocabulary from an empty corpus (no tokens)")
        # Counter keeps first-insertion order and sorted() is stable: ties by first appearance.
        kept = [(w, c) for w, c in sorted(counter.items(), key=lambda wc: -wc[1])
                if c >= min_count]
        if not kept:
            raise ValueError(f"min_count={min_count} removes every word: the most frequent word "
                             f"occurs {max(counter.values())} times in {sum(counter.values())} "
                             "tokens; lower min_count")
        if max_size is not None:
            kept = kept[:int(max_size)]
        return cls([w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def total(self) -> int:
        """Number of corpus tokens that are in the vocabulary, sum(counts)."""
        return int(self.counts.sum())

    def encode(self, sentences: Iterable[Sequence[str]]) -> list[np.ndarray]:
        """Maps token lists to int64 id arrays, dropping out-of-vocabulary words.

        Dropping (not mapping to [UNK]) is what word2vec.c does; it keeps unknown and padding
        ids out of both the training pairs and the negative sampler. Sentences left empty are
        dropped too, so every returned array has length >= 1.

        Returns:
            list of int64 arrays [len_s'], ids in [0, len(self)).
        """
        index = self.index
        out = []
        for sentence in sentences:
            _check_tokens(sentence)
            ids = [index[w] for w in sentence if w in index]
            if ids:
                out.append(np.array(ids, dtype=np.int64))
        return out

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Maps ids back to words."""
        return [self.words[int(i)] for i in ids]

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Writes word2vec.c's `-save-vocab` format: one ``word count`` line per word.

        Raises:
            FileExistsError: `path` exists and `overwrite` is False (nothing is written).
        """
        path = os.fspath(path)
        if os.path.exists(path) and not overwrite:
            raise FileExistsError(f"{path!r} exists; pass overwrite=True to replace it")
        with open(path, "w", encoding="utf-8") as f:
            for w, c in zip(self.words, self.counts.tolist()):
                f.write(f"{w} {c}\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocabulary":
        """Reads a ``word count`` file written by `save` (or word2vec.c's -save-vocab).

        word2vec.c's file starts with its sentence marker ``</s>``; it is skipped.

        Raises:
            ValueError: a line is not ``word count`` with an integer count (names the line).
        """
        words, counts = [], []
        with open(path, encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                parts = line.rstrip("\n").split(" ")
                if len(parts) != 2 or not parts[1].isdigit():
                    raise ValueError(f"{os.fspath(path)}:{line_no}: expected 'word count', "
                                     f"got {line.rstrip()!r}")
                if parts[0] == "</s>":
                    continue
                words.append(parts[0])
                counts.append(int(parts[1]))
        return cls(words, np.array(counts, dtype=np.int64))


def keep_probabilities(counts: np.ndarray, sample: float = 1e-3,
                       formula: str = "word2vec") -> np.ndarray:
    """Probability of keeping each occurrence of a word when subsampling frequent words.

    With f = count / sum(counts) the word's corpus frequency and t = `sample`:

    * ``"word2vec"`` (word2vec.c, gensim): keep = min(1, sqrt(t/f) + t/f).
      (The paper, Mikolov et al. 2013b eq. 5, states discard = 1 - sqrt(t/f); the code adds
      t/f, which keeps more: e.g. f = 100 t keeps 0.11 instead of 0.10.)
    * ``"keras"`` (legacy `make_sampling_table`): keep = min(1, sqrt(t/f)) -- the paper's
      formula. Keras additionally *estimates* f from the rank with Zipf's law instead of
      using the counts, and uses t = 1e-5 by default; for that exact table see
      `w2v_tf.word2vec.skipgrams.make_sampling_table`.

    Args:
        counts: [V] word counts (the vocabulary's counts; ids need not be sorted).
        sample: the threshold t > 0; 0 disables subsampling (all ones).
        formula: ``"word2vec"`` or ``"keras"``.

    Returns:
        float64 array [V] in (0, 1].
    """
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D array, got shape {counts.shape}")
    if np.any(counts <= 0):
        raise ValueError("counts must all be positive (a vocabulary's counts)")
    if not sample >= 0:
        raise ValueError(f"sample must be >= 0, got {sample!r}")
    if formula not in ("word2vec", "keras"):
        raise ValueError(f"formula must be 'word2vec' or 'keras', got {formula!r}")
    if sample == 0:
        return np.ones(counts.shape, dtype=np.float64)
    f = counts / counts.sum()                 # unigram frequency f(w)
    ratio = sample / f                        # t / f(w)
    keep = np.sqrt(ratio) + ratio if formula == "word2vec" else np.sqrt(ratio)
    return np.minimum(keep, 1.0)


def subsample(ids: np.ndarray, keep_prob: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Drops each occurrence of word w independently with probability 1 - keep_prob[w].

    Args:
        ids: int array [N] of word ids.
        keep_prob: [V] keep probabilities (`keep_probabilities`).
        rng: numpy Generator (one uniform draw per token).

    Returns:
        The kept ids [N'], order preserved (word2vec.c removes them before windowing, so
        the windows of the survivors reach further).
    """
    ids = np.asarray(ids)
    return ids[keep_mask(ids, keep_prob, rng)]


def keep_mask(ids: np.ndarray, keep_prob: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Boolean [N]: token n is kept when u_n < keep_prob[ids[n]], u_n ~ U[0, 1)."""
    return rng.random(len(ids)) < np.asarray(keep_prob)[ids]
