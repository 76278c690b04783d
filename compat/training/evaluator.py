"""Validation during training: ROC-AUC and Cohen's d of cosine similarities, as compat.evaluation.metrics
defines them."""

from __future__ import annotations

import random

from compat.training.data import statements


def sample_pairs(pairs: list[dict], max_pairs: int, seed: int = 0) -> list[dict]:
    """At most `max_pairs` pairs, the same share of each label (keeps evaluation cheap during training)."""
    if len(pairs) <= max_pairs:
        return list(pairs)
    rng = random.Random(seed)
    share = max_pairs / len(pairs)
    out = []
    for label in (0, 1):
        group = [p for p in pairs if p["label"] == label]
        out += rng.sample(group, max(1, round(len(group) * share)))
    return out


def separation(sims, labels) -> dict[str, float]:
    """{"auc", "cohen_d", "margin"} of similarities `sims` against 0/1 `labels`."""
    from compat.evaluation.metrics import cohens_d, roc_auc

    compatible = [s for s, y in zip(sims, labels) if y == 1]
    incompatible = [s for s, y in zip(sims, labels) if y == 0]
    return {
        "auc": roc_auc(sims, labels),
        "cohen_d": cohens_d(sims, labels),
        "margin": float(sum(compatible) / len(compatible) - sum(incompatible) / len(incompatible)),
    }


def make_evaluator(pairs: list[dict], max_pairs: int = 400, seed: int = 0, batch_size: int = 64):
    """A sentence-transformers evaluator of pair separation on (a sample of) `pairs`.

    The trainer logs its results as eval_auc, eval_cohen_d, eval_margin. Encoding goes through
    model.encode, so the model's default prompt (the run's instruction) applies as at scoring time.
    """
    import numpy as np
    from sentence_transformers.base.evaluation import BaseEvaluator

    first, second, labels = statements(sample_pairs(pairs, max_pairs, seed))
    distinct = list(dict.fromkeys(first + second))
    row = {s: i for i, s in enumerate(distinct)}
    index_1, index_2 = [row[s] for s in first], [row[s] for s in second]

    class PairSeparationEvaluator(BaseEvaluator):
        """Embeds each distinct validation statement once; returns auc, cohen_d and margin."""

        def __init__(self):
            super().__init__()
            self.primary_metric = "auc"

        def __call__(self, model, output_path=None, epoch=-1, steps=-1) -> dict[str, float]:
            emb = model.encode(distinct, batch_size=batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
            sims = np.einsum("ij,ij->i", emb[index_1], emb[index_2])
            return separation(sims, labels)

        def store_metrics_in_model_card_data(self, *args, **kwargs) -> None:
            return None  # no model card is written

    return PairSeparationEvaluator()
