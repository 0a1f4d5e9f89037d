"""Word-vector files: word2vec.c's text and binary formats, and the Embedding Projector's TSVs.

word2vec.c (`-output`, `-binary 0/1`) writes a header line ``"<words> <dim>\\n"`` and then one
line per word: the word, a space, and the `dim` components, either as text separated by spaces
(``-binary 0``) or as raw little-endian float32 bytes (``-binary 1``) followed by ``"\\n"``.
gensim's `KeyedVectors.load_word2vec_format(path, binary=...)` reads both.

The Embedding Projector (projector.tensorflow.org, "Load") takes `vectors.tsv` (one row of
tab-separated components per word) and `metadata.tsv` (one word per line, same order; with a
single column there is no header row).

Every writer refuses to replace an existing file unless `overwrite=True`.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

FILES = {"text": "vectors.txt", "binary": "vectors.bin", "projector": "vectors.tsv",
         "metadata": "metadata.tsv", "vocab": "vocab.txt"}


def _check(words: Sequence[str], vectors) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array [words, dim], got shape {vectors.shape}")
    if len(words) != vectors.shape[0]:
        raise ValueError(f"got {len(words)} words but {vectors.shape[0]} vectors; expected one "
                         "vector per word")
    for w in words:
        if not isinstance(w, str) or not w or any(ch.isspace() for ch in w):
            raise ValueError(f"word {w!r} cannot be written: words must be non-empty strings "
                             "without whitespace (the formats separate fields by spaces/tabs)")
    if not np.all(np.isfinite(vectors)):
        raise ValueError("vectors contain NaN or inf; training diverged (lower the learning "
                         "rate or the batch size)")
    return vectors


def _refuse_existing(path: str, overwrite: bool) -> None:
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path!r} exists; pass overwrite=True to replace it")


def save_word2vec_format(path, words: Sequence[str], vectors, binary: bool = False,
                         overwrite: bool = False) -> None:
    """Writes word2vec.c's vector file.

    Args:
        path: the output file.
        words: the V words, in row order.
        vectors: `[V, dim]` float array.
        binary: raw float32 components (word2vec's `-binary 1`) instead of text.
        overwrite: replace an existing file.

    Raises:
        ValueError: shapes disagree, a word is empty or holds whitespace, or a value is NaN/inf.
        FileExistsError: `path` exists and `overwrite` is False (nothing is written).
    """
    vectors = _check(words, vectors)
    path = os.fspath(path)
    _refuse_existing(path, overwrite)
    little = vectors.astype("<f4", copy=False)
    with open(path, "wb") as f:
        f.write(f"{len(words)} {vectors.shape[1]}\n".encode("utf-8"))
        for word, row in zip(words, little):
            if binary:
                f.write(word.encode("utf-8") + b" " + row.tobytes() + b"\n")
            else:
                # repr-exact float32 -> shortest decimal that reads back to the same float32
                values = " ".join(np.format_float_positional(x, unique=True, trim="-")
                                  for x in row)
                f.write(f"{word} {values}\n".encode("utf-8"))


def save_projector_tsv(vectors_path, metadata_path, words: Sequence[str], vectors,
                       overwrite: bool = False) -> None:
    """Writes the Embedding Projector's `vectors.tsv` and `metadata.tsv`.

    Raises:
        ValueError, FileExistsError: as `save_word2vec_format` (neither file is written).
    """
    vectors = _check(words, vectors)
    vectors_path, metadata_path = os.fspath(vectors_path), os.fspath(metadata_path)
    _refuse_existing(vectors_path, overwrite)
    _refuse_existing(metadata_path, overwrite)
    np.savetxt(vectors_path, vectors, delimiter="\t", fmt="%.6g", encoding="utf-8")
    with open(metadata_path, "w", encoding="utf-8") as f:
        f.writelines(w + "\n" for w in words)


def export_all(out_dir, vocab, vectors, overwrite: bool = False) -> dict:
    """Writes every file of `FILES` into `out_dir` (created if missing).

    Args:
        out_dir: the directory.
        vocab: the `w2v_tf.word2vec.corpus.Vocabulary` (words and counts; `vocab.txt` is word2vec.c's
            ``-save-vocab`` format, ``word count`` per line).
        vectors: `[len(vocab), dim]` float array, row i = `vocab.words[i]`.
        overwrite: replace existing files.

    Returns:
        dict kind -> path written (keys of `FILES`).
    """
    vectors = _check(vocab.words, vectors)
    out_dir = os.fspath(out_dir)
    paths = {k: os.path.join(out_dir, name) for k, name in FILES.items()}
    for p in paths.values():
        _refuse_existing(p, overwrite)
    os.makedirs(out_dir, exist_ok=True)
    save_word2vec_format(paths["text"], vocab.words, vectors, binary=False, overwrite=overwrite)
    save_word2vec_format(paths["binary"], vocab.words, vectors, binary=True, overwrite=overwrite)
    save_projector_tsv(paths["projector"], paths["metadata"], vocab.words, vectors,
                       overwrite=overwrite)
    vocab.save(paths["vocab"], overwrite=overwrite)
    return paths
