"""Small MovieLens folders the recall tests write (no download, a few hundred ratings), in
the ML-100K, ML-1M (.dat) and ml-latest / ML-20M / ML-25M (ratings.csv) formats."""
import numpy as np


def ratings(users: int = 60, items: int = 40, seed: int = 0):
    """(user, item, timestamp) rows: each user walks 8-15 steps through the items in a cycle."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, users + 1):
        start, n = rng.integers(1, items + 1), rng.integers(8, 16)
        rows += [(u, (start + t - 1) % items + 1, 1000 + 10 * t) for t in range(n)]
    return rows


def genres(i: int) -> list:
    """Indices (0..18) of the ML-100K genre flags of item i."""
    return sorted({i % 19, (3 * i) % 19})


def write_ml100k(d, users: int = 60, items: int = 40, seed: int = 0):
    """An ML-100K folder (u.data, u.user, u.item)."""
    (d / "u.data").write_text("".join(f"{u}\t{i}\t4\t{t}\n"
                                      for u, i, t in ratings(users, items, seed)))
    (d / "u.user").write_text("".join(
        f"{u}|{20 + u % 40}|{'MF'[u % 2]}|job{u % 5}|{10000 + u * 37}\n"
        for u in range(1, users + 1)))
    (d / "u.item").write_text("".join(
        f"{i}|Movie {i} (1995)|01-Jan-1995||http://x|" + "|".join(
            "1" if g in genres(i) else "0" for g in range(19)) + "\n"
        for i in range(1, items + 1)))
    return d


def write_ml1m(d, users: int = 60, items: int = 40, seed: int = 0):
    """An ML-1M folder ('::'-separated .dat files, latin-1 titles)."""
    from recall_models.data.movielens import ML100K_GENRES
    (d / "ratings.dat").write_bytes("".join(f"{u}::{i}::4::{t}\n" for u, i, t in
                                            ratings(users, items, seed)).encode("latin-1"))
    (d / "users.dat").write_bytes("".join(
        f"{u}::{'MF'[u % 2]}::{(1, 18, 25, 35)[u % 4]}::{u % 20}::{10000 + u * 37}\n"
        for u in range(1, users + 1)).encode("latin-1"))
    (d / "movies.dat").write_bytes("".join(
        f"{i}::Café {i} (1995)::" + "|".join(ML100K_GENRES[g] for g in genres(i)) + "\n"
        for i in range(1, items + 1)).encode("latin-1"))
    return d


def write_ml_latest(d, users: int = 60, items: int = 40, seed: int = 0):
    """An ml-latest / ML-20M / ML-25M folder: ratings.csv and movies.csv, no user file."""
    from recall_models.data.movielens import ML100K_GENRES
    (d / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(
        f"{u},{i},4.0,{t}\n" for u, i, t in ratings(users, items, seed)))
    (d / "movies.csv").write_text("movieId,title,genres\n" + "".join(
        f'{i},"Movie, {i} (1995)",' + "|".join(ML100K_GENRES[g] for g in genres(i)) + "\n"
        for i in range(1, items + 1)), encoding="utf-8")
    return d


def run_cli(module, argv, capsys):
    """(exit code, stdout, stderr) of a `*_cli` module's main on `argv`."""
    import argparse
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    code = module.main(parser.parse_args(argv))
    out = capsys.readouterr()
    return code, out.out, out.err
