"""`python -m w2v_tf train / evaluate / neighbours`, run in-process through the dispatcher.

Oracles: gensim reads our vector files (`KeyedVectors.load_word2vec_format`) and its own
evaluators recompute what the CLI reports; the vocabulary file is checked against counts
made here with `collections.Counter`.
"""
import collections
import json
import os

import numpy as np
import pytest

from w2v_tf.__main__ import COMMANDS
from w2v_tf.cli import run
from w2v_tf.word2vec.corpus import tokenize


def cli(*argv):
    return run("python -m w2v_tf", "", COMMANDS, [str(a) for a in argv])


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def write_corpus(path, seed=0, n=200):
    """Sentences over two topics of 8 words each, plus a rare word below min_count."""
    rng = np.random.default_rng(seed)
    topics = [[f"sun{i}" for i in range(8)], [f"rain{i}" for i in range(8)]]
    lines = [" ".join(rng.choice(topics[k % 2], size=10)) for k in range(n)]
    lines.append("unicorn appears once")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small training run shared by the tests below (about 10 s)."""
    tmp = tmp_path_factory.mktemp("w2v")
    corpus = write_corpus(tmp / "corpus.txt")
    out = tmp / "run"
    import io
    from contextlib import redirect_stdout
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = cli("train", "--corpus", corpus, "--dim", 16, "--window", 3, "--epochs", 3,
                 "--negatives", 3, "--min-count", 2, "--sample", 0, "--xla", "off", "--out", out, "--json")
    assert rc == 0, buf.getvalue()
    return corpus, out, buf.getvalue()


@pytest.mark.slow  # shares the ~10-60 s training fixture
def test_train_writes_word2vec_files_gensim_can_read(trained):
    from gensim.models import KeyedVectors
    corpus, out, stdout = trained
    result = last_json(stdout)
    text = KeyedVectors.load_word2vec_format(out / "vectors.txt", binary=False)
    binary = KeyedVectors.load_word2vec_format(out / "vectors.bin", binary=True)
    assert text.index_to_key == binary.index_to_key
    assert len(text) == result["vocab_size"] == 16 and text.vector_size == 16
    # text and binary hold the same float32 values (the text is repr-exact)
    np.testing.assert_array_equal(text.vectors, binary.vectors)
    tsv = np.loadtxt(out / "vectors.tsv", delimiter="\t", dtype=np.float32)
    np.testing.assert_allclose(tsv, text.vectors, rtol=1e-5, atol=1e-7)  # %.6g
    meta = (out / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert meta == text.index_to_key


@pytest.mark.slow  # shares the ~10-60 s training fixture
def test_vocab_file_has_the_corpus_counts(trained):
    corpus, out, _ = trained
    counts = collections.Counter(tokenize(corpus.read_text(encoding="utf-8")))
    rows = [line.split(" ") for line in (out / "vocab.txt").read_text().splitlines()]
    assert {w: int(c) for w, c in rows} == {w: c for w, c in counts.items() if c >= 2}
    assert [int(c) for _, c in rows] == sorted((int(c) for _, c in rows), reverse=True)


@pytest.mark.slow  # shares the ~10-60 s training fixture
def test_json_summary_and_checkpoints(trained):
    _, out, stdout = trained
    result = last_json(stdout)
    assert result["epochs"] == 3 and len(result["loss_history"]) == 3
    assert result["words_trained"] == 3 * result["corpus_words"]
    assert result["words_per_second"] > 0
    for name in ("analogy", "wordsim353", "simlex999"):
        assert name in result["evaluation"]
    assert result["evaluation"]["wordsim353"]["oov_ratio"] == 1.0   # synthetic words
    assert json.loads((out / "results.json").read_text()) == result
    assert any(f.startswith("ckpt-3") for f in os.listdir(out / "checkpoints"))


@pytest.mark.slow  # shares the ~10-60 s training fixture
def test_evaluate_cli_agrees_with_gensim(trained, capsys):
    from gensim.test.utils import datapath
    from gensim.models import KeyedVectors
    _, out, _ = trained
    assert cli("evaluate", out, "--json") == 0
    got = last_json(capsys.readouterr().out)
    # Oracle: gensim on a real-text model where some pairs are in the vocabulary.
    kv = KeyedVectors.load_word2vec_format(out / "vectors.bin", binary=True)
    assert got["vocab_size"] == len(kv)
    assert got["analogy"]["total"] == 0 and got["analogy"]["oov_ratio"] == 1.0
    assert got["wordsim353"]["spearman"] is None


def test_evaluate_reports_gensims_numbers_on_real_words(tmp_path, capsys):
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath
    from w2v_tf.word2vec import export, wordvectors
    rng = np.random.default_rng(0)
    words = ["tiger", "cat", "dog", "car", "money", "bank", "king", "queen", "man", "woman"]
    vectors = rng.normal(size=(len(words), 8)).astype(np.float32)
    export.save_word2vec_format(tmp_path / "v.txt", words, vectors)
    assert cli("evaluate", tmp_path / "v.txt", "--json") == 0
    got = last_json(capsys.readouterr().out)
    kv = KeyedVectors.load_word2vec_format(tmp_path / "v.txt")
    _, spearman, oov = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    assert got["wordsim353"]["spearman"] == pytest.approx(spearman[0])
    assert got["wordsim353"]["oov_ratio"] == pytest.approx(oov / 100)
    score, _ = kv.evaluate_word_analogies(datapath("questions-words.txt"))
    assert got["analogy"]["accuracy"] == pytest.approx(score)
    assert got["analogy"]["total"] > 0


@pytest.mark.slow  # shares the ~10-60 s training fixture
def test_neighbours_cli_is_cosine_top_n(trained, capsys):
    from gensim.models import KeyedVectors
    _, out, _ = trained
    assert cli("neighbours", out, "sun3", "--topn", 4, "--json") == 0
    got = last_json(capsys.readouterr().out)["neighbours"]
    kv = KeyedVectors.load_word2vec_format(out / "vectors.txt")
    v = kv.vectors / np.linalg.norm(kv.vectors, axis=1, keepdims=True)
    cos = v @ v[kv.key_to_index["sun3"]]
    order = [i for i in np.argsort(-cos) if kv.index_to_key[i] != "sun3"][:4]
    assert [w for w, _ in got] == [kv.index_to_key[i] for i in order]
    np.testing.assert_allclose([s for _, s in got], cos[order], rtol=1e-5)
    # the topics are learned: sun words are closest to sun words
    assert all(w.startswith("sun") for w, _ in got[:3])


@pytest.mark.slow  # shares the ~10-60 s training fixture
def test_neighbours_unknown_word_is_a_clear_error(trained, capsys):
    _, out, _ = trained
    assert cli("neighbours", out, "sun33") == 2
    assert "'sun33' is not in the vocabulary" in capsys.readouterr().err
    assert cli("neighbours", out, "Sun3", "--json") == 0         # the corpus was lower-cased
    assert last_json(capsys.readouterr().out)["neighbours"]
    assert cli("neighbours", out, "sun3", "--topn", 0) == 2
    assert "--topn must be >= 1" in capsys.readouterr().err


def test_a_file_that_is_not_word_vectors_is_named(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("Hundreds of words, not vectors\n")
    assert cli("neighbours", text, "words") == 2
    err = capsys.readouterr().err
    assert "notes.txt' is not a vector file in word2vec text format" in err


def test_parity_size_options_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        cli("parity", "--quick", "--full")
    assert "not allowed with argument --quick" in capsys.readouterr().err


@pytest.mark.slow
def test_force_drops_an_older_runs_checkpoints(tmp_path, capsys):
    corpus, out = write_corpus(tmp_path / "c.txt", n=40), tmp_path / "run"
    common = ["train", "--corpus", corpus, "--dim", 8, "--min-count", 1, "--no-eval",
              "--xla", "off", "--out", out]
    assert cli(*common, "--epochs", 3) == 0
    assert sorted(p.name for p in (out / "checkpoints").glob("ckpt-*.index")) == [
        "ckpt-2.index", "ckpt-3.index"]
    (out / "checkpoints" / "my_model.ckpt").write_text("the user's own")
    assert cli(*common, "--epochs", 1, "--force") == 0
    assert sorted(p.name for p in (out / "checkpoints").glob("ckpt-*.index")) == ["ckpt-1.index"]
    assert (out / "checkpoints" / "my_model.ckpt").read_text() == "the user's own"


def test_force_refuses_to_overwrite_the_corpus(tmp_path, capsys):
    """--force once replaced a corpus called vectors.txt inside --out with the vectors."""
    out = tmp_path / "run"
    out.mkdir()
    corpus = write_corpus(out / "vectors.txt", n=20)
    before = open(corpus).read()
    assert cli("train", "--corpus", corpus, "--out", out, "--force", "--min-count", 1) == 2
    err = capsys.readouterr().err
    assert "--corpus" in err and "would be overwritten" in err
    assert open(corpus).read() == before


# ------------------------------------------------------------------------------ bad input
def test_refuses_non_empty_out_without_force(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    corpus = write_corpus(tmp_path / "c.txt", n=20)
    assert cli("train", "--corpus", corpus, "--out", out, "--min-count", 1) == 2
    err = capsys.readouterr().err
    assert "is not empty" in err and "--force" in err
    assert os.listdir(out) == ["mine.txt"]


def _bad_corpus(tmp_path, kind):
    p = tmp_path / f"{kind}.txt"
    if kind == "empty":
        p.write_text("  \n...\n", encoding="utf-8")
    elif kind == "utf8":
        p.write_bytes(b"good words here\nbad \xff\xfe bytes\n")
    elif kind == "onewordlines":                     # a vocabulary, but no (centre, context)
        p.write_text("".join(f"word{i % 3}\n" for i in range(60)), encoding="utf-8")
    else:  # every word once, min_count 5 removes all
        p.write_text("alpha beta gamma delta\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("kind,extra,message", [
    ("empty", [], "contains no tokens"),
    ("utf8", [], "invalid UTF-8 at line 2"),
    ("rare", [], "min_count=5 removes every word"),
    ("topics", ["--window", 0], "--window must be >= 1, got 0"),
    ("topics", ["--dim", 0], "--dim must be >= 1, got 0"),
    ("topics", ["--negatives", 50, "--min-count", 1], "negatives=50 must be smaller than the "
                                                     "vocabulary size 19"),
    ("topics", ["--negatives", 0], "--negatives must be >= 1, got 0"),
    ("topics", ["--sample", "nan"], "--sample must be >= 0, got nan"),
    ("onewordlines", [], "no line has two words of the vocabulary"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, capsys, kind, extra, message):
    corpus = (write_corpus(tmp_path / "t.txt", n=20) if kind == "topics"
              else _bad_corpus(tmp_path, kind))
    out = tmp_path / "run"
    assert cli("train", "--corpus", corpus, "--out", out, *extra) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_help_lists_every_command_without_importing_tensorflow():
    """`python -m w2v_tf --help` builds every command's parser (the train command's loss
    choices included) and stays fast: TensorFlow is not imported for it."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import sys\nfrom w2v_tf.__main__ import COMMANDS, DESCRIPTION\n"
            "from w2v_tf.cli import run\n"
            "try:\n    run('python -m w2v_tf', DESCRIPTION, COMMANDS, ['--help'])\n"
            "except SystemExit:\n    pass\n"
            "print('tensorflow' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": root}).stdout
    assert out.strip().splitlines()[-1] == "False"
    for name in COMMANDS:
        assert f"    {name}" in out


def test_commands_drop_tensorflows_import_chatter_only():
    from w2v_tf.cli import _IMPORT_CHATTER
    chatter = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796396264.431126   31961 cudart_stub.cc:31] Could not find cuda drivers "
        "on your machine, GPU will not be used.",
        "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
        "TensorFlow with the appropriate compiler flags."]
    assert all(_IMPORT_CHATTER.match(line) for line in chatter)
    kept = ["E0000 00:00:1796396264.431126   31961 cuda_dnn.cc:8] Unable to load cuDNN",
            "W0000 00:00:1796395925.017595   27634 assert_op.cc:39] Ignoring Assert operator",
            "Traceback (most recent call last):"]
    assert not any(_IMPORT_CHATTER.match(line) for line in kept)
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    # A command that imports TensorFlow, then stops at a refused flag.
    quiet = subprocess.run([sys.executable, "-c", "import sys, recall_models.__main__ as m\n"
                            "from w2v_tf.cli import run\n"
                            "code = run('recall', m.DESCRIPTION, m.COMMANDS, sys.argv[1:])\n"
                            "assert 'tensorflow' in sys.modules\nsys.exit(code)",
                            "train", "--epochs", "0", "--out", "never-made"],
                           capture_output=True, text=True, env={**env, "PYTHONPATH": root},
                           cwd=root, timeout=300)
    assert quiet.returncode == 1, quiet.stderr
    assert "epochs=0, expected a positive integer" in quiet.stderr
    assert "I0000" not in quiet.stderr and "absl::InitializeLog" not in quiet.stderr
    assert not os.path.exists(os.path.join(root, "never-made"))


@pytest.mark.parametrize("package", ["w2v_tf", "recall_models"])
def test_every_commands_help_answers_without_tensorflow(package):
    """`python -m PACKAGE COMMAND --help` builds only that command's parser and imports no
    TensorFlow (it took 9-10 s when it did)."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = (f"import sys\nfrom {package}.__main__ import COMMANDS, DESCRIPTION\n"
            "from w2v_tf.cli import run\n"
            "for name in COMMANDS:\n"
            "    try:\n        run('cli', DESCRIPTION, COMMANDS, [name, '--help'])\n"
            "    except SystemExit as e:\n        assert e.code == 0, (name, e.code)\n"
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": root}, cwd=root, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("usage: cli ") >= 5
    assert out.stdout.strip().splitlines()[-1] == "[]"
