"""Retrieval metrics over the whole catalogue: HR@K, NDCG@K, MRR, filtered and unfiltered.

Protocol steps 3-4 (docs/recall-protocol.md). Each user has one held-out target item t_u.
With r_u the 0-based position of t_u in the user's retrieved list (r_u = inf when it is not
among the first max(ks)):

    HR@K   = mean_u [r_u < K]                      (= Recall@K with one target)
    NDCG@K = mean_u [r_u < K] / log2(r_u + 2)      (one relevant item, so IDCG = 1)
    MRR    = mean_u [r_u < K_max] / (r_u + 1)      (cut at K_max = max(ks), like MRR@100)

Two modes:
- "filtered" (primary): items in the user's history (everything before the target) are
  removed before ranking, so the list holds only new items; the target itself is never
  removed, even when the user rated it before (repeated ratings, as in view logs);
- "unfiltered": every catalogue item competes (comparable to DeepMatch's figures).
Padding id 0 is never retrieved in either mode.

Result layout (stable: the README table and the model issues read it; `--json` prints it):

    {"filtered": {"hr@10": ..., "hr@20": ..., "hr@50": ..., "hr@100": ...,
                  "ndcg@10": ..., ..., "ndcg@100": ..., "mrr": ...},
     "unfiltered": {... same keys ...},
     "ks": [10, 20, 50, 100], "num_users": U, "num_items": I - 1 (catalogue, no padding)}

"filtered" is present only when an exclusion set is given; with `approximate=` the
result also holds "approximate": {"index": "hnsw", "recall_vs_exact": {mode: recall}}.
"""
from __future__ import annotations

import numpy as np

from recall_models.evaluation import retrieval

KS = (10, 20, 50, 100)


def target_ranks(top_ids, targets) -> np.ndarray:
    """0-based position of each target in its row of `top_ids`, or -1 when absent.

    Args:
        top_ids: int [U, k] retrieved ids, best first.
        targets: int [U].

    Returns:
        int64 [U].
    """
    top_ids, targets = np.asarray(top_ids), np.asarray(targets)
    if top_ids.ndim != 2 or targets.shape != (top_ids.shape[0],):
        raise ValueError(f"top_ids {top_ids.shape} and targets {targets.shape}: expected "
                         "[U, k] and [U]")
    hit = top_ids == targets[:, None]                        # [U, k]
    return np.where(hit.any(axis=1), hit.argmax(axis=1), -1).astype(np.int64)


def metrics_from_ranks(ranks, ks=KS) -> dict:
    """HR@K, NDCG@K for K in `ks`, and MRR (cut at max(ks)), from `target_ranks`."""
    ranks = np.asarray(ranks)
    if ranks.size == 0:
        raise ValueError("ranks is empty: no user to evaluate")
    found = ranks >= 0
    r = np.where(found, ranks, 0).astype(np.float64)        # safe denominators
    out = {}
    for k in ks:
        out[f"hr@{k}"] = float((found & (ranks < k)).mean())
    for k in ks:
        # NDCG with one relevant item: DCG = 1 / log2(rank + 2), IDCG = 1.
        out[f"ndcg@{k}"] = float(np.where(found & (ranks < k), 1.0 / np.log2(r + 2.0),
                                          0.0).mean())
    k_max = max(ks)
    out["mrr"] = float(np.where(found & (ranks < k_max), 1.0 / (r + 1.0), 0.0).mean())
    return out


def _check_ks(ks):
    ks = tuple(int(k) for k in ks)
    if not ks or min(ks) < 1:
        raise ValueError(f"ks={ks!r}, expected positive integers")
    return ks


def _report(search, targets, exclude, ks, num_items) -> dict:
    """Runs `search(exclude) -> (scores, ids)` in both modes and computes the metrics."""
    targets = np.asarray(targets, dtype=np.int64)
    if targets.ndim != 1:
        raise ValueError(f"targets has shape {targets.shape}, expected [U]")
    if ((targets < 1) | (targets >= num_items)).any():
        bad = targets[(targets < 1) | (targets >= num_items)][0]
        raise ValueError(f"targets holds {bad}, expected item ids in 1..{num_items - 1}")
    if exclude is not None:
        # The target is never filtered out, even when the user rated it before (a repeat).
        exclude = retrieval.as_item_sets(exclude, len(targets)).without(targets)
    out = {}
    modes = (("filtered", exclude), ("unfiltered", None)) if exclude is not None else (
        ("unfiltered", None),)
    for mode, excl in modes:
        _, ids = search(excl)
        out[mode] = metrics_from_ranks(target_ranks(ids, targets), ks)
    out.update(ks=list(ks), num_users=int(len(targets)), num_items=int(num_items - 1))
    return out


def evaluate_retrieval(user_vectors, item_vectors, targets, exclude=None, ks=KS,
                       backend: str = "tf", mask=None, index=None,
                       approximate: str | None = None, progress: bool = False) -> dict:
    """Metrics of embedding retrieval: score(u, i) = max over active interests <x_uj, e_i>.

    Args:
        user_vectors: [U, d] or [U, K, d] (multi-interest).
        item_vectors: [I, d], row 0 = padding (never retrieved).
        targets: int [U] held-out item per user.
        exclude: per-user history (`ItemSets` or list of id arrays) for the filtered mode;
            None evaluates the unfiltered mode only.
        ks: cut-offs.
        backend: "tf" or "faiss" (exact unless `index` is approximate).
        mask: bool [U, K] active interests.
        index: faiss index from `retrieval.build_index` (backend "faiss").
        approximate: None, "hnsw" or "ivf": metrics come from that faiss index (default
            parameters of `retrieval.build_index`), and the result gains
            "approximate": {"index": kind, "recall_vs_exact": {mode: overlap of the
            top-max(ks) lists with exact TF search}}.
        progress: tqdm bar.

    Returns:
        dict laid out as in the module docstring.
    """
    ks = _check_ks(ks)
    num_items = np.shape(item_vectors)[0]
    if approximate is not None:
        if approximate not in ("hnsw", "ivf"):
            raise ValueError(f"approximate={approximate!r}, expected None, 'hnsw' or 'ivf'")
        backend, index = "faiss", retrieval.build_index(item_vectors, approximate)
    recall = {}

    def search(excl):
        found = retrieval.search_vectors(user_vectors, item_vectors, max(ks), exclude=excl,
                                         mask=mask, backend=backend, index=index,
                                         progress=progress)
        if approximate is not None:
            _, exact = retrieval.search_vectors(user_vectors, item_vectors, max(ks),
                                                exclude=excl, mask=mask, backend="tf")
            recall["filtered" if excl is not None else "unfiltered"] = retrieval.overlap(
                found[1], exact)
        return found
    out = _report(search, targets, exclude, ks, num_items)
    if approximate is not None:
        out["approximate"] = {"index": approximate, "recall_vs_exact": recall}
    return out


def evaluate_scores(scorer, num_items: int, targets, exclude=None, ks=KS,
                    progress: bool = False) -> dict:
    """Metrics of a score-matrix model (MostPop, Random, ItemKNN), same top-k path.

    Args:
        scorer: (q_lo, q_hi, i_lo, i_hi) -> scores [q_hi-q_lo, i_hi-i_lo] for users
            q_lo..q_hi-1 (rows of `targets`) and items i_lo..i_hi-1.
        num_items: I including padding.
        targets, exclude, ks, progress: as in `evaluate_retrieval`.
    """
    ks = _check_ks(ks)
    targets = np.asarray(targets)

    def search(excl):
        return retrieval.search_scores(scorer, len(targets), num_items, max(ks),
                                       exclude=excl, progress=progress)
    return _report(search, targets, exclude, ks, num_items)


def format_table(result: dict) -> str:
    """Plain-text table: one row per metric, one column per mode."""
    modes = [m for m in ("filtered", "unfiltered") if m in result]
    names = list(result[modes[0]])
    lines = [f"{'metric':<10}" + "".join(f"{m:>12}" for m in modes)]
    for name in names:
        lines.append(f"{name:<10}" + "".join(f"{result[m][name]:>12.4f}" for m in modes))
    return "\n".join(lines)
