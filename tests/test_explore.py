"""The Explore tab: its event functions with the real base model, the `evaluate` API, and a real browser
that sees both models' histograms and jumps from a worst-separated pair to the Data tab."""

from __future__ import annotations

import json
import os
from pathlib import Path

import gradio as gr
import pytest

from apputil import browser_page, running_app

REPO = Path(__file__).resolve().parent.parent
# umap's numba compile cache: the repository's default COMPAT_HOME's, shared by every test session, so
# only the very first run pays the cold compile (over a minute) instead of every throwaway home.
NUMBA_CACHE = os.environ.get("NUMBA_CACHE_DIR", str(REPO / ".compat" / "numba"))

SMALL = [
    {"text_1": "boy: I'd never date a smoker", "text_2": "girl: I smoke a pack a day", "label": 0,
     "category": "habits"},
    {"text_1": "boy: I hike every weekend", "text_2": "girl: Mountain trails are my happy place", "label": 1,
     "category": "interests"},
    {"text_1": "boy: I want three kids", "text_2": "girl: Kids are a hard no for me", "label": 0, "category": "family"},
    {"text_1": "boy: Clubs drain me", "text_2": "girl: Quiet nights in are my favourite", "label": 1,
     "category": "lifestyle"},
]


@pytest.fixture()
def no_default_model(tmp_path, monkeypatch):
    """A checkout where `make model` has not been run: no shipped fine-tuned model, so only base is shown."""
    import compat.models

    monkeypatch.setattr(compat.models, "DEFAULT_MODEL_DIR", tmp_path / "no-default-model")


def test_explore_shows_histograms_table_and_worst_pairs_before_the_umap(compat_home, base_model, tmp_path,
                                                                         no_default_model):
    from compat.ui.explore_tab import explore

    upload = tmp_path / "small.jsonl"
    upload.write_text("".join(json.dumps(p) + "\n" for p in SMALL))
    steps = explore("Uploaded file", str(upload), "category", False)
    first = next(steps)
    assert "Embedding 8 statements" in first[0] and "with **base**" in first[0]
    ready = next(o for o in steps if isinstance(o[1], type(None)) is False and hasattr(o[1], "data"))
    steps.close()  # the UMAP part is covered by the browser test
    status, hist, stats, _, _, worst, worst_pairs, evaluations = ready
    assert "4 pairs from uploaded file" in status
    assert [t.name for t in hist.data] == ["base: compatible", "base: incompatible", "base: threshold"]
    assert list(stats.columns) == ["metric", "base"] and "ROC-AUC" in stats["metric"].tolist()
    assert len(worst) == 4 and set(worst["kind"]) == {"compatible, far apart", "incompatible, close"}
    assert len(worst_pairs) == 4 and evaluations[0].model_name == "base"


def test_explore_says_what_is_wrong_with_the_input(compat_home, tmp_path):
    from compat.ui.explore_tab import explore

    assert "choose a pair file" in next(explore("Uploaded file", None, "category", False))[0]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(SMALL[0]) + "\n{oops\n")
    assert ":2: not valid JSON" in next(explore("Uploaded file", str(bad), "category", False))[0]
    one_class = tmp_path / "one.jsonl"
    one_class.write_text(json.dumps(SMALL[1]) + "\n" + json.dumps(SMALL[3]) + "\n")
    messages = [o[0] for o in explore("Uploaded file", str(one_class), "category", False) if isinstance(o[0], str)]
    assert "all 2 pairs are compatible" in messages[-1]


def test_evaluate_api_and_its_refusals(compat_home, base_model, no_default_model):
    from compat.store.labels import LabelStore
    from compat.ui.explore_tab import evaluate_api

    LabelStore().import_pairs(SMALL)  # a small store: the shipped data is not seeded into a non-empty one
    result = evaluate_api("base", "store")
    for key in ("n", "auc", "cohen_d", "t_stat", "p_value", "margin", "mean_compatible", "mean_incompatible",
                "accuracy", "f1", "threshold", "recall_at_1", "recall_at_5"):
        assert key in result
    assert result["n"] == 4 and result["threshold_source"] == "this data"  # the store has no validation split
    assert result["ok"] is True and result["error"] is None
    json.dumps(result)  # plain JSON (no nan)
    # refusals are answers (README, "Scripting the app"), never exceptions
    for model, data, why in (("../../etc", "test", "not a run id"), ("base", "/etc/passwd", "data must be one of"),
                             ("fine-tuned", "test", "No fine-tuned model")):
        refused = evaluate_api(model, data)
        assert refused["ok"] is False and why in refused["error"] and "auc" not in refused, refused


def test_a_worst_pair_opens_in_the_data_tab(compat_home):
    from compat.store.labels import LabelStore
    from compat.ui.explore_tab import find_store_id, open_in_data_tab

    store = LabelStore()
    store.import_pairs(SMALL)
    stored = {r.text_1: r.id for r in store.rows()}
    swapped = {"text_1": SMALL[2]["text_2"], "text_2": "boy: I want three kids", "label": 0}
    assert find_store_id(swapped) == stored[SMALL[2]["text_1"]]  # either order, prefix or not
    assert find_store_id({"text_1": "I am not stored", "text_2": "Neither am I", "label": 1, "id": 1}) is None
    assert find_store_id({**SMALL[0], "store_id": 7}) == 7  # store pairs carry their id
    event = gr.SelectData(None, {"index": [0, 3], "value": "x"})
    focus, tabs, message = open_in_data_tab([SMALL[2]], event)
    assert focus == str(stored[SMALL[2]["text_1"]]) and tabs.selected == "data" and "Opened pair" in message
    _, _, message = open_in_data_tab([{"text_1": "Not here", "text_2": "Nor here", "label": 0}], event)
    assert "not in the label store" in message


@pytest.mark.slow
@pytest.mark.browser
def test_browser_shows_both_histograms_and_jumps_to_the_data_tab(tmp_path):
    from compat.models import base_model_path
    from compat.store.labels import LabelStore

    from test_evaluation import PAIRS

    home = tmp_path / "home"
    home.mkdir()
    # any sentence-transformers folder can stand in for the fine-tuned model
    (home / "active_model.json").write_text(json.dumps({"model": base_model_path()}))
    store = LabelStore(home / "labels.db")  # a small store (not the shipped 2,800 pairs) keeps this quick
    store.import_pairs(PAIRS)
    store.close()
    with running_app(home, env={"NUMBA_CACHE_DIR": NUMBA_CACHE, "OMP_NUM_THREADS": "1"}) as app, \
            browser_page() as page:
        page.set_default_timeout(120_000)
        page.goto(app.url)
        page.get_by_role("tab", name="Explore").click()
        page.get_by_label("Label store (current labels)").check()
        page.get_by_role("button", name="Explore").click()
        page.wait_for_function("() => document.querySelector('#explore-status').innerText.includes('Done in')",
                               timeout=180_000)
        hist = page.locator("#explore-histograms")
        assert hist.locator(".cartesianlayer .subplot").count() == 2  # one panel per model
        legend = hist.locator(".legend").text_content()
        assert "base: compatible" in legend and "model: incompatible" in legend  # both models' panels
        assert page.locator("#explore-umap-base .scatterlayer .trace").count() >= 2
        assert page.locator("#explore-umap-tuned .scatterlayer .trace").count() >= 2
        assert "ROC-AUC" in page.locator("#explore-stats").inner_text()
        page.locator("#explore-worst [data-testid=cell-0-6]").click()
        page.wait_for_function("() => (document.querySelector('#data-pair-info')?.innerText || '').includes('Pair #')")
        assert page.locator("#data-text-1 textarea").input_value() != ""

        from gradio_client import Client

        result = Client(app.url, verbose=False).predict(model="fine-tuned", data="store", api_name="/evaluate")
        assert result["n"] == len(PAIRS) and result["model"] == base_model_path() and "recall_at_5" in result


@pytest.mark.slow  # loads the shipped fine-tuned model beside the base
def test_the_histograms_can_show_calibrated_probability(compat_home, tmp_path):
    """Fine-tuned cosines crowd into a narrow band; the probability axis spreads them as the Score tab
    reports them: the fine-tuned model by its own run's calibration, the base by a fit on the data."""
    from compat.models import load_model
    from compat.ui.explore_tab import explore, histogram_figure

    upload = tmp_path / "small.jsonl"
    upload.write_text("".join(json.dumps(p) + "\n" for p in SMALL))
    steps = explore("Uploaded file", str(upload), "category", False)
    ready = next(o for o in steps if hasattr(o[1], "data"))
    steps.close()
    evaluations = ready[-1]
    assert [e.model_name for e in evaluations] == ["base", "default"]
    fig = histogram_figure(evaluations, "calibrated probability")
    assert fig.layout.xaxis2.title.text == "calibrated probability"
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["base (calibration fitted on these pairs)", "default (calibration fitted on its run)"]
    tuned = evaluations[1]
    calibration = load_model("default").calibration
    threshold = next(t for t in fig.data if t.name.startswith("default") and t.name.endswith("threshold"))
    assert abs(threshold.x[0] - calibration.probability(tuned.metrics["threshold"])) < 1e-9
    bars = [t for t in fig.data if t.name.startswith("default") and t.type == "bar"]
    assert all(0.0 <= x <= 1.0 for t in bars for x in t.x)
    assert sum(sum(t.customdata) for t in bars) == len(SMALL)
    cosine = histogram_figure(evaluations, "cosine")
    assert cosine.layout.xaxis2.title.text == "cosine similarity"
