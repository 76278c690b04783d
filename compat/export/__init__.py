"""Taking a model out of compat: a folder that plain sentence-transformers loads, a model card, ONNX.

An exported folder (`python -m compat export-model --model MODEL --out DIR`) holds
  modules.json, model.safetensors, tokenizer files, 1_Pooling/ ...   a plain sentence-transformers model,
                          the LoRA adapter merged in, full precision; the instruction (if any) saved as
                          the default prompt in config_sentence_transformers.json
  compat_calibration.json  {"threshold", "scale", "formula", "instruction", ...}: cosine -> probability
  compat_export.json       {"format": "compat-export/1", "serving": "torch" | "onnx/model.onnx" | ...}
  README.md                the model card (Hugging Face shape), written from the run's own files
  onnx/model.onnx          with --format onnx or onnx-int8 (input_ids, attention_mask, token_type_ids ->
  onnx/model_qint8.onnx    last_hidden_state); the int8 file with --format onnx-int8
compat loads such a folder with `--model DIR` in the format `serving` names (compat.models.resolve).
"""

from compat.export.folder import (
                                  CALIBRATION_FILE,
                                  EXPORT_FILE,
                                  ExportError,
                                  export_model,
                                  read_export_calibration,
                                  serving_file,
)

__all__ = ["CALIBRATION_FILE", "EXPORT_FILE", "ExportError", "export_model", "read_export_calibration",
           "serving_file"]
