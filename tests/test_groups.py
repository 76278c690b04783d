"""Stance groups (compat.generator.groups) and the supcon loss that trains on them."""

from __future__ import annotations

import json

import pytest
import torch

from compat.generator.groups import GROUPS_FILE, sides, stance_groups
from compat.generator.ontology import load_ontology
from compat.generator.wording import load_wording


def side_wordings(wording, trait: str, split: str, routes: str) -> tuple[set[str], set[str]]:
    pos, neg = sides(wording, trait, split, routes)
    return {w for ws in pos for w in ws}, {w for ws in neg for w in ws}


@pytest.mark.parametrize("routes", ["negation", "contrast", "all"])
def test_groups_take_each_side_from_train_wording_only(routes):
    onto = load_ontology()
    wording = load_wording(onto)
    groups = stance_groups(300, per_side=2, seed=3, routes=routes, fillers=0.0)  # fillers: the next test
    assert len(groups) == 300
    train_traits = set(onto.traits_in("train"))
    assert {g["trait"] for g in groups} == train_traits  # every train trait, no test-only trait
    held_out = {w for t in onto.traits for s in ("pos", "neg", "dealbreaker") for split in ("validation", "test")
                for ws in wording.pool((t, s), split).values() for w in ws}
    train = {w for t in train_traits for s in ("pos", "neg", "dealbreaker")
             for ws in wording.pool((t, s), "train").values() for w in ws}
    exact = 0
    for g in groups:
        pos, neg = side_wordings(wording, g["trait"], "train", routes)
        assert len(g["pos"]) == len(g["neg"]) == 2 and len(set(g["pos"] + g["neg"])) == 4
        assert not set(g["pos"] + g["neg"]) & (held_out - train)
        assert not set(g["pos"]) & neg and not set(g["neg"]) & pos
        assert g["antonyms"] == wording.antonyms_of(g["trait"])
        assert all((g["trait"], r) in onto.related or (r, g["trait"]) in onto.related for r in g["related"])
        exact += sum(t in pos for t in g["pos"]) + sum(t in neg for t in g["neg"])
    assert 0.86 < exact / (4 * len(groups)) < 0.97  # light surface noise changes ~8% of statements


def test_a_share_of_group_statements_is_said_beside_a_train_filler_sentence():
    onto = load_ontology()
    plain, dressed = stance_groups(200, seed=5, fillers=0.0), stance_groups(200, seed=5, fillers=0.6)
    train_fillers = onto.fillers_in("train")
    held_out = onto.fillers_in("validation") + onto.fillers_in("test")
    assert train_fillers and held_out
    changed = 0
    for before, after in zip(plain, dressed):
        assert before["trait"] == after["trait"]  # the share draws apart: the wordings stay the same
        for side in ("pos", "neg"):
            for text, said in zip(before[side], after[side]):
                if said == text:
                    continue
                changed += 1
                low = said.lower()  # a connector may lower-case a first letter
                assert text[1:].lower() in low, (text, said)
                assert sum(f[1:].lower() in low for f in train_fillers) >= 1, said
                assert not any(f[1:].lower() in low for f in held_out), said
    assert 0.5 < changed / (4 * len(plain)) < 0.7
    with pytest.raises(ValueError, match="filler share 1.5: must be between 0 and 1"):
        stance_groups(10, fillers=1.5)


def test_negation_routes_keep_to_the_traits_own_phrases():
    onto = load_ontology()
    wording = load_wording(onto)
    pos, neg = side_wordings(wording, "homebody", "train", "negation")
    pos_contrast, neg_contrast = side_wordings(wording, "homebody", "train", "contrast")
    pos_all, neg_all = side_wordings(wording, "homebody", "train", "all")
    assert pos < pos_contrast < pos_all and neg < neg_contrast < neg_all
    pool = wording.pool(("homebody", "pos"), "train")
    assert set(pool["like"]) <= pos and not set(pool["dislike_anti"]) & pos_contrast
    assert set(pool["contrast"]) <= pos_contrast and not set(pool["contrast"]) & pos
    party = wording.pool(("party_goer", "pos"), "train")
    assert set(party["like"]) <= neg_contrast and not set(party["like"]) & neg  # an antonym's side
    assert set(party["dislike_anti"]) <= neg_all and not set(party["dislike_anti"]) & neg_contrast


def test_generate_writes_groups_and_says_how(tmp_path):
    from compat.generator.dataset import write_dataset

    metadata = write_dataset(tmp_path, n=60, seed=1, groups=40, group_fillers=0.5)
    rows = [json.loads(line) for line in (tmp_path / GROUPS_FILE).read_text().splitlines()]
    assert len(rows) == 40 and metadata["groups"] == {"file": GROUPS_FILE, "n": 40, "per_side": 2,
                                                       "routes": "negation", "fillers": 0.5}
    assert metadata["command"].endswith("--groups 40 --group-fillers 0.5")
    assert any(row["related"] for row in rows)
    again = tmp_path / "again"
    write_dataset(again, n=60, seed=1, groups=40, group_fillers=0.5)
    assert (again / GROUPS_FILE).read_bytes() == (tmp_path / GROUPS_FILE).read_bytes()  # same seed, same bytes


@pytest.mark.parametrize("line, error", [
    ("{not json", "line 2: not JSON"),
    ('{"pos": ["a", "b"], "neg": ["c", "d"]}', "line 2: field 'trait' must be a non-empty string"),
    ('{"trait": "x", "pos": ["a", ""], "neg": ["c", "d"]}', "line 2: field 'pos' must be a list of non-empty"),
    ('{"trait": "x", "pos": ["a"], "neg": ["c"]}', "line 2: 'pos' and 'neg' must each hold 2 statements"),
    ('{"trait": "x", "pos": ["a", "b"], "neg": ["c", "d"], "antonyms": "y"}', "line 2: field 'antonyms'"),
    ('{"trait": "x", "pos": ["a", "b"], "neg": ["c", "d"], "related": [1]}', "line 2: field 'related'"),
])
def test_a_bad_groups_line_is_named(tmp_path, line, error):
    from compat.training.data import DataError, read_groups

    path = tmp_path / "groups.jsonl"
    path.write_text('{"trait": "w", "pos": ["a", "b"], "neg": ["c", "d"]}\n' + line + "\n")
    with pytest.raises(DataError, match=f"groups {path}, {error}"):
        read_groups(path)


class Fixed(torch.nn.Module):
    """Stands in for the encoder: a feature dict's "ids" index a fixed embedding table."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = table

    def forward(self, features):
        return {"sentence_embedding": self.table[features["ids"]]}


def loss_of(table: torch.Tensor, traits: list[int], conflicts: torch.Tensor, **kw) -> float:
    """The loss of a batch whose row r holds statements table[4r .. 4r+3] (2 pos, then 2 neg)."""
    from compat.training.losses import StanceSupConLoss

    loss = StanceSupConLoss(Fixed(table), conflicts, **kw)
    rows = len(traits)
    features = [{"ids": torch.arange(rows) * 4 + c} for c in range(4)]
    return float(loss(features, torch.tensor(traits)))


def test_supcon_is_low_when_sides_and_traits_are_apart_and_ignores_antonym_conflicts():
    torch.manual_seed(0)
    axes = torch.eye(8)
    # rows: trait 0 and trait 1; sides on opposite directions of each trait's own axis
    separated = torch.stack([axes[0], axes[0], -axes[0], -axes[0], axes[1], axes[1], -axes[1], -axes[1]])
    stance_blind = torch.stack([axes[0], axes[0], axes[0], axes[0], axes[1], axes[1], axes[1], axes[1]])
    topic_blind = torch.stack([axes[0], axes[0], -axes[0], -axes[0], axes[0], axes[0], -axes[0], -axes[0]])
    none = torch.zeros(2, 2, dtype=torch.bool)
    good = loss_of(separated, [0, 1], none)
    assert good < 0.01
    assert loss_of(stance_blind, [0, 1], none) > good + 1
    assert loss_of(topic_blind, [0, 1], none) > good + 0.5
    # trait 1 is trait 0's antonym: its pos side reads as trait 0's neg side, which is not penalised
    # once the two traits are marked as conflicting, and is without the mark
    antonym = torch.stack([axes[0], axes[0], -axes[0], -axes[0], -axes[0], -axes[0], axes[0], axes[0]])
    conflicts = torch.tensor([[False, True], [True, False]])
    assert loss_of(antonym, [0, 1], conflicts) < 0.01 < loss_of(antonym, [0, 1], none)
    # the stance term alone: only each statement's own trait counts
    assert loss_of(stance_blind, [0, 1], none) > loss_of(stance_blind, [0, 1], none, stance_weight=0.0) + 1
    assert loss_of(topic_blind, [0, 1], none) == pytest.approx(loss_of(topic_blind, [0, 1], none, stance_weight=0.0),
                                                               abs=0.01)


def test_a_wording_cap_draws_each_trait_and_stance_from_that_many_wordings(tmp_path):
    onto = load_ontology()
    wording = load_wording(onto)
    groups = stance_groups(600, seed=1, fillers=0.0, wordings=8)
    uncapped = stance_groups(600, seed=1, fillers=0.0)
    seen: dict[tuple[str, str], set[str]] = {}
    for g in groups:
        pos, neg = side_wordings(wording, g["trait"], "train", "negation")
        capped_pos, capped_neg = (set().union(*side) for side in sides(wording, g["trait"], "train", cap=8))
        for name, texts, full, kept in (("pos", g["pos"], pos, capped_pos), ("neg", g["neg"], neg, capped_neg)):
            exact = {t for t in texts if t in full}  # the rest carry surface noise
            assert exact <= kept
            seen.setdefault((g["trait"], name), set()).update(exact)
    # a side is one stance (pos) or two (neg and dealbreaker), each capped at 8
    assert max(len(s) for (_, side), s in seen.items() if side == "pos") <= 8
    assert max(len(s) for s in seen.values()) <= 16
    assert len({t for g in uncapped for t in g["pos"]}) > 8 * len(onto.traits_in("train"))  # the cap bites
    with pytest.raises(ValueError, match="wordings 1: a group takes 2 distinct wordings a side"):
        stance_groups(10, wordings=1)

    import subprocess
    import sys

    from compat.paths import REPO_ROOT

    run = subprocess.run([sys.executable, "-m", "compat", "generate", "--out", str(tmp_path), "--n", "140",
                          "--groups", "40", "--wordings", "8"], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert meta["groups"]["wordings"] == 8 and "--wordings 8 --groups 40" in meta["command"]
    assert meta["wording"] is None  # the pairs stay hand-written: the cap reaches the groups alone
    assert len((tmp_path / GROUPS_FILE).read_text().splitlines()) == 40
