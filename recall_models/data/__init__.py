"""Data: MovieLens files in, encoded and split datasets out.

* `fetch.py`     MovieLens-100K from the recbole wheel on PyPI into a local cache.
* `movielens.py` parsers for the formats users bring (ML-100K, ML-1M, ml-latest/ML-20M, ...).
* `dataset.py`   encoding (ids, profile features) and the leave-last-out split.
"""
