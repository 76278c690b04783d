"""The label store on a real SQLite file: import validation, round trips, relabel/undo/history, crash safety,
and the import/export commands as a user runs them."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from compat.pairs import PairFileError
from compat.store.labels import LabelStore
from compat.store.records import CountChanged, Filters, PairNotFound, StaleVersion
from compat.store.schema import MIGRATIONS

REPO = Path(__file__).resolve().parent.parent

# The original public data set's format: exactly these fields, in this order.
ORIGINAL = [
    {"text_1": "boy: I love lazy Sundays", "text_2": "girl: I'm all about meeting new people", "label": 0,
     "category": "lifestyle", "subcategory": "homebody_vs_social", "pair_type": "incompatible"},
    {"text_1": "girl: I hike every weekend", "text_2": "boy: Camping is my happy place", "label": 1,
     "category": "interests", "subcategory": "outdoors", "pair_type": "compatible"},
    {"text_1": "boy: I'd never date a smoker", "text_2": "girl: I smoke a pack a day", "label": 0,
     "category": "dealbreakers", "subcategory": "smoking", "pair_type": "dealbreaker"},
]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def jsonl(pairs: list[dict]) -> list[str]:
    return [json.dumps(p) for p in pairs]


def many_pairs(n: int, tag: str = "p") -> list[dict]:
    return [{"text_1": f"boy: statement {tag} {i}", "text_2": f"girl: reply {tag} {i}", "label": i % 2,
             "category": ["lifestyle", "values"][i % 2], "pair_type": "judged"} for i in range(n)]


@pytest.fixture()
def store(tmp_path) -> LabelStore:
    s = LabelStore(tmp_path / "labels.db")
    yield s
    s.close()


# -- import and round trips ---------------------------------------------------------------------------

def test_original_format_round_trips_byte_for_byte(store, tmp_path):
    source = write_lines(tmp_path / "orig.jsonl", jsonl(ORIGINAL))
    report = store.import_pairs(source)
    assert (report.added, report.errors, report.duplicates, report.in_store) == (3, [], [], [])
    store.export(tmp_path / "out.jsonl")
    assert (tmp_path / "out.jsonl").read_bytes() == source.read_bytes()
    assert [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()] == ORIGINAL
    row = store.query().rows[0]
    assert (row.speaker_1, row.speaker_2, row.text_1, row.origin) == ("boy", "girl", ORIGINAL[0]["text_1"], "imported")


def test_export_import_keeps_every_field(store, tmp_path):
    rich = [{**ORIGINAL[0], "explanation": "homebody vs social", "split": "test", "id": "p-1",
             "source_url": None, "tags": ["a", {"b": 2}], "category": None},
            {**ORIGINAL[1], "id": 7, "score": 0.5, "note": "ünïcode ✓"}]
    store.import_pairs(write_lines(tmp_path / "rich.jsonl", jsonl(rich)))
    store.export(tmp_path / "a.jsonl")
    again = LabelStore(tmp_path / "other.db")
    again.import_pairs(tmp_path / "a.jsonl")
    again.export(tmp_path / "b.jsonl")
    first = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()]
    assert first == rich
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()


def test_export_csv_filtered_and_edited_only(store, tmp_path):
    store.import_pairs(ORIGINAL)
    row = store.query(Filters(category="interests")).rows[0]
    store.relabel(row.id, 0, row.version, "ann")
    assert store.export(tmp_path / "e.csv", fmt="csv", edited_only=True) == 1
    lines = (tmp_path / "e.csv").read_text().splitlines()
    assert lines[0].startswith("text_1,text_2,label") and len(lines) == 2 and ",0,interests," in lines[1]
    assert store.export(tmp_path / "f.jsonl", filters=Filters(label=0)) == 3


BAD_LINES = {
    "not JSON": ('{"text_1": "a: hi", oops', "not valid JSON"),
    "missing field": ('{"text_1": "boy: I like tea", "label": 1}', "missing field 'text_2'"),
    "label string": ('{"text_1": "boy: tea", "text_2": "girl: coffee", "label": "1"}', 'got "1"'),
    "label true": ('{"text_1": "boy: tea", "text_2": "girl: coffee", "label": true}', "got true"),
    "label 2": ('{"text_1": "boy: tea", "text_2": "girl: coffee", "label": 2}', "got 2"),
    "empty text": ('{"text_1": "boy: ", "text_2": "girl: coffee", "label": 0}', "'text_1' is empty"),
    "1 MB line": (json.dumps({"text_1": "x" * 1_000_000, "text_2": "y", "label": 1}), "the limit is"),
    "not an object": ("[1, 2]", "expected a JSON object"),
    "split not text": ('{"text_1": "boy: tea", "text_2": "girl: tea", "label": 1, "split": 3}',
                       "'split' must be a string"),
}


@pytest.mark.parametrize("kind", list(BAD_LINES))
def test_bad_line_refuses_whole_file_naming_it(store, tmp_path, kind):
    line, reason = BAD_LINES[kind]
    path = write_lines(tmp_path / "bad.jsonl", [*jsonl(ORIGINAL[:2]), line, *jsonl(ORIGINAL[2:])])
    with pytest.raises(PairFileError) as caught:
        store.import_pairs(path)
    [error] = caught.value.errors
    assert (error.path, error.line) == (str(path), 3) and reason in error.message
    assert store.counts().total == 0  # nothing half-imported
    report = store.import_pairs(path, skip_bad=True)
    assert report.added == 3 and [e.line for e in report.errors] == [3]


def test_every_bad_line_is_named(store, tmp_path):
    lines = [line for line, _ in BAD_LINES.values()]
    path = write_lines(tmp_path / "bad.jsonl", [jsonl(ORIGINAL[:1])[0], *lines])
    with pytest.raises(PairFileError) as caught:
        store.import_pairs(path)
    assert [e.line for e in caught.value.errors] == list(range(2, 2 + len(lines)))


def test_duplicates_within_file_and_against_store_are_reported(store, tmp_path):
    same_reversed = {**ORIGINAL[0], "text_1": ORIGINAL[0]["text_2"], "text_2": ORIGINAL[0]["text_1"]}
    path = write_lines(tmp_path / "d.jsonl", jsonl([ORIGINAL[0], ORIGINAL[1], same_reversed]))
    report = store.import_pairs(path)
    assert report.added == 2 and [(e.line, e.message) for e in report.duplicates] == [(3, "duplicate of line 1")]
    flipped = {**ORIGINAL[1], "label": 0, "text_1": "  GIRL: I hike every   weekend"}
    report = store.import_pairs([ORIGINAL[2], flipped])
    assert report.added == 1 and len(report.in_store) == 1
    assert report.in_store[0].line == 2
    assert "already in the store as pair #2 (label 1 there)" in report.in_store[0].message
    assert store.counts().total == 3


# -- reading ------------------------------------------------------------------------------------------

def test_query_filters_sort_search_and_paging(store):
    store.import_pairs(many_pairs(120) + [{**ORIGINAL[0], "explanation": "100% sure_thing"}])
    page = store.query(Filters(label=1, category="values"), sort="text_1", descending=True, offset=10, limit=5)
    assert page.total == 60 and len(page.rows) == 5
    labelled_1 = sorted((r.text_1 for r in store.rows(Filters(label=1))), reverse=True)
    assert [r.text_1 for r in page.rows] == labelled_1[10:15]
    assert store.query(Filters(search="STATEMENT P 11")).total == 11  # 11, 110..119: case-insensitive
    assert store.query(Filters(search="100%")).total == 1 and store.query(Filters(search="0%")).total == 1
    assert store.query(Filters(search="p_1")).total == 0  # _ and % are literal, not wildcards
    assert store.query(Filters(edited=True)).total == 0
    with pytest.raises(ValueError, match="cannot sort"):
        store.query(sort="label; DROP TABLE pairs")
    with pytest.raises(PairNotFound):
        store.get(10_000)
    assert store.choices("category") == ["lifestyle", "values"]


def test_find_looks_a_pair_up_by_its_key_however_many_rows_share_its_words(store):
    """The Explore tab's old lookup searched the first 200 characters of a statement and read 200 rows:
    it missed a stored pair once more rows than that matched. find() uses the unique pair key."""
    opening = "I love long walks on the beach at sunset with a book. " * 5  # over 200 characters
    store.import_pairs([{"text_1": f"boy: {opening}", "text_2": f"girl: reply number {i}", "label": i % 2}
                        for i in range(250)])
    swapped = {"text_1": "girl:  Reply number 249", "text_2": opening.upper(), "label": 0}  # order, prefix, case
    found = store.find(swapped)
    assert found is not None and found.text_2 == "girl: reply number 249"
    assert found.id == max(r.id for r in store.rows())
    assert store.find({"text_1": opening, "text_2": "reply number 250", "label": 1}) is None


def test_seeding_fills_an_empty_store_once_with_splits(store, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_lines(data / "train.jsonl", jsonl(ORIGINAL[:2]))
    write_lines(data / "test.jsonl", jsonl([ORIGINAL[2], {**ORIGINAL[0], "split": "whatever"}]))
    assert store.ensure_seeded(data) == 3
    assert store.counts().by_split == {"train": 2, "test": 1}
    assert all(r.origin == "generated" for r in store.rows())
    assert store.ensure_seeded(data) == 0 and store.counts().total == 3


def test_a_version_1_database_is_upgraded_in_place(tmp_path):
    path = tmp_path / "labels.db"
    with sqlite3.connect(path) as conn:  # what the first release of the store wrote
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL)")
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (1, 'then')")
        conn.execute("INSERT INTO pairs (text_1, text_2, label, origin, source, pair_key, created, updated) VALUES"
                     " ('boy: I smoke daily', 'girl: never a smoker', 0, 'imported', 'imported', 'k', 'then', 'then')")
    store = LabelStore(path)
    assert store.schema_version() == len(MIGRATIONS) == 4
    assert [r.id for r in store.query(Filters(search="SMOKER")).rows] == [1]  # indexed by the migration
    store.import_pairs(ORIGINAL)
    assert store.query(Filters(search="pack a day")).total == 1  # and kept up to date afterwards
    with sqlite3.connect(path) as conn:  # raises if the text index and the table disagree
        conn.execute("INSERT INTO pairs_text(pairs_text, rank) VALUES ('integrity-check', 1)")


def test_schema_version_and_migrations(tmp_path):
    path = tmp_path / "labels.db"
    store = LabelStore(path)
    assert store.schema_version() == len(MIGRATIONS)
    store.import_pairs(ORIGINAL)
    store.close()
    assert LabelStore(path).counts().total == 3  # reopening applies nothing twice
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute("INSERT INTO schema_version VALUES (?, 'future')", (len(MIGRATIONS) + 1,))
    with pytest.raises(RuntimeError, match="newer compat"):
        LabelStore(path)


# -- relabel, stale versions, undo, history -----------------------------------------------------------

def test_relabel_records_history_and_refuses_stale_version(tmp_path):
    tab_a, tab_b = LabelStore(tmp_path / "l.db"), LabelStore(tmp_path / "l.db")  # two browser tabs
    tab_a.import_pairs(ORIGINAL)
    seen_by_b = tab_b.get(1)
    after = tab_a.relabel(1, 1, seen_by_b.version, "ann", note="clearly fine")
    assert (after.label, after.version, after.origin) == (1, 2, "edited")
    with pytest.raises(StaleVersion) as caught:
        tab_b.relabel(1, 0, seen_by_b.version, "bob")
    assert caught.value.current.label == 1 and caught.value.current.version == 2
    assert "label is now 1" in str(caught.value)
    [entry] = tab_b.get(1).history
    assert (entry.old_label, entry.new_label, entry.annotator, entry.note) == (0, 1, "ann", "clearly fine")
    with pytest.raises(ValueError):
        tab_a.relabel(1, True, 2, "ann")
    with pytest.raises(ValueError):
        tab_a.relabel(1, 0, 2, "  ")
    assert tab_a.counts().edited == 1


def test_concurrent_writers_on_one_version_exactly_one_wins(tmp_path):
    LabelStore(tmp_path / "l.db").import_pairs(ORIGINAL)
    results: list[str] = []

    def write(label: int) -> None:
        try:
            LabelStore(tmp_path / "l.db").relabel(2, label, 1, f"tab{label}")
            results.append("ok")
        except StaleVersion:
            results.append("stale")

    threads = [threading.Thread(target=write, args=(label,)) for label in (0, 0, 0, 0)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results) == ["ok", "stale", "stale", "stale"]
    assert len(LabelStore(tmp_path / "l.db").get(2).history) == 1


def test_undo_reverts_last_change_and_whole_bulk(store):
    store.import_pairs(many_pairs(10))
    store.relabel(1, 1, 1, "ann")
    assert store.bulk_relabel(Filters(category="lifestyle"), 0, "ann") == 1  # only pair 1 was not 0 already
    store.bulk_relabel(Filters(), 1, "ann", note="all compatible")
    assert store.counts().compatible == 10
    bob = store.relabel(3, 0, store.get(3).version, "bob")
    undone = store.undo_last("ann")  # the bulk: bob's later change to pair 3 is kept
    assert (undone.kind, undone.reverted, undone.skipped) == ("bulk", 4, 1)
    assert store.get(3).label == 0 and store.get(3).version == bob.version
    assert store.counts().compatible == 5
    store.undo_last("ann")  # the first bulk: pair 1 back to 1
    assert store.undo_last("ann").kind == "relabel" and store.get(1).label == 0
    assert store.get(1).origin == "imported" and store.undo_last("ann") is None
    notes = [h.note for h in store.get(1).history]
    assert notes == [None, None, "all compatible", "undo of change #3", "undo of change #2", "undo of change #1"]


def test_bulk_relabel_refuses_when_the_confirmed_count_changed(store):
    store.import_pairs(many_pairs(6))
    with pytest.raises(CountChanged):
        store.bulk_relabel(Filters(label=0), 1, "ann", expected_count=4)
    assert store.bulk_relabel(Filters(label=0), 1, "ann", expected_count=3) == 3


def test_snapshot_writes_current_labels_and_returns_their_hash(store, tmp_path):
    store.import_pairs(ORIGINAL)
    store.relabel(3, 1, 1, "ann")
    digest = store.snapshot(tmp_path / "snap.jsonl")
    data = (tmp_path / "snap.jsonl").read_bytes()
    assert digest == hashlib.sha256(data).hexdigest()
    assert [json.loads(x)["label"] for x in data.decode().splitlines()] == [0, 1, 1]


# -- crash safety: kill -9 in the middle of a bulk relabel --------------------------------------------

KILL_CHILD = """
import sys, time
from compat.store.labels import LabelStore
from compat.store.records import Filters
store = LabelStore(sys.argv[1])
def progress(done, total):
    print(f"progress {done}/{total}", flush=True)
    time.sleep(float(sys.argv[2]))
store.bulk_relabel(Filters(), 1, "killed", on_progress=progress)
print("committed", flush=True)
"""


def run_child(db: Path, pause: float) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(db), str(pause)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, text=True)


def test_bulk_relabel_killed_midway_changes_nothing(tmp_path):
    db = tmp_path / "labels.db"
    LabelStore(db).import_pairs(many_pairs(5000))
    child = run_child(db, pause=30)
    assert child.stdout.readline().startswith("progress 500/2500")  # one chunk written, uncommitted
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM label_history").fetchone()[0] == 0
        conn.execute("INSERT INTO pairs_text(pairs_text, rank) VALUES ('integrity-check', 1)")
    after = LabelStore(db)
    assert after.counts().compatible == 2500 and after.counts().edited == 0
    # Killed at arbitrary moments (no pause): always all or nothing.
    for delay in (0.2, 0.35, 0.5):
        child = run_child(db, pause=0)
        threading.Event().wait(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert after.counts().compatible in (2500, 5000) and after.counts().edited in (0, 2500)
        if after.counts().compatible == 5000:
            after.undo_last("killed")
    # The same command left alone commits all of it.
    child = run_child(db, pause=0)
    assert child.stdout.read().splitlines()[-1] == "committed" and child.wait(30) == 0
    assert after.counts().compatible == 5000 and after.counts().edited == 2500


# -- reads never wait for a writer ----------------------------------------------------------------------

def test_reads_answer_while_a_bulk_relabel_holds_the_write_lock(compat_home, base_model, tmp_path, monkeypatch):
    """A long bulk relabel holds SQLite's write lock; WAL lets readers go on meanwhile, and every read path
    must: opening (and so seeding) the store, the Data tab's list_pairs, Score's matching, the Explore view
    of the store and the runner's label snapshot. The relabel is held open by its own progress callback,
    so the lock is held for certain while they read; a read that took the write lock would wait for the
    30 s busy timeout and then fail with "database is locked"."""
    import compat.active
    from compat.paths import labels_db
    from compat.training.runner import store_snapshot
    from compat.ui import data_api
    from compat.ui.explore_tab import store_pairs
    from compat.ui.score_tab import find_matches

    pairs = [{**p, "split": ["train", "validation", "test"][i % 3]} for i, p in enumerate(many_pairs(120))]
    LabelStore(labels_db()).import_pairs(pairs)  # not empty: opening the store seeds nothing
    monkeypatch.setattr(compat.active, "active_finetuned", lambda: None)  # matching with the loaded base model
    held, release = threading.Event(), threading.Event()

    def hold(done: int, total: int) -> None:
        held.set()
        release.wait(60)

    writer = LabelStore(labels_db())
    bulk = threading.Thread(target=writer.bulk_relabel, args=(Filters(), 1, "bulk"), kwargs={"on_progress": hold})
    bulk.start()
    try:
        assert held.wait(30), "the bulk relabel never started"
        page = data_api.list_pairs(limit=5)  # the first call opens the app's store: it seeds, or not, by reading
        matches, note = find_matches("boy: statement p 7")
        explored = store_pairs()
        snapshot = store_snapshot(tmp_path / "run")
    finally:
        release.set()
        bulk.join(60)
    # what they read is the state before the relabel, which has not committed yet
    assert page["ok"] and page["total"] == 120 and [r["label"] for r in page["rows"]] == [0, 1, 0, 1, 0]
    assert len(matches) == 5 and "Top 5" in note
    assert len(explored) == 120 and sum(p["label"] for p in explored) == 60
    assert snapshot == ["--data", str(tmp_path / "run" / "data")]
    assert (tmp_path / "run" / "data" / "train.jsonl").exists()
    assert writer.counts().compatible == 120  # and then the relabel went through


# -- the commands --------------------------------------------------------------------------------------

def compat_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COMPAT_HOME": str(home), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "compat", *args], env=env, cwd=REPO, text=True,
                          capture_output=True, timeout=120)


def test_cli_import_refuses_bad_file_and_exports(tmp_path):
    home = tmp_path / "home"
    unique = [{**p, "text_1": p["text_1"] + " (cli test zq)"} for p in ORIGINAL]
    bad = write_lines(tmp_path / "bad.jsonl", [*jsonl(unique[:1]), "{oops", '{"text_1": "a", "label": 1}',
                                               *jsonl(unique[1:]), jsonl(unique[:1])[0]])
    refused = compat_cli(home, "import", str(bad))
    assert refused.returncode == 2
    assert f"{bad}:2: not valid JSON" in refused.stderr and f"{bad}:3: missing field 'text_2'" in refused.stderr
    assert "nothing imported" in refused.stderr
    taken = compat_cli(home, "import", str(bad), "--skip-bad")
    assert taken.returncode == 0 and "3 added" in taken.stdout and f"{bad}:6: duplicate of line 1" in taken.stderr
    exported = compat_cli(home, "export", "--out", str(tmp_path / "all.jsonl"))
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(x) for x in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert all(p in lines for p in unique)
    assert compat_cli(home, "export", "--out", str(tmp_path / "e.csv"), "--edited").returncode == 0
    assert (tmp_path / "e.csv").read_text().splitlines() == ["text_1,text_2,label,category,subcategory,pair_type"]
    missing = compat_cli(home, "import", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
