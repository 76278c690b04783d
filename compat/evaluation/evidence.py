"""What a score leans on: for each statement its nearest labelled statements in the label store, and the
stored pairs nearest to the scored pair, with their labels, under one model. Library code, no gradio: the
Score tab's "Why" shows it. Statement embeddings come from compat.evaluation.embeddings.embeddings_by_statement
(cached per model and statement, as the review queue's), so both lists cost one pass over the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from compat.evaluation.embeddings import embeddings_by_statement
from compat.text import clean_statement

if TYPE_CHECKING:
    from compat.store.records import PairRow


@dataclass(frozen=True)
class NearStatement:
    """A labelled statement of the store near a scored statement: its text, its pair's category, the cosine."""

    text: str
    category: str | None
    cosine: float


@dataclass(frozen=True)
class NearPair:
    """A stored pair near the scored pair: id, both statements, its label and how similar (mean cosine of
    the statements matched in the better of the two orders)."""

    pair_id: int
    text_1: str
    text_2: str
    label: int
    similarity: float


def nearest_statements(model, statement: str, rows: Sequence[PairRow], k: int = 3) -> list[NearStatement]:
    """The k statements of `rows` (either side of a pair) most similar to `statement` under `model`; the
    statement itself is never its own neighbour. Embeddings per statement, so a store that grew by one pair
    costs one or two new embeddings (compat.evaluation.matching.top_matches embeds a new list whole)."""
    category: dict[str, tuple[str, str | None]] = {}
    for r in rows:
        for text in (r.text_1, r.text_2):
            category.setdefault(clean_statement(text), (text, r.category))
    query = clean_statement(statement, "statement")
    category.pop(query, None)
    if not category:
        return []
    vectors = embeddings_by_statement(model, [statement, *category])
    keys = list(category)
    cosines = np.clip(np.stack([vectors[key] for key in keys]) @ vectors[query], -1.0, 1.0)
    best = np.argsort(-cosines, kind="stable")[:k]
    return [NearStatement(category[keys[i]][0], category[keys[i]][1], float(cosines[i])) for i in best]


def nearest_pairs(model, text_a: str, text_b: str, rows: Sequence[PairRow], k: int = 5) -> list[NearPair]:
    """The k pairs of `rows` most similar to (text_a, text_b): for each pair the mean of the two statements'
    cosines, taking whichever order of the stored pair fits better. The pair itself, if stored, is left out."""
    if not rows:
        return []
    vectors = embeddings_by_statement(model, [text_a, text_b, *(t for r in rows for t in (r.text_1, r.text_2))])
    a, b = vectors[clean_statement(text_a)], vectors[clean_statement(text_b)]
    first = np.stack([vectors[clean_statement(r.text_1)] for r in rows])
    second = np.stack([vectors[clean_statement(r.text_2)] for r in rows])
    straight = (first @ a + second @ b) / 2
    swapped = (first @ b + second @ a) / 2
    similarity = np.maximum(straight, swapped)
    own = {clean_statement(text_a).casefold(), clean_statement(text_b).casefold()}
    out: list[NearPair] = []
    for i in np.argsort(-similarity, kind="stable"):
        r = rows[int(i)]
        if {clean_statement(r.text_1).casefold(), clean_statement(r.text_2).casefold()} == own:
            continue
        out.append(NearPair(r.id, r.text_1, r.text_2, r.label, float(similarity[i])))
        if len(out) == k:
            break
    return out
