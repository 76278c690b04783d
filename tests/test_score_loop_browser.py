"""The loop in a real browser on the real app (issue 14): type a pair, score it, mark it wrong with a name,
follow the link to the Data tab filtered to hand-added pairs and find it there, and in the next run's label
snapshot; score an uploaded file with a bad line; delete a pair in the Data tab and undo it."""

from __future__ import annotations

import json
import urllib.request

import pytest

from apputil import browser_page, running_app

NEW_A, NEW_B = "boy: I collect antique barometers", "girl: Weather instruments bore me to tears"


@pytest.fixture(scope="module")
def loop_app(tmp_path_factory):
    """One real app (its own COMPAT_HOME) for this module's browser tests."""
    with running_app(tmp_path_factory.mktemp("loop-home")) as app:
        yield app


def textbox_value(page, elem_id: str, contains: str = "", timeout: float = 120_000) -> str:
    """The value of the textbox with this elem_id, once it is not empty (and holds `contains`)."""
    box = page.locator(f"#{elem_id} textarea, #{elem_id} input").first
    page.wait_for_function("([el, s]) => el.value.length > 0 && el.value.includes(s)",
                           arg=[box.element_handle(), contains], timeout=timeout)
    return box.input_value()


def data_cell(page, row: int, column: int) -> str:
    return page.locator(f"#data-table [data-testid=cell-{row}-{column}]").inner_text().strip()


@pytest.mark.slow
@pytest.mark.browser
def test_marked_wrong_in_the_score_tab_lands_in_the_data_tab_and_the_snapshot(loop_app, tmp_path, monkeypatch):
    with browser_page() as page:
        page.goto(loop_app.url)
        page.get_by_label("Person A").fill(NEW_A)
        page.get_by_label("Person B").fill(NEW_B)
        page.get_by_role("button", name="Score", exact=True).click()
        page.wait_for_selector("#compat-verdict[data-label]", timeout=180_000)  # first score loads the model
        verdict = page.locator("#compat-verdict").inner_text()
        model_says = int(page.locator("#compat-verdict").get_attribute("data-label"))
        assert "%" in verdict and ("Compatible" in verdict or "Not compatible" in verdict)
        page.get_by_label("Your name").fill("Loop Tester")
        page.locator("#score-wrong").click()
        stored = textbox_value(page, "score-feedback")
        assert stored.startswith("Added pair #") and "hand-added" in stored and "next training run" in stored, stored
        pair_id = int(stored.split("#", 1)[1].split()[0])

        page.locator("#score-to-data").click()
        page.wait_for_function("() => (document.querySelector('#data-page-info')?.innerText || '')"
                               ".startsWith('1–1 of 1 pairs')")
        assert data_cell(page, 0, 0) == str(pair_id) and data_cell(page, 0, 2) == NEW_A
        assert data_cell(page, 0, 1) == str(1 - model_says)  # the person's label, not the model's
        assert page.locator("#data-source input").input_value() == "hand-added"

    from compat.training.runner import store_snapshot

    monkeypatch.setenv("COMPAT_HOME", str(loop_app.home))  # the runner's snapshot of the app's store
    store_snapshot(tmp_path / "run")
    train = [json.loads(line) for line in (tmp_path / "run" / "data" / "train.jsonl").open()]
    [mine] = [p for p in train if p["text_1"] == NEW_A]
    assert mine["text_2"] == NEW_B and mine["label"] == 1 - model_says


@pytest.mark.slow
@pytest.mark.browser
def test_a_file_with_a_bad_line_is_scored_in_the_score_tab(loop_app, tmp_path):
    upload = tmp_path / "mine.jsonl"
    upload.write_text('{"text_1": "boy: I smoke daily", "text_2": "girl: never a smoker", "label": 0}\n'
                      '{"text_1": "only one side"}\n'
                      '{"text_1": "I hike", "text_2": "Camping is my thing", "id": "x7"}\n')
    with browser_page() as page:
        page.goto(loop_app.url)
        page.get_by_text("Score a file of pairs").click()
        page.locator("#score-batch-in input[type=file]").set_input_files(str(upload))
        page.wait_for_selector("#score-batch-in a, #score-batch-in :text('mine.jsonl')")
        page.locator("#score-batch").click()
        note = textbox_value(page, "score-batch-note", "Scored", timeout=180_000)
        assert "Scored 2 rows" in note and "1 bad" in note and "line 2:" in note and "text_2" in note, note
        link = page.locator("#score-batch-out a").first
        link.wait_for()
        href = link.get_attribute("href")
        assert "scored.jsonl" in href
        with urllib.request.urlopen(href if href.startswith("http") else loop_app.url + href.lstrip("/")) as r:
            rows = [json.loads(line) for line in r.read().decode().splitlines()]
    assert [r.get("id") for r in rows] == [None, "x7"]
    assert all({"base_cosine", "tuned_cosine", "probability"} <= r.keys() for r in rows)


@pytest.mark.slow
@pytest.mark.browser
def test_delete_in_the_data_tab_and_undo(loop_app):
    with browser_page() as page:
        page.goto(loop_app.url)
        page.get_by_role("tab", name="Data").click()
        page.wait_for_function("() => (document.querySelector('#data-page-info')?.innerText || '').includes('pairs')")
        total = page.locator("#data-page-info").inner_text()
        page.get_by_label("Annotator").fill("Del Tester")
        page.get_by_label("Annotator").press("Enter")
        first = data_cell(page, 0, 0)
        page.locator("#data-table [data-testid=cell-0-2]").click()
        page.wait_for_function(f"() => document.querySelector('#data-pair-info').innerText.includes('Pair #{first} ')")
        page.locator("#data-delete").click()
        assert textbox_value(page, "data-message", "Deleted").startswith(f"Deleted pair #{first}:")
        page.wait_for_function(f"() => document.querySelector('#data-table [data-testid=cell-0-0]')"
                               f".innerText.trim() !== '{first}'")
        assert "deleted" in page.locator("#data-pair-info").inner_text()
        assert page.locator("#data-page-info").inner_text() != total

        page.locator("#data-undo").click()
        assert "put back" in textbox_value(page, "data-message", "Undid")
        page.wait_for_function(f"() => document.querySelector('#data-table [data-testid=cell-0-0]')"
                               f".innerText.trim() === '{first}'")
        assert page.locator("#data-page-info").inner_text() == total
        assert "deleted" not in page.locator("#data-pair-info").inner_text()
