"""TrainConfig: every setting of one training run, from a preset plus explicit overrides.

A preset fills what the user did not say; anything given on the command line wins. The resolved
config is written whole to the run's config.json, so a run can be repeated from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from compat.text import DEFAULT_INSTRUCTION

LOSSES = ("contrastive", "online_contrastive", "cosine", "signed_cosine", "cosent", "mnrl", "cosent+mnrl",
          "supcon", "cosent+supcon", "mnrl+supcon")
GROUP_LOSSES = ("supcon", "cosent+supcon", "mnrl+supcon")  # they train on stance groups
QUANTS = ("4bit", "none")
COMPUTE_DTYPES = ("auto", "bf16", "fp16", "fp32")

# Measured on the shipped data (see README, "Training"): the default preset trains in under 10 minutes on
# 2 CPU cores and is the recipe of the shipped `default` model (2 epochs of pairs and stance groups: 376 steps).
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"epochs": 1.0, "lr": 1e-3, "batch": 16, "evaluations": 4},
    "default": {"epochs": 2.0, "lr": 1e-3, "batch": 16, "evaluations": 6},
    "thorough": {"epochs": 6.0, "lr": 5e-4, "batch": 16, "evaluations": 10},
}
FULL_LR_FACTOR = 0.1  # full fine-tuning moves every weight: a tenth of the LoRA learning rate


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the option."""


@dataclass
class TrainConfig:
    """One run's settings. `None` for lr / eval_steps / logging_steps means derived: see learning_rate()
    and compat.training.run.plan_steps()."""

    data: str
    out: str | None = None
    validation: str | None = None
    test: str | None = None
    # stance groups (compat.generator.groups) for the supcon losses; default DATA_DIR/train_groups.jsonl
    groups: str | None = None
    extra_tests: list[str] = field(default_factory=list)
    preset: str = "default"
    # A local sentence-transformers folder to fine-tune instead of the shipped all-MiniLM-L6-v2
    # (never a hub name: nothing is downloaded at run time).
    base: str | None = None
    quant: str = "4bit"
    compute_dtype: str = "auto"
    full: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    # pairs (cosent) and stance groups (supcon), chosen by measurement (docs/quality-experiments.md,
    # "How the recipe was chosen");
    # without a groups file the run generates them (compat.training.data.generated_groups)
    loss: str = "cosent+supcon"
    epochs: float = 2.0
    lr: float | None = None
    batch: int = 16
    warmup: float = 0.1
    weight_decay: float = 0.01
    # signed_cosine only: unrelated pairs (target cosine 0) added, as a share of the training pairs
    unrelated: float = 0.5
    # No prompt by default: on the held-out test split, training without it separated better (README,
    # "Training"); --instruction DEFAULT (or any text) turns it on, saved with the model either way.
    instruction: str | None = None
    # Centre the embeddings and weigh the stance direction up, when validation says so (compat.stance_gain)
    stance_gain: bool = True
    seed: int = 42
    max_steps: int | None = None
    eval_steps: int | None = None
    evaluations: int = 6
    logging_steps: int | None = None
    validation_fraction: float = 0.1
    eval_max_pairs: int = 200
    force: bool = False

    @classmethod
    def from_preset(cls, preset: str = "default", **overrides: Any) -> "TrainConfig":
        """The preset's settings with `overrides` applied on top (pass only what was given)."""
        if preset not in PRESETS:
            raise ConfigError(f"--preset {preset!r}: choose one of {', '.join(PRESETS)}")
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values = {k: v for k, v in PRESETS[preset].items() if k != "lr"}  # lr: see learning_rate()
        values.update(overrides)
        config = cls(preset=preset, **values)
        config.check()
        return config

    def learning_rate(self) -> float:
        """The lr given, else the preset's (a tenth of it for full fine-tuning)."""
        if self.lr is not None:
            return self.lr
        base = PRESETS[self.preset]["lr"]
        return base * FULL_LR_FACTOR if self.full else base

    def check(self) -> None:
        """Raise ConfigError naming the first unusable setting."""
        if self.quant not in QUANTS:
            raise ConfigError(f"--quant {self.quant!r}: choose 4bit or none")
        if self.full and self.quant == "4bit":
            raise ConfigError("--full trains every weight, which 4-bit weights cannot be: use --quant none")
        if self.loss not in LOSSES:
            raise ConfigError(f"--loss {self.loss!r}: choose one of {', '.join(LOSSES)}")
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise ConfigError(f"--compute-dtype {self.compute_dtype!r}: choose one of {', '.join(COMPUTE_DTYPES)}")
        positive = {"--lora-r": self.lora_r, "--lora-alpha": self.lora_alpha, "--batch": self.batch,
                    "--epochs": self.epochs}
        for flag, value in positive.items():
            if not value or value <= 0:
                raise ConfigError(f"{flag} must be positive, got {value}")
        if self.lr is not None and not 0 < self.lr < 1:
            raise ConfigError(f"--lr must be between 0 and 1, got {self.lr}")
        for flag, value in {"--max-steps": self.max_steps, "--eval-steps": self.eval_steps,
                            "--logging-steps": self.logging_steps}.items():
            if value is not None and value <= 0:
                raise ConfigError(f"{flag} must be a positive number of steps, got {value}")
        if not 0 <= self.unrelated <= 5:
            raise ConfigError("--unrelated must be between 0 and 5 (a share of the training pairs), "
                              f"got {self.unrelated}")
        if not 0 < self.validation_fraction < 0.5:
            raise ConfigError(f"validation fraction must be in (0, 0.5), got {self.validation_fraction}")
        if self.base is not None and not (Path(self.base).expanduser() / "modules.json").is_file():
            raise ConfigError(f"--base {self.base}: not a sentence-transformers folder (no modules.json there)")
        if self.instruction is not None and not self.instruction.strip():
            raise ConfigError("--instruction is empty; pass text, or `none` for no instruction")

    def to_dict(self) -> dict:
        return asdict(self)


def parse_instruction(value: str | None) -> str | None:
    """`none` (any case) or an empty string mean no instruction; `default` the standard one
    (compat.text.DEFAULT_INSTRUCTION); other text is used as it is."""
    if value is None or value.strip().lower() in ("none", ""):
        return None
    if value.strip().lower() == "default":
        return DEFAULT_INSTRUCTION
    return value if value.endswith((" ", "\n")) else value + " "
