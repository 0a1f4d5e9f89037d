"""Evaluation: ranking the whole catalogue for each user and scoring the held-out item.

* `retrieval.py` exact and approximate (faiss) top-k search with known items left out.
* `metrics.py`   HR@k, NDCG@k, MRR from ranks; the evaluation loop of the protocol.
* `baselines.py` MostPop, ItemPop-by-profile, item2vec and other reference rankings.
"""
