"""The model a run trains: the base encoder in 4-bit NF4 or full precision, with a LoRA adapter or whole.

Fixes for measured traps (docs/traps.md) live here:
  - bitsandbytes repacks 4-bit weights for its AVX-512-bf16 CPU kernel after any eval-mode forward
    pass, which breaks the next training step and corrupts saves: switched off on every Linear4bit.
  - LoRA weights come out in the compute dtype (bf16): trainable parameters are cast to float32.
  - transformers.set_seed runs before the adapter is created, so same-seed runs are identical.
  - bf16 compute is only fast on CPUs with native bf16 (avx512_bf16 / AMX); on others (AVX2 only, like
    this project's 2-core machine) a bf16 matmul was ~36x slower than fp32, so `auto` picks fp32 there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# LoRA on every attention projection and dense layer of the encoder; the pooler is left out because
# mean pooling never uses it (an adapter there would be dead weight, and unused under DDP).
LORA_TARGETS = (
    r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense"
    r"|intermediate\.dense|output\.dense)"
)
BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass
class TrainingModel:
    """The encoder being trained and how: `kind` is "lora" or "full"; dtype names the compute dtype."""

    encoder: object  # sentence_transformers.SentenceTransformer
    kind: str
    quant: str
    compute_dtype: str
    device: str
    trainable: int
    total: int


def pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (avx512_bf16 or AMX); read from /proc/cpuinfo on Linux."""
    try:
        flags = next((line for line in open("/proc/cpuinfo") if line.startswith("flags")), "")
    except OSError:
        return False
    return any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))


def resolve_compute_dtype(requested: str, device: str) -> str:
    """`auto`: bf16 on CUDA that supports it (else fp16), bf16 on CPUs with native bf16, fp32 otherwise."""
    if requested != "auto":
        return requested
    import torch

    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def torch_dtype(name: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def load_encoder(quant: str, compute_dtype: str, device: str, base: str | None = None):
    """The base SentenceTransformer (`base`, a local folder, or the shipped all-MiniLM-L6-v2), its linear
    layers in NF4 when quant == "4bit"; never touches a hub."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    from compat.models import base_model_path

    hf_logging.disable_progress_bar()
    kwargs: dict = {}
    if quant == "4bit":
        from transformers import BitsAndBytesConfig

        kwargs["model_kwargs"] = {"quantization_config": BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=False,
            bnb_4bit_compute_dtype=torch_dtype(compute_dtype),
        )}
    encoder = SentenceTransformer(base or base_model_path(), device=device, local_files_only=True, **kwargs)
    if quant == "4bit":
        disable_cpu_repacking(encoder)
    return encoder


def disable_cpu_repacking(encoder) -> int:
    """Switch off bitsandbytes' CPU weight repacking on every Linear4bit (TRAPS 1); returns how many."""
    import bitsandbytes as bnb

    count = 0
    for module in encoder.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
            count += 1
    return count


def add_lora(encoder, r: int, alpha: int, dropout: float, seed: int) -> None:
    """Wrap the transformer in a peft LoRA model (seeded first, so the adapter's init is reproducible)."""
    from peft import LoraConfig, get_peft_model
    from transformers import set_seed

    set_seed(seed)  # TRAPS 3: before the adapter's weights are drawn
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=LORA_TARGETS,
                        bias="none")
    transformer = encoder[0]
    transformer.model = get_peft_model(transformer.model, config)  # ST 6.2: `model` is settable
    trainable_to_float32(transformer.model)


def trainable_to_float32(module) -> None:
    """Cast every trainable parameter to fp32: LoRA weights come out in the compute dtype (TRAPS 2)."""
    for param in module.parameters():
        if param.requires_grad and param.dtype != _float32():
            param.data = param.data.float()


def _float32():
    import torch

    return torch.float32


def prepare_full(encoder, seed: int) -> None:
    """Train every weight except the pooler (unused by mean pooling; unused parameters break DDP)."""
    from transformers import set_seed

    set_seed(seed)
    for name, param in encoder.named_parameters():
        param.requires_grad = ".pooler." not in name


def build_model(*, quant: str, full: bool, lora_r: int, lora_alpha: int, lora_dropout: float, seed: int,
                compute_dtype: str = "auto", device: str | None = None, base: str | None = None) -> TrainingModel:
    """The model to train, ready for SentenceTransformerTrainer."""
    device = device or pick_device()
    dtype = resolve_compute_dtype(compute_dtype, device) if quant == "4bit" else "fp32"
    encoder = load_encoder(quant, dtype, device, base)
    if full:
        prepare_full(encoder, seed)
    else:
        add_lora(encoder, lora_r, lora_alpha, lora_dropout, seed)
    trainable = sum(p.numel() for p in encoder.parameters() if p.requires_grad)
    total = sum(p.numel() for p in encoder.parameters())
    return TrainingModel(encoder, "full" if full else "lora", quant, dtype, device, trainable, total)


def save_adapter(encoder, directory: Path, base: str | None = None) -> None:
    """Write the LoRA adapter (safetensors) to `directory`, with a portable adapter_config.json.

    peft records the absolute path of the base model; that path means nothing on another machine
    (TRAPS 6: loaders pass the base themselves), so the public model name is stored instead, or the
    path of a `--base` folder (the loader needs it, and compat_model.json records it too).
    """
    peft_model = encoder[0].model
    peft_model.save_pretrained(str(directory), safe_serialization=True)
    config_file = directory / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config["base_model_name_or_path"] = base or BASE_MODEL_NAME
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    readme = directory / "README.md"
    if readme.exists():
        readme.unlink()  # peft's template card says nothing about this run; compat_model.json does


def save_full(encoder, directory: Path) -> None:
    """Write a fully fine-tuned encoder as a plain sentence-transformers folder (safetensors)."""
    encoder.save(str(directory), safe_serialization=True, create_model_card=False)
