"""Pairs added by hand and soft deletes in the label store, on a real SQLite file: history, undo, the
hand-added filter, and what queries, exports and the training snapshot leave out."""

from __future__ import annotations

import json
import sqlite3

import pytest

from compat.store.edits import add_pair, delete_pairs
from compat.store.labels import LabelStore
from compat.store.records import Filters, PairNotFound
from compat.store.schema import MIGRATIONS

PAIRS = [
    {"text_1": "boy: I love lazy Sundays", "text_2": "girl: I'm all about meeting new people", "label": 0,
     "category": "lifestyle", "split": "train"},
    {"text_1": "girl: I hike every weekend", "text_2": "boy: Camping is my happy place", "label": 1,
     "category": "interests", "split": "train"},
]
NEW = {"text_1": "boy: I'd never date a smoker", "text_2": "girl: I smoke a pack a day", "label": 0}


@pytest.fixture()
def store(tmp_path) -> LabelStore:
    s = LabelStore(tmp_path / "labels.db")
    s.import_pairs(PAIRS)
    yield s
    s.close()


def snapshot_texts(store: LabelStore, path) -> list[str]:
    store.snapshot(path, Filters(split="train"))
    return [json.loads(line)["text_1"] for line in path.read_text().splitlines()]


def test_a_hand_added_pair_has_source_history_and_is_in_the_next_snapshot(store, tmp_path):
    result = add_pair(store, NEW, "ann", note="the model said 45%")
    assert result.action == "added"
    row = store.get(result.pair.id)
    assert (row.source, row.origin, row.split, row.label) == ("hand-added", "hand-added", "train", 0)
    [entry] = row.history
    assert (entry.action, entry.annotator, entry.new_label, entry.note) == ("add", "ann", 0, "the model said 45%")
    assert [r.id for r in store.rows(Filters(source="hand-added"))] == [row.id]
    assert store.count(Filters(source="imported")) == 2
    assert NEW["text_1"] in snapshot_texts(store, tmp_path / "train.jsonl")
    assert store.find(NEW).id == row.id  # a pair is found by its key, as any other


def test_adding_a_stored_pair_relabels_it_or_changes_nothing(store):
    same = add_pair(store, {**PAIRS[0], "text_1": "BOY:  i love lazy sundays"}, "ann")
    assert same.action == "unchanged" and store.count() == 2 and same.pair.history == ()
    flipped = add_pair(store, {**PAIRS[0], "label": 1}, "ann")
    assert flipped.action == "relabelled" and flipped.pair.label == 1 and flipped.pair.origin == "edited"
    assert store.undo_last("ann").reverted == 1 and store.get(flipped.pair.id).label == 0


def test_add_refuses_a_bad_pair_and_a_missing_name(store):
    with pytest.raises(ValueError, match="label"):
        add_pair(store, {**NEW, "label": "1"}, "ann")
    with pytest.raises(ValueError, match="annotator"):
        add_pair(store, NEW, "  ")
    with pytest.raises(ValueError):
        add_pair(store, {**NEW, "text_2": ""}, "ann")
    assert store.count() == 2


def test_soft_delete_hides_a_pair_everywhere_and_undo_brings_it_back(store, tmp_path):
    first = store.rows()[0]
    assert delete_pairs(store, [first.id], "ann", note="duplicate wording") == 1
    assert store.count() == 1 and first.id not in [r.id for r in store.query().rows]
    assert store.counts().total == 1
    assert first.text_1 not in snapshot_texts(store, tmp_path / "train.jsonl")
    assert store.export(tmp_path / "out.jsonl") == 1
    assert [r.id for r in store.rows(Filters(deleted=True))] == [first.id]
    assert store.count(Filters(deleted=None)) == 2
    row = store.get(first.id)  # still readable by id, with the delete in its history
    assert row.deleted and row.history[-1].action == "delete" and row.history[-1].note == "duplicate wording"
    assert store.bulk_relabel(Filters(), 1, "bob") == 0  # a bulk relabel never touches deleted pairs
    undone = store.undo_last("ann")
    assert (undone.kind, undone.reverted) == ("delete", 1)
    assert not store.get(first.id).deleted and store.count() == 2
    assert store.get(first.id).history[-1].action == "restore"
    assert store.undo_last("ann") is None


def test_delete_is_all_or_nothing(store):
    with pytest.raises(PairNotFound):
        delete_pairs(store, [1, 999], "ann")
    assert store.count() == 2
    assert delete_pairs(store, [1, 2], "ann") == 2 and store.count() == 0
    assert delete_pairs(store, [1], "ann") == 0  # already deleted: nothing to do, no new change
    assert store.undo_last("ann").reverted == 2 and store.count() == 2


def test_undo_of_an_add_deletes_it_and_adding_it_again_restores_it(store):
    added = add_pair(store, NEW, "ann").pair
    assert store.undo_last("ann").kind == "add"
    assert store.get(added.id).deleted and store.count(Filters(source="hand-added")) == 0
    again = add_pair(store, {**NEW, "label": 1}, "bob")
    assert again.action == "restored" and again.pair.id == added.id and again.pair.label == 1
    assert not again.pair.deleted
    assert store.undo_last("bob").reverted == 2  # the restore and its label, one change
    assert store.get(added.id).deleted and store.get(added.id).label == 0


def test_a_version_3_database_gains_hand_added_and_delete_keeping_history(tmp_path):
    path = tmp_path / "labels.db"
    with sqlite3.connect(path) as conn:  # what the store wrote before migration 4
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL)")
        for version, statements in enumerate(MIGRATIONS[:3], start=1):
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, 'then')", (version,))
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO pairs (text_1, text_2, label, origin, source, pair_key, created, updated) VALUES"
                     " ('boy: I smoke daily', 'girl: never a smoker', 1, 'edited', 'imported', 'k', 't', 't')")
        conn.execute("INSERT INTO pairs_text (rowid, text_1, text_2) VALUES (1, 'boy: I smoke daily',"
                     " 'girl: never a smoker')")
        conn.execute("INSERT INTO changes (annotator, at, kind) VALUES ('ann', 't', 'relabel')")
        conn.execute("INSERT INTO label_history (pair_id, change_id, old_label, new_label, version, annotator, at)"
                     " VALUES (1, 1, 0, 1, 2, 'ann', 't')")
    store = LabelStore(path)
    assert store.schema_version() == len(MIGRATIONS) == 4
    row = store.get(1)
    assert (row.source, row.deleted, len(row.history), row.history[0].action) == ("imported", False, 1, "label")
    assert store.query(Filters(search="smoker")).total == 1
    assert add_pair(store, NEW, "ann").action == "added" and delete_pairs(store, [1], "ann") == 1
    assert store.undo_last("ann").kind == "delete" and store.undo_last("ann").kind == "add"
    assert store.undo_last("ann").kind == "relabel" and store.get(1).label == 0
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO pairs_text(pairs_text, rank) VALUES ('integrity-check', 1)")
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_add_pair_and_delete_pair_endpoints_answer_and_refuse_without_raising(compat_home):
    from compat.ui import data_api

    added = data_api.add_pair(NEW["text_1"], NEW["text_2"], 0, "ann", note="marked wrong in the Score tab")
    assert added["ok"] and added["error"] is None and added["action"] in ("added", "relabelled", "unchanged")
    listed = data_api.list_pairs(source="hand-added")
    assert added["action"] != "added" or [r["id"] for r in listed["rows"]] == [added["pair"]["id"]]
    fresh = data_api.add_pair("boy: I collect vintage typewriters", "girl: I restore old fountain pens", 1, "ann")
    assert fresh["action"] == "added" and fresh["pair"]["source"] == "hand-added"
    assert fresh["pair"]["id"] in [r["id"] for r in data_api.list_pairs(source="hand-added")["rows"]]
    refused = data_api.add_pair("", "girl: hi", 1, "ann")
    assert refused == {"ok": False, "error": refused["error"], "action": None, "pair": None} and refused["error"]
    assert not data_api.add_pair("a b", "c d", 2, "ann")["ok"]
    assert not data_api.list_pairs(source="nowhere")["ok"]
    gone = data_api.delete_pair(fresh["pair"]["id"], "ann")
    assert gone == {"ok": True, "error": None, "deleted": 1}
    assert fresh["pair"]["id"] not in [r["id"] for r in data_api.list_pairs(source="hand-added")["rows"]]
    assert data_api.delete_pair(10**9, "ann") == {"ok": False, "error": "no pair #1000000000", "deleted": 0}
    assert not data_api.delete_pair(1, "")["ok"]
