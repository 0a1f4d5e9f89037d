"""Training beyond one device with TensorFlow's own `tf.distribute`, and sharded class tables.

Nothing in the losses changes under a strategy: `compute_sampled_logits` and the losses are
plain TensorFlow ops, run once per replica on that replica's slice of the batch. What a
custom training loop must get right is the *scaling* of the loss. With R replicas, a global
batch of G examples split into slices B_1..B_R, and per-example losses l_i:

    mean:  L = (1/G) sum_{i in batch} l_i = sum_r [ (1/G) sum_{i in B_r} l_i ]
    sum:   L = sum_{i in batch} l_i       = sum_r [ sum_{i in B_r} l_i ]

so each replica computes its bracket (`tf.nn.compute_average_loss(l, global_batch_size=G)`
for the mean: divide by G, *not* by |B_r|), takes the gradient of it, and the gradients are
summed across replicas (all-reduce SUM). The summed gradient is then exactly the gradient of
L on one device with the same global batch; `make_train_step` does this.

One caveat: sampled losses draw S negatives per call. Under a strategy each replica calls
the sampler on its own slice, so the negatives are shared by |B_r| rows instead of G. With
fixed negatives (`sampled_values` given) the steps are identical to one device; with sampling
on, only the distribution of the loss is (tests/test_distribute.py measures both).

Sharded class tables: `w2v_tf.shards` already accepts a list of shards or a
`tf.distribute` `ShardedVariable` (what `ParameterServerStrategy` builds with a
`variable_partitioner`); `sharded_top_k` is retrieval over such a table without gathering it.
docs/scaling.md describes what runs where.
"""
from __future__ import annotations

import json
import os
from typing import Callable, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from w2v_tf import shards as _shards

STRATEGIES = ("none", "mirrored", "multi_worker", "parameter_server")
REDUCTIONS = ("mean", "sum")


# ----------------------------------------------------------------------------- devices
def configure_logical_cpus(n: int) -> List[str]:
    """Splits the first physical CPU into `n` logical devices; returns their names.

    Must run before TensorFlow initialises its devices (before the first op or strategy):
    afterwards the device list is frozen and this raises RuntimeError. Tests therefore call
    it at the start of a fresh process.

    Args:
      n: number of logical CPU devices, >= 1.

    Returns:
      The logical CPU device names, e.g. `["/device:CPU:0", "/device:CPU:1"]`.

    Raises:
      ValueError: `n` is not a positive int.
      RuntimeError: TensorFlow's devices are already initialised with another count.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"`n` must be a positive int (number of logical CPUs), got {n!r}.")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == n:
        return [d.name for d in tf.config.list_logical_devices("CPU")]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError as err:
        have = tf.config.list_logical_devices("CPU")
        if len(have) == n:   # initialised already, with the count asked for
            return [d.name for d in have]
        raise RuntimeError(
            f"cannot split the CPU into n={n} logical devices: TensorFlow has already "
            f"initialised {len(have)} CPU device(s). Call configure_logical_cpus before any "
            "TensorFlow op or strategy, at the start of the process.") from err
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def local_devices() -> List[str]:
    """The devices a `MirroredStrategy` should mirror over: all GPUs, else all logical CPUs.

    (`tf.distribute.MirroredStrategy()` with no argument uses only CPU:0 on a CPU machine.)
    """
    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]


def make_strategy(name: str, devices: Optional[Sequence[str]] = None,
                  cluster_resolver=None, variable_partitioner=None) -> tf.distribute.Strategy:
    """The `tf.distribute.Strategy` for a `--strategy` flag value.

    Args:
      name: "none" (TensorFlow's default strategy: one device, no-op scope), "mirrored"
        (`MirroredStrategy`: synchronous data parallelism over the local devices),
        "multi_worker" (`MultiWorkerMirroredStrategy`: the same across machines; reads the
        cluster from the `TF_CONFIG` environment variable and is one worker without it),
        "parameter_server" (`ParameterServerStrategy`; needs `cluster_resolver`).
      devices: devices for "mirrored" (default `local_devices()`).
      cluster_resolver: a `tf.distribute.cluster_resolver.ClusterResolver`, required for
        "parameter_server", optional for "multi_worker".
      variable_partitioner: for "parameter_server", e.g.
        `tf.distribute.experimental.partitioners.FixedShardsPartitioner(num_shards)`:
        large variables become `ShardedVariable`s split over the parameter servers.

    Raises:
      ValueError: an unknown `name`, "parameter_server" without a cluster resolver,
        `devices` given as one string instead of a list, or "multi_worker" with a
        `TF_CONFIG` that is not JSON.
    """
    if name not in STRATEGIES:
        raise ValueError(f"`name` (strategy) must be one of {STRATEGIES}, got {name!r}.")
    if name == "none":
        return tf.distribute.get_strategy()
    if isinstance(devices, str):   # list("/gpu:0") would be its characters
        raise ValueError(f"`devices` must be a list of device names, got the string "
                         f"{devices!r}; pass [{devices!r}].")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(list(devices) if devices else local_devices())
    if name == "multi_worker":
        if cluster_resolver is None and "TF_CONFIG" in os.environ:
            try:   # a malformed TF_CONFIG fails here, by name
                json.loads(os.environ["TF_CONFIG"])
            except json.JSONDecodeError as err:
                raise ValueError(f"the TF_CONFIG environment variable is not valid JSON ({err}): "
                                 f"{os.environ['TF_CONFIG'][:200]!r}") from err
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=cluster_resolver)
    if cluster_resolver is None:
        raise ValueError("strategy 'parameter_server' needs `cluster_resolver` (the addresses "
                         "of its workers and parameter servers); see examples/parameter_server.py.")
    return tf.distribute.experimental.ParameterServerStrategy(
        cluster_resolver, variable_partitioner=variable_partitioner)


# ----------------------------------------------------------------------------- training step
def _as_tf_variable(v):
    """A Keras 3 variable's backend (possibly distributed) `tf.Variable`; others unchanged."""
    return v.value if type(v).__module__.startswith("keras") and hasattr(v, "assign") else v


def trainable_components(variables: Sequence) -> List:
    """The variables a tape and an optimizer can handle: each `ShardedVariable` as its shards.

    Under `ParameterServerStrategy` with a partitioner, Keras 3 wraps a `ShardedVariable` in
    a `keras.Variable`, and `tape.gradient` on that wrapper fails ("'ShardedVariable' object
    has no attribute 'handle'"); gradients are taken with respect to the shards instead.
    Other variables are returned as given.
    """
    out = []
    for v in variables:
        tf_v = _as_tf_variable(v)
        if type(tf_v).__name__ == "ShardedVariable":
            out.extend(tf_v.variables)
        else:
            out.append(v)
    return out


def make_train_step(strategy: tf.distribute.Strategy, loss_fn: Callable, variables: Sequence,
                    optimizer=None, update_fn: Optional[Callable] = None, *,
                    global_batch_size: int, reduction: str = "mean",
                    combine_duplicate_rows: bool = False,
                    jit_compile: Optional[bool] = None) -> Callable:
    """A compiled distributed step `step(dist_batch, *update_args) -> global loss`.

    Each replica computes `l = loss_fn(local_batch)` `[b]`, the per-example losses of its
    slice, and its share of the global loss (module docstring):

        mean:  L_r = sum(l) / global_batch_size     (`tf.nn.compute_average_loss`)
        sum:   L_r = sum(l)

    The gradients of L_r are summed over replicas, so the update is the one a single device
    makes on the whole global batch; the returned loss is sum_r L_r, the global loss.

    Args:
      strategy: a `tf.distribute.Strategy` (the default strategy for one device). Variables
        (and the optimizer) must have been created under `strategy.scope()`.
      loss_fn: `loss_fn(batch) -> [b]` per-example losses of one replica's slice. Weight
        padding rows with 0 inside it; regularisation terms are not added here.
      variables: the trainable variables (`tf.Variable` or `keras.Variable`); a
        `ShardedVariable` is trained shard by shard (`trainable_components`).
      optimizer: a Keras optimizer created under `strategy.scope()` (it all-reduces the
        gradients itself); its slots are built here.
      update_fn: instead of `optimizer`, `update_fn(variable, gradient, *update_args)`
        applied to each variable's copy on each device with the all-reduced gradient (a
        `tf.IndexedSlices` for gathered rows), e.g. word2vec's sparse SGD `scatter_sub`.
      global_batch_size: G, the number of examples of one step over all replicas.
      reduction: "mean" (divide by G) or "sum" (word2vec's summed per-pair loss).
      combine_duplicate_rows: sum the slices of an `IndexedSlices` gradient that share an
        index, on each replica before the all-reduce (`combine_duplicates`). Keras 3's Adam
        (and other optimizers non-linear in g) squares the slices one by one, so for a row
        gathered k times its second moment gets sum_k g_k^2 instead of (sum_k g_k)^2; this
        makes it exact on one device. Across replicas the all-reduced slices of one row
        still arrive separately, so Adam's sparse steps differ slightly between one device
        and R replicas (Keras `fit` included); SGD's do not (docs/scaling.md).
      jit_compile: passed to `tf.function`.

    Returns:
      `step(dist_batch, *update_args)`: `dist_batch` comes from
      `strategy.experimental_distribute_dataset` (or is a plain batch for one device);
      returns the global loss of the step (a scalar tensor in `loss_fn`'s dtype).

    Raises:
      ValueError: neither or both of `optimizer` / `update_fn`, an optimizer created under
        another strategy, bad `reduction` or `global_batch_size`, `variables` empty or not a
        list of variables (one variable alone, or a tensor in the list).
      TypeError: `strategy` not a `tf.distribute.Strategy` (e.g. the flag value "mirrored":
        use `make_strategy`), or `loss_fn` / `update_fn` not callable.
    """
    _check_step_arguments(strategy, optimizer, update_fn, reduction, global_batch_size)
    if not callable(loss_fn):
        raise TypeError(f"`loss_fn` must be callable (batch -> [b] losses), got {loss_fn!r}.")
    variables = trainable_components(_check_variables(variables))
    global_batch_size = int(global_batch_size)   # a numpy integer too
    if optimizer is not None:
        with strategy.scope():
            optimizer.build(variables)
    tf_vars = [_as_tf_variable(v) for v in variables]

    def replica_step(batch, *update_args):
        with tf.GradientTape() as tape:
            local = _replica_loss(loss_fn(batch), reduction, global_batch_size)   # L_r
        grads = tape.gradient(local, variables)
        if combine_duplicate_rows:
            grads = [combine_duplicates(g) for g in grads]
        if optimizer is not None:
            # Keras all-reduces (SUM) the gradients across replicas inside apply_gradients.
            optimizer.apply_gradients(zip(grads, variables))
        else:
            _all_reduce_and_update(grads, tf_vars, update_fn, update_args)
        return local

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def step(dist_batch, *update_args):
        per_replica = strategy.run(replica_step, args=(dist_batch,) + tuple(update_args))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)  # sum_r L_r

    return step


def _check_step_arguments(strategy, optimizer, update_fn, reduction, global_batch_size):
    """The ValueErrors of `make_train_step`, raised before anything is traced."""
    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(f"`strategy` must be a tf.distribute.Strategy (e.g. "
                        f"make_strategy(\"mirrored\")), got {strategy!r}.")
    if update_fn is not None and not callable(update_fn):
        raise TypeError(f"`update_fn` must be callable (variable, gradient, *update_args), "
                        f"got {update_fn!r}.")
    if (optimizer is None) == (update_fn is None):
        raise ValueError("pass exactly one of `optimizer` (a Keras optimizer) or `update_fn` "
                         f"(a per-variable update), got optimizer={optimizer!r}, "
                         f"update_fn={update_fn!r}.")
    if reduction not in REDUCTIONS:
        raise ValueError(f"`reduction` must be one of {REDUCTIONS}, got {reduction!r}.")
    if isinstance(global_batch_size, bool) \
            or not isinstance(global_batch_size, (int, np.integer)) \
            or global_batch_size < 1:
        raise ValueError(f"`global_batch_size` must be a positive int, got {global_batch_size!r}.")
    if optimizer is not None:
        owner = getattr(optimizer, "_distribution_strategy", strategy)
        if owner is not strategy:
            raise ValueError(f"`optimizer` was created under {type(owner).__name__}, not under "
                             f"the given {type(strategy).__name__}: a Keras optimizer keeps the "
                             "strategy active when it is constructed, so create it inside "
                             "`with strategy.scope():`.")


def _check_variables(variables) -> List:
    """`variables` as a non-empty list of variables (a lone variable or a tensor refused)."""
    lone = _as_tf_variable(variables)
    if isinstance(lone, (tf.Variable, tf.Tensor)) or type(lone).__name__ == "ShardedVariable":
        raise ValueError(f"`variables` must be a list of variables, got one "
                         f"{type(variables).__name__} {getattr(variables, 'shape', '')}; pass "
                         "[variable] (a lone variable was iterated row by row).")
    variables = list(variables)
    if not variables:
        raise ValueError("`variables` is empty; expected the trainable variables that "
                         "`loss_fn` reads (e.g. model.trainable_variables, once built).")
    for k, v in enumerate(variables):
        if isinstance(_as_tf_variable(v), (tf.Tensor, np.ndarray)):
            raise ValueError(f"`variables[{k}]` is a {type(v).__name__}, not a variable: "
                             "only variables can be trained.")
    return variables


def _replica_loss(per_example, reduction, global_batch_size):
    """L_r, the replica's share of the global loss, from its per-example losses `[b]`."""
    if reduction == "mean":
        # (1/G) sum_{i in B_r} l_i: the replica's share of the global mean
        return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
    return tf.reduce_sum(per_example)                                       # sum_{i in B_r} l_i


def _all_reduce_and_update(grads, tf_vars, update_fn, update_args):
    """Sums the gradients over the replicas, then applies `update_fn(v, g, *update_args)` to
    each variable's copy on each device (in a cross-replica `merge_call`)."""
    ctx = tf.distribute.get_replica_context()
    grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)               # sum_r dL_r/dv

    def apply(strategy_, grads_, *args):
        for v, g in zip(tf_vars, grads_):
            if g is not None:
                strategy_.extended.update(v, update_fn, args=(g,) + tuple(args), group=False)
    ctx.merge_call(apply, args=(grads,) + tuple(update_args))


def combine_duplicates(gradient):
    """An `IndexedSlices` with one slice per distinct index, g_i = sum_{k: idx_k = i} v_k.

    Dense gradients (and None) are returned unchanged.
    """
    if not isinstance(gradient, tf.IndexedSlices):
        return gradient
    unique, position = tf.unique(gradient.indices)                          # [u], [n]
    values = tf.math.unsorted_segment_sum(gradient.values, position,
                                          tf.shape(unique)[0])              # [u, ...]
    return tf.IndexedSlices(values, unique, gradient.dense_shape)


def sgd_update(variable, gradient, learning_rate):
    """v -= lr * g, touching only the rows of an `IndexedSlices` gradient (an `update_fn`).

    `variable` may be a `tf.Variable` or a Keras 3 `keras.Variable`; a learning rate given as
    a tensor or numpy scalar of another float dtype is cast to the gradient's, as Keras'
    optimizers do (a Python float is used as is).
    """
    variable = _as_tf_variable(variable)
    g_dtype = gradient.values.dtype if isinstance(gradient, tf.IndexedSlices) else gradient.dtype
    if isinstance(learning_rate, (tf.Tensor, tf.Variable, np.generic, np.ndarray)) \
            and learning_rate.dtype != g_dtype:
        learning_rate = tf.cast(learning_rate, g_dtype)
    if isinstance(gradient, tf.IndexedSlices):
        return variable.scatter_sub(tf.IndexedSlices(
            learning_rate * gradient.values, gradient.indices, gradient.dense_shape))
    return variable.assign_sub(learning_rate * gradient)


# ----------------------------------------------------------------------------- retrieval
def sharded_top_k(queries, shards, k: int, biases=None, partition_strategy: str = "div"):
    """Exact top-k classes of `queries` over a sharded table, one shard at a time.

    score(u, i) = q_u . w_i (+ b_i). Each shard p gives its k best rows (`tf.math.top_k` on
    `[U, n_p]` scores), their local rows are mapped back to global ids (div: `o_p + row`;
    mod: `row * P + p`), and the P*k candidates are merged with a second top-k. Any row of the
    global top-k is in its own shard's top-k, so the result is the exact top-k; only
    `[U, n_p]` scores exist at a time, never `[U, N]`.

    Args:
      queries: `[U, d]` float query (user) vectors.
      shards: a table `[N, d]`, a list/tuple of shards, or a `ShardedVariable`.
      k: number of results per query, 1 <= k <= N.
      biases: optional `[N]` biases, sharded like `shards` (or one tensor).
      partition_strategy: "div" (shards are consecutive blocks, any sizes) or "mod".

    Returns:
      `(scores [U, k] float, ids [U, k] int64)`, best first. With "div", ties are broken
      towards the smaller id, as `tf.math.top_k` on the whole table does.

    Raises:
      ValueError: bad `k`, shards that are not `[rows, d]` with one `d`, queries that are not
        `[U, d]`, biases that are not 1-D or whose shards differ from the table's, or (in a
        `tf.function`) shards whose row counts are not static.
      TypeError: `queries` not floating point (an integer query would cast the table to
        integers and return wrong scores).
    """
    w = _shards.as_shard_list(shards, "shards")
    _shards.check_rank(w, 2, "shards", "[num_classes, dim], or a list of [rows, dim] shards")
    sizes = _static_rows(w, "shards")
    total = sum(sizes)
    _shards.check_layout(sizes, total, partition_strategy, "shards")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= total:
        raise ValueError(f"`k` must be an int in [1, {total}] (the number of classes), got {k!r}.")
    k = int(k)
    dims = sorted({s.shape[-1] for s in w if s.shape[-1] is not None})
    if len(dims) > 1:
        raise ValueError(f"`shards` have dims {[s.shape[-1] for s in w]}; expected one dim for "
                         "all shards (the rows of one table).")
    dim = dims[0] if dims else None
    queries = tf.convert_to_tensor(queries)
    if queries.shape.rank != 2 or None not in (dim, queries.shape[1]) and queries.shape[1] != dim:
        raise ValueError(f"`queries` must have shape [num_queries, {dim}] (the "
                         f"table's dim), got {queries.shape}.")
    if not queries.dtype.is_floating:
        raise TypeError(f"`queries` must be floating point [num_queries, {dim}], got dtype "
                        f"{queries.dtype.name} (the table would be cast to it).")
    if biases is not None:
        b = _shards.as_shard_list(biases, "biases")
        _shards.check_rank(b, 1, "biases", "[num_classes], or a list of 1-D shards matching "
                           "the table's shards")
        if len(b) == 1 and len(w) > 1:
            starts = [sum(sizes[:p]) for p in range(len(w))]
            if partition_strategy == "div":
                b = [b[0][o:o + n] for o, n in zip(starts, sizes)]
            else:
                b = [b[0][p::len(w)] for p in range(len(w))]
        b_sizes = _static_rows(b, "biases")
        if b_sizes != sizes:
            raise ValueError(f"`biases` shards have {b_sizes} rows; "
                             f"expected the table's shard sizes {sizes}.")
    p_count = len(w)
    cand_scores, cand_ids = [], []
    offset = 0
    for p, shard in enumerate(w):
        s = tf.matmul(queries, tf.cast(shard, queries.dtype), transpose_b=True)   # [U, n_p]
        if biases is not None:
            s += tf.cast(b[p], queries.dtype)[None, :]
        top = tf.math.top_k(s, k=min(k, sizes[p]))                               # [U, k_p]
        rows = tf.cast(top.indices, tf.int64)
        # local row -> global id: div o_p + row; mod row * P + p
        ids = rows + offset if partition_strategy == "div" else rows * p_count + p
        cand_scores.append(top.values)
        cand_ids.append(ids)
        offset += sizes[p]
    scores = tf.concat(cand_scores, axis=1)                                       # [U, sum k_p]
    ids = tf.concat(cand_ids, axis=1)
    best = tf.math.top_k(scores, k=k)                                             # [U, k]
    return best.values, tf.gather(ids, best.indices, batch_dims=1)


def _static_rows(shards: Sequence, arg_name: str) -> List[int]:
    """Row counts of each shard, known when traced (always eagerly), else a ValueError."""
    sizes = _shards.shard_sizes(shards)
    if any(n < 0 for n in sizes):
        raise ValueError(f"`{arg_name}` shards have row counts {sizes} (-1: unknown when "
                         "traced); sharded_top_k needs static row counts: trace it with "
                         "shapes [rows, dim] known, or call it eagerly.")
    return sizes
