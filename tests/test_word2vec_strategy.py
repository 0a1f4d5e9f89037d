"""Word2Vec training under MirroredStrategy (2 logical CPUs, in a child process because the
devices must be split before TensorFlow starts): its learning curve agrees with one device's
within noise, and a bad strategy name is refused."""
import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import json
from w2v_tf.distribute import configure_logical_cpus
configure_logical_cpus(2)
from w2v_tf.word2vec.corpus import load_corpus, Vocabulary
from w2v_tf import word2vec
sentences = load_corpus("lee")[:150]
vocab = Vocabulary.build(sentences, min_count=3)
enc = vocab.encode(sentences)
out = {}
for name, kw in (("mirrored", dict(loss="neg", strategy="mirrored")),
                 ("one", dict(loss="neg_per_pair")),
                 ("one_seed1", dict(loss="neg_per_pair", seed=1))):
    kw.setdefault("seed", 0)
    m, st = word2vec.train(enc, vocab.counts, dim=16, epochs=2, batch_size=512,
                           progress=False, **kw)
    out[name] = st.epoch_loss
print(json.dumps(out))
"""


@pytest.mark.slow
def test_mirrored_learning_curve_agrees_with_one_device():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    mirrored, one, other_seed = out["mirrored"], out["one"], out["one_seed1"]
    assert mirrored[-1] < mirrored[0]                       # it learns
    # Each replica draws its own negatives, so steps differ; the curves must agree within
    # the seed-to-seed spread of one device (plus 2% of the loss).
    band = 3 * abs(one[-1] - other_seed[-1]) + 0.02 * one[-1]
    assert abs(mirrored[-1] - one[-1]) <= band, (mirrored, one, other_seed)


def test_unknown_strategy_is_refused():
    from w2v_tf.distribute import make_strategy
    with pytest.raises(ValueError):
        make_strategy("ps-everywhere")
