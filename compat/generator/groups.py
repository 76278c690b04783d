"""Stance groups: for one trait, a few wordings of each of its two sides, the data of the `supcon` loss.

A pair says whether two statements go together; a group says more at once. Its `pos` statements all
take the trait's side (they like it, dislike its opposite, or prefer it to an antonym) and its `neg`
statements all take the other side (they dislike it, like its opposite, rule it out as a dealbreaker,
or take an antonym trait's side). In a batch of groups each statement must find its own side of its own
trait among everything else, so the other side of the same topic is the hard negative (stance) and the
other traits are easy ones (topic is kept).

Wordings come from one split's frames, topic phrases, hand-written phrasings and filler sentences only
(train, for training), so groups never leak validation or test wording. A share of the statements is
said inside a profile, beside a filler sentence (a job, a city), as the generator dresses pairs: the side
must survive the words around it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from compat.generator.generate import with_filler_sentence
from compat.generator.ontology import Ontology, load_ontology
from compat.generator.wording import Wording, add_noise, capped, load_wording
from compat.pairs import atomic_write

GROUPS_FILE = "train_groups.jsonl"
GROUP_ROUTES = ("negation", "contrast", "all")
NEGATION_ROUTES = ("like", "dislike", "dealbreaker", "hand")
GROUP_SIDE = 2  # statements per side: 16 groups a batch are 64 statements, two cosent batches' worth
NOISE_SHARE = 0.08  # as in composed pairs: light surface noise on a small share of statements
# statements joined to a filler sentence: chosen on validation (docs/quality-experiments.md, "Tuning the recipe")
FILLER_SHARE = 0.6


Side = list[tuple[str, ...]]  # wording lists, one per route and trait


def sides(wording: Wording, trait: str, split: str, routes: str = "negation",
          cap: int | None = None) -> tuple[Side, Side]:
    """(pos side, neg side) of `trait` in `split`: each a list of wording lists (one per route and trait),
    so drawing a list first keeps a route with few wordings from drowning under one with thousands.
    `routes`: "negation", the side said by like / dislike / dealbreaker frames over the trait's own
    (pro) phrases and by the hand-written phrasings; "contrast" adds contrast frames ("I'd rather X than
    Y") and the antonym traits' sides said the negation way; "all" also the opposite pole's phrases
    (dislike x anti, like x anti) and every route of the antonyms. `cap`: at most that many distinct
    wordings per trait and stance (the wording curve), drawn evenly across the kept routes; all when None."""
    if routes not in GROUP_ROUTES:
        raise ValueError(f"routes {routes!r}: choose one of {', '.join(GROUP_ROUTES)}")

    kept = None if routes == "all" else NEGATION_ROUTES + (("contrast",) if routes == "contrast" else ())

    def said(t: str, stance: str) -> list[tuple[str, ...]]:
        pool = {r: ws for r, ws in wording.pool((t, stance), split).items() if ws and (kept is None or r in kept)}
        return list(capped(pool, cap, f"group-cap:{t}:{stance}:{split}:{routes}").values())

    pos, neg = said(trait, "pos"), said(trait, "neg") + said(trait, "dealbreaker")
    for other in wording.antonyms_of(trait) if routes != "negation" else ():
        if other in wording.onto.traits_in(split):
            pos += said(other, "neg")  # not an antonym's side is this trait's side
            neg += said(other, "pos")
    return pos, neg


def related_of(onto: Ontology, trait: str) -> list[str]:
    """The traits the ontology says go with `trait` (a shared side is compatible: hiking and camping)."""
    return sorted({b for a, b in onto.related if a == trait} | {a for a, b in onto.related if b == trait})


def stance_groups(n: int, per_side: int = GROUP_SIDE, seed: int = 0, split: str = "train",
                  routes: str = "negation", onto: Ontology | None = None, fillers: float = FILLER_SHARE,
                  wordings: int | None = None) -> list[dict]:
    """`n` groups {"trait", "antonyms", "related", "pos": [per_side wordings], "neg": [per_side wordings]},
    traits drawn evenly from `split`'s traits, each statement distinct within its group (from at most
    `wordings` distinct wordings per trait and stance when given: the wording curve); a `fillers` share
    of the statements joined to one of `split`'s filler sentences (drawn apart, so the share leaves the
    wordings as they are)."""
    if wordings is not None and wordings < per_side:
        raise ValueError(f"wordings {wordings}: a group takes {per_side} distinct wordings a side, so at least that")
    onto = onto or load_ontology()
    wording = load_wording(onto)
    rng = random.Random(f"groups:{seed}:{split}")
    traits = onto.traits_in(split)
    by_trait = {t: sides(wording, t, split, routes, wordings) for t in traits}
    out = []
    for i in range(n):
        trait = traits[i % len(traits)] if i < n - n % len(traits) else rng.choice(traits)
        group: dict = {"trait": trait, "antonyms": wording.antonyms_of(trait), "related": related_of(onto, trait)}
        for name, side in zip(("pos", "neg"), by_trait[trait]):
            drawn: list[str] = []
            for _ in range(per_side * 20):  # distinct wordings; every side has far more than per_side
                text = rng.choice(rng.choice(side))
                if text not in drawn:
                    drawn.append(text)
                if len(drawn) == per_side:
                    break
            group[name] = [add_noise(t, rng) if rng.random() < NOISE_SHARE else t for t in drawn]
        out.append(group)
    rng.shuffle(out)
    return dressed(out, fillers, onto.fillers_in(split), random.Random(f"fillers:{seed}:{split}"))


def dressed(groups: list[dict], share: float, fillers: tuple[str, ...], rng: random.Random) -> list[dict]:
    """`groups` with a `share` of their statements said beside one of `fillers` (in place; returned)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"filler share {share}: must be between 0 and 1")
    if share and not fillers:
        raise ValueError("a filler share needs filler sentences, and this split has none")
    for group in groups:
        for side in ("pos", "neg"):
            group[side] = [with_filler_sentence(t, rng.choice(fillers), rng) if rng.random() < share else t
                           for t in group[side]]
    return groups


def write_groups(out: str | Path, n: int, per_side: int = GROUP_SIDE, seed: int = 0,
                 routes: str = "negation", fillers: float = FILLER_SHARE, wordings: int | None = None) -> Path:
    """Write `n` train-split stance groups to OUT/train_groups.jsonl (atomically); returns the path."""
    path = Path(out) / GROUPS_FILE
    groups = stance_groups(n, per_side, seed, routes=routes, fillers=fillers, wordings=wordings)
    atomic_write(path, groups_jsonl(groups))
    return path


def groups_jsonl(groups: list[dict]) -> str:
    """The train_groups.jsonl text of `groups`: one JSON object a line."""
    return "".join(json.dumps(g, ensure_ascii=False) + "\n" for g in groups)
