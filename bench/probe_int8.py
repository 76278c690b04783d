"""How to make the int8 file: onnxruntime's dynamic int8 (weights and activations in 8 bits) on every MatMul,
on all but the feed-forward down projections, or on all but the feed-forward projections (shipped until
2026-12-06), against weight-only 8 bits (compat.export.onnx_export.quantize_int8, shipped since).

    OMP_NUM_THREADS=1 .venv/bin/python bench/probe_int8.py [--model default]

Exports the model once (ONNX fp32), quantizes it each way, and measures each against the torch model in one
process: statements/s over the distinct statements of data/test.jsonl and data/natural_pairs.jsonl (batch 64,
median of 3 interleaved rounds), the change in test ROC-AUC, the mean and 95th percentile of |cosine change|
over the test pairs, the largest cosine change over the Score tab's examples, and the file size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from compat.evaluation.embeddings import distinct_statements
    from compat.evaluation.evaluate import embed_pairs
    from compat.evaluation.metrics import roc_auc
    from compat.export import export_model
    from compat.export.onnx_export import quantize_int8
    from compat.models import load_model
    from compat.pairs import load_pairs
    from compat.scoring import EXAMPLE_PAIRS, score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    folder = export_model(args.model, Path(tempfile.mkdtemp()) / "export", fmt="onnx")
    fp32 = folder / "onnx" / "model.onnx"
    graph = onnx.load(str(fp32))
    ways = {"every MatMul": [], "all but the down projections": constant_matmuls(graph, lambda r, c: r > c),
            "all but the feed-forward projections": constant_matmuls(graph, lambda r, c: r != c)}
    models = {"torch fp32": load_model(args.model), "ONNX fp32": load_model(str(fp32))}
    for name, excluded in ways.items():
        out = folder / "onnx" / f"dynamic-{len(excluded)}.onnx"
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                         nodes_to_exclude=excluded)
        models[f"dynamic int8, {name}"] = load_model(str(out))
    models["weight-only 8 bits (shipped)"] = load_model(str(quantize_int8(fp32, folder / "onnx" / "weights.onnx")))
    test = load_pairs(ROOT / "data" / "test.jsonl")
    statements = list(dict.fromkeys(s for f in ("test", "natural_pairs")
                                    for s in distinct_statements(load_pairs(ROOT / "data" / f"{f}.jsonl"))[0]))
    rates: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(3):
        for name, model in models.items():
            started = time.perf_counter()
            model.embed(statements)
            rates[name].append(len(statements) / (time.perf_counter() - started))
    labels = [p["label"] for p in test]
    reference = embed_pairs(models["torch fp32"], test).similarities()
    wants = [score(a, b, models["torch fp32"]).cosine for a, b, *_ in EXAMPLE_PAIRS]
    base_rate = statistics.median(rates["torch fp32"])
    print("| model | statements/s | vs torch | test ROC-AUC change | mean / p95 cosine change | Score examples, most "
          "| size |\n|---|---|---|---|---|---|---|")
    for name, model in models.items():
        sims = embed_pairs(model, test).similarities()
        moved = np.abs(sims - reference)
        examples = max(abs(score(a, b, model).cosine - w) for (a, b, *_), w in zip(EXAMPLE_PAIRS, wants))
        size = Path(model.path).stat().st_size / 2**20 if name != "torch fp32" else float("nan")
        print(f"| {name} | {statistics.median(rates[name]):.0f} | {statistics.median(rates[name]) / base_rate:.2f}x "
              f"| {roc_auc(sims, labels) - roc_auc(reference, labels):+.4f} | {moved.mean():.4f} / "
              f"{np.quantile(moved, 0.95):.4f} | {examples:.4f} | {size:.0f} MiB |")


def constant_matmuls(graph, shape_test) -> list[str]:
    """Names of the MatMuls whose constant weight (rows, columns) passes shape_test: rows > columns are the
    feed-forward down projections (1536 x 384 in MiniLM), rows != columns the up ones as well."""
    shapes = {init.name: tuple(init.dims) for init in graph.graph.initializer}
    return [node.name for node in graph.graph.node if node.op_type == "MatMul"
            and any(len(shapes.get(i, ())) == 2 and shape_test(*shapes[i]) for i in node.input)]


if __name__ == "__main__":
    main()
