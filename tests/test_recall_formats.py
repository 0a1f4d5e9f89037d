"""`train --format/--encoding` on every MovieLens layout users bring (files the tests write):
ML-1M (.dat, latin-1) and ML-20M / ML-25M / ml-latest (ratings.csv, no user file)."""
import argparse
import json

import pandas as pd
import pytest

from recall_models import train_cli
from recall_models.data.dataset import load_dataset
from recall_models.data.movielens import DataFormatError
from recall_testdata import run_cli as run_testdata_cli, write_ml100k, write_ml1m, write_ml_latest


def run_cli(argv, capsys):
    return run_testdata_cli(train_cli, argv, capsys)


def test_help_names_the_formats(capsys):
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    text = parser.format_help() + train_cli.__doc__
    for name in ("ml-1m", "ML-20M", "ML-25M", "ml-latest", "ratings.csv", "--encoding"):
        assert name in text


@pytest.mark.slow
@pytest.mark.parametrize("writer,fmt,encoding", [(write_ml1m, "ml-1m", "latin-1"),
                                                 (write_ml_latest, "ml-latest", "utf-8")])
def test_train_on_each_format(tmp_path, capsys, writer, fmt, encoding):
    data = tmp_path / "data"
    data.mkdir()
    writer(data)
    ratings = data / ("ratings.dat" if fmt == "ml-1m" else "ratings.csv")
    extra = "".join(f"{u}{sep}{i}{sep}4{sep}{t}\n" for u, i, t in [(61, 1, 5), (61, 2, 6)]
                    for sep in ["::" if fmt == "ml-1m" else ","])
    ratings.write_bytes(ratings.read_bytes() + extra.encode(encoding))   # user 61: 2 ratings
    argv = ["--dataset", str(data), "--format", fmt, "--encoding", encoding,
            "--out", str(tmp_path / "run"), "--epochs", "1", "--sampler", "uniform",
            "--num-sampled", "10", "--batch-size", "32", "--embedding-dim", "8",
            "--output-dim", "8", "--no-xla", "--json"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    last = json.loads(out.strip().splitlines()[-1])
    assert last["config"]["format"] == fmt and last["test"]["num_users"] == 60
    assert "note: dropped 1 user with fewer than 3 ratings (2 ratings; 0 items only" in out
    ds = load_dataset(str(data), format=fmt, encoding=encoding)
    if fmt == "ml-latest":       # no user file: every profile feature is "unknown" (code 0)
        assert all(ds.user_vocab[n] == ("<unk>",) for n in ("gender", "occupation", "zip"))
        assert all((codes == 0).all() for codes in ds.user_features.values())
    else:
        assert ds.item_title[1].startswith("Café")


def test_bad_format_and_encoding_fail_before_training(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    write_ml1m(data)
    base = ["--dataset", str(data), "--out", str(tmp_path / "run")]
    code, _, err = run_cli(base + ["--encoding", "no-such-codec"], capsys)
    assert code == 1 and "encoding='no-such-codec'" in err
    code, _, err = run_cli(base + ["--format", "ml-latest"], capsys)
    assert code == 1 and "ratings.csv" in err
    assert not (tmp_path / "run" / "checkpoint.npz").exists()
    with pytest.raises(SystemExit):
        run_cli(base + ["--format", "csv"], capsys)


@pytest.mark.parametrize("writer,reader,name,sep,header", [
    (write_ml100k, "read_ml100k", "u.data", "\t", None),
    (write_ml1m, "read_ml1m", "ratings.dat", "::", None),
    (write_ml_latest, "read_ml_latest", "ratings.csv", ",",
     ("userId", "movieId", "rating", "timestamp"))])
def test_vectorised_ratings_reader_equals_the_line_reader(tmp_path, writer, reader, name,
                                                          sep, header):
    from recall_models.data import movielens as M
    writer(tmp_path)
    fast = M.fast_ratings(tmp_path / name, "utf-8" if header else "latin-1", sep, header)
    assert fast is not None                                  # clean files take the fast path
    lines, nums = M.read_lines(tmp_path / name, "latin-1")
    if header:
        lines, nums = lines[1:], nums[1:]
    slow = M._ratings_frame(M._columns(M.split_fields(lines, nums, sep, 4, name), 4), nums, name)
    pd.testing.assert_frame_equal(fast, slow)
    assert getattr(M, reader)(tmp_path).ratings.equals(fast)
    # A bad line falls back to the line reader, which names it.
    text = (tmp_path / name).read_text(encoding="latin-1").splitlines()
    text[3] = text[3].replace("4", "x", 1) if header else text[3] + sep + "9"
    (tmp_path / name).write_text("\n".join(text) + "\n", encoding="latin-1")
    assert M.fast_ratings(tmp_path / name, "latin-1", sep, header) is None
    with pytest.raises(M.DataFormatError, match="line 4"):
        getattr(M, reader)(tmp_path)


@pytest.mark.parametrize("writer, ratings", [(write_ml1m, "ratings.dat"), (write_ml100k, "u.data")])
def test_an_empty_ratings_file_says_so(tmp_path, writer, ratings):
    writer(tmp_path)
    (tmp_path / ratings).write_text("")
    with pytest.raises(ValueError, match="holds no ratings"):
        load_dataset(str(tmp_path))


def test_a_format_given_by_hand_that_does_not_match_the_folder(tmp_path):
    write_ml1m(tmp_path)
    with pytest.raises(ValueError, match=r"format='ml-latest' expects ratings.csv .*looks like "
                                         r"'ml-1m'"):
        load_dataset(str(tmp_path), format="ml-latest")


def write_ratings(d, fmt, rows):
    """A ratings file of (user, item) rows (rating 3, timestamp 4) in format `fmt`."""
    if fmt == "ml-1m":
        (d / "ratings.dat").write_text("".join(f"{u}::{i}::3::4\n" for u, i in rows))
    elif fmt == "ml-latest":
        (d / "ratings.csv").write_text("userId,movieId,rating,timestamp\n"
                                       + "".join(f"{u},{i},3,4\n" for u, i in rows))
    else:
        (d / "x.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\n"
                                   + "".join(f"{u}\t{i}\t4\n" for u, i in rows))
    return d


BIG = 2 ** 53 + 1                   # float64 rounds it to 2^53: ids BIG and BIG - 1 merged


@pytest.mark.parametrize("fmt", ["ml-1m", "ml-latest", "recbole"])
@pytest.mark.parametrize("text,want", [
    (str(BIG), BIG), (f"{BIG}.0", BIG), ("7.0", 7), (" 7", 7), (str(2 ** 63 - 1), 2 ** 63 - 1),
    (str(-2 ** 63), -2 ** 63), ("1e3", "expected an integer"), ("7.5", "expected an integer"),
    (str(2 ** 63), "int64's range"), (str(-2 ** 63 - 1), "int64's range"),
    ("99999999999999999999", "int64's range")])
def test_ids_are_parsed_exactly_or_refused_with_their_line(tmp_path, fmt, text, want):
    """Oracle: Python's int. Ids beyond 2^53 went through float64 (BIG read as BIG - 1),
    beyond 2^63 they wrapped, "1e3" was 1000; now exact, or an error naming the line."""
    from recall_models.data.movielens import read_movielens
    write_ratings(tmp_path, fmt, [(1, 5), (1, 6), (1, text), (2, 5), (2, BIG - 1)])
    if isinstance(want, str):
        line = 3 if fmt == "ml-1m" else 4
        with pytest.raises(DataFormatError, match=f"line {line}: item id is .*{want}"):
            read_movielens(tmp_path)
    else:
        items = read_movielens(tmp_path).ratings["item_id"].tolist()
        assert items == [5, 6, want, 5, BIG - 1]


@pytest.mark.parametrize("encoding", ["zip", "hex", "base64", "rot13", "no-such-codec"])
def test_an_encoding_that_is_not_a_text_encoding_is_named(tmp_path, capsys, encoding):
    """'zip' and the like are codecs (codecs.lookup knows them) but not text encodings:
    pandas raised a LookupError traceback."""
    write_ml1m(tmp_path)
    with pytest.raises(ValueError, match=f"encoding='{encoding}' .--encoding. is not a text"):
        load_dataset(str(tmp_path), encoding=encoding)
    from recall_models import data_cli
    code, _, err = run_testdata_cli(data_cli, [str(tmp_path), "--encoding", encoding], capsys)
    assert code == 1 and f"encoding='{encoding}' (--encoding) is not a text encoding" in err


BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("writer,name", [
    (write_ml1m, "ratings.dat"), (write_ml1m, "users.dat"), (write_ml1m, "movies.dat"),
    (write_ml100k, "u.data"), (write_ml_latest, "ratings.csv"),
    (write_ml_latest, "movies.csv")])
def test_a_byte_order_mark_is_ignored(tmp_path, writer, name):
    """A leading UTF-8 BOM failed the header check (movies.csv), or became part of the first
    id ('ï»¿1', latin-1): the files now read as without it."""
    from recall_models.data.movielens import read_movielens
    writer(tmp_path)
    want = read_movielens(tmp_path)
    path = tmp_path / name
    path.write_bytes(BOM + path.read_bytes())
    got = read_movielens(tmp_path)
    for table in ("ratings", "users", "items"):
        pd.testing.assert_frame_equal(getattr(got, table), getattr(want, table))


def test_a_byte_order_mark_in_recbole_and_a_bad_line_after_it(tmp_path):
    from recall_models.data.movielens import read_movielens
    write_ratings(tmp_path, "recbole", [(1, 5), (1, 6), (1, 7)])
    path = tmp_path / "x.inter"
    path.write_bytes(BOM + path.read_bytes())
    assert read_movielens(tmp_path).ratings["item_id"].tolist() == [5, 6, 7]
    # ratings.csv with a BOM and a bad value on line 6 blamed the header on line 1.
    write_ml_latest(tmp_path)
    path = tmp_path / "ratings.csv"
    lines = path.read_text().splitlines()
    lines[5] = lines[5].replace(",4.0,", ",four,")
    path.write_bytes(BOM + "\n".join(lines).encode() + b"\n")
    with pytest.raises(DataFormatError, match="ratings.csv, line 6: rating is 'four'"):
        read_movielens(tmp_path, format="ml-latest")


def test_a_quoted_newline_in_a_title_is_read_and_a_bad_quote_named(tmp_path):
    """csv allows a newline inside quotes: movies.csv said 'unbalanced quotes' (no line)."""
    from recall_models.data.movielens import read_movielens
    write_ml_latest(tmp_path)
    path = tmp_path / "movies.csv"
    lines = path.read_text().splitlines()
    lines[2] = '2,"Movie, 2\nPart two (1995)",Drama'                  # line 3, two lines
    path.write_text("\n".join(lines) + "\n")
    items = read_movielens(tmp_path).items.set_index("item_id")
    assert items.loc[2, "title"] == "Movie, 2\nPart two" and items.loc[2, "year"] == 1995
    assert items.loc[4, "title"] == "Movie, 4" and len(items) == 40
    # Item i is list entry i, on file line i + 2 (the header, then the title's newline).
    for item, text, message in ((5, '5,"Movie, 5 (1995)",Drama,extra', "expected 3 comma"),
                                (5, '5,"Movie, 5 (1995)"x,Drama', "bad quoting"),
                                (40, '40,"Movie, 40 (1995),Drama', "a quoted field is never")):
        bad = lines.copy()
        bad[item] = text
        path.write_text("\n".join(bad) + "\n")
        with pytest.raises(DataFormatError, match=f"movies.csv, line {item + 2}: {message}"):
            read_movielens(tmp_path)


def test_two_recbole_files_are_picked_by_inter(tmp_path, capsys):
    """A folder with two NAME.inter files: the error names --inter, which picks one."""
    from recall_models import data_cli
    from recall_models.data.movielens import read_movielens, read_recbole
    write_ratings(tmp_path, "recbole", [(1, 5), (1, 6), (1, 7), (1, 8)])
    (tmp_path / "y.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\n"
                                      + "".join(f"{u}\t{i}\t4\n" for u in (1, 2)
                                                for i in (5, 6, 7, 8, 9)))
    code, _, err = run_testdata_cli(data_cli, [str(tmp_path)], capsys)
    assert code == 1 and "2 .inter files (x.inter, y.inter)" in err
    assert "--inter NAME" in err
    assert len(read_recbole(tmp_path, name="x").ratings) == 4
    code, out, err = run_testdata_cli(data_cli, [str(tmp_path), "--inter", "y", "--json"],
                                      capsys)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["ratings"] == 10     # y's, not x's
    assert len(read_movielens(tmp_path, inter="x").ratings) == 4
    with pytest.raises(ValueError, match=r"inter='z' \(--inter\): .* no z.inter; it has: x, y"):
        read_movielens(tmp_path, inter="z")
    (tmp_path / "ml1m").mkdir()
    ml1m = write_ratings(tmp_path / "ml1m", "ml-1m", [(1, 5)])
    with pytest.raises(ValueError, match=r"inter='x' \(--inter\) names a RecBole .*'ml-1m'"):
        read_movielens(ml1m, inter="x")


@pytest.mark.parametrize("inter", ["", "x.inter", "sub/x", 7])
def test_train_config_refuses_an_inter_that_is_not_a_name(inter):
    from recall_models.config import TrainConfig
    from recall_models.train import check_config
    with pytest.raises(ValueError, match="inter=.*expected the NAME of a NAME.inter"):
        check_config(TrainConfig(inter=inter))
