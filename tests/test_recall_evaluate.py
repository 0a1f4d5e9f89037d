"""Retrieval (TF, faiss, approximate), metrics and baselines against numpy oracles and hand sums."""
import argparse
import json

import numpy as np
import pytest

from recall_models import evaluate_cli
from recall_models.evaluation import baselines, retrieval
from recall_models.data.dataset import ItemSets, load_dataset
from recall_models.evaluation.metrics import (evaluate_retrieval, evaluate_scores, metrics_from_ranks,
                                    target_ranks)


@pytest.fixture(scope="module")
def ml100k():
    return load_dataset("ml-100k")


def numpy_top_k(scores, k, exclude=None):
    """Oracle: drop padding and excluded items, sort by (-score, id), keep k."""
    s = np.array(scores, dtype=np.float64)
    s[:, 0] = -np.inf
    for u, items in enumerate(exclude or []):
        s[u, np.asarray(items, dtype=np.int64)] = -np.inf
    s = np.pad(s, ((0, 0), (0, max(0, k - s.shape[1]))), constant_values=-np.inf)
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return np.where(np.isneginf(np.take_along_axis(s, order, 1)), -1, order)


def random_exclusions(rng, num_users, num_items, most):
    return [rng.choice(np.arange(1, num_items), size=int(rng.integers(0, most)), replace=False)
            for _ in range(num_users)]


# --------------------------------------------------------------------------- metrics

def test_metrics_by_hand():
    # Ranks 0, 2, absent, 9, 10 with K in (1, 3, 10).
    m = metrics_from_ranks(np.array([0, 2, -1, 9, 10]), ks=(1, 3, 10))
    assert m["hr@1"] == pytest.approx(1 / 5)
    assert m["hr@3"] == pytest.approx(2 / 5)
    assert m["hr@10"] == pytest.approx(3 / 5)
    assert m["ndcg@1"] == pytest.approx(1 / 5)
    assert m["ndcg@3"] == pytest.approx((1 + 1 / np.log2(4)) / 5)
    assert m["ndcg@10"] == pytest.approx((1 + 0.5 + 1 / np.log2(11)) / 5)
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 10) / 5)      # cut at K_max = 10
    assert list(m) == ["hr@1", "hr@3", "hr@10", "ndcg@1", "ndcg@3", "ndcg@10", "mrr"]


def test_target_ranks():
    top = np.array([[5, 3, 9], [1, 2, 4], [7, 8, 6]])
    np.testing.assert_array_equal(target_ranks(top, np.array([9, 1, 5])), [2, 0, -1])


def test_filtered_and_unfiltered_differ_by_hand():
    # 2 users, items 1..5 (0 = padding, given the highest score: it must never come back).
    scores = np.array([[9.0, 5, 4, 3, 2, 1],
                       [9.0, 1, 2, 3, 4, 5]], np.float32)
    targets = np.array([2, 3])
    exclude = [[1], [5, 4]]
    # Unfiltered ranking: user 0: 1 2 3 4 5 (target rank 1); user 1: 5 4 3 2 1 (rank 2).
    # Filtered: user 0: 2 3 4 5 (rank 0); user 1: 3 2 1 (rank 0).
    result = evaluate_scores(lambda q0, q1, i0, i1: scores[q0:q1, i0:i1], 6, targets,
                             exclude=exclude, ks=(1, 2, 3))
    assert result["unfiltered"]["hr@1"] == 0.0
    assert result["unfiltered"]["hr@2"] == pytest.approx(0.5)
    assert result["unfiltered"]["hr@3"] == 1.0
    assert result["unfiltered"]["ndcg@3"] == pytest.approx((1 / np.log2(3) + 1 / np.log2(4)) / 2)
    assert result["unfiltered"]["mrr"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert result["filtered"] == {"hr@1": 1.0, "hr@2": 1.0, "hr@3": 1.0, "ndcg@1": 1.0,
                                  "ndcg@2": 1.0, "ndcg@3": 1.0, "mrr": 1.0}
    assert (result["num_users"], result["num_items"], result["ks"]) == (2, 5, [1, 2, 3])


def test_a_target_rated_before_is_never_filtered_out():
    # User 0 rated its target 2 before (a repeat), user 1 did not; 1 and 5 stay excluded.
    scores = np.array([[9.0, 5, 4, 3, 2, 1],
                       [9.0, 1, 2, 3, 4, 5]], np.float32)
    exclude = [[1, 2], [5, 3]]
    result = evaluate_scores(lambda q0, q1, i0, i1: scores[q0:q1, i0:i1], 6,
                             np.array([2, 4]), exclude=exclude, ks=(1, 2))
    # Filtered: user 0 ranks 2 3 4 5 (target at 0); user 1 ranks 4 2 1 (target at 0).
    assert result["filtered"]["hr@1"] == 1.0
    assert result["unfiltered"]["hr@1"] == 0.0 and result["unfiltered"]["hr@2"] == 1.0
    sets = ItemSets.from_lists(exclude).without([2, 4])
    assert [sets[0].tolist(), sets[1].tolist()] == [[1], [5, 3]]


# --------------------------------------------------------------------------- retrieval

@pytest.mark.parametrize("k,item_chunk,query_chunk", [(1, 1000, None), (10, 7, 3),
                                                      (50, 64, 16), (200, 1000, None)])
def test_search_scores_matches_numpy(k, item_chunk, query_chunk):
    rng = np.random.default_rng(k)
    scores = rng.normal(size=(40, 150)).astype(np.float32)
    scores[:, 20:40] = 0.5                 # a block of exact ties: broken by lower id
    exclude = random_exclusions(rng, 40, 150, 60)
    _, ids = retrieval.search_scores(lambda q0, q1, i0, i1: scores[q0:q1, i0:i1], 40, 150, k,
                                     exclude=exclude, item_chunk=item_chunk,
                                     query_chunk=query_chunk)
    np.testing.assert_array_equal(ids, numpy_top_k(scores, k, exclude))
    assert (ids != 0).all()


@pytest.mark.parametrize("num_interests", [1, 4])
@pytest.mark.parametrize("filtered", [False, True])
def test_tf_and_faiss_exact_search_agree_with_numpy(num_interests, filtered):
    rng = np.random.default_rng(10 * num_interests + filtered)
    users = rng.normal(size=(64, num_interests, 8)).astype(np.float32)
    items = rng.normal(size=(500, 8)).astype(np.float32)
    mask = rng.random((64, num_interests)) < 0.6
    mask[:, 0] = True
    exclude = random_exclusions(rng, 64, 500, 120) if filtered else None
    s_tf, i_tf = retrieval.search_vectors(users, items, 50, exclude=exclude, mask=mask,
                                          backend="tf", item_chunk=97)
    s_fa, i_fa = retrieval.search_vectors(users, items, 50, exclude=exclude, mask=mask,
                                          backend="faiss")
    # Oracle: score(u, i) = max over active interests of <x_uj, e_i>.
    dots = np.einsum("ujd,id->uji", users.astype(np.float64), items)
    oracle = np.where(mask[:, :, None], dots, -np.inf).max(axis=1)
    expected = numpy_top_k(oracle, 50, exclude)
    np.testing.assert_array_equal(i_tf, expected)
    np.testing.assert_array_equal(i_fa, expected)
    # float32 dot products of length 8: rounding well below 1e-5.
    np.testing.assert_allclose(s_tf, np.take_along_axis(oracle, expected, 1), atol=1e-5)
    np.testing.assert_allclose(s_fa, s_tf, atol=1e-5)
    for row in i_fa:                        # top-K unique items
        assert len(set(row.tolist())) == len(row)


def test_multi_interest_equals_best_single_interest_merge():
    """Two interests with disjoint favourite items: the merged list holds both."""
    items = np.zeros((7, 2), np.float32)
    items[1:4, 0] = [3, 2, 1]             # items 1-3 lie along interest a
    items[4:7, 1] = [2.5, 1.5, 0.5]       # items 4-6 along interest b
    users = np.array([[[1, 0], [0, 1]]], np.float32)          # [1, 2, 2]
    for backend in ("tf", "faiss"):
        _, ids = retrieval.search_vectors(users, items, 4, backend=backend)
        assert ids.tolist() == [[1, 4, 2, 5]]
        _, ids = retrieval.search_vectors(users, items, 4, backend=backend,
                                          mask=np.array([[False, True]]))
        assert ids[0, :3].tolist() == [4, 5, 6]


def test_fewer_eligible_items_than_k_are_padded_with_minus_one():
    items = np.eye(4, dtype=np.float32)
    users = np.ones((1, 4), np.float32)
    for backend in ("tf", "faiss"):
        scores, ids = retrieval.search_vectors(users, items, 5, exclude=[[2]], backend=backend)
        assert ids.tolist() == [[1, 3, -1, -1, -1]]
        assert np.isneginf(scores[0, 2:]).all()


def test_approximate_search_recall_against_exact():
    rng = np.random.default_rng(3)
    items = rng.normal(size=(2000, 16)).astype(np.float32)
    users = rng.normal(size=(200, 16)).astype(np.float32)
    _, exact = retrieval.search_vectors(users, items, 50, backend="faiss")
    _, hnsw = retrieval.search_vectors(users, items, 50, backend="faiss",
                                       index=retrieval.build_index(items, "hnsw",
                                                                   ef_search=128))
    _, ivf = retrieval.search_vectors(users, items, 50, backend="faiss",
                                      index=retrieval.build_index(items, "ivf", nlist=32,
                                                                  nprobe=32))
    # HNSW with efSearch 128 >> k on 2k points is near exact (measured 0.99+); 0.9 leaves
    # room for faiss build-order differences. IVF probing every list is exact search.
    assert retrieval.overlap(hnsw, exact) > 0.9
    assert retrieval.overlap(ivf, exact) == 1.0
    _, ivf1 = retrieval.search_vectors(users, items, 50, backend="faiss",
                                       index=retrieval.build_index(items, "ivf", nlist=32,
                                                                   nprobe=1))
    assert retrieval.overlap(ivf1, exact) < 0.9     # one list of 32: clearly approximate


def test_overlap_by_hand():
    assert retrieval.overlap([[1, 2, 3], [4, 5, 6]], [[3, 2, 9], [7, 8, 6]]) == pytest.approx(
        (2 / 3 + 1 / 3) / 2)


@pytest.mark.parametrize("kwargs,match", [
    ({"mask": np.array([[True], [False]])}, "user 1 has no active interest"),
    ({"backend": "annoy"}, "backend='annoy'"),
    ({"exclude": [[1]]}, "exclude has 1 rows"),
])
def test_search_vectors_rejects_bad_input(kwargs, match):
    users, items = np.ones((2, 3), np.float32), np.ones((5, 3), np.float32)
    with pytest.raises(ValueError, match=match):
        retrieval.search_vectors(users, items, 2, **kwargs)


def test_search_rejects_bad_shapes_and_targets():
    with pytest.raises(ValueError, match=r"user_vectors has shape \(2, 4\)"):
        retrieval.search_vectors(np.ones((2, 4)), np.ones((5, 3)), 2)
    with pytest.raises(ValueError, match="k=0"):
        retrieval.search_vectors(np.ones((2, 3)), np.ones((5, 3)), 0)
    with pytest.raises(ValueError, match="targets holds 0"):
        evaluate_retrieval(np.ones((2, 3)), np.ones((5, 3)), np.array([0, 1]))
    with pytest.raises(ValueError, match="scorer returned shape"):
        retrieval.search_scores(lambda *a: np.ones((1, 1)), 2, 5, 2)


def test_evaluate_retrieval_tf_equals_faiss(rng):
    users = rng.normal(size=(100, 3, 8)).astype(np.float32)
    items = rng.normal(size=(300, 8)).astype(np.float32)
    targets = rng.integers(1, 300, size=100)
    exclude = ItemSets.from_lists(random_exclusions(rng, 100, 300, 40))
    a = evaluate_retrieval(users, items, targets, exclude=exclude, backend="tf")
    b = evaluate_retrieval(users, items, targets, exclude=exclude, backend="faiss")
    assert a == b and set(a) == {"filtered", "unfiltered", "ks", "num_users", "num_items"}


# --------------------------------------------------------------------------- baselines

def test_mostpop_on_ml100k_matches_rank_formula(ml100k):
    """Ids are sorted by training frequency, so MostPop's unfiltered rank of target t is
    t - 1, and its filtered rank is t - 1 - |{seen items with id < t}|."""
    model = baselines.make_baseline("mostpop").fit(ml100k)
    result = baselines.evaluate_baseline(model, ml100k, split="test")
    t = ml100k.test.label.astype(np.int64)
    unfiltered = t - 1
    filtered = np.array([t[u] - 1 - (ml100k.test_seen[u] < t[u]).sum()
                         for u in range(ml100k.num_users)])
    for ranks, mode in ((unfiltered, "unfiltered"), (filtered, "filtered")):
        ranks = np.where(ranks < 100, ranks, -1)
        assert result[mode] == pytest.approx(metrics_from_ranks(ranks))
    assert result["filtered"]["hr@50"] != result["unfiltered"]["hr@50"]


def test_mostpop_with_repeated_ratings_matches_rank_formula(tmp_path):
    """Every user re-rates an earlier item as its test and validation items (view logs):
    the filtered rank of target t is t - 1 - |{other seen items with id < t}|, never a
    miss because t itself was filtered out (HR was 0 before)."""
    from recall_models.data.dataset import encode
    from recall_models.data.movielens import read_movielens
    rng = np.random.default_rng(3)
    lines = []
    for u in range(1, 31):
        first = rng.choice(np.arange(1, 20), int(rng.integers(3, 8)), replace=False)
        seq = list(first) + [first[0], first[-1]]        # valid, test: items rated before
        lines += [f"{u}::{i}::3::{t}" for t, i in enumerate(seq)]
    (tmp_path / "ratings.dat").write_text("\n".join(lines) + "\n")
    ds = encode(read_movielens(tmp_path))
    model = baselines.make_baseline("mostpop").fit(ds)
    for split in ("valid", "test"):
        result = baselines.evaluate_baseline(model, ds, split=split, ks=(1, 5, 10))
        t = ds.samples(split).label.astype(np.int64)
        seen = [set(ds.seen(split)[u].tolist()) - {t[u]} for u in range(ds.num_users)]
        assert all(t[u] in ds.seen(split)[u] for u in range(ds.num_users))
        ranks = np.array([t[u] - 1 - sum(i < t[u] for i in seen[u])
                          for u in range(ds.num_users)])
        want = metrics_from_ranks(np.where(ranks < 10, ranks, -1), ks=(1, 5, 10))
        assert result["filtered"] == pytest.approx(want)
        assert result["filtered"]["hr@10"] > 0.5


def test_random_baseline_hit_rate_is_k_over_eligible(ml100k):
    """E[HR@K] = mean_u K / (eligible items of u). Over 943 users the std of HR@100 is
    sqrt(p(1-p)/943) ~ 0.008 (p ~ 0.06); 4 std = 0.031 keeps a false alarm below 1e-4."""
    model = baselines.make_baseline("random").fit(ml100k, seed=0)
    result = baselines.evaluate_baseline(model, ml100k, split="test")
    eligible = 1682 - ml100k.test_seen.lengths
    for k in (50, 100):
        p_f, p_u = np.mean(k / eligible), k / 1682
        tol = 4 * np.sqrt(p_f * (1 - p_f) / 943)
        assert abs(result["filtered"][f"hr@{k}"] - p_f) < tol
        assert abs(result["unfiltered"][f"hr@{k}"] - p_u) < tol
    again = baselines.evaluate_baseline(baselines.make_baseline("random").fit(ml100k, seed=0),
                                        ml100k)
    assert again == result                               # seeded


@pytest.mark.parametrize("neighbours", [None, 2])
def test_itemknn_scores_match_dense_oracle(tmp_path, neighbours):
    from recall_models.data.dataset import encode
    from recall_models.data.movielens import read_movielens
    rng = np.random.default_rng(1)
    lines = [f"{u}::{i}::3::{t}" for u in range(1, 40)
             for t, i in enumerate(rng.choice(np.arange(1, 30), rng.integers(4, 15),
                                              replace=False))]
    (tmp_path / "ratings.dat").write_text("\n".join(lines) + "\n")
    ds = encode(read_movielens(tmp_path), max_history=5)
    model = baselines.make_baseline("itemknn", neighbours=neighbours).fit(ds)
    # Dense oracle: S = C / sqrt(diag C diag C^T), zero diagonal, top-n per row.
    x = np.zeros((ds.num_users, ds.num_items))
    for u in range(ds.num_users):
        x[u, ds.valid_seen[u]] = 1
    c = x.T @ x
    d = np.sqrt(np.diag(c))
    s = np.divide(c, np.outer(d, d), out=np.zeros_like(c), where=np.outer(d, d) > 0)
    np.fill_diagonal(s, 0)
    if neighbours is not None:
        for row in s:
            row[np.argsort(-row, kind="stable")[neighbours:]] = 0
    h = np.zeros((ds.num_users, ds.num_items))
    for u in range(ds.num_users):
        h[u, ds.test_seen[u]] = 1
    got = model.scorer(ds, "test")(0, ds.num_users, 0, ds.num_items)
    if neighbours is None:
        np.testing.assert_allclose(got, h @ s, rtol=1e-5, atol=1e-6)
    else:
        # Ties at the n-th neighbour may keep a different (equal) entry: compare row sums
        # of S, which do not depend on which tied entry is kept.
        np.testing.assert_allclose(model.sim.toarray().sum(1), s.sum(1), rtol=1e-5)
        assert (np.diff(model.sim.indptr) <= neighbours).all()


def test_baseline_registry():
    assert {"random", "mostpop", "itemknn"} <= set(baselines.BASELINES)
    with pytest.raises(ValueError, match="model='bpr', expected one of"):
        baselines.make_baseline("bpr")
    with pytest.raises(ValueError, match="already registered"):
        baselines.register("mostpop")(type("Dup", (baselines.Baseline,), {}))


def test_vector_baseline_slots_into_the_harness(ml100k):
    """A registered embedding baseline (the shape item2vec will take) runs through
    evaluate_retrieval: one-hot item vectors and a user vector equal to the item-frequency
    vector reproduce MostPop exactly."""
    class FreqVectors(baselines.Baseline):
        def vectors(self, ds, split):
            items = np.eye(ds.num_items, dtype=np.float32)
            users = np.tile(ds.item_freq.astype(np.float32), (ds.num_users, 1))
            return users, items, None
    got = baselines.evaluate_baseline(FreqVectors(), ml100k)
    want = baselines.evaluate_baseline(baselines.make_baseline("mostpop").fit(ml100k), ml100k)
    assert got == want


def test_evaluate_cli_json_last_line(capsys, ml100k):
    parser = argparse.ArgumentParser()
    evaluate_cli.add_arguments(parser)
    assert evaluate_cli.main(parser.parse_args(["--model", "mostpop", "--json"])) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    want = baselines.evaluate_baseline(baselines.make_baseline("mostpop").fit(ml100k), ml100k)
    assert out["filtered"] == want["filtered"] and out["unfiltered"] == want["unfiltered"]
    assert (out["model"], out["dataset"], out["split"], out["seed"]) == (
        "mostpop", "ml-100k", "test", 0)
    assert set(out["filtered"]) == {f"{m}@{k}" for m in ("hr", "ndcg")
                                    for k in (10, 20, 50, 100)} | {"mrr"}
    assert evaluate_cli.main(parser.parse_args(["--model", "mostpop", "--neighbours",
                                                "5"])) == 1


def test_evaluate_retrieval_approximate_reports_recall_against_exact(rng):
    users = rng.normal(size=(150, 8)).astype(np.float32)
    items = rng.normal(size=(2000, 8)).astype(np.float32)
    targets = rng.integers(1, 2000, size=150)
    exclude = random_exclusions(rng, 150, 2000, 30)
    exact = evaluate_retrieval(users, items, targets, exclude=exclude)
    approx = evaluate_retrieval(users, items, targets, exclude=exclude, approximate="ivf")
    recall = approx["approximate"]["recall_vs_exact"]
    assert approx["approximate"]["index"] == "ivf" and set(recall) == {"filtered",
                                                                       "unfiltered"}
    # Default IVF probes 8 of ~44 lists: clearly approximate but far better than chance
    # (100 / 2000 = 0.05).
    assert 0.2 < recall["unfiltered"] < 1.0
    assert exact["unfiltered"] != approx["unfiltered"] or recall["unfiltered"] == 1.0
    with pytest.raises(ValueError, match="approximate='lsh'"):
        evaluate_retrieval(users, items, targets, approximate="lsh")


def test_evaluate_cli_takes_format_and_encoding(tmp_path, capsys):
    """The encoding error tells the user to pass the file's encoding: evaluate had no flag."""
    from recall_testdata import run_cli, write_ml_latest
    write_ml_latest(tmp_path)
    (tmp_path / "movies.csv").write_bytes((tmp_path / "movies.csv").read_text(
        encoding="utf-8").replace("Movie, 1 ", "Café, 1 ").encode("latin-1"))
    argv = ["--model", "mostpop", "--dataset", str(tmp_path), "--json"]
    code, _, err = run_cli(evaluate_cli, argv, capsys)
    assert code == 1 and "pass the file's encoding" in err
    code, out, err = run_cli(evaluate_cli, argv + ["--format", "ml-latest",
                                                   "--encoding", "latin-1"], capsys)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["num_users"] == 60
    code, _, err = run_cli(evaluate_cli, argv + ["--format", "ml-1m"], capsys)
    assert code == 1 and "format='ml-1m' expects ratings.dat" in err
