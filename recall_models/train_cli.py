"""Train YouTubeDNN, the MIND-like model or ComiRec-SA on MovieLens with w2v_tf's sampled softmax.

Keras `fit` with a progress bar, validation NDCG@10 (history-filtered, whole catalogue) after
every epoch, the best epoch's weights in OUT/best.weights.h5, early stopping after
--patience epochs without improvement, epoch logs in OUT/log.csv (and TensorBoard logs in
OUT/logs when the tensorboard package is installed), and resumption: run
the same command again after an interruption and training continues after the last
finished epoch: the whole state (weights, optimizer, samplers, random seeds) is saved
at every epoch end in OUT/checkpoint.npz and the interrupted epoch is repeated in the same
order, so a run killed at any moment ends exactly like an uninterrupted one; the same
command on a finished run prints its results and trains nothing. A folder holding another
configuration's run (OUT/config.json), or files but no run, is refused. At the end
the best weights are evaluated on the test items (filtered and unfiltered HR@K, NDCG@K,
MRR) and written to OUT/results.json, with OUT/vectors.npz and faiss indexes for serving
(docs/serving.md; then `python -m recall_models export`).

Datasets (--dataset): 'ml-100k' (fetched once), or a folder of your own MovieLens files,
format detected from the file names or given with --format:
  ml-100k     u.data, u.user, u.item
  ml-1m       ratings.dat, users.dat, movies.dat ('::'-separated, latin-1)
  ml-latest   ratings.csv, movies.csv: ML-20M, ML-25M and ml-latest(-small); these have
              no user file, so the profile features are absent (all 'unknown') and the
              models train on the history alone
  recbole     NAME.inter, NAME.user, NAME.item (RecBole atomic files)

Samplers (see recall_models/models/samplers.py): log_uniform (ids are sorted by frequency),
unigram (training counts ^ 0.75), uniform, in_batch (the batch's labels, log-Q corrected;
--num-sampled is ignored, S = --batch-size), mixed (in-batch plus --num-sampled uniform
draws), full (full softmax, no sampling).

With --json the last line is one JSON object:
  {"model": ..., "sampler": ..., "num_sampled": ..., "seed": ..., "epochs_run": ...,
   "best_epoch": ..., "seconds_per_epoch": ..., "history": [...],
   "test": {"filtered": {"hr@10": ..., ...}, "unfiltered": {...}, ...}, ...}

Examples:
  python -m recall_models train --model youtubednn --sampler log_uniform --out runs/ytdnn
  python -m recall_models train --model mind --sampler in_batch --epochs 20 --out runs/mind --json
  python -m recall_models train --dataset ~/data/ml-20m --format ml-latest --out runs/ml20m
  python -m recall_models train --model comirec_sa --num-interests 4 --out runs/comirec
"""
from __future__ import annotations

import argparse
import json
import sys
import time

HELP = ("train YouTubeDNN, MIND or ComiRec-SA with a sampled softmax; evaluate on the test "
        "items")

MODEL_FLAGS = {
    # flag: (type, model keyword, help)
    "embedding-dim": (int, "embedding_dim", "history/item embedding size"),
    "output-dim": (int, "output_dim", "user and item vector size"),
    "temperature": (float, "temperature", "divide logits by this (training and serving)"),
    "dropout": (float, "dropout", "dropout after each ReLU layer"),
    "l2": (float, "l2", "L2 penalty on embeddings and tower kernels"),
    "num-interests": (int, "num_interests", "mind, comirec_sa: K, the most interests"),
    "pow-p": (float, "pow_p", "mind, comirec_sa: label-aware attention power p >= 0 "
                              "('inf' = hard)"),
    "max-positions": (int, "max_positions", "mind, comirec_sa: the longest history the model "
                                            "holds (default --max-history)"),
    "routing-init": (str, "routing_init", "mind: initial routing logits, 'fixed' or 'random'"),
    "positions": (str, "positions", "mind: 'on' routes each behaviour with its recency "
                                    "embedding (the default), 'off' routes the set, as the "
                                    "paper"),
    "candidate-score": (str, "candidate_score",
                        "mind, comirec_sa: how the loss scores each candidate item: 'max' "
                        "(its best interest, as serving ranks) or 'attended' (the interest "
                        "nearest the label, the papers')"),
}
# Flags of the multi-interest models only (the other flags apply to every model).
MULTI_INTEREST = {"num_interests": ("mind", "comirec_sa"), "pow_p": ("mind", "comirec_sa"),
                  "max_positions": ("mind", "comirec_sa"), "routing_init": ("mind",),
                  "positions": ("mind",), "candidate_score": ("mind", "comirec_sa")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from recall_models.data_cli import add_format_arguments
    from recall_models.config import LEARNING_RATES, MODELS, SAMPLERS, TrainConfig
    d = TrainConfig()
    parser.add_argument("--model", default=d.model, choices=MODELS,
                        help=f"model to train (default: {d.model})")
    parser.add_argument("--dataset", default=d.dataset,
                        help="'ml-100k' (fetched once), a directory of MovieLens files, or "
                             f"the name of a folder in the cache (default: {d.dataset})")
    add_format_arguments(parser)
    parser.add_argument("--sampler", default=d.sampler, choices=SAMPLERS,
                        help=f"negative sampler, or 'full' softmax (default: {d.sampler})")
    parser.add_argument("--num-sampled", type=int, default=d.num_sampled,
                        help="negatives per batch; uniform draws for 'mixed' "
                             f"(default: {d.num_sampled})")
    parser.add_argument("--epochs", type=int, default=d.epochs,
                        help=f"most epochs (default: {d.epochs})")
    parser.add_argument("--seed", type=int, default=d.seed, help="random seed (default: 0)")
    parser.add_argument("--out", default=d.out,
                        help=f"folder for checkpoints, logs and results (default: {d.out})")
    parser.add_argument("--batch-size", type=int, default=d.batch_size,
                        help=f"examples per step (default: {d.batch_size})")
    rates = ", ".join(f"{m} {r:g}" for m, r in LEARNING_RATES.items())
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="Adam learning rate (default: the model's own, the best measured "
                             f"on the ML-100K validation split: {rates})")
    parser.add_argument("--patience", type=int, default=d.patience,
                        help="stop after this many epochs without a better validation "
                             f"NDCG@10 (default: {d.patience})")
    parser.add_argument("--max-history", type=int, default=d.max_history,
                        help=f"history cap (default: {d.max_history})")
    parser.add_argument("--with-replacement", action="store_true",
                        help="log_uniform/unigram/uniform draw with replacement (Q = S P) "
                             "instead of unique ids")
    parser.add_argument("--no-xla", action="store_true",
                        help="do not compile the training step with XLA (default: XLA on one "
                             "device; on CPU it doubles YouTubeDNN's speed, 1.3x MIND's)")
    parser.add_argument("--normalize", action="store_true",
                        help="L2-normalise user and item vectors (use with --temperature)")
    bias = parser.add_mutually_exclusive_group()
    bias.add_argument("--bias", dest="bias", action="store_true", default=None,
                      help="learn an item bias (YouTubeDNN's default)")
    bias.add_argument("--no-bias", dest="bias", action="store_false",
                      help="no item bias (MIND's and ComiRec-SA's default)")
    for flag, (kind, _, text) in MODEL_FLAGS.items():
        parser.add_argument(f"--{flag}", type=kind, default=None,
                            help=f"{text} (default: the model's)")
    parser.add_argument("--strategy", default="none", choices=("none", "mirrored", "multi_worker"),
                        help="tf.distribute strategy: one device, MirroredStrategy over the "
                             "local GPUs (else CPU devices), or MultiWorkerMirroredStrategy "
                             "from TF_CONFIG (default: none)")
    parser.add_argument("--json", action="store_true",
                        help="print the result as one JSON object on the last line")


def config_from_args(args):
    from recall_models.train import TrainConfig
    hparams = {}
    for flag, (_, key, _) in MODEL_FLAGS.items():
        value = getattr(args, flag.replace("-", "_"))
        if value is not None:
            models = MULTI_INTEREST.get(key, (args.model,))
            if args.model not in models:
                raise ValueError(f"--{flag} applies to --model {' or '.join(sorted(models))} "
                                 "only")
            hparams[key] = value
    _check_multi_interest(hparams)
    if args.normalize:
        hparams["normalize"] = True
    if args.bias is not None:
        hparams["use_bias"] = bool(args.bias)
    return TrainConfig(model=args.model, dataset=args.dataset, sampler=args.sampler,
                       num_sampled=args.num_sampled, epochs=args.epochs, seed=args.seed,
                       out=args.out, batch_size=args.batch_size,
                       learning_rate=args.learning_rate, patience=args.patience,
                       max_history=args.max_history, unique=not args.with_replacement,
                       jit_compile=False if args.no_xla else None,
                       strategy=args.strategy, hparams=hparams, format=args.format,
                       encoding=args.encoding, inter=args.inter)


def _check_multi_interest(hparams: dict) -> None:
    """--num-interests, --pow-p and --candidate-score checked before any data is read."""
    from recall_models.models.mind import CANDIDATE_SCORES, check_positive_int, check_power
    if "num_interests" in hparams:
        check_positive_int(hparams["num_interests"], "num_interests (--num-interests)")
    if "max_positions" in hparams:
        check_positive_int(hparams["max_positions"], "max_positions (--max-positions)")
    if "positions" in hparams:
        if hparams["positions"] not in ("on", "off"):
            raise ValueError(f"--positions {hparams['positions']!r}: expected on or off")
        hparams["positions"] = hparams["positions"] == "on"
    if "pow_p" in hparams:
        check_power(hparams["pow_p"], "pow_p (--pow-p)")
    if hparams.get("candidate_score", CANDIDATE_SCORES[0]) not in CANDIDATE_SCORES:
        raise ValueError(f"--candidate-score {hparams['candidate_score']!r}: expected one of "
                         f"{', '.join(CANDIDATE_SCORES)}")


def main(args: argparse.Namespace) -> int:
    from recall_models.evaluation.metrics import format_table
    from recall_models.train import check_config, train

    start = time.perf_counter()
    try:
        cfg = config_from_args(args)
        check_config(cfg)
        result = train(cfg, verbose=2 if args.json else 1)
    except (ValueError, TypeError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    if result.get("already_finished"):
        print(f"{cfg.out} already holds this finished run: nothing was trained or written; "
              "its results:")
    print(f"{cfg.model} ({cfg.sampler}, num_sampled {cfg.num_sampled}) on {result['dataset']}, "
          f"seed {cfg.seed}: best epoch {result['best_epoch']} of {result['epochs_run']}, "
          f"{result['seconds_per_epoch']:.1f} s/epoch, {seconds:.0f} s in all; test:")
    print(format_table(result["test"]))
    if args.json:
        print(json.dumps({**result, "seconds": round(seconds, 3)}))
    return 0
