"""Small MovieLens folders the recall tests write (no download, a few hundred ratings)."""
import numpy as np


def write_ml100k(d, users: int = 60, items: int = 40, seed: int = 0):
    """An ML-100K folder: each user walks 8-15 steps through the items in a cycle."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, users + 1):
        start, n = rng.integers(1, items + 1), rng.integers(8, 16)
        for t in range(n):
            rows.append(f"{u}\t{(start + t - 1) % items + 1}\t4\t{1000 + 10 * t}")
    (d / "u.data").write_text("\n".join(rows) + "\n")
    (d / "u.user").write_text("".join(
        f"{u}|{20 + u % 40}|{'MF'[u % 2]}|job{u % 5}|{10000 + u * 37}\n"
        for u in range(1, users + 1)))
    (d / "u.item").write_text("".join(
        f"{i}|Movie {i} (1995)|01-Jan-1995||http://x|" + "|".join(
            "1" if g in (i % 19, (3 * i) % 19) else "0" for g in range(19)) + "\n"
        for i in range(1, items + 1)))
    return d
