"""The Data tab's API endpoints (gradio `api_name`s `list_pairs`, `relabel`, `bulk_relabel`, `add_pair`,
`delete_pair`) on the app's label store (compat.store.shared). Typed plain functions: gr.api builds each
endpoint from its signature, and scripts or tests can call them in-process too. Like every endpoint (README,
"Scripting the app"), they never raise for a request they refuse: the answer has "ok": false and the reason
in "error"."""

from __future__ import annotations

import dataclasses

from compat.store.shared import shared_store


def list_pairs(label: int | None = None, category: str | None = None, pair_type: str | None = None,
               split: str | None = None, edited: bool | None = None, search: str | None = None,
               sort: str = "id", descending: bool = False, offset: int = 0, limit: int = 50,
               source: str | None = None) -> dict:
    """One page of pairs matching the filters: {"ok", "error", "total", "offset", "limit", "rows": [pair, ...]};
    each pair has id, text_1, text_2, label, category, subcategory, pair_type, explanation, split, origin,
    version, source, deleted. `source` (generated, imported, hand-added) filters on where a pair came from.
    Deleted pairs are left out. A bad sort, label, source or page is refused: "ok" false, "error" why, no rows."""
    from compat.store.records import Filters

    try:
        filters = Filters(label, category, None, pair_type, split, edited, search, source or None)
        page = shared_store().query(filters, sort, descending, offset, limit)
    except ValueError as exc:
        return {"ok": False, "error": str(exc), "total": 0, "offset": offset, "limit": limit, "rows": []}
    rows = [_pair_dict(r) for r in page.rows]
    return {"ok": True, "error": None, "total": page.total, "offset": page.offset, "limit": page.limit,
            "rows": rows}


def relabel(pair_id: int, label: int, expected_version: int, annotator: str, note: str = "") -> dict:
    """Set a pair's label if it is still at expected_version. Returns {"ok": true, "pair": ...}, or
    {"ok": false, "error": ..., "pair": the current pair or null} (a stale version is refused, not applied)."""
    from compat.store.records import PairNotFound, StaleVersion

    try:
        row = shared_store().relabel(int(pair_id), label, int(expected_version), annotator, note or None)
        return {"ok": True, "error": None, "pair": dataclasses.asdict(row)}
    except StaleVersion as exc:
        return {"ok": False, "error": str(exc), "pair": dataclasses.asdict(exc.current)}
    except (PairNotFound, ValueError) as exc:
        return {"ok": False, "error": str(exc).strip("'\""), "pair": None}


def bulk_relabel(label: int, annotator: str, expected_count: int | None = None, filter_label: int | None = None,
                 category: str | None = None, pair_type: str | None = None, split: str | None = None,
                 edited: bool | None = None, search: str | None = None, note: str = "") -> dict:
    """Set `label` on every pair the filters match, in one transaction (all or nothing; one Undo reverts it).
    `filter_label` filters on the current label. With `expected_count` (the number the caller saw), it is
    refused if the filters now match another number. Returns {"ok", "changed", "error"}."""
    from compat.store.records import CountChanged, Filters

    filters = Filters(filter_label, category or None, None, pair_type or None, split or None, edited,
                      search or None)
    try:
        changed = shared_store().bulk_relabel(filters, label, annotator, note or None, expected_count=expected_count)
        return {"ok": True, "changed": changed, "error": None}
    except (CountChanged, ValueError) as exc:
        return {"ok": False, "changed": 0, "error": str(exc).strip("'\"")}


def _pair_dict(row) -> dict:
    """A stored pair as an answer holds it: every field but its history."""
    return {k: v for k, v in dataclasses.asdict(row).items() if k != "history"}


def add_pair(text_1: str, text_2: str, label: int, annotator: str, category: str | None = None,
             split: str | None = None, note: str = "") -> dict:
    """Store a pair as the annotator's judgement (source "hand-added", split "train" unless given, so it is in
    the next run's current-labels snapshot). A pair already stored with the other label is relabelled, a
    deleted one restored. Returns {"ok", "error", "action": added|relabelled|restored|unchanged, "pair"}."""
    from compat.store.edits import add_pair as store_add_pair
    from compat.text import StatementError

    pair = {"text_1": text_1, "text_2": text_2, "label": label, "category": category or None,
            "split": split or None}
    pair = {k: v for k, v in pair.items() if v is not None}
    try:
        result = store_add_pair(shared_store(), pair, annotator, note or None)
    except (StatementError, ValueError) as exc:
        return {"ok": False, "error": str(exc), "action": None, "pair": None}
    return {"ok": True, "error": None, "action": result.action, "pair": _pair_dict(result.pair)}


def delete_pair(pair_id: int, annotator: str, note: str = "") -> dict:
    """Soft-delete one pair: it leaves queries, exports and training snapshots, keeps its history, and
    "Undo my last change" (or the next undo by this annotator) brings it back. Returns {"ok", "error",
    "deleted": 1, or 0 when it was deleted already}."""
    from compat.store.edits import delete_pairs
    from compat.store.records import PairNotFound

    try:
        deleted = delete_pairs(shared_store(), [int(pair_id)], annotator, note or None)
    except (PairNotFound, ValueError, TypeError) as exc:
        return {"ok": False, "error": str(exc).strip("'\""), "deleted": 0}
    return {"ok": True, "error": None, "deleted": deleted}
