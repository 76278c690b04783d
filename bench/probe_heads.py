"""A head on the frozen base model: what all-MiniLM-L6-v2's pooled sentence vectors afford without any
fine-tuning of the encoder, the yardstick for what fine-tuning adds.

    .venv/bin/python bench/probe_heads.py [--head linear|mlp] [--steps 3000]

Every statement of the shipped train, validation and test splits and of the natural pairs is embedded
once by the base model; then a head (linear: 384 x 384 from the identity; mlp: 384 -> 768 -> 384, GELU)
trains with CoSENT (scale 20) on the training pairs, AdamW lr 1e-3, batches of 64 pairs drawn at random,
and prints the ROC-AUC of the head's cosines on each set every 1,000 steps, one JSON line each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
SETS = {"train": "data/train.jsonl", "val": "data/validation.jsonl", "test": "data/test.jsonl",
        "nat": "data/natural_pairs.jsonl"}


def main() -> None:
    import numpy as np
    import torch

    from bench.probe_stance import cosent, read
    from compat.evaluation.metrics import roc_auc
    from compat.models import load_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--head", choices=("linear", "mlp"), default="linear")
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    torch.manual_seed(0)
    pairs = {name: read(REPO / path) for name, path in SETS.items()}
    texts = sorted({p[f"text_{i}"] for rows in pairs.values() for p in rows for i in (1, 2)})
    row = {t: i for i, t in enumerate(texts)}
    frozen = torch.tensor(load_model("base").embed(texts))

    def columns(rows: list[dict]):
        return (torch.tensor([row[p["text_1"]] for p in rows]), torch.tensor([row[p["text_2"]] for p in rows]),
                torch.tensor([p["label"] for p in rows], dtype=torch.float))

    if args.head == "linear":
        head = torch.nn.Linear(384, 384)
        torch.nn.init.eye_(head.weight)
        torch.nn.init.zeros_(head.bias)
    else:
        head = torch.nn.Sequential(torch.nn.Linear(384, 768), torch.nn.GELU(), torch.nn.Linear(768, 384))
    a, b, y = columns(pairs["train"])
    optimizer = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=0.01)
    for step in range(1, args.steps + 1):
        pick = torch.randint(0, len(y), (64,))
        za, zb = (torch.nn.functional.normalize(head(frozen[i]), dim=-1) for i in (a[pick], b[pick]))
        loss = cosent(20.0 * (za * zb).sum(-1), y[pick])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 1000 == 0:
            with torch.no_grad():
                z = torch.nn.functional.normalize(head(frozen), dim=-1)
                out = {"head": args.head, "at": step}
                for name, rows in pairs.items():
                    i1, i2, labels = columns(rows)
                    out[name] = round(roc_auc((z[i1] * z[i2]).sum(-1).numpy(), np.asarray(labels)), 3)
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
