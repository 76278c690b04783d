"""The real app over HTTP: it starts, answers and scores through the named API and in a browser.

Bad input and the login are checked in test_robustness and test_security (these tests were repeated here)."""

from __future__ import annotations

import pytest

from apputil import browser_page, score_and_open_raw_cosines

pytestmark = pytest.mark.slow  # every test talks to a real app


def test_app_answers_and_scores_through_the_api(app_server):
    from gradio_client import Client

    client = Client(app_server.url, verbose=False)
    base, tuned, verdict, message = client.predict("I love hiking", "I love hiking", api_name="/score")
    assert base == pytest.approx(1.0, abs=1e-3)
    base, *_ = client.predict("boy: I smoke a pack a day", "girl: I'd never date a smoker", api_name="/score")
    assert isinstance(base, float) and -1 <= base <= 1


def test_html_emoji_and_right_to_left_text_score_as_the_library_scores_them(app_server, base_model):
    """The app scores such text exactly as compat.scoring.score does the same text in-process (the app
    rounds to 4 decimals): nothing is escaped, stripped or mangled on the way."""
    from gradio_client import Client

    from compat.models import default_available
    from compat.scoring import score

    text_a, text_b = "<script>alert('x')</script> I love 🐶", "مرحبا I love dogs"
    base, tuned, _verdict, message = Client(app_server.url, verbose=False).predict(text_a, text_b,
                                                                                  api_name="/score")
    assert base == pytest.approx(score(text_a, text_b, base_model).cosine, abs=2e-4), message
    if default_available():  # the app's fine-tuned model is the shipped one (its COMPAT_HOME chose none)
        assert tuned == pytest.approx(score(text_a, text_b, "default").cosine, abs=2e-4), message
    else:
        assert tuned is None, message


@pytest.mark.browser
def test_browser_types_two_statements_and_sees_the_score(app_server):
    with browser_page() as page:
        page.goto(app_server.url)
        score_and_open_raw_cosines(page, "boy: I love lazy Sundays",
                                   "girl: <b>Weekends</b> are pajamas and a good novel")
        value = float(page.locator("#score-base input").input_value())
        assert -1 <= value <= 1 and value != 0
        assert page.locator("b", has_text="Weekends").count() == 0  # shown as text, not markup
