"""Models: the user towers and the item softmax trained with `w2v_tf`'s sampled losses.

* `youtubednn.py` YouTubeDNN (Covington et al. 2016): mean-pooled history + profile -> MLP.
* `mind.py`       a MIND-like multi-interest model (Li et al. 2019): capsule routing; also
                  `MultiInterestModel`, what the multi-interest models share.
* `comirec.py`    ComiRec-SA (Cen et al. 2020): K self-attention heads over the history.
* `samplers.py`   the item samplers the training command offers (uniform, log-uniform,
                  unigram^0.75, in-batch, ...), built on `w2v_tf.sampling`.
"""
