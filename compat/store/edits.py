"""Changes to which pairs the label store holds: a pair added by hand, a soft delete, and their undo.

A pair added by hand gets `source` and `origin` "hand-added" and, unless it says otherwise, split "train", so
it is in the next run's "current labels" snapshot. A deleted pair stays in the file with `deleted` set: it
is left out of queries, exports and snapshots (compat.store.schema.where) and comes back on undo. Each
operation is one transaction and one change (kind "add" or "delete") with a history row per pair
(`action` add / delete / restore / label), so `LabelStore.undo_last` reverts it like any relabel.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from compat.pairs import validate_pair
from compat.store.records import PairNotFound, PairRow, UndoResult
from compat.store.schema import check_label

if TYPE_CHECKING:
    from compat.store.labels import LabelStore

HAND_ADDED = "hand-added"
DEFAULT_SPLIT = "train"


@dataclass(frozen=True)
class AddResult:
    """What adding a pair did: "added", "relabelled" (it was stored with the other label), "restored" (it had
    been deleted) or "unchanged" (stored already with this label); and the pair as it is now."""

    action: str
    pair: PairRow


def _history(conn: sqlite3.Connection, pair_id: int, change_id: int, old_label: int, new_label: int,
             annotator: str, at: str, note: str | None, action: str) -> None:
    """One history row for `pair_id` at its current version."""
    conn.execute("INSERT INTO label_history (pair_id, change_id, old_label, new_label, version, annotator, at,"
                 " note, action) SELECT id, ?, ?, ?, version, ?, ?, ?, ? FROM pairs WHERE id = ?",
                 (change_id, old_label, new_label, annotator, at, note, action, pair_id))


def _set_deleted(conn: sqlite3.Connection, pair_id: int, deleted: bool, at: str) -> None:
    conn.execute("UPDATE pairs SET deleted = ?, version = version + 1, updated = ? WHERE id = ?",
                 (int(deleted), at, pair_id))


def checked_pair(pair: dict) -> dict:
    """`pair` if it is a valid pair (compat.pairs.validate_pair, string explanation and split); ValueError
    naming the problem otherwise."""
    problem = validate_pair(pair)
    if problem:
        raise ValueError(problem)
    for key in ("explanation", "split", "category"):
        if pair.get(key) is not None and not isinstance(pair[key], str):
            raise ValueError(f"field {key!r} must be a string")
    return pair


def add_pair(store: LabelStore, pair: dict, annotator: str, note: str | None = None) -> AddResult:
    """Store `pair` (text_1, text_2, label, optional category and the like) as the annotator's judgement,
    in one transaction. A pair not yet stored is added (hand-added, split "train" unless given); one stored
    with another label is relabelled; a deleted one is restored with this label."""
    from compat.store.labels import _check_annotator, _now, _stored_key

    pair, annotator = checked_pair(dict(pair)), _check_annotator(annotator)
    label = check_label(pair["label"])
    with store._transaction() as conn:
        row = conn.execute("SELECT id, label, deleted FROM pairs WHERE pair_key = ?", (_stored_key(pair),)).fetchone()
        if row is not None and not row["deleted"]:
            if row["label"] == label:
                return AddResult("unchanged", store._get(conn, row["id"]))
            change_id = store._change(conn, annotator, "relabel", note)
            store._set_labels(conn, [row["id"]], label, change_id, annotator, note)
            return AddResult("relabelled", store._get(conn, row["id"]))
        now, change_id = _now(), store._change(conn, annotator, "add", note)
        if row is not None:  # deleted before: bring it back, then give it this label
            _set_deleted(conn, row["id"], False, now)
            _history(conn, row["id"], change_id, row["label"], row["label"], annotator, now, note, "restore")
            if row["label"] != label:
                store._set_labels(conn, [row["id"]], label, change_id, annotator, note)
            return AddResult("restored", store._get(conn, row["id"]))
        pair_id = _insert_hand_added(store, conn, pair, _stored_key(pair), now)
        _history(conn, pair_id, change_id, label, label, annotator, now, note, "add")
        return AddResult("added", store._get(conn, pair_id))


def _insert_hand_added(store: LabelStore, conn: sqlite3.Connection, pair: dict, key: str, now: str) -> int:
    """Insert one new pair with source "hand-added" (and its text index row); returns its id."""
    values = store._values(pair, pair.get("split") or DEFAULT_SPLIT)
    pair_id = conn.execute(
        "INSERT INTO pairs (text_1, text_2, speaker_1, speaker_2, label, category, subcategory, pair_type,"
        " explanation, split, extra, origin, source, pair_key, created, updated)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", values + (HAND_ADDED, HAND_ADDED, key, now, now)).lastrowid
    conn.execute("INSERT INTO pairs_text (rowid, text_1, text_2, explanation) SELECT id, text_1, text_2,"
                 " explanation FROM pairs WHERE id = ?", (pair_id,))
    return pair_id


def delete_pairs(store: LabelStore, pair_ids: Iterable[int], annotator: str, note: str | None = None) -> int:
    """Soft-delete the given pairs, all or nothing, as one change (one Undo brings them all back); returns
    how many were deleted (already deleted ones are left as they are). Raises PairNotFound for an unknown id."""
    from compat.store.labels import _check_annotator, _now

    annotator, ids = _check_annotator(annotator), sorted({int(i) for i in pair_ids})
    if not ids:
        return 0
    with store._transaction() as conn:
        rows = {r["id"]: r for r in conn.execute(
            f"SELECT id, label, deleted FROM pairs WHERE id IN ({','.join('?' * len(ids))})", ids)}
        missing = [i for i in ids if i not in rows]
        if missing:
            raise PairNotFound(f"no pair #{missing[0]}")
        live = [i for i in ids if not rows[i]["deleted"]]
        if not live:
            return 0
        now, change_id = _now(), store._change(conn, annotator, "delete", note)
        for pair_id in live:
            _set_deleted(conn, pair_id, True, now)
            label = rows[pair_id]["label"]
            _history(conn, pair_id, change_id, label, label, annotator, now, note, "delete")
        return len(live)


def undo_membership(conn: sqlite3.Connection, change: sqlite3.Row, annotator: str,
                    new_change: Callable[[sqlite3.Connection, str, str, str | None], int]) -> UndoResult:
    """Revert an "add" or "delete" change inside the caller's transaction: added or restored pairs are
    deleted again, deleted ones restored, labels set with it put back. A pair already in the state undo
    would give it is counted as skipped."""
    from compat.store.labels import _now

    rows = conn.execute("SELECT h.pair_id, h.old_label, h.action, p.label, p.deleted FROM label_history h"
                        " JOIN pairs p ON p.id = h.pair_id WHERE h.change_id = ? ORDER BY h.id DESC",
                        (change["id"],)).fetchall()
    note = f"undo of change #{change['id']}"
    undo_id, now = new_change(conn, annotator, "undo", note), _now()
    conn.execute("UPDATE changes SET undone_by = ? WHERE id = ?", (undo_id, change["id"]))
    reverted = 0
    for r in rows:
        current = conn.execute("SELECT label, deleted FROM pairs WHERE id = ?", (r["pair_id"],)).fetchone()
        if r["action"] == "label":
            if current["label"] == r["old_label"]:
                continue
            conn.execute("UPDATE pairs SET label = ?, version = version + 1, updated = ?, origin = CASE WHEN ?"
                         " = (SELECT old_label FROM label_history WHERE pair_id = pairs.id ORDER BY id LIMIT 1)"
                         " THEN source ELSE 'edited' END WHERE id = ?",
                         (r["old_label"], now, r["old_label"], r["pair_id"]))
            _history(conn, r["pair_id"], undo_id, current["label"], r["old_label"], annotator, now, note, "label")
        else:
            delete = r["action"] in ("add", "restore")
            if bool(current["deleted"]) == delete:
                continue
            _set_deleted(conn, r["pair_id"], delete, now)
            _history(conn, r["pair_id"], undo_id, current["label"], current["label"], annotator, now, note,
                     "delete" if delete else "restore")
        reverted += 1
    return UndoResult(change["id"], change["kind"], reverted, len(rows) - reverted)

