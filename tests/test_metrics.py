"""compat.evaluation.metrics against hand-computed values and scipy/sklearn on known cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from compat.evaluation.metrics import (
    auc_without_top_component,
    best_threshold,
    classification_at,
    cohens_d,
    pair_metrics,
    recall_at_k,
    roc_auc,
    welch_t,
)

PERFECT = ([0.9, 0.8, 0.7, 0.3, 0.2, 0.1], [1, 1, 1, 0, 0, 0])
INVERTED = ([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [1, 1, 1, 0, 0, 0])
TIES = ([0.5, 0.5, 0.5, 0.8, 0.2, 0.5], [1, 0, 1, 1, 0, 0])


def random_case(seed: int = 0, n: int = 300):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.normal(0.3, 0.15, n) + 0.1 * y
    return s, y


def test_cohens_d_by_hand():
    # compatible [0.9, 0.7] mean 0.8 var 0.02; incompatible [0.4, 0.2, 0.3] mean 0.3 var 0.01
    # pooled var = (1*0.02 + 2*0.01) / 3 = 0.04/3; d = 0.5 / sqrt(0.04/3)
    d = cohens_d([0.9, 0.7, 0.4, 0.2, 0.3], [1, 1, 0, 0, 0])
    assert d == pytest.approx(0.5 / math.sqrt(0.04 / 3))
    assert cohens_d(*INVERTED) == pytest.approx(-cohens_d(*PERFECT))
    assert cohens_d(*PERFECT) > 0


def test_welch_matches_scipy():
    for s, y in (PERFECT, INVERTED, TIES, random_case()):
        s, y = np.asarray(s), np.asarray(y)
        expected = stats.ttest_ind(s[y == 1], s[y == 0], equal_var=False)
        t, p = welch_t(s, y)
        assert t == pytest.approx(expected.statistic)
        assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_auc_matches_sklearn_including_ties():
    assert roc_auc(*PERFECT) == 1.0
    assert roc_auc(*INVERTED) == 0.0
    # ties: hand count over the 9 (compatible, incompatible) pairs: wins 3+... checked against sklearn
    assert roc_auc(*TIES) == pytest.approx(roc_auc_score(TIES[1], TIES[0]))
    assert roc_auc([0.5, 0.5], [1, 0]) == 0.5  # one tie counts one half
    s, y = random_case(1)
    assert roc_auc(s, y) == pytest.approx(roc_auc_score(y, s))
    s = np.round(s, 1)  # many ties
    assert roc_auc(s, y) == pytest.approx(roc_auc_score(y, s))


def test_best_threshold_perfect_is_midpoint_of_the_gap():
    assert best_threshold(*PERFECT) == pytest.approx(0.5)
    assert classification_at(*PERFECT, 0.5)["accuracy"] == 1.0


def test_best_threshold_is_the_best_accuracy_and_prefers_the_widest_gap():
    s, y = random_case(2)
    t = best_threshold(s, y)
    acc = classification_at(s, y, t)["accuracy"]
    # brute force over every observed value as a threshold: nothing beats it
    assert acc >= max(np.mean((s >= c) == (y == 1)) for c in s) - 1e-12
    # tie: sorted 0.1(0) 0.15(1) 0.6(0) 0.9(1). Cutting at 0.125 or at 0.75 both get 3/4 right (0.375
    # gets 2/4); 0.6..0.9 is the wider gap, so 0.75 wins although 0.125 is lower.
    tie = ([0.9, 0.1, 0.6, 0.15], [1, 0, 0, 1])
    assert best_threshold(*tie) == pytest.approx(0.75)
    # equal gaps too: the lowest wins
    assert best_threshold([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1]) == pytest.approx(0.15)


def test_classification_matches_sklearn():
    s, y = random_case(3)
    t = 0.35
    got = classification_at(s, y, t)
    pred = (s >= t).astype(int)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert got["f1"] == pytest.approx(f1_score(y, pred))
    assert got["precision"] == pytest.approx(precision_score(y, pred))
    assert got["recall"] == pytest.approx(recall_score(y, pred))
    nothing = classification_at(s, y, 5.0)  # nothing predicted compatible
    assert nothing["precision"] == 0.0 and nothing["f1"] == 0.0 and nothing["recall"] == 0.0


@pytest.mark.parametrize(
    "sims, labels, message",
    [
        ([0.1, 0.2, 0.3], [1, 1, 1], "all 3 pairs are compatible"),
        ([0.1, 0.2], [0, 0], "all 2 pairs are incompatible"),
        ([0.1], [1], "at least 2"),
        ([], [], "at least 2"),
        ([0.1, 0.2], [1, 2], "label at index 1"),
        ([0.1, float("nan")], [1, 0], "similarity at index 1"),
        ([0.1, 0.2, 0.3], [1, 0], "same length"),
    ],
)
def test_bad_input_is_a_clear_error(sims, labels, message):
    for fn in (cohens_d, welch_t, roc_auc, best_threshold, pair_metrics):
        with pytest.raises(ValueError, match=message):
            fn(sims, labels)


def test_pair_metrics_keys_and_threshold_source():
    s, y = random_case(4)
    own = pair_metrics(s, y)
    assert own["threshold_source"] == "this data"
    assert own["threshold"] == best_threshold(s, y)
    assert own["margin"] == pytest.approx(own["mean_compatible"] - own["mean_incompatible"])
    given = pair_metrics(s, y, threshold=0.3)
    assert given["threshold_source"] == "validation" and given["threshold"] == 0.3
    for key in ("n", "auc", "cohen_d", "t_stat", "p_value", "margin", "mean_compatible",
                "mean_incompatible", "accuracy", "f1", "threshold"):
        assert key in own
    inverted = pair_metrics(*INVERTED)
    assert inverted["auc"] == 0.0 and inverted["cohen_d"] < 0 and inverted["margin"] < 0


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_recall_at_k_constructed():
    # text_2 candidates are 4 directions; pair i's partner is candidate i.
    e2 = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]])
    e1 = _unit([
        [1, 0.1, 0],    # pair 0: partner (cand 0) is nearest -> rank 1
        [1, 0.5, 0],    # pair 1: cand 0 (.89) and cand 3 (.87) beat cand 1 (.45) -> rank 3
        [0, 0, 1],      # pair 2: incompatible; ignored as a query, still a candidate
        [1, 1, 1],      # pair 3: partner identical -> rank 1
    ])
    labels = [1, 1, 0, 1]
    got = recall_at_k(e1, e2, labels, ks=(1, 2, 3))
    assert got == {1: pytest.approx(2 / 3), 2: pytest.approx(2 / 3), 3: 1.0}


def test_recall_at_k_ties_and_repeated_statements():
    collapsed = np.ones((3, 2), dtype=np.float32) / np.sqrt(2)
    assert recall_at_k(collapsed, collapsed, [1, 1, 1], ks=(1,)) == {1: 0.0}  # ties do not help
    # the same text_2 statement twice: with candidate_ids it is one candidate, so the partner ranks 1
    e1 = _unit([[1, 0], [1, 0], [0, 1]])
    e2 = _unit([[1, 0], [1, 0], [0, 1]])
    assert recall_at_k(e1, e2, [1, 1, 1], ks=(1,))[1] == pytest.approx(1 / 3)  # the twins tie
    assert recall_at_k(e1, e2, [1, 1, 1], ks=(1,), candidate_ids=["a", "a", "b"])[1] == 1.0
    with pytest.raises(ValueError, match="at least one compatible"):
        recall_at_k(e1, e2, [0, 0, 0])


def _stance_statements(topics: int, per_topic_sign) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Two wordings of each side (for, against) of each topic, embedded as topic direction + side times
    stance vector `per_topic_sign(t)` + wording noise; pairs: same side (1) and opposite sides (0)."""
    rng = np.random.default_rng(0)
    topic = np.linalg.qr(rng.normal(size=(256, topics)))[0].T  # orthonormal topic directions
    stance_axis = rng.normal(size=(topics + 1, 256)) / 16
    rows, pairs = [], []
    for t in range(topics):
        for side in (1, 1, -1, -1):
            rows.append(topic[t] + side * stance_axis[per_topic_sign(t)] + rng.normal(size=256) / 32)
        p1, p2, n1, n2 = range(4 * t, 4 * t + 4)
        pairs += [(p1, p2, 1), (n1, n2, 1), (p1, n1, 0), (p2, n2, 0)]
    x = np.array(rows)
    return x / np.linalg.norm(x, axis=1, keepdims=True), pairs


def test_auc_without_top_component_tells_one_global_axis_from_stance_per_topic():
    # one stance axis shared by every topic: separable, and nothing left once that axis is gone
    x, pairs = _stance_statements(60, lambda t: 0)
    i1, i2, y = map(np.array, zip(*pairs))
    assert roc_auc(np.einsum("ij,ij->i", x[i1], x[i2]), y) == 1.0
    assert auc_without_top_component(x, i1, i2, y) == pytest.approx(0.5, abs=0.05)
    # a stance direction of its own per topic: removing one direction leaves the separation
    x, pairs = _stance_statements(60, lambda t: t + 1)
    i1, i2, y = map(np.array, zip(*pairs))
    assert auc_without_top_component(x, i1, i2, y) > 0.95
    with pytest.raises(ValueError, match="at least 2 statements"):
        auc_without_top_component(x[:1], [0], [0], [1])
