"""The Data tab's API endpoints (gradio `api_name`s `list_pairs`, `relabel`, `bulk_relabel`) on the app's
label store (compat.store.shared). Typed plain functions: gr.api builds each endpoint from its signature,
and scripts or tests can call them in-process too. Like every endpoint (README, "Scripting the app"), they
never raise for a request they refuse: the answer has "ok": false and the reason in "error"."""

from __future__ import annotations

import dataclasses

from compat.store.shared import shared_store


def list_pairs(label: int | None = None, category: str | None = None, pair_type: str | None = None,
               split: str | None = None, edited: bool | None = None, search: str | None = None,
               sort: str = "id", descending: bool = False, offset: int = 0, limit: int = 50) -> dict:
    """One page of pairs matching the filters: {"ok", "error", "total", "offset", "limit", "rows": [pair, ...]};
    each pair has id, text_1, text_2, label, category, subcategory, pair_type, explanation, split, origin,
    version. A bad sort, label or page is refused: "ok" false, "error" why, no rows."""
    from compat.store.records import Filters

    try:
        page = shared_store().query(Filters(label, category, None, pair_type, split, edited, search), sort,
                                    descending, offset, limit)
    except ValueError as exc:
        return {"ok": False, "error": str(exc), "total": 0, "offset": offset, "limit": limit, "rows": []}
    rows = [{k: v for k, v in dataclasses.asdict(r).items() if k != "history"} for r in page.rows]
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
