"""The shipped fine-tuned model on the app's own Score examples: each lands on the right side of 50%."""

from __future__ import annotations

import pytest

from compat.models import default_available
from compat.scoring import EXAMPLE_PAIRS


@pytest.mark.skipif(not default_available(), reason="no shipped default model in this checkout (make model)")
@pytest.mark.parametrize("text_a,text_b,label", EXAMPLE_PAIRS)
def test_shipped_model_reads_each_score_example_right(text_a, text_b, label):
    from compat.scoring import score

    probability = score(text_a, text_b, "default").probability
    assert probability is not None
    assert (probability >= 0.5) == (label == 1), f"{probability:.0%} compatible for a pair labelled {label}"
