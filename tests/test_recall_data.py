"""MovieLens parsers, the ML-100K fetch and the leave-last-out split, against plain-Python oracles."""
import collections
import json
import re
import zipfile

import numpy as np
import pytest

from recall_models.data import dataset as data_mod
from recall_models.data import fetch
from recall_models.data.dataset import ItemSets, age_bucket, encode, load_dataset
from recall_models.data.movielens import DataFormatError, read_movielens, split_title_year


@pytest.fixture(scope="module")
def ml100k():
    return load_dataset("ml-100k")


@pytest.fixture(scope="module")
def ml100k_raw():
    return read_movielens(fetch.ensure_ml100k())


def oracle_sequences(ratings):
    """{raw user: [raw items]} sorted by (timestamp, file row), with Python's stable sort."""
    per_user = collections.defaultdict(list)
    for row, (u, i, t) in enumerate(zip(ratings["user_id"], ratings["item_id"],
                                        ratings["timestamp"])):
        per_user[int(u)].append((int(t), row, int(i)))
    return {u: [i for _, _, i in sorted(v)] for u, v in per_user.items()}


# --------------------------------------------------------------------------- ML-100K

def test_ml100k_counts(ml100k, ml100k_raw):
    assert len(ml100k_raw.ratings) == 100_000
    assert ml100k.num_ratings == 100_000
    assert ml100k.num_users == 943
    assert ml100k.num_items == 1_682 + 1          # + padding id 0
    assert len(ml100k_raw.users) == 943 and len(ml100k_raw.items) == 1_682
    assert len(ml100k.test) == len(ml100k.valid) == 943
    # Each user contributes n - 3 training samples (labels s_2..s_{n-2}).
    assert len(ml100k.train) == 100_000 - 3 * 943


def test_ml100k_has_no_repeated_ratings(ml100k, ml100k_raw):
    """The filtered metrics keep a target the user rated before; ML-100K has no such
    repeat, so its committed figures do not depend on that rule."""
    assert not ml100k_raw.ratings.duplicated(["user_id", "item_id"]).any()
    assert data_mod.summary(ml100k)["repeated_ratings"] == 0


def test_repeated_ratings_are_counted(tmp_path):
    write(tmp_path / "ratings.dat", "1::10::5::1\n1::11::5::2\n1::10::5::3\n1::10::5::4\n"
          "2::10::5::1\n2::11::5::2\n2::12::5::3\n")
    ds = encode(read_movielens(tmp_path))
    assert data_mod.summary(ds)["repeated_ratings"] == 2        # user 1 re-rates 10 twice
    assert ItemSets.from_lists([[3, 1, 3, 3], [], [2, 1]]).repeats() == 2


def test_ml100k_split_matches_python_oracle(ml100k, ml100k_raw):
    seqs = oracle_sequences(ml100k_raw.ratings)
    raw = ml100k.item_raw_id
    for u in range(ml100k.num_users):
        seq = seqs[int(ml100k.user_raw_id[u])]
        assert ml100k.test.user[u] == u and ml100k.valid.user[u] == u
        assert raw[ml100k.test.label[u]] == seq[-1]            # latest by the stable order
        assert raw[ml100k.valid.label[u]] == seq[-2]
        np.testing.assert_array_equal(np.sort(raw[ml100k.test_seen[u]]), np.sort(seq[:-1]))
        np.testing.assert_array_equal(np.sort(raw[ml100k.valid_seen[u]]), np.sort(seq[:-2]))
        test_hist = raw[ml100k.test.history[u, :ml100k.test.length[u]]]
        np.testing.assert_array_equal(test_hist, seq[:-1][-50:])


def test_ml100k_training_samples_match_python_oracle(ml100k, ml100k_raw):
    """Every prefix, history capped at 50, in time order, padded with 0 on the right."""
    seqs = oracle_sequences(ml100k_raw.ratings)
    train = ml100k.train
    raw = ml100k.item_raw_id
    expected_hist = np.zeros_like(train.history)
    expected_label = np.zeros_like(train.label)
    r = 0
    for u in range(ml100k.num_users):
        seq = seqs[int(ml100k.user_raw_id[u])][:-2]
        for t in range(1, len(seq)):
            hist = seq[max(0, t - 50):t]
            expected_hist[r, :len(hist)] = hist
            expected_label[r] = seq[t]
            assert train.user[r] == u and train.length[r] == len(hist)
            r += 1
    assert r == len(train)
    np.testing.assert_array_equal(np.where(train.history > 0, raw[train.history], 0),
                                  expected_hist)
    np.testing.assert_array_equal(raw[train.label], expected_label)
    np.testing.assert_array_equal(train.mask, train.history > 0)


def test_ml100k_no_leak_of_valid_or_test_items(ml100k):
    train = ml100k.train
    val = ml100k.valid.label[train.user][:, None]
    test = ml100k.test.label[train.user][:, None]
    assert not (train.history == val).any() and not (train.history == test).any()
    assert not (train.label[:, None] == val).any() and not (train.label[:, None] == test).any()
    assert not (ml100k.valid.history == ml100k.test.label[:, None]).any()


def test_ml100k_histories_in_time_order(ml100k, ml100k_raw):
    r = ml100k_raw.ratings
    stamp = dict(zip(zip(r["user_id"], r["item_id"]), r["timestamp"]))
    rng = np.random.default_rng(0)
    history = ml100k.train.history                 # built on every access: once here
    for n in rng.choice(len(ml100k.train), 2000, replace=False):
        u = ml100k.user_raw_id[ml100k.train.user[n]]
        items = ml100k.item_raw_id[history[n, :ml100k.train.length[n]]]
        times = [stamp[(u, i)] for i in items] + [stamp[(u, ml100k.item_raw_id[
            ml100k.train.label[n]])]]
        assert np.all(np.diff(times) >= 0)


def test_ml100k_item_ids_sorted_by_training_frequency(ml100k):
    train_items = ml100k.valid_seen.indices                    # s_1..s_{n-2} of every user
    counts = np.bincount(train_items, minlength=ml100k.num_items)
    np.testing.assert_array_equal(ml100k.item_freq, counts)
    assert ml100k.item_freq[0] == 0 and ml100k.item_raw_id[0] == -1
    assert np.all(np.diff(ml100k.item_freq[1:]) <= 0)
    assert ml100k.item_freq[1] == 575 and ml100k.item_title[1] == "Star Wars"


def test_ml100k_features(ml100k, ml100k_raw):
    users = ml100k_raw.users.set_index("user_id")
    for name, vocab in ml100k.user_vocab.items():
        assert ml100k.user_features[name].max() < len(vocab)
    gender = np.array(ml100k.user_vocab["gender"])[ml100k.user_features["gender"]]
    np.testing.assert_array_equal(gender, users.loc[ml100k.user_raw_id, "gender"].to_numpy())
    occ = np.array(ml100k.user_vocab["occupation"])[ml100k.user_features["occupation"]]
    np.testing.assert_array_equal(occ, users.loc[ml100k.user_raw_id, "occupation"].to_numpy())
    genres = ml100k.item_genre_multi_hot
    assert genres.shape == (1683, 20) and genres[0].sum() == 0
    vocab = ml100k.item_vocab["genres"]
    toy = int(np.flatnonzero(ml100k.item_raw_id == 1)[0])
    assert {vocab[g] for g in ml100k.item_features["genres"][toy] if g} == {
        "Animation", "Children's", "Comedy"}
    assert ml100k.item_year[toy] == 1995
    assert ml100k.item_vocab["year_bucket"][ml100k.item_features["year_bucket"][toy]] == "1990s"


@pytest.mark.parametrize("age,code", [(-1, 0), (1, 1), (7, 1), (17, 1), (18, 2), (24, 2),
                                      (25, 3), (35, 4), (45, 5), (49, 5), (50, 6), (55, 6),
                                      (56, 7), (73, 7)])
def test_age_bucket(age, code):
    assert age_bucket(np.array([age]))[0] == code


# --------------------------------------------------------------------------- parsers

def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_read_ml100k_original_files(tmp_path):
    write(tmp_path / "u.data", "1\t10\t5\t100\n2\t10\t3\t90\n1\t20\t4\t50\n")
    write(tmp_path / "u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n")
    flags = ["0"] * 19
    comedy = flags.copy(); comedy[5] = "1"; comedy[14] = "1"
    write(tmp_path / "u.item",
          "10|Misérables, Les (1995)|01-Jan-1995||http://x|" + "|".join(comedy) + "\n"
          "20|unknown||||" + "|".join(["1"] + ["0"] * 18) + "\n", encoding="latin-1")
    raw = read_movielens(tmp_path)
    assert raw.format == "ml-100k"
    assert raw.ratings["user_id"].tolist() == [1, 2, 1]
    assert raw.ratings["timestamp"].tolist() == [100, 90, 50]
    assert raw.users["age"].tolist() == [24, 53] and raw.users["gender"].tolist() == ["M", "F"]
    assert raw.items["title"].tolist() == ["Misérables, Les", "unknown"]
    assert raw.items["year"].tolist() == [1995, 0]
    assert raw.items["genres"].tolist() == [("Comedy", "Romance"), ("unknown",)]


def test_read_ml1m_files_latin1_and_double_colon(tmp_path):
    write(tmp_path / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n")
    write(tmp_path / "users.dat", "1::F::1::10::48067\n")
    # Byte 0x85 is U+0085 in latin-1, a line break for str.splitlines: it must stay a title.
    write(tmp_path / "movies.dat", "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
          "661::Caf\xe9 \x85 Noir (1996)::Animation|Children's|Musical\n", encoding="latin-1")
    raw = read_movielens(tmp_path)
    assert raw.format == "ml-1m"
    assert raw.ratings["item_id"].tolist() == [1193, 661]
    assert raw.users.iloc[0].tolist() == [1, "F", 1, "10", "48067"]
    assert raw.items["title"].tolist() == ["One Flew Over the Cuckoo's Nest", "Café \x85 Noir"]
    assert raw.items["year"].tolist() == [1975, 1996]
    assert raw.items["genres"].tolist()[1] == ("Animation", "Children's", "Musical")


def test_read_ml_latest_csv(tmp_path):
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n"
          "1,3,4.5,964981247\n")
    write(tmp_path / "movies.csv", 'movieId,title,genres\n1,Toy Story (1995),Adventure|Comedy\n'
          '3,"American President, The (1995)",(no genres listed)\n')
    raw = read_movielens(tmp_path)
    assert raw.format == "ml-latest" and len(raw.users) == 0
    assert raw.ratings["rating"].tolist() == [4.0, 4.5]
    assert raw.items["title"].tolist() == ["Toy Story", "American President, The"]
    assert raw.items["genres"].tolist() == [("Adventure", "Comedy"), ()]


def test_read_recbole_atomic(tmp_path):
    write(tmp_path / "toy.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
          "7\t3\t4\t881250949\n")
    write(tmp_path / "toy.user", "user_id:token\tage:token\tgender:token\toccupation:token\t"
          "zip_code:token\n7\t33\tF\tother\tT8H1N\n")
    write(tmp_path / "toy.item", "item_id:token\tmovie_title:token_seq\trelease_year:token\t"
          "class:token_seq\n3\tNénette et Boni\tunkonwn\tDrama Sci-Fi\n")
    raw = read_movielens(tmp_path)
    assert raw.format == "recbole"
    assert raw.ratings.iloc[0].tolist() == [7, 3, 4.0, 881250949]
    assert raw.users.iloc[0].tolist() == [7, "F", 33, "other", "T8H1N"]
    assert raw.items.iloc[0].tolist() == [3, "Nénette et Boni", 0, ("Drama", "Sci-Fi")]


@pytest.mark.parametrize("name,text,line,what", [
    ("u.data", "1\t2\t3\t4\n5\t6\t7\n", 2, "expected 4 fields"),
    ("u.data", "1\t2\t3\t4\n\n1\tx9\t3\t4\n", 3, "item id is 'x9'"),
    ("u.data", "1\t2\t3\t4\n1.5\t2\t3\t4\n", 2, "user id is '1.5'"),
    ("u.data", "1\t2\t3\tnoon\n", 1, "timestamp is 'noon'"),
    ("ratings.dat", "1::2::3::4\n1::2::3\n", 2, "expected 4 fields separated by '::'"),
    ("ratings.dat", "1::2::3::4\n1:2:3:4\n", 2, "expected 4 fields"),
    ("ratings.csv", "userId,movieId,rating,timestamp\n1,2,3,4\n1,2,3\n", 3,
     "expected 4 comma-separated fields"),
    ("ratings.csv", "userId,movieId,rating,timestamp\n1,2,three,4\n", 2, "rating is 'three'"),
    ("ratings.csv", "user,movie,rating,timestamp\n1,2,3,4\n", 1, "expected a header"),
    ("x.inter", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\n", 2, "expected 3"),
    ("x.inter", "user_id:token\titem_id:token\n1\t2\n", 1, "lacks the field(s) timestamp"),
])
def test_malformed_lines_name_file_and_line(tmp_path, name, text, line, what):
    write(tmp_path / name, text)
    with pytest.raises(DataFormatError, match=re.escape(what)) as info:
        read_movielens(tmp_path)
    assert info.value.line == line and info.value.path == str(tmp_path / name)
    assert f"{tmp_path / name}, line {line}:" in str(info.value)


def test_invalid_bytes_for_encoding_name_line(tmp_path):
    (tmp_path / "ratings.csv").write_bytes(b"userId,movieId,rating,timestamp\n1,2,3,4\n"
                                           b"1,\xff2,3,4\n")
    with pytest.raises(DataFormatError, match=r"line 3: byte 0xff is not valid utf-8"):
        read_movielens(tmp_path)
    # The same bytes are fine once the right encoding is named... up to the bad id.
    with pytest.raises(DataFormatError, match=r"line 3: item id is 'ÿ2'"):
        read_movielens(tmp_path, encoding="latin-1")


def test_unknown_encoding_and_format(tmp_path):
    write(tmp_path / "u.data", "1\t2\t3\t4\n")
    with pytest.raises(ValueError, match="encoding='klingon' .--encoding. is not a text encoding"):
        read_movielens(tmp_path, encoding="klingon")
    with pytest.raises(ValueError, match="format='ml-20m' is not one of"):
        read_movielens(tmp_path, format="ml-20m")
    with pytest.raises(ValueError, match="holds no MovieLens ratings file"):
        read_movielens(tmp_path / "..")


@pytest.mark.parametrize("title,expected", [
    ("Toy Story (1995)", ("Toy Story", 1995)), ("Babylon 5 (1998) ", ("Babylon 5", 1998)),
    ("1492: Conquest of Paradise (1992)", ("1492: Conquest of Paradise", 1992)),
    ("Untitled", ("Untitled", 0)), ("Stranger Things (2016–2017)", ("Stranger Things", 2016))])
def test_split_title_year(title, expected):
    assert split_title_year(title) == expected


# --------------------------------------------------------------------------- encoding

def small_ml1m(tmp_path):
    """Three users; equal timestamps and rows out of time order, as in ML-1M."""
    lines = ["1::10::5::300", "1::11::5::100", "1::12::5::100", "1::13::5::100",
             "2::11::4::50", "2::10::4::60", "2::14::4::40",
             "1::14::5::200", "3::10::1::5", "3::11::1::5", "9::10::1::5", "9::11::1::6",
             "3::12::1::5"]
    write(tmp_path / "ratings.dat", "\n".join(lines) + "\n")
    write(tmp_path / "users.dat", "1::M::25::4::10001\n2::F::56::0::E1234\n")
    write(tmp_path / "movies.dat", "10::A (1991)::Drama\n11::B (1985)::Comedy|Drama\n"
          "12::C::Horror\n99::Never rated (1950)::War\n", encoding="latin-1")
    return read_movielens(tmp_path)


def test_encode_small_case_by_hand(tmp_path):
    ds = encode(small_ml1m(tmp_path), max_history=2)
    # User 9 has 2 ratings and is dropped; users 1, 2, 3 are kept in raw-id order.
    assert ds.user_raw_id.tolist() == [1, 2, 3] and ds.num_ratings == 11
    # Sorted sequences (time, then row): user 1: 11 12 13 14 10; user 2: 14 11 10;
    # user 3: 10 11 12. Training parts [11 12 13], [14], [10]: every count is 1.
    # Ties by raw id: ids 1..5 = raw 10, 11, 12, 13, 14.
    assert ds.item_raw_id.tolist() == [-1, 10, 11, 12, 13, 14]
    assert ds.item_freq.tolist() == [0, 1, 1, 1, 1, 1]
    enc = {raw: i for i, raw in enumerate(ds.item_raw_id)}
    assert ds.test.label.tolist() == [enc[10], enc[10], enc[12]]
    assert ds.valid.label.tolist() == [enc[14], enc[11], enc[11]]
    # Test history = last 2 items before the test item, left-aligned.
    assert ds.test.history.tolist() == [[enc[13], enc[14]], [enc[14], enc[11]],
                                        [enc[10], enc[11]]]
    assert ds.valid.history.tolist() == [[enc[12], enc[13]], [enc[14], 0], [enc[10], 0]]
    assert ds.valid.length.tolist() == [2, 1, 1]
    # Training samples: user 1 labels 12 (hist [11]), 13 (hist [11, 12]); nothing else.
    assert ds.train.user.tolist() == [0, 0]
    assert ds.train.label.tolist() == [enc[12], enc[13]]
    assert ds.train.history.tolist() == [[enc[11], 0], [enc[11], enc[12]]]
    assert sorted(ds.test_seen[0].tolist()) == sorted(enc[r] for r in (11, 12, 13, 14))
    # Features: user 3 has no profile -> 0 everywhere; ages 25 -> "25-34", 56 -> "56+".
    assert ds.user_features["age"].tolist() == [3, 7, 0]
    assert [ds.user_vocab["zip"][z] for z in ds.user_features["zip"]] == ["1", "E", "<unk>"]
    assert ds.item_year.tolist() == [0, 1991, 1985, 0, 0, 0]
    assert 99 not in ds.item_raw_id            # catalogue = rated items only


@pytest.mark.parametrize("max_history", [1, 3, 50])
def test_encode_windows_match_oracle_random(tmp_path, max_history):
    rng = np.random.default_rng(max_history)
    rows = []
    for u in range(1, 30):
        n = int(rng.integers(3, 25))
        for i in rng.choice(np.arange(1, 60), n, replace=False):
            rows.append(f"{u}::{i}::3::{int(rng.integers(0, 8))}")   # many equal stamps
    order = rng.permutation(len(rows))
    write(tmp_path / "ratings.dat", "\n".join(rows[j] for j in order) + "\n")
    raw = read_movielens(tmp_path)
    ds = encode(raw, max_history=max_history)
    seqs = oracle_sequences(raw.ratings)
    r = 0
    for u, raw_u in enumerate(ds.user_raw_id):
        seq = [int(np.flatnonzero(ds.item_raw_id == i)[0]) for i in seqs[int(raw_u)]]
        for t in range(1, len(seq) - 2):
            hist = seq[max(0, t - max_history):t]
            assert ds.train.history[r].tolist() == hist + [0] * (max_history - len(hist))
            assert ds.train.label[r] == seq[t]
            r += 1
        test_hist = seq[:-1][-max_history:]
        assert ds.test.history[u].tolist() == test_hist + [0] * (max_history - len(test_hist))
    assert r == len(ds.train)


def test_windows_chunking_is_invisible():
    items = np.arange(1, 101, dtype=np.int32)
    ends = np.array([5, 50, 99, 10], np.int64)
    counts = np.array([3, 0, 4, 10], np.int64)
    a = data_mod.windows(items, ends, counts, 6, chunk=1)
    b = data_mod.windows(items, ends, counts, 6)
    np.testing.assert_array_equal(a, b)
    assert b[0].tolist() == [3, 4, 5, 0, 0, 0] and b[1].tolist() == [0] * 6
    assert b[3].tolist() == [1, 2, 3, 4, 5, 6]     # counts > L is the caller's bug: first L


def test_item_sets_subset_and_pairs():
    sets = ItemSets.from_lists([[3, 1], [], [2, 2, 5]])
    sub = sets.subset(np.array([2, 0]))
    assert [sub[i].tolist() for i in range(2)] == [[2, 2, 5], [3, 1]]
    rows, items = sub.pairs()
    assert rows.tolist() == [0, 0, 0, 1, 1] and items.tolist() == [2, 2, 5, 3, 1]


@pytest.mark.parametrize("kwargs,match", [({"max_history": 0}, "max_history=0"),
                                          ({"zip_prefix": 0}, "zip_prefix=0")])
def test_encode_rejects_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        encode(small_ml1m(tmp_path), **kwargs)


def test_load_dataset_unknown_name():
    with pytest.raises(ValueError, match="dataset='ml-42m' is neither"):
        load_dataset("ml-42m")


# --------------------------------------------------------------------------- fetch + CLI

def test_fetch_cache_is_verified_and_not_downloaded_again(monkeypatch):
    directory = fetch.ensure_ml100k()
    assert fetch.verify(directory) == {}
    monkeypatch.setattr(fetch, "download_wheel", lambda dest: pytest.fail("downloaded again"))
    assert fetch.ensure_ml100k() == directory


def test_fetch_checksum_mismatch_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RECALL_MODELS_DATA", str(tmp_path / "cache"))
    assert fetch.ml100k_dir() == tmp_path / "cache" / "ml-100k"
    wheel = tmp_path / "recbole-1.2.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name in fetch.ML100K_SHA256:
            zf.writestr(fetch.WHEEL_PREFIX + name, b"tampered\n")
    monkeypatch.setattr(fetch, "download_wheel", lambda dest: wheel)
    with pytest.raises(fetch.ChecksumError, match="has SHA-256 .* expected 4edb74e2"):
        fetch.ensure_ml100k()
    assert not (tmp_path / "cache" / "ml-100k" / "ml-100k.inter").exists()


def test_data_cli_json_summary(capsys):
    import argparse
    from recall_models import data_cli
    parser = argparse.ArgumentParser()
    data_cli.add_arguments(parser)
    assert data_cli.main(parser.parse_args(["ml-100k", "--json"])) == 0
    text = capsys.readouterr().out
    out = json.loads(text.strip().splitlines()[-1])
    assert (out["users"], out["items"], out["ratings"]) == (943, 1682, 100_000)
    assert "repeated       0 ratings of a (user, item) pair" in text
    assert "dropped        0 users with fewer than 3 ratings (0 ratings; 0 items only they " \
        "rated)" in text
    assert out["density"] == pytest.approx(100_000 / (943 * 1682))
    assert out["ratings_per_user_quantiles"]["q0"] == 20
    assert data_cli.main(parser.parse_args(["/nonexistent/ml"])) == 1


def test_no_training_samples_is_a_clear_error(tmp_path, capsys):
    """Every user with exactly 3 ratings: 0 training samples. `data` crashed in np.quantile
    (IndexError) and `train` advised a smaller batch than 1."""
    import argparse
    from recall_models import data_cli, train_cli
    write(tmp_path / "ratings.dat", "".join(f"{u}::{i}::3::{i}\n" for u in (1, 2)
                                            for i in (10, 11, 12)))
    with pytest.raises(ValueError, match="no training samples: every user has at most 3"):
        load_dataset(str(tmp_path))
    for module, argv in ((data_cli, [str(tmp_path)]),
                         (train_cli, ["--dataset", str(tmp_path), "--out",
                                      str(tmp_path / "run"), "--batch-size", "1"])):
        parser = argparse.ArgumentParser()
        module.add_arguments(parser)
        assert module.main(parser.parse_args(argv)) == 1
        err = capsys.readouterr().err
        assert "no training samples" in err and "batch" not in err


def test_dropped_users_ratings_and_items_are_counted(tmp_path, capsys):
    """Users with < 3 ratings, and the items only they rated, vanished without a count."""
    import argparse
    from recall_models import data_cli
    write(tmp_path / "ratings.dat", "1::10::5::1\n1::11::5::2\n1::12::5::3\n1::13::5::4\n"
          "8::10::5::1\n8::98::5::2\n9::98::5::1\n9::99::5::2\n9::10::5::3\n7::99::5::1\n")
    ds = load_dataset(str(tmp_path))
    # Users 8 and 7 dropped (4 ratings); 98 and 99 are left only to user 9, who is kept.
    assert ds.dropped == {"users": 2, "ratings": 3, "items": 0}
    write(tmp_path / "ratings.dat", "1::10::5::1\n1::11::5::2\n1::12::5::3\n1::13::5::4\n"
          "8::10::5::1\n8::98::5::2\n7::99::5::1\n")
    ds = load_dataset(str(tmp_path))
    assert ds.dropped == {"users": 2, "ratings": 3, "items": 2}          # 98, 99 gone
    assert 98 not in ds.item_raw_id and 99 not in ds.item_raw_id
    parser = argparse.ArgumentParser()
    data_cli.add_arguments(parser)
    assert data_cli.main(parser.parse_args([str(tmp_path), "--json"])) == 0
    text = capsys.readouterr().out
    assert "dropped 2 users with fewer than 3 ratings (3 ratings; 2 items only they rated)" \
        in " ".join(text.split())
    assert json.loads(text.splitlines()[-1])["dropped_items"] == 2
