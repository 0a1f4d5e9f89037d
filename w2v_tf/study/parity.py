"""Parity report: our sampled logits and losses against TensorFlow's, configuration by configuration.

    python -m w2v_tf parity            # a table: max |ours - TF| per quantity and configuration
    python -m w2v_tf parity --json     # ... and the whole report as one JSON object, last line

Configurations: a pairwise covering of num_true 1..4 x log-Q on/off x accidental hits on/off
(hits planted so they are present) x six table kinds (tensor, tf.Variable, keras.Variable,
3 shards "mod", 3 shards "div", 3 uneven "div" shards) x biases on/off x int32/int64 labels x
float32/float64, plus seed replays of the default sampler; `--full` runs the whole product.

For each configuration we build one problem (class table, biases, labels, inputs, and sampled
values from TensorFlow's log-uniform sampler with accidental hits planted when asked), run
TensorFlow's functions and ours on it, and compare

* `logits`, `labels`: `tensorflow.python.ops.nn_impl._compute_sampled_logits` vs ours;
* `nce`, `sampled_softmax`: `tf.nn.*` (v2, "div") or `tf.compat.v1.nn.*` ("mod") vs ours;
* `neg`: TensorFlow's helper with `subtract_log_q=False` + sigmoid cross-entropy, summed
  per row as `tf.nn.nce_loss` sums (`_sum_rows`), vs ours;
* `grad_*[loss]`: gradients of a random weighting of the losses w.r.t. inputs, weights,
  biases;
* `grad_*[logits]`: gradients of the logits themselves under a random upstream gradient
  (`output_gradients` ~ N(0, 1), `[batch_size, num_true + num_sampled]`), the case of a user's
  own loss on the logits: with hits planted, this checks that a masked logit passes its
  upstream gradient back exactly as TensorFlow's `+ (-FLT_MAX)` does.

The error of a quantity is max |ours - TF| / max(1, |TF|) over its entries (absolute error
for values up to 1, relative above). Tolerances: 1e-5 in float32, 1e-10 in float64. The
command exits with status 1 if any error exceeds its tolerance.
"""
from __future__ import annotations

import itertools
import sys
from typing import Dict, List

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.ops import nn_impl

from w2v_tf import losses as ours
from w2v_tf.sampled_logits import compute_sampled_logits
from w2v_tf.shards import _unwrap as _shards_unwrap

TOLERANCE = {"float32": 1e-5, "float64": 1e-10}
TABLE_KINDS = ("tensor", "tf.Variable", "keras.Variable", "shards_mod", "shards_div",
               "shards_div_uneven")
DIM, BATCH, NUM_SAMPLED = 16, 8, 12


AXES = {
    "num_true": (1, 2, 3, 4),
    "subtract_log_q": (True, False),
    "remove_accidental_hits": (True, False),
    "table": TABLE_KINDS,
    "biases": (True, False),
    "labels_dtype": ("int64", "int32"),
    "dtype": ("float32", "float64"),
}


def _pairs(config: Dict):
    """The (axis, value, axis, value) pairs one configuration covers."""
    keys = list(AXES)
    return {(a, config[a], b, config[b]) for i, a in enumerate(keys) for b in keys[i + 1:]}


def grid(quick: bool = False, full: bool = False) -> List[Dict]:
    """The configurations to check.

    `full`: the whole product of `AXES` (768 configurations). Default: a pairwise covering
    of it (every value of every axis meets every value of every other axis at least once;
    greedy construction, about 30 configurations), which finds the interaction bugs of two
    axes at a fraction of the cost. `quick`: one configuration per (num_true, log-Q, hits).
    Four seed-replay configurations with the default sampler are always added.
    """
    product = [dict(zip(AXES, values), sampler="given")
               for values in itertools.product(*AXES.values())]
    if full:
        configs = product
    elif quick:
        seen, configs = set(), []
        for i, c in enumerate(product):
            key = (c["num_true"], c["subtract_log_q"], c["remove_accidental_hits"])
            if key not in seen and c["table"] == TABLE_KINDS[len(seen) % len(TABLE_KINDS)]:
                seen.add(key)
                configs.append(c)
    else:
        uncovered = set().union(*(_pairs(c) for c in product))
        configs = []
        while uncovered:   # greedy: take the configuration covering most uncovered pairs
            best = max(product, key=lambda c: len(_pairs(c) & uncovered))
            configs.append(best)
            uncovered -= _pairs(best)
    for num_true, kind in [(1, "tensor"), (2, "tf.Variable"), (3, "shards_div"), (1, "shards_mod")]:
        configs.append(dict(num_true=num_true, subtract_log_q=True, remove_accidental_hits=True,
                            table=kind, biases=True, labels_dtype="int64", dtype="float32",
                            sampler="default"))
    return configs


def config_name(c: Dict) -> str:
    return (f"T={c['num_true']} logq={int(c['subtract_log_q'])} hits={int(c['remove_accidental_hits'])} "
            f"{c['table']:<17} b={int(c['biases'])} {c['labels_dtype']} {c['dtype']} {c['sampler']}")


def _problem(c: Dict, seed: int):
    """Random table/inputs/labels for one configuration, plus sampled values with planted hits."""
    rng = np.random.default_rng(seed)
    num_classes = 51 if c["table"] == "shards_div" else 50
    dt = c["dtype"]
    w = rng.normal(size=(num_classes, DIM)).astype(dt)
    b = rng.normal(size=num_classes).astype(dt) if c["biases"] else np.zeros(num_classes, dt)
    x = rng.normal(size=(BATCH, DIM)).astype(dt)
    labels = np.stack([rng.choice(num_classes, c["num_true"], replace=False)
                       for _ in range(BATCH)]).astype(c["labels_dtype"])
    sampled = tf.random.log_uniform_candidate_sampler(
        labels.astype(np.int64), c["num_true"], NUM_SAMPLED, True, num_classes, seed=seed)
    ids = sampled[0].numpy()
    if c["remove_accidental_hits"]:
        # Plant hits: put two rows' first labels into the sample (keeping it unique).
        planted = [labels[0, 0], labels[BATCH - 1, -1]]
        rest = [i for i in ids if i not in planted]
        ids = np.array(planted + rest[:NUM_SAMPLED - 2], dtype=np.int64)
    count_dt = tf.float64 if dt == "float64" else tf.float32
    sv = (tf.constant(ids), tf.cast(sampled[1], count_dt), tf.cast(sampled[2], count_dt))
    return num_classes, w, b, x, labels, sv


def _split(kind: str, a: np.ndarray):
    """Three tf.Variable shards of `a` laid out for `kind`: "mod" interleaved rows, "div"
    contiguous blocks, the first n % 3 one row longer (TensorFlow's layout)."""
    if kind == "shards_mod":
        return [tf.Variable(a[k::3]) for k in range(3)]
    n = a.shape[0]
    bounds = np.cumsum([0] + [n // 3 + (k < n % 3) for k in range(3)])
    return [tf.Variable(a[bounds[k]:bounds[k + 1]]) for k in range(3)]


def _table(kind: str, w: np.ndarray):
    """(ours, TF's) view of the class table, and the partition strategy to use."""
    if kind == "tensor":
        t = tf.constant(w)
        return t, t, "div"
    if kind in ("tf.Variable", "keras.Variable"):
        v = tf.Variable(w) if kind == "tf.Variable" else keras.Variable(w)
        return v, v, "div"
    shards = _split(kind, w)
    return shards, shards, "mod" if kind == "shards_mod" else "div"


def _biases(kind: str, b: np.ndarray, strategy: str):
    return _split(kind, b) if kind.startswith("shards") else tf.Variable(b)


def _err(a, b) -> float:
    a = np.asarray(tf.convert_to_tensor(a), dtype=np.float64)
    b = np.asarray(tf.convert_to_tensor(b), dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    diff = np.where(both_inf, 0.0, np.abs(a - b)) / np.maximum(1.0, np.abs(np.where(both_inf, 1, b)))
    return float(np.nanmax(np.where(np.isnan(a) != np.isnan(b), np.inf, diff)))


def _replay(fn):
    """Runs fn with the global seed reset, so TF's default sampler replays its draws."""
    tf.random.set_seed(1234)
    return fn()


def _with_grads(fn, target, table, biases, inputs):
    """(out, d/d inputs, [d/d table shards], [d/d bias shards]) of `target(out)`.

    `target(out)` gives the tensor to differentiate and its upstream gradient (None: ones).
    """
    t_vars = [_shards_unwrap(v) for v in (table if isinstance(table, list) else [table])]
    b_vars = [] if biases is None else [
        _shards_unwrap(v) for v in (biases if isinstance(biases, list) else [biases])]
    with tf.GradientTape() as tape:
        tape.watch(t_vars + b_vars)
        out = _replay(fn)
        y, upstream = target(out)
    grads = tape.gradient(y, [inputs] + t_vars + b_vars, output_gradients=upstream)
    return out, grads[0], grads[1:1 + len(t_vars)], grads[1 + len(t_vars):]


def _grad_errors(errors, name, ours, theirs, has_biases):
    """errors["grad_{inputs,weights,biases}[name]"] from two `_with_grads` results."""
    errors[f"grad_inputs[{name}]"] = _err(ours[1], theirs[1])
    errors[f"grad_weights[{name}]"] = max(_err(o, t) for o, t in zip(ours[2], theirs[2]))
    if has_biases:
        errors[f"grad_biases[{name}]"] = max(_err(o, t) for o, t in zip(ours[3], theirs[3]))


def run_config(c: Dict, seed: int = 0) -> Dict[str, float]:
    """Errors (see module docstring) of every quantity for configuration `c`."""
    num_classes, w, b, x, labels, sv = _problem(c, seed)
    ours_w, tf_w, strategy = _table(c["table"], w)
    bias = _biases(c["table"], b, strategy)
    ours_b = bias if c["biases"] else None          # ours: no biases at all
    inputs = tf.Variable(x)
    T, S = c["num_true"], NUM_SAMPLED
    use_default = c["sampler"] == "default"
    args = dict(num_sampled=S, num_classes=num_classes, num_true=T)
    weight = tf.constant(np.random.default_rng(seed + 1).normal(size=BATCH).astype(c["dtype"]))
    errors = {}

    # logits and labels vs TensorFlow's private helper, and their gradients under a random
    # upstream gradient G [B, T + S] (any loss built on the logits: d(sum G * logits)).
    tf_sv = None if use_default else sv
    upstream = tf.constant(np.random.default_rng(seed + 2).normal(
        size=(BATCH, T + S)).astype(c["dtype"]))
    def logits_of(fn, table, biases):
        return lambda: fn(table, biases, labels, inputs, sampled_values=tf_sv,
                          subtract_log_q=c["subtract_log_q"],
                          remove_accidental_hits=c["remove_accidental_hits"],
                          partition_strategy=strategy, seed=7 if use_default else None, **args)

    with_upstream = lambda out: (out[0], upstream)                               # noqa: E731
    theirs = _with_grads(logits_of(nn_impl._compute_sampled_logits, tf_w, bias), with_upstream,
                         tf_w, bias, inputs)
    mine = _with_grads(logits_of(compute_sampled_logits, ours_w, ours_b), with_upstream,
                       ours_w, ours_b, inputs)
    errors["logits"] = _err(mine[0][0], theirs[0][0])
    errors["labels"] = _err(mine[0][1], theirs[0][1])
    _grad_errors(errors, "logits", mine, theirs, c["biases"])

    # losses and gradients.
    hits = c["remove_accidental_hits"]
    v1 = strategy == "mod"
    tf_losses = {
        "nce": lambda: (tf.compat.v1.nn.nce_loss(tf_w, bias, labels, inputs, sampled_values=tf_sv,
                                                 remove_accidental_hits=hits,
                                                 partition_strategy="mod", **args) if v1 else
                        tf.nn.nce_loss(tf_w, bias, labels, inputs, sampled_values=tf_sv,
                                       remove_accidental_hits=hits, **args)),
        "sampled_softmax": lambda: (
            tf.compat.v1.nn.sampled_softmax_loss(tf_w, bias, labels, inputs, sampled_values=tf_sv,
                                                 remove_accidental_hits=hits,
                                                 partition_strategy="mod", seed=7, **args) if v1 else
            tf.nn.sampled_softmax_loss(tf_w, bias, labels, inputs, sampled_values=tf_sv,
                                       remove_accidental_hits=hits, seed=7, **args)),
        "neg": lambda: nn_impl._sum_rows(tf.nn.sigmoid_cross_entropy_with_logits(
            *reversed(nn_impl._compute_sampled_logits(
                tf_w, bias, labels, inputs, sampled_values=tf_sv, subtract_log_q=False,
                remove_accidental_hits=hits, partition_strategy=strategy, **args)))),
    }
    our_losses = {
        "nce": lambda: ours.nce_loss(ours_w, ours_b, labels, inputs, sampled_values=tf_sv,
                                     remove_accidental_hits=hits, partition_strategy=strategy,
                                     **args),
        "sampled_softmax": lambda: ours.sampled_softmax_loss(
            ours_w, ours_b, labels, inputs, sampled_values=tf_sv, remove_accidental_hits=hits,
            partition_strategy=strategy, seed=7, **args),
        "neg": lambda: ours.negative_sampling_loss(
            ours_w, ours_b, labels, inputs, sampled_values=tf_sv, remove_accidental_hits=hits,
            partition_strategy=strategy, **args),
    }
    if use_default:
        del tf_losses["neg"], our_losses["neg"]   # TF has no NEG with its default sampler

    for loss_name in tf_losses:
        (tl, *theirs), (ol, *mine) = (
            _with_grads(fn, lambda loss: (tf.reduce_sum(loss * weight), None), table, biases,
                        inputs)
            for fn, table, biases in ((tf_losses[loss_name], tf_w, bias),
                                      (our_losses[loss_name], ours_w, ours_b)))
        errors[loss_name] = _err(ol, tl)
        _grad_errors(errors, loss_name, (ol, *mine), (tl, *theirs), c["biases"])
    return errors


def report(quick: bool = False, full: bool = False, progress: bool = True) -> Dict:
    """Runs the grid; returns {"configs": [...], "max": {...}, "ok": bool}."""
    from tqdm import tqdm
    rows, worst = [], {}
    configs = grid(quick, full)
    for c in tqdm(configs, desc="parity", disable=not progress, file=sys.stderr):
        errs = run_config(c)
        tol = TOLERANCE[c["dtype"]]
        ok = all(e <= tol for e in errs.values())
        rows.append(dict(config=c, name=config_name(c), errors=errs, tolerance=tol, ok=ok))
        for k, e in errs.items():
            key = f"{k} ({c['dtype']})"
            worst[key] = max(worst.get(key, 0.0), e)
    return dict(configs=rows, max=worst, ok=all(r["ok"] for r in rows),
                n_configs=len(rows), n_failed=sum(not r["ok"] for r in rows))
