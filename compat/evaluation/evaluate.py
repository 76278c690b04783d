"""Evaluate one model on a list of pairs: the statistics of docs/conventions.md, breakdowns, clustering quality.

Statements are embedded once each (a statement in several pairs is embedded once) through
compat.evaluation.embeddings.cached_embeddings, i.e. CompatModel.embed with its prompt, cached by (model, data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from compat.evaluation.embeddings import cached_embeddings, distinct_statements
from compat.evaluation.metrics import auc_without_top_component, best_threshold, check_pairs, pair_metrics, recall_at_k
from compat.text import clean_statement

RECALL_KS = (1, 5, 10)
BREAKDOWN_FIELDS = ("category", "pair_type", "rule")  # rule: the generator's reason for a label
STATEMENT_FIELDS = ("category", "subcategory", "trait", "stance")
MISSING = "(none)"
SILHOUETTE_SAMPLE = 5000  # silhouette is O(n^2): larger sets are sampled (with a fixed seed)


@dataclass
class PairEmbeddings:
    """Each distinct statement of a pair list embedded once, and where each pair's halves are."""

    statements: list[str]  # distinct cleaned statements, first-seen order
    index_1: np.ndarray  # pair i's text_1 is statements[index_1[i]]
    index_2: np.ndarray
    embeddings: np.ndarray  # (len(statements), dim), L2-normalised

    def similarities(self) -> np.ndarray:
        """Cosine similarity of each pair's two statements."""
        a, b = self.embeddings[self.index_1], self.embeddings[self.index_2]
        return np.clip(np.einsum("ij,ij->i", a, b), -1.0, 1.0).astype(np.float64)


@dataclass
class Evaluation:
    """One model on one pair list: the metrics plus what the figures need."""

    model: object  # a compat.models.CompatModel, or a model name when nothing needed loading
    pairs: list[dict]
    similarities: np.ndarray
    labels: np.ndarray
    embedded: PairEmbeddings
    metrics: dict
    calibration: dict | None = None  # {"threshold", "scale", "fitted_on"}: see calibration_of

    @property
    def model_name(self) -> str:
        return self.model if isinstance(self.model, str) else self.model.name

    @property
    def display_name(self) -> str:
        return short_model_name(self.model_name)


def short_model_name(name: str) -> str:
    """A model name fit for a legend: `base`/`default`/run id as they are, a path by its last part(s)."""
    parts = [p for p in str(name).replace("\\", "/").split("/") if p]
    if len(parts) <= 1:
        return str(name)
    if parts[-1].lower() in {"model", "adapter", "merged", "final", "output"} and len(parts) >= 2:
        return "/".join(parts[-2:])
    return parts[-1]


def embed_pairs(model, pairs: Sequence[dict]) -> PairEmbeddings:
    """Embed every distinct statement of `pairs` once (cached on disk by model and data)."""
    statements, i1, i2 = distinct_statements(pairs)
    return PairEmbeddings(statements, i1, i2, cached_embeddings(model, statements))


def pair_shape(pair: dict) -> str:
    """"single" (one preference a side) or "profile" (several on a side), from the generator's trait
    fields ("a+b" is two) or the natural set's pair_type (natural_single / natural_profile); else "(none)"."""
    traits = [pair.get("trait_1"), pair.get("trait_2")]
    if all(traits):
        return "profile" if any("+" in t for t in traits) else "single"
    kind = str(pair.get("pair_type") or "")
    return kind.removeprefix("natural_") if kind in ("natural_single", "natural_profile") else MISSING


def labels_of(pairs: Sequence[dict]) -> np.ndarray:
    return np.array([int(p["label"]) for p in pairs], dtype=np.int8)


def group_metrics(similarities: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    """Statistics of one group of pairs at a fixed threshold; separation figures only with both classes.

    Always: n, n_compatible, n_incompatible, mean_similarity, accuracy (share on the right side of the
    threshold). With both classes: also auc, cohen_d, margin, f1, mean_compatible, mean_incompatible.
    """
    s, y = np.asarray(similarities, dtype=np.float64), np.asarray(labels)
    out = {
        "n": int(s.size),
        "n_compatible": int((y == 1).sum()),
        "n_incompatible": int((y == 0).sum()),
        "mean_similarity": float(s.mean()),
        "accuracy": float(np.mean((s >= threshold) == (y == 1))),
    }
    if 0 < out["n_compatible"] < s.size:
        full = pair_metrics(s, y, threshold)
        out.update({k: full[k] for k in ("auc", "cohen_d", "margin", "f1", "mean_compatible",
                                         "mean_incompatible")})
    return out


def breakdown(pairs: Sequence[dict], similarities: np.ndarray, labels: np.ndarray, field: str,
              threshold: float) -> dict[str, dict]:
    """group_metrics for each value of `field` (pairs without it grouped as "(none)"), largest first."""
    values = np.array([str(p.get(field) or MISSING) for p in pairs], dtype=object)
    groups = {v: np.flatnonzero(values == v) for v in dict.fromkeys(values.tolist())}
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1].size, kv[0]))
    return {v: group_metrics(similarities[idx], labels[idx], threshold) for v, idx in ordered}


def statement_attributes(pairs: Sequence[dict], statements: list[str]) -> dict[str, list]:
    """Per distinct statement: category, subcategory, trait, stance (first pair naming it wins) and label.

    trait and stance come from a pair's `trait_1`/`trait_2`, `stance_1`/`stance_2` (or `trait`, `stance`)
    fields when the data has them (the generator writes them). label is
    "compatible"/"incompatible" when every pair the statement is in agrees, else "mixed".
    """
    position = {s: i for i, s in enumerate(statements)}
    attrs: dict[str, list] = {f: [None] * len(statements) for f in (*STATEMENT_FIELDS, "label")}
    for pair in pairs:
        for side in ("1", "2"):
            i = position.get(clean_statement(pair[f"text_{side}"]))
            if i is None:
                continue
            for f in STATEMENT_FIELDS:
                value = pair.get(f"{f}_{side}", pair.get(f))
                if attrs[f][i] is None and value not in (None, ""):
                    attrs[f][i] = str(value)
            label = "compatible" if pair["label"] == 1 else "incompatible"
            old = attrs["label"][i]
            attrs["label"][i] = label if old in (None, label) else "mixed"
    return attrs


def clustering_quality(embeddings: np.ndarray, groups: Sequence[str | None], seed: int = 0) -> dict | None:
    """How well statements cluster by `groups` (e.g. subcategory); None with fewer than 2 usable groups.

    silhouette: mean cosine silhouette of the statements under the given grouping (-1..1, higher means
    tighter, better separated groups); silhouette_by_group: its mean per group; purity: share of
    statements whose k-means cluster (k = number of groups) is dominated by their own group.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_samples

    keep = np.array([g is not None for g in groups])
    names = np.array([g for g in groups if g is not None], dtype=object)
    x = np.asarray(embeddings, dtype=np.float32)[keep]
    distinct = sorted(set(names.tolist()))
    if len(distinct) < 2 or len(distinct) >= x.shape[0]:
        return None
    codes = np.array([distinct.index(n) for n in names])
    rng = np.random.default_rng(seed)
    sample = np.arange(x.shape[0])
    if sample.size > SILHOUETTE_SAMPLE:
        sample = np.sort(rng.choice(sample.size, SILHOUETTE_SAMPLE, replace=False))
    sil = np.full(x.shape[0], np.nan)
    if np.unique(codes[sample]).size >= 2:
        sil[sample] = silhouette_samples(x[sample], codes[sample], metric="cosine")
    # float64 input and one k-means++ start: 4x faster than sklearn's float32 path with 4 starts
    clusters = KMeans(n_clusters=len(distinct), n_init=1, random_state=seed).fit_predict(x.astype(np.float64))
    dominant = sum(np.bincount(codes[clusters == c]).max() for c in np.unique(clusters))
    by_group = {}
    for code, name in enumerate(distinct):
        vals = sil[(codes == code) & ~np.isnan(sil)]
        by_group[name] = float(vals.mean()) if vals.size else float("nan")
    return {
        "n_statements": int(x.shape[0]),
        "n_groups": len(distinct),
        "silhouette": float(np.nanmean(sil)) if np.any(~np.isnan(sil)) else float("nan"),
        "purity": float(dominant / x.shape[0]),
        "silhouette_by_group": by_group,
    }


def validation_threshold(model, validation: Sequence[dict]) -> float:
    """The accuracy-maximising threshold of `model` on the validation pairs."""
    if not validation:
        raise ValueError("validation set is empty")
    sims = embed_pairs(model, validation).similarities()
    try:
        return best_threshold(sims, labels_of(validation))
    except ValueError as exc:
        raise ValueError(f"validation set: {exc}") from exc


def run_evaluation(model, pairs: Sequence[dict], validation: Sequence[dict] | None = None,
                   clustering: bool = True) -> Evaluation:
    """Embed, score and measure: the full Evaluation of `model` (a CompatModel or a name) on `pairs`.

    A name is loaded only if the embeddings are not cached yet. clustering=False skips the (k-means
    and silhouette) clustering figures, the slowest part once embeddings are cached.
    """
    pairs = list(pairs)
    labels = labels_of(pairs)
    check_pairs(np.zeros(len(pairs)), labels)  # fail on one class / too few before any embedding work
    name = model if isinstance(model, str) else model.name
    embedded = embed_pairs(model, pairs)
    sims = embedded.similarities()
    threshold = validation_threshold(model, validation) if validation else None
    metrics = pair_metrics(sims, labels, threshold)
    metrics["model"] = name
    if validation:
        metrics["n_validation"] = len(validation)
    candidate_ids = [int(i) for i in embedded.index_2]  # repeated text_2 statements are one candidate
    recall = recall_at_k(embedded.embeddings[embedded.index_1], embedded.embeddings[embedded.index_2],
                         labels, RECALL_KS, candidate_ids=candidate_ids)
    metrics.update({f"recall_at_{k}": v for k, v in recall.items()})
    metrics["auc_without_top_component"] = auc_without_top_component(
        embedded.embeddings, embedded.index_1, embedded.index_2, labels)
    metrics["n_statements"] = len(embedded.statements)
    for field in BREAKDOWN_FIELDS:
        metrics[f"by_{field}"] = breakdown(pairs, sims, labels, field, metrics["threshold"])
    shapes = [{"shape": pair_shape(p)} for p in pairs]  # single-preference pairs and profiles apart
    metrics["by_shape"] = breakdown(shapes, sims, labels, "shape", metrics["threshold"])
    if clustering:
        # by subcategory, not trait: the generator's complex statements carry compound traits
        # ("a+b"), which makes trait groups mostly singletons
        subcategories = statement_attributes(pairs, embedded.statements)["subcategory"]
        quality = clustering_quality(embedded.embeddings, subcategories)
        if quality is not None:
            metrics["clustering"] = {"by": "subcategory", **quality}
    return Evaluation(model, pairs, sims, labels, embedded, metrics)


def calibration_of(model, validation: Sequence[dict] | None, pairs: Sequence[dict]) -> dict:
    """How `model` turns a cosine into a probability of compatibility: {"threshold", "scale", "fitted_on"}.

    A fine-tuned model's own calibration (fitted on its run's validation pairs, what the Score tab shows);
    for a model without one (the base), a logistic fit on `validation`, else on `pairs` themselves."""
    from compat.models import read_model_info, resolve
    from compat.training.calibration import fit_calibration

    path = resolve(model) if isinstance(model, str) else model.path
    own = read_model_info(path).get("calibration") if path is not None and path.is_dir() else None
    if own is None and not isinstance(model, str) and model.calibration is not None:
        own = {"threshold": model.calibration.threshold, "scale": model.calibration.scale}
    if own:
        return {"threshold": float(own["threshold"]), "scale": float(own["scale"]), "fitted_on": "its run"}
    fit_pairs = list(validation or pairs)
    fitted = fit_calibration(embed_pairs(model, fit_pairs).similarities(), labels_of(fit_pairs))
    return {**fitted, "fitted_on": "validation" if validation else "these pairs"}


def probabilities(similarities, calibration: dict) -> np.ndarray:
    """sigmoid(scale * (cosine - threshold)) for every similarity (compat.models.Calibration, vectorised)."""
    z = calibration["scale"] * (np.asarray(similarities, dtype=np.float64) - calibration["threshold"])
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))


def evaluate_pairs(model, pairs: Sequence[dict], validation: Sequence[dict] | None = None) -> dict:
    """All `evaluate --json` keys for `model` on `pairs`; the threshold comes from `validation` if given.

    Keys: the docs/conventions.md set (n, auc, cohen_d, t_stat, p_value, margin, mean_compatible,
    mean_incompatible, accuracy, f1, threshold, recall_at_1, recall_at_5) plus recall_at_10,
    auc_without_top_component (see metrics.auc_without_top_component), threshold_source, precision,
    recall, by_category, by_pair_type, by_rule, by_shape (single / profile, see pair_shape), and clustering
    (silhouette and purity by subcategory) when the pairs have subcategories. Raises ValueError for
    one-class data.
    """
    return run_evaluation(model, pairs, validation).metrics


def worst_separated(pairs: Sequence[dict], similarities: Sequence[float], k: int = 10,
                    threshold: float | None = None) -> list[dict]:
    """The k compatible pairs with the lowest similarity and the k incompatible pairs with the highest.

    Each row: index (into pairs), id (if the pair has one), kind ("compatible, far apart" /
    "incompatible, close"), similarity, wrong_side (on the wrong side of `threshold`, when given),
    label, text_1, text_2, category, pair_type. Compatible rows first, worst first within each kind.
    """
    s = np.asarray(similarities, dtype=np.float64)
    if s.size != len(pairs):
        raise ValueError(f"{s.size} similarities for {len(pairs)} pairs")
    labels = labels_of(pairs)
    compatible = np.flatnonzero(labels == 1)
    incompatible = np.flatnonzero(labels == 0)
    far = compatible[np.argsort(s[compatible], kind="stable")][:k]
    close = incompatible[np.argsort(-s[incompatible], kind="stable")][:k]
    rows = []
    for kind, chosen in (("compatible, far apart", far), ("incompatible, close", close)):
        for i in chosen:
            p = pairs[i]
            wrong = None
            if threshold is not None:
                wrong = bool(s[i] < threshold) if p["label"] == 1 else bool(s[i] >= threshold)
            rows.append({
                "index": int(i), "id": p.get("id"), "kind": kind, "similarity": float(s[i]),
                "wrong_side": wrong, "label": int(p["label"]), "text_1": p["text_1"], "text_2": p["text_2"],
                "category": p.get("category"), "pair_type": p.get("pair_type"),
            })
    return rows
