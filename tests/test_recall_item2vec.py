"""item2vec: trained on training sequences only, its user vectors are the mean of the most
recent history items, and it retrieves better than chance on ML-100K."""
import numpy as np
import pytest

from recall_models.evaluation import baselines
from recall_models.data.dataset import load_dataset


@pytest.fixture(scope="module")
def fitted():
    ds = load_dataset("ml-100k")
    model = baselines.make_baseline("item2vec", epochs=1, dim=16).fit(ds, seed=0)
    return ds, model


@pytest.mark.slow
def test_item2vec_user_vectors_are_recent_history_means(fitted):
    ds, model = fitted
    users, items, mask = model.vectors(ds, "test")
    s = ds.samples("test")
    assert mask is None and users.shape == (len(s.user), 16) and items.shape[0] == ds.num_items
    assert np.all(items[0] == 0)                                   # padding is never a match
    for row in (0, 7, 100):
        hist = s.history[row, :s.length[row]][-5:]
        np.testing.assert_allclose(users[row], items[hist].mean(0), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_item2vec_beats_random_on_ml100k(fitted):
    ds, model = fitted
    res = baselines.evaluate_baseline(model, ds, "test")
    # Random's HR@100 is about 100/1682 = 0.06 (0.065 measured); require well above chance.
    assert res["filtered"]["hr@100"] > 0.15


def test_item2vec_refuses_ids_not_sorted_by_frequency(monkeypatch):
    ds = load_dataset("ml-100k")
    seq = ds.user_sequence
    flipped = type(seq)(seq.indptr, np.where(seq.indices == 1, 2,
                                             np.where(seq.indices == 2, 1, seq.indices)).astype(np.int32))
    # Make item 2 far more frequent than item 1 by repeating it: counts no longer decrease.
    monkeypatch.setattr(ds, "user_sequence", type(seq).from_lists(
        [np.concatenate([flipped[u], np.full(50, 2)]) for u in range(len(flipped))]))
    with pytest.raises(ValueError, match="sorted by decreasing training frequency"):
        baselines.make_baseline("item2vec", epochs=1, dim=8).fit(ds)
