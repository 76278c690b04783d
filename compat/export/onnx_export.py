"""ONNX export of a merged sentence-transformers model, and its int8 dynamically quantized variant.

The graph is the transformer alone (input_ids, attention_mask[, token_type_ids] -> last_hidden_state,
batch and sequence dynamic), the layout sentence-transformers' own ONNX backend reads from
onnx/model.onnx; pooling and normalisation stay outside (compat.export.onnx_runtime does them as the
folder's 1_Pooling/config.json says). Exported with torch.onnx.export's dynamo exporter (onnxscript),
quantized with onnxruntime.quantization.quantize_dynamic: int8 weights per output channel (7-bit range),
activations quantized per batch at run time, except the feed-forward down projections, which stay fp32.
No optimum: it would pin a transformers other than ours.
"""

from __future__ import annotations

from pathlib import Path

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


def quantize_int8(fp32_file: Path, int8_file: Path, keep_fp32: list[str] | None = None) -> Path:
    """Dynamic int8 quantization of an ONNX file (weights int8 per channel, activations at run time),
    the MatMuls named in `keep_fp32` left in fp32 (default: the feed-forward blocks' MatMuls,
    feed_forward_projections)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if keep_fp32 is None:
        keep_fp32 = feed_forward_projections(onnx.load(str(fp32_file)))

    # reduce_range: 7-bit weights. Without VNNI (AVX2 only) onnxruntime's u8 x s8 kernel sums pairs of
    # products into int16 and can saturate; measured on the shipped model (AVX2 machine), full 8-bit
    # range lost 0.006 test ROC-AUC, reduce_range gained 0.0004 (natural pairs -0.0007).
    quantize_dynamic(str(fp32_file), str(int8_file), weight_type=QuantType.QInt8, per_channel=True,
                     reduce_range=True, nodes_to_exclude=keep_fp32)
    return int8_file


def down_projections(model) -> list[str]:
    """The MatMuls that take a feed-forward block back down (a constant weight with more rows than
    columns: 1536 x 384 in MiniLM). Their input is the GELU output, whose outliers one per-batch int8 scale
    handles worst: quantized, they cost the 2026-12 shipped model 0.004-0.011 test ROC-AUC and moved a pair's
    cosine by up to 0.02; left in fp32, the int8 file loses nothing measurable (BENCHMARKS.md)."""
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    return [node.name for node in model.graph.node if node.op_type == "MatMul"
            and any(len(shapes.get(i, ())) == 2 and shapes[i][0] > shapes[i][1] for i in node.input)]


def feed_forward_projections(model) -> list[str]:
    """The MatMuls of the feed-forward blocks, up (384 -> 1536 in MiniLM) and down: every MatMul whose
    constant weight is not square (attention's are). A model with a stance gain (compat.stance_gain) is
    centred before its cosines, which magnifies int8's error: with the down projections alone in fp32 the
    2026-12-06 shipped model's smoker pair moved by 0.050 in cosine and 0.025 in probability; with the up
    projections too, by 0.006 and 0.003 (a 43 MiB file instead of 33 MiB)."""
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    return [node.name for node in model.graph.node if node.op_type == "MatMul"
            and any(len(shapes.get(i, ())) == 2 and shapes[i][0] != shapes[i][1] for i in node.input)]


def export_onnx(encoder, folder: Path, int8: bool = False) -> list[Path]:
    """Write onnx/model.onnx (and onnx/model_qint8.onnx when int8) into `folder`; the served file last."""
    files = [export_fp32(encoder, folder / ONNX_FILE)]
    if int8:
        files.append(quantize_int8(files[0], folder / ONNX_INT8_FILE))
    return files
