"""Compositional wording: a preference said as STANCE FRAME x TOPIC PHRASE, held out by construction.

The parts are plain data in `wording/` beside this file:
  frames.yaml     stance frames by kind: `like`, `dislike`, `dealbreaker`, and `contrast` (prefers A to B),
                  each with one slot: {noun} {verb} {identity} {partner} (contrast: also {noun_b}/{verb_b})
  topics_*.yaml   per trait, topic phrases for two poles in those four forms: `pro` (the trait's pos
                  side, "hitting the trails") and `anti` (its neg side said affirmatively, "a lazy Sunday
                  on the couch"), so a stance is not always a negation
A preference (trait, stance) is said along one of these routes:
  pos          like x pro, dislike x anti, contrast (pro over anti, or over an antonym trait's pro)
  neg          dislike x pro, like x anti, contrast (anti over pro, or an antonym trait's pro over pro)
  dealbreaker  dealbreaker x pro (traits that have hand-written dealbreakers only)
and every route also has the hand-written phrasings of ontology.yaml ("hand").
Every frame and every topic phrase belongs to exactly one split (by position in its list, as the
hand-written phrasings do; test-only traits are test-only here too), so the test split shares no frame
and no topic phrase with train.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from compat.generator.ontology import SPLITS, Ontology, Pref, split_of

WORDING_DIR = Path(__file__).with_name("wording")
FORMS = ("noun", "verb", "identity", "partner")
POLES = ("pro", "anti")
FRAME_KINDS = ("like", "dislike", "dealbreaker", "contrast")
MIN_FRAMES = {"like": 60, "dislike": 60, "dealbreaker": 30, "contrast": 15}
MIN_TOPICS = {"pro": {"noun": 8, "verb": 8, "identity": 4, "partner": 4},
              "anti": {"noun": 6, "verb": 6, "identity": 3, "partner": 2}}
# How often each route says a stance (routes a split lacks are left out and the rest renormalised).
ROUTE_WEIGHTS = {
    "pos": {"like": 0.65, "dislike_anti": 0.1, "contrast": 0.1, "hand": 0.15},
    "neg": {"dislike": 0.6, "like_anti": 0.15, "contrast": 0.1, "hand": 0.15},
    "dealbreaker": {"dealbreaker": 0.8, "hand": 0.2},
}
# A phrase that already compares two things reads badly inside a contrast frame.
_COMPARES = re.compile(r"\b(over|instead of|in place of|rather than|than)\b")
_SLOT = re.compile(r"\{(noun|verb|identity|partner|noun_b|verb_b)\}")
# A frame supplies the speaker, the stance and any negation, so a topic phrase names its thing from no one's
# point of view: "my" or "fellow" inside "Swipe left if you {verb}" or "I'd never date {partner}" says the
# speaker has the trait the sentence is labelled as ruling out.
_PERSONAL = re.compile(r"\b(i|i'm|i've|i'd|i'll|me|my|mine|myself|we|we're|us|our|ours|ourselves"
                       r"|you|you're|your|yours|yourself|fellow)\b", re.IGNORECASE)


class WordingError(ValueError):
    """A frames or topics file is malformed; the message names the file, entry and field."""


@dataclass(frozen=True)
class Frame:
    """One stance frame: its text with slots, its kind, its form (the slot filled) and its split."""

    text: str
    kind: str
    form: str
    split: str

    def fill(self, phrase: str, phrase_b: str | None = None) -> str:
        text = self.text.replace("{" + self.form + "}", phrase)
        if phrase_b is not None:
            text = text.replace("{" + self.form + "_b}", phrase_b)
        return sentence_case(text)


@dataclass(frozen=True)
class Topic:
    """One topic phrase of a trait: pole (pro/anti), form, text and split."""

    trait: str
    pole: str
    form: str
    text: str
    split: str


@dataclass(frozen=True, eq=False)
class Wording:
    """All frames and topic phrases, indexed by split; `pool` lists a preference's wordings per route."""

    onto: Ontology
    frames: tuple[Frame, ...]
    topics: tuple[Topic, ...]
    _frames: dict = field(default_factory=dict, repr=False)
    _topics: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        for f in self.frames:
            self._frames.setdefault((f.kind, f.split), []).append(f)
        for t in self.topics:
            self._topics.setdefault((t.trait, t.pole, t.form, t.split), []).append(t.text)

    def frames_of(self, kind: str, split: str) -> list[Frame]:
        return self._frames.get((kind, split), [])

    def phrases(self, trait: str, pole: str, form: str, split: str) -> list[str]:
        return self._topics.get((trait, pole, form, split), [])

    def antonyms_of(self, trait: str) -> list[str]:
        return sorted({b for a, b in self.onto.antonyms if a == trait}
                      | {a for a, b in self.onto.antonyms if b == trait})

    def _apply(self, kind: str, trait: str, pole: str, split: str) -> list[str]:
        return [f.fill(p) for f in self.frames_of(kind, split) for p in self.phrases(trait, pole, f.form, split)]

    def _contrasts(self, liked: list[tuple[str, str]], disliked: list[tuple[str, str]], split: str) -> list[str]:
        """Contrast frames with A from `liked` and B from `disliked`, each a list of (trait, pole)."""
        out = []
        for f in self.frames_of("contrast", split):
            a_texts = [p for t, pole in liked for p in self.phrases(t, pole, f.form, split)
                       if not _COMPARES.search(p)]
            b_texts = [p for t, pole in disliked for p in self.phrases(t, pole, f.form, split)
                       if not _COMPARES.search(p)]
            out += [f.fill(a, b) for a in a_texts for b in b_texts if a != b]
        return out

    @functools.lru_cache(maxsize=None)
    def pool(self, pref: Pref, split: str) -> dict[str, tuple[str, ...]]:
        """Route -> the distinct wordings of `pref` that `split` may use (no surface noise)."""
        trait, stance = pref
        antonyms = [(u, "pro") for u in self.antonyms_of(trait)]
        if stance == "pos":
            routes = {"like": self._apply("like", trait, "pro", split),
                      "dislike_anti": self._apply("dislike", trait, "anti", split),
                      "contrast": self._contrasts([(trait, "pro")], [(trait, "anti"), *antonyms], split)}
        elif stance == "neg":
            routes = {"dislike": self._apply("dislike", trait, "pro", split),
                      "like_anti": self._apply("like", trait, "anti", split),
                      "contrast": self._contrasts([(trait, "anti"), *antonyms], [(trait, "pro")], split)}
        else:
            has_hand = bool(self.onto.traits[trait].phrasings.get("dealbreaker"))
            routes = {"dealbreaker": self._apply("dealbreaker", trait, "pro", split) if has_hand else []}
        routes["hand"] = list(self.onto.phrasings(trait, stance, split))
        return {r: tuple(dict.fromkeys(ws)) for r, ws in routes.items() if ws}

    def capped_pool(self, pref: Pref, split: str, cap: int | None) -> dict[str, tuple[str, ...]]:
        """The pool cut to `cap` wordings in all: an even, seeded draw across routes (the wording curve)."""
        return capped(self.pool(pref, split), cap, f"cap:{pref}:{split}")

    def count(self, pref: Pref, split: str | None = None) -> int:
        """Distinct wordings of `pref` in `split` (all splits together when None)."""
        splits = SPLITS if split is None else (split,)
        return len({w for s in splits for ws in self.pool(pref, s).values() for w in ws})


def capped(routes: dict[str, tuple[str, ...]], cap: int | None, seed: str) -> dict[str, tuple[str, ...]]:
    """`routes` (route -> wordings) cut to `cap` wordings in all, drawn evenly across routes with `seed`,
    so a route with thousands of wordings does not crowd out one with a few; all of them when `cap` is None."""
    if cap is None or sum(map(len, routes.values())) <= cap:
        return routes
    rng = random.Random(seed)
    queues = {r: rng.sample(ws, len(ws)) for r, ws in sorted(routes.items())}
    kept: dict[str, list[str]] = {r: [] for r in queues}
    while sum(map(len, kept.values())) < cap:
        for r, queue in queues.items():
            if queue and sum(map(len, kept.values())) < cap:
                kept[r].append(queue.pop())
    return {r: tuple(ws) for r, ws in kept.items() if ws}


def sentence_case(text: str) -> str:
    """Capitalise the first letter (a slot may start the sentence) and tidy doubled spaces."""
    text = re.sub(r"\s+", " ", text).strip()
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def choose(pool: dict[str, tuple[str, ...]], stance: str, rng: random.Random) -> str:
    """One wording: a route by ROUTE_WEIGHTS (among those present), then a wording of it uniformly."""
    routes = sorted(pool)
    weights = [ROUTE_WEIGHTS[stance].get(r, 0.1) for r in routes]
    return rng.choice(pool[rng.choices(routes, weights=weights)[0]])


# Light surface noise, as people type on their phones; applied to a small share of statements.
EMOJI = ("😅", "🙂", "😂", "✨", "🙃", "❤️", "👀", "🤷", "😎", "🔥")


def add_noise(text: str, rng: random.Random) -> str:
    """One of: all lower case, apostrophes dropped, an emoji, a swapped-letter typo, no end punctuation."""
    kind = rng.randrange(5)
    if kind == 0:
        return text.lower()
    if kind == 1 and "'" in text:
        return text.replace("'", "")
    if kind == 2:
        return f"{text} {rng.choice(EMOJI)}"
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if kind == 3 and long:
        i = rng.choice(long)
        j = rng.randrange(1, len(words[i]) - 2)
        w = words[i]
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
        return " ".join(words)
    return text.rstrip(".!") if text[-1:] in ".!" else text.lower()


def _split_of_position(index: int, n: int) -> str:
    """Split of the item at `index` of a list of `n`: 3 of every 5 train, 1 validation, 1 test (as the
    hand-written phrasings); a list shorter than 5 gives its last item to test, the one before to validation."""
    if n >= 5:
        return split_of(index)
    if index == n - 1:
        return "test"
    if index == n - 2 and n >= 3:
        return "validation"
    return "train"


def parse_frames(raw: dict, source: str) -> list[Frame]:
    """Frames of every kind, checked: known kind, exactly the slots the kind needs, no repeats."""
    frames, seen = [], set()
    for kind in FRAME_KINDS:
        listed = raw.get(kind) or []
        if len(listed) < MIN_FRAMES[kind]:
            raise WordingError(f"{source}: {kind!r} has {len(listed)} frames; need {MIN_FRAMES[kind]}")
        for i, text in enumerate(listed):
            where = f"{source}: {kind}[{i}] {text!r}"
            if not isinstance(text, str) or not text.strip():
                raise WordingError(f"{where}: not text")
            slots = _SLOT.findall(text)
            if text.count("{") != len(slots):
                raise WordingError(f"{where}: unknown slot (use {{noun}} {{verb}} {{identity}} {{partner}})")
            form = slots[0].removesuffix("_b") if slots else None
            wanted = [form, form + "_b"] if kind == "contrast" and form else [form]
            if not slots or sorted(slots) != sorted(wanted):
                need = "one A slot and its _b slot of the same form" if kind == "contrast" else "exactly one slot"
                raise WordingError(f"{where}: needs {need}")
            if text.casefold() in seen:
                raise WordingError(f"{where}: listed twice")
            seen.add(text.casefold())
            frames.append(Frame(text.strip(), kind, form, split_of(i)))
    unknown = set(raw) - set(FRAME_KINDS)
    if unknown:
        raise WordingError(f"{source}: unknown frame kind(s) {sorted(unknown)}")
    return frames


def parse_topics(raw: dict, onto: Ontology, source: str, seen: dict[str, str]) -> list[Topic]:
    """Topic phrases of the traits in one file, checked against the ontology and each other."""
    topics = []
    for trait, poles in raw.items():
        if trait not in onto.traits:
            raise WordingError(f"{source}: unknown trait {trait!r}")
        test_only = onto.traits[trait].test_only
        for pole in POLES:
            for form in FORMS:
                listed = ((poles or {}).get(pole) or {}).get(form) or []
                where = f"{source}: {trait}.{pole}.{form}"
                if len(listed) < MIN_TOPICS[pole][form]:
                    raise WordingError(f"{where}: {len(listed)} phrases; need {MIN_TOPICS[pole][form]}")
                for i, text in enumerate(listed):
                    if not isinstance(text, str) or not text.strip() or "{" in text:
                        raise WordingError(f"{where}[{i}]: {text!r} is not a phrase")
                    personal = _PERSONAL.search(text)
                    if personal:
                        raise WordingError(f"{where}[{i}]: {text!r} says {personal.group(0)!r}; a topic phrase "
                                           "names its thing from no one's point of view (the frame says who)")
                    key = text.strip().casefold()
                    if key in seen:
                        raise WordingError(f"{where}[{i}]: {text!r} already used by {seen[key]}")
                    seen[key] = f"{trait}.{pole}.{form}"
                    split = "test" if test_only else _split_of_position(i, len(listed))
                    topics.append(Topic(trait, pole, form, text.strip(), split))
    return topics


@functools.lru_cache(maxsize=4)
def load_wording(onto: Ontology, directory: str | Path = WORDING_DIR) -> Wording:
    """Read and check frames.yaml and every topics_*.yaml; every trait of the ontology needs topics."""
    import yaml

    directory = Path(directory)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    def read(path: Path) -> dict:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=loader) or {}

    frames = parse_frames(read(directory / "frames.yaml"), str(directory / "frames.yaml"))
    seen: dict[str, str] = {}
    topics = [t for path in sorted(directory.glob("topics_*.yaml"))
              for t in parse_topics(read(path), onto, str(path), seen)]
    missing = sorted(set(onto.traits) - {t.trait for t in topics})
    if missing:
        raise WordingError(f"{directory}: no topic phrases for trait(s) {missing}")
    return Wording(onto, tuple(frames), tuple(topics))
