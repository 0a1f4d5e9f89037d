"""Class tables split into shards, and row lookups across them.

A class table `W` of shape `[num_classes, dim]` may be given whole or as a list of shards
(a tuple, a `tf.compat.v1` `PartitionedVariable` or a `tf.distribute` `ShardedVariable` work
too). With P shards holding N rows in all, a class id `i` lives at:

* "mod":  shard `i mod P`, row `i // P`. Shard p therefore holds `ceil((N - p) / P)` rows.
* "div":  contiguous blocks: shard p holds ids `[o_p, o_p + n_p)` where `n_p` is its row count
  and `o_p = n_0 + ... + n_{p-1}`; row `i - o_p`.

"div" here is *the concatenation* of the shards, whatever their sizes. TensorFlow's
`embedding_lookup` instead assumes the sizes `ceil(N/P)` for the first `N mod P` shards and
`floor(N/P)` for the rest, and silently returns wrong rows when the shards follow another
layout (tensorflow/tensorflow#19265). For every layout TensorFlow handles, both agree; for the
others we return the rows of the concatenated table (tests show both behaviours).
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np
import tensorflow as tf

PARTITION_STRATEGIES = ("mod", "div")


def as_shard_list(table, arg_name: str = "weights") -> List:
    """Returns the shards of `table` as a Python list (one element if it is not sharded)."""
    table = _unwrap_keras(table)   # Keras 3 wraps ShardedVariables in a keras.Variable
    if isinstance(table, (list, tuple)):
        if table and all(isinstance(t, (int, float, np.number)) for t in table):
            raise ValueError(f"`{arg_name}` is a Python list of {len(table)} numbers; a list "
                             "means a list of shards (TensorFlow fails on this one with an "
                             "IndexError). Pass a tensor or numpy array instead, e.g. "
                             f"np.asarray({arg_name}, np.float32).")
        shards = list(table)
    elif hasattr(table, "variables") and type(table).__name__ == "ShardedVariable":
        shards = list(table.variables)
    elif type(table).__name__ == "PartitionedVariable":
        shards = list(table)
    else:
        shards = [table]
    if not shards:
        raise ValueError(f"`{arg_name}` is an empty list of shards; expected at least one tensor.")
    return [_unwrap(s) for s in shards]


def _unwrap_keras(x):
    if type(x).__module__.startswith("keras") and hasattr(x, "value") and hasattr(x, "assign"):
        return x.value
    return x


def _unwrap(x):
    """A Keras 3 `keras.Variable` exposes its backend `tf.Variable` as `.value`."""
    if type(x).__module__.startswith("keras") and hasattr(x, "value") and hasattr(x, "assign"):
        return x.value
    if isinstance(x, (tf.Tensor, tf.Variable)) or hasattr(x, "_as_graph_element"):
        return x
    return tf.convert_to_tensor(x)   # numpy arrays and the like


def check_rank(shards: Sequence, rank: int, arg_name: str, expected: str) -> None:
    """Raises ValueError if a shard's static rank is not `rank` (`expected` says the shape)."""
    for k, s in enumerate(shards):
        if s.shape.rank is not None and s.shape.rank != rank:
            which = "" if len(shards) == 1 else f" shard {k}"
            raise ValueError(f"`{arg_name}`{which} has shape {s.shape.as_list()}; expected "
                             f"{expected}.")


def shard_sizes(shards: Sequence) -> List[int]:
    """Static row counts of each shard, or -1 where unknown at trace time."""
    sizes = []
    for s in shards:
        n = s.shape[0] if s.shape.rank is not None else None
        sizes.append(int(n) if n is not None else -1)
    return sizes


def check_layout(sizes: Sequence[int], num_classes: int, strategy: str, arg_name: str) -> None:
    """Raises ValueError if the shard sizes cannot hold classes `[0, num_classes)`."""
    if strategy not in PARTITION_STRATEGIES:
        raise ValueError(f"`partition_strategy` must be one of {PARTITION_STRATEGIES}, "
                         f"got {strategy!r}.")
    if any(n < 0 for n in sizes):
        return  # dynamic shapes: nothing to check before running
    if sum(sizes) != num_classes:
        raise ValueError(f"`{arg_name}` shards have {list(sizes)} rows, {sum(sizes)} in all; "
                         f"expected them to add up to num_classes={num_classes}.")
    if strategy == "mod" and len(sizes) > 1:
        p = len(sizes)
        expected = [(num_classes - k + p - 1) // p for k in range(p)]
        if list(sizes) != expected:
            raise ValueError(f"`{arg_name}` shards have {list(sizes)} rows; with "
                             f"partition_strategy='mod' and {p} shards over {num_classes} "
                             f"classes each shard k must hold ceil((N-k)/P) rows: {expected}.")


def route(ids: tf.Tensor, sizes: Sequence, strategy: str):
    """Maps global ids `[n]` to (shard index `[n]` int32, local row `[n]` int64).

    `sizes` are the shards' row counts: Python ints, or scalar tensors where the counts are
    known only when the graph runs (shards traced with a `None` first dimension).

    Raises:
      ValueError: `strategy` not one of "mod", "div".
    """
    if strategy not in PARTITION_STRATEGIES:
        raise ValueError(f"`partition_strategy` must be one of {PARTITION_STRATEGIES}, "
                         f"got {strategy!r}.")
    p = len(sizes)
    if strategy == "mod":
        # shard = i mod P, row = i // P
        return tf.cast(ids % p, tf.int32), ids // p
    # "div" as concatenation: shard = number of block starts o_1..o_{P-1} that are <= i.
    if all(isinstance(n, int) for n in sizes):
        starts = tf.constant([sum(sizes[:k]) for k in range(p)], dtype=ids.dtype)   # [P]
    else:
        starts = tf.cumsum(tf.cast(tf.stack(sizes), ids.dtype), exclusive=True)    # [P]
    shard = tf.searchsorted(starts[1:], ids, side="right", out_type=tf.int32)
    return shard, ids - tf.gather(starts, shard)


def lookup(shards: Sequence, ids: tf.Tensor, strategy: str = "mod", *,
           check_ids: bool = True) -> tf.Tensor:
    """Rows of the (possibly sharded) table for `ids` `[n]` -> `[n, ...]`.

    One shard is a plain gather. With several, the ids are split by shard
    (`dynamic_partition`), each shard is gathered once, and the rows are put back in the
    order of `ids` (`dynamic_stitch`): gradients reach each shard as `IndexedSlices`.
    `check_ids=False` skips the eager range check (one reduction and a host sync per call)
    for a caller that has checked the ids already, as the losses do.

    Raises:
      ValueError: `strategy` not one of "mod", "div" (also with one shard, where it is unused);
        `ids` not an integer vector; eagerly, ids outside `[0, rows)` (a raw Gather error
        naming a shard's local row on CPU, zero rows silently on GPU).
    """
    if strategy not in PARTITION_STRATEGIES:
        raise ValueError(f"`partition_strategy` must be one of {PARTITION_STRATEGIES}, "
                         f"got {strategy!r}.")
    ids = tf.convert_to_tensor(ids)
    if not ids.dtype.is_integer or ids.shape.rank not in (None, 1):
        raise ValueError(f"`ids` must be an integer vector [n], got {ids.dtype.name} of shape "
                         f"{ids.shape}.")
    sizes = shard_sizes(shards)
    if check_ids and tf.executing_eagerly() and min(sizes) >= 0 and tf.size(ids) > 0:
        lo, hi = int(tf.reduce_min(ids)), int(tf.reduce_max(ids))
        if lo < 0 or hi >= sum(sizes):
            raise ValueError(f"`ids` must be in [0, {sum(sizes)}) (the rows of the "
                             f"{len(shards)} shard(s)), got values in [{lo}, {hi}].")
    if len(shards) == 1:
        return tf.gather(shards[0], ids)
    if any(n < 0 for n in sizes):   # a row count unknown when traced: read it when run
        sizes = [tf.shape(s, out_type=ids.dtype)[0] for s in shards]
    shard, row = route(ids, sizes, strategy)
    p = len(shards)
    rows_by_shard = tf.dynamic_partition(row, shard, p)
    positions = tf.dynamic_partition(tf.range(tf.size(ids)), shard, p)
    parts = [tf.gather(s, r) for s, r in zip(shards, rows_by_shard)]
    return tf.dynamic_stitch(positions, parts)
