"""The compositional wording engine: its data, the wordings per preference, and held-out frames and phrases."""

from __future__ import annotations

import random
import re
import statistics

import pytest
import yaml

from compat.generator import stats
from compat.generator.generate import generate
from compat.generator.ontology import SPLITS, load_ontology
from compat.generator.wording import (
    MIN_FRAMES,
    WORDING_DIR,
    WordingError,
    add_noise,
    load_wording,
    parse_frames,
    parse_topics,
)


@pytest.fixture(scope="module")
def onto():
    return load_ontology()


@pytest.fixture(scope="module")
def wording(onto):
    return load_wording(onto)


@pytest.fixture(scope="module")
def dataset():
    return generate(n=2100, seed=11, compose=True)


def prefs_of(onto):
    return [(t, s) for t, trait in onto.traits.items() for s in ("pos", "neg", "dealbreaker") if s in trait.phrasings]


def test_frames_and_topic_phrases_meet_the_minimums(onto, wording):
    kinds = {kind: sum(f.kind == kind for f in wording.frames) for kind in MIN_FRAMES}
    assert kinds["like"] >= 60 and kinds["dislike"] >= 60 and kinds["dealbreaker"] >= 30, kinds
    for trait in onto.traits:
        for form in ("noun", "verb", "identity", "partner"):
            pro = [t for t in wording.topics if t.trait == trait and t.pole == "pro" and t.form == form]
            assert len(pro) >= (8 if form in ("noun", "verb") else 4), (trait, form)


def test_at_least_500_distinct_wordings_per_trait_and_stance_on_average(onto, wording):
    counts = [wording.count(p) for p in prefs_of(onto)]
    assert statistics.mean(counts) >= 500, statistics.mean(counts)
    assert min(counts) >= 100
    # not only through contrast frames, which multiply two phrase lists
    plain = [len({w for s in SPLITS for r, ws in wording.pool(p, s).items() if r != "contrast" for w in ws})
             for p in prefs_of(onto)]
    assert statistics.mean(plain) >= 400, statistics.mean(plain)


def test_every_frame_and_topic_phrase_belongs_to_one_split(wording):
    for items, key in ((wording.frames, lambda f: f.text.casefold()), (wording.topics, lambda t: t.text.casefold())):
        by_split = {s: {key(x) for x in items if x.split == s} for s in SPLITS}
        assert all(by_split.values())
        assert not by_split["train"] & by_split["test"] and not by_split["train"] & by_split["validation"]
        assert not by_split["validation"] & by_split["test"]


def frame_pattern(text: str) -> re.Pattern:
    """A frame as a regex whose slots capture anything, to recognise a statement built from it."""
    parts = re.split(r"(\{(?:noun|verb|identity|partner|noun_b|verb_b)\})", text)
    body = "".join("(.+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(body, re.IGNORECASE)


def test_no_test_statement_is_a_train_frame_filled_with_a_train_phrase(dataset, wording):
    """Held out by construction: a test statement built from a train frame with a train topic phrase
    in its slot would be train wording in disguise; there is none, and none equals a train wording."""
    train_topics = {t.text.casefold() for t in wording.topics if t.split == "train"}
    train_frames = [frame_pattern(f.text[0].upper() + f.text[1:]) for f in wording.frames if f.split == "train"]
    test_statements = set(stats.statements(dataset["test"]))
    test_frames = [frame_pattern(f.text[0].upper() + f.text[1:]) for f in wording.frames if f.split == "test"]
    recognised = sum(any(p.fullmatch(s) for p in test_frames) for s in test_statements)
    assert recognised > len(test_statements) / 4  # the check below does see composed statements
    for statement in test_statements:
        for pattern in train_frames:
            match = pattern.fullmatch(statement)
            if match:
                assert not any(g.casefold() in train_topics for g in match.groups()), (statement, pattern.pattern)
    train_statements = {s.casefold() for s in stats.statements(dataset["train"])}
    assert not {s.casefold() for s in test_statements} & train_statements


def test_stances_are_said_affirmatively_and_through_contrast(wording):
    pool = wording.pool(("frugal", "neg"), "train")
    assert {"dislike", "like_anti", "contrast", "hand"} <= set(pool)
    saver = [t.text for t in wording.topics if t.trait == "frugal" and t.pole == "anti" and t.split == "train"]
    assert any(any(p in w for p in saver) for w in pool["like_anti"])  # "I love <spending>" is neg frugal
    assert set(wording.pool(("smoker", "dealbreaker"), "train")) == {"dealbreaker", "hand"}
    assert not wording.pool(("hiking", "dealbreaker"), "train")  # no dealbreaker stance for hiking


def test_test_only_traits_have_wording_in_test_alone(onto, wording):
    for trait in (t for t, tr in onto.traits.items() if tr.test_only):
        assert wording.pool((trait, "pos"), "test") and not wording.pool((trait, "pos"), "train")


def test_wording_cap_limits_train_wordings(onto, wording):
    capped = wording.capped_pool(("homebody", "pos"), "train", 8)
    assert sum(map(len, capped.values())) == 8 and len(capped) >= 3  # spread over routes
    assert wording.capped_pool(("homebody", "pos"), "train", 8) == capped  # the same every time
    splits = generate(n=700, seed=2, wordings=4, compose=True)
    single = [p for p in splits["train"] if p["pair_type"] in ("compatible", "incompatible", "dealbreaker")
              and "+" not in p["trait_1"]]
    by_pref: dict = {}
    for p in single:
        by_pref.setdefault((p["trait_1"], p["stance_1"]), set()).add(p["text_1"].split(": ", 1)[1].lower())
    # at most 4 wordings each, but noise can add a variant (a typo, an emoji, no apostrophes)
    assert max(len(v) for v in by_pref.values()) <= 8


def test_surface_noise_is_light_and_seeded():
    text = "I'd rather stay in than go clubbing tonight"
    rng_a, rng_b = random.Random(1), random.Random(1)
    variants = {add_noise(text, rng_a) for _ in range(40)}
    assert variants == {add_noise(text, rng_b) for _ in range(40)}
    assert len(variants) >= 4 and text not in variants
    assert all(len(v) >= len(text) - 2 for v in variants)


def test_malformed_wording_data_is_named(onto, tmp_path):
    frames = yaml.safe_load((WORDING_DIR / "frames.yaml").read_text())
    with pytest.raises(WordingError, match=r"like\[0\] 'I love it': needs exactly one slot"):
        parse_frames({**frames, "like": ["I love it"] + frames["like"]}, "frames.yaml")
    with pytest.raises(WordingError, match=r"contrast\[0\].*same form"):
        parse_frames({**frames, "contrast": ["{noun} over {verb_b}"] + frames["contrast"]}, "frames.yaml")
    with pytest.raises(WordingError, match=r"'like' has 1 frames; need 60"):
        parse_frames({**frames, "like": ["I love {noun}"]}, "frames.yaml")
    with pytest.raises(WordingError, match="topics_x.yaml: unknown trait 'knitting'"):
        parse_topics({"knitting": {}}, onto, "topics_x.yaml", {})
    with pytest.raises(WordingError, match=r"topics_x.yaml: homebody.pro.noun: 1 phrases; need 8"):
        parse_topics({"homebody": {"pro": {"noun": ["naps"]}}}, onto, "topics_x.yaml", {})
    (tmp_path / "frames.yaml").write_text(yaml.safe_dump(frames))
    with pytest.raises(WordingError, match="no topic phrases for trait"):
        load_wording(onto, tmp_path)


def test_a_topic_phrase_that_speaks_for_someone_is_refused_by_name(onto):
    """Frames say who holds a stance; "a fellow homebody" inside "I'd never date {partner}" would say the
    speaker is a homebody while the label says they rule one out, so such a phrase never loads."""
    homebody = yaml.safe_load((WORDING_DIR / "topics_lifestyle.yaml").read_text())["homebody"]
    for form, phrase, word in (("partner", "a fellow homebody", "fellow"), ("noun", "naps with my cat", "my"),
                               ("verb", "stay in with you", "you")):
        pro = {**homebody["pro"], form: [phrase, *homebody["pro"][form]]}
        with pytest.raises(WordingError, match=rf"topics_x.yaml: homebody.pro.{form}\[0\]: '{phrase}' says '{word}'"):
            parse_topics({"homebody": {**homebody, "pro": pro}}, onto, "topics_x.yaml", {})
    assert parse_topics({"homebody": homebody}, onto, "topics_x.yaml", {})  # the shipped phrases pass


def test_generate_cli_composes_only_when_asked(tmp_path):
    import json
    import subprocess
    import sys

    from compat.paths import REPO_ROOT

    def generate_cli(*flags: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "compat", "generate", "--n", "140", "--seed", "3", *flags],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)

    run = generate_cli("--out", str(tmp_path / "c"), "--compose", "--wordings", "16")
    assert run.returncode == 0, run.stderr
    meta = json.loads((tmp_path / "c" / "metadata.json").read_text())
    assert meta["command"].endswith("--n 140 --compose --wordings 16") and meta["wording"]["train_cap"] == 16
    assert meta["wording"]["wordings_per_preference"]["mean"] >= 500
    plain = generate_cli("--out", str(tmp_path / "h"))
    assert plain.returncode == 0 and json.loads((tmp_path / "h" / "metadata.json").read_text())["wording"] is None
    bad = generate_cli("--out", str(tmp_path / "x"), "--wordings", "16")
    assert bad.returncode == 2 and "--wordings" in bad.stderr and "--compose" in bad.stderr
