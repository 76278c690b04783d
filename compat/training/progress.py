"""A run's progress as series and plotly figures, read from its events.jsonl (no gradio here)."""

from __future__ import annotations

from dataclasses import dataclass, field

EVAL_KEYS = {"auc": ("eval_auc", "auc", "eval_roc_auc"), "cohen_d": ("eval_cohen_d", "cohen_d")}


@dataclass
class Progress:
    """Loss and validation metrics against steps, and where the run stands."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    auc: list[float] = field(default_factory=list)
    cohen_d: list[float] = field(default_factory=list)
    fraction: float = 0.0
    elapsed: float | None = None
    eta: float | None = None


def _first(event: dict, names: tuple[str, ...]):
    for name in names:
        value = event.get(name)
        if value is None and isinstance(event.get("eval"), dict):
            value = event["eval"].get(name)
        if isinstance(value, (int, float)):
            return float(value)
    return None


def progress_of(events: list[dict]) -> Progress:
    """Collect the loss curve, the eval curves and the latest progress/elapsed/ETA from events."""
    p = Progress()
    for e in events:
        step = e.get("step")
        if isinstance(e.get("loss"), (int, float)) and step is not None:
            p.steps.append(int(step))
            p.loss.append(float(e["loss"]))
        auc, d = _first(e, EVAL_KEYS["auc"]), _first(e, EVAL_KEYS["cohen_d"])
        if step is not None and (auc is not None or d is not None):
            p.eval_steps.append(int(step))
            p.auc.append(auc if auc is not None else float("nan"))
            p.cohen_d.append(d if d is not None else float("nan"))
        if isinstance(e.get("progress"), (int, float)):
            p.fraction = float(e["progress"])
        p.elapsed = e.get("elapsed", p.elapsed)
        p.eta = e.get("eta", p.eta)
    return p


def smooth(values: list[float], weight: float = 0.8) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard-style smoothing)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, start=1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight**i))
    return out


def loss_figure(p: Progress, title: str = "Training loss"):
    """Raw and smoothed training loss against step."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_scatter(x=p.steps, y=p.loss, name="loss", mode="lines+markers", opacity=0.4)
    fig.add_scatter(x=p.steps, y=smooth(p.loss), name="smoothed", mode="lines")
    fig.update_layout(title=title, xaxis_title="step", yaxis_title="loss", height=320,
                      margin=dict(l=40, r=10, t=40, b=40))
    return fig


def eval_figure(p: Progress):
    """Validation ROC-AUC (left axis) and Cohen's d (right axis) against step."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_scatter(x=p.eval_steps, y=p.auc, name="ROC-AUC", mode="lines+markers")
    fig.add_scatter(x=p.eval_steps, y=p.cohen_d, name="Cohen's d", mode="lines+markers", yaxis="y2")
    fig.update_layout(title="Validation", xaxis_title="step", height=320,
                      yaxis=dict(title="ROC-AUC"), yaxis2=dict(title="Cohen's d", overlaying="y", side="right"),
                      margin=dict(l=40, r=40, t=40, b=40))
    return fig


def compare_figure(curves: dict[str, Progress]):
    """Smoothed loss curves of several runs overlaid."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, p in curves.items():
        fig.add_scatter(x=p.steps, y=smooth(p.loss), name=name, mode="lines")
    fig.update_layout(title="Loss, runs compared (smoothed)", xaxis_title="step", yaxis_title="loss",
                      height=320, margin=dict(l=40, r=10, t=40, b=40))
    return fig
