"""The review queue: the stored labels the active fine-tuned model trusts least.

For each pair the model's probability that it is compatible (its calibrated cosine) and its self-confidence,
the probability it gives the stored label. Ranked lowest self-confidence first: where the model disagrees
most, the label is most likely wrong (cleanlab-style). Statement embeddings come from
compat.evaluation.embeddings.embeddings_by_statement, so ranking again after a few relabels (or under another
filter) embeds only statements not seen before. Library code: no gradio (the Data tab shows the table).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import numpy as np

    from compat.models import Calibration
    from compat.store.labels import LabelStore
    from compat.store.records import Filters

COLUMNS = ["id", "label", "model p(compatible)", "self-confidence", "statement A", "statement B"]
MAX_PAIRS = 5000  # embedding more on this CPU takes minutes; filter first


def fallback_calibration(cosine: np.ndarray, labels: np.ndarray) -> Calibration | None:
    """For a model without a fitted calibration: the threshold halfway between the two labels' mean cosine
    (slope 10). None when `labels` hold one label only, so there is no second mean."""
    from compat.models import Calibration

    if labels.min() == labels.max():
        return None
    middle = (cosine[labels == 1].mean() + cosine[labels == 0].mean()) / 2
    return Calibration(float(middle), 10.0)


def review_queue(store: LabelStore, filters: Filters | None, limit: int = 50,
                 progress: Callable | None = None) -> tuple[list[list], str]:
    """The `limit` pairs of `store` matching `filters` (the first MAX_PAIRS of them) with the lowest
    self-confidence under the active fine-tuned model, lowest first, as rows of COLUMNS; and a message
    saying what was ranked (or why nothing was)."""
    import numpy as np

    from compat.active import active_finetuned
    from compat.evaluation.embeddings import embeddings_by_statement
    from compat.models import load_model
    from compat.text import clean_statement

    name = active_finetuned()
    if name is None:
        return [], "No fine-tuned model yet: train one in the Train tab, then rank."
    model = load_model(name)
    rows = store.rows(filters)[:MAX_PAIRS]
    if not rows:
        return [], "No pairs match the filter."
    embedded = embeddings_by_statement(model, [t for r in rows for t in (r.text_1, r.text_2)], progress)
    cosine = np.array([float(embedded[clean_statement(r.text_1)] @ embedded[clean_statement(r.text_2)])
                       for r in rows])
    labels = np.array([r.label for r in rows])
    calibration = model.calibration
    note = ""
    if calibration is None:
        calibration = fallback_calibration(cosine, labels)
        if calibration is None:
            return [], "The filter holds one label only; without a calibrated model ranking needs both."
        note = " (model has no calibration: approximate)"
    p = np.array([calibration.probability(c) for c in cosine])
    confidence = np.where(labels == 1, p, 1 - p)
    order = np.argsort(confidence, kind="stable")[:limit]
    table = [[rows[i].id, rows[i].label, round(float(p[i]), 3), round(float(confidence[i]), 3),
              rows[i].text_1, rows[i].text_2] for i in order]
    capped = f" (first {MAX_PAIRS:,} of the filter)" if len(rows) == MAX_PAIRS else ""
    return table, f"{len(table)} least trusted of {len(rows):,} pairs{capped} under model {name}{note}."
