"""The study wing of `w2v_tf`: the tools behind the notebooks.

* `derivations.py` small numpy references of the notebooks' derivations (softmax and NEG
  gradients, NCE and sampled-softmax logit gradients, gradient bias against k).
* `parity.py` (+ `parity_cli.py`) our losses against TensorFlow's, value and gradient, over a
  grid of configurations: `python -m w2v_tf parity`.
* `table.py` (+ `table_cli.py`) the candidate-sampling table by experiment: what each loss
  learns on a problem whose answer is known: `python -m w2v_tf table`.

The study wing imports the core (`w2v_tf.sampled_logits`, `w2v_tf.losses`, ...); the core never
imports it.
"""
