"""Evaluating word vectors with gensim's own benchmarks, and nearest neighbours.

We do not re-implement the benchmarks: the vectors are loaded into a gensim `KeyedVectors`
and scored by

* `evaluate_word_analogies(questions-words.txt)`: word2vec's compute-accuracy; for each
  question a:b :: c:d the prediction is argmax_w cos(w, b - a + c) over the 300,000 most
  frequent words, inputs excluded (3CosAdd). Questions with an out-of-vocabulary word are
  skipped; we report the share skipped as `oov_ratio`.
* `evaluate_word_pairs(wordsim353.tsv / simlex999.txt)`: Pearson and Spearman correlation of
  cos(u, v) with human similarity scores, over the pairs whose words are in the vocabulary
  (`oov_ratio` in %, as gensim reports it, is the share left out).

The data files ship in the gensim wheel (`gensim.test.utils.datapath`). On a small corpus
most analogy questions are out of vocabulary: read the scores together with the OOV ratio.
"""
from __future__ import annotations

import logging
import math
import os

import numpy as np

from w2v_tf.word2vec.export import FILES

PAIR_BENCHMARKS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
ANALOGIES = "questions-words.txt"


def keyed_vectors(words, vectors):
    """A gensim `KeyedVectors` holding `vectors [V, dim]` under `words` (in memory)."""
    from gensim.models import KeyedVectors

    vectors = np.asarray(vectors, dtype=np.float32)
    kv = KeyedVectors(vectors.shape[1], dtype=np.float32)
    kv.add_vectors(list(words), vectors)
    return kv


def load_vectors(path):
    """Loads word vectors written by `w2v_tf.word2vec.export` (a run directory or a vector file).

    Args:
        path: a directory holding `vectors.bin` (or `vectors.txt`), or a word2vec-format file
            (binary if it ends in ".bin").

    Returns:
        gensim `KeyedVectors`.

    Raises:
        FileNotFoundError: no vector file there.
        ValueError: the file is not in word2vec format (the message names it).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        for kind, binary in (("binary", True), ("text", False)):
            candidate = os.path.join(path, FILES[kind])
            if os.path.isfile(candidate):
                return _load_word2vec_format(candidate, binary)
        raise FileNotFoundError(f"{path!r} holds neither {FILES['binary']} nor {FILES['text']}; "
                                "expected the --out directory of `python -m w2v_tf train`")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path!r} does not exist")
    return _load_word2vec_format(path, path.endswith(".bin"))


def _load_word2vec_format(path: str, binary: bool):
    """gensim's reader, with its parse errors turned into one that names the file."""
    from gensim.models import KeyedVectors

    try:
        return KeyedVectors.load_word2vec_format(path, binary=binary)
    except (ValueError, UnicodeDecodeError, EOFError) as err:
        kind = ("binary word2vec format (a header line 'count dim', then each word and its "
                "float32 bytes)" if binary else "word2vec text format (a header line 'count "
                "dim', then one word and its dim numbers per line); a name ending in .bin is "
                "read as binary")
        raise ValueError(f"{path!r} is not a vector file in {kind} ({type(err).__name__}: "
                         f"{err})") from None


def _finite(x):
    x = float(x)
    return x if math.isfinite(x) else None


def evaluate(kv, restrict_vocab: int = 300_000) -> dict:
    """Analogy accuracy and word-pair correlations of `kv` (gensim's evaluators).

    Returns:
        dict with
        ``analogy``: {"accuracy", "correct", "total" (questions answered), "oov_ratio"
        (share of questions skipped, 0-1), "semantic_accuracy", "syntactic_accuracy"};
        ``wordsim353`` / ``simlex999``: {"pearson", "spearman", "oov_ratio" (0-1)}.
        A correlation is None when fewer than 3 pairs are in the vocabulary.
    """
    from gensim.test.utils import datapath

    quiet = logging.getLogger("gensim.models.keyedvectors")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        results = {"analogy": _analogies(kv, datapath(ANALOGIES), restrict_vocab)}
        for name, filename in PAIR_BENCHMARKS.items():
            results[name] = _pairs(kv, datapath(filename), restrict_vocab)
    finally:
        quiet.setLevel(level)
    return results


def _analogies(kv, path, restrict_vocab):
    score, sections = kv.evaluate_word_analogies(path, restrict_vocab=restrict_vocab)
    with open(path, encoding="utf-8") as f:
        questions = sum(1 for line in f if not line.startswith(":") and line.strip())
    total = sections[-1]
    answered = len(total["correct"]) + len(total["incorrect"])

    def accuracy(parts):
        c = sum(len(s["correct"]) for s in parts)
        n = c + sum(len(s["incorrect"]) for s in parts)
        return c / n if n else None

    # questions-words.txt: the first 5 sections are semantic, the "gram*" ones syntactic
    body = sections[:-1]
    semantic = [s for s in body if not s["section"].startswith("gram")]
    syntactic = [s for s in body if s["section"].startswith("gram")]
    return {"accuracy": float(score), "correct": len(total["correct"]), "total": answered,
            "oov_ratio": 1.0 - answered / questions,
            "semantic_accuracy": accuracy(semantic), "syntactic_accuracy": accuracy(syntactic)}


def _pairs(kv, path, restrict_vocab):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # constant input / too few pairs
        try:
            pearson, spearman, oov = kv.evaluate_word_pairs(path, restrict_vocab=restrict_vocab)
        except (ValueError, ZeroDivisionError):   # no pair in the vocabulary at all
            return {"pearson": None, "spearman": None, "oov_ratio": 1.0}
    return {"pearson": _finite(pearson[0]), "spearman": _finite(spearman[0]),
            "oov_ratio": float(oov) / 100.0}


def nearest_neighbours(kv, word: str, topn: int = 10) -> list[tuple[str, float]]:
    """The `topn` words with the largest cosine similarity to `word` (itself excluded).

    Raises:
        KeyError: `word` is not in the vocabulary (the message suggests close spellings).
        ValueError: `topn` < 1.
    """
    if isinstance(topn, bool) or not isinstance(topn, int) or topn < 1:
        raise ValueError(f"topn must be an int >= 1, got {topn!r}")
    if word not in kv.key_to_index and word.lower() in kv.key_to_index:
        word = word.lower()                  # `train` lower-cases its corpus
    if word not in kv.key_to_index:
        import difflib
        close = difflib.get_close_matches(word, kv.index_to_key[:50_000], n=5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"{word!r} is not in the vocabulary of {len(kv)} words{hint}")
    return [(w, float(s)) for w, s in kv.most_similar(word, topn=topn)]


def format_results(results: dict) -> str:
    """A short human-readable table of `evaluate`'s results."""
    a = results["analogy"]
    lines = [f"analogies (questions-words): accuracy {a['accuracy']:.3f} "
             f"({a['correct']}/{a['total']} answered, {100 * a['oov_ratio']:.1f}% skipped as OOV)"]
    for name in PAIR_BENCHMARKS:
        r = results[name]
        sp = "n/a" if r["spearman"] is None else f"{r['spearman']:.3f}"
        pe = "n/a" if r["pearson"] is None else f"{r['pearson']:.3f}"
        lines.append(f"{name}: Spearman {sp}, Pearson {pe} ({100 * r['oov_ratio']:.1f}% OOV)")
    return "\n".join(lines)
