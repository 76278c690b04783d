"""A self-contained HTML report of one or two evaluations (plotly.js inlined once; no network needed).

Sections: statistics table (models side by side, with the change), similarity histograms (one panel per
model on a shared x axis, threshold marked), UMAP of statement embeddings per model, breakdowns by
category and pair type, worst-separated pairs. Every piece of data text is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from compat.evaluation.evaluate import Evaluation, statement_attributes, worst_separated
from compat.evaluation.figures import HistogramPanel, comparison_table, similarity_histograms, umap_figure
from compat.pairs import atomic_write

MAX_LINKED_PAIRS = 200
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child,td.text{text-align:left}
td.text{max-width:380px}
caption{text-align:left;font-weight:600;padding:.3rem 0}
.note{color:#666;font-size:.9rem}
"""


def _table(headers: Sequence[str], rows: Sequence[Sequence], caption: str = "", text_cols: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="text">{html.escape(str(c))}</td>' if j in text_cols else f"<td>{html.escape(str(c))}</td>"
            for j, c in enumerate(row)
        ) + "</tr>"
        for row in rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,}" if isinstance(value, int) else f"{value:.3f}"


def breakdown_table(evaluations: Sequence[Evaluation], field: str) -> str:
    """One row per value of `field`: n and, per model, accuracy and AUC within the group."""
    key = f"by_{field}"
    if not all(key in e.metrics for e in evaluations):
        return ""
    groups = list(evaluations[0].metrics[key])
    if groups == ["(none)"]:
        return ""
    headers = [field, "pairs", "compatible"]
    for name in display_names(evaluations):
        headers += [f"{name} accuracy", f"{name} AUC", f"{name} mean cos"]
    rows = []
    for g in groups:
        first = evaluations[0].metrics[key][g]
        row = [g, first["n"], first["n_compatible"]]
        for e in evaluations:
            m = e.metrics[key].get(g, {})
            row += [_num(m.get("accuracy")), _num(m.get("auc")), _num(m.get("mean_similarity"))]
        rows.append(row)
    return _table(headers, rows, f"By {field.replace('_', ' ')} (at each model's threshold)")


def worst_table(evaluation: Evaluation, k: int = 10) -> str:
    rows = [
        [r["kind"], f"{r['similarity']:.3f}", "yes" if r["wrong_side"] else "no", r["text_1"], r["text_2"],
         r.get("category") or "", r.get("pair_type") or ""]
        for r in worst_separated(evaluation.pairs, evaluation.similarities, k, evaluation.metrics["threshold"])
    ]
    return _table(["kind", "cosine", "wrong side", "text 1", "text 2", "category", "pair type"], rows,
                  f"Worst-separated pairs under {evaluation.display_name}", text_cols=(0, 3, 4, 5, 6))


def display_names(evaluations: Sequence[Evaluation]) -> list[str]:
    """Short model names, or the full ones where the short ones would collide."""
    short = [e.display_name for e in evaluations]
    return short if len(set(short)) == len(short) else [e.model_name for e in evaluations]


def umap_figures(evaluations: Sequence[Evaluation], colour_by: str = "category") -> list:
    """One UMAP scatter per evaluation, statements coloured by `colour_by` (falls back to label)."""
    from compat.evaluation.projection import cached_projection

    figures = []
    for e, name in zip(evaluations, display_names(evaluations)):
        emb = e.embedded
        attrs = statement_attributes(e.pairs, emb.statements)
        field = colour_by if any(v is not None for v in attrs.get(colour_by, [])) else "label"
        xy = cached_projection(e.model, emb.statements)
        links = None  # lines between the halves of each pair help on small sets and only clutter big ones
        if len(e.pairs) <= MAX_LINKED_PAIRS:
            links = list(zip(emb.index_1.tolist(), emb.index_2.tolist(), e.labels.tolist()))
        figures.append(umap_figure(xy, emb.statements, attrs[field], field, pair_links=links,
                                   title=f"UMAP of statement embeddings: {name}"))
    return figures


def build_report(evaluations: Sequence[Evaluation], data_name: str, *, umap: bool = True,
                 colour_by: str = "category") -> str:
    """The report's HTML text. The first evaluation is the reference (e.g. base), the last the model under test."""
    if not evaluations:
        raise ValueError("nothing to report")
    names = display_names(evaluations)
    figures = [similarity_histograms([
        HistogramPanel(name, e.similarities, e.labels, e.metrics["threshold"]) for e, name in zip(evaluations, names)
    ])]
    if umap:
        figures += umap_figures(evaluations, colour_by)
    divs = [fig.to_html(include_plotlyjs=(i == 0), full_html=False, config={"displaylogo": False})
            for i, fig in enumerate(figures)]
    headers, rows = comparison_table({name: e.metrics for e, name in zip(evaluations, names)})
    last = evaluations[-1].metrics
    source = last.get("threshold_source", "this data")
    note = ("thresholds chosen on the validation set" if source == "validation"
            else "no validation set given: thresholds chosen on this data (optimistic)")
    clustering = [
        [name, _num(e.metrics["clustering"]["silhouette"]), _num(e.metrics["clustering"]["purity"]),
         e.metrics["clustering"]["n_groups"]]
        for e, name in zip(evaluations, names) if "clustering" in e.metrics
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>compat evaluation: {html.escape(data_name)}</title><style>{STYLE}</style></head><body>",
        f"<h1>compat evaluation</h1><p>Data: <code>{html.escape(data_name)}</code>, {last['n']:,} pairs, "
        f"{last.get('n_statements', 0):,} distinct statements. Models: "
        + ", ".join(f"<code title='{html.escape(e.model_name)}'>{html.escape(n)}</code>"
                    for e, n in zip(evaluations, names))
        + f". <span class='note'>{html.escape(note)}; written "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.</span></p>",
        "<h2>Statistics</h2>", _table(headers, rows),
        "<h2>Cosine similarity, compatible vs incompatible</h2>", divs[0],
    ]
    if clustering:
        parts += ["<h2>Clustering of statements by subcategory</h2>",
                  _table(["model", "silhouette (cosine)", "k-means purity", "subcategories"], clustering)]
    if umap:
        parts += ["<h2>Statement embeddings (UMAP)</h2>", *divs[1:]]
    parts += ["<h2>Breakdowns</h2>", breakdown_table(evaluations, "category"),
              breakdown_table(evaluations, "pair_type"), "<h2>Worst-separated pairs</h2>",
              worst_table(evaluations[-1]), "</body></html>"]
    return "\n".join(parts)


def write_report(path: str | Path, evaluations: Sequence[Evaluation], data_name: str, *, umap: bool = True,
                 colour_by: str = "category") -> Path:
    """Write the report atomically to `path` and return it."""
    text = build_report(evaluations, data_name, umap=umap, colour_by=colour_by)
    atomic_write(path, text)
    return Path(path)
