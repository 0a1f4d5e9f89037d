"""Word2vec on our losses: the application wing of `w2v_tf`.

Read it in this order:

1. `model.py`     the Keras model of the study material: a target and a context table scored by
                  `einsum('be,bce->bc')`, any of our losses per pair (`pair_loss`), and
                  `model.fit` through `Word2Vec.train_step` (the reference path).
                  `choices.py` names the architectures and losses (no TensorFlow import).
2. `corpus.py`    tokenising, the vocabulary, word2vec's subsampling of frequent words.
   `skipgrams.py` Keras' legacy `skipgrams` helper, reimplemented (for comparison).
   `pipeline.py`  the tf.data pipelines that make skip-gram pairs and CBOW windows.
3. `training.py`  `train()`: word2vec's training loop (sparse SGD, decaying learning rate) for
                  every loss, on one device or under a `tf.distribute` strategy.
4. `fast_sgd.py`  the hand-written optimisation of the same model for "neg"/"neg_shared"
                  (gradients written out, many steps per compiled call); equally good
                  vectors: tests/test_word2vec_reference.py.
5. `export.py`, `wordvectors.py`  saving vectors (word2vec format, projector TSV) and
                  evaluating them with gensim (analogies, WordSim353, SimLex-999).
6. `train_cli.py`, `evaluate_cli.py`, `neighbours_cli.py`: the commands
   `python -m w2v_tf train | evaluate | neighbours`.

    from w2v_tf import word2vec
    model = word2vec.Word2Vec(len(vocab), 100)                       # the reference path
    model.compile(keras.optimizers.SGD(word2vec.LinearDecay(0.025, steps)),
                  loss="neg_shared", counts=vocab.counts)
    model.fit(pipeline.skipgram_dataset(encoded, keep_prob=keep, shuffle="pairs"), epochs=5)
    model, stats = word2vec.train(encoded, vocab.counts)             # the fast path

Names are imported lazily so the command-line dispatcher stays fast.
"""
import importlib

_EXPORTS = {
    "Word2Vec": "model", "pair_loss": "model", "make_train_step": "model",
    "sgd_step": "model", "unigram_sampler": "model", "draw_negatives_excluding": "model",
    "ARCHS": "choices", "LOSS_NAMES": "choices", "FAST_LOSSES": "choices",
    "SHARED_NEGATIVE_LOSSES": "choices", "PER_PAIR_NEGATIVE_LOSSES": "choices",
    "DEFAULT_LOSS": "choices", "LinearDecay": "model", "trained_variables": "model",
    "summed_pair_loss": "model",
    "train": "training", "TrainStats": "training", "learning_rate": "training",
    "default_batch_size": "training", "default_num_shared": "training",
    "default_alpha": "training", "check_hyperparameters": "training",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    # The names above, then any other constant of the model or the training loop
    # (DEFAULT_MAX_ROW_STEP, ...), so `word2vec.X` reads like one module.
    for module in ([_EXPORTS[name]] if name in _EXPORTS else ["model", "training"]):
        module = importlib.import_module(f"w2v_tf.word2vec.{module}")
        if hasattr(module, name) and not name.startswith("_"):
            value = getattr(module, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module 'w2v_tf.word2vec' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
