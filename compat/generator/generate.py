"""Building labelled pairs from the ontology: one recipe per pair type, balanced labels, held-out wording.

Every pair's label comes from `rules.judge` on the preferences behind its two statements, so a pair's
`explanation` is the rule that decided it. Each split draws only on its own phrasings (see
`ontology.split_of`), and test-only traits appear in the test split alone.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass, field
from typing import Callable

from compat.generator.ontology import SPLITS, Ontology, Pref, load_ontology
from compat.generator.rules import MATCH, VETO, Relation, judge, relate
from compat.generator.wording import Wording, add_noise, choose, load_wording
from compat.pairs import validate_pair

GENERATOR_VERSION = "2.0.0"  # 2: compositional wording (frames x topic phrases), surface noise
SPLIT_SHARES = {"train": 5, "validation": 1, "test": 1}  # 2,800 pairs -> 2,000 / 400 / 400
DEFAULT_N = 2800
NOISE_SHARE = 0.08  # statements given light surface noise (casing, apostrophes, an emoji, a typo)
SPEAKER_PAIRINGS = {"mixed": (("boy", "girl"), ("girl", "boy"), ("boy", "boy"), ("girl", "girl"))}

# Share of each label's pairs given to each pair type.
MIX = {
    1: {"compatible": 0.42, "subtle_mismatch": 0.10, "complex_compatible": 0.16, "judged": 0.14, "realistic": 0.18},
    0: {"incompatible": 0.30, "dealbreaker": 0.16, "subtle_mismatch": 0.10, "complex_incompatible": 0.14,
        "judged": 0.14, "realistic": 0.16},
}
# The train split leans on single-preference pairs (a curriculum): with composed wording nearly every
# statement is new, and a model learns what a stance is from one-preference pairs first; trained on the
# mix above, the 4-bit LoRA collapsed (every cosine ~1) within 100 steps. Validation and test keep MIX.
TRAIN_MIX = {
    1: {"compatible": 0.70, "subtle_mismatch": 0.10, "complex_compatible": 0.05, "judged": 0.05, "realistic": 0.10},
    0: {"incompatible": 0.45, "dealbreaker": 0.25, "subtle_mismatch": 0.10, "complex_incompatible": 0.05,
        "judged": 0.05, "realistic": 0.10},
}
# Single-preference rules behind the simple pair types, with their shares.
SIMPLE_RULES = {
    (1, "compatible"): {"same_stance": 0.3, "shared_dislike": 0.25, "related": 0.2, "related_dislike": 0.05,
                        "dealbreaker_respected": 0.2},
    (0, "incompatible"): {"opposite_stance": 0.6, "antonym": 0.4},
    (0, "dealbreaker"): {"dealbreaker": 1.0},
    (1, "subtle_mismatch"): {"antonym_agreement": 1.0},
    (0, "subtle_mismatch"): {"near_miss": 1.0},
    (1, "realistic"): {"same_stance": 0.35, "shared_dislike": 0.2, "related": 0.25, "antonym_agreement": 0.1,
                       "dealbreaker_respected": 0.1},
    (0, "realistic"): {"opposite_stance": 0.45, "antonym": 0.25, "dealbreaker": 0.2, "near_miss": 0.1},
}
_PROPER = {"I", "God", "Bible", "Vegas", "Netflix", "Catan", "Mario", "Monopoly", "Scrabble", "Dungeons", "Mercury",
           "Leo", "Sunday", "Sundays", "Saturday", "Saturdays", "Friday", "Fridays", "Thursday", "Tuesday",
           "January", "CrossFit", "PDA", "BBQ", "Pixar", "Kubrick", "Super", "Trump", "Juul", "Louvre"}


@dataclass
class SplitIndex:
    """Which preference pairs each rule links, among the preferences a split can phrase."""

    by_rule: dict[str, list[tuple[Pref, Pref]]] = field(default_factory=dict)
    partners: dict[Pref, dict[str, list[Pref]]] = field(default_factory=dict)
    prefs: list[Pref] = field(default_factory=list)


@functools.lru_cache(maxsize=4)
def all_relations(onto: Ontology) -> tuple[tuple[Pref, Pref, Relation], ...]:
    """Every related pair of preferences of the ontology (each unordered pair once)."""
    prefs = [(t, s) for t, trait in onto.traits.items() for s in ("pos", "neg", "dealbreaker") if s in trait.phrasings]
    found = []
    for i, a in enumerate(prefs):
        for b in prefs[i:]:
            rel = relate(onto, a, b)
            if rel is not None:
                found.append((a, b, rel))
    return tuple(found)


def build_index(onto: Ontology, split: str) -> SplitIndex:
    """The related preference pairs that `split` can phrase, grouped by rule and by kind."""
    index = SplitIndex()
    index.prefs = [
        (t, s) for t in onto.traits_in(split) for s in ("pos", "neg", "dealbreaker") if onto.phrasings(t, s, split)
    ]
    usable = set(index.prefs)
    for a, b, rel in all_relations(onto):
        if a not in usable or b not in usable:
            continue
        index.by_rule.setdefault(rel.rule, []).append((a, b))
        index.partners.setdefault(a, {}).setdefault(rel.kind, []).append(b)
        if a != b:
            index.partners.setdefault(b, {}).setdefault(rel.kind, []).append(a)
    return index


def _decap(text: str) -> str:
    """Lower-case the first letter so a phrasing can follow a connector, keeping names and 'I'."""
    first = re.split(r"[\s,']", text, maxsplit=1)[0]
    if first in _PROPER or first.isupper() or not first[:1].isupper():
        return text
    return text[0].lower() + text[1:]


def join_sentences(parts: list[str], rng: random.Random) -> str:
    """One profile statement from several phrasings, with varied connectors."""
    out = parts[0]
    for part in parts[1:]:
        ends = out[-1] in "!?."
        style = rng.random()
        if style < 0.5 or ends:
            out = out + (" " if ends else ". ") + part
        elif style < 0.65:
            out = f"{out}. Also, {_decap(part)}"
        elif style < 0.8:
            out = f"{out}, and {_decap(part)}"
        elif style < 0.9:
            out = f"{out}. Oh, and {_decap(part)}"
        else:
            out = f"{out}; {_decap(part)}"
    return out


def with_filler_sentence(text: str, filler: str, rng: random.Random) -> str:
    """`text` said inside a profile: a neutral filler sentence (a job, a city) before it (70%) or after it."""
    return join_sentences([filler, text] if rng.random() < 0.7 else [text, filler], rng)


class PairBuilder:
    """Makes pairs of one split: picks phrasings, speakers and preferences, and asks the judge."""

    def __init__(self, onto: Ontology, split: str, rng: random.Random, speakers: str = "boy,girl",
                 wording: Wording | None = None, cap: int | None = None, noise: float = NOISE_SHARE):
        self.onto, self.split, self.rng = onto, split, rng
        self.wording, self.cap, self.noise = wording, cap, noise
        self.index = build_index(onto, split)
        self.fillers = onto.fillers_in(split)
        self.speakers = parse_speakers(speakers)
        self.recipes: dict[str, Callable[[int], dict | None]] = {
            "compatible": lambda y: self.simple(y, "compatible"),
            "incompatible": lambda y: self.simple(y, "incompatible"),
            "dealbreaker": lambda y: self.simple(y, "dealbreaker"),
            "subtle_mismatch": lambda y: self.simple(y, "subtle_mismatch"),
            "realistic": lambda y: self.simple(y, "realistic"),
            "complex_compatible": lambda y: self.complex(y, "complex_compatible"),
            "complex_incompatible": lambda y: self.complex(y, "complex_incompatible"),
            "judged": lambda y: self.complex(y, "judged"),
        }

    def phrase(self, pref: Pref, avoid: set[str] = frozenset()) -> str:
        """One wording of `pref` from this split's pool (composed or hand-written), sometimes with noise."""
        if self.wording is None:  # hand-written only, drawn exactly as generator 1.x did (same bytes)
            options = [p for p in self.onto.phrasings(pref[0], pref[1], self.split) if p not in avoid]
            return self.rng.choice(options or self.onto.phrasings(pref[0], pref[1], self.split))
        pool = self.wording.capped_pool(pref, self.split, self.cap)
        text = choose(pool, pref[1], self.rng)
        for _ in range(8):
            if text not in avoid:
                break
            text = choose(pool, pref[1], self.rng)
        return add_noise(text, self.rng) if self.rng.random() < self.noise else text

    def pick(self, shares: dict[str, float]) -> str:
        names = sorted(shares)
        return self.rng.choices(names, weights=[shares[n] for n in names])[0]

    def simple(self, label: int, pair_type: str) -> dict | None:
        """One preference on each side, linked by a rule that gives `label`."""
        rule = self.pick(SIMPLE_RULES[label, pair_type])
        candidates = self.index.by_rule.get(rule)
        if not candidates:
            return None
        a, b = self.rng.choice(candidates)
        if self.rng.random() < 0.5:
            a, b = b, a
        text_a = self.phrase(a)
        text_b = self.phrase(b, avoid={text_a})
        if text_a == text_b:
            return None
        if pair_type == "realistic":
            text_a, text_b = self.with_filler(text_a, text_b)
        return self.assemble([a], [b], text_a, text_b, label, pair_type)

    def with_filler(self, text_a: str, text_b: str) -> tuple[str, str]:
        """Embed statements in neutral profile sentences, like real bios."""
        sides = self.rng.choice(((True, False), (False, True), (True, True)))
        chosen = self.rng.sample(self.fillers, 2)
        out = []
        for text, add, filler in zip((text_a, text_b), sides, chosen):
            if add:
                text = with_filler_sentence(text, filler, self.rng)
            out.append(text)
        return out[0], out[1]

    def complex(self, label: int, pair_type: str) -> dict | None:
        """Two or three preferences per side; the judge decides, and the outcome must fit `pair_type`."""
        k = self.rng.choice((2, 3, 3) if pair_type == "judged" else (2, 2, 3))
        profile_a = self.profile(k)
        if profile_a is None:
            return None
        if pair_type == "complex_compatible":
            wants = ["match"] * k
        elif pair_type == "complex_incompatible":
            wants = ["conflict"] * k if self.rng.random() < 0.6 else ["veto"] + ["match"] * (k - 1)
        else:  # mixed; with three, the majority leans toward the label asked for (the weights still decide)
            wants = ["match", "conflict"] + ["match" if label == 1 else "conflict"] * (k - 2)
        self.rng.shuffle(wants)
        if "veto" in wants:  # the veto goes where a dealbreaker can apply, or the profile clashes outright
            can_veto = [i for i, p in enumerate(profile_a) if self.index.partners.get(p, {}).get(VETO)]
            wants = ["match"] * k if can_veto else ["conflict"] * k
            if can_veto:
                wants[self.rng.choice(can_veto)] = "veto"
        profile_b: list[Pref] = []
        for pref, want in zip(profile_a, wants):
            options = [
                q for q in self.index.partners.get(pref, {}).get(want, [])
                if all(q[0] != p[0] for p in profile_b) and self.consistent(profile_b, q)
            ]
            if not options:
                return None
            profile_b.append(self.rng.choice(options))
        verdict = judge(self.onto, profile_a, profile_b)
        if verdict.label != label or classify(verdict) != pair_type:
            return None
        self.rng.shuffle(profile_b)
        texts_a = [self.phrase(p) for p in profile_a]
        texts_b = [self.phrase(p, avoid=set(texts_a)) for p in profile_b]
        return self.assemble(
            profile_a, profile_b, join_sentences(texts_a, self.rng), join_sentences(texts_b, self.rng),
            label, pair_type, verdict=verdict,
        )

    def profile(self, k: int) -> list[Pref] | None:
        """k preferences on distinct traits that do not contradict each other."""
        chosen: list[Pref] = []
        for _ in range(k * 6):
            pref = self.rng.choice(self.index.prefs)
            if pref[1] == "dealbreaker" and self.rng.random() < 0.6:
                continue  # keep dealbreakers a minority of profile statements
            if all(pref[0] != p[0] for p in chosen) and self.consistent(chosen, pref):
                chosen.append(pref)
                if len(chosen) == k:
                    return chosen
        return None

    def consistent(self, profile: list[Pref], pref: Pref) -> bool:
        """A person does not hold two preferences that clash with each other."""
        for p in profile:
            rel = relate(self.onto, p, pref)
            if rel is not None and rel.kind != MATCH:
                return False
        return True

    def assemble(self, prefs_a: list[Pref], prefs_b: list[Pref], text_a: str, text_b: str, label: int,
                 pair_type: str, verdict=None) -> dict:
        """The pair record; the judge's label must equal the label asked for."""
        verdict = verdict or judge(self.onto, prefs_a, prefs_b)
        if verdict.label != label:
            raise AssertionError(f"rule gave {verdict.label} for a {pair_type} pair meant to be {label}")
        decisive = max(verdict.relations, key=lambda r: (r.kind == VETO, r.weight))
        speaker_a, speaker_b = self.rng.choice(self.speakers)
        traits = (decisive.a[0], decisive.b[0])
        return {
            "text_1": f"{speaker_a}: {text_a}" if speaker_a else text_a,
            "text_2": f"{speaker_b}: {text_b}" if speaker_b else text_b,
            "label": label,
            "category": max((self.onto.traits[t] for t in traits), key=lambda t: self.onto.tiers[t.tier]).category,
            "subcategory": traits[0] if traits[0] == traits[1] else f"{traits[0]}_vs_{traits[1]}",
            "pair_type": pair_type,
            "explanation": verdict.explanation,
            "split": self.split,
            "rule": "judge" if len(verdict.relations) > 1 else decisive.rule,
            "trait_1": "+".join(p[0] for p in prefs_a),
            "trait_2": "+".join(p[0] for p in prefs_b),
            "stance_1": "+".join(p[1] for p in prefs_a),
            "stance_2": "+".join(p[1] for p in prefs_b),
            "_a": text_a,  # the bare statements, for duplicate detection; removed before the pair is kept
            "_b": text_b,
        }


def classify(verdict) -> str:
    """Pair type of a multi-preference verdict: all matches, clear conflict (or a veto), or mixed."""
    kinds = {r.kind for r in verdict.relations}
    if kinds == {MATCH}:
        return "complex_compatible"
    if MATCH not in kinds or VETO in kinds:
        return "complex_incompatible"
    return "judged"


def parse_speakers(spec: str) -> tuple[tuple[str, str], ...]:
    """'boy,girl' -> one pairing; 'mixed' -> any of boy/girl; 'none' -> no prefixes."""
    if spec in SPEAKER_PAIRINGS:
        return SPEAKER_PAIRINGS[spec]
    if spec == "none":
        return (("", ""),)
    names = [s.strip() for s in spec.split(",")]
    if len(names) != 2 or not all(re.fullmatch(r"[A-Za-z][\w'-]{0,30}", n) for n in names):
        raise ValueError(f"speakers must be two names like 'boy,girl', or 'mixed' or 'none'; got {spec!r}")
    return ((names[0], names[1]),)


def split_sizes(n: int) -> dict[str, int]:
    """How many of `n` pairs go to each split (5 : 1 : 1)."""
    total = sum(SPLIT_SHARES.values())
    train = round(n * SPLIT_SHARES["train"] / total)
    validation = round(n * SPLIT_SHARES["validation"] / total)
    return {"train": train, "validation": validation, "test": n - train - validation}


def generate_split(onto: Ontology, split: str, n: int, seed: int, speakers: str = "boy,girl",
                   wording: Wording | None = None, cap: int | None = None) -> list[dict]:
    """`n` distinct pairs of one split, labels exactly balanced (n // 2 compatible), shuffled.

    With `wording`, statements are composed (compat.generator.wording); `cap` limits each preference to
    that many distinct wordings in this split (the wording curve); without it, hand-written only."""
    rng = random.Random(f"compat-generator:{seed}:{split}")
    builder = PairBuilder(onto, split, rng, speakers, wording, cap)
    labels = [1] * (n // 2) + [0] * (n - n // 2)
    pairs: list[dict] = []
    seen: set[tuple[str, str]] = set()
    exhausted: set[tuple[int, str]] = set()  # (label, type) that kept failing: this split has run out of them
    for label in labels:
        shares = (TRAIN_MIX if split == "train" and wording is not None else MIX)[label]
        mix = {t: w for t, w in shares.items() if (label, t) not in exhausted} or shares
        pair_type = builder.pick(mix)
        for attempt in range(300):
            if attempt == 30:
                exhausted.add((label, pair_type))
            pair = builder.recipes[pair_type if attempt < 30 else builder.pick(mix)](label)
            if pair is None:
                continue
            key = tuple(sorted((pair.pop("_a").casefold(), pair.pop("_b").casefold())))
            if key not in seen:
                break
        else:
            raise RuntimeError(f"could not make a new {split} pair with label {label}; ask for fewer pairs")
        problem = validate_pair(pair)
        if problem:
            raise AssertionError(f"generated an invalid pair ({problem}): {pair}")
        seen.add(key)
        pairs.append(pair)
    rng.shuffle(pairs)
    return pairs


def generate(n: int = DEFAULT_N, seed: int = 0, speakers: str = "boy,girl", onto: Ontology | None = None,
             wordings: int | None = None, compose: bool = False) -> dict[str, list[dict]]:
    """All three splits, `n` pairs in total; the same arguments always give the same pairs.

    `wordings` caps the distinct wordings per preference in the train split only (validation and test
    keep their whole pools, so a capped run is measured on the same kind of data). Without `compose`
    (the default, and the shipped data set) only the hand-written phrasings are used, as generator 1.x
    did, byte for byte: see README, "Quality", for why the shipped model is still trained on those."""
    onto = onto or load_ontology()
    wording = load_wording(onto) if compose else None
    sizes = split_sizes(n)
    return {split: generate_split(onto, split, sizes[split], seed, speakers, wording,
                                  wordings if split == "train" else None) for split in SPLITS}
