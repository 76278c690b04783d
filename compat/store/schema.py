"""The label store's SQLite schema: its migrations, and the SQL condition selecting the pairs a Filters
describes. compat.store.labels applies the migrations."""

from __future__ import annotations

from compat.store.records import Filters

_V3_PAIR_COLUMNS = ("id, text_1, text_2, speaker_1, speaker_2, label, category, subcategory, pair_type, explanation,"
                    " split, extra, origin, source, version, pair_key, created, updated")
PAIR_COLUMNS_V4 = """id INTEGER PRIMARY KEY, text_1 TEXT NOT NULL, text_2 TEXT NOT NULL,
    speaker_1 TEXT, speaker_2 TEXT, label INTEGER NOT NULL CHECK (label IN (0, 1)),
    category TEXT, subcategory TEXT, pair_type TEXT, explanation TEXT, split TEXT,
    extra TEXT NOT NULL DEFAULT '{}',
    origin TEXT NOT NULL CHECK (origin IN ('generated', 'imported', 'hand-added', 'edited')),
    source TEXT NOT NULL CHECK (source IN ('generated', 'imported', 'hand-added')),
    version INTEGER NOT NULL DEFAULT 1, pair_key TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL, updated TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))"""
SOURCES = ("generated", "imported", "hand-added")

# The full-text index follows deletes and text edits of pairs (migration 2; recreated by 4's table rebuild).
_TEXT_DELETE_TRIGGER = (
    "CREATE TRIGGER pairs_text_delete AFTER DELETE ON pairs BEGIN INSERT INTO pairs_text(pairs_text, rowid,"
    " text_1, text_2, explanation) VALUES ('delete', old.id, old.text_1, old.text_2, old.explanation); END")
_TEXT_UPDATE_TRIGGER = (
    "CREATE TRIGGER pairs_text_update AFTER UPDATE OF text_1, text_2, explanation ON pairs BEGIN"
    " INSERT INTO pairs_text(pairs_text, rowid, text_1, text_2, explanation) VALUES ('delete', old.id,"
    " old.text_1, old.text_2, old.explanation); INSERT INTO pairs_text(rowid, text_1, text_2, explanation)"
    " VALUES (new.id, new.text_1, new.text_2, new.explanation); END")

# Each entry moves the schema one version up; entries are never edited once released, only appended.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE pairs (
            id INTEGER PRIMARY KEY, text_1 TEXT NOT NULL, text_2 TEXT NOT NULL,
            speaker_1 TEXT, speaker_2 TEXT, label INTEGER NOT NULL CHECK (label IN (0, 1)),
            category TEXT, subcategory TEXT, pair_type TEXT, explanation TEXT, split TEXT,
            extra TEXT NOT NULL DEFAULT '{}',
            origin TEXT NOT NULL CHECK (origin IN ('generated', 'imported', 'edited')),
            source TEXT NOT NULL CHECK (source IN ('generated', 'imported')),
            version INTEGER NOT NULL DEFAULT 1, pair_key TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL, updated TEXT NOT NULL)""",
        """CREATE TABLE changes (
            id INTEGER PRIMARY KEY, annotator TEXT NOT NULL, at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('relabel', 'bulk', 'undo')), note TEXT,
            undone_by INTEGER REFERENCES changes(id))""",
        """CREATE TABLE label_history (
            id INTEGER PRIMARY KEY, pair_id INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
            change_id INTEGER NOT NULL REFERENCES changes(id), old_label INTEGER NOT NULL,
            new_label INTEGER NOT NULL, version INTEGER NOT NULL, annotator TEXT NOT NULL,
            at TEXT NOT NULL, note TEXT)""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        *(f"CREATE INDEX pairs_{c} ON pairs({c}, id)" for c in
          ("label", "category", "pair_type", "split", "origin", "updated", "text_1", "text_2")),
        "CREATE INDEX history_pair ON label_history(pair_id, id)",
        "CREATE INDEX history_change ON label_history(change_id)",
        "CREATE INDEX changes_annotator ON changes(annotator, id)",
    ),
    (  # 2: substring search through a trigram index instead of scanning every row with LIKE
        "CREATE VIRTUAL TABLE pairs_text USING fts5(text_1, text_2, explanation, content='pairs',"
        " content_rowid='id', tokenize='trigram')",
        "INSERT INTO pairs_text(pairs_text) VALUES ('rebuild')",
        "CREATE TRIGGER pairs_text_insert AFTER INSERT ON pairs BEGIN INSERT INTO pairs_text(rowid, text_1,"
        " text_2, explanation) VALUES (new.id, new.text_1, new.text_2, new.explanation); END",
        _TEXT_DELETE_TRIGGER,
        _TEXT_UPDATE_TRIGGER,
    ),
    # 3: new pairs are indexed by _insert in one statement per import; the per-row trigger made a 50,000-pair
    # import 4x slower (measured: 11.7 s against 3.8 s).
    ("DROP TRIGGER pairs_text_insert",),
    # 4: pairs added by hand (source and origin 'hand-added'), soft delete (`deleted`, with history and undo),
    # and history rows that say what they record (`action`). SQLite cannot change a CHECK in place, so
    # pairs and changes are rebuilt (its 12-step ALTER; LabelStore._migrate turns foreign keys off for it).
    (
        f"CREATE TABLE pairs_v4 ({PAIR_COLUMNS_V4})",
        f"INSERT INTO pairs_v4 ({_V3_PAIR_COLUMNS}) SELECT {_V3_PAIR_COLUMNS} FROM pairs",
        "DROP TABLE pairs",
        "ALTER TABLE pairs_v4 RENAME TO pairs",
        *(f"CREATE INDEX pairs_{c} ON pairs({c}, id)" for c in
          ("label", "category", "pair_type", "split", "origin", "updated", "text_1", "text_2", "source",
           "deleted")),
        _TEXT_DELETE_TRIGGER,
        _TEXT_UPDATE_TRIGGER,
        """CREATE TABLE changes_v4 (
            id INTEGER PRIMARY KEY, annotator TEXT NOT NULL, at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('relabel', 'bulk', 'undo', 'add', 'delete')), note TEXT,
            undone_by INTEGER REFERENCES changes(id))""",
        "INSERT INTO changes_v4 SELECT id, annotator, at, kind, note, undone_by FROM changes",
        "DROP TABLE changes",
        "ALTER TABLE changes_v4 RENAME TO changes",
        "CREATE INDEX changes_annotator ON changes(annotator, id)",
        "ALTER TABLE label_history ADD COLUMN action TEXT NOT NULL DEFAULT 'label'"
        " CHECK (action IN ('label', 'add', 'delete', 'restore'))",
    ),
]


def check_label(label: object) -> int:
    """`label` itself if it is the integer 0 or 1; ValueError otherwise."""
    if type(label) is not int or label not in (0, 1):
        raise ValueError(f"label must be the integer 0 or 1, got {label!r}")
    return label


def where(filters: Filters | None) -> tuple[str, list]:
    """The SQL condition (and its parameters) selecting the pairs `filters` describes."""
    f = filters or Filters()
    clauses, params = ["1"], []
    if f.label is not None:
        clauses.append("label = ?")
        params.append(check_label(f.label))
    for column in ("category", "subcategory", "pair_type", "split"):
        value = getattr(f, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if f.deleted is not None:  # live pairs only unless asked: deleted ones stay out of queries and files
        clauses.append("deleted = ?")
        params.append(1 if f.deleted else 0)
    if f.source is not None:
        if f.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {f.source!r}")
        clauses.append("source = ?")
        params.append(f.source)
    if f.edited is not None:
        clauses.append("origin = 'edited'" if f.edited else "origin != 'edited'")
    text = (f.search or "").strip()
    if len(text) >= 3:  # the trigram index finds substrings of 3+ characters, case-insensitively
        clauses.append("id IN (SELECT rowid FROM pairs_text WHERE pairs_text MATCH ?)")
        params.append('"' + text.replace('"', '""') + '"')
    elif text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append("(text_1 LIKE ? ESCAPE '\\' OR text_2 LIKE ? ESCAPE '\\' "
                       "OR explanation LIKE ? ESCAPE '\\')")
        params += [f"%{escaped}%"] * 3
    return " AND ".join(clauses), params
