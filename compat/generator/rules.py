"""Compatibility rules between two preferences, and the importance-weighted judge for whole profiles.

`relate(onto, a, b)` says how one person's preference `a` bears on another's `b` (a match, a conflict,
a dealbreaker veto, or nothing) and why. `judge(onto, profile_a, profile_b)` weighs every relation
between two profiles of one to three preferences: dealbreakers > values > lifestyle > interests.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

from compat.generator.ontology import Ontology, Pref

MATCH, CONFLICT, VETO = "match", "conflict", "veto"


@dataclass(frozen=True)
class Relation:
    """How two preferences bear on compatibility: kind, importance weight, rule name and reason."""

    kind: str  # MATCH | CONFLICT | VETO
    weight: int
    rule: str
    a: Pref
    b: Pref
    explanation: str

    @property
    def label(self) -> int:
        return 1 if self.kind == MATCH else 0


@dataclass(frozen=True)
class Verdict:
    """The judge's decision: label (None when undecided), weighted score and the relations behind it."""

    label: int | None
    score: int
    relations: tuple[Relation, ...]
    explanation: str


@functools.lru_cache(maxsize=65536)
def relate(onto: Ontology, a: Pref, b: Pref) -> Relation | None:
    """The rule linking preference `a` (one person) and `b` (the other), or None when unrelated."""
    found = _relate_ordered(onto, a, b)
    if found is None:
        flipped = _relate_ordered(onto, b, a)
        if flipped is not None:
            found = Relation(flipped.kind, flipped.weight, flipped.rule, a, b, flipped.explanation)
    return found


def _relate_ordered(onto: Ontology, a: Pref, b: Pref) -> Relation | None:
    (ta, sa), (tb, sb) = a, b
    traits = onto.traits
    A, B = traits[ta], traits[tb]
    if ta == tb:
        w = onto.weight(ta)
        if sa == sb == "pos":
            return Relation(MATCH, w, "same_stance", a, b, f"Same stance on the same trait: each person {A.pos_desc}.")
        if sa == sb == "neg":
            return Relation(MATCH, w, "shared_dislike", a, b, f"Shared dislike: each person {A.neg_desc}.")
        if sa == sb == "dealbreaker":
            return Relation(
                MATCH, w, "shared_dealbreaker", a, b, f"Shared dealbreaker: each rules out a partner who {A.pos_desc}."
            )
        if (sa, sb) == ("pos", "neg"):
            return Relation(
                CONFLICT, w, "opposite_stance", a, b,
                f"Opposite stances on {ta} ({A.tier}, weight {w}): one {A.pos_desc}, the other {A.neg_desc}.",
            )
        if (sa, sb) == ("dealbreaker", "pos"):
            return Relation(
                VETO, onto.tiers["dealbreaker"], "dealbreaker", a, b,
                f"Dealbreaker: one rules out a partner who {A.pos_desc}, and the other {A.pos_desc}.",
            )
        if (sa, sb) == ("dealbreaker", "neg"):
            return Relation(
                MATCH, w, "dealbreaker_respected", a, b,
                f"Dealbreaker respected: one rules out a partner who {A.pos_desc}, and the other {A.neg_desc}.",
            )
        return None
    w = max(onto.weight(ta), onto.weight(tb))
    if (ta, tb) in onto.antonyms:
        if sa == sb == "pos":
            return Relation(
                CONFLICT, w, "antonym", a, b,
                f"Antonym traits: one {A.pos_desc}, the other {B.pos_desc}; these pull in opposite directions.",
            )
        if {sa, sb} == {"pos", "neg"}:
            return Relation(
                MATCH, w, "antonym_agreement", a, b,
                f"Agreement across antonym traits: one {A.desc(sa)}, the other {B.desc(sb)}; "
                "the same preference seen from two sides.",
            )
    if (ta, tb) in onto.related:
        if sa == sb == "pos":
            return Relation(
                MATCH, w, "related", a, b, f"Related traits that go together: one {A.pos_desc}, the other {B.pos_desc}."
            )
        if sa == sb == "neg":
            return Relation(
                MATCH, w, "related_dislike", a, b, f"Related dislikes: one {A.neg_desc}, the other {B.neg_desc}."
            )
    for miss in onto.near_misses:
        if (miss.a, miss.b) == (a, b):
            return Relation(CONFLICT, w, "near_miss", a, b, f"Near-miss on a shared topic: {miss.why}.")
    return None


def judge(onto: Ontology, profile_a: Sequence[Pref], profile_b: Sequence[Pref]) -> Verdict:
    """Weigh every relation between two profiles: a dealbreaker hit vetoes; otherwise the sign of
    (sum of match weights - sum of conflict weights) decides, and a tie or no relation is undecided."""
    relations = tuple(r for pa in profile_a for pb in profile_b if (r := relate(onto, pa, pb)) is not None)
    matches = [r for r in relations if r.kind == MATCH]
    conflicts = [r for r in relations if r.kind != MATCH]
    score = sum(r.weight for r in matches) - sum(r.weight for r in conflicts)
    vetoes = [r for r in relations if r.kind == VETO]
    if vetoes:
        label: int | None = 0
    else:
        label = 1 if score > 0 else 0 if score < 0 else None
    if len(relations) == 1:
        return Verdict(label, score, relations, relations[0].explanation)
    return Verdict(label, score, relations, _explain(matches, conflicts, vetoes, score, label))


def _explain(matches: list[Relation], conflicts: list[Relation], vetoes: list[Relation], score: int, label) -> str:
    def item(r: Relation, sign: str) -> str:
        topic = r.a[0] if r.a[0] == r.b[0] else f"{r.a[0]}/{r.b[0]}"
        return f"{r.rule} on {topic} ({sign}{r.weight})"

    parts = ["Importance-weighted judge (dealbreaker 8 > values 3 > lifestyle 2 > interests 1)"]
    if matches:
        parts.append("matches: " + ", ".join(item(r, "+") for r in matches))
    if conflicts:
        parts.append("conflicts: " + ", ".join(item(r, "-") for r in conflicts))
    if vetoes:
        n = len(matches)
        parts.append(f"the dealbreaker decides against {n} match{'es' if n != 1 else ''}")
    verdict = {1: "compatible", 0: "incompatible", None: "undecided"}[label]
    parts.append(f"score {score:+d}, so {verdict}")
    return "; ".join(parts) + "."
