"""The Score tab's loop in-process, with the real base model: the verdict headline, "This is wrong" storing the
pair as hand-added (in the next snapshot), the evidence lists, the examples' labels, and CSV pair files."""

from __future__ import annotations

import pytest

from compat.pairs import read_pairs
from compat.scoring import EXAMPLE_PAIRS
from compat.ui import score_loop

SMOKER = ("boy: I'd never date a smoker", "girl: I smoke a pack a day")


def test_verdict_html_says_compatible_or_not_in_colour_with_the_base_cosine():
    yes = score_loop.verdict_html(0.8, 0.91, 0.3, "default")
    assert "Compatible · 80%" in yes and "#15803d" in yes and "cosine 0.300" in yes
    no = score_loop.verdict_html(0.44, 0.78, 0.51, "default")
    assert "Not compatible · 44%" in no and "#b91c1c" in no and "data-label='0'" in no
    assert "no calibration" in score_loop.verdict_html(None, 0.5, 0.2, "x<y>") and "x&lt;y&gt;" in \
        score_loop.verdict_html(None, 0.5, 0.2, "x<y>")


def test_marking_a_verdict_wrong_stores_the_other_label_as_hand_added(compat_home, base_model, monkeypatch,
                                                                      tmp_path):
    from compat.store.records import Filters
    from compat.store.shared import shared_store

    monkeypatch.setattr("compat.active.active_finetuned", lambda: "base")
    text = score_loop.store_judgement("boy: I collect vintage typewriters", "girl: I restore fountain pens", 0,
                                      False, "ann")
    assert "Added pair #" in text and "next training run" in text
    [row] = shared_store().rows(Filters(source="hand-added"))
    assert row.label == 1 and shared_store().get(row.id).history[0].annotator == "ann" and row.split == "train"
    shared_store().snapshot(tmp_path / "train.jsonl", Filters(split="train"))
    assert "boy: I collect vintage typewriters" in (tmp_path / "train.jsonl").read_text()
    assert "name first" in score_loop.store_judgement(*SMOKER, 0, True, " ")
    assert "Score the pair first" in score_loop.store_judgement(*SMOKER, None, True, "ann")
    assert score_loop.show_hand_added().startswith("hand-added#")


def test_why_lists_nearest_labelled_statements_and_pairs(compat_home, base_model, monkeypatch):
    from compat.store.shared import shared_store

    monkeypatch.setattr("compat.active.active_finetuned", lambda: None)  # base model: quick to embed
    monkeypatch.setattr(shared_store(), "rows", lambda filters=None: shared_store().query(limit=200).rows)
    near_a, near_b, pairs, note = score_loop.why(*SMOKER)
    assert len(near_a) == len(near_b) == 3 and len(pairs) == 5 and "model base" in note
    assert all(row[2] <= near_a[0][2] for row in near_a)
    assert all(p[3] in ("compatible", "not compatible") for p in pairs)
    assert score_loop.why("", "x y")[3].startswith("Cannot explain")


def test_examples_carry_the_label_a_person_would_give():
    rows = score_loop.example_rows()
    assert [r[2] for r in rows] == [score_loop.label_words(label) for _, _, label in EXAMPLE_PAIRS]
    assert all(r[3] == "" for r in rows)


def test_a_csv_pair_file_reads_like_jsonl_with_its_own_line_numbers(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text('text_1,text_2,label,category,meta\n"boy: I smoke","girl: never a smoker",0,habits,\n'
                    '"a, b",c d,2,,\n\n"boy: hiking","girl: camping",1,interests,"{""x"": 1}"\n', encoding="utf-8")
    found = read_pairs(path)
    assert [p["label"] for p in found.pairs] == [0, 1] and found.line_numbers == [2, 5]
    assert [(e.line, "label" in e.message) for e in found.errors] == [(3, True)]
    assert found.pairs[1]["meta"] == {"x": 1}  # a JSON cell, as to_csv writes one, is parsed back


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_store_import_takes_csv_and_jsonl(tmp_path, suffix):
    from compat.store.labels import LabelStore

    pairs = [{"text_1": "boy: I smoke", "text_2": "girl: never a smoker", "label": 0, "category": "habits"}]
    store = LabelStore(tmp_path / "l.db")
    store.import_pairs(pairs)
    store.export(tmp_path / f"out{suffix}", fmt=suffix[1:])
    other = LabelStore(tmp_path / "m.db")
    assert other.import_pairs(tmp_path / f"out{suffix}").added == 1
    assert other.rows()[0].to_pair() == store.rows()[0].to_pair()


@pytest.mark.slow  # runs `compat score --file` as a subprocess that loads both models
def test_score_file_scores_good_rows_names_bad_ones_and_writes_atomically(compat_home, base_model, monkeypatch,
                                                                         tmp_path):
    import json
    import subprocess
    import sys

    monkeypatch.setattr("compat.active.active_finetuned", lambda: "base")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"text_1": "boy: I smoke daily", "text_2": "girl: never a smoker", "label": 0}\nnot json\n'
                     '{"text_1": "", "text_2": "x"}\n{"text_1": "I hike", "text_2": "Camping is my thing"}\n')
    out, note = score_loop.score_uploaded_file(str(pairs))
    rows = [json.loads(line) for line in open(out)]
    assert len(rows) == 2 and rows[0]["label"] == 0 and {"base_cosine", "tuned_cosine", "probability"} <= rows[1].keys()
    assert "line 2: not valid JSON" in note and "line 3:" in note
    assert score_loop.score_uploaded_file(None)[0] is None
    bad = tmp_path / "bad.csv"
    bad.write_text("text_1,text_2\n,\n")
    assert score_loop.score_uploaded_file(str(bad)) == (None, score_loop.score_uploaded_file(str(bad))[1])
    scored = tmp_path / "scored.csv"
    done = subprocess.run([sys.executable, "-m", "compat", "score", "--file", str(pairs), "--out", str(scored),
                           "--model", "base"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "pairs.jsonl:2:" in done.stderr and scored.read_text().count("\n") == 3
    failed = subprocess.run([sys.executable, "-m", "compat", "score", "--file", str(bad), "--out",
                             str(tmp_path / "x.jsonl"), "--model", "base"], capture_output=True, text=True, timeout=300)
    assert failed.returncode == 2 and not (tmp_path / "x.jsonl").exists()
