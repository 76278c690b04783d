"""Serving an exported ONNX file with onnxruntime: the same embeddings as the sentence-transformers folder.

OnnxEncoder does what SentenceTransformer.encode does for a Transformer -> Pooling [-> Normalize]
[-> Dense -> Normalize] model: the default prompt prepended, tokenised by the folder's tokenizer.json
(truncated at the folder's max_seq_length, padded per batch), the ONNX graph for the token embeddings,
pooling as 1_Pooling/config.json says (mean, CLS or max), then the modules after it in order: Normalize,
and a Dense layer without an activation (a stance gain, compat.stance_gain). It needs neither torch nor
transformers, only `tokenizers`, `safetensors`, numpy and onnxruntime.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np


def export_folder_of(onnx_file: Path) -> Path:
    """The sentence-transformers folder an ONNX file belongs to (its tokenizer, pooling and prompts)."""
    return onnx_file.parent.parent if onnx_file.parent.name == "onnx" else onnx_file.parent


def _read(file: Path) -> dict:
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError):
        return {}


def _threads() -> int:
    """onnxruntime's intra-op threads: OMP_NUM_THREADS when set (docs/traps.md, trap 4), else its default."""
    try:
        return max(0, int(os.environ.get("OMP_NUM_THREADS", "0")))
    except ValueError:
        return 0


class OnnxEncoder:
    """An ONNX transformer with its tokenizer and pooling: `encode` as SentenceTransformer.encode."""

    def __init__(self, onnx_file: Path, folder: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if not (folder / "tokenizer.json").is_file():
            raise FileNotFoundError(f"{folder} has no tokenizer.json beside {onnx_file.name}")
        st_config = _read(folder / "config_sentence_transformers.json")
        self.prompts: dict[str, str] = dict(st_config.get("prompts") or {})
        self.default_prompt_name: str | None = st_config.get("default_prompt_name")
        self.max_seq_length = int(_read(folder / "sentence_bert_config.json").get("max_seq_length") or 512)
        pooling = _read(folder / "1_Pooling" / "config.json")
        self.pooling = ("cls" if pooling.get("pooling_mode_cls_token") else
                        "max" if pooling.get("pooling_mode_max_tokens") else "mean")
        self.after_pooling = after_pooling(folder)
        pad_token = _read(folder / "tokenizer_config.json").get("pad_token") or "[PAD]"
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id(pad_token) or 0, pad_token=pad_token)
        options = ort.SessionOptions()
        options.intra_op_num_threads = _threads()
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def eval(self) -> OnnxEncoder:
        return self  # nothing to switch: onnxruntime always runs inference

    def _prompt(self, prompt: str | None) -> str:
        if prompt is not None:
            return prompt
        return self.prompts.get(self.default_prompt_name or "", "") if self.default_prompt_name else ""

    def _batch(self, texts: Sequence[str]) -> np.ndarray:
        """Pooled embeddings of one batch of texts (prompt already applied)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        arrays = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                  "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                  "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        hidden = self.session.run(None, {n: arrays[n] for n in self.input_names})[0]
        mask = arrays["attention_mask"][:, :, None].astype(np.float32)
        if self.pooling == "cls":
            return hidden[:, 0]
        if self.pooling == "max":
            return np.where(mask > 0, hidden, -1e9).max(axis=1)
        return (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)

    def encode(self, sentences: Sequence[str], batch_size: int = 32, normalize_embeddings: bool = False,
               convert_to_numpy: bool = True, show_progress_bar: bool = False, prompt: str | None = None,
               **_ignored) -> np.ndarray:
        """Embeddings (float32, one row per sentence, in order), like SentenceTransformer.encode."""
        prefix = self._prompt(prompt)
        texts = [prefix + str(s).strip() for s in sentences]
        if not texts:
            return np.zeros((0, self.session.get_outputs()[0].shape[-1] or 0), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths batch together
        out = np.empty((len(texts), 0), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            pooled = self._batch([texts[i] for i in rows]).astype(np.float32)
            if out.shape[1] == 0:
                out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            out[rows] = pooled
        for step in self.after_pooling:
            out = _normalised(out) if step is None else (out @ step[0].T + step[1]).astype(np.float32)
        return _normalised(out) if normalize_embeddings else out


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def after_pooling(folder: Path) -> list:
    """The folder's modules after Pooling, in order: None for Normalize, (weight, bias) for a Dense layer
    without an activation (compat.stance_gain writes one); anything else is refused."""
    from safetensors.numpy import load_file

    steps = []
    for module in json.loads((folder / "modules.json").read_text())[2:]:
        kind = module.get("type", "")
        if kind.endswith("Normalize"):
            steps.append(None)
        elif kind.endswith("Dense"):
            config = _read(folder / module["path"] / "config.json")
            if not str(config.get("activation_function", "")).endswith("Identity"):
                raise ValueError(f"{module['path']}: a Dense with {config.get('activation_function')} is not served")
            weights = load_file(str(folder / module["path"] / "model.safetensors"))
            bias = weights.get("linear.bias", np.zeros(int(config["out_features"]), dtype=np.float32))
            steps.append((weights["linear.weight"].astype(np.float32), bias.astype(np.float32)))
        else:
            raise ValueError(f"modules.json: {kind} after pooling is not served")
    return steps


def load_onnx_model(name: str, onnx_file: Path):
    """A CompatModel served from an exported ONNX file, with the folder's prompt and calibration."""
    from compat.export.folder import read_export_calibration
    from compat.models import Calibration, CompatModel, ModelNotFound

    folder = export_folder_of(onnx_file)
    if not (folder / "modules.json").is_file():
        raise ModelNotFound(f"{onnx_file}: no sentence-transformers folder around it (modules.json, tokenizer.json)")
    try:
        encoder = OnnxEncoder(onnx_file, folder)
    except Exception as exc:  # onnxruntime's own errors say what is wrong with the file
        raise ModelNotFound(f"{onnx_file}: cannot load it with onnxruntime: {exc}") from exc
    cal = read_export_calibration(folder)
    instruction = encoder.prompts.get(encoder.default_prompt_name) if encoder.default_prompt_name else None
    return CompatModel(name=name, path=onnx_file, encoder=encoder, instruction=instruction or None,
                       calibration=Calibration(cal["threshold"], cal["scale"]) if cal else None)
