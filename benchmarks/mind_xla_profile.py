"""Why was MIND's training step slower under XLA? Each piece timed with and without XLA.

    python benchmarks/mind_xla_profile.py [--repeats 200] [--json out.json]

Pieces (forward and backward where there is a gradient), at the README's sizes
B = 256, L = 50, K = 4, d = 64, each a `tf.function` run `--repeats` times after two
warm-up calls, graph and XLA (`jit_compile=True`) side by side in one run (alternating
blocks of a tenth of the calls each):

- routing_full_grad: the routing differentiated through all 3 iterations (before);
- routing: `recall_models.models.mind.dynamic_routing` (gradient through the last one);
- random_normal: the per-step draw of b0 [B, K, L], `keras.random.normal` (routing_init
  "random");
- stateless_philox: the same draw with `tf.random.stateless_normal(alg="philox")`;
- attention_p2: `attention_weights` with p = 2.
"""
from __future__ import annotations

import argparse
import json
import time


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=200,
                   help="timed calls per piece and mode (default 200, at least 10)")
    p.add_argument("--json", default=None, help="also write the timings (ms) to this file")
    return p


if __name__ == "__main__":
    build_parser().parse_args()  # --help and a bad flag answer before TensorFlow loads

from w2v_tf.cli import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()   # TensorFlow without its start-up information lines
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from recall_models.models.mind import attention_weights, dynamic_routing, squash  # noqa: E402

B, L, K, D = 256, 50, 4, 64
ROUNDS = 10   # the repeats are split into this many graph / XLA blocks, alternating


def routing_full_grad(behaviours, mask, bilinear, routing_logits, active, iterations=3):
    """The routing as it was: every iteration on the differentiated u_hat."""
    u_hat = tf.tensordot(behaviours, bilinear, axes=1) * tf.cast(mask, tf.float32)[..., None]
    u_fixed, b = tf.stop_gradient(u_hat), routing_logits
    keep = tf.cast(mask, tf.float32)[:, None, :]
    for it in range(iterations):
        w = tf.nn.softmax(tf.where(active[:, :, None], b, -1e9), axis=1) * keep
        caps = squash(tf.matmul(w, u_hat))
        if it + 1 < iterations:
            b = b + tf.matmul(caps, u_fixed, transpose_b=True)
    return caps


def pieces():
    rng = np.random.default_rng(0)
    e = tf.Variable(rng.normal(size=(B, L, D)).astype(np.float32))
    s = tf.Variable(rng.normal(size=(D, D)).astype(np.float32) * 0.1)
    mask = tf.constant(np.arange(L)[None] < rng.integers(20, L + 1, size=(B, 1)))
    active = tf.constant(np.ones((B, K), bool))
    b0 = tf.constant(rng.normal(size=(B, K, L)).astype(np.float32))
    dots = tf.Variable(rng.normal(size=(B, K)).astype(np.float32))
    gen = keras.random.SeedGenerator(0)
    seed = tf.Variable([0, 0], dtype=tf.int64)

    def grad_of(fn):
        def step():
            with tf.GradientTape() as tape:
                c = fn(e, mask, s, b0, active, 3)
                loss = tf.reduce_sum(c * c)
            return tape.gradient(loss, [e, s])
        return step

    def attention():
        with tf.GradientTape() as tape:
            w = attention_weights(dots, active, 2.0)
            loss = tf.reduce_sum(w * w)
        return tape.gradient(loss, dots)

    def philox():
        seed.assign_add([0, 1])
        return tf.random.stateless_normal((B, K, L), seed, alg="philox")

    return {"routing_full_grad": grad_of(routing_full_grad), "routing": grad_of(dynamic_routing),
            "random_normal": lambda: keras.random.normal((B, K, L), seed=gen),
            "stateless_philox": philox, "attention_p2": attention}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.repeats < ROUNDS:
        parser.error(f"--repeats must be >= {ROUNDS}, got {args.repeats}")
    out = {}
    for name, fn in pieces().items():
        modes = {"graph": tf.function(fn), "xla": tf.function(fn, jit_compile=True)}
        seconds = dict.fromkeys(modes, 0.0)
        for f in modes.values():
            f(), f()                                              # trace and compile
        for block in range(ROUNDS):      # round-robin blocks: load falls on both alike
            calls = args.repeats // ROUNDS + (block < args.repeats % ROUNDS)
            for mode, f in modes.items():
                start = time.perf_counter()
                for _ in range(calls):
                    result = f()
                tf.nest.map_structure(lambda x: x.numpy(), result)
                seconds[mode] += time.perf_counter() - start
        row = {mode: seconds[mode] / args.repeats * 1e3 for mode in modes}
        row["xla/graph"] = row["xla"] / row["graph"]
        out[name] = row
        print(f"{name:18s} graph {row['graph']:8.3f} ms   xla {row['xla']:8.3f} ms   "
              f"xla/graph {row['xla/graph']:.2f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
