"""The recall training command's names and configuration, without TensorFlow.

`recall_models.train` (which imports TensorFlow) re-exports all of it; kept apart so that
`python -m recall_models train --help` can list the models, samplers and defaults at once.
"""
from __future__ import annotations

import dataclasses

MODELS = ("youtubednn", "mind", "comirec_sa")
# Adam's learning rate of each model when the config gives none: the best measured for it on
# the ML-100K validation split (docs/recall-ablations.md). YouTubeDNN and MIND do worse at
# 1e-2 (YouTubeDNN 0.444 +- 0.007 validation HR@50 against 0.482 +- 0.002 at 3e-3, 5 seeds;
# MIND 0.362 against 0.400, seed 0); ComiRec-SA does better (0.427 +- 0.017 against
# 0.401 +- 0.023, 5 seeds).
LEARNING_RATES = {"youtubednn": 3e-3, "mind": 3e-3, "comirec_sa": 1e-2}
STRATEGIES = ("none", "mirrored", "multi_worker")
# The negative samplers `recall_models.models.samplers` builds by these names ("full": no
# sampling, the full softmax).
SAMPLERS = ("log_uniform", "unigram", "uniform", "in_batch", "mixed", "full")


@dataclasses.dataclass
class TrainConfig:
    """Everything a run needs; defaults give the README's default ML-100K run."""
    model: str = "youtubednn"
    dataset: str = "ml-100k"
    sampler: str = "log_uniform"
    num_sampled: int = 100
    epochs: int = 10
    seed: int = 0
    out: str = "runs/recall"
    batch_size: int = 256
    learning_rate: float | None = None   # None: the model's own, LEARNING_RATES[model]
    patience: int = 3
    max_history: int = 50
    unique: bool = True
    jit_compile: bool | None = None      # None: XLA on one device (build_model)
    strategy: str = "none"               # "none" | "mirrored" | "multi_worker" (tf.distribute)
    hparams: dict = dataclasses.field(default_factory=dict)   # model keyword arguments
    format: str | None = None            # file format of a dataset folder (None: detected)
    encoding: str | None = None          # its text encoding (None: the format's own)
    inter: str | None = None             # RecBole: which NAME.inter (None: the only one)

    def __post_init__(self):
        if self.learning_rate is None:   # an unknown model is check_config's error
            self.learning_rate = LEARNING_RATES.get(self.model)
