"""Matching: the statements most compatible with one statement, out of a list of candidates."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from compat.evaluation.embeddings import cached_embeddings
from compat.text import clean_statement


def top_matches(model, statement: str, candidates: Sequence[str], k: int = 5) -> list[tuple[str, float, float | None]]:
    """The k candidates whose embeddings are most similar to `statement`'s: (candidate, cosine, probability).

    `model` is a CompatModel or a name. probability comes from the model's calibration (None when it
    has none). Candidates are compared by their cleaned text: repeats count once and the statement
    itself is never its own match. Candidate embeddings are cached by (model, candidate list), so
    asking again about the same store costs one embedding. Raises StatementError for an unusable
    statement or candidate.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    query = clean_statement(statement, "statement")
    seen: dict[str, int] = {}
    for i, c in enumerate(candidates):
        seen.setdefault(clean_statement(c, f"candidate {i}"), i)
    seen.pop(query, None)
    if not seen:
        return []
    chosen = list(seen.values())
    if isinstance(model, str):
        from compat.models import load_model

        model = load_model(model)
    emb = cached_embeddings(model, [candidates[i] for i in chosen])
    q = np.asarray(model.embed([statement]), dtype=np.float32)[0]
    cosines = np.clip(emb @ q, -1.0, 1.0)
    best = np.argsort(-cosines, kind="stable")[:k]
    cal = model.calibration
    return [
        (candidates[chosen[j]], float(cosines[j]), cal.probability(float(cosines[j])) if cal else None)
        for j in best
    ]
