"""The synthetic data generator: ontology, rules, the weighted judge, determinism, held-out wording."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from compat.generator import stats
from compat.generator.dataset import write_dataset
from compat.generator.generate import generate, generate_split, parse_speakers
from compat.generator.ontology import MIN_PHRASINGS, OntologyError, load_ontology, parse_ontology
from compat.generator.rules import CONFLICT, MATCH, VETO, judge, relate
from compat.pairs import load_pairs, read_pairs, validate_pair

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def onto():
    return load_ontology()


@pytest.fixture(scope="module")
def dataset():
    """A 1,500-pair data set, made once for the module."""
    return generate(n=1500, seed=7)


def all_pairs(splits: dict) -> list[dict]:
    return [p for s in SPLITS for p in splits[s]]


# --- ontology -------------------------------------------------------------------------------------


def test_ontology_size_and_phrasings(onto):
    assert len(onto.traits) >= 60
    assert len({t.category for t in onto.traits.values()}) >= 8
    for trait in onto.traits.values():
        for stance in ("pos", "neg"):
            assert len(set(trait.phrasings[stance])) >= MIN_PHRASINGS, (trait.id, stance)
    assert sum("dealbreaker" in t.phrasings for t in onto.traits.values()) >= 10
    assert onto.antonyms and onto.related and onto.near_misses


def test_ontology_rejects_bad_data(onto):
    raw = {"tiers": {"values": 3}, "categories": {"values": "values"},
           "traits": {"x": {"category": "values", "pos_desc": "a", "neg_desc": "b", "pos": ["one"], "neg": ["two"]}}}
    with pytest.raises(OntologyError, match=r"trait 'x'.*'pos' has 1 phrasings"):
        parse_ontology(raw)


def test_phrasings_of_splits_are_disjoint(onto):
    for trait in onto.traits.values():
        for stance in trait.phrasings:
            pools = [set(onto.phrasings(trait.id, stance, s)) for s in SPLITS]
            assert not (pools[0] & pools[1] or pools[0] & pools[2] or pools[1] & pools[2])
            if trait.test_only:
                assert not pools[0] and not pools[1] and pools[2]
            else:
                assert all(pools), (trait.id, stance)


# --- rules ----------------------------------------------------------------------------------------


def test_same_trait_same_stance_is_compatible(onto):
    for t in onto.traits:
        assert relate(onto, (t, "pos"), (t, "pos")).kind == MATCH
        rel = relate(onto, (t, "neg"), (t, "neg"))
        assert rel.kind == MATCH and rel.rule == "shared_dislike"
        assert relate(onto, (t, "pos"), (t, "neg")).kind == CONFLICT


def test_antonyms_conflict_and_related_traits_match(onto):
    for a, b in onto.antonyms:
        assert relate(onto, (a, "pos"), (b, "pos")).rule == "antonym"
        assert relate(onto, (b, "pos"), (a, "pos")).kind == CONFLICT
        assert relate(onto, (a, "pos"), (b, "neg")).rule == "antonym_agreement"
    for a, b in onto.related:
        assert relate(onto, (a, "pos"), (b, "pos")).rule == "related"
        assert relate(onto, (b, "pos"), (a, "pos")).kind == MATCH


def test_dealbreaker_rules(onto):
    with_dealbreakers = [t for t, trait in onto.traits.items() if "dealbreaker" in trait.phrasings]
    for t in with_dealbreakers:
        assert relate(onto, (t, "dealbreaker"), (t, "pos")).kind == VETO
        assert relate(onto, (t, "pos"), (t, "dealbreaker")).kind == VETO
        assert relate(onto, (t, "dealbreaker"), (t, "neg")).rule == "dealbreaker_respected"


def test_near_misses_conflict(onto):
    for miss in onto.near_misses:
        rel = relate(onto, miss.a, miss.b)
        assert rel.rule == "near_miss" and rel.kind == CONFLICT and miss.why in rel.explanation


def test_judge_hand_built_cases(onto):
    # A dealbreaker outweighs several matches, even high-weight ones.
    v = judge(onto, [("smoker", "dealbreaker"), ("wants_kids", "pos"), ("religious", "pos"), ("hiking", "pos")],
              [("smoker", "pos"), ("wants_kids", "pos"), ("religious", "pos"), ("hiking", "pos")])
    assert v.label == 0 and "dealbreaker decides against 3 matches" in v.explanation
    # Values outweigh interests: agreeing on kids beats disagreeing on hiking.
    v = judge(onto, [("wants_kids", "pos"), ("hiking", "pos")], [("wants_kids", "pos"), ("hiking", "neg")])
    assert (v.label, v.score) == (1, 3 - 1)
    # ...and a values conflict beats two interest matches.
    v = judge(onto, [("religious", "pos"), ("reading", "pos"), ("movies", "pos")],
              [("religious", "neg"), ("reading", "pos"), ("movies", "pos")])
    assert (v.label, v.score) == (0, 1 + 1 - 3)
    # Lifestyle outweighs interests; an antonym is a conflict across traits.
    v = judge(onto, [("homebody", "pos"), ("hiking", "pos")], [("party_goer", "pos"), ("hiking", "pos")])
    assert (v.label, v.score) == (0, 1 - 2)
    # Equal weights cancel: undecided, never used as a label.
    v = judge(onto, [("hiking", "pos"), ("reading", "pos")], [("hiking", "pos"), ("reading", "neg")])
    assert v.label is None and v.score == 0
    # Nothing related: undecided.
    assert judge(onto, [("hiking", "pos")], [("religious", "pos")]).label is None
    # A respected dealbreaker is a match.
    assert judge(onto, [("smoker", "dealbreaker")], [("smoker", "neg")]).label == 1


# --- generated pairs ------------------------------------------------------------------------------


def test_schema_and_pair_validation(dataset):
    for split in SPLITS:
        for pair in dataset[split]:
            assert validate_pair(pair) is None
            assert list(pair)[:6] == ["text_1", "text_2", "label", "category", "subcategory", "pair_type"]
            assert pair["split"] == split and pair["explanation"]
            assert pair["text_1"].startswith("boy: ") and pair["text_2"].startswith("girl: ")


def test_labels_balanced_and_pair_types_present(dataset):
    for split in SPLITS:
        labels = Counter(p["label"] for p in dataset[split])
        assert 0.45 <= labels[1] / len(dataset[split]) <= 0.55
    types = {p["pair_type"] for p in all_pairs(dataset)}
    assert types >= {"compatible", "incompatible", "dealbreaker", "complex_compatible", "complex_incompatible",
                     "subtle_mismatch", "judged", "realistic"}


def test_every_label_agrees_with_its_rule(dataset, onto):
    for pair in all_pairs(dataset):
        a = list(zip(pair["trait_1"].split("+"), pair["stance_1"].split("+")))
        b = list(zip(pair["trait_2"].split("+"), pair["stance_2"].split("+")))
        assert judge(onto, a, b).label == pair["label"], pair
        if pair["rule"] == "same_stance" or pair["pair_type"] == "complex_compatible":
            assert pair["label"] == 1
        if pair["rule"] in ("dealbreaker", "antonym", "opposite_stance", "near_miss"):
            assert pair["label"] == 0
        if pair["rule"] in ("shared_dislike", "related"):
            assert pair["label"] == 1
        if any(s == "dealbreaker" and (t, "pos") in b for t, s in a) or any(
            s == "dealbreaker" and (t, "pos") in a for t, s in b
        ):
            assert pair["label"] == 0, pair  # a dealbreaker pair is never labeled 1


def test_held_out_wording_and_test_only_traits(dataset, onto):
    assert stats.unseen_share(stats.statements(dataset["test"]), stats.statements(dataset["train"])) >= 0.9
    assert stats.unseen_share(stats.statements(dataset["validation"]), stats.statements(dataset["train"])) >= 0.9
    test_only = {t for t, trait in onto.traits.items() if trait.test_only}
    traits_of = lambda pairs: {t for p in pairs for t in (p["trait_1"] + "+" + p["trait_2"]).split("+")}  # noqa: E731
    assert test_only & traits_of(dataset["test"])
    assert not test_only & (traits_of(dataset["train"]) | traits_of(dataset["validation"]))


def test_statement_diversity(dataset):
    pairs = all_pairs(dataset)
    assert len(pairs) == 1500
    found = stats.diversity(stats.statements(pairs))
    assert found["distinct_words"] >= 1000
    assert found["distinct_statements"] >= found["statements"] / 2


def test_speaker_options(onto):
    pairs = generate_split(onto, "validation", 40, seed=1, speakers="mixed")
    assert {p["text_1"].split(":")[0] for p in pairs} <= {"boy", "girl"}
    assert len({(p["text_1"].split(":")[0], p["text_2"].split(":")[0]) for p in pairs}) > 1
    bare = generate_split(onto, "validation", 10, seed=1, speakers="none")
    assert all(not p["text_1"].startswith(("boy:", "girl:")) for p in bare)
    assert parse_speakers("man,woman") == (("man", "woman"),)
    with pytest.raises(ValueError, match="speakers"):
        parse_speakers("just one")


# --- files ------------------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path):
    names = [f"{s}.jsonl" for s in SPLITS] + ["metadata.json"]
    write_dataset(tmp_path / "a" / "data", n=420, seed=3)
    write_dataset(tmp_path / "b" / "data", n=420, seed=3)
    for name in names:
        assert (tmp_path / "a" / "data" / name).read_bytes() == (tmp_path / "b" / "data" / name).read_bytes()
    write_dataset(tmp_path / "c" / "data", n=420, seed=4)
    train = "data/train.jsonl"
    assert (tmp_path / "c" / train).read_bytes() != (tmp_path / "a" / train).read_bytes()


def test_cli_writes_a_valid_data_set(tmp_path):
    out = tmp_path / "gen"
    run = subprocess.run([sys.executable, "-m", "compat", "generate", "--out", str(out), "--n", "140", "--seed", "2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["seed"] == 2 and meta["generator_version"] and meta["command"].endswith("--seed 2 --n 140")
    for split, n in (("train", 100), ("validation", 20), ("test", 20)):
        assert len(load_pairs(out / f"{split}.jsonl")) == n == meta["splits"][split]["n"]
    bad = subprocess.run([sys.executable, "-m", "compat", "generate", "--out", str(out), "--speakers", "a b c"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "speakers" in bad.stderr


def test_shipped_data_matches_its_command_and_metadata(tmp_path):
    meta = json.loads((ROOT / "data" / "metadata.json").read_text())
    assert meta["command"] == "python -m compat generate --out data --seed 0 --groups 1000"
    assert meta["held_out"]["test_statements_unseen_in_train"] >= 0.9
    write_dataset(tmp_path / "data", n=meta["n"], seed=meta["seed"], groups=meta["groups"]["n"],
                  group_routes=meta["groups"]["routes"])
    for name in ("train.jsonl", "validation.jsonl", "test.jsonl", "metadata.json", "train_groups.jsonl"):
        assert (tmp_path / "data" / name).read_bytes() == (ROOT / "data" / name).read_bytes(), name


def test_natural_pairs_are_independent_of_the_generator(onto):
    """At least 200 hand-written pairs, single statements and profiles, that contain no generator text:
    no hand-written phrasing or filler, no topic phrase of three words or more, and no frame's fixed
    words (runs of four words or more)."""
    import re

    from compat.generator.wording import load_wording

    found = read_pairs(ROOT / "data" / "natural_pairs.jsonl")
    assert not found.errors and not found.duplicates and len(found.pairs) >= 200
    assert 0.45 <= sum(p["label"] for p in found.pairs) / len(found.pairs) <= 0.55
    assert {p["pair_type"] for p in found.pairs} == {"natural_single", "natural_profile"}
    assert all(p["category"] in {t.category for t in onto.traits.values()} for p in found.pairs)

    def norm(text: str) -> str:
        return " " + " ".join(re.findall(r"[a-z0-9]+", text.casefold().replace("'", ""))) + " "

    wording = load_wording(onto)
    generator_text = {norm(p) for p in onto.all_phrasings()}
    generator_text |= {norm(t.text) for t in wording.topics if len(norm(t.text).split()) >= 3}
    for frame in wording.frames:
        generator_text |= {norm(piece) for piece in re.split(r"\{\w+\}", frame.text) if len(norm(piece).split()) >= 4}
    for statement in stats.statements(found.pairs):
        inside = [g.strip() for g in generator_text if g in norm(statement)]
        assert not inside, (statement, inside)
