"""The shipped fine-tuned model on the app's own Score examples: each should land on the right side of 50%."""

from __future__ import annotations

import pytest

from compat.models import default_available
from compat.scoring import EXAMPLE_PAIRS

# Known misses of the shipped model, each with its measured score; strict, so a model that gets one
# right makes the suite say so (and the mark must go). README, "Quality, measured", lists every score.
KNOWN_MISSES = {
    "girl: Weekends are pajamas and a good novel": "31.2% compatible for a reader and 'rather stay in than go out'",
    "boy: I'm up at 5am for a run before work": "72.6% compatible for an early riser and a 2am thinker",
}


def example_cases():
    for text_a, text_b, label in EXAMPLE_PAIRS:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[text_a])] if text_a in KNOWN_MISSES else []
        yield pytest.param(text_a, text_b, label, marks=marks, id=text_a.split(": ", 1)[1][:30])


@pytest.mark.skipif(not default_available(), reason="no shipped default model in this checkout (make model)")
@pytest.mark.parametrize("text_a,text_b,label", list(example_cases()))
def test_shipped_model_reads_each_score_example_right(text_a, text_b, label):
    from compat.scoring import score

    probability = score(text_a, text_b, "default").probability
    assert probability is not None
    assert (probability >= 0.5) == (label == 1), f"{probability:.1%} compatible for a pair labelled {label}"
