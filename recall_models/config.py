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
# Model keywords whose default changed after runs had been recorded: {model: {keyword:
# (default now, default before)}}. A new config records the keyword explicitly
# (`TrainConfig.hparams`); a recorded config without it was trained with the value before
# (`recorded_config`), so an old run folder reloads and resumes as it was trained.
CHANGED_DEFAULTS = {"mind": {"positions": (True, False)}}


def recorded_config(saved: dict) -> dict:
    """A config as config.json / results.json hold it, read by the current code: each
    CHANGED_DEFAULTS keyword it lacks gets its default from before the change."""
    changed = CHANGED_DEFAULTS.get(saved.get("model"), {})
    if not changed or not isinstance(saved.get("hparams", {}), dict):
        return saved
    before = {key: old for key, (_, old) in changed.items()}
    return {**saved, "hparams": {**before, **saved.get("hparams", {})}}


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
        changed = CHANGED_DEFAULTS.get(self.model, {})
        if changed and isinstance(self.hparams, dict):     # recorded explicitly (above)
            self.hparams = {**{k: now for k, (now, _) in changed.items()}, **self.hparams}
