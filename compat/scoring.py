"""Compatibility score of two statements under one model."""

from __future__ import annotations

from dataclasses import dataclass

from compat.models import CompatModel, load_model
from compat.text import clean_statement


@dataclass(frozen=True)
class Score:
    """Cosine similarity of the two statements' embeddings, and the calibrated probability if known."""

    model: str
    cosine: float
    probability: float | None

    def describe(self) -> str:
        pct = f" ({self.probability:.0%} compatible)" if self.probability is not None else ""
        return f"{self.cosine:.4f}{pct}"


def score(text_a: str, text_b: str, model: CompatModel | str = "base") -> Score:
    """Score two statements; raises compat.text.StatementError for unusable input."""
    clean_statement(text_a, "statement A"), clean_statement(text_b, "statement B")
    m = load_model(model) if isinstance(model, str) else model
    a, b = m.embed([text_a, text_b])
    cosine = float(max(-1.0, min(1.0, float(a @ b))))
    prob = m.calibration.probability(cosine) if m.calibration else None
    return Score(model=m.name, cosine=cosine, probability=prob)
