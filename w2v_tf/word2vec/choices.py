"""The architectures and losses the word2vec wing offers, by name.

Kept apart from `model.py` so that `python -m w2v_tf --help` can list them without importing
TensorFlow. `model.py` describes each loss.
"""
ARCHS = ("skipgram", "cbow")
SHARED_NEGATIVE_LOSSES = ("neg_shared", "nce", "sampled_softmax")
PER_PAIR_NEGATIVE_LOSSES = ("neg", "neg_per_pair", "tutorial_softmax")
LOSS_NAMES = ("neg", "neg_shared", "nce", "sampled_softmax", "hs", "softmax", "neg_per_pair",
              "tutorial_softmax")
# The loss `train()`, `Word2Vec.compile` and `python -m w2v_tf train` use unless told
# otherwise: word2vec's negative-sampling objective with S negatives shared by the batch (as
# good as "neg" on the embedded corpora and the fastest: benchmarks/word2vec_vs_gensim.py and
# its results, benchmarks/results/word2vec_vs_gensim*.json).
DEFAULT_LOSS = "neg_shared"
FAST_LOSSES = ("neg", "neg_shared")   # trained by fast_sgd.py (gradients written out)
