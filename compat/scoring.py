"""Compatibility score of two statements under one model."""

from __future__ import annotations

from dataclasses import dataclass

from compat.models import CompatModel, load_model
from compat.text import clean_statement

# The Score tab's examples, with the label a person would give (1 compatible, 0 not): the shipped
# model must put each on the right side of 50% (tests/test_quality.py).
EXAMPLE_PAIRS: list[tuple[str, str, int]] = [
    ("boy: I'd never date a smoker", "girl: I smoke a pack a day", 0),
    ("girl: Weekends are pajamas and a good novel", "boy: I'd rather stay in than go clubbing", 1),
    ("boy: I'm up at 5am for a run before work", "girl: I do my best thinking at 2am", 0),
    ("girl: I want a big family someday", "boy: Kids are a hard no for me", 0),
    ("boy: Every vacation I plan involves a mountain trail", "girl: Sleeping under the stars is my happy place", 1),
    ("girl: I'd never date a smoker", "boy: I've never touched a cigarette in my life", 1),
]


@dataclass(frozen=True)
class Score:
    """Cosine similarity of the two statements' embeddings, and the calibrated probability if known."""

    model: str
    cosine: float
    probability: float | None


def score(text_a: str, text_b: str, model: CompatModel | str = "base") -> Score:
    """Score two statements; raises compat.text.StatementError for unusable input."""
    clean_statement(text_a, "statement A"), clean_statement(text_b, "statement B")
    m = load_model(model) if isinstance(model, str) else model
    a, b = m.embed([text_a, text_b])
    cosine = float(max(-1.0, min(1.0, float(a @ b))))
    prob = m.calibration.probability(cosine) if m.calibration else None
    return Score(model=m.name, cosine=cosine, probability=prob)


@dataclass(frozen=True)
class BaseAndTuned:
    """Both models' scores of one pair, as the Score tab shows them. `error` says what stopped one:
    unusable input (then `base` is None too), or a fine-tuned model that failed (`tuned` None, `model` set).
    Without a fine-tuned model `model` and `tuned` are None and there is no error."""

    base: Score | None
    tuned: Score | None
    model: str | None
    error: str | None = None


def score_base_and_tuned(text_a: str, text_b: str) -> BaseAndTuned:
    """The pair under the base model and under the app's fine-tuned model (compat.active); never raises."""
    from compat.active import active_finetuned
    from compat.text import StatementError

    try:
        base = score(text_a, text_b, "base")
    except StatementError as exc:
        return BaseAndTuned(None, None, None, str(exc))
    name = active_finetuned()
    if name is None:
        return BaseAndTuned(base, None, None)
    try:
        return BaseAndTuned(base, score(text_a, text_b, name), name)
    except Exception as exc:  # a broken run must not take the base score down with it
        return BaseAndTuned(base, None, name, str(exc))
