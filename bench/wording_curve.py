"""The wording curve: held-out quality against distinct wordings per trait and stance seen in training.

    .venv/bin/python bench/wording_curve.py --out /tmp/curve [--wordings 8 32 128 all] [--seeds 0 1]
                                            [--loss cosent] [--steps 150] [--n 2800]
    .venv/bin/python bench/wording_curve.py --out /tmp/curve --chart assets/wording_curve.svg   # chart only

For each cap K and seed S: `python -m compat generate --n N --seed S --compose --wordings K` (the train split draws
at most K wordings per preference; validation and test keep every wording, so each K is measured on
the same held-out data), then `python -m compat train` (the default 4-bit LoRA, the same number of
steps for every K) with the hand-written natural pairs as an extra test set. Results go to
OUT/results.jsonl (one line per run, reused when run again) and an SVG chart of test and natural
ROC-AUC against log2 K. Runs one training at a time: the machine has two cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run_one(out: Path, cap: str, seed: int, args: argparse.Namespace) -> dict:
    """Generate, train and measure one point; returns its result line."""
    data, run = out / f"data-{cap}-{seed}", out / f"run-{cap}-{seed}"
    generate = [sys.executable, "-m", "compat", "generate", "--out", str(data), "--n", str(args.n), "--seed", str(seed),
                "--compose"]
    if cap != "all":
        generate += ["--wordings", cap]
    subprocess.run(generate, cwd=REPO, env=ENV, check=True, capture_output=True)
    meta = json.loads((data / "metadata.json").read_text())
    subprocess.run([sys.executable, "-m", "compat", "train", "--data", str(data), "--extra-test",
                    str(REPO / "data" / "natural_pairs.jsonl"), "--loss", args.loss, "--max-steps", str(args.steps),
                    "--seed", str(seed), "--out", str(run), "--force", "--quiet"], cwd=REPO, env=ENV, check=True)
    metrics = json.loads((run / "metrics.json").read_text())
    train_wordings = meta["wording"]["train_wordings_per_preference"]["mean"]
    return {
        "cap": cap, "seed": seed, "loss": args.loss, "steps": args.steps, "n": args.n,
        "train_wordings_mean": min(float(cap), train_wordings) if cap != "all" else train_wordings,
        **{f"{name}_{key}": metrics[name]["fine_tuned"][key] for name in ("test", "natural_pairs")
           for key in ("auc", "cohen_d", "recall_at_5")},
        "base_test_auc": metrics["test"]["base"]["auc"], "base_natural_auc": metrics["natural_pairs"]["base"]["auc"],
    }


def chart(rows: list[dict], path: Path) -> None:
    """A small SVG line chart (no plotting package needed): mean ROC-AUC per cap, seeds as dots."""
    width, height, left, bottom, top, right = 640, 360, 60, 50, 30, 150
    xs = sorted({math.log2(r["train_wordings_mean"]) for r in rows})
    lo_x, hi_x = min(xs) - 0.3, max(xs) + 0.3
    lo_y, hi_y = 0.5, 1.0

    def px(x: float) -> float:
        return left + (x - lo_x) / (hi_x - lo_x) * (width - left - right)

    def py(y: float) -> float:
        return height - bottom - (y - lo_y) / (hi_y - lo_y) * (height - bottom - top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    for y in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 8}" y="{py(y) + 4:.1f}" text-anchor="end">{y:.1f}</text>')
    for x in xs:
        parts.append(f'<text x="{px(x):.1f}" y="{height - bottom + 18}" text-anchor="middle">{2 ** x:.0f}</text>')
    parts.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 10}" text-anchor="middle">'
                 'distinct train wordings per trait and stance (log scale)</text>')
    middle = (top + height - bottom) / 2
    parts.append(f'<text x="14" y="{middle:.0f}" transform="rotate(-90 14 {middle:.0f})" '
                 'text-anchor="middle">ROC-AUC</text>')
    for i, (key, colour, name) in enumerate((("test_auc", "#1f77b4", "test split"),
                                             ("natural_pairs_auc", "#d62728", "natural pairs"))):
        points = []
        for x in xs:
            ys = [r[key] for r in rows if math.log2(r["train_wordings_mean"]) == x]
            points.append((px(x), py(statistics.mean(ys))))
            parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{colour}" opacity="0.5"/>'
                      for y in ys]
        parts.append('<polyline fill="none" stroke-width="2" stroke="' + colour + '" points="'
                     + " ".join(f"{a:.1f},{b:.1f}" for a, b in points) + '"/>')
        parts.append(f'<text x="{width - right + 10}" y="{top + 20 + 18 * i}" fill="{colour}">{name}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(0.9):.1f}" y2="{py(0.9):.1f}" stroke="#999" '
                 'stroke-dasharray="4"/>'
                 f'<text x="{width - right + 10}" y="{py(0.9) + 4:.1f}" fill="#666">target 0.90</text></svg>')
    path.write_text("\n".join(parts) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--wordings", nargs="+", default=["8", "32", "128", "all"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--loss", default="cosent")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--n", type=int, default=2800)
    parser.add_argument("--chart", type=Path, help="write the SVG here (default OUT/wording_curve.svg)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    for cap in args.wordings:
        for seed in args.seeds:
            if any(r["cap"] == cap and r["seed"] == seed and r["loss"] == args.loss for r in rows):
                continue
            row = run_one(args.out, cap, seed, args)
            rows.append(row)
            with results.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    chart([r for r in rows if r["loss"] == args.loss], args.chart or args.out / "wording_curve.svg")
    print("| train wordings per preference (mean) | seeds | test AUC | test d | natural AUC | natural d |")
    print("|---|---|---|---|---|---|")
    for cap in args.wordings:
        group = [r for r in rows if r["cap"] == cap and r["loss"] == args.loss]
        if group:
            mean = lambda k: statistics.mean(r[k] for r in group)  # noqa: E731
            print(f"| {cap} ({mean('train_wordings_mean'):.0f}) | {len(group)} | {mean('test_auc'):.3f} | "
                  f"{mean('test_cohen_d'):.2f} | {mean('natural_pairs_auc'):.3f} | "
                  f"{mean('natural_pairs_cohen_d'):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
