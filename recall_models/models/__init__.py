"""Models: the user towers and the item softmax trained with `w2v_tf`'s sampled losses.

* `youtubednn.py` YouTubeDNN (Covington et al. 2016): mean-pooled history + profile -> MLP.
* `mind.py`       a MIND-like multi-interest model (Li et al. 2019): capsule routing.
* `samplers.py`   the item samplers the training command offers (uniform, log-uniform,
                  unigram^0.75, in-batch, ...), built on `w2v_tf.sampling`.
"""
