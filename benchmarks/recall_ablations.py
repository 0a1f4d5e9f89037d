"""MIND / ComiRec-SA ablations on the ML-100K VALIDATION split (docs/recall-ablations.md).

    python benchmarks/recall_ablations.py --configs mind-random-shared mind-fixed-sep ... \\
        [--seeds 0] [--epochs 5] [--patience 3] [--out runs/ablations.jsonl]

Each config is `recall_models.train.train` with the training command's defaults
(log-uniform sampler, S = 100, batch 256, Adam 3e-3, patience 3) and the changes listed in
CONFIGS, on one loaded dataset. One JSON line per (config, seed) is appended to --out:
validation HR@50 / NDCG@10 at the best epoch (chosen by validation NDCG@10, as the command
does), the best validation HR@50 of any epoch, the validation HR@50 when the interests are
merged by their mean instead of the max (same weights), seconds per epoch, and the test
metrics (reported, not used to choose) and the validation HR@50 / NDCG@10 of every epoch.
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
import time

# MIND configs without a pow_p run with p = 2 (`run`), the model's default until the
# 10-epoch screen below made p = inf its default.
CONFIGS = {
    "ytdnn": dict(model="youtubednn", hparams={}),
    "ytdnn-lr1e-2": dict(model="youtubednn", learning_rate=1e-2, hparams={}),
    # MIND's defaults (the paper's): random b0 per pass, item table shared with the softmax.
    "mind-random-shared": dict(hparams=dict(routing_init="random", shared_table=True)),
    "mind-random-sep": dict(hparams=dict(routing_init="random", shared_table=False)),
    "mind-fixed-shared": dict(hparams=dict(routing_init="fixed", shared_table=True)),
    "mind-fixed-sep": dict(hparams=dict(routing_init="fixed", shared_table=False)),
    "mind-K1": dict(hparams=dict(num_interests=1, routing_init="fixed", shared_table=False)),
    "mind-K2": dict(hparams=dict(num_interests=2)),
    "mind-K8": dict(hparams=dict(num_interests=8)),
    "mind-p0": dict(hparams=dict(pow_p=0.0)),
    "mind-pinf": dict(hparams=dict(pow_p=math.inf)),
    "mind-noprofile": dict(hparams=dict(use_profile=False)),
    "mind-lr1e-3": dict(learning_rate=1e-3, hparams={}),
    "mind-lr1e-2": dict(learning_rate=1e-2, hparams={}),
    "mind-it1": dict(hparams=dict(iterations=1)),
    "mind-sep": dict(hparams=dict(shared_table=False)),
    "mind-K2-p0": dict(hparams=dict(num_interests=2, pow_p=0.0)),
    "mind-dropout": dict(hparams=dict(dropout=0.2)),
    "mind-bias": dict(hparams=dict(use_bias=True)),
    "mind-pool": dict(hparams=dict(pool_history=True)),
    "mind-pool-bias": dict(hparams=dict(pool_history=True, use_bias=True)),
    "mind-pool-sep-bias": dict(hparams=dict(pool_history=True, shared_table=False,
                                            use_bias=True)),
    "mind-K1-shared": dict(hparams=dict(num_interests=1)),
    "mind-pinf-pool": dict(hparams=dict(pow_p=math.inf, pool_history=True)),
    "mind-pinf-bias": dict(hparams=dict(pow_p=math.inf, use_bias=True)),
    "mind-pinf-sep-bias": dict(hparams=dict(pow_p=math.inf, shared_table=False, use_bias=True)),
    "mind-pinf-K2": dict(hparams=dict(num_interests=2, pow_p=math.inf)),
    "mind-pinf-K8": dict(hparams=dict(num_interests=8, pow_p=math.inf)),
    "mind-pinf-fixed": dict(hparams=dict(pow_p=math.inf, routing_init="fixed")),
    "mind-pinf-lr1e-2": dict(learning_rate=1e-2, hparams=dict(pow_p=math.inf)),
    "mind-pinf-it1": dict(hparams=dict(pow_p=math.inf, iterations=1)),
    "mind-pinf-it2": dict(hparams=dict(pow_p=math.inf, iterations=2)),
    "mind-p0-pool": dict(hparams=dict(pow_p=0.0, pool_history=True)),
    "mind-p0-mean": dict(hparams=dict(pow_p=0.0, merge="mean")),
    "mind-p0-pool-mean": dict(hparams=dict(pow_p=0.0, pool_history=True, merge="mean")),
    "mind-p1": dict(hparams=dict(pow_p=1.0)),
    "comirec-lr1e-3": dict(model="comirec_sa", learning_rate=1e-3, hparams={}),
    "comirec-lr1e-2": dict(model="comirec_sa", learning_rate=1e-2,
                           hparams=dict(attention_units=256)),
    # comirec-shared / -sep: measured with the paper's d_a = 4 d = 256 (the first two rounds).
    "comirec-shared": dict(model="comirec_sa", hparams=dict(shared_table=True,
                                                            attention_units=256)),
    "comirec-sep": dict(model="comirec_sa", hparams=dict(shared_table=False,
                                                         attention_units=256)),
    # Third round (ComiRec-SA): the paper's d_a = 4 d = 256 (shared table, p = inf), then
    # d_a = 64 (= d, ~4x cheaper in the tanh layer) with one change each.
    "comirec": dict(model="comirec_sa", hparams=dict(attention_units=256)),
    "comirec-da64": dict(model="comirec_sa", hparams=dict(attention_units=64)),
    "comirec-da64-lr1e-2": dict(model="comirec_sa", learning_rate=1e-2,
                                hparams=dict(attention_units=64)),
    "comirec-da64-K2": dict(model="comirec_sa", hparams=dict(attention_units=64,
                                                             num_interests=2)),
    "comirec-da64-p2": dict(model="comirec_sa", hparams=dict(attention_units=64, pow_p=2.0)),
    "comirec-da64-bias": dict(model="comirec_sa", hparams=dict(attention_units=64,
                                                               use_bias=True)),
    "comirec-da64-sep-bias": dict(model="comirec_sa", hparams=dict(
        attention_units=64, shared_table=False, use_bias=True)),
    "comirec-da64-K8": dict(model="comirec_sa", hparams=dict(attention_units=64,
                                                             num_interests=8)),
    "comirec-da16": dict(model="comirec_sa", hparams=dict(attention_units=16)),
    "comirec-da64-profile": dict(model="comirec_sa", hparams=dict(attention_units=64,
                                                                  use_profile=True)),
    # Fourth round: a ReLU tower on every ComiRec-SA interest (MIND's and YouTubeDNN's),
    # with and without the mean behaviour as a second tower input, at lr 3e-3 and 1e-2.
    "comirec-tower": dict(model="comirec_sa", hparams=dict(hidden_units=(128,))),
    "comirec-tower-pool": dict(model="comirec_sa", hparams=dict(hidden_units=(128,),
                                                                pool_history=True)),
    "comirec-tower-lr1e-2": dict(model="comirec_sa", learning_rate=1e-2,
                                 hparams=dict(hidden_units=(128,))),
    "comirec-tower-pool-lr1e-2": dict(model="comirec_sa", learning_rate=1e-2,
                                      hparams=dict(hidden_units=(128,), pool_history=True)),
    # The samplers other than log-uniform, YouTubeDNN against ComiRec-SA at its own lr.
    **{f"ytdnn-{s}": dict(model="youtubednn", sampler=s, hparams={})
       for s in ("in_batch", "mixed")},
    **{f"comirec-lr1e-2-{s}": dict(model="comirec_sa", sampler=s, learning_rate=1e-2,
                                   hparams={}) for s in ("in_batch", "mixed")},
    "comirec-in_batch": dict(model="comirec_sa", sampler="in_batch", hparams={}),
    "comirec-lr5e-3-in_batch": dict(model="comirec_sa", sampler="in_batch", learning_rate=5e-3,
                                    hparams={}),
    # Fifth round: every candidate scored by its best interest in the loss (what max-merge
    # serving ranks by), instead of by the label-attended interest only.
    "mind-pinf-maxscore": dict(hparams=dict(pow_p=math.inf, candidate_score="max")),
    "comirec-lr1e-2-maxscore": dict(model="comirec_sa", learning_rate=1e-2,
                                    hparams=dict(candidate_score="max")),
    "mind-pinf-maxscore-in_batch": dict(sampler="in_batch", hparams=dict(
        pow_p=math.inf, candidate_score="max")),
    "mind-pinf-in_batch": dict(sampler="in_batch", hparams=dict(pow_p=math.inf)),
    "mind-maxscore-linear": dict(hparams=dict(pow_p=math.inf, candidate_score="max",
                                              hidden_units=())),
    "mind-maxscore-noprofile": dict(hparams=dict(pow_p=math.inf, candidate_score="max",
                                                 use_profile=False)),
    "mind-maxscore-perS": dict(hparams=dict(pow_p=math.inf, candidate_score="max",
                                            bilinear="per_interest")),
    "mind-maxscore-perS-in_batch": dict(sampler="in_batch", hparams=dict(
        pow_p=math.inf, candidate_score="max", bilinear="per_interest")),
    **{f"mind-maxscore-lr{n}{suffix}": dict(
        learning_rate=lr, **({"sampler": "in_batch"} if suffix else {}),
        hparams=dict(pow_p=math.inf, candidate_score="max"))
       for n, lr in (("5e-3", 5e-3), ("1e-2", 1e-2)) for suffix in ("", "-in_batch")},
    "mind-maxscore-fixed": dict(hparams=dict(pow_p=math.inf, candidate_score="max",
                                             routing_init="fixed")),
    "mind-maxscore-sd3": dict(hparams=dict(pow_p=math.inf, candidate_score="max",
                                           routing_stddev=3.0)),
    "mind-maxscore-K2": dict(hparams=dict(pow_p=math.inf, candidate_score="max",
                                          num_interests=2)),
    "mind-maxscore-pool": dict(hparams=dict(pow_p=math.inf, candidate_score="max",
                                            pool_history=True)),
    # Sixth round: recency positions in MIND's routing (ComiRec-SA's P, added to e_t).
    "mind-maxscore-pos": dict(hparams=dict(pow_p=math.inf, candidate_score="max",
                                           positions=True)),
    "mind-maxscore-pos-in_batch": dict(sampler="in_batch", hparams=dict(
        pow_p=math.inf, candidate_score="max", positions=True)),
    "mind-pos-it1": dict(hparams=dict(pow_p=math.inf, candidate_score="max", positions=True,
                                      iterations=1)),
    "mind-pos-K2": dict(hparams=dict(pow_p=math.inf, candidate_score="max", positions=True,
                                     num_interests=2)),
    "mind-pos-pool": dict(hparams=dict(pow_p=math.inf, candidate_score="max", positions=True,
                                       pool_history=True)),
    "mind-pos-lr5e-3": dict(learning_rate=5e-3, hparams=dict(
        pow_p=math.inf, candidate_score="max", positions=True)),
    "mind-pos-fixed": dict(hparams=dict(pow_p=math.inf, candidate_score="max", positions=True,
                                        routing_init="fixed")),
    "mind-pos-fixed-in_batch": dict(sampler="in_batch", hparams=dict(
        pow_p=math.inf, candidate_score="max", positions=True, routing_init="fixed")),
    "mind-pos-K8": dict(hparams=dict(pow_p=math.inf, candidate_score="max", positions=True,
                                     num_interests=8)),
    "mind-perS": dict(hparams=dict(pow_p=math.inf, bilinear="per_interest")),
    "comirec-maxscore": dict(model="comirec_sa", hparams=dict(candidate_score="max")),
    "comirec-lr5e-3-maxscore": dict(model="comirec_sa", learning_rate=5e-3,
                                    hparams=dict(candidate_score="max")),
    "comirec-lr1e-2-maxscore-in_batch": dict(model="comirec_sa", sampler="in_batch",
                                             learning_rate=1e-2,
                                             hparams=dict(candidate_score="max")),
}


def run(ds, name: str, seed: int, epochs: int, jit, patience: int = 3) -> dict:
    import keras
    from recall_models.train import TrainConfig, evaluate_model, train

    # Adam 3e-3 unless the config says otherwise: every row was measured with it (the training
    # command's learning rate per model, recall_models.train.LEARNING_RATES, came later).
    spec = {"model": "mind", "sampler": "log_uniform", "learning_rate": 3e-3, **CONFIGS[name]}
    hparams = dict(spec.pop("hparams"))
    if spec["model"] == "mind":         # p = 2 unless the config says otherwise (MIND's
        hparams = {"pow_p": 2.0, **hparams}     # default when these rows were measured),
        hparams = {"positions": False, **hparams}   # and no positions (until round 6)
    if spec["model"] in ("mind", "comirec_sa"):     # the papers' loss unless the config says
        hparams = {"candidate_score": "attended", **hparams}    # (the default until round 5)
    cfg = TrainConfig(seed=seed, epochs=epochs, out=tempfile.mkdtemp(), jit_compile=jit,
                      patience=patience, hparams=dict(hparams), **spec)
    grab = keras.callbacks.Callback()               # holds the model after training
    start = time.time()
    result = train(cfg, ds=ds, verbose=0, callbacks=[grab])
    best = result["history"][result["best_epoch"] - 1]
    row = {"name": name, "seed": seed, "model": cfg.model, "sampler": cfg.sampler,
           "epochs": epochs,
           "patience": patience, "epochs_run": result["epochs_run"],
           "hparams": {k: str(v) for k, v in hparams.items()}, "lr": cfg.learning_rate,
           "best_epoch": result["best_epoch"], "val_hr50_best": best["val_hr@50"],
           "val_ndcg10_best": best["val_ndcg@10"],
           "val_hr50_max": max(h["val_hr@50"] for h in result["history"]),
           "sec_per_epoch": result["seconds_per_epoch"], "wall": time.time() - start,
           "test_f_hr50": result["test"]["filtered"]["hr@50"],
           "test_f_ndcg10": result["test"]["filtered"]["ndcg@10"],
           "val_hr50_per_epoch": [h["val_hr@50"] for h in result["history"]],
           "val_ndcg10_per_epoch": [h["val_ndcg@10"] for h in result["history"]]}
    model = grab.model
    if hasattr(model, "merge"):                     # the same weights, mean-merged
        kept, model.merge = model.merge, "mean"
        row["val_hr50_mean_merge"] = evaluate_model(model, ds, "valid")["filtered"]["hr@50"]
        model.merge = kept
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", required=True, choices=list(CONFIGS),
                   metavar="CONFIG", help="one or more of: " + ", ".join(CONFIGS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds (default: 0)")
    p.add_argument("--epochs", type=int, default=5, help="most epochs per run (default: 5)")
    p.add_argument("--patience", type=int, default=3,
                   help="epochs without a better validation NDCG@10 before stopping")
    p.add_argument("--xla", choices=("auto", "on", "off"), default="auto",
                   help="jit_compile of the step (auto: the training command's choice)")
    p.add_argument("--out", default="runs/ablations.jsonl",
                   help="JSON lines appended here (default: runs/ablations.jsonl)")
    args = p.parse_args(argv)
    from w2v_tf.cli import import_tensorflow_quietly
    import_tensorflow_quietly()   # TensorFlow without its start-up information lines
    from recall_models.data.dataset import load_dataset
    ds = load_dataset("ml-100k", max_history=50)
    jit = {"auto": None, "on": True, "off": False}[args.xla]
    for name in args.configs:
        for seed in args.seeds:
            row = run(ds, name, seed, args.epochs, jit, args.patience)
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
