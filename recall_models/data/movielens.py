"""Parsers for the MovieLens files users bring, all into one schema (`RawData`).

Formats (the directory's contents decide, see `detect_format`):

| format         | files                                         | separator | encoding |
|----------------|-----------------------------------------------|-----------|----------|
| `ml-100k`      | `u.data`, `u.user`, `u.item`                  | tab, `|`  | latin-1  |
| `ml-1m`        | `ratings.dat`, `users.dat`, `movies.dat`      | `::`      | latin-1  |
| `ml-latest`    | `ratings.csv`, `movies.csv` (no user file)    | csv       | utf-8    |
| `recbole`      | `NAME.inter`, `NAME.user`, `NAME.item`        | tab       | utf-8    |

`recbole` is RecBole's atomic-file format: a header of `field:type` names, token sequences
separated by spaces; the embedded MovieLens-100K (see `recall_models.data.fetch`) is in it.
Only the ratings file is required; a missing user or item file gives empty tables. A folder
holding several `NAME.inter` files needs `inter=NAME` (`--inter NAME` on the command line).

Schema of `RawData` (the same for every format):

    ratings  pandas.DataFrame, one row per rating, in file order (the index is the row):
             user_id int64, item_id int64, rating float32 (NaN when the file has none),
             timestamp int64 (seconds).
    users    user_id int64, gender str ("M", "F" or "" unknown), age int32 (years in
             ML-100K, the ML-1M age code 1/18/25/35/45/50/56 in ML-1M; -1 unknown),
             occupation str (ML-1M: the numeric code as text), zip_code str.
    items    item_id int64, title str (year suffix "(1995)" removed), year int32 (0 unknown),
             genres tuple[str, ...].

Malformed input raises `DataFormatError` (a `ValueError`) naming the file and the
1-based line number: a wrong number of fields, an id or timestamp that is not an integer
or does not fit in int64, bytes that are not valid in the file's encoding. Ids and
timestamps are parsed exactly (never through float64, which merges ids above 2^53): an
integer written with a zero fractional part ("7.0") is accepted as 7, one in exponent
notation ("1e3", as a spreadsheet writes 1.23457E+18) is refused. An encoding Python does
not know is a `ValueError` naming the argument.
"""
from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

FORMATS = ("ml-100k", "ml-1m", "ml-latest", "recbole")

# The 19 genre flags of ML-100K's u.item, in file order (u.genre).
ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
                 "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical",
                 "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")

_TITLE_YEAR = re.compile(r"\s*\((\d{4})(?:[-\u2013]\d{0,4})?\)\s*$")


class DataFormatError(ValueError):
    """A MovieLens file that cannot be parsed; `path` and `line` (1-based) say where."""

    def __init__(self, path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


@dataclasses.dataclass
class RawData:
    """Parsed MovieLens files in the common schema (see the module docstring)."""
    ratings: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    format: str
    source: str


# --------------------------------------------------------------------------- low level

def check_encoding(encoding: str) -> str:
    """Returns `encoding` if Python knows it as a text encoding, else raises a `ValueError`
    naming it (and --encoding). Bytes-to-bytes codecs such as 'zip', 'hex' or 'base64' and
    'rot13' (str to str) are known to `codecs` but are not text encodings."""
    try:
        known = codecs.lookup(encoding)._is_text_encoding
    except (LookupError, TypeError):
        known = False
    if not known:
        raise ValueError(f"encoding={encoding!r} (--encoding) is not a text encoding Python "
                         "knows; expected e.g. 'utf-8' or 'latin-1'")
    return encoding


def strip_bom(data: bytes) -> bytes:
    """`data` without a leading UTF-8 byte-order mark (bytes EF BB BF), whatever the
    encoding: Windows tools write it, and latin-1 would decode it as the text 'ï»¿'."""
    return data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data


def read_text(path, encoding: str) -> str:
    """The file decoded, without a leading byte-order mark (`strip_bom`).

    Raises:
        DataFormatError: bytes that are not valid `encoding`, with the line they are on.
    """
    check_encoding(encoding)
    data = strip_bom(Path(path).read_bytes())
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataFormatError(path, line, f"byte {data[err.start]:#04x} is not valid "
                              f"{encoding}; pass the file's encoding") from None


def read_lines(path, encoding: str) -> tuple[list[str], np.ndarray]:
    """Decodes a text file (`read_text`) and returns its non-blank lines and their 1-based
    numbers.

    Lines are split on "\\n" only (not `str.splitlines`, which would also split on
    U+0085, a character latin-1 decodes byte 0x85 to); a trailing "\\r" is dropped.
    """
    text = read_text(path, encoding)
    lines, numbers = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            lines.append(line)
            numbers.append(number)
    return lines, np.asarray(numbers, dtype=np.int64)


def split_fields(lines, numbers, sep: str, ncols: int, path) -> np.ndarray:
    """Splits each line on `sep` into a str array [len(lines), ncols].

    Every line must hold exactly ncols - 1 separators. Counting them first lets the split
    run once over the joined text (1M ML-1M lines in about a second, not a Python list
    per line).
    """
    seps = np.fromiter((line.count(sep) for line in lines), np.int64, len(lines))
    bad = np.flatnonzero(seps != ncols - 1)
    if len(bad):
        i = int(bad[0])
        raise DataFormatError(path, int(numbers[i]), f"expected {ncols} fields separated by "
                              f"{sep!r}, found {seps[i] + 1}")
    if not lines:
        return np.empty((0, ncols), dtype=str)
    flat = "\n".join(lines).replace(sep, "\n").split("\n")
    return np.array(flat, dtype=str).reshape(len(lines), ncols)


# An integer written as a float with a zero fractional part ("7.0", as pandas writes an
# integer column that held a NaN); an exponent ("1e3") is not an integer id.
_ZERO_FRACTION = re.compile(r"\s*([+-]?[0-9]+)\.0*\s*")
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1


def parse_integer(text: str) -> int | None:
    """`text` as an exact Python int (what `int()` reads, or "7.0"), else None."""
    try:
        return int(text)
    except ValueError:
        match = _ZERO_FRACTION.fullmatch(text)
        return int(match.group(1)) if match else None


def _to_integers(values, numbers, path, column: str) -> np.ndarray:
    """Exact int64 of each string (no float64 on the way), naming the first bad line."""
    out = np.empty(len(values), np.int64)
    for i, text in enumerate(values):
        value = parse_integer(str(text))
        if value is None or not INT64_MIN <= value <= INT64_MAX:
            kind = ("an integer (digits, or digits and '.0')" if value is None else
                    "an integer in int64's range -2^63 .. 2^63-1")
            raise DataFormatError(path, int(numbers[i]),
                                  f"{column} is {str(text)!r}, expected {kind}")
        out[i] = value
    return out


def to_numbers(values, numbers, path, column: str, integer: bool) -> np.ndarray:
    """Converts strings to int64 (`integer`) or float64, pointing at the first bad line.

    Integers are exact (never through float64): "7" and "7.0" are 7; "7.5", "1e3" and
    values outside int64 are a `DataFormatError`.
    """
    try:                                  # fast path: numpy parses clean decimal text
        return np.asarray(values, dtype=str).astype(np.int64 if integer else np.float64)
    except (ValueError, OverflowError):
        pass
    if integer:
        return _to_integers(values, numbers, path, column)
    series = pd.Series(list(values), dtype=object).astype(str).str.strip()
    parsed = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(parsed)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFormatError(path, int(numbers[i]),
                              f"{column} is {str(values[i])!r}, expected a number")
    return parsed


def _ratings_frame(cols, numbers, path, has_rating=True) -> pd.DataFrame:
    user, item, rating, stamp = cols
    return pd.DataFrame({
        "user_id": to_numbers(user, numbers, path, "user id", integer=True),
        "item_id": to_numbers(item, numbers, path, "item id", integer=True),
        "rating": (to_numbers(rating, numbers, path, "rating", integer=False)
                   if has_rating else np.full(len(user), np.nan)).astype(np.float32),
        "timestamp": to_numbers(stamp, numbers, path, "timestamp", integer=True),
    })


RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")


def fast_ratings(path, encoding: str, sep: str, header: tuple[str, ...] | None = None):
    """The ratings file parsed by pandas' C reader (vectorised, ~1 s per million lines),
    or None when it is not clean, so that the line-by-line readers report the first bad
    line (`DataFormatError` with file and line) instead.

    pandas reads an int64 column through float64 when a value has a "." or an exponent, so
    a file with "e"/"E" after its header ("1e3") or an id or timestamp of 2^53 or more (where
    float64 has gaps) also goes to the line reader, whose integers are exact.

    Args:
        path: a ratings file with the four fields user, item, rating, timestamp.
        sep: one character; "::" (ML-1M) is read as ":" with empty fields between.
        header: the expected first names of a header line (csv), or None for no header.
    """
    path = Path(path)
    with open(path, "rb") as f:
        bom = f.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    if bom and codecs.lookup(encoding).name != "utf-8":
        return None                  # the line reader strips it (latin-1 would read 'ï»¿')
    if _has_exponent(path, skip_header=header is not None):
        return None
    try:
        out = _pandas_ratings(path, "utf-8-sig" if bom else encoding, sep, header)
    except (ValueError, TypeError, UnicodeError, OverflowError, pd.errors.ParserError,
            pd.errors.ParserWarning):
        return None
    if out is None:
        return None
    ints = out[["user_id", "item_id", "timestamp"]].to_numpy()            # [R, 3]
    return None if ((ints >= 2 ** 53) | (ints <= -2 ** 53)).any() else out


def _has_exponent(path: Path, skip_header: bool, chunk: int = 1 << 24) -> bool:
    """Whether an "e" or "E" follows the header line, read in chunks (not the whole file
    at once: ML-20M's ratings.csv is 0.5 GB)."""
    with open(path, "rb") as f:
        if skip_header:
            f.readline()
        while block := f.read(chunk):
            if b"e" in block or b"E" in block:
                return True
    return False


def _pandas_ratings(path: Path, encoding: str, sep: str, header) -> pd.DataFrame | None:
    """`fast_ratings`' parse of the file (None: not clean; pandas may raise)."""
    double = sep == "::"
    width = 7 if double else 4
    names = [f"c{j}" for j in range(width)]
    dtype = {name: "string" for name in names}
    keep = [0, 2, 4, 6] if double else [0, 1, 2, 3]
    for col, kind in zip(keep, ("int64", "int64", "float32", "int64")):
        dtype[f"c{col}"] = kind
    with warnings.catch_warnings():          # a line with extra fields warns: not clean
        warnings.simplefilter("error", pd.errors.ParserWarning)
        frame = pd.read_csv(path, sep=":" if double else sep, header=None,
                            names=names, index_col=False, dtype=dtype, encoding=encoding,
                            engine="c", skiprows=1 if header else 0, skip_blank_lines=True)
    if header is not None:
        first = pd.read_csv(path, nrows=0, encoding=encoding).columns
        if tuple(str(c).strip() for c in first[:len(header)]) != header:
            return None
    if frame[[f"c{c}" for c in keep]].isna().any().any():
        return None
    if double and not frame[["c1", "c3", "c5"]].isna().all().all():
        return None                          # a single ":" inside a field
    out = pd.DataFrame({name: frame[f"c{c}"].to_numpy()
                        for name, c in zip(RATING_COLUMNS, keep)})
    out["rating"] = out["rating"].astype(np.float32)
    return out


def _users_frame(ids, gender, age, occupation, zips, numbers, path) -> pd.DataFrame:
    age = [str(a) if str(a).strip() else "-1" for a in age]
    return pd.DataFrame({
        "user_id": to_numbers(ids, numbers, path, "user id", integer=True),
        "gender": pd.Series([str(g).strip().upper() for g in gender], dtype=object),
        "age": to_numbers(age, numbers, path, "age", integer=True).astype(np.int32),
        "occupation": pd.Series([str(o).strip() for o in occupation], dtype=object),
        "zip_code": pd.Series([str(z).strip() for z in zips], dtype=object),
    })


def _items_frame(ids, titles, years, genres, numbers, path) -> pd.DataFrame:
    return pd.DataFrame({
        "item_id": to_numbers(ids, numbers, path, "item id", integer=True),
        "title": pd.Series([str(t) for t in titles], dtype=object),
        "year": np.asarray(years, dtype=np.int32),
        "genres": pd.Series([tuple(str(x) for x in g) for g in genres], dtype=object),
    })


def empty_users() -> pd.DataFrame:
    return _users_frame([], [], [], [], [], np.zeros(0, np.int64), "")


def empty_items() -> pd.DataFrame:
    return _items_frame([], [], [], [], np.zeros(0, np.int64), "")


def split_title_year(title: str) -> tuple[str, int]:
    """"Toy Story (1995)" -> ("Toy Story", 1995); no year -> (title, 0)."""
    match = _TITLE_YEAR.search(title)
    if match is None:
        return title.strip(), 0
    return title[:match.start()].strip(), int(match.group(1))


def _columns(rows, ncols):
    """Columns of a [n, ncols] str array (or of a list of rows)."""
    if isinstance(rows, np.ndarray):
        return [rows[:, j] for j in range(ncols)]
    return [[row[j] for row in rows] for j in range(ncols)]


# --------------------------------------------------------------------------- formats

def _ratings_and_users(ratings_path: Path, users_path: Path, sep: str, user_sep: str,
                       encoding: str, user_fields: tuple):
    """(ratings, users) frames of a ratings file (user, item, rating, time) and an optional
    user file whose five fields come in the order `user_fields`."""
    ratings = fast_ratings(ratings_path, encoding, sep)
    if ratings is None:                   # not clean: find and name the first bad line
        lines, nums = read_lines(ratings_path, encoding)
        ratings = _ratings_frame(_columns(split_fields(lines, nums, sep, 4, ratings_path), 4),
                                 nums, ratings_path)
    users = empty_users()
    if users_path.exists():
        lines, nums = read_lines(users_path, encoding)
        cols = dict(zip(user_fields, _columns(split_fields(lines, nums, user_sep, 5,
                                                           users_path), 5)))
        users = _users_frame(cols["id"], cols["gender"], cols["age"], cols["occupation"],
                             cols["zip"], nums, users_path)
    return ratings, users


def read_ml100k(directory, encoding: str = "latin-1") -> RawData:
    """ML-100K original files: `u.data` (tab), `u.user` and `u.item` (`|`)."""
    d = Path(directory)
    ratings, users = _ratings_and_users(d / "u.data", d / "u.user", "\t", "|", encoding,
                                        ("id", "age", "gender", "occupation", "zip"))
    items = empty_items()
    path = d / "u.item"
    if path.exists():
        lines, nums = read_lines(path, encoding)
        rows = split_fields(lines, nums, "|", 5 + len(ML100K_GENRES), path).tolist()
        titles, years, genres = [], [], []
        for row, number in zip(rows, nums):
            title, year = split_title_year(row[1])
            date = row[2].strip()                       # "01-Jan-1995"
            if date[-4:].isdigit():
                year = int(date[-4:])
            flags = row[5:]
            if any(f.strip() not in ("0", "1") for f in flags):
                raise DataFormatError(path, int(number), "genre flags must be 0 or 1, found "
                                      f"{'|'.join(flags)!r}")
            titles.append(title)
            years.append(year)
            genres.append([g for g, f in zip(ML100K_GENRES, flags) if f.strip() == "1"])
        items = _items_frame([r[0] for r in rows], titles, years, genres, nums, path)
    return RawData(ratings, users, items, "ml-100k", str(d))


def read_ml1m(directory, encoding: str = "latin-1") -> RawData:
    """ML-1M files: `ratings.dat`, `users.dat`, `movies.dat`, fields separated by `::`."""
    d = Path(directory)
    ratings, users = _ratings_and_users(d / "ratings.dat", d / "users.dat", "::", "::",
                                        encoding, ("id", "gender", "age", "occupation", "zip"))
    items = empty_items()
    path = d / "movies.dat"
    if path.exists():
        lines, nums = read_lines(path, encoding)
        ids, titles, genres = _columns(split_fields(lines, nums, "::", 3, path), 3)
        pairs = [split_title_year(t) for t in titles]
        items = _items_frame(ids, [p[0] for p in pairs], [p[1] for p in pairs],
                             [[g for g in s.split("|") if g] for s in genres], nums, path)
    return RawData(ratings, users, items, "ml-1m", str(d))


def csv_records(path, encoding: str) -> tuple[list[list[str]], np.ndarray]:
    """The non-blank records of a csv file and the 1-based line each starts on; a quoted
    field may hold newlines ("Title\\nPart 2"), a quote never closed is an error."""
    reader = csv.reader(io.StringIO(read_text(path, encoding), newline=""), strict=True)
    rows, numbers, last = [], [], 0
    try:
        for row in reader:
            if len(row) > 1 or (row and row[0].strip()):
                rows.append(row)
                numbers.append(last + 1)
            last = reader.line_num
    except csv.Error as err:
        what = ("a quoted field is never closed (unbalanced quotes)"
                if "end of data" in str(err) else
                f"bad quoting ({err}); expected a quoted field to end with '\"' and then ',' "
                "or the line end")
        raise DataFormatError(path, last + 1, what) from None
    return rows, np.asarray(numbers, dtype=np.int64)


def _read_csv(path, encoding: str, header: tuple[str, ...]):
    rows, nums = csv_records(path, encoding)
    if not rows or tuple(h.strip() for h in rows[0][:len(header)]) != header:
        raise DataFormatError(path, int(nums[0]) if len(nums) else 1,
                              f"expected a header starting with {','.join(header)}")
    ncols = len(rows[0])
    for row, number in zip(rows[1:], nums[1:]):
        if len(row) != ncols:
            raise DataFormatError(path, int(number), f"expected {ncols} comma-separated "
                                  f"fields, found {len(row)}")
    return rows[1:], nums[1:]


def read_ml_latest(directory, encoding: str = "utf-8") -> RawData:
    """ml-latest(-small) files: `ratings.csv` and `movies.csv` with headers; no user file."""
    d = Path(directory)
    path = d / "ratings.csv"
    header = ("userId", "movieId", "rating", "timestamp")
    ratings = fast_ratings(path, encoding, ",", header=header)
    if ratings is None:                   # not clean: find and name the first bad line
        rows, nums = _read_csv(path, encoding, header)
        ratings = _ratings_frame(_columns([r[:4] for r in rows], 4), nums, path)

    items = empty_items()
    path = d / "movies.csv"
    if path.exists():
        rows, nums = _read_csv(path, encoding, ("movieId", "title", "genres"))
        pairs = [split_title_year(r[1]) for r in rows]
        genres = [[g for g in r[2].split("|") if g and g != "(no genres listed)"] for r in rows]
        items = _items_frame([r[0] for r in rows], [p[0] for p in pairs],
                             [p[1] for p in pairs], genres, nums, path)
    return RawData(ratings, empty_users(), items, "ml-latest", str(d))


def _read_atomic(path, encoding: str, required: tuple[str, ...]):
    """A RecBole atomic file -> ({field name: column of strings}, line numbers)."""
    lines, nums = read_lines(path, encoding)
    if not lines:
        raise DataFormatError(path, 1, "empty file, expected a header of field:type names")
    names = [h.split(":")[0].strip() for h in lines[0].split("\t")]
    missing = [r for r in required if r not in names]
    if missing:
        raise DataFormatError(path, int(nums[0]), f"header {lines[0]!r} lacks the field(s) "
                              f"{', '.join(missing)}")
    rows = split_fields(lines[1:], nums[1:], "\t", len(names), path)
    return dict(zip(names, _columns(rows, len(names)))), nums[1:]


def read_recbole(directory, encoding: str = "utf-8", name: str | None = None) -> RawData:
    """RecBole atomic files `NAME.inter` (required), `NAME.user`, `NAME.item` in `directory`."""
    d = Path(directory)
    if name is None:
        inter = sorted(d.glob("*.inter"))
        if len(inter) != 1:
            names = ", ".join(p.name for p in inter)
            raise ValueError(f"directory={str(d)!r} holds {len(inter)} .inter files "
                             f"({names}), expected exactly one: pick one with --inter NAME "
                             "(from Python: inter=NAME) or move the others out")
        name = inter[0].stem
    path = d / f"{name}.inter"
    cols, nums = _read_atomic(path, encoding, ("user_id", "item_id", "timestamp"))
    has_rating = "rating" in cols
    ratings = _ratings_frame([cols["user_id"], cols["item_id"],
                              cols.get("rating", cols["user_id"]), cols["timestamp"]],
                             nums, path, has_rating=has_rating)

    users = empty_users()
    path = d / f"{name}.user"
    if path.exists():
        cols, nums = _read_atomic(path, encoding, ("user_id",))
        blank = [""] * len(nums)
        users = _users_frame(cols["user_id"], cols.get("gender", blank), cols.get("age", blank),
                             cols.get("occupation", blank), cols.get("zip_code", blank),
                             nums, path)

    items = empty_items()
    path = d / f"{name}.item"
    if path.exists():
        cols, nums = _read_atomic(path, encoding, ("item_id",))
        blank = [""] * len(nums)
        titles = cols.get("movie_title", cols.get("title", blank))
        pairs = [split_title_year(t) for t in titles]
        years = cols.get("release_year")
        if years is not None:
            # A year is a feature, not an id: RecBole writes "unkonwn" for ML-100K item 267.
            years = [int(y) if y.strip().isdigit() else 0 for y in years]
        else:
            years = [p[1] for p in pairs]
        genres = cols.get("class", cols.get("genre", blank))
        items = _items_frame(cols["item_id"], [p[0] for p in pairs], years,
                             [g.split() for g in genres], nums, path)
    return RawData(ratings, users, items, "recbole", str(d))


READERS = {"ml-100k": read_ml100k, "ml-1m": read_ml1m, "ml-latest": read_ml_latest,
           "recbole": read_recbole}


def detect_format(directory) -> str:
    """Names the format of the MovieLens files in `directory` (see the module table)."""
    d = Path(directory)
    if not d.is_dir():
        raise ValueError(f"directory={str(d)!r} is not a directory")
    if (d / "u.data").exists():
        return "ml-100k"
    if (d / "ratings.dat").exists():
        return "ml-1m"
    if (d / "ratings.csv").exists():
        return "ml-latest"
    if any(d.glob("*.inter")):
        return "recbole"
    raise ValueError(f"directory={str(d)!r} holds no MovieLens ratings file; expected "
                     "u.data, ratings.dat, ratings.csv or a RecBole NAME.inter")


RATINGS_FILES = {"ml-100k": "u.data", "ml-1m": "ratings.dat", "ml-latest": "ratings.csv",
                 "recbole": "*.inter"}


def _check_format_files(directory, fmt: str) -> None:
    """A format given by hand (`--format`) whose ratings file is absent: say what is there."""
    d = Path(directory)
    if not d.is_dir() or any(d.glob(RATINGS_FILES[fmt])):
        return                                # (a missing folder: the reader says so)
    try:
        found = f"; the folder looks like {detect_format(d)!r}"
    except ValueError:
        found = ""
    raise ValueError(f"format={fmt!r} expects {RATINGS_FILES[fmt]} in {str(d)!r}, which has "
                     f"none{found} (leave the format out to detect it)")


def read_movielens(directory, format: str | None = None, encoding: str | None = None,
                   inter: str | None = None) -> RawData:
    """Parses the MovieLens files in `directory` into the common schema.

    Args:
        directory: a folder holding one of the formats in the module docstring.
        format: one of `FORMATS`, or None to detect it from the file names.
        encoding: text encoding, or None for the format's own (latin-1 for ML-100K and
            ML-1M, utf-8 otherwise).
        inter: RecBole format only: read `inter.inter` (and `inter.user`, `inter.item`),
            for a folder that holds several `.inter` files (`--inter`).

    Returns:
        `RawData` with `ratings`, `users`, `items`.

    Raises:
        ValueError: unknown format or encoding, or no ratings file.
        DataFormatError: a malformed line (file and line number in the message).
    """
    directory = os.fspath(directory)
    fmt = detect_format(directory) if format is None else format
    if fmt not in READERS:
        raise ValueError(f"format={fmt!r} is not one of {', '.join(FORMATS)}")
    if format is not None:
        _check_format_files(directory, fmt)
    kwargs = {} if encoding is None else {"encoding": check_encoding(encoding)}
    if inter is not None:
        if fmt != "recbole":
            raise ValueError(f"inter={inter!r} (--inter) names a RecBole NAME.inter file, but "
                             f"{directory!r} is in the {fmt!r} format")
        if not (Path(directory) / f"{inter}.inter").is_file():
            there = ", ".join(p.stem for p in sorted(Path(directory).glob("*.inter")))
            raise ValueError(f"inter={inter!r} (--inter): {directory!r} has no "
                             f"{inter}.inter; it has: {there}")
        kwargs["name"] = inter
    return READERS[fmt](directory, **kwargs)
