"""Statements, the pair format, model resolution and scoring, on the real base model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from compat.models import ModelNotFound, resolve
from compat.pairs import PairFileError, load_pairs, read_pairs, write_pairs
from compat.scoring import score
from compat.text import StatementError, clean_statement, split_speaker

ORIGINAL = [
    {"text_1": "boy: I love lazy Sundays", "text_2": "girl: I'm all about meeting new people", "label": 0,
     "category": "lifestyle", "subcategory": "homebody_vs_social", "pair_type": "incompatible"},
    {"text_1": "boy: I love hiking", "text_2": "girl: I love camping", "label": 1,
     "category": "interests", "subcategory": "outdoors", "pair_type": "compatible"},
]


def test_speaker_prefix_is_parsed_off():
    assert split_speaker("boy: I love lazy Sundays").speaker == "boy"
    assert split_speaker("girl:   Clubs drain me ").text == "Clubs drain me"
    assert split_speaker("I love lazy Sundays").speaker is None
    # a colon inside prose is not a speaker
    assert split_speaker("My rule for weekends is simple: no alarms").speaker is None
    assert clean_statement("boy: I  love\n lazy Sundays") == "I love lazy Sundays"


@pytest.mark.parametrize("bad, why", [("", "empty"), ("boy:    ", "empty"), ("x" * 5000, "limit"), (None, "text")])
def test_unusable_statements_are_refused_with_a_reason(bad, why):
    with pytest.raises(StatementError, match=why):
        clean_statement(bad)


def test_pair_file_round_trip_keeps_original_format_unchanged(tmp_path):
    src = tmp_path / "orig.jsonl"
    src.write_text("".join(json.dumps(p) + "\n" for p in ORIGINAL))
    pairs = load_pairs(src)
    out = tmp_path / "out.jsonl"
    write_pairs(out, pairs)
    assert out.read_text() == src.read_text()
    assert [json.loads(line) for line in out.read_text().splitlines()] == ORIGINAL


def test_bad_pair_lines_are_all_named(tmp_path):
    lines = [
        json.dumps(ORIGINAL[0]),
        "{not json",
        json.dumps({**ORIGINAL[1], "label": "1"}),
        json.dumps({**ORIGINAL[1], "label": True}),
        json.dumps({**ORIGINAL[1], "label": 2}),
        json.dumps({"text_1": "a", "label": 1}),
        json.dumps({**ORIGINAL[1], "text_2": "  "}),
        json.dumps({**ORIGINAL[1], "text_1": "x" * 1_000_000}),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(PairFileError) as info:
        load_pairs(path)
    named = {e.line: e.message for e in info.value.errors}
    assert sorted(named) == [2, 3, 4, 5, 6, 7, 8]
    assert "not valid JSON" in named[2] and '"1"' in named[3] and "true" in named[4] and "2" in named[5]
    assert "text_2" in named[6] and "text_2" in named[7] and "bytes" in named[8]
    assert f"{path}:3:" in str(info.value)


def test_duplicates_are_detected_in_either_order():
    swapped = {**ORIGINAL[0], "text_1": ORIGINAL[0]["text_2"], "text_2": ORIGINAL[0]["text_1"]}
    found = read_pairs("mem", text="\n".join(json.dumps(p) for p in [ORIGINAL[0], swapped]))
    assert len(found.pairs) == 1 and found.duplicates[0].line == 2


def test_model_names_resolve_or_say_why(tmp_path):
    assert resolve("base") is None
    with pytest.raises(ModelNotFound, match="no such directory"):
        resolve(str(tmp_path / "missing"))
    with pytest.raises(ModelNotFound, match="neither"):
        resolve(str(tmp_path))


def test_base_scores_identical_statements_near_one(base_model):
    same = score("boy: I love lazy Sundays", "girl: I love lazy Sundays", base_model)
    assert same.cosine == pytest.approx(1.0, abs=1e-4)
    other = score("I smoke a pack a day", "I'd never date a smoker", base_model)
    assert -1.0 <= other.cosine < 0.99 and other.probability is None


@pytest.mark.slow  # a subprocess that imports torch and loads both models
def test_score_cli_prints_the_score_on_its_last_line():
    run = subprocess.run(
        [sys.executable, "-m", "compat", "score", "--model", "base", "I love hiking", "I love hiking"],
        capture_output=True, text=True, timeout=180,
    )
    assert run.returncode == 0, run.stderr
    assert float(run.stdout.strip().splitlines()[-1]) == pytest.approx(1.0, abs=1e-4)
    bad = subprocess.run([sys.executable, "-m", "compat", "score", "", "x"], capture_output=True, text=True,
                         timeout=180)
    assert bad.returncode == 2 and "statement A is empty" in bad.stderr and "Traceback" not in bad.stderr


def test_loaded_models_are_bounded_least_recently_used_first(tmp_path, monkeypatch):
    """A long-running app must not keep every model it ever loaded: a retrain into the same folder
    replaces that folder's model, and beyond MAX_LOADED_MODELS the least recently used goes."""
    from collections import OrderedDict

    import compat.models as models

    loads = []

    def fake_load(name, path):  # stands for loading weights: a new object per load
        loads.append(name)
        return object()

    monkeypatch.setattr(models, "_cache", OrderedDict())  # the session's real models stay out of this
    monkeypatch.setattr(models, "_load", fake_load)
    monkeypatch.setattr(models, "resolve", lambda name: tmp_path / name)
    names = [f"run-{i}" for i in range(models.MAX_LOADED_MODELS + 1)]
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / models.MODEL_FILE).write_text("{}")
    first = models.load_model(names[0])
    for name in names[1:models.MAX_LOADED_MODELS]:
        models.load_model(name)
    assert models.load_model(names[0]) is first  # cached, and now the most recently used
    models.load_model(names[-1])  # one over the bound: names[1], the least recently used, goes
    assert len(models._cache) == models.MAX_LOADED_MODELS
    assert models.load_model(names[0]) is first and loads.count(names[0]) == 1
    models.load_model(names[1])
    assert loads.count(names[1]) == 2  # it had been let go, so it loaded again
    # retraining into the same folder rewrites compat_model.json: a new model, and the old one is let go
    before = len(models._cache)
    info = tmp_path / names[0] / models.MODEL_FILE
    stat = info.stat()
    os.utime(info, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert models.load_model(names[0]) is not first
    assert len(models._cache) == before and sum(k[0] == str(tmp_path / names[0]) for k in models._cache) == 1
