"""The label store: every pair, its current label and the label's history in one SQLite file.

`COMPAT_HOME/labels.db` by default. Each write is one transaction in a WAL journal, so a killed process
leaves the old state or the new one, never a mix. A relabel names the version it was based on, and a
stale version is refused (StaleVersion carries the current row): nothing is silently overwritten.
Changes are grouped (one relabel, one bulk relabel, one undo) so `undo_last` reverts a whole group.
The record types live in compat.store.records and the schema and migrations in compat.store.schema.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

from compat.pairs import LineError, PairFileError, atomic_write, pair_key, read_pairs, to_jsonl, write_pairs
from compat.paths import DATA_DIR, labels_db
from compat.store.records import (
    COLUMNS,
    ROW_FIELDS,
    CountChanged,
    Counts,
    Filters,
    HistoryEntry,
    ImportReport,
    Page,
    PairNotFound,
    PairRow,
    StaleVersion,
    UndoResult,
)
from compat.store.schema import MIGRATIONS, check_label, where
from compat.text import split_speaker

SORTABLE = ("id", "label", "category", "subcategory", "pair_type", "split", "origin", "updated",
            "text_1", "text_2", "version")
SEED_SPLITS = ("train", "validation", "test")
MAX_PAGE = 1000
_CHUNK = 500  # rows per statement in bulk writes; well under SQLite's variable limit


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _stored_key(pair: dict) -> str:
    """The `pair_key` column of a pair: compat.pairs.pair_key's two statements in one string."""
    return "\x1f".join(pair_key(pair))


def _check_annotator(annotator: str) -> str:
    name = " ".join(str(annotator or "").split())
    if not name or len(name) > 100:
        raise ValueError("annotator name must be 1-100 characters")
    return name


class LabelStore:
    """Pairs and label history in SQLite; safe to share between threads (one connection each)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else labels_db()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._migrate()

    # -- connections and transactions -------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA cache_size=-32000")  # 32 MB: 50,000 pairs and their indexes stay cached
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def _migrate(self) -> None:
        """Apply the migrations this database lacks, in order, in one transaction."""
        try:  # the usual case, up to date: no write lock, so opening never waits for a long write
            if self.schema_version() == len(MIGRATIONS):
                return
        except sqlite3.OperationalError:
            pass  # a new file: no schema_version table yet
        self._conn().execute("PRAGMA foreign_keys=OFF")  # a migration may rebuild a table (schema.py, 4)
        try:
            self._apply_migrations()
        finally:
            self._conn().execute("PRAGMA foreign_keys=ON")

    def _apply_migrations(self) -> None:
        with self._transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL)")
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            if current > len(MIGRATIONS):
                raise RuntimeError(f"{self.path} has schema version {current}; this compat knows up to "
                                   f"{len(MIGRATIONS)} (a newer compat wrote it)")
            for version in range(current + 1, len(MIGRATIONS) + 1):
                for statement in MIGRATIONS[version - 1]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, _now()))
            if conn.execute("PRAGMA foreign_key_check").fetchone():
                raise RuntimeError(f"{self.path}: the migration left a dangling reference; nothing was changed")

    def schema_version(self) -> int:
        return self._conn().execute("SELECT MAX(version) FROM schema_version").fetchone()[0]

    # -- import and seeding -----------------------------------------------------------------------
    def import_pairs(self, source: str | os.PathLike | Iterable[dict], origin: str = "imported",
                     skip_bad: bool = False, split: str | None = None) -> ImportReport:
        """Add a pair file (or pairs) after validating all of it; raises PairFileError naming every bad
        line unless `skip_bad`. Duplicates within the source or of stored pairs are reported, not added."""
        if origin not in ("generated", "imported"):
            raise ValueError(f"origin must be generated or imported, got {origin!r}")
        if isinstance(source, (str, os.PathLike)):
            name, found = str(source), read_pairs(source)
        else:
            name = "<pairs>"
            found = read_pairs(name, text=to_jsonl(source))
        report = ImportReport(name, errors=list(found.errors), duplicates=list(found.duplicates))
        good: list[tuple[int, dict]] = []
        for number, pair in zip(found.line_numbers, found.pairs):
            bad = [k for k in ("explanation", "split") if pair.get(k) is not None and not isinstance(pair[k], str)]
            if bad:
                report.errors.append(LineError(name, number, f"field {bad[0]!r} must be a string"))
            else:
                good.append((number, pair))
        report.errors.sort(key=lambda e: e.line)
        if report.errors and not skip_bad:
            raise PairFileError(report.errors)
        with self._transaction() as conn:
            self._insert(conn, good, origin, split, report)
        return report

    def _insert(self, conn: sqlite3.Connection, numbered: list[tuple[int, dict]], origin: str,
                split: str | None, report: ImportReport) -> None:
        """Insert validated pairs, leaving out (and reporting) those already stored."""
        keyed = {_stored_key(pair): (number, pair) for number, pair in numbered}
        keys = list(keyed)
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start:start + _CHUNK]
            for r in conn.execute(f"SELECT pair_key, id, label FROM pairs WHERE pair_key IN "
                                  f"({','.join('?' * len(chunk))})", chunk):
                number, pair = keyed.pop(r["pair_key"])
                differs = "" if r["label"] == pair["label"] else f" (label {r['label']} there)"
                report.in_store.append(LineError(report.source, number,
                                                 f"already in the store as pair #{r['id']}{differs}"))
        now, last_id = _now(), conn.execute("SELECT COALESCE(MAX(id), 0) FROM pairs").fetchone()[0]
        conn.executemany(
            "INSERT INTO pairs (text_1, text_2, speaker_1, speaker_2, label, category, subcategory, pair_type,"
            " explanation, split, extra, origin, source, pair_key, created, updated)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (self._values(pair, split) + (origin, origin, key, now, now) for key, (_, pair) in keyed.items()))
        conn.execute("INSERT INTO pairs_text (rowid, text_1, text_2, explanation) SELECT id, text_1, text_2,"
                     " explanation FROM pairs WHERE id > ?", (last_id,))
        report.added += len(keyed)
        report.in_store.sort(key=lambda e: e.line)

    @staticmethod
    def _values(pair: dict, split: str | None) -> tuple:
        """The stored columns of a pair, up to `extra`: unknown fields and explicit nulls go to `extra`."""
        extra = {k: v for k, v in pair.items() if k not in COLUMNS or v is None}
        if split is not None:
            extra.pop("split", None)
        speakers = split_speaker(pair["text_1"]).speaker, split_speaker(pair["text_2"]).speaker
        return (pair["text_1"], pair["text_2"], *speakers, pair["label"], pair.get("category"),
                pair.get("subcategory"), pair.get("pair_type"), pair.get("explanation"),
                split if split is not None else pair.get("split"), json.dumps(extra, ensure_ascii=False))

    def ensure_seeded(self, data_dir: str | os.PathLike = DATA_DIR) -> int:
        """Fill an empty store from the shipped data set (train/validation/test.jsonl, split from the file
        name), once; returns the number of pairs added. Missing files are skipped; a bad one raises."""
        if self._conn().execute("SELECT 1 FROM pairs LIMIT 1").fetchone():
            return 0  # the usual case, known from a read: it never waits for a writer (a long bulk relabel)
        data_dir = Path(data_dir)
        files = [(s, data_dir / f"{s}.jsonl") for s in SEED_SPLITS if (data_dir / f"{s}.jsonl").exists()]
        if not files:
            return 0
        with self._transaction() as conn:  # the write lock makes two starting processes seed once
            if conn.execute("SELECT 1 FROM pairs LIMIT 1").fetchone():
                return 0
            added = 0
            for split, path in files:
                found = read_pairs(path)
                if found.errors:
                    raise PairFileError(found.errors)
                report = ImportReport(str(path))
                self._insert(conn, list(zip(found.line_numbers, found.pairs)), "generated", split, report)
                added += report.added
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('seeded_from', ?)", (str(data_dir),))
            return added

    # -- reading ----------------------------------------------------------------------------------
    @staticmethod
    def _row(r: sqlite3.Row, history: tuple[HistoryEntry, ...] = ()) -> PairRow:
        values = {n: r[n] for n in ROW_FIELDS}
        values["extra"] = json.loads(values["extra"])
        values["deleted"] = bool(values["deleted"])
        return PairRow(**values, history=history)

    def query(self, filters: Filters | None = None, sort: str = "id", descending: bool = False,
              offset: int = 0, limit: int = 50) -> Page:
        """One page of the pairs matching `filters`, sorted (ties by id), with the total matched."""
        if sort not in SORTABLE:
            raise ValueError(f"cannot sort by {sort!r}; choose one of {', '.join(SORTABLE)}")
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise ValueError(f"limit must be 1-{MAX_PAGE} and offset >= 0")
        condition, params = where(filters)
        direction = "DESC" if descending else "ASC"
        order = f"{sort} {direction}, id {direction}" if sort != "id" else f"id {direction}"
        with self._transaction(write=False) as conn:  # count and page from the same snapshot
            total = conn.execute(f"SELECT COUNT(*) FROM pairs WHERE {condition}", params).fetchone()[0]
            rows = conn.execute(f"SELECT * FROM pairs WHERE {condition} ORDER BY {order} LIMIT ? OFFSET ?",
                                [*params, limit, offset]).fetchall()
        return Page([self._row(r) for r in rows], total, offset, limit)

    def find(self, pair: dict) -> PairRow | None:
        """The stored pair with the same two statements as `pair` (either order, speaker prefix, case and
        spacing aside: compat.pairs.pair_key), or None; by the unique key, so never a near miss."""
        row = self._conn().execute("SELECT * FROM pairs WHERE pair_key = ?", (_stored_key(pair),)).fetchone()
        return None if row is None else self._row(row)

    def count(self, filters: Filters | None = None) -> int:
        condition, params = where(filters)
        return self._conn().execute(f"SELECT COUNT(*) FROM pairs WHERE {condition}", params).fetchone()[0]

    def get(self, pair_id: int) -> PairRow:
        """One pair with its label history (oldest first); raises PairNotFound."""
        with self._transaction(write=False) as conn:
            return self._get(conn, pair_id)

    def _get(self, conn: sqlite3.Connection, pair_id: int) -> PairRow:
        row = conn.execute("SELECT * FROM pairs WHERE id = ?", (int(pair_id),)).fetchone()
        if row is None:
            raise PairNotFound(f"no pair #{pair_id}")
        history = tuple(
            HistoryEntry(h["pair_id"], h["old_label"], h["new_label"], h["annotator"], h["at"], h["note"],
                         h["change_id"], h["action"])
            for h in conn.execute("SELECT * FROM label_history WHERE pair_id = ? ORDER BY id", (row["id"],))
        )
        return self._row(row, history)

    def counts(self) -> Counts:
        """How many pairs, by label, edited, and by split."""
        with self._transaction(write=False) as conn:  # each from its index, not a scan of the table
            by_label = dict(conn.execute("SELECT label, COUNT(*) FROM pairs WHERE deleted = 0 GROUP BY label"))
            edited = conn.execute("SELECT COUNT(*) FROM pairs WHERE origin = 'edited' AND deleted = 0").fetchone()[0]
            by_split = {s or "": n for s, n in
                        conn.execute("SELECT split, COUNT(*) FROM pairs WHERE deleted = 0 GROUP BY split")}
        compatible, incompatible = by_label.get(1, 0), by_label.get(0, 0)
        return Counts(compatible + incompatible, compatible, incompatible, edited, by_split)

    def choices(self, column: str) -> list[str]:
        """The distinct non-empty values of a filterable text column (for drop-downs)."""
        if column not in ("category", "subcategory", "pair_type", "split"):
            raise ValueError(f"no choices for {column!r}")
        rows = self._conn().execute(f"SELECT DISTINCT {column} FROM pairs WHERE {column} IS NOT NULL ORDER BY 1")
        return [r[0] for r in rows]

    # -- writing labels ---------------------------------------------------------------------------
    def _change(self, conn: sqlite3.Connection, annotator: str, kind: str, note: str | None) -> int:
        return conn.execute("INSERT INTO changes (annotator, at, kind, note) VALUES (?, ?, ?, ?)",
                            (annotator, _now(), kind, note)).lastrowid

    def _set_labels(self, conn: sqlite3.Connection, ids: list[int], label: int, change_id: int,
                    annotator: str, note: str | None,
                    on_progress: Callable[[int, int], None] | None = None) -> None:
        """Record history, then set `label` on `ids`, chunk by chunk, inside the caller's transaction."""
        now = _now()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            conn.execute(
                "INSERT INTO label_history (pair_id, change_id, old_label, new_label, version, annotator, at,"
                f" note) SELECT id, ?, label, ?, version + 1, ?, ?, ? FROM pairs WHERE id IN ({marks})",
                [change_id, label, annotator, now, note, *chunk])
            conn.execute(f"UPDATE pairs SET label = ?, origin = 'edited', version = version + 1, updated = ?"
                         f" WHERE id IN ({marks})", [label, now, *chunk])
            if on_progress:
                on_progress(start + len(chunk), len(ids))

    def relabel(self, pair_id: int, label: int, expected_version: int, annotator: str,
                note: str | None = None) -> PairRow:
        """Set one pair's label if it is still at `expected_version`; raises StaleVersion otherwise.
        Setting the label it already has changes nothing."""
        label, annotator = check_label(label), _check_annotator(annotator)
        with self._transaction() as conn:
            current = self._get(conn, pair_id)
            if current.version != expected_version:
                raise StaleVersion(current, expected_version)
            if current.label == label:
                return current
            change_id = self._change(conn, annotator, "relabel", note)
            self._set_labels(conn, [current.id], label, change_id, annotator, note)
            return self._get(conn, pair_id)

    def bulk_relabel(self, filters: Filters | None, label: int, annotator: str, note: str | None = None,
                     expected_count: int | None = None,
                     on_progress: Callable[[int, int], None] | None = None) -> int:
        """Set `label` on every pair `filters` matches, all or nothing; returns how many changed.
        With `expected_count` (what the person confirmed), refuses if the filter now matches another number."""
        label, annotator = check_label(label), _check_annotator(annotator)
        condition, params = where(filters)
        with self._transaction() as conn:
            matched = conn.execute(f"SELECT COUNT(*) FROM pairs WHERE {condition}", params).fetchone()[0]
            if expected_count is not None and matched != expected_count:
                raise CountChanged(f"the filter now matches {matched} pairs, not the {expected_count} confirmed")
            ids = [r[0] for r in conn.execute(
                f"SELECT id FROM pairs WHERE {condition} AND label != ? ORDER BY id", [*params, label])]
            if ids:
                change_id = self._change(conn, annotator, "bulk", note)
                self._set_labels(conn, ids, label, change_id, annotator, note, on_progress)
            return len(ids)

    def undo_last(self, annotator: str) -> UndoResult | None:
        """Revert `annotator`'s latest change not yet undone (a whole bulk relabel at once); None when there
        is none. Pairs changed by anyone since are left as they are and counted as skipped."""
        annotator = _check_annotator(annotator)
        with self._transaction() as conn:
            change = conn.execute("SELECT * FROM changes WHERE annotator = ? AND kind != 'undo' AND undone_by"
                                  " IS NULL ORDER BY id DESC LIMIT 1", (annotator,)).fetchone()
            if change is None:
                return None
            if change["kind"] in ("add", "delete"):  # membership changes: compat.store.edits
                from compat.store.edits import undo_membership

                return undo_membership(conn, change, annotator, self._change)
            # A pair is put back only if no change to it made after this one still stands.
            rows = conn.execute(
                "SELECT h.pair_id, h.old_label, p.label = h.new_label AND NOT EXISTS (SELECT 1 FROM"
                " label_history h2 JOIN changes c2 ON c2.id = h2.change_id WHERE h2.pair_id = h.pair_id AND"
                " h2.id > h.id AND c2.kind != 'undo' AND c2.undone_by IS NULL) AS unchanged"
                " FROM label_history h JOIN pairs p ON p.id = h.pair_id WHERE h.change_id = ?",
                (change["id"],)).fetchall()
            note = f"undo of change #{change['id']}"
            undo_id = self._change(conn, annotator, "undo", note)
            conn.execute("UPDATE changes SET undone_by = ? WHERE id = ?", (undo_id, change["id"]))
            revert = [r for r in rows if r["unchanged"]]
            for old in (0, 1):
                ids = [r["pair_id"] for r in revert if r["old_label"] == old]
                self._set_labels(conn, ids, old, undo_id, annotator, note)
            self._restore_origin(conn, [r["pair_id"] for r in revert])
            return UndoResult(change["id"], change["kind"], len(revert), len(rows) - len(revert))

    def _restore_origin(self, conn: sqlite3.Connection, ids: list[int]) -> None:
        """After an undo, a pair back at the label it came in with is no longer `edited`."""
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            conn.execute(
                "UPDATE pairs SET origin = CASE WHEN label = (SELECT old_label FROM label_history WHERE"
                " pair_id = pairs.id ORDER BY id LIMIT 1) THEN source ELSE 'edited' END"
                f" WHERE id IN ({','.join('?' * len(chunk))})", chunk)

    # -- writing files ----------------------------------------------------------------------------
    def rows(self, filters: Filters | None = None, edited_only: bool = False) -> list[PairRow]:
        """Every pair matching `filters` (and edited, if asked), in id order, from one snapshot."""
        if edited_only:
            filters = Filters(**{**(filters or Filters()).__dict__, "edited": True})
        condition, params = where(filters)
        rows = self._conn().execute(f"SELECT * FROM pairs WHERE {condition} ORDER BY id", params).fetchall()
        return [self._row(r) for r in rows]

    def export(self, path: str | os.PathLike, fmt: str = "jsonl", filters: Filters | None = None,
               edited_only: bool = False) -> int:
        """Write the current labels (all, filtered, or only edited pairs) atomically; returns the count."""
        pairs = [r.to_pair() for r in self.rows(filters, edited_only)]
        write_pairs(path, pairs, fmt)
        return len(pairs)

    def snapshot(self, path: str | os.PathLike, filters: Filters | None = None) -> str:
        """Write the current labels as a JSONL training file; returns its sha256 (for the run's config)."""
        text = to_jsonl(r.to_pair() for r in self.rows(filters))
        atomic_write(path, text)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
