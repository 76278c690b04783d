"""Stance gain: centre a fine-tuned model's embeddings and weigh its stance direction up, chosen on validation.

What fine-tuning teaches MiniLM here is mostly one direction, a global "likes / dislikes" axis (see
`metrics.auc_without_top_component`). On the raw, L2-normalised embeddings that axis only adds to a large
component every statement shares, so the cosine of two statements is mostly topic plus a constant. Once the
embeddings are centred on the training statements' mean, the axis enters the cosine as a product, the sign
of "same side or not", and weighing it `gain` times lets it count against topic:

    e' = normalise(W (e - mean)),   W = I + (gain - 1) d d^T,   d = the statements' first principal direction

That is one affine map, so it ships as a plain sentence-transformers Dense layer (identity activation)
followed by Normalize: any sentence-transformers user, and the ONNX runtime here, get the same embeddings.
The gain trades topic for stance, so `choose_stance_gain` takes one only when it raises validation ROC-AUC
without taking validation recall@5 below both the model's own and the base model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

# 1.0 (centring alone) lowered validation AUC on both models measured; 2 and up cost the shipped model's
# validation recall@5 more than the rule allows (README, "Stance gain")
GAINS = (1.25, 1.5, 2.0, 3.0, 4.0)


@dataclass(frozen=True)
class StanceGain:
    """The affine map of the module docstring: `mean` and unit `direction` (dim floats each), and `gain`."""

    mean: tuple[float, ...]
    direction: tuple[float, ...]
    gain: float

    def weight_and_bias(self) -> tuple[np.ndarray, np.ndarray]:
        """(W, b) with W e + b = W (e - mean): what the Dense layer holds."""
        d = np.asarray(self.direction, dtype=np.float64)
        weight = np.eye(d.size) + (self.gain - 1.0) * np.outer(d, d)
        return weight, -weight @ np.asarray(self.mean, dtype=np.float64)

    def apply(self, embeddings: np.ndarray) -> np.ndarray:
        """The map on a batch of embeddings (rows), L2-normalised again."""
        weight, bias = self.weight_and_bias()
        out = np.asarray(embeddings, dtype=np.float64) @ weight.T + bias
        return (out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)).astype(np.float32)

    def to_json(self) -> dict:
        return {"gain": self.gain, "mean": list(self.mean), "direction": list(self.direction)}

    @classmethod
    def from_json(cls, raw: dict) -> StanceGain:
        mean, direction = tuple(map(float, raw["mean"])), tuple(map(float, raw["direction"]))
        if len(mean) != len(direction) or float(raw["gain"]) <= 0:
            raise ValueError("stance_gain needs a positive gain and a mean and direction of one size")
        return cls(mean, direction, float(raw["gain"]))


def fit_direction(statement_embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, first principal direction) of the statements' embeddings, the direction signed for determinism."""
    x = np.asarray(statement_embeddings, dtype=np.float64)
    mean = x.mean(axis=0)
    centred = x - mean
    direction = np.linalg.eigh(centred.T @ centred)[1][:, -1]
    return mean, direction * (1.0 if direction[np.argmax(np.abs(direction))] > 0 else -1.0)


def gain_candidates(mean: np.ndarray, direction: np.ndarray, embeddings: np.ndarray, index_1: Sequence[int],
                    index_2: Sequence[int], labels: Sequence[int], gains: Sequence[float] = GAINS) -> list[dict]:
    """ROC-AUC and recall@5 of pairs (index_1[i], index_2[i]) into `embeddings` (each distinct statement once,
    as `evaluation.embeddings.distinct_statements` gives them) without a gain (`gain` None) and with each
    of `gains` on the map of `mean` and `direction` (fit_direction of the training statements)."""
    from compat.evaluation.metrics import recall_at_k, roc_auc

    i1, i2 = np.asarray(index_1), np.asarray(index_2)
    variants = [(None, np.asarray(embeddings, dtype=np.float32))]
    variants += [(float(g), StanceGain(tuple(mean), tuple(direction), float(g)).apply(embeddings)) for g in gains]
    return [{"gain": g, "auc": roc_auc(np.einsum("ij,ij->i", e[i1], e[i2]), labels),
             "recall_at_5": recall_at_k(e[i1], e[i2], labels, (5,), candidate_ids=[int(i) for i in i2])[5]}
            for g, e in variants]


def pick_gain(rows: Sequence[dict], base_recall_at_5: float) -> float | None:
    """The rule over gain_candidates' rows (the first without a gain): the gain with the highest validation AUC
    among those that raise it and keep recall@5 at least min(the model's own without a gain, the base
    model's); a tie goes to the smaller gain (less topic given up); None when no gain qualifies."""
    plain = rows[0]
    floor = min(plain["recall_at_5"], base_recall_at_5)
    fit = [r for r in rows[1:] if r["auc"] > plain["auc"] and r["recall_at_5"] >= floor]
    return max(fit, key=lambda r: (r["auc"], -r["gain"]))["gain"] if fit else None


def choose_stance_gain(train_embeddings: np.ndarray, embeddings: np.ndarray, index_1: Sequence[int],
                       index_2: Sequence[int], labels: Sequence[int], base_recall_at_5: float,
                       gains: Sequence[float] = GAINS) -> tuple[StanceGain | None, list[dict]]:
    """The StanceGain `pick_gain` takes on these validation pairs (None when none), with every candidate's
    figures (for metrics.json)."""
    mean, direction = fit_direction(train_embeddings)
    rows = gain_candidates(mean, direction, embeddings, index_1, index_2, labels, gains)
    gain = pick_gain(rows, base_recall_at_5)
    if gain is None:
        return None, rows
    return StanceGain(tuple(map(float, mean)), tuple(map(float, direction)), gain), rows


def append_to_encoder(encoder, stance_gain: StanceGain) -> None:
    """Append the map to a SentenceTransformer as Dense (identity activation) + Normalize, in place."""
    import torch
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize

    weight, bias = stance_gain.weight_and_bias()
    dense = Dense(weight.shape[1], weight.shape[0], bias=True, activation_function=torch.nn.Identity(),
                  init_weight=torch.tensor(weight, dtype=torch.float32),
                  init_bias=torch.tensor(bias, dtype=torch.float32))
    encoder.append(dense)
    encoder.append(Normalize())
