"""The training engine: QLoRA / LoRA / full contrastive fine-tuning of the base encoder into a run directory.

`compat.training.run.train(TrainConfig)` is the one entry point; `python -m compat train` wraps it.
Heavy modules (torch, sentence_transformers, peft, bitsandbytes) are imported inside functions.
"""

from compat.training.config import PRESETS, ConfigError, TrainConfig

__all__ = ["PRESETS", "ConfigError", "TrainConfig"]
