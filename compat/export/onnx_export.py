"""ONNX export of a merged sentence-transformers model, and its 8-bit (weight-only) variant.

The graph is the transformer alone (input_ids, attention_mask[, token_type_ids] -> last_hidden_state,
batch and sequence dynamic), the layout sentence-transformers' own ONNX backend reads from
onnx/model.onnx; pooling and normalisation stay outside (compat.export.onnx_runtime does them as the
folder's 1_Pooling/config.json says). Exported with torch.onnx.export's dynamo exporter (onnxscript),
quantized weight-only (quantize_int8): 8-bit MatMul weights in blocks of 32 and an int8 word-embedding table,
activations in fp32. No optimum: it would pin a transformers other than ours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compat.export.folder import ONNX_FILE, ONNX_INT8_FILE, ExportError

SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize", "Dense")
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 18


def check_exportable(encoder) -> None:
    """Refuse models whose modules the ONNX runtime here does not reproduce (e.g. a Dense with an activation)."""
    import torch

    names = [type(module).__name__ for module in encoder]
    linear = all(isinstance(getattr(m, "activation_function", None), torch.nn.Identity)
                 for m in encoder if type(m).__name__ == "Dense")
    if not names or names[0] != "Transformer" or any(n not in SUPPORTED_MODULES for n in names) or not linear:
        raise ExportError(f"ONNX export handles Transformer -> Pooling, then Normalize and Dense layers without "
                          f"an activation (a stance gain); this one is {' -> '.join(names)}; use --format torch")
    pooling = encoder[1] if len(names) > 1 else None
    if pooling is not None and getattr(pooling, "include_prompt", True) is False and encoder.default_prompt_name:
        raise ExportError("ONNX export does not handle pooling that leaves the prompt out; use --format torch")


def _hidden_states_module(transformer_model):
    """The transformer as a module of plain tensors in, last_hidden_state out (what ONNX exports)."""
    import torch

    class HiddenStates(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kwargs = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            return self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state

    return HiddenStates(transformer_model).eval()


def export_fp32(encoder, file: Path) -> Path:
    """Write the encoder's transformer as an ONNX graph at `file` (fp32 weights)."""
    import torch

    check_exportable(encoder)
    transformer = encoder[0]
    sample = transformer.tokenizer(["a short statement", "another statement, a little longer than that"],
                                   padding=True, return_tensors="pt")
    names = [n for n in INPUT_NAMES if n in sample]
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    module = _hidden_states_module(transformer.model)
    file.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        program = torch.onnx.export(
            module, tuple(sample[n] for n in names), input_names=names, output_names=["last_hidden_state"],
            dynamic_shapes={n: {0: batch, 1: sequence} for n in names}, dynamo=True, opset_version=OPSET,
            verbose=False,
        )
    program.save(str(file))
    return file


def quantize_int8(fp32_file: Path, int8_file: Path) -> Path:
    """Weight-only 8-bit quantization of an ONNX file: every MatMul with a constant weight becomes onnxruntime's
    MatMulNBits (8-bit symmetric, a scale per block of BLOCK_SIZE weights), and the word-embedding table is
    stored as int8 with a scale per row (quantize_embedding_rows). Activations stay fp32.

    Why not onnxruntime's dynamic int8 (shipped until 2026-12-06): it also quantizes every activation to 8 bits
    with one scale per batch, and a model with a stance gain is centred before its cosines, which magnifies
    that error; even with all feed-forward MatMuls left in fp32 (43 MiB) it moved the Score examples' cosines by
    up to 0.016 on the shipped model and 0.025 on a gain-4 one. Weight-only: at most 0.004 and 0.005, in 24 MiB
    (BENCHMARKS.md, bench/probe_int8.py)."""
    import onnx

    quantizer = _matmul_nbits_quantizer()(onnx.load(str(fp32_file)), bits=8, block_size=BLOCK_SIZE, is_symmetric=True)
    quantizer.process()
    onnx.save(quantize_embedding_rows(quantizer.model.model), str(int8_file))
    return int8_file


def _matmul_nbits_quantizer():
    """onnxruntime's MatMulNBitsQuantizer class, imported without its side effects: the module calls
    logging.basicConfig(level=INFO) on import, which would print every library's INFO lines for the rest of the
    process (the app's included), and logs a line per node it meets."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer, logger

    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    logger.setLevel(logging.WARNING)
    return MatMulNBitsQuantizer


BLOCK_SIZE = 32  # weights per scale: with 128, a gain-4 model's test cosines moved 0.0065 on average, with 32 0.0047


def quantize_embedding_rows(model, min_rows: int = 1024):
    """`model` (an onnx ModelProto) with each large embedding table (a constant [rows >= min_rows, dim] that a
    Gather reads: MiniLM's 30,522 word embeddings, half its weights) stored as int8 with one fp32 scale per row,
    dequantized after the lookup (Gather the int8 rows and their scales, Cast, Mul): a row's largest value sets
    its scale, so no value moves by more than 1/254 of it. onnxruntime's dynamic quantization of the same Gather
    moved the shipped model's test cosines by 0.0053 on average, this by 0.0013. In place; returned."""
    from onnx import TensorProto, helper, numpy_helper

    constants = {init.name: init for init in model.graph.initializer}
    for position, node in reversed(list(enumerate(model.graph.node))):
        table = constants.get(node.input[0]) if node.op_type == "Gather" else None
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        if table is None or len(table.dims) != 2 or table.dims[0] < min_rows or axis != 0:
            continue
        weights = numpy_helper.to_array(table)
        scale = np.abs(weights).max(axis=1, keepdims=True) / 127.0
        scale[scale == 0] = 1.0
        rows = np.clip(np.round(weights / scale), -127, 127).astype(np.int8)
        name, ids, out = table.name, node.input[1], node.output[0]
        model.graph.initializer.remove(table)
        model.graph.initializer.extend([numpy_helper.from_array(rows, f"{name}_int8"),
                                        numpy_helper.from_array(scale.astype(np.float32), f"{name}_row_scale")])
        del model.graph.node[position]
        for offset, new in enumerate([
                helper.make_node("Gather", [f"{name}_int8", ids], [f"{out}_int8"], name=f"{node.name}_int8"),
                helper.make_node("Gather", [f"{name}_row_scale", ids], [f"{out}_scale"], name=f"{node.name}_scale"),
                helper.make_node("Cast", [f"{out}_int8"], [f"{out}_fp32"], name=f"{node.name}_cast",
                                 to=TensorProto.FLOAT),
                helper.make_node("Mul", [f"{out}_fp32", f"{out}_scale"], [out], name=f"{node.name}_dequantize")]):
            model.graph.node.insert(position + offset, new)
    return model


def export_onnx(encoder, folder: Path, int8: bool = False) -> list[Path]:
    """Write onnx/model.onnx (and onnx/model_qint8.onnx when int8) into `folder`; the served file last."""
    files = [export_fp32(encoder, folder / ONNX_FILE)]
    if int8:
        files.append(quantize_int8(files[0], folder / ONNX_INT8_FILE))
    return files
