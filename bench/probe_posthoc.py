"""What a fixed map of the finished embeddings can add beside the stance gain, with no training: the gain on
the top k principal directions instead of one, whitening, a weight per principal direction fitted on the
training pairs, the average of several seeds' models, and the base model's embeddings concatenated for topic.

    OMP_NUM_THREADS=1 .venv/bin/python bench/probe_posthoc.py --models default RUN_DIR_SEED_1 RUN_DIR_SEED_2

Each model is loaded without its own stance gain (the embeddings as trained) and embeds the distinct
statements of data/train.jsonl (the maps are fitted on those), data/validation.jsonl, data/test.jsonl and
data/natural_pairs.jsonl. Every line prints ROC-AUC / recall@5 on validation, test and natural pairs. Read
a line by its validation figures: test and natural are printed to be reported, not to choose by.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SETS = ("validation", "test", "natural_pairs")


def load_sets() -> dict[str, tuple]:
    """{set: (statements, index_1, index_2, labels)} for train and SETS."""
    from compat.evaluation.embeddings import distinct_statements

    out = {}
    for name in ("train", *SETS):
        pairs = [json.loads(line) for line in (ROOT / "data" / f"{name}.jsonl").read_text().splitlines()]
        statements, i1, i2 = distinct_statements(pairs)
        out[name] = (statements, np.asarray(i1), np.asarray(i2), np.array([p["label"] for p in pairs]))
    return out


def embed_as_trained(name: str, sets: dict) -> dict[str, np.ndarray]:
    """{set: embeddings of its distinct statements} by `name` without the stance gain it ships with."""
    from compat.models import load_model

    model = load_model(name)
    if type(model.encoder[-2]).__name__ == "Dense":  # the stance gain: Dense + Normalize at the end
        del model.encoder[-1], model.encoder[-1]
    return {s: model.embed(sets[s][0]) for s in sets}


def normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def principal(train: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, variances descending, directions as columns) of the training statements."""
    mean = train.mean(0)
    variances, directions = np.linalg.eigh(np.cov((train - mean).T))
    return mean, variances[::-1], directions[:, ::-1]


def line(tag: str, embeddings: dict[str, np.ndarray], sets: dict) -> None:
    from compat.evaluation.metrics import recall_at_k, roc_auc

    cells = []
    for s in SETS:
        e, (_, i1, i2, y) = embeddings[s], sets[s]
        auc = roc_auc(np.einsum("ij,ij->i", e[i1], e[i2]), y)
        recall = recall_at_k(e[i1], e[i2], y, (5,), candidate_ids=[int(i) for i in i2])[5]
        cells.append(f"{auc:.3f} / {recall:.3f}")
    print(f"| {tag} | " + " | ".join(cells) + " |", flush=True)


def probe_one(tag: str, emb: dict, base: dict, sets: dict) -> None:
    from sklearn.linear_model import LogisticRegression

    mean, variances, directions = principal(emb["train"][:4000])
    mapped = lambda f: {s: f(emb[s]) for s in SETS}  # noqa: E731
    line(f"{tag}, as trained", mapped(lambda x: x), sets)
    for k in (1, 2, 5, 10):
        for gain in (2.0, 4.0):
            top = directions[:, :k]
            weight = np.eye(len(mean)) + (gain - 1) * top @ top.T
            line(f"{tag}, gain {gain:g} on the top {k}", mapped(lambda x: normalise((x - mean) @ weight.T)), sets)
    for k in (32, 384):
        line(f"{tag}, whitened, {k} directions",
             mapped(lambda x: normalise((x - mean) @ directions[:, :k] / np.sqrt(variances[:k] + 1e-4))), sets)
    # score = sum_j w_j a_j b_j over principal coordinates, w fitted by logistic regression on the train pairs
    coordinates = lambda x: normalise((x - mean) @ directions)  # noqa: E731
    _, i1, i2, y = sets["train"]
    train = coordinates(emb["train"])
    fitted = LogisticRegression(C=1.0, max_iter=2000).fit(train[i1] * train[i2], y)
    w = fitted.coef_[0]
    print(f"  (weights fitted on the train pairs: first {w[0]:.2f}, the rest within "
          f"{np.abs(w[1:]).max():.2f}, {int((w < 0).sum())} negative)")
    line(f"{tag}, a fitted weight per direction (negative ones clipped to 0)",
         mapped(lambda x: normalise(coordinates(x) * np.sqrt(np.clip(w, 0, None)))), sets)
    for beta in (0.5, 1.0):
        weight = np.eye(len(mean)) + 3.0 * directions[:, :1] @ directions[:, :1].T
        line(f"{tag}, gain 4, base concatenated at weight {beta:g}",
             {s: normalise(np.hstack([beta * base[s], normalise((emb[s] - mean) @ weight.T)])) for s in SETS}, sets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["default"])
    args = parser.parse_args()
    sets = load_sets()
    base = embed_as_trained("base", sets)
    models = {name: embed_as_trained(name, sets) for name in args.models}
    print("| map | validation | test | natural pairs |\n|---|---|---|---|")
    line("base", {s: base[s] for s in SETS}, sets)
    for name, emb in models.items():
        probe_one(Path(name).name, emb, base, sets)
    if len(models) > 1:
        average = {s: normalise(sum(e[s] for e in models.values())) for s in ("train", *SETS)}
        probe_one(f"the average of {len(models)} models", average, base, sets)


if __name__ == "__main__":
    main()
