"""After a run: what changed (issue 14, part 4): the model before a run is recorded when it starts, the
three models are measured on the same validation and natural pairs, and the flipped pairs carry store ids
that open in the Data tab."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compat.evaluation import changes


def test_the_active_model_is_recorded_when_a_run_starts(tmp_path):
    changes.record_before(tmp_path, "default")
    assert changes.model_before(tmp_path) == "default"
    assert changes.model_before(tmp_path / "missing") is None


def test_flips_between_the_model_before_and_this_run_with_store_ids(compat_home, tmp_path, monkeypatch):
    sets = changes.comparison_sets(tmp_path)  # no snapshot in this run dir: the shipped validation set
    assert set(sets) == {"validation", "natural"} and len(sets["natural"]) == 236
    flipped = [0, 1]  # the validation pairs "this run" gets wrong; the model before got every pair right

    def fake_verdicts(model, pairs, validation):
        labels = np.array([p["label"] for p in pairs])
        said = 1 - labels if model == "base" else labels.copy()  # base: every pair wrong
        if model == "new" and pairs is sets_seen["validation"]:
            said[flipped] = 1 - said[flipped]
        return labels * 0.5 + 0.1, said

    sets_seen = {}
    real_sets = changes.comparison_sets
    monkeypatch.setattr(changes, "comparison_sets", lambda run_dir: sets_seen.update(real_sets(run_dir)) or sets_seen)
    monkeypatch.setattr(changes, "verdicts", fake_verdicts)
    found = changes.what_changed(tmp_path, "new", "old")
    assert found.metrics["validation"]["before"]["accuracy"] == 1.0
    assert found.metrics["validation"]["base"]["accuracy"] == 0.0
    assert found.metrics["validation"]["this run"]["accuracy"] == 1 - 2 / len(sets_seen["validation"])
    assert found.metrics["natural"]["this run"]["accuracy"] == 1.0
    assert [(f.set_name, f.direction) for f in found.flips] == [("validation", "right -> wrong")] * 2
    from compat.store.shared import shared_store

    first = shared_store().get(found.flips[0].pair_id)
    assert first.text_1 == sets_seen["validation"][0]["text_1"] and first.split == "validation"

    # without a model before, the comparison is with the base model: everything it got wrong flipped right
    no_before = changes.what_changed(tmp_path, "new", None)
    assert "before" not in no_before.metrics["validation"]
    assert sum(f.direction == "wrong -> right" for f in no_before.flips) == 400 - 2 + 236


def test_changes_are_kept_in_the_run_dir(compat_home, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(changes, "what_changed", lambda run_dir, after, before: calls.append(before) or
                        changes.Changes(before, after, {"natural": {"base": {"auc": 0.5, "accuracy": 0.5}}},
                                        [changes.Flip("natural", "a", "b", 1, 0, 1, None)]))
    changes.record_before(tmp_path, "default")
    first = changes.cached_changes(tmp_path, "run")
    again = changes.cached_changes(tmp_path, "run")
    assert calls == ["default"] and again == first and again.flips[0].direction == "wrong -> right"
    assert json.loads((tmp_path / changes.CHANGES_FILE).read_text())["before"] == "default"


def test_the_base_models_verdicts_use_the_validation_threshold(base_model):
    pairs = [{"text_1": "I hike every weekend", "text_2": "Mountain trails are my happy place", "label": 1},
             {"text_1": "I want three kids", "text_2": "The stock market fell today", "label": 0}]
    sims, said = changes.verdicts(base_model, pairs, pairs)
    assert sims[0] > sims[1] and list(said) == [1, 0]


def test_a_flipped_pair_opens_in_the_data_tab():
    import gradio as gr

    from compat.ui.train_tab import open_flip

    class Click:
        index = [1, 3]

    focus, tabs, message = open_flip([None, 17], Click())
    assert focus == "17" and "#17" in message and isinstance(tabs, gr.Tabs)
    assert "not in the label store" in open_flip([None, 17], type("C", (), {"index": [0, 0]})())[2]


@pytest.mark.slow  # embeds the shipped validation and natural pairs (about 30 s on two cores)
def test_the_train_tab_compares_a_finished_run_with_real_embeddings(compat_home, base_model, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from compat.models import base_model_path
    from compat.ui import train_tab

    run = tmp_path / "run"
    run.mkdir()
    changes.record_before(run, None)
    info = SimpleNamespace(path=run, usable=True)
    monkeypatch.setattr(train_tab, "default_runner", lambda: SimpleNamespace(info=lambda run_id: info))
    monkeypatch.setattr(changes, "cached_changes",
                        lambda run_dir, after: changes.what_changed(run_dir, base_model_path(), None))
    rows, flips, ids, note = train_tab.what_changed("r1")
    assert [r[:2] for r in rows] == [["validation", "auc"], ["validation", "accuracy"], ["natural", "auc"],
                                     ["natural", "accuracy"]]
    assert all(r[3] is None and r[2] == r[4] for r in rows)  # no model before; this "run" is the base folder
    assert flips == [] and ids == [] and "0 pairs now right, 0 now wrong" in note
    monkeypatch.setattr(train_tab, "default_runner",
                        lambda: SimpleNamespace(info=lambda run_id: SimpleNamespace(path=run, usable=False)))
    assert "No finished run" in train_tab.what_changed("r1")[3]


@pytest.mark.slow  # embeds the shipped validation and natural pairs under the run's model and the base
def test_a_finished_run_shows_what_changed_by_itself_once(compat_home):
    """The Train tab's slow timer: nothing until the run has finished and its changes.json is written (the
    app's watcher does that when a run ends), then the comparison with its panel opened, then nothing."""
    import shutil
    from pathlib import Path

    import gradio as gr

    from compat.paths import runs_dir
    from compat.ui import train_tab

    run = runs_dir() / "r1"
    shutil.copytree(Path(__file__).resolve().parent.parent / "assets" / "models" / "default", run)
    changes.record_before(run, None)
    nothing = (gr.skip(),) * 6
    assert train_tab.changes_when_ready("r1", "") == nothing  # finished, but not worked out yet
    changes.cached_changes(run, str(run))  # what the watcher does when the run ends
    rows, flips, ids, note, box, shown = train_tab.changes_when_ready("r1", "")
    assert [r[:2] for r in rows][:2] == [["validation", "auc"], ["validation", "accuracy"]]
    assert note.startswith("Run r1 against the model before it") and len(flips) == len(ids)
    assert box.open is True and shown == "r1"
    assert train_tab.changes_when_ready("r1", "r1") == nothing  # shown once; the person may close it
