"""A whole generated data set on disk: the three split files and metadata.json, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

from compat.generator import stats
from compat.generator.generate import DEFAULT_N, GENERATOR_VERSION, generate
from compat.generator.groups import FILLER_SHARE, GROUP_SIDE, GROUPS_FILE, write_groups
from compat.generator.ontology import SPLITS, load_ontology
from compat.generator.wording import load_wording
from compat.pairs import atomic_write, write_pairs


def build_metadata(splits: dict[str, list[dict]], n: int, seed: int, speakers: str, out_name: str,
                   wordings: int | None = None, compose: bool = False, groups: int = 0,
                   group_routes: str = "negation", group_fillers: float = FILLER_SHARE) -> dict:
    """Counts, diversity and held-out shares of a generated data set, plus how to regenerate it."""
    onto = load_ontology()
    command = f"python -m compat generate --out {out_name} --seed {seed}"
    if n != DEFAULT_N:
        command += f" --n {n}"
    if speakers != "boy,girl":
        command += f" --speakers {speakers}"
    if compose:
        command += " --compose"
    if wordings is not None:
        command += f" --wordings {wordings}"
    if groups:
        command += f" --groups {groups}" + (f" --group-routes {group_routes}" if group_routes != "negation" else "")
        command += f" --group-fillers {group_fillers:g}" if group_fillers != FILLER_SHARE else ""
    test_only = sorted(t for t, trait in onto.traits.items() if trait.test_only)
    texts = {s: stats.statements(splits[s]) for s in SPLITS}
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "n": n,
        "speakers": speakers,
        "command": command,
        "ontology": {
            "traits": len(onto.traits),
            "categories": sorted({t.category for t in onto.traits.values()}),
            "phrasings": sum(len(ps) for t in onto.traits.values() for ps in t.phrasings.values()),
            "antonym_pairs": len(onto.antonyms),
            "related_pairs": len(onto.related),
            "near_misses": len(onto.near_misses),
            "test_only_traits": test_only,
        },
        "held_out": {
            "test_statements_unseen_in_train": stats.unseen_share(texts["test"], texts["train"]),
            "validation_statements_unseen_in_train": stats.unseen_share(texts["validation"], texts["train"]),
            "test_pairs_with_test_only_traits": sum(
                any(t in test_only for t in (p["trait_1"] + "+" + p["trait_2"]).split("+")) for p in splits["test"]
            ),
        },
        "wording": stats.wording_summary(load_wording(onto), wordings) if compose else None,
        **({"groups": {"file": GROUPS_FILE, "n": groups, "per_side": GROUP_SIDE, "routes": group_routes,
                       "fillers": group_fillers, **({"wordings": wordings} if wordings else {})}} if groups else {}),
        "splits": {s: {**stats.counts(splits[s]), "diversity": stats.diversity(texts[s])} for s in SPLITS},
        "diversity_all": stats.diversity([t for s in SPLITS for t in texts[s]]),
    }


def write_dataset(out: str | Path, n: int = DEFAULT_N, seed: int = 0, speakers: str = "boy,girl",
                  wordings: int | None = None, compose: bool = False, groups: int = 0,
                  group_routes: str = "negation", group_fillers: float = FILLER_SHARE) -> dict:
    """Generate and write train/validation/test.jsonl and metadata.json into `out` (and `groups` stance
    groups of the train split's wording into train_groups.jsonl); returns the metadata. `wordings` caps the
    train split's distinct wordings per preference, of composed pairs and of groups alike."""
    out = Path(out)
    splits = generate(n=n, seed=seed, speakers=speakers, wordings=wordings, compose=compose)
    metadata = build_metadata(splits, n, seed, speakers, out.name or str(out), wordings, compose, groups,
                              group_routes, group_fillers)
    for split in SPLITS:
        write_pairs(out / f"{split}.jsonl", splits[split])
    if groups:
        write_groups(out, groups, GROUP_SIDE, seed, group_routes, group_fillers, wordings)
    atomic_write(out / "metadata.json", json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
    return metadata
