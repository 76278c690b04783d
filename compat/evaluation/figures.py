"""Plotly figures of an evaluation (no gradio here): similarity histograms, UMAP scatter, comparison table.

Trace names are part of the contract (tests and the UI look them up):
  histograms: "<model>: compatible", "<model>: incompatible", "<model>: threshold"
  UMAP:       one trace per colour value, plus "compatible pairs" / "incompatible pairs" when joined
"""

from __future__ import annotations

import html
import math
import textwrap
from dataclasses import dataclass
from typing import Sequence

import numpy as np

COMPATIBLE_COLOUR = "#1a9850"
INCOMPATIBLE_COLOUR = "#d73027"
THRESHOLD_COLOUR = "#333333"
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
LABEL_COLOURS = {"compatible": COMPATIBLE_COLOUR, "incompatible": INCOMPATIBLE_COLOUR, "mixed": "#999999"}

# Rows of the comparison table: (metric key, shown name, higher is better?)
TABLE_ROWS = (
    ("auc", "ROC-AUC", True), ("cohen_d", "Cohen's d", True), ("margin", "margin (mean diff)", True),
    ("mean_compatible", "mean cosine, compatible", None), ("mean_incompatible", "mean cosine, incompatible", None),
    ("accuracy", "accuracy", True), ("f1", "F1", True), ("threshold", "threshold", None),
    ("t_stat", "Welch t", True), ("p_value", "p value", False), ("recall_at_1", "recall@1", True),
    ("recall_at_5", "recall@5", True), ("recall_at_10", "recall@10", True),
    ("auc_without_top_component", "ROC-AUC without the top component", None), ("n", "pairs", None),
)


@dataclass
class HistogramPanel:
    """One model's similarities for similarity_histograms."""

    title: str
    similarities: Sequence[float]
    labels: Sequence[int]
    threshold: float | None = None


def hover_text(statement: str, width: int = 70) -> str:
    """A statement escaped for plotly's pseudo-HTML hover, wrapped into lines of `width`."""
    return "<br>".join(html.escape(line) for line in textwrap.wrap(statement, width) or [""])


def similarity_histograms(panels: Sequence[HistogramPanel], bins: int = 40, x_title: str = "cosine similarity"):
    """Overlaid histograms of cosine similarity, compatible vs incompatible, one row per panel.

    All rows share one x axis and the same bins; y is the percent of that class's pairs per bin, so
    unequal class sizes stay comparable. Each panel's threshold is a dashed vertical line trace. The
    values may be cosines or calibrated probabilities: `x_title` names them.
    """
    x_name = x_title.split()[-1]
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not panels:
        raise ValueError("no panels to draw")
    every = np.concatenate([np.asarray(p.similarities, dtype=np.float64) for p in panels])
    lo, hi = float(every.min()), float(every.max())
    lo, hi = (lo - 0.05, hi + 0.05) if hi - lo < 1e-9 else (lo, hi)
    edges = np.linspace(lo, hi, bins + 1)
    centres, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[p.title for p in panels])
    for row, panel in enumerate(panels, start=1):
        s, y = np.asarray(panel.similarities, dtype=np.float64), np.asarray(panel.labels)
        top = 0.0
        for label, name, colour in ((1, "compatible", COMPATIBLE_COLOUR), (0, "incompatible", INCOMPATIBLE_COLOUR)):
            counts = np.histogram(s[y == label], bins=edges)[0]
            pct = 100 * counts / max(1, counts.sum())
            top = max(top, float(pct.max()) if pct.size else 0.0)
            fig.add_trace(go.Bar(
                x=centres, y=pct, width=width, name=f"{panel.title}: {name}", marker_color=colour,
                opacity=0.55, customdata=counts, legendgroup=name,
                hovertemplate=f"{name}<br>{x_name} %{{x:.3f}}<br>%{{customdata}} pairs (%{{y:.1f}}%)<extra></extra>",
            ), row=row, col=1)
        if panel.threshold is not None and math.isfinite(panel.threshold):
            fig.add_trace(go.Scatter(
                x=[panel.threshold] * 2, y=[0, top * 1.08 or 1], mode="lines", name=f"{panel.title}: threshold",
                line={"color": THRESHOLD_COLOUR, "dash": "dash", "width": 2},
                hovertemplate=f"threshold {panel.threshold:.3f}<extra></extra>",
            ), row=row, col=1)
        fig.update_yaxes(title_text="% of class", row=row, col=1)
    fig.update_xaxes(title_text=x_title, row=len(panels), col=1)
    height, top, bottom = 240 * len(panels) + 150, 50, 110
    # legend under the x axis title: place it a fixed number of pixels below the plotting area
    fig.update_layout(barmode="overlay", height=height, margin={"t": top, "b": bottom},
                      legend={"orientation": "h", "yanchor": "top", "y": -60 / (height - top - bottom), "x": 0})
    return fig


def colour_map(values: Sequence[str]) -> dict[str, str]:
    """A colour for each distinct value (label values get their fixed green/red/grey)."""
    distinct = list(dict.fromkeys(values))
    if set(distinct) <= set(LABEL_COLOURS):
        return {v: LABEL_COLOURS[v] for v in distinct}
    return {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(distinct)}


def umap_figure(points: np.ndarray, statements: Sequence[str], colour_values: Sequence[str | None],
                colour_name: str = "category", pair_links: Sequence[tuple[int, int, int]] | None = None,
                title: str = ""):
    """Scatter of 2-D statement positions, one trace per value of `colour_values`, hover = statement.

    pair_links: (index of text_1, index of text_2, label) per pair; when given, each pair's halves are
    joined by a line, green for compatible and red for incompatible ("compatible pairs" /
    "incompatible pairs" traces).
    """
    import plotly.graph_objects as go

    xy = np.asarray(points, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or xy.shape[0] != len(statements) or len(colour_values) != len(statements):
        raise ValueError("points, statements and colour_values must describe the same statements")
    fig = go.Figure()
    if pair_links:
        for label, name, colour in ((1, "compatible pairs", COMPATIBLE_COLOUR),
                                    (0, "incompatible pairs", INCOMPATIBLE_COLOUR)):
            xs, ys = [], []
            for a, b, lab in pair_links:
                if lab == label:
                    xs += [xy[a, 0], xy[b, 0], None]
                    ys += [xy[a, 1], xy[b, 1], None]
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, hoverinfo="skip",
                                     line={"color": colour, "width": 0.7}, opacity=0.35))
    values = np.array([v if v not in (None, "") else "(none)" for v in colour_values], dtype=object)
    colours = colour_map(values.tolist())
    for value, colour in colours.items():
        idx = np.flatnonzero(values == value)
        fig.add_trace(go.Scatter(
            x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=str(value),
            marker={"size": 6, "color": colour, "opacity": 0.85},
            text=[hover_text(statements[i]) for i in idx],
            hovertemplate=f"%{{text}}<br><i>{html.escape(colour_name)}: {html.escape(str(value))}</i><extra></extra>",
        ))
    fig.update_layout(title=title or None, height=560, legend_title_text=colour_name,
                      xaxis={"showticklabels": False, "title": ""}, yaxis={"showticklabels": False, "title": ""},
                      margin={"t": 50 if title else 20, "b": 20})
    return fig


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) < 1e-3 and value != 0:
        return f"{value:.2e}"
    return f"{value:.4f}"


def rule_rows(results: dict[str, dict]) -> list[tuple[str, list, bool]]:
    """(label, values, higher is better) per generator rule of the first model's `by_rule`: the share of
    that rule's pairs on the right side of each model's threshold, e.g. "right side: antonym (incompatible,
    24)". Empty when the pairs carry no rule."""
    first = next(iter(results.values()), {}).get("by_rule") or {}
    rows = []
    for rule, group in first.items():
        if rule == "(none)":
            continue
        kind = ("compatible" if group["n_compatible"] == group["n"] else
                "incompatible" if group["n_compatible"] == 0 else "mixed")
        values = [(m.get("by_rule") or {}).get(rule, {}).get("accuracy") for m in results.values()]
        rows.append((f"right side: {rule} ({kind}, {group['n']})", values, True))
    return rows


def comparison_table(results: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of the main statistics, one column per model, plus the change when there are two;
    then, for generated pairs, the share on the right side of the threshold per rule (rule_rows).

    The change is last minus first (e.g. fine-tuned minus base), marked ▲ when it improves the metric
    and ▼ when it worsens it (for p value, lower is better).
    """
    names = list(results)
    headers = ["metric", *names] + (["change"] if len(names) == 2 else [])
    chosen = [(shown, [results[n].get(key) for n in names], higher_better)
              for key, shown, higher_better in TABLE_ROWS if any(key in m for m in results.values())]
    rows = []
    for shown, values, higher_better in chosen + rule_rows(results):
        row = [shown, *(_fmt(v) for v in values)]
        if len(names) == 2:
            a, b = values
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isfinite(a) and math.isfinite(b):
                delta = b - a
                mark = ""
                if higher_better is not None and delta != 0:
                    mark = " ▲" if (delta > 0) == higher_better else " ▼"
                row.append(("+" if delta > 0 else "") + _fmt(delta) + mark)
            else:
                row.append("–")
        rows.append(row)
    return headers, rows
