"""MovieLens encoded and split for retrieval: `load_dataset(name_or_path) -> Dataset`.

Protocol (docs/recall-protocol.md, steps 1-2):

1. Every rating is an implicit positive. Ratings are stably sorted by
   (user, timestamp, original row): ML-1M has many equal timestamps and is not in time
   order within a user.
2. Per user with n >= 3 ratings s_1..s_n (users with fewer are dropped): s_n is the test
   item, s_{n-1} the validation item, s_1..s_{n-2} the training sequence.
3. Training samples are every prefix of the training sequence with a non-empty history:
   for t = 2..n-2, label s_t and history s_{t-h}..s_{t-1}, h = min(t-1, max_history).
   The validation sample is (s_{n-1}, last max_history of s_1..s_{n-2}); the test sample
   is (s_n, last max_history of s_1..s_{n-1}): the test user vector sees everything but
   the test item.

Encoding:

- Items: the catalogue is every item rated by at least one kept user (one with 3 or more
  ratings; ML-100K 1,682, ML-1M 3,706: there every user has 20 or more). An item rated only
  by dropped users is not in it; `Dataset.dropped` counts the users, ratings and items
  dropped, and `python -m recall_models data` prints them. Ids 1..num_items-1 are given in order of decreasing training frequency
  (ties by raw id), 0 is padding. `item_freq` is therefore non-increasing from id 1, as
  TensorFlow's log-uniform candidate sampler assumes (P(k) ~ 1/(k+1) for ids sorted by
  frequency).
- Users: index 0..num_users-1 in order of raw id (no padding row).
- Categorical features are integer codes with 0 = padding/unknown; `*_vocab[name][c]`
  is the text of code c, so the vocabulary size is `len(vocab)`.

`Dataset` fields (N = number of samples, L = max_history, U = num_users,
I = num_items including padding):

    num_users, num_items, max_history, num_ratings
    item_raw_id        int64 [I]      MovieLens id of each encoded item (-1 for padding)
    item_freq          int64 [I]      training occurrences (s_1..s_{n-2} of every user)
    item_title         object [I]
    item_year          int32 [I]      release year, 0 unknown
    item_features      {"year_bucket": int32 [I] (decade code), "genres": int32 [I, G]
                        (genre codes padded with 0)};  item_vocab: {name: tuple[str]}
    user_raw_id        int64 [U]
    user_features      {"gender", "age" (bucket), "occupation", "zip" (first
                        `zip_prefix` characters)}: int32 [U];  user_vocab: {name: tuple[str]}
    train              `Prefixes`: the same fields, history built on demand (memory ~ R)
    valid, test        `Samples`: user int32 [N], history int32 [N, L] (left-aligned in
                        time order, padded with 0 on the right), length int32 [N] (number
                        of real items), label int32 [N] (encoded item id); `.mask` bool [N, L]
    valid_seen, test_seen  `ItemSets`: per user, every item before the held-out one
                        (s_1..s_{n-2}, resp. s_1..s_{n-1}), for history-filtered metrics;
                        valid_seen is also each user's full training sequence. A user
                        who rated the held-out item before has it here too; the metrics
                        never filter out the target (`ItemSets.without`).
    user_sequence      `ItemSets`: each user's whole sorted sequence s_1..s_n.

Rows of `valid` and `test` are users 0..U-1 in order (`test.user[u] == u`).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from recall_models.data import fetch
from recall_models.data.movielens import RawData, read_movielens

# ML-1M age codes; ML-100K ages in years are mapped to the same buckets:
# 1 "Under 18", 18 "18-24", 25 "25-34", 35 "35-44", 45 "45-49", 50 "50-55", 56 "56+".
AGE_BUCKETS = (1, 18, 25, 35, 45, 50, 56)
EMBEDDED = ("ml-100k",)


@dataclasses.dataclass
class ItemSets:
    """Variable-length item sets per user in CSR form: user u owns
    `indices[indptr[u]:indptr[u+1]]`."""
    indptr: np.ndarray   # int64 [U + 1]
    indices: np.ndarray  # int32 [nnz]

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def __getitem__(self, u: int) -> np.ndarray:
        return self.indices[self.indptr[u]:self.indptr[u + 1]]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    @classmethod
    def from_lists(cls, sets) -> "ItemSets":
        lengths = np.array([len(s) for s in sets], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        flat = [np.asarray(s, dtype=np.int32).ravel() for s in sets]
        indices = np.concatenate(flat) if flat else np.zeros(0, np.int32)
        return cls(indptr, indices.astype(np.int32))

    def subset(self, users: np.ndarray) -> "ItemSets":
        """The sets of `users` (int [B]) as a new `ItemSets` with B rows."""
        users = np.asarray(users, dtype=np.int64)
        starts, stops = self.indptr[users], self.indptr[users + 1]
        lengths = stops - starts
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        # Gather every position start_b + j, j < length_b, without a Python loop.
        offsets = np.arange(indptr[-1]) - np.repeat(indptr[:-1], lengths)
        return ItemSets(indptr, self.indices[np.repeat(starts, lengths) + offsets])

    def without(self, items) -> "ItemSets":
        """These sets with `items[u]` (int [U], one id per row) taken out of row u."""
        items = np.asarray(items, dtype=np.int64)
        if items.shape != (len(self),):
            raise ValueError(f"items has shape {items.shape}, expected [{len(self)}] "
                             "(one id per row)")
        rows = np.repeat(np.arange(len(self)), self.lengths)
        keep = self.indices != items[rows]                                 # [nnz]
        lengths = np.bincount(rows[keep], minlength=len(self))
        return ItemSets(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                        self.indices[keep])

    def repeats(self) -> int:
        """Members that repeat an earlier member of the same row (a re-rated item)."""
        rows, items = self.pairs()
        span = int(items.max()) + 1 if len(items) else 1
        return int(len(items) - len(np.unique(rows * span + items)))

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(row [nnz], item [nnz]) coordinates of every member."""
        rows = np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)
        return rows, self.indices.astype(np.int64)


@dataclasses.dataclass
class Samples:
    """(user, history, label) examples; shapes in the module docstring."""
    user: np.ndarray     # int32 [N]
    history: np.ndarray  # int32 [N, L]
    length: np.ndarray   # int32 [N]
    label: np.ndarray    # int32 [N]

    def __len__(self) -> int:
        return len(self.label)

    @property
    def mask(self) -> np.ndarray:
        """bool [N, L]: True on real history items."""
        return np.arange(self.history.shape[1])[None, :] < self.length[:, None]


@dataclasses.dataclass
class Prefixes:
    """The training prefixes without their [N, L] history matrix (memory ~ ratings).

    Sample n is the label `items[end[n]]` with history `items[end[n]-length[n]:end[n]]`
    (the same user's preceding ratings). `history` builds the [N, L] matrix on demand (for
    small data and tests); training gathers windows batch by batch instead
    (`recall_models.train.prefix_dataset`).
    """
    user: np.ndarray     # int32 [N]
    end: np.ndarray      # int64 [N] position of the label in `items`
    length: np.ndarray   # int32 [N]
    label: np.ndarray    # int32 [N]
    items: np.ndarray    # int32 [R] every user's sorted encoded sequence, concatenated
    max_history: int

    def __len__(self) -> int:
        return len(self.label)

    def select(self, rows) -> Samples:
        """The samples `rows` (int [B]) with their histories, as `Samples`."""
        rows = np.asarray(rows, np.int64)
        return Samples(user=self.user[rows], length=self.length[rows], label=self.label[rows],
                       history=windows(self.items, self.end[rows],
                                       self.length[rows].astype(np.int64), self.max_history))

    @property
    def history(self) -> np.ndarray:
        """int32 [N, L]: left-aligned, 0-padded (built on every access)."""
        return windows(self.items, self.end, self.length.astype(np.int64), self.max_history)

    @property
    def mask(self) -> np.ndarray:
        """bool [N, L]: True on real history items."""
        return np.arange(self.max_history)[None, :] < self.length[:, None]


@dataclasses.dataclass
class Dataset:
    """Encoded, split MovieLens (see the module docstring for every field)."""
    name: str
    num_users: int
    num_items: int
    max_history: int
    num_ratings: int
    item_raw_id: np.ndarray
    item_freq: np.ndarray
    item_title: np.ndarray
    item_year: np.ndarray
    item_features: dict
    item_vocab: dict
    user_raw_id: np.ndarray
    user_features: dict
    user_vocab: dict
    train: Prefixes
    valid: Samples
    test: Samples
    valid_seen: ItemSets
    test_seen: ItemSets
    user_sequence: ItemSets  # every user's full sorted item sequence s_1..s_n
    zip_prefix: int = 1      # characters of the zip code kept in user_features["zip"]
    dropped: dict = dataclasses.field(default_factory=dict)   # `dropped_counts`

    @property
    def user_feature_sizes(self) -> dict:
        return {name: len(v) for name, v in self.user_vocab.items()}

    @property
    def item_feature_sizes(self) -> dict:
        return {name: len(v) for name, v in self.item_vocab.items()}

    @property
    def item_genre_multi_hot(self) -> np.ndarray:
        """float32 [I, num_genres]: 1 where the item has the genre (column 0 = padding)."""
        genres = self.item_features["genres"]
        out = np.zeros((self.num_items, len(self.item_vocab["genres"])), np.float32)
        rows = np.repeat(np.arange(self.num_items), genres.shape[1])
        out[rows, genres.ravel()] = 1.0
        out[:, 0] = 0.0
        return out

    def seen(self, split: str) -> ItemSets:
        """The filtering sets for `split` ("valid" or "test")."""
        if split not in ("valid", "test"):
            raise ValueError(f"split={split!r}, expected 'valid' or 'test'")
        return self.valid_seen if split == "valid" else self.test_seen

    def samples(self, split: str) -> Samples:
        if split not in ("train", "valid", "test"):
            raise ValueError(f"split={split!r}, expected 'train', 'valid' or 'test'")
        return getattr(self, split)


# --------------------------------------------------------------------------- helpers

def _codes(values, keep_order: bool = False) -> tuple[np.ndarray, tuple]:
    """Strings -> int32 codes 1.. (sorted vocabulary), "" -> 0; returns (codes, vocab)."""
    values = [str(v) for v in values]
    known = sorted(set(values) - {""}) if not keep_order else list(dict.fromkeys(
        v for v in values if v))
    lookup = {v: i + 1 for i, v in enumerate(known)}
    codes = np.array([lookup.get(v, 0) for v in values], dtype=np.int32)
    return codes, ("<unk>",) + tuple(known)


def age_bucket(age: np.ndarray) -> np.ndarray:
    """Years (or ML-1M codes, which map to themselves) -> code 1..7; -1 -> 0 unknown."""
    age = np.asarray(age)
    # bucket b holds AGE_BUCKETS[b-1] <= age < AGE_BUCKETS[b] (first and last open-ended).
    codes = np.searchsorted(np.array(AGE_BUCKETS[1:]), age, side="right") + 1
    return np.where(age < 0, 0, codes).astype(np.int32)


def windows(items: np.ndarray, ends: np.ndarray, counts: np.ndarray, max_history: int,
            chunk: int = 1 << 17) -> np.ndarray:
    """History matrix: row r is items[ends[r]-counts[r] : ends[r]], left-aligned, 0-padded.

    Args:
        items: int32 [R] encoded items of all users, sorted by (user, time, row).
        ends: int64 [N] global position of each sample's label (exclusive history end).
        counts: int64 [N] history length, <= max_history and <= the label's in-user position.
        max_history: L.

    Returns:
        int32 [N, L]. Built in chunks of `chunk` rows so the int64 index temporaries stay
        bounded (ML-1M has ~1M samples).
    """
    out = np.zeros((len(ends), max_history), dtype=np.int32)
    cols = np.arange(max_history, dtype=np.int64)[None, :]
    for lo in range(0, len(ends), chunk):
        e, c = ends[lo:lo + chunk, None], counts[lo:lo + chunk, None]
        idx = e - c + cols                       # [n, L] positions s_{t-h} .. s_{t-h+L-1}
        real = cols < c                          # [n, L] True on the h real items
        out[lo:lo + chunk] = np.where(real, items[np.where(real, idx, 0)], 0)
    return out


# --------------------------------------------------------------------------- encoding

def check_encode_args(max_history, zip_prefix) -> None:
    if isinstance(max_history, bool) or not isinstance(max_history, (int, np.integer)) \
            or max_history < 1:
        raise ValueError(f"max_history={max_history!r}, expected an integer >= 1")
    if isinstance(zip_prefix, bool) or not isinstance(zip_prefix, (int, np.integer)) \
            or zip_prefix < 1:
        raise ValueError(f"zip_prefix={zip_prefix!r}, expected an integer >= 1")


@dataclasses.dataclass
class Sequences:
    """Every kept rating in (user, timestamp, row) order (protocol steps 1-2).

    user_ids int64 [U] raw ids in order; user int32 [R] code of each rating; item_raw
    int64 [R]; per_user int64 [U] counts (>= 3); pos int64 [R] position inside the user;
    dropped: what the users with < 3 ratings took away (`dropped_counts`).
    """
    user_ids: np.ndarray
    user: np.ndarray
    item_raw: np.ndarray
    per_user: np.ndarray
    pos: np.ndarray
    dropped: dict = dataclasses.field(default_factory=dict)

    def split_masks(self):
        """(is_train, is_valid, is_test) bool [R]: s_1..s_{n-2}, s_{n-1}, s_n per user."""
        n_u = self.per_user[self.user]
        is_test, is_valid = self.pos == n_u - 1, self.pos == n_u - 2
        return ~(is_test | is_valid), is_valid, is_test


def dense_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique values [V], code of each value in that order [n]), like
    `np.unique(values, return_inverse=True)` but by hashing (pandas.factorize, O(n)),
    sorting only the V distinct values."""
    codes, uniques = pd.factorize(values, sort=False)
    uniques = np.asarray(uniques)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(uniques), np.int64)
    rank[order] = np.arange(len(uniques))
    return uniques[order], rank[codes]


def dropped_counts(per_user: np.ndarray, keep: np.ndarray, item_raw: np.ndarray) -> dict:
    """{"users", "ratings", "items"} dropped with the users of < 3 ratings: items counts
    those that no kept user rated (they leave the catalogue)."""
    gone = np.setdiff1d(pd.unique(item_raw[~keep]), pd.unique(item_raw[keep]))
    return {"users": int((per_user < 3).sum()), "ratings": int((~keep).sum()),
            "items": int(len(gone))}


def sort_ratings(raw: RawData) -> Sequences:
    """Drops users with < 3 ratings and sorts stably by (user, timestamp, file row)."""
    ratings = raw.ratings
    if len(ratings) == 0:
        raise ValueError(f"{raw.source}: holds no ratings (an empty file?); expected one "
                         "rating per line")
    user_ids, user_code = dense_codes(ratings["user_id"].to_numpy(np.int64))
    per_user = np.bincount(user_code, minlength=len(user_ids))
    keep = per_user[user_code] >= 3          # a train, a valid and a test item
    row = np.flatnonzero(keep) if not keep.all() else None
    item_raw = ratings["item_id"].to_numpy(np.int64)
    dropped = dropped_counts(per_user, keep, item_raw)
    if row is not None:
        kept = np.flatnonzero(per_user >= 3)
        recode = np.full(len(user_ids), -1, np.int64)
        recode[kept] = np.arange(len(kept))
        user_code, user_ids, per_user = recode[user_code[row]], user_ids[kept], per_user[kept]
    if len(user_ids) == 0:
        raise ValueError(f"{raw.source}: no user has the 3 ratings the split needs")
    stamp = ratings["timestamp"].to_numpy(np.int64)
    stamp = stamp if row is None else stamp[row]
    span = int(stamp.max() - stamp.min()) if len(stamp) else 0
    if span < 2 ** 32 and len(user_ids) < 2 ** 31:
        # One int64 key (user << 32 | time) sorted stably: equal keys keep file order.
        key = (user_code << 32) | (stamp - stamp.min())
        order = np.argsort(key, kind="stable")
        del key
    else:                                    # np.lexsort sorts by its last key first
        order = np.lexsort((stamp, user_code))
    del stamp
    item_raw = (item_raw if row is None else item_raw[row])[order]
    user_code = user_code[order].astype(np.int32)
    starts = np.concatenate([[0], np.cumsum(per_user)[:-1]])            # [U]
    pos = np.arange(len(order), dtype=np.int64) - starts[user_code]
    return Sequences(user_ids, user_code, item_raw, per_user, pos, dropped)


def number_items(seq: Sequences, is_train: np.ndarray):
    """Item ids 1..I-1 by decreasing training frequency (ties: raw id), 0 = padding.

    Returns:
        (items int32 [R] encoded ratings, item_raw_id int64 [I], item_freq int64 [I]).
    """
    catalogue, item_code = dense_codes(seq.item_raw)
    train_count = np.bincount(item_code[is_train], minlength=len(catalogue))
    by_freq = np.lexsort((catalogue, -train_count))                     # old code per new id
    new_id = np.empty(len(catalogue), np.int32)
    new_id[by_freq] = np.arange(1, len(catalogue) + 1, dtype=np.int32)
    item_raw_id = np.concatenate([[-1], catalogue[by_freq]]).astype(np.int64)
    item_freq = np.concatenate([[0], train_count[by_freq]]).astype(np.int64)
    return new_id[item_code], item_raw_id, item_freq


def item_features(raw: RawData, item_raw_id: np.ndarray) -> dict:
    """Titles, years, decade codes and genre codes of the encoded items (row 0 padding)."""
    meta = raw.items.drop_duplicates("item_id").set_index("item_id").reindex(item_raw_id[1:])
    titles = meta["title"].fillna("").to_numpy(object)
    years = meta["year"].fillna(0).to_numpy(np.int64).astype(np.int32)
    decade = np.where(years > 0, years // 10 * 10, 0)
    decade_codes, decade_vocab = _codes([f"{d}s" if d else "" for d in decade])
    genre_lists = [tuple(g) if isinstance(g, tuple) else () for g in meta["genres"]]
    genre_vocab = ("<pad>",) + tuple(sorted({g for gs in genre_lists for g in gs}))
    genre_code = {g: i for i, g in enumerate(genre_vocab)}
    width = max([len(g) for g in genre_lists] + [1])
    genres = np.zeros((len(item_raw_id), width), np.int32)
    for i, gs in enumerate(genre_lists, start=1):
        genres[i, :len(gs)] = [genre_code[g] for g in gs]
    return dict(
        item_title=np.concatenate([np.array(["<pad>"], object), titles]),
        item_year=np.concatenate([[0], years]).astype(np.int32),
        item_features={"year_bucket": np.concatenate([[0], decade_codes]).astype(np.int32),
                       "genres": genres},
        item_vocab={"year_bucket": decade_vocab, "genres": genre_vocab})


def user_features(raw: RawData, user_ids: np.ndarray, zip_prefix: int) -> dict:
    """Profile codes of the kept users (0 = unknown; all 0 without a user file)."""
    prof = raw.users.drop_duplicates("user_id").set_index("user_id").reindex(user_ids)
    gender, gender_vocab = _codes(prof["gender"].fillna("").to_numpy(object))
    ages = prof["age"].fillna(-1).to_numpy(np.int64)
    occupation, occupation_vocab = _codes(prof["occupation"].fillna("").to_numpy(object))
    zips, zip_vocab = _codes([z[:zip_prefix] for z in prof["zip_code"].fillna("")])
    age_vocab = ("<unk>",) + ("<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")
    return dict(
        user_raw_id=user_ids.astype(np.int64),
        user_features={"gender": gender, "age": age_bucket(ages), "occupation": occupation,
                       "zip": zips},
        user_vocab={"gender": gender_vocab, "age": age_vocab,
                    "occupation": occupation_vocab, "zip": zip_vocab})


def check_training_samples(count: int, source: str) -> None:
    """A split without training samples (protocol step 3 needs a user with 4 ratings)."""
    if count == 0:
        raise ValueError(f"{source}: no training samples: every user has at most 3 ratings "
                         "(the last two are held out for validation and test, and a training "
                         "sample needs a history item and a label before them); expected at "
                         "least one user with 4 or more")


def encode(raw: RawData, name: str = "movielens", max_history: int = 50,
           zip_prefix: int = 1) -> Dataset:
    """Encodes and splits parsed MovieLens files (see the module docstring).

    Memory grows with the number of ratings R: the training prefixes are kept as label
    positions (`Prefixes`), their [N, L] histories are built only when asked for.

    Args:
        raw: `recall_models.data.movielens.RawData`.
        name: label kept in `Dataset.name`.
        max_history: L, the cap on history length (>= 1).
        zip_prefix: characters of the zip code kept as the location feature (>= 1).

    Returns:
        `Dataset`.

    Raises:
        ValueError: no ratings, no user with 3 ratings, or no training sample (no user
            with 4).
    """
    check_encode_args(max_history, zip_prefix)
    seq = sort_ratings(raw)
    is_train, is_valid, is_test = seq.split_masks()
    items, item_raw_id, item_freq = number_items(seq, is_train)
    seq.item_raw = None                                                 # no longer needed
    num_users = len(seq.user_ids)

    def item_sets(mask: np.ndarray) -> ItemSets:
        lengths = np.bincount(seq.user[mask], minlength=num_users)
        return ItemSets(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                        items[mask].astype(np.int32))

    def held_out(mask: np.ndarray) -> Samples:
        ends = np.flatnonzero(mask).astype(np.int64)
        counts = np.minimum(seq.pos[ends], max_history).astype(np.int64)
        return Samples(user=seq.user[ends], history=windows(items, ends, counts, max_history),
                       length=counts.astype(np.int32), label=items[ends])

    ends = np.flatnonzero(is_train & (seq.pos >= 1)).astype(np.int64)
    check_training_samples(len(ends), raw.source)
    train = Prefixes(user=seq.user[ends], end=ends, label=items[ends],
                     length=np.minimum(seq.pos[ends], max_history).astype(np.int32),
                     items=items, max_history=max_history)
    return Dataset(
        name=name, num_users=num_users, num_items=len(item_raw_id),
        max_history=max_history, num_ratings=len(items),
        item_raw_id=item_raw_id, item_freq=item_freq, **item_features(raw, item_raw_id),
        **user_features(raw, seq.user_ids, zip_prefix),
        train=train, valid=held_out(is_valid), test=held_out(is_test),
        valid_seen=item_sets(is_train), test_seen=item_sets(~is_test),
        user_sequence=ItemSets(np.concatenate([[0], np.cumsum(seq.per_user)]).astype(np.int64),
                               items), zip_prefix=int(zip_prefix), dropped=seq.dropped)


def resolve(name_or_path) -> tuple[str, Path]:
    """"ml-100k" -> the fetched cache copy; a directory -> itself; another name -> the
    folder of that name in the cache directory (e.g. put ML-1M in <cache>/ml-1m)."""
    text = os.fspath(name_or_path)
    if text in EMBEDDED:
        return text, fetch.ensure_ml100k()
    path = Path(text).expanduser()
    if path.is_dir():
        return path.name, path
    cached = fetch.cache_dir() / text
    if cached.is_dir():
        return text, cached
    raise ValueError(f"dataset={text!r} is neither an embedded dataset ({', '.join(EMBEDDED)}), "
                     f"a directory, nor a folder in the cache {fetch.cache_dir()}")


def load_dataset(name_or_path="ml-100k", max_history: int = 50, format: str | None = None,
                 encoding: str | None = None, zip_prefix: int = 1,
                 inter: str | None = None) -> Dataset:
    """Reads (fetching ML-100K if needed), encodes and splits a MovieLens dataset.

    Args:
        name_or_path: "ml-100k" (embedded, fetched once), a directory of MovieLens files in
            a format of `recall_models.data.movielens`, or the name of a folder in the cache.
        max_history: cap L on history length.
        format, encoding, inter: passed to `recall_models.data.movielens.read_movielens`.
        zip_prefix: characters of the zip code kept as a user feature.

    Returns:
        `Dataset`.
    """
    name, directory = resolve(name_or_path)
    raw = read_movielens(directory, format=format, encoding=encoding, inter=inter)
    return encode(raw, name=name, max_history=max_history, zip_prefix=zip_prefix)


def counted(n: int, noun: str) -> str:
    """'1 user', '2,000 users': a count with its noun in the right number."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def dropped_line(dropped: dict) -> str:
    """What `Dataset.dropped` counts, in words (`data` and `train` print it)."""
    return (f"{counted(dropped['users'], 'user')} with fewer than 3 ratings "
            f"({counted(dropped['ratings'], 'rating')}; {counted(dropped['items'], 'item')} "
            "only they rated)")


def summary(ds: Dataset) -> dict:
    """Counts and history-length quantiles for `python -m recall_models data`."""
    per_user = ds.user_sequence.lengths
    q = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
    num_catalogue = ds.num_items - 1
    return {
        "dataset": ds.name, "users": ds.num_users, "items": num_catalogue,
        "ratings": ds.num_ratings, "repeated_ratings": ds.user_sequence.repeats(),
        "dropped_users": ds.dropped.get("users", 0),
        "dropped_ratings": ds.dropped.get("ratings", 0),
        "dropped_items": ds.dropped.get("items", 0),
        "density": ds.num_ratings / (ds.num_users * num_catalogue),
        "train_samples": len(ds.train), "valid_samples": len(ds.valid),
        "test_samples": len(ds.test), "max_history": ds.max_history,
        "ratings_per_user_quantiles": {f"q{int(p * 100)}": float(np.quantile(per_user, p))
                                       for p in q},
        "train_history_length_quantiles": {
            f"q{int(p * 100)}": float(np.quantile(ds.train.length, p)) for p in q},
        "user_feature_sizes": ds.user_feature_sizes,
        "item_feature_sizes": ds.item_feature_sizes,
    }
