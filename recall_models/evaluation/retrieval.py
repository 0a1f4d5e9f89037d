"""Top-K retrieval over the whole catalogue: exact (TensorFlow, faiss) and approximate.

Every path returns `(scores, ids)`, both [U, k], best first, ties broken by the lower item
id; item 0 (padding) is never returned, nor an excluded item. When fewer than k items are
eligible the tail is filled with id -1 and score -inf.

- `search_scores(scorer, ...)`: the one TensorFlow top-k path. `scorer(q_lo, q_hi, i_lo,
  i_hi)` returns the [q_hi-q_lo, i_hi-i_lo] block of the score matrix, so score-matrix
  baselines (MostPop, Random, ItemKNN) and embedding models share it. Memory is bounded
  by chunking queries *and* items: for each query chunk the catalogue is scanned in item
  chunks and a running top-k is merged, top_k(concat(best, top_k(block))).
- `search_vectors(user_vectors, item_vectors, ...)`: exact inner-product search,
  score(u, i) = max_{j active} <x_uj, e_i> for multi-interest users [U, K, d] (protocol
  step 5); with `backend="tf"` a matmul per block through `search_scores`, with
  `backend="faiss"` an `IndexFlatIP` (or any faiss index, e.g. `build_index("hnsw")`).
- `overlap(a, b)`: recall of an approximate top-k against the exact one.

Multi-interest over faiss: each active interest is searched for its own top-k' and the
candidates are merged by max score. This is exact for the max-score ranking: if item i is
in the true top-k with its best interest j*, every item above i under interest j* has a
max score above s_i as well, so fewer than k items precede i in j*'s list.
"""
from __future__ import annotations

import numpy as np

from recall_models.data.dataset import ItemSets

DEFAULT_BLOCK = 1 << 22       # score-block elements (float32: 16 MiB) held at once
DEFAULT_ITEM_CHUNK = 1 << 16  # catalogue slice scored per block


def as_item_sets(exclude, num_queries: int) -> ItemSets | None:
    """None, an `ItemSets` or a sequence of id arrays -> `ItemSets` with `num_queries` rows."""
    if exclude is None:
        return None
    sets = exclude if isinstance(exclude, ItemSets) else ItemSets.from_lists(list(exclude))
    if len(sets) != num_queries:
        raise ValueError(f"exclude has {len(sets)} rows, expected one per query "
                         f"({num_queries})")
    return sets


def _check_k(k, num_items):
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k={k!r}, expected a positive integer")
    if num_items < 2:
        raise ValueError(f"num_items={num_items}, expected >= 2 (id 0 is padding)")


def search_scores(scorer, num_queries: int, num_items: int, k: int, exclude=None,
                  query_chunk: int | None = None, item_chunk: int = DEFAULT_ITEM_CHUNK,
                  progress: bool = False):
    """Exact top-k of a score matrix given block by block (TensorFlow top_k).

    Args:
        scorer: callable (q_lo, q_hi, i_lo, i_hi) -> float scores [q_hi-q_lo, i_hi-i_lo]
            (numpy or tensor) for queries q_lo..q_hi-1 and items i_lo..i_hi-1.
        num_queries: U.
        num_items: I, including padding id 0.
        k: how many items to return per query.
        exclude: None, `ItemSets` or a list of id arrays, one per query: never returned.
        query_chunk: queries per block (default: DEFAULT_BLOCK // item block width).
        item_chunk: items per block.
        progress: show a tqdm bar over query chunks.

    Returns:
        (scores float32 [U, k], ids int64 [U, k]).
    """
    import tensorflow as tf
    from tqdm.auto import tqdm

    _check_k(k, num_items)
    exclude = as_item_sets(exclude, num_queries)
    item_chunk = max(1, min(int(item_chunk), num_items))
    query_chunk = query_chunk or max(1, DEFAULT_BLOCK // item_chunk)
    out_s = np.full((num_queries, k), -np.inf, np.float32)
    out_i = np.full((num_queries, k), -1, np.int64)
    for q_lo in tqdm(range(0, num_queries, query_chunk), disable=not progress,
                     desc="retrieval", unit="chunk"):
        q_hi = min(q_lo + query_chunk, num_queries)
        if exclude is not None:
            rows, cols = exclude.subset(np.arange(q_lo, q_hi)).pairs()
        best_s = best_i = None
        for i_lo in range(0, num_items, item_chunk):
            i_hi = min(i_lo + item_chunk, num_items)
            block = tf.cast(tf.convert_to_tensor(scorer(q_lo, q_hi, i_lo, i_hi)), tf.float32)
            if tuple(block.shape) != (q_hi - q_lo, i_hi - i_lo):
                raise ValueError(f"scorer returned shape {tuple(block.shape)} for queries "
                                 f"{q_lo}:{q_hi}, items {i_lo}:{i_hi}; expected "
                                 f"{(q_hi - q_lo, i_hi - i_lo)}")
            # s[q, 0] = -inf for the padding item; s[q, i] = -inf for excluded (q, i).
            drop_r, drop_c = np.zeros(0, np.int64), np.zeros(0, np.int64)
            if i_lo == 0:
                drop_r, drop_c = np.arange(q_hi - q_lo), np.zeros(q_hi - q_lo, np.int64)
            if exclude is not None:
                inside = (cols >= i_lo) & (cols < i_hi)
                drop_r = np.concatenate([drop_r, rows[inside]])
                drop_c = np.concatenate([drop_c, cols[inside] - i_lo])
            if len(drop_r):
                block = tf.tensor_scatter_nd_update(
                    block, np.stack([drop_r, drop_c], axis=1),
                    tf.fill([len(drop_r)], -np.inf))
            s, i = tf.math.top_k(block, k=min(k, i_hi - i_lo), sorted=True)   # [q, k']
            i = tf.cast(i, tf.int64) + i_lo
            if best_s is not None:
                # Earlier chunks hold lower ids and come first, so top_k's "lower index
                # first" keeps ties ordered by item id.
                s, pick = tf.math.top_k(tf.concat([best_s, s], 1), k=min(k, best_s.shape[1]
                                                                        + s.shape[1]))
                i = tf.gather(tf.concat([best_i, i], 1), pick, batch_dims=1)
            best_s, best_i = s, i
        width = best_s.shape[1]
        out_s[q_lo:q_hi, :width] = best_s.numpy()
        out_i[q_lo:q_hi, :width] = best_i.numpy()
    out_i[np.isneginf(out_s)] = -1
    return out_s, out_i


def _check_vectors(user_vectors, item_vectors, mask):
    users = np.asarray(user_vectors, dtype=np.float32)
    items = np.asarray(item_vectors, dtype=np.float32)
    if items.ndim != 2:
        raise ValueError(f"item_vectors has shape {items.shape}, expected [num_items, d]")
    if users.ndim == 2:
        users = users[:, None, :]
    if users.ndim != 3 or users.shape[2] != items.shape[1]:
        raise ValueError(f"user_vectors has shape {np.shape(user_vectors)}, expected [U, d] "
                         f"or [U, K, d] with d = {items.shape[1]}")
    if mask is None:
        mask = np.ones(users.shape[:2], bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != users.shape[:2]:
        raise ValueError(f"mask has shape {mask.shape}, expected {users.shape[:2]}")
    if not mask.any(axis=1).all():
        bad = int(np.flatnonzero(~mask.any(axis=1))[0])
        raise ValueError(f"mask: user {bad} has no active interest; expected at least one")
    return users, items, mask


def search_vectors(user_vectors, item_vectors, k: int, exclude=None, mask=None,
                   backend: str = "tf", index=None, item_chunk: int = DEFAULT_ITEM_CHUNK,
                   progress: bool = False):
    """Exact (or, with an approximate `index`, approximate) max-inner-product top-k.

    Args:
        user_vectors: [U, d], or [U, K, d] for multi-interest users.
        item_vectors: [I, d]; row 0 is the padding item and is never returned.
        k: items per user.
        exclude: None, `ItemSets` or list of id arrays per user (history filtering).
        mask: bool [U, K], True on active interests (default all).
        backend: "tf" (matmul + top_k) or "faiss".
        index: faiss index over item_vectors[1:] (see `build_index`); faiss backend only;
            default an exact `IndexFlatIP`.
        item_chunk: catalogue slice per TF block.
        progress: tqdm bar.

    Returns:
        (scores float32 [U, k], ids int64 [U, k]); score(u, i) = max_{j: mask[u, j]} <x_uj, e_i>.
    """
    users, items, mask = _check_vectors(user_vectors, item_vectors, mask)
    _check_k(k, len(items))
    if backend == "faiss":
        return _search_faiss(users, items, k, as_item_sets(exclude, len(users)), mask, index)
    if backend != "tf":
        raise ValueError(f"backend={backend!r}, expected 'tf' or 'faiss'")
    if index is not None:
        raise ValueError("index= is for backend='faiss'")
    import tensorflow as tf

    x = tf.constant(users)                                   # [U, K, d]
    e = tf.constant(items)                                   # [I, d]
    active = tf.constant(mask)                               # [U, K]

    def scorer(q_lo, q_hi, i_lo, i_hi):
        # s[u, j, i] = <x_uj, e_i>;  score[u, i] = max over active j.
        s = tf.einsum("ujd,id->uji", x[q_lo:q_hi], e[i_lo:i_hi])
        s = tf.where(active[q_lo:q_hi, :, None], s, -np.inf)
        return tf.reduce_max(s, axis=1)

    item_chunk = max(1, min(int(item_chunk), len(items)))
    query_chunk = max(1, DEFAULT_BLOCK // (item_chunk * users.shape[1]))
    return search_scores(scorer, len(users), len(items), k, exclude=exclude,
                         query_chunk=query_chunk, item_chunk=item_chunk, progress=progress)


def build_index(item_vectors, kind: str = "flat", hnsw_m: int = 32, ef_search: int = 64,
                nlist: int | None = None, nprobe: int = 8, seed: int = 0):
    """A faiss inner-product index over item_vectors[1:] (padding row 0 left out).

    Args:
        item_vectors: [I, d].
        kind: "flat" (exact IndexFlatIP), "hnsw" (IndexHNSWFlat, M = hnsw_m, efSearch =
            ef_search) or "ivf" (IndexIVFFlat with nlist lists, nprobe probed; default
            nlist ~ 4 sqrt(I)).
        seed: k-means seed for "ivf".

    Returns:
        A faiss index whose internal id j is item j + 1.
    """
    import faiss

    items = np.ascontiguousarray(np.asarray(item_vectors, np.float32)[1:])
    d = items.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = ef_search
    elif kind == "ivf":
        nlist = nlist or max(1, min(len(items) // 39, int(4 * np.sqrt(len(items)))))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.train(items)
        index.nprobe = min(nprobe, nlist)
    else:
        raise ValueError(f"kind={kind!r}, expected 'flat', 'hnsw' or 'ivf'")
    index.add(items)
    return index


def _search_faiss(users, items, k, exclude, mask, index, query_chunk: int = 4096):
    import faiss

    if index is None:
        index = build_index(items, "flat")
    if index.ntotal != len(items) - 1:
        raise ValueError(f"index holds {index.ntotal} vectors, expected {len(items) - 1} "
                         "(item_vectors without the padding row)")
    num_items = len(items)
    n_u, n_k, d = users.shape
    out_s = np.full((n_u, k), -np.inf, np.float32)
    out_i = np.full((n_u, k), -1, np.int64)
    for lo in range(0, n_u, query_chunk):
        hi = min(lo + query_chunk, n_u)
        q = hi - lo
        sub = exclude.subset(np.arange(lo, hi)) if exclude is not None else None
        # Over-fetch so that k items survive the exclusion of at most max|seen| items.
        extra = int(sub.lengths.max()) if sub is not None and len(sub.indices) else 0
        fetch = min(num_items - 1, k + extra)
        flat = np.ascontiguousarray(users[lo:hi].reshape(q * n_k, d))
        s, j = index.search(flat, fetch)                       # [q*K, fetch]
        s = s.reshape(q, n_k * fetch).astype(np.float32)
        ids = np.where(j < 0, -1, j + 1).reshape(q, n_k * fetch)   # faiss id j = item j+1
        s[~np.repeat(mask[lo:hi], fetch, axis=1)] = -np.inf       # inactive interests
        s[ids < 0] = -np.inf
        if sub is not None and len(sub.indices):
            r, c = sub.pairs()
            banned = np.isin(np.arange(q)[:, None] * num_items + ids, r * num_items + c)
            s[banned] = -np.inf
        # Unique items per user, keeping each item's max score over interests.
        row = np.repeat(np.arange(q), ids.shape[1])
        order = np.lexsort((-s.ravel(), ids.ravel(), row))
        first = np.ones(order.size, bool)
        first[1:] = ((row[order][1:] != row[order][:-1])
                     | (ids.ravel()[order][1:] != ids.ravel()[order][:-1]))
        dup = np.zeros(order.size, bool)
        dup[order[~first]] = True
        s[dup.reshape(s.shape)] = -np.inf
        # Best first, ties by lower id.
        order = _row_order(s, ids)
        top = order[:, :k]
        width = top.shape[1]
        out_s[lo:hi, :width] = np.take_along_axis(s, top, 1)
        out_i[lo:hi, :width] = np.take_along_axis(ids, top, 1)
    out_i[np.isneginf(out_s)] = -1
    return out_s, out_i


def _row_order(s, ids):
    """Per-row argsort by (-score, id)."""
    rows = np.repeat(np.arange(s.shape[0]), s.shape[1])
    order = np.lexsort((ids.ravel(), -s.ravel(), rows)).reshape(s.shape)
    return order - (np.arange(s.shape[0]) * s.shape[1])[:, None]


def overlap(approx_ids, exact_ids) -> float:
    """Recall of an approximate top-k against the exact top-k: mean_u |A_u ∩ E_u| / |E_u|."""
    approx_ids, exact_ids = np.asarray(approx_ids), np.asarray(exact_ids)
    if approx_ids.shape != exact_ids.shape:
        raise ValueError(f"approx_ids {approx_ids.shape} and exact_ids {exact_ids.shape} "
                         "must have the same shape")
    hits = [len(np.intersect1d(a[a >= 0], e[e >= 0])) / max(1, int((e >= 0).sum()))
            for a, e in zip(approx_ids, exact_ids)]
    return float(np.mean(hits))
