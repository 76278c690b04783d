"""The preference ontology (ontology.yaml) as validated objects, and which phrasings each split may use.

A *preference* is a (trait id, stance) pair. Stances: "pos" (likes / is / wants the trait), "neg"
(dislikes / is not / never wants it) and "dealbreaker" (rules out a partner with the trait).
Phrasings are assigned to splits by their position in the trait's list, so validation and test only
ever see wording that train never saw; `test_only` traits appear in the test split alone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

ONTOLOGY_PATH = Path(__file__).with_name("ontology.yaml")
STANCES = ("pos", "neg", "dealbreaker")
SPLITS = ("train", "validation", "test")
MIN_PHRASINGS = 10  # per pos / neg stance
MIN_DEALBREAKERS = 10

Pref = tuple[str, str]  # (trait id, stance)


class OntologyError(ValueError):
    """The ontology file is malformed; the message names the trait and field."""


def split_of(index: int) -> str:
    """The split that owns the phrasing at `index` of its list: 6 of every 10 train, 2 validation, 2 test."""
    slot = index % 5
    return "validation" if slot == 3 else "test" if slot == 4 else "train"


@dataclass(frozen=True)
class Trait:
    """One preference dimension with its phrasings per stance."""

    id: str
    category: str
    tier: str
    pos_desc: str
    neg_desc: str
    phrasings: dict[str, tuple[str, ...]]
    test_only: bool

    def desc(self, stance: str) -> str:
        """How the explanation describes a person holding `stance` ("loves hiking")."""
        if stance == "pos":
            return self.pos_desc
        if stance == "neg":
            return self.neg_desc
        return f"rules out a partner who {self.pos_desc}"


@dataclass(frozen=True)
class NearMiss:
    """Two preferences on a shared topic that clash, with the reason."""

    a: Pref
    b: Pref
    why: str


@dataclass(frozen=True, eq=False)  # hashed by identity, so rules can cache per ontology
class Ontology:
    """All traits, their relations, the importance tiers and the neutral filler sentences."""

    tiers: dict[str, int]
    traits: dict[str, Trait]
    antonyms: tuple[tuple[str, str], ...]
    related: tuple[tuple[str, str], ...]
    near_misses: tuple[NearMiss, ...]
    fillers: tuple[str, ...]
    pools: dict[tuple[str, str, str], tuple[str, ...]]

    def weight(self, trait_id: str) -> int:
        """Importance weight of an ordinary match or conflict on this trait."""
        return self.tiers[self.traits[trait_id].tier]

    def traits_in(self, split: str) -> list[str]:
        """Trait ids usable in `split` (test-only traits are left out of train and validation)."""
        return [t for t, trait in self.traits.items() if split == "test" or not trait.test_only]

    def phrasings(self, trait_id: str, stance: str, split: str) -> tuple[str, ...]:
        """The phrasings of (trait, stance) that `split` may use."""
        return self.pools.get((trait_id, stance, split), ())

    def fillers_in(self, split: str) -> tuple[str, ...]:
        return tuple(f for i, f in enumerate(self.fillers) if split_of(i) == split)

    def all_phrasings(self) -> set[str]:
        """Every phrasing and filler sentence, for checks against independent data."""
        found = {p for t in self.traits.values() for ps in t.phrasings.values() for p in ps}
        return found | set(self.fillers)


def _pools(traits: dict[str, Trait]) -> dict[tuple[str, str, str], tuple[str, ...]]:
    """(trait, stance, split) -> the phrasings that split may use."""
    pools = {}
    for trait in traits.values():
        for stance, listed in trait.phrasings.items():
            for split in SPLITS:
                if trait.test_only:
                    pools[trait.id, stance, split] = listed if split == "test" else ()
                else:
                    pools[trait.id, stance, split] = tuple(
                        p for i, p in enumerate(listed) if split_of(i) == split
                    )
    return pools


@functools.lru_cache(maxsize=4)
def load_ontology(path: str | Path = ONTOLOGY_PATH) -> Ontology:
    """Read and validate the ontology file; raises OntologyError naming what is wrong."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as fh:
        raw = yaml.load(fh, Loader=loader)
    return parse_ontology(raw, source=str(path))


def parse_ontology(raw: dict, source: str = "ontology") -> Ontology:
    """Build an Ontology from the plain data of the YAML file, checking every field."""
    tiers = {str(k): int(v) for k, v in raw["tiers"].items()}
    categories = dict(raw["categories"])
    test_only = set(raw.get("test_only", []))
    traits: dict[str, Trait] = {}
    seen: dict[str, str] = {}
    for trait_id, spec in raw["traits"].items():
        where = f"{source}: trait {trait_id!r}"
        category = spec.get("category")
        if category not in categories:
            raise OntologyError(f"{where}: unknown category {category!r}")
        phrasings: dict[str, tuple[str, ...]] = {}
        for stance in STANCES:
            listed = spec.get(stance) or []
            minimum = MIN_DEALBREAKERS if stance == "dealbreaker" else MIN_PHRASINGS
            if stance != "dealbreaker" or listed:
                if len(listed) < minimum:
                    raise OntologyError(f"{where}: {stance!r} has {len(listed)} phrasings; need {minimum}")
            for text in listed:
                if not isinstance(text, str) or not text.strip():
                    raise OntologyError(f"{where}: {stance!r} phrasing {text!r} is not text")
                if text.casefold() in seen:
                    raise OntologyError(f"{where}: phrasing {text!r} already used by {seen[text.casefold()]}")
                seen[text.casefold()] = f"{trait_id}/{stance}"
            if listed:
                phrasings[stance] = tuple(listed)
        traits[trait_id] = Trait(
            id=trait_id,
            category=category,
            tier=categories[category],
            pos_desc=spec["pos_desc"],
            neg_desc=spec["neg_desc"],
            phrasings=phrasings,
            test_only=trait_id in test_only,
        )
    unknown = test_only - set(traits)
    if unknown:
        raise OntologyError(f"{source}: test_only names unknown trait(s) {sorted(unknown)}")

    def trait_pair(pair: list, field: str) -> tuple[str, str]:
        a, b = pair
        for t in (a, b):
            if t not in traits:
                raise OntologyError(f"{source}: {field} entry {pair} names unknown trait {t!r}")
        return (a, b)

    near = []
    for entry in raw.get("near_misses", []):
        a, b = tuple(entry["a"]), tuple(entry["b"])
        trait_pair([a[0], b[0]], "near_misses")
        near.append(NearMiss(a=(a[0], a[1]), b=(b[0], b[1]), why=entry["why"]))
    return Ontology(
        tiers=tiers,
        traits=traits,
        antonyms=tuple(trait_pair(p, "antonyms") for p in raw.get("antonyms", [])),
        related=tuple(trait_pair(p, "related") for p in raw.get("related", [])),
        near_misses=tuple(near),
        fillers=tuple(raw.get("fillers", [])),
        pools=_pools(traits),
    )
