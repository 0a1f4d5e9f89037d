"""Corpus reading, vocabulary and subsampling, checked against gensim and numpy oracles."""
from collections import Counter

import numpy as np
import pytest

from w2v_tf.word2vec.corpus import (Vocabulary, keep_mask, keep_probabilities, load_corpus,
                           read_sentences, subsample, tokenize)


@pytest.fixture(scope="module")
def lee():
    return load_corpus("lee")


@pytest.mark.parametrize("text, expected", [
    ("Hello, World!", ["hello", "world"]),
    ("At 4:00pm AEDT", ["at", "4", "00pm", "aedt"]),
    ("don't  o'brien's", ["don't", "o'brien's"]),
    ("south-west of Sydney.", ["south", "west", "of", "sydney"]),
    ("encyclopædia Ünïcode_x", ["encyclopædia", "ünïcode", "x"]),
    ("  ,,, ", []),
])
def test_tokenize(text, expected):
    assert tokenize(text) == expected


def test_tokenize_keeps_case_when_asked():
    assert tokenize("New South Wales", lowercase=False) == ["New", "South", "Wales"]


def test_read_sentences_one_per_line_blank_lines_skipped(tmp_path):
    lines = ["the cat sat", "", "on the mat", "   ", "dog"]
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert read_sentences(path) == [line.split() for line in lines if line.strip()]


@pytest.mark.parametrize("n_tokens, max_len", [(2500, 1000), (1000, 1000), (7, 3), (1, 1000)])
def test_text8_style_single_line_is_chunked(tmp_path, n_tokens, max_len):
    rng = np.random.default_rng(n_tokens)
    tokens = [f"w{i}" for i in rng.integers(0, 50, n_tokens)]
    path = tmp_path / "text8"
    path.write_text(" " + " ".join(tokens), encoding="utf-8")  # text8 starts with a space
    sentences = read_sentences(path, max_sentence_length=max_len)
    expected_lengths = [max_len] * (n_tokens // max_len) + ([n_tokens % max_len]
                                                            if n_tokens % max_len else [])
    assert [len(s) for s in sentences] == expected_lengths
    assert sum(sentences, []) == tokens


def test_builtin_corpora_sizes_and_both_is_concatenation(lee):
    wiki = load_corpus("wiki500")
    both = load_corpus("both")
    assert both == lee + wiki
    # Sizes from the gensim docs (~60k and ~330k tokens), within 15%.
    assert 0.85 * 60_000 < sum(map(len, lee)) < 1.15 * 60_000
    assert 0.85 * 330_000 < sum(map(len, wiki)) < 1.15 * 330_000
    assert max(map(len, wiki)) == 1000  # long wiki lines are cut at max_sentence_length


def test_invalid_utf8_names_file_line_and_offset(tmp_path):
    good = "first line ok\n".encode()
    bad = "second é ".encode() + b"\xff\xfe tail\n"
    path = tmp_path / "bad.txt"
    path.write_bytes(good + bad)
    offset = len(good) + len("second é ".encode())
    with pytest.raises(ValueError, match=rf"bad\.txt.*line 2, byte offset {offset}"):
        read_sentences(path)


@pytest.mark.parametrize("content", ["", "\n\n", " ... !!! ---\n"])
def test_empty_corpus_is_a_value_error(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="no tokens"):
        load_corpus(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_corpus(tmp_path / "nope.txt")


@pytest.mark.parametrize("min_count", [1, 5, 20])
def test_vocabulary_matches_gensim(lee, min_count):
    """Oracle: gensim's Word2Vec vocabulary scan (same sentences, same min_count)."""
    from gensim.models import Word2Vec

    vocab = Vocabulary.build(lee, min_count=min_count)
    model = Word2Vec(min_count=min_count, sample=1e-3, workers=1)
    model.build_vocab(lee)
    wv = model.wv
    assert set(vocab.words) == set(wv.index_to_key)
    assert all(c == wv.get_vecattr(w, "count") for w, c in zip(vocab.words, vocab.counts))
    # Subsampling oracle: gensim stores keep probability * 2^32 as `sample_int`.
    gensim_keep = np.array([wv.get_vecattr(w, "sample_int") for w in vocab.words]) / 2.0**32
    np.testing.assert_allclose(keep_probabilities(vocab.counts, 1e-3), gensim_keep,
                               rtol=0, atol=1e-9)


def test_vocabulary_order_counts_and_ties(lee):
    vocab = Vocabulary.build(lee, min_count=3)
    counter = Counter(w for s in lee for w in s)
    assert vocab.counts.dtype == np.int64
    assert vocab.counts.tolist() == [counter[w] for w in vocab.words]
    assert np.all(np.diff(vocab.counts) <= 0)
    assert set(vocab.words) == {w for w, c in counter.items() if c >= 3}
    assert all(vocab.index[w] == i for i, w in enumerate(vocab.words))
    # Ties keep the order of first appearance.
    first_seen = {}
    for w in (w for s in lee for w in s):
        first_seen.setdefault(w, len(first_seen))
    for a, b in zip(vocab.words[:-1], vocab.words[1:]):
        if counter[a] == counter[b]:
            assert first_seen[a] < first_seen[b]


def test_vocabulary_tie_break_small():
    vocab = Vocabulary.build([["b", "a", "c", "a"], ["c", "b", "d"]], min_count=1)
    assert vocab.words == ["b", "a", "c", "d"]
    assert vocab.counts.tolist() == [2, 2, 2, 1]


def test_max_size_keeps_most_frequent(lee):
    full = Vocabulary.build(lee, min_count=1)
    capped = Vocabulary.build(lee, min_count=1, max_size=100)
    assert capped.words == full.words[:100]


def test_encode_drops_oov_and_decodes(lee):
    vocab = Vocabulary.build(lee, min_count=5)
    encoded = vocab.encode(lee)
    assert all(a.dtype == np.int64 and len(a) > 0 for a in encoded)
    assert sum(len(a) for a in encoded) == vocab.total
    kept = [[w for w in s if w in vocab.index] for s in lee]
    assert [vocab.decode(a) for a in encoded] == [s for s in kept if s]
    ids = np.concatenate(encoded)
    assert ids.min() == 0 and ids.max() == len(vocab) - 1  # no padding/unknown id


def test_vocab_save_load_roundtrip_and_no_overwrite(tmp_path, lee):
    vocab = Vocabulary.build(lee, min_count=5)
    path = tmp_path / "vocab.txt"
    vocab.save(path)
    again = Vocabulary.load(path)
    assert again.words == vocab.words
    np.testing.assert_array_equal(again.counts, vocab.counts)
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == f"{vocab.words[0]} {vocab.counts[0]}"
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        Vocabulary.build([["x"]], min_count=1).save(path)
    assert path.read_bytes() == before


def test_vocab_load_word2vec_c_file_and_bad_line(tmp_path):
    path = tmp_path / "w2v.vocab"
    path.write_text("</s> 0\nthe 10\nof 7\n", encoding="utf-8")
    vocab = Vocabulary.load(path)
    assert vocab.words == ["the", "of"] and vocab.counts.tolist() == [10, 7]
    path.write_text("the 10\nof seven\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"w2v.vocab:2"):
        Vocabulary.load(path)


@pytest.mark.parametrize("sentences, kwargs, match", [
    ([], {}, "empty corpus"),
    ([[], []], {}, "empty corpus"),
    ([["a", "b", "a"]], {"min_count": 5}, "min_count=5 removes every word"),
    ([["a"]], {"min_count": 0}, "min_count must be >= 1"),
    ([["a"]], {"min_count": 1, "max_size": 0}, "max_size"),
])
def test_vocabulary_bad_input(sentences, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Vocabulary.build(sentences, **kwargs)


def test_vocabulary_rejects_untokenised_text():
    with pytest.raises(TypeError, match="lists of tokens"):
        Vocabulary.build(["the cat sat"], min_count=1)


@pytest.mark.parametrize("sample", [1e-5, 1e-3, 1e-1])
def test_keep_probability_formulas(sample):
    counts = np.array([5000, 1000, 300, 40, 5, 1], dtype=np.int64)
    f = counts / counts.sum()
    w2v = keep_probabilities(counts, sample)
    keras = keep_probabilities(counts, sample, formula="keras")
    np.testing.assert_allclose(w2v, np.minimum(1, (np.sqrt(f / sample) + 1) * sample / f))
    np.testing.assert_allclose(keras, np.minimum(1, np.sqrt(sample / f)))
    assert np.all(w2v >= keras) and np.all(w2v <= 1) and np.all(keras > 0)
    np.testing.assert_array_equal(keep_probabilities(counts, 0.0), 1.0)


def test_keep_probability_worked_example():
    # f = 100 t: word2vec keeps sqrt(1/100) + 1/100 = 0.11, the paper/Keras sqrt(1/100) = 0.1.
    counts = np.array([100, 9_900])
    assert keep_probabilities(counts, 1e-4)[0] == pytest.approx(0.11, rel=1e-12)
    assert keep_probabilities(counts, 1e-4, formula="keras")[0] == pytest.approx(0.1, rel=1e-12)


@pytest.mark.parametrize("bad, match", [
    ({"counts": np.array([3, 0])}, "positive"),
    ({"counts": np.array([])}, "non-empty"),
    ({"sample": -1.0}, "sample must be >= 0"),
    ({"formula": "paper"}, "formula"),
])
def test_keep_probability_bad_input(bad, match):
    kwargs = {"counts": np.array([3, 2]), "sample": 1e-3, **bad}
    with pytest.raises(ValueError, match=match):
        keep_probabilities(**kwargs)


def test_subsample_keep_rates_match_probabilities():
    """Per-word keep rate over 200k draws vs keep_prob.

    Tolerance: 5 binomial standard deviations per word (two-sided false-alarm rate ~6e-7 per
    word); the seed is fixed, so the test is deterministic anyway.
    """
    rng = np.random.default_rng(1)
    keep_prob = np.array([0.05, 0.3, 0.5, 0.9, 1.0])
    ids = rng.integers(0, len(keep_prob), 200_000)
    mask = keep_mask(ids, keep_prob, np.random.default_rng(2))
    np.testing.assert_array_equal(subsample(ids, keep_prob, np.random.default_rng(2)), ids[mask])
    for w, p in enumerate(keep_prob):
        n = np.sum(ids == w)
        rate = mask[ids == w].mean()
        assert abs(rate - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12, (w, rate, p)


def test_encode_refuses_a_sentence_given_as_one_string():
    """It encoded the string's characters: encode(["abc"]) gave the ids of a, b, c."""
    from w2v_tf.word2vec.corpus import Vocabulary
    vocab = Vocabulary.build([["a", "b", "a", "c"]], min_count=1)
    with pytest.raises(TypeError, match="got a str sentence 'abc'"):
        vocab.encode(["abc"])
