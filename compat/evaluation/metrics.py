"""Separation metrics of cosine similarities between compatible (label 1) and incompatible (label 0) pairs.

Every function takes `similarities` (one cosine per pair) and `labels` (0/1 per pair) as sequences or
numpy arrays. Signs follow docs/conventions.md: differences are compatible minus incompatible, so positive
is good. Inputs with fewer than 2 pairs, or with only one class, raise ValueError: none of these
numbers means anything without both kinds of pair.

Only numpy at import time; scipy.special (for Welch's p) is imported when needed.
"""

from __future__ import annotations

import math
from typing import Hashable, Sequence

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


def check_pairs(similarities: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validated (similarities as float64, labels as int8) arrays; raises ValueError saying what is wrong."""
    s = np.asarray(similarities, dtype=np.float64).reshape(-1)
    raw = np.asarray(labels).reshape(-1)
    if s.shape != raw.shape:
        raise ValueError(f"{s.size} similarities but {raw.size} labels; they must be the same length")
    if s.size < 2:
        raise ValueError(f"need at least 2 pairs to compare, got {s.size}")
    if not np.all(np.isfinite(s)):
        bad = int(np.flatnonzero(~np.isfinite(s))[0])
        raise ValueError(f"similarity at index {bad} is {s[bad]}; all must be finite numbers")
    if raw.dtype == bool:
        raw = raw.astype(np.int8)
    if not np.issubdtype(raw.dtype, np.number) or not np.all(np.isin(raw, (0, 1))):
        bad = next(i for i, v in enumerate(raw.tolist()) if v not in (0, 1) or isinstance(v, str))
        raise ValueError(f"label at index {bad} is {raw[bad]!r}; labels must be 0 or 1")
    y = raw.astype(np.int8)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        only = "compatible (1)" if n_pos else "incompatible (0)"
        raise ValueError(
            f"all {y.size} pairs are {only}; these metrics need both compatible and incompatible pairs"
        )
    return s, y


def _groups(similarities: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s, y = check_pairs(similarities, labels)
    return s[y == 1], s[y == 0]


def cohens_d(similarities: ArrayLike, labels: ArrayLike) -> float:
    """Cohen's d: (mean compatible - mean incompatible) / pooled standard deviation.

    Pooled sd = sqrt(((n1-1) var1 + (n0-1) var0) / (n1 + n0 - 2)) with sample variances (ddof=1).
    Returns nan when there is only one pair per class (no spread to pool), and +-inf when both classes
    have zero spread but different means (perfectly separated constants).
    """
    pos, neg = _groups(similarities, labels)
    diff = float(pos.mean() - neg.mean())
    dof = pos.size + neg.size - 2
    if dof == 0:
        return float("nan")
    ss = (pos.size - 1) * (pos.var(ddof=1) if pos.size > 1 else 0.0)
    ss += (neg.size - 1) * (neg.var(ddof=1) if neg.size > 1 else 0.0)
    pooled = math.sqrt(ss / dof)
    if pooled == 0.0:
        return 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
    return diff / pooled


def welch_t(similarities: ArrayLike, labels: ArrayLike) -> tuple[float, float]:
    """Welch's unequal-variance t-test, compatible minus incompatible: (t statistic, two-sided p).

    Matches scipy.stats.ttest_ind(compatible, incompatible, equal_var=False). A class of one pair has
    no variance estimate, so (nan, nan) then; zero variance in both classes gives (+-inf, 0) for
    different means and (nan, nan) for equal ones.
    """
    pos, neg = _groups(similarities, labels)
    if pos.size < 2 or neg.size < 2:
        return float("nan"), float("nan")
    diff = float(pos.mean() - neg.mean())
    v1, v0 = pos.var(ddof=1) / pos.size, neg.var(ddof=1) / neg.size
    se2 = v1 + v0
    if se2 == 0.0:
        return (float("nan"), float("nan")) if diff == 0.0 else (math.copysign(math.inf, diff), 0.0)
    t = diff / math.sqrt(se2)
    # Welch–Satterthwaite degrees of freedom
    df = se2**2 / (v1**2 / (pos.size - 1) + v0**2 / (neg.size - 1))
    from scipy.special import stdtr

    p = float(2.0 * stdtr(df, -abs(t)))
    return float(t), min(1.0, p)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of `values`, tied values sharing the mean of their ranks (scipy rankdata 'average')."""
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    # start index of each run of equal values
    starts = np.flatnonzero(np.r_[True, sorted_vals[1:] != sorted_vals[:-1]])
    ends = np.r_[starts[1:], values.size]
    run_rank = (starts + ends + 1) / 2.0  # mean of 1-based ranks starts+1 .. ends
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(run_rank, ends - starts)
    return ranks


def roc_auc(similarities: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve: the chance a random compatible pair scores above a random incompatible one.

    Computed as the Mann–Whitney U statistic over average ranks, so a tie counts one half
    (equals sklearn.metrics.roc_auc_score).
    """
    s, y = check_pairs(similarities, labels)
    ranks = average_ranks(s)
    n1 = int(y.sum())
    n0 = y.size - n1
    u = ranks[y == 1].sum() - n1 * (n1 + 1) / 2.0
    return float(u / (n1 * n0))


def threshold_accuracies(similarities: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every distinct decision threshold with its accuracy and the width of the gap it sits in.

    A pair is predicted compatible when similarity >= threshold. Candidates are: the lowest similarity
    (everything compatible), the midpoint between each two neighbouring distinct similarities, and just
    above the highest (nothing compatible). The two end candidates get gap 0.
    """
    s, y = check_pairs(similarities, labels)
    order = np.argsort(s, kind="mergesort")
    s, y = s[order], y[order]
    n = s.size
    # cut i: pairs [0, i) predicted incompatible, [i, n) compatible; only cuts between distinct values
    cuts = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1, n]
    neg_below = np.r_[0, np.cumsum(1 - y)][cuts]  # correct incompatible predictions
    pos_above = int(y.sum()) - np.r_[0, np.cumsum(y)][cuts]  # correct compatible predictions
    accuracy = (neg_below + pos_above) / n
    thresholds = np.empty(cuts.size, dtype=np.float64)
    gaps = np.zeros(cuts.size, dtype=np.float64)
    inner = cuts[1:-1]
    lo, hi = s[inner - 1], s[inner]
    mid = lo + (hi - lo) / 2.0
    thresholds[1:-1] = np.where(mid > lo, mid, hi)  # guard against float rounding onto the lower value
    gaps[1:-1] = hi - lo
    thresholds[0] = s[0]
    thresholds[-1] = np.nextafter(s[-1], np.inf)
    return thresholds, accuracy, gaps


def best_threshold(similarities: ArrayLike, labels: ArrayLike) -> float:
    """The similarity threshold (predict compatible when similarity >= threshold) with the best accuracy.

    Tie rule: among equally accurate thresholds, the one in the widest gap between neighbouring
    similarities (the most room on both sides, so it carries over best to new data; gaps within 1e-9
    count as equal); if still tied, the lowest. Thresholds are midpoints between neighbouring distinct
    similarities, so on perfectly separated data the result is halfway between the top incompatible and
    bottom compatible score.
    """
    thresholds, accuracy, gaps = threshold_accuracies(similarities, labels)
    best = np.flatnonzero(accuracy == accuracy.max())
    widest = best[gaps[best] >= gaps[best].max() - 1e-9]  # float noise must not break an equal-gap tie
    return float(thresholds[widest[0]])


def classification_at(similarities: ArrayLike, labels: ArrayLike, threshold: float) -> dict:
    """Accuracy, F1, precision and recall of "compatible when similarity >= threshold".

    Precision (and so F1) is 0 when nothing is predicted compatible, as sklearn's zero_division=0.
    Also returns the confusion counts tp, fp, tn, fn and the threshold.
    """
    s, y = check_pairs(similarities, labels)
    if not math.isfinite(float(threshold)):
        raise ValueError(f"threshold must be a finite number, got {threshold}")
    pred = s >= float(threshold)
    truth = y == 1
    tp = int(np.sum(pred & truth))
    fp = int(np.sum(pred & ~truth))
    fn = int(np.sum(~pred & truth))
    tn = int(np.sum(~pred & ~truth))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": (tp + tn) / y.size,
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "threshold": float(threshold),
        "tp": tp, "fp": fp, "tn": tn, "fn": fn,
    }


def recall_at_k(
    emb_1: np.ndarray,
    emb_2: np.ndarray,
    labels: ArrayLike,
    ks: Sequence[int] = (1, 5, 10),
    *,
    candidate_ids: Sequence[Hashable] | None = None,
    block: int = 1024,
) -> dict[int, float]:
    """Share of compatible pairs whose partner ranks in the top k among all text_2 statements.

    Row i of `emb_1` and `emb_2` are the two statements of pair i (L2-normalised, so dot = cosine).
    For each compatible pair i, the candidates are the text_2 statements of every pair in the file
    (compatible or not); the partner's rank is 1 + the number of *other* candidates scoring at least as
    high (ties count against the partner, so a model mapping everything to one point scores 0, not 1).
    `candidate_ids` (e.g. the cleaned text_2 of each pair) merges repeated statements into one
    candidate, so a statement appearing in several pairs does not compete with itself.
    """
    e1 = np.asarray(emb_1, dtype=np.float32)
    e2 = np.asarray(emb_2, dtype=np.float32)
    y = np.asarray(labels).reshape(-1)
    if e1.ndim != 2 or e1.shape != e2.shape or e1.shape[0] != y.size:
        raise ValueError(
            f"emb_1 {e1.shape}, emb_2 {e2.shape} and labels ({y.size},) must describe the same pairs"
        )
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError("labels must be 0 or 1")
    ks = tuple(int(k) for k in ks)
    if any(k < 1 for k in ks):
        raise ValueError(f"every k must be >= 1, got {ks}")
    compatible = np.flatnonzero(y == 1)
    if compatible.size == 0:
        raise ValueError("recall@k needs at least one compatible (label 1) pair")
    if candidate_ids is None:
        column_of = np.arange(y.size)  # pair i's text_2 is candidate column i
        candidates = e2
    else:
        if len(candidate_ids) != y.size:
            raise ValueError(f"{len(candidate_ids)} candidate_ids for {y.size} pairs")
        first: dict[Hashable, int] = {}
        column_of = np.array([first.setdefault(c, len(first)) for c in candidate_ids])
        keep = np.unique(column_of, return_index=True)[1]
        candidates = e2[keep]
    ranks = np.empty(compatible.size, dtype=np.int64)
    for start in range(0, compatible.size, block):
        rows = compatible[start:start + block]
        scores = e1[rows] @ candidates.T  # (rows, candidates)
        partner = scores[np.arange(rows.size), column_of[rows]]
        ranks[start:start + block] = (scores >= partner[:, None]).sum(axis=1)  # includes the partner
    return {k: float(np.mean(ranks <= k)) for k in ks}


def auc_without_top_component(embeddings: np.ndarray, index_1: ArrayLike, index_2: ArrayLike,
                              labels: ArrayLike) -> float:
    """ROC-AUC of the pairs once the first principal component of the statements is projected out.

    `embeddings` holds each distinct statement once; pair i is (index_1[i], index_2[i]). The statements
    are centred, their top principal direction removed, re-normalised, and the pairs' cosines ranked
    again. Why: a model can separate compatible from incompatible pairs along one direction alone, a
    global "likes / dislikes" axis, which cannot tell "I love nights out" from "I love nights in". When
    this figure falls to chance while `auc` does not, that one axis is all the model learnt.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need the embeddings of at least 2 statements, got shape {x.shape}")
    centred = x - x.mean(axis=0)
    top = np.linalg.eigh(centred.T @ centred)[1][:, -1]  # (dim x dim): cheap for any number of statements
    rest = x - np.outer(x @ top, top)
    rest /= np.maximum(np.linalg.norm(rest, axis=1, keepdims=True), 1e-12)
    i1, i2 = np.asarray(index_1), np.asarray(index_2)
    return roc_auc(np.einsum("ij,ij->i", rest[i1], rest[i2]), labels)


def pair_metrics(similarities: ArrayLike, labels: ArrayLike, threshold: float | None = None) -> dict:
    """All separation statistics of one set of pairs, with the keys of `evaluate --json`.

    `threshold`: the decision threshold chosen on a validation set; when None it is chosen on this data
    with best_threshold (optimistic) and `threshold_source` says "this data" instead of "validation".
    """
    s, y = check_pairs(similarities, labels)
    pos, neg = s[y == 1], s[y == 0]
    t_stat, p_value = welch_t(s, y)
    source = "validation" if threshold is not None else "this data"
    chosen = float(threshold) if threshold is not None else best_threshold(s, y)
    at = classification_at(s, y, chosen)
    return {
        "n": int(s.size),
        "n_compatible": int(pos.size),
        "n_incompatible": int(neg.size),
        "auc": roc_auc(s, y),
        "cohen_d": cohens_d(s, y),
        "t_stat": t_stat,
        "p_value": p_value,
        "margin": float(pos.mean() - neg.mean()),
        "mean_compatible": float(pos.mean()),
        "mean_incompatible": float(neg.mean()),
        "std_compatible": float(pos.std(ddof=1)) if pos.size > 1 else float("nan"),
        "std_incompatible": float(neg.std(ddof=1)) if neg.size > 1 else float("nan"),
        "accuracy": at["accuracy"],
        "f1": at["f1"],
        "precision": at["precision"],
        "recall": at["recall"],
        "threshold": chosen,
        "threshold_source": source,
    }


def finite_or_none(value):
    """`value` made JSON-safe: nan and +-inf become None (recursively through dicts and lists)."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
