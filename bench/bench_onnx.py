"""Serving formats: encoding statements/s and ROC-AUC of ONNX fp32 and int8 against the torch fp32 model.

    flock /tmp/compat-heavy.lock .venv/bin/python bench/bench_onnx.py [--model default] [--repeats 2] \
        [--quick] [--write]

The model is exported once (`compat.export.export_model(..., fmt="onnx-int8")`, into a temporary
folder), then three versions are measured in the same process on the same statements: the torch fp32
model as compat loads it (merged adapter), onnx/model.onnx and onnx/model_qint8.onnx through
onnxruntime. Throughput: `CompatModel.embed` (batch 64, prefix parsed off, normalised) over every
distinct statement of data/test.jsonl and data/natural_pairs.jsonl, the three interleaved, `--repeats`
rounds, median. Quality: `compat.evaluation.evaluate_pairs` ROC-AUC (and Cohen's d) on the same two
files, the change against torch fp32; the int8 budget is -0.005 ROC-AUC.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c  # noqa: E402

BUDGET = 0.005


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks the script works")
    parser.add_argument("--write", action="store_true", help="also write the section into BENCHMARKS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="compat-bench-onnx-"))
    os.environ["COMPAT_HOME"] = str(work / "home")  # an empty embedding cache: every number is computed
    from compat.evaluation.embeddings import distinct_statements
    from compat.evaluation.evaluate import evaluate_pairs
    from compat.export import export_model
    from compat.models import load_model
    from compat.pairs import load_pairs
    from compat.paths import DATA_DIR

    sets = {name: load_pairs(DATA_DIR / f"{name}.jsonl") for name in ("test", "natural_pairs")}
    if args.quick:
        sets = {name: pairs[:60] for name, pairs in sets.items()}
        args.repeats = 1
    statements = list(dict.fromkeys(s for pairs in sets.values() for s in distinct_statements(pairs)[0]))
    t = time.perf_counter()
    folder = export_model(args.model, work / "export", fmt="onnx-int8")
    export_s = time.perf_counter() - t
    models = {"torch fp32": load_model(args.model), "ONNX fp32": load_model(str(folder / "onnx" / "model.onnx")),
              "ONNX int8": load_model(str(folder / "onnx" / "model_qint8.onnx"))}
    rates: dict[str, list[float]] = {name: [] for name in models}
    for name, model in models.items():
        model.embed(statements[:64])  # warm-up: first-call allocations are not throughput
    for _ in range(args.repeats):
        for name, model in models.items():
            t = time.perf_counter()
            model.embed(statements)
            rates[name].append(len(statements) / (time.perf_counter() - t))
    quality = {name: {s: evaluate_pairs(model, pairs) for s, pairs in sets.items()} for name, model in models.items()}
    base_rate = statistics.median(rates["torch fp32"])
    rows = []
    for name in models:
        rate = statistics.median(rates[name])
        row = [name, f"{rate:,.0f}", c.ratio(rate, base_rate)]
        for s in sets:
            auc = quality[name][s]["auc"]
            row += [f"{auc:.4f}", f"{auc - quality['torch fp32'][s]['auc']:+.4f}", f"{quality[name][s]['cohen_d']:.3f}"]
        rows.append(row)
    headers = ["model", "statements/s", "vs torch"]
    for s in sets:
        headers += [f"{s} ROC-AUC", "change", "Cohen's d"]
    files = [folder / "model.safetensors", *sorted((folder / "onnx").glob("*.onnx"))]
    sizes = {p.name: p.stat().st_size / 2**20 for p in files}
    worst = min(quality["ONNX int8"][s]["auc"] - quality["torch fp32"][s]["auc"] for s in sets)
    verdict = "within" if worst >= -BUDGET else "OUTSIDE"
    body = (f"Model `{args.model}`; {len(statements):,} distinct statements of "
            f"{', '.join(f'{s} ({len(p)} pairs)' for s, p in sets.items())}; batch 64, median of {args.repeats} "
            f"interleaved rounds; onnxruntime threads = OMP_NUM_THREADS "
            f"({os.environ.get('OMP_NUM_THREADS', 'unset')}), torch threads {_torch_threads()}.\n\n")
    body += c.markdown_table(headers, rows, digits=4)
    body += (f"\n\nint8 against torch fp32: worst ROC-AUC change {worst:+.4f}, {verdict} the -{BUDGET} budget. "
             f"Files: {', '.join(f'{n} {mb:.0f} MiB' for n, mb in sizes.items())}. Export (merge, save, ONNX, "
             f"quantize) took {export_s:.0f} s.\n\n(The script ran {time.perf_counter() - started:.0f} s.)\n")
    print(body)
    if args.write:
        c.write_section("onnx", c.section_text("onnx", "Serving formats: ONNX fp32 and int8 against torch fp32",
                                               body, c.command_line()))


def _torch_threads() -> int | str:
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch else "—"


if __name__ == "__main__":
    main()
