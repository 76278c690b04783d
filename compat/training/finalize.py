"""The end of a run: save the weights, choose a stance gain, measure the model as it will be used, calibrate,
write the files.

The final measurement loads the saved adapter and merges it, exactly as compat.models does for scoring
(onto the NF4-rounded weights when the base trained in 4-bit: `merged_onto`), so metrics.json describes
the fp32 model users get and a broken save shows up here rather than in the app.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from compat.pairs import atomic_write
from compat.training.config import TrainConfig
from compat.training.data import TrainData


def save_weights(built, run_dir: Path, base: str | None = None) -> Path:
    """Write the adapter (LoRA) or the whole model (full) into run_dir/adapter or run_dir/model, atomically."""
    from compat.training.model import save_adapter, save_full

    if built.kind == "full":
        return write_folder(run_dir / "model", lambda tmp: save_full(built.encoder, tmp))
    return write_folder(run_dir / "adapter", lambda tmp: save_adapter(built.encoder, tmp, base))


def write_folder(final: Path, write) -> Path:
    """`write(tmp)` fills a temp folder beside `final`, which is then renamed into place: readers see the old
    folder or the whole new one, never a half-written one."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        write(tmp)
        make_readable(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def make_readable(folder: Path) -> None:
    """mkdtemp makes a private folder; a model is shared (with the app, or shipped in the repo)."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def merged_onto(quant: str) -> str:
    """The base weights an adapter is merged onto: those it trained with ("nf4" for a 4-bit base)."""
    return "nf4" if quant == "4bit" else "fp32"


def load_saved(run_dir: Path, kind: str, instruction: str | None, base: str | None = None, quant: str = "none"):
    """The run's model as compat.models would load it: base + merged adapter (or the full model)."""
    from compat.models import CompatModel, load_base_encoder, merge_adapter, set_instruction

    if kind == "full":
        from sentence_transformers import SentenceTransformer

        encoder = SentenceTransformer(str(run_dir / "model"), device="cpu", local_files_only=True)
    else:
        encoder = merge_adapter(load_base_encoder(path=base), run_dir / "adapter", onto=merged_onto(quant))
    set_instruction(encoder, instruction)
    encoder.eval()
    return CompatModel(name=run_dir.name, path=run_dir, encoder=encoder, instruction=instruction,
                       calibration=None)


def measure(model, base, data: TrainData, base_validation: dict) -> tuple[dict, list]:
    """(metrics of fine-tuned and base on validation, test and extra sets; validation similarities), with the
    base's validation metrics as already measured (`base_validation`)."""
    from compat.evaluation.evaluate import evaluate_pairs, run_evaluation

    val = run_evaluation(model, data.validation)
    metrics = {"validation": {"fine_tuned": val.metrics, "base": base_validation}}
    sets = {"test": data.test} if data.test else {}
    sets.update(data.extra)
    for name, pairs in sets.items():
        metrics[name] = {"fine_tuned": evaluate_pairs(model, pairs, data.validation),
                         "base": evaluate_pairs(base, pairs, data.validation)}
    return metrics, val.similarities


def fit_stance_gain(model, data: TrainData, base_validation: dict) -> tuple:
    """(the StanceGain chosen on validation or None, every candidate's validation figures): compat.stance_gain,
    its direction fitted on the training pairs' statements as this run's model embeds them; the base model's
    validation recall@5 from `base_validation` (its validation metrics)."""
    from compat.evaluation.embeddings import distinct_statements
    from compat.stance_gain import choose_stance_gain

    train_statements = distinct_statements(data.train)[0][:MAX_GAIN_STATEMENTS]
    statements, i1, i2 = distinct_statements(data.validation)
    # model.embed, not the embedding cache: the cache knows this run by its files, which the gain leaves as
    # they are, so embeddings cached now would be served to the gained model measured next
    return choose_stance_gain(model.embed(train_statements), model.embed(statements), i1, i2,
                              [p["label"] for p in data.validation], base_validation["recall_at_5"])


MAX_GAIN_STATEMENTS = 4000  # a principal direction is settled long before; embedding more only costs time


def model_info(cfg: TrainConfig, built, calibration: dict, status: str, steps: int, metrics: dict,
               stance_gain=None) -> dict:
    """The compat_model.json record (format compat-lora/1, read by compat.models)."""
    from compat.models import FORMAT
    from compat.training.model import BASE_MODEL_NAME
    from compat.training.run import base_path

    return {
        "format": FORMAT,
        "instruction": cfg.instruction,
        "calibration": calibration,
        "stance_gain": stance_gain.to_json() if stance_gain else None,
        "base_model": base_path(cfg) or BASE_MODEL_NAME,
        "base_path": base_path(cfg),  # None: the shipped all-MiniLM-L6-v2 (compat.models.base_model_path)
        "weights": "model" if built.kind == "full" else "adapter",
        "merged_onto": None if built.kind == "full" else merged_onto(built.quant),
        "training": {"status": status, "steps": steps, "kind": built.kind, "quant": built.quant,
                     "loss": cfg.loss, "lora_r": None if cfg.full else cfg.lora_r,
                     "lora_alpha": None if cfg.full else cfg.lora_alpha, "seed": cfg.seed},
        "metrics": headline(metrics),
        "created": time.time(),
    }


def headline(metrics: dict) -> dict:
    """compat_model.json's "metrics": the fine-tuned model's AUC, Cohen's d and accuracy on each set."""
    return {name: {k: m["fine_tuned"].get(k) for k in ("auc", "cohen_d", "accuracy")} for name, m in metrics.items()}


def finalize(cfg: TrainConfig, data: TrainData, built, run_dir: Path, status: str, steps: int,
             train_loss: float) -> tuple[dict, dict]:
    """Save weights, write metrics.json; returns (metrics, the compat_model.json record to write last)."""
    from compat.training.run import base_path

    base = base_path(cfg)
    save_weights(built, run_dir, base)
    model = load_saved(run_dir, built.kind, cfg.instruction, base, built.quant)
    metrics, calibration, stance_gain, candidates = gain_and_measure(model, data, base, cfg.stance_gain)
    record = {"status": status, "steps": steps, "train_loss": train_loss, "calibration": calibration,
              "validation_source": data.validation_source,
              "stance_gain": {"chosen": stance_gain.gain if stance_gain else None, "candidates": candidates},
              **metrics}
    atomic_write(run_dir / "metrics.json", json.dumps(record, indent=1) + "\n")
    return record, model_info(cfg, built, calibration, status, steps, metrics, stance_gain)


def gain_and_measure(model, data: TrainData, base: str | None, use_gain: bool) -> tuple[dict, dict, object, list]:
    """(metrics, calibration, the StanceGain taken or None, every gain candidate's validation figures) of a
    saved model: the gain chosen on validation and appended to `model`, then the model measured as served
    beside the base (`base`: a --base folder, None for the shipped MiniLM) and calibrated on validation."""
    from compat.evaluation.evaluate import evaluate_pairs
    from compat.evaluation.metrics import finite_or_none
    from compat.models import load_model
    from compat.training.calibration import fit_calibration

    base_model = load_model(base or "base")
    base_validation = evaluate_pairs(base_model, data.validation)  # the gain's recall floor, then metrics.json
    stance_gain, candidates = fit_stance_gain(model, data, base_validation) if use_gain else (None, [])
    if stance_gain:
        from compat.stance_gain import append_to_encoder

        append_to_encoder(model.encoder, stance_gain)
    metrics, val_sims = measure(model, base_model, data, base_validation)
    calibration = fit_calibration(val_sims, [p["label"] for p in data.validation])
    return finite_or_none(metrics), calibration, stance_gain, finite_or_none(candidates)
