"""Baselines evaluated in the same retrieval harness as the models.

A baseline is a class registered by name in `BASELINES` (decorator `register`). After
`fit(dataset)` it gives one of

- `scorer(dataset, split)`: a callable (q_lo, q_hi, i_lo, i_hi) -> scores [q, i] for the
  evaluation rows q_lo..q_hi-1 of `dataset.samples(split)` (Random, MostPop, ItemKNN);
- `vectors(dataset, split)`: (user_vectors [U, d] or [U, K, d], item_vectors [I, d],
  mask or None) for embedding baselines.

`evaluate_baseline` sends either kind through `recall_models.evaluation.metrics`. item2vec (skip-gram
with negative sampling over users' item sequences, trained with w2v_tf's word2vec once that
exists) slots in as

    @register("item2vec")
    class Item2Vec(Baseline):
        def fit(self, ds, seed=0): ...train on the training sequences...
        def vectors(self, ds, split): return mean of history item vectors, item vectors, None

and needs nothing else here or in the CLI.
"""
from __future__ import annotations

import numpy as np

from recall_models.data.dataset import Dataset, ItemSets
from recall_models.evaluation.metrics import KS, evaluate_retrieval, evaluate_scores

BASELINES: dict[str, type] = {}


def register(name: str):
    """Class decorator adding a baseline to `BASELINES` under `name`."""
    def add(cls):
        if name in BASELINES:
            raise ValueError(f"baseline name {name!r} is already registered")
        cls.name = name
        BASELINES[name] = cls
        return cls
    return add


def make_baseline(name: str, **kwargs) -> "Baseline":
    if name not in BASELINES:
        raise ValueError(f"model={name!r}, expected one of {', '.join(sorted(BASELINES))}")
    return BASELINES[name](**kwargs)


class Baseline:
    """Interface (see the module docstring); `fit` returns self."""
    name = "baseline"

    def fit(self, ds: Dataset, seed: int = 0) -> "Baseline":
        return self

    def scorer(self, ds: Dataset, split: str):
        raise NotImplementedError

    def vectors(self, ds: Dataset, split: str):
        raise NotImplementedError


@register("random")
class RandomBaseline(Baseline):
    """Independent U(0, 1) scores per (user, item): every eligible ranking equally likely,
    so HR@K = K / (number of eligible items) in expectation."""

    def fit(self, ds, seed=0):
        self.seed = seed
        return self

    def scorer(self, ds, split):
        rng = np.random.default_rng(self.seed)
        return lambda q_lo, q_hi, i_lo, i_hi: rng.random((q_hi - q_lo, i_hi - i_lo),
                                                         dtype=np.float32)


@register("mostpop")
class MostPop(Baseline):
    """score(u, i) = number of training occurrences of i, the same list for every user."""

    def fit(self, ds, seed=0):
        self.freq = ds.item_freq.astype(np.float32)          # [I]
        return self

    def scorer(self, ds, split):
        return lambda q_lo, q_hi, i_lo, i_hi: np.broadcast_to(
            self.freq[i_lo:i_hi], (q_hi - q_lo, i_hi - i_lo))


def binary_matrix(sets: ItemSets, num_items: int):
    """scipy CSR [rows, num_items] with a 1 for every (row, item) in `sets`."""
    import scipy.sparse as sp
    data = np.ones(len(sets.indices), np.float32)
    x = sp.csr_matrix((data, sets.indices, sets.indptr), shape=(len(sets), num_items))
    x.sum_duplicates()
    x.data[:] = 1.0
    return x


@register("itemknn")
class ItemKNN(Baseline):
    """Item-item cosine similarity on user co-occurrence, summed over the user's history.

    With X [U, I] the binary user-item matrix of the training sequences (s_1..s_{n-2}),
    C = X^T X (C_ij = users who have both i and j),
        S_ij = C_ij / sqrt(C_ii C_jj),  S_ii = 0,
    optionally keeping the `neighbours` largest entries of each row, and
        score(u, j) = sum_{i in history(u)} S_ij = (h_u S)_j,
    with h_u the binary vector of the items before the held-out one.
    """

    def __init__(self, neighbours: int | None = None):
        if neighbours is not None and (not isinstance(neighbours, int) or neighbours < 1):
            raise ValueError(f"neighbours={neighbours!r}, expected a positive int or None")
        self.neighbours = neighbours

    def fit(self, ds, seed=0):
        import scipy.sparse as sp
        x = binary_matrix(ds.valid_seen, ds.num_items)          # [U, I], training items
        c = (x.T @ x).tocsr().astype(np.float32)                 # [I, I] co-occurrence
        norm = np.sqrt(c.diagonal())                             # sqrt(C_ii)
        inv = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)
        s = (sp.diags(inv) @ c @ sp.diags(inv)).tocsr()          # C_ij / sqrt(C_ii C_jj)
        s.setdiag(0.0)
        s.eliminate_zeros()
        if self.neighbours is not None:
            s = _keep_top(s, self.neighbours)
        self.sim = s
        return self

    def scorer(self, ds, split):
        samples = ds.samples(split)
        h = binary_matrix(ds.seen(split).subset(samples.user), ds.num_items)  # [U, I]

        def score(q_lo, q_hi, i_lo, i_hi):
            return (h[q_lo:q_hi] @ self.sim[:, i_lo:i_hi]).toarray()
        return score


def _keep_top(s, n: int):
    """Keeps the n largest entries of each row of CSR matrix `s`."""
    import scipy.sparse as sp
    rows, cols, vals = [], [], []
    for r in range(s.shape[0]):
        lo, hi = s.indptr[r], s.indptr[r + 1]
        if hi - lo > n:
            top = np.argpartition(-s.data[lo:hi], n - 1)[:n] + lo
        else:
            top = np.arange(lo, hi)
        rows.append(np.full(len(top), r))
        cols.append(s.indices[top])
        vals.append(s.data[top])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=s.shape)


def evaluate_baseline(model: Baseline, ds: Dataset, split: str = "test", ks=KS,
                      progress: bool = False) -> dict:
    """Fitted `model` through the harness on `split` ("valid" or "test"), both modes."""
    if split not in ("valid", "test"):
        raise ValueError(f"split={split!r}, expected 'valid' or 'test' (one held-out item "
                         "per user)")
    samples = ds.samples(split)
    exclude = ds.seen(split).subset(samples.user)
    if type(model).vectors is not Baseline.vectors:
        users, items, mask = model.vectors(ds, split)
        return evaluate_retrieval(users, items, samples.label, exclude=exclude, ks=ks,
                                  mask=mask, progress=progress)
    return evaluate_scores(model.scorer(ds, split), ds.num_items, samples.label,
                           exclude=exclude, ks=ks, progress=progress)


@register("item2vec")
class Item2Vec(Baseline):
    """item2vec (Barkan & Koenigstein 2016): skip-gram with negative sampling over each
    user's *training* sequence (items before the validation item, in time order), trained
    with `w2v_tf.word2vec.train`.

    A user is the mean of the L2-normalised vectors of the last `recent` items of their
    history (all of it if None); items are scored by dot product with the normalised item
    vectors. Recency matters: with the same vectors, the last few items retrieved better than
    the whole history on ML-100K during development (`recent=None` restores the mean of all). Item ids are already sorted by decreasing training frequency
    (id 0 is padding), so word id = item id - 1 and the unigram^0.75 sampler needs no remap.
    Items never seen in training get a zero vector (score 0).
    """

    def __init__(self, dim: int = 64, window: int = 5, negatives: int = 5, epochs: int = 10,
                 sample: float = 1e-3, batch_size: int = 1024, recent: int | None = 5):
        self.recent = recent
        self.params = dict(dim=dim, window=window, negatives=negatives, epochs=epochs,
                           sample=sample, batch_size=batch_size)

    def fit(self, ds, seed=0):
        from w2v_tf.word2vec import train
        seqs = [ds.user_sequence[u][:-2] for u in range(len(ds.user_sequence))]
        counts = np.bincount(np.concatenate(seqs), minlength=ds.num_items)[1:]   # [I-1]
        vocab = int(np.count_nonzero(counts))
        if np.any(counts[:vocab] == 0) or np.any(np.diff(counts[:vocab]) > 0):
            raise ValueError("item ids must be sorted by decreasing training frequency "
                             "(recall_models.data.dataset.encode does this)")
        encoded = [s.astype(np.int64) - 1 for s in seqs if len(s) > 1]
        model, self.stats = train(encoded, counts[:vocab], arch="skipgram", loss="neg",
                                  seed=seed, progress=False, **self.params)
        vectors = np.zeros((ds.num_items, self.params["dim"]), np.float32)
        vectors[1:vocab + 1] = model.word_vectors()
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.item_vectors = np.divide(vectors, norms, out=np.zeros_like(vectors),
                                      where=norms > 0)
        return self

    def vectors(self, ds, split):
        samples = ds.samples(split)
        hist, length = samples.history, samples.length        # [U, H] time order, 0-padded
        keep = np.arange(hist.shape[1])[None, :] < length[:, None]
        if self.recent is not None:
            keep &= np.arange(hist.shape[1])[None, :] >= (length - self.recent)[:, None]
        vecs = self.item_vectors[hist] * keep[:, :, None]                # [U, H, d]
        users = vecs.sum(1) / np.maximum(keep.sum(1), 1)[:, None]
        return users.astype(np.float32), self.item_vectors, None
