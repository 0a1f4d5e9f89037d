"""Baselines evaluated in the same retrieval harness as the models.

A baseline is a class registered by name in `BASELINES` (decorator `register`). After
`fit(dataset)` it gives one of

- `scorer(dataset, split)`: a callable (q_lo, q_hi, i_lo, i_hi) -> scores [q, i] for the
  evaluation rows q_lo..q_hi-1 of `dataset.samples(split)` (Random, MostPop, ItemKNN);
- `vectors(dataset, split)`: (user_vectors [U, d] or [U, K, d], item_vectors [I, d],
  mask or None) for embedding baselines.

`evaluate_baseline` sends either kind through `recall_models.evaluate`. item2vec (skip-gram
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

from recall_models.data import Dataset, ItemSets
from recall_models.evaluate import KS, evaluate_retrieval, evaluate_scores

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
