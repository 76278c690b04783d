"""How well a model's embeddings tell one statement's side (the README's "Reading one statement's side"):
a logistic-regression probe on the training split's one-preference statements, scored on validation and test.

    OMP_NUM_THREADS=1 .venv/bin/python bench/probe_side.py --models base default build/model-runs/seed0

A statement's side is its `stance_*` field in the generated pairs: `pos` (likes the trait, or is it) against
`neg` and `dealbreaker`. Profile statements (several preferences, `pos+neg`...) are left out. Models are read
as served (with their stance gain). If each side is read right with probability p, the product of a pair's
two sides is right with p^2 + (1 - p)^2: the line prints that too, beside the held-out AUC of the model's cosine.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SIDES = {"pos": 0, "neg": 1, "dealbreaker": 1}


def sided_statements(split: str) -> tuple[list[str], np.ndarray]:
    """(the one-preference statements of data/SPLIT.jsonl with a side, their sides as 0 / 1), each once."""
    from compat.text import clean_statement

    sides: dict[str, int] = {}
    for line in (ROOT / "data" / f"{split}.jsonl").read_text().splitlines():
        pair = json.loads(line)
        for k in ("1", "2"):
            if pair.get(f"stance_{k}") in SIDES:
                sides[clean_statement(pair[f"text_{k}"])] = SIDES[pair[f"stance_{k}"]]
    return list(sides), np.array(list(sides.values()))


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    from compat.models import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["base", "default"])
    args = parser.parse_args()
    sets = {s: sided_statements(s) for s in ("train", "validation", "test")}
    print("| model | train | validation | test | p^2 + (1-p)^2 on test |\n|---|---|---|---|---|")
    for name in args.models:
        model = load_model(name)
        x = {s: model.embed(statements) for s, (statements, _) in sets.items()}
        probe = LogisticRegression(C=1.0, max_iter=3000).fit(x["train"], sets["train"][1])
        acc = {s: probe.score(x[s], sets[s][1]) for s in sets}
        print(f"| {name} | {acc['train']:.3f} | {acc['validation']:.3f} | {acc['test']:.3f} | "
              f"{acc['test'] ** 2 + (1 - acc['test']) ** 2:.3f} |", flush=True)
    print(f"\nstatements: train {len(sets['train'][0])}, validation {len(sets['validation'][0])}, "
          f"test {len(sets['test'][0])}; share of neg/dealbreaker on test {sets['test'][1].mean():.2f}")


if __name__ == "__main__":
    main()
