"""What a generated data set contains: counts, vocabulary, distinct statements, held-out wording shares."""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

from compat.generator.ontology import SPLITS, Pref
from compat.text import clean_statement

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def statements(pairs: Iterable[dict]) -> list[str]:
    """Every statement of the pairs (speaker prefix removed), in order."""
    return [clean_statement(p[k]) for p in pairs for k in ("text_1", "text_2")]


def words(texts: Iterable[str]) -> set[str]:
    """Distinct lower-cased words of the texts."""
    return {w for t in texts for w in _WORD.findall(t.lower())}


def diversity(texts: list[str]) -> dict:
    """Distinct statements and words among `texts` (the statements of a set of pairs)."""
    return {
        "statements": len(texts),
        "distinct_statements": len(set(texts)),
        "distinct_statement_share": round(len(set(texts)) / max(len(texts), 1), 4),
        "distinct_words": len(words(texts)),
    }


def unseen_share(texts: list[str], seen_texts: list[str]) -> float:
    """Share of `texts` that never occur among `seen_texts` (case-insensitive)."""
    seen = {t.casefold() for t in seen_texts}
    return round(sum(t.casefold() not in seen for t in texts) / max(len(texts), 1), 4)


def counts(pairs: list[dict]) -> dict:
    """Pairs by label, category, pair type and rule."""
    def by(key: str) -> dict:
        return dict(sorted(Counter(str(p.get(key)) for p in pairs).items()))

    return {"n": len(pairs), "label": by("label"), "category": by("category"),
            "pair_type": by("pair_type"), "rule": by("rule")}


def wording_summary(wording, cap: int | None = None) -> dict:
    """How many frames and topic phrases each split owns, and distinct wordings per trait and stance
    (mean and minimum over every preference; `train_cap` is the `--wordings` cap of the train split)."""
    onto = wording.onto
    prefs = [(t, s) for t, trait in onto.traits.items() for s in ("pos", "neg", "dealbreaker")
             if wording.pool((t, s), "test") or wording.pool((t, s), "train")]

    def per_pref(count) -> dict:
        values = [count(p) for p in prefs]
        return {"mean": round(sum(values) / len(values), 1), "min": min(values)}

    def without_contrast(pref: Pref) -> int:
        return len({w for s in SPLITS for r, ws in wording.pool(pref, s).items() if r != "contrast" for w in ws})

    return {
        "frames": {s: dict(Counter(f.kind for f in wording.frames if f.split == s)) for s in SPLITS},
        "topic_phrases": {s: sum(t.split == s for t in wording.topics) for s in SPLITS},
        "preferences": len(prefs),
        "wordings_per_preference": per_pref(wording.count),
        "wordings_per_preference_without_contrast": per_pref(without_contrast),
        "train_wordings_per_preference": per_pref(lambda p: wording.count(p, "train")),
        "train_cap": cap,
    }
