"""The Data tab for real: the review queue on a real model, the `list_pairs` / `relabel` API, and a
browser that relabels a pair (by keyboard), meets a stale-version refusal, restarts the app and sees
the change persisted."""

from __future__ import annotations

import re

import pytest

from apputil import browser_page, running_app

HOBBY = [
    ("boy: I love hiking in the mountains", "girl: Mountain hikes are my favourite weekends", 0),  # wrong
    ("boy: I adore cooking Italian food", "girl: My tax return is due on Monday", 1),  # wrong
    ("boy: I love playing chess online", "girl: Chess is the game I play every evening", 1),
    ("boy: I go running at dawn", "girl: The stock market fell today", 0),
    ("boy: Jazz records fill my shelves", "girl: I collect old jazz vinyl", 1),
    ("boy: I knit scarves in winter", "girl: Quarterly invoices are overdue", 0),
]


def test_review_queue_puts_labels_the_model_disagrees_with_first(compat_home):
    from compat.active import set_active
    from compat.models import base_model_path
    from compat.store.records import Filters
    from compat.store.shared import shared_store
    from compat.ui import data_events

    set_active(base_model_path())  # any sentence-transformers folder can be the "fine-tuned" model
    shared_store().import_pairs([{"text_1": a, "text_2": b, "label": y, "category": "zz-review"}
                                 for a, b, y in HOBBY])
    table, message = data_events.review_queue(Filters(category="zz-review"), limit=6)
    ranked = [row[4] for row in table]
    assert set(ranked[:2]) == {HOBBY[0][0], HOBBY[1][0]}, table
    assert "approximate" in message  # the base folder carries no calibration
    confidences = [row[3] for row in table]
    assert confidences == sorted(confidences)


def test_list_pairs_answers_a_bad_request_instead_of_raising(compat_home):
    from compat.ui import data_api

    page = data_api.list_pairs(label=1, limit=2)
    assert page["ok"] is True and page["error"] is None and len(page["rows"]) == 2
    assert all(row["label"] == 1 for row in page["rows"])
    for bad in ({"sort": "nonsense"}, {"limit": 0}, {"label": 2}):
        refused = data_api.list_pairs(**bad)
        assert refused["ok"] is False and refused["error"] and refused["rows"] == [], (bad, refused)


def data_tab_ready(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("tab", name="Data").click()
    page.wait_for_function("() => (document.querySelector('#data-page-info')?.innerText || '').includes('pairs')")


def select_row(page, row: int) -> str:
    page.locator(f"#data-table [data-testid=cell-{row}-2]").click()
    page.wait_for_function(f"() => document.querySelector('#data-pair-info').innerText.includes('Pair #{row + 1} ')")
    return page.locator("#data-pair-info").inner_text()


def message_of(page) -> str:
    box = page.locator("#data-message textarea, #data-message input").first
    page.wait_for_function("el => el.value.length > 0", arg=box.element_handle())
    return box.input_value()


@pytest.mark.slow
@pytest.mark.browser
def test_relabel_in_the_browser_survives_a_restart(tmp_path):
    from gradio_client import Client

    home = tmp_path / "home"
    with running_app(home) as app:
        client = Client(app.url, verbose=False)
        with browser_page() as page:
            data_tab_ready(page, app.url)
            page.get_by_label("Annotator").fill("Ann Tester")
            page.get_by_label("Annotator").press("Enter")
            first = select_row(page, 0)
            old = 1 if "compatible (1)" in first and "incompatible" not in first else 0
            page.keyboard.press(str(1 - old))  # the shortcut, as a person would
            assert message_of(page).startswith(f"Pair #1 is now {'compatible (1)' if old == 0 else 'incompatible (0)'}")
            page.wait_for_function("() => document.querySelector('#data-history').innerText.includes('Ann Tester')")

            # Another tab changes pair #2 after this page loaded it: this page's write is refused.
            second = select_row(page, 1)
            label_2 = 1 if re.search(r"· compatible \(1\)", second) else 0
            other = client.predict(pair_id=2, label=1 - label_2, expected_version=1, annotator="other tab",
                                   api_name="/relabel")
            assert other["ok"] and other["pair"]["version"] == 2
            page.locator("#data-compatible" if label_2 == 1 else "#data-incompatible").click()
            message = message_of(page)
            assert message.startswith("Not saved: pair #2 was changed elsewhere") and "version 2" in message
            page.wait_for_function("() => document.querySelector('#data-pair-info').innerText.includes('version 2')")

        api = client.predict(search=None, limit=2, api_name="/list_pairs")
        assert api["rows"][0]["label"] == 1 - old and api["rows"][0]["origin"] == "edited"
        stale = client.predict(pair_id=1, label=old, expected_version=1, annotator="api", api_name="/relabel")
        assert stale["ok"] is False and stale["pair"]["label"] == 1 - old and "changed since" in stale["error"]
        bad = client.predict(pair_id=1, label=2, expected_version=2, annotator="api", api_name="/relabel")
        assert bad["ok"] is False and "0 or 1" in bad["error"]

    with running_app(home) as app, browser_page() as page:
        data_tab_ready(page, app.url)
        assert page.locator("#data-table [data-testid=cell-0-1]").inner_text().strip() == str(1 - old)
        info = select_row(page, 0)
        assert "edited by hand" in info and "version 2" in info
        page.wait_for_function("() => document.querySelector('#data-history').innerText.includes('Ann Tester')")
        counts = page.locator("#data-counts").inner_text()
        assert "**" not in counts and "2 edited" in counts
