"""The wording curve: held-out quality against distinct wordings per trait and stance seen in training.

    .venv/bin/python bench/wording_curve.py --out /tmp/curve [--wordings 8 32 128 all] [--seeds 0 1]
                                            [--loss cosent] [--steps 150] [--n 2800]
    .venv/bin/python bench/wording_curve.py --out /tmp/curve --kind groups --jobs 2   # the shipped recipe
    .venv/bin/python bench/wording_curve.py --out /tmp/curve --chart assets/wording_curve.svg   # chart only

Two kinds of curve; for each cap K and seed S:
- `composed`: `python -m compat generate --n N --seed S --compose --wordings K` (the train split draws at most
  K wordings per preference; validation and test keep every wording, so each K is measured on the same
  held-out data), then `python -m compat train --loss L --max-steps STEPS` (the 4-bit LoRA, the same number
  of steps for every K), measured on that data's test split;
- `groups`: the shipped recipe as `make model` trains it, with only the composed part capped: the shipped
  hand-written pairs of `data/` and 1,000 stance groups drawn from at most K wordings per trait and stance
  (`generate --groups 1000 --wordings K --seed S`), then `python -m compat train --preset default --seed S`
  (cosent+supcon, the stance gain), measured on the shipped validation and test splits.
Both with the hand-written natural pairs as an extra test set. Results go to OUT/results.jsonl (one line per
run, reused when run again) and an SVG chart of test and natural ROC-AUC against log2 K. `--jobs 2` trains
two at a time on one thread each (the machine has two cores).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
GROUPS = 1000  # as data/ ships them (`make data`)


def composed_data(data: Path, cap: str, seed: int, args: argparse.Namespace) -> list[str]:
    """Write a composed data set capped at `cap`; returns the `train` options that go with it."""
    generate = [sys.executable, "-m", "compat", "generate", "--out", str(data), "--n", str(args.n), "--seed",
                str(seed), "--compose"] + ([] if cap == "all" else ["--wordings", cap])
    subprocess.run(generate, cwd=REPO, env=ENV, check=True, capture_output=True)
    return ["--loss", args.loss, "--max-steps", str(args.steps)]


def grouped_data(data: Path, cap: str, seed: int, args: argparse.Namespace) -> list[str]:
    """Copy the shipped pairs and draw stance groups from `cap` wordings a preference beside them."""
    scratch = data.with_name(data.name + "-generated")
    generate = [sys.executable, "-m", "compat", "generate", "--out", str(scratch), "--seed", str(seed),
                "--groups", str(GROUPS)] + ([] if cap == "all" else ["--wordings", cap])
    subprocess.run(generate, cwd=REPO, env=ENV, check=True, capture_output=True)
    data.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        shutil.copyfile(REPO / "data" / f"{split}.jsonl", data / f"{split}.jsonl")
    shutil.copyfile(scratch / "train_groups.jsonl", data / "train_groups.jsonl")
    shutil.rmtree(scratch)
    return ["--preset", "default"]


def group_wordings(cap: str) -> float:
    """Mean distinct wordings per trait and stance the groups draw from at `cap` (their pool: negation routes)."""
    from compat.generator.groups import NEGATION_ROUTES
    from compat.generator.ontology import load_ontology
    from compat.generator.wording import load_wording

    onto = load_ontology()
    wording = load_wording(onto)
    sizes = [sum(len(ws) for r, ws in wording.pool((t, s), "train").items() if r in NEGATION_ROUTES)
             for t in onto.traits_in("train") for s in ("pos", "neg", "dealbreaker")]
    sizes = [n if cap == "all" else min(n, int(cap)) for n in sizes if n]
    return statistics.mean(sizes)


def run_one(out: Path, cap: str, seed: int, args: argparse.Namespace) -> dict:
    """Make the data, train and measure one point; returns its result line."""
    data, run = out / f"data-{args.kind}-{cap}-{seed}", out / f"run-{args.kind}-{cap}-{seed}"
    options = (grouped_data if args.kind == "groups" else composed_data)(data, cap, seed, args)
    env = {**ENV, "OMP_NUM_THREADS": "1"} if args.jobs > 1 else ENV
    subprocess.run([sys.executable, "-m", "compat", "train", "--data", str(data), "--extra-test",
                    str(REPO / "data" / "natural_pairs.jsonl"), *options, "--seed", str(seed), "--out", str(run),
                    "--force", "--quiet"], cwd=REPO, env=env, check=True)
    metrics = json.loads((run / "metrics.json").read_text())
    if args.kind == "groups":
        train_wordings = group_wordings(cap)
    else:
        meta = json.loads((data / "metadata.json").read_text())
        train_wordings = meta["wording"]["train_wordings_per_preference"]["mean"]
        train_wordings = min(float(cap), train_wordings) if cap != "all" else train_wordings
    return {
        "kind": args.kind, "cap": cap, "seed": seed, "loss": args.loss if args.kind == "composed" else "default",
        "steps": args.steps if args.kind == "composed" else metrics.get("steps"),
        **({"n": args.n} if args.kind == "composed" else {}),
        "train_wordings_mean": train_wordings,
        **{f"{name}_{key}": metrics[name]["fine_tuned"][key] for name in ("validation", "test", "natural_pairs")
           for key in ("auc", "cohen_d", "recall_at_5") if name in metrics},
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


def same_curve(row: dict, args: argparse.Namespace) -> bool:
    """Whether a result line belongs to the curve asked for (lines before `kind` existed are composed)."""
    kind = row.get("kind", "composed")
    return kind == args.kind and (kind == "groups" or row["loss"] == args.loss)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--kind", choices=("composed", "groups"), default="composed")
    parser.add_argument("--wordings", nargs="+", default=["8", "32", "128", "all"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--loss", default="cosent", help="composed curve only")
    parser.add_argument("--steps", type=int, default=150, help="composed curve only")
    parser.add_argument("--n", type=int, default=2800, help="composed curve only")
    parser.add_argument("--jobs", type=int, default=1, help="trainings at a time, one thread each when more than 1")
    parser.add_argument("--chart", type=Path, help="write the SVG here (default OUT/wording_curve.svg)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    todo = [(cap, seed) for cap in args.wordings for seed in args.seeds
            if not any(r["cap"] == cap and r["seed"] == seed and same_curve(r, args) for r in rows)]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for row in pool.map(lambda point: run_one(args.out, *point, args), todo):
            rows.append(row)
            with results.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    rows = [r for r in rows if same_curve(r, args)]
    chart(rows, args.chart or args.out / "wording_curve.svg")
    print("| train wordings per preference (mean) | seeds | validation AUC | test AUC | test d | natural AUC | "
          "natural d |\n|---|---|---|---|---|---|---|")
    for cap in args.wordings:
        group = [r for r in rows if r["cap"] == cap]
        if group:
            mean = lambda k: statistics.mean(r.get(k, math.nan) for r in group)  # noqa: E731
            print(f"| {cap} ({mean('train_wordings_mean'):.0f}) | {len(group)} | {mean('validation_auc'):.3f} | "
                  f"{mean('test_auc'):.3f} | {mean('test_cohen_d'):.2f} | {mean('natural_pairs_auc'):.3f} | "
                  f"{mean('natural_pairs_cohen_d'):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
