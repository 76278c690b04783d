"""Which MatMuls int8 may take: every one, all but the feed-forward down projections, or all but the
feed-forward projections, up and down (what compat ships since the stance gain).

    OMP_NUM_THREADS=1 .venv/bin/python bench/probe_int8.py [--model default]

Exports the model once (ONNX fp32), quantizes it each way with compat.export.onnx_export.quantize_int8,
and measures each against the torch model in one process: statements/s over the distinct statements of
data/test.jsonl and data/natural_pairs.jsonl (batch 64, median of 3 interleaved rounds), the change in
test ROC-AUC, the mean and 95th percentile of |cosine change| over the test pairs, the Score tab's first
example's cosine change, and the file size.
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

    from compat.evaluation.embeddings import distinct_statements
    from compat.evaluation.evaluate import embed_pairs
    from compat.evaluation.metrics import roc_auc
    from compat.export import export_model
    from compat.export.onnx_export import down_projections, feed_forward_projections, quantize_int8
    from compat.models import load_model
    from compat.pairs import load_pairs
    from compat.scoring import EXAMPLE_PAIRS, score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    folder = export_model(args.model, Path(tempfile.mkdtemp()) / "export", fmt="onnx")
    fp32 = folder / "onnx" / "model.onnx"
    graph = onnx.load(str(fp32))
    ways = {"every MatMul": [], "all but the down projections": down_projections(graph),
            "all but the feed-forward projections": feed_forward_projections(graph)}
    models = {"torch fp32": load_model(args.model), "ONNX fp32": load_model(str(fp32))}
    for name, excluded in ways.items():
        out = folder / "onnx" / f"int8-{len(excluded)}.onnx"
        quantize_int8(fp32, out, keep_fp32=excluded)
        models[f"int8, {name}"] = load_model(str(out))
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
    example = EXAMPLE_PAIRS[0][:2]
    want = score(*example, models["torch fp32"]).cosine
    base_rate = statistics.median(rates["torch fp32"])
    print("| model | statements/s | vs torch | test ROC-AUC change | mean / p95 cosine change | first example "
          "| size |\n|---|---|---|---|---|---|---|")
    for name, model in models.items():
        sims = embed_pairs(model, test).similarities()
        moved = np.abs(sims - reference)
        size = Path(model.path).stat().st_size / 2**20 if name != "torch fp32" else float("nan")
        print(f"| {name} | {statistics.median(rates[name]):.0f} | {statistics.median(rates[name]) / base_rate:.2f}x "
              f"| {roc_auc(sims, labels) - roc_auc(reference, labels):+.4f} | {moved.mean():.4f} / "
              f"{np.quantile(moved, 0.95):.4f} | {abs(score(*example, model).cosine - want):.4f} | {size:.0f} MiB |")


if __name__ == "__main__":
    main()
