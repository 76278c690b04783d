"""Explore tab: base and fine-tuned side by side on the same pairs.

Similarity histograms (one panel per model, shared x axis, threshold marked), the statistics table with
the change, a UMAP of the statement embeddings per model, and the worst-separated pairs (a click opens
one in the Data tab). Embeddings and projections come from compat.evaluation's on-disk cache, so a
second look at the same data is quick; the first one reports what it is doing as it goes.
API endpoint `evaluate` (docs/conventions.md): the `evaluate --json` metrics of a model on a named data set.
"""

from __future__ import annotations

import time

import gradio as gr

SOURCES = {
    "Validation set": "validation",
    "Test set": "test",
    "Natural pairs (hand-written)": "natural",
    "Label store (current labels)": "store",
    "Uploaded file": "upload",
}
DATA_FILES = {"validation": "validation.jsonl", "test": "test.jsonl", "natural": "natural_pairs.jsonl"}
COLOUR_BY = ["category", "subcategory", "trait", "stance", "label"]
WORST = ["pair id", "kind", "cosine (this model)", "cosine (base)", "wrong side", "label", "statement A",
         "statement B", "category", "pair type"]
WORST_K = 15
HISTOGRAM_AXES = ["cosine", "calibrated probability"]
UMAP_MAX_STATEMENTS = 5000  # larger data is sampled (fixed seed) for the scatter: UMAP time grows fast


class ExploreError(ValueError):
    """What the user asked for cannot be shown; the message says why."""


# -- data and models ---------------------------------------------------------------------------------

def store_pairs() -> list[dict]:
    """The label store's current pairs (seeded from the shipped data on first use), each with its `store_id`."""
    from compat.store.shared import shared_store

    return [{**row.to_pair(), "store_id": row.id} for row in shared_store().rows()]


def load_source(source: str, upload: str | None = None) -> tuple[list[dict], str]:
    """(pairs, a name for them) for a source key of SOURCES; raises ExploreError with the reason."""
    from compat.pairs import PairFileError, load_pairs
    from compat.paths import DATA_DIR

    if source == "store":
        pairs = store_pairs()
        if not pairs:
            raise ExploreError("the label store is empty: import pairs in the Data tab")
        return pairs, "label store"
    if source == "upload":
        if not upload:
            raise ExploreError("choose a pair file (.jsonl) to upload first")
        path, name = upload, "uploaded file"
    elif source in DATA_FILES:
        path, name = DATA_DIR / DATA_FILES[source], f"data/{DATA_FILES[source]}"
    else:
        raise ExploreError(f"unknown data source {source!r}; use one of {', '.join([*DATA_FILES, 'store', 'upload'])}")
    try:
        return load_pairs(path), name
    except FileNotFoundError as exc:
        raise ExploreError(f"{name} does not exist") from exc
    except PairFileError as exc:
        raise ExploreError(f"{name}: {exc}") from exc


def validation_pairs(source: str, pairs: list[dict] | None = None) -> list[dict] | None:
    """The pairs to choose decision thresholds on, or None to choose them on the explored data itself.

    The shipped validation set for the shipped test and natural sets; for the store, its own pairs of
    split "validation" (when they hold both labels); for the validation set or an uploaded file, none.
    """
    if source in ("test", "natural"):
        try:
            return load_source("validation")[0]
        except ExploreError:
            return None
    if source == "store" and pairs:
        chosen = [p for p in pairs if p.get("split") == "validation"]
        return chosen if len({p["label"] for p in chosen}) == 2 else None
    return None


def models_to_compare() -> list[str]:
    """`base`, then the fine-tuned model Score uses (if there is one)."""
    from compat.active import active_finetuned

    tuned = active_finetuned()
    return ["base"] + ([tuned] if tuned else [])


def find_store_id(pair: dict) -> int | None:
    """The label store's id of `pair` (same two statements, either order), or None if it is not there.

    A file's own `id` field is not trusted: only `store_id` (set by store_pairs) or a lookup counts.
    """
    from compat.store.shared import shared_store

    if pair.get("store_id") is not None:
        return int(pair["store_id"])
    found = shared_store().find(pair)
    return None if found is None else found.id


# -- figures -----------------------------------------------------------------------------------------

def umap_sample(n_statements: int, seed: int = 0):
    """Indices of the statements drawn in the UMAP (all of them up to UMAP_MAX_STATEMENTS)."""
    import numpy as np

    if n_statements <= UMAP_MAX_STATEMENTS:
        return np.arange(n_statements)
    return np.sort(np.random.default_rng(seed).choice(n_statements, UMAP_MAX_STATEMENTS, replace=False))


def umap_plot(evaluation, colour_by: str, join: bool, title: str):
    """The UMAP scatter of one evaluation's statements (projection from the cache, computed if missing)."""
    import numpy as np

    from compat.evaluation.evaluate import statement_attributes
    from compat.evaluation.figures import umap_figure
    from compat.evaluation.projection import cached_projection

    emb = evaluation.embedded
    keep = umap_sample(len(emb.statements))
    statements = [emb.statements[i] for i in keep]
    xy = cached_projection(evaluation.model, statements)
    attrs = statement_attributes(evaluation.pairs, emb.statements)
    field = colour_by if any(v is not None for v in attrs.get(colour_by, [])) else "label"
    colours = [attrs[field][i] for i in keep]
    links = None
    if join:
        where = np.full(len(emb.statements), -1)
        where[keep] = np.arange(keep.size)
        links = [(int(where[a]), int(where[b]), int(lab))
                 for a, b, lab in zip(emb.index_1, emb.index_2, evaluation.labels) if where[a] >= 0 and where[b] >= 0]
    sampled = f" (sample of {keep.size:,} of {len(emb.statements):,})" if keep.size < len(emb.statements) else ""
    return umap_figure(xy, statements, colours, field, pair_links=links, title=f"{title}{sampled}")


def worst_rows(evaluations) -> tuple[list[list], list[dict]]:
    """Rows of the worst-separated table under the last model, with the base cosine beside; and the pairs."""
    from compat.evaluation.evaluate import worst_separated

    shown, base = evaluations[-1], evaluations[0]
    rows, pairs = [], []
    for r in worst_separated(shown.pairs, shown.similarities, WORST_K, shown.metrics["threshold"]):
        pair = shown.pairs[r["index"]]
        pair_id = find_store_id(pair)  # a file's pairs are usually in the store (seeded from data/)
        if pair_id is not None:
            pair = {**pair, "store_id": pair_id}
        rows.append([pair_id if pair_id is not None else "–", r["kind"], round(r["similarity"], 4),
                     round(float(base.similarities[r["index"]]), 4), "yes" if r["wrong_side"] else "no",
                     r["label"], r["text_1"], r["text_2"], r["category"] or "", r["pair_type"] or ""])
        pairs.append(pair)
    return rows, pairs


# -- events ------------------------------------------------------------------------------------------

def explore(source_label: str, upload: str | None, colour_by: str, join: bool, axis: str = "cosine"):
    """Generator for the Explore button: yields (status, histograms, stats, umap base, umap tuned, worst
    rows, worst pairs, evaluations) as each part becomes ready, so the page shows progress."""
    from compat.evaluation.embeddings import is_cached_embeddings
    from compat.evaluation.evaluate import calibration_of, run_evaluation, short_model_name
    from compat.evaluation.figures import comparison_table
    from compat.evaluation.projection import is_cached_projection

    started = time.perf_counter()
    skip = gr.skip()
    source = SOURCES.get(source_label, source_label)
    try:
        pairs, name = load_source(source, upload)
    except ExploreError as exc:
        yield f"**Cannot explore:** {exc}.", skip, skip, skip, skip, skip, skip, skip
        return
    validation = validation_pairs(source, pairs)
    models = models_to_compare()
    statements = _distinct(pairs)
    evaluations = []
    for model in models:
        seconds = len(statements) / 400  # ~400-500 statements/s on an idle 2-core CPU (docs/traps.md)
        doing = ("from the cache" if is_cached_embeddings(model, statements) else
                 f"computing: {'a few seconds' if seconds < 5 else f'about {seconds:.0f} s'} on an idle CPU, "
                 "plus loading the model")
        yield (f"Embedding {len(statements):,} statements of {name} with **{short_model_name(model)}** ({doing})…",
               skip, skip, skip, skip, skip, skip, skip)
        try:
            evaluation = run_evaluation(model, pairs, validation, clustering=False)
            evaluation.calibration = calibration_of(evaluation.model, validation, pairs)
            evaluations.append(evaluation)
        except ValueError as exc:
            yield f"**Cannot explore {name}:** {exc}.", skip, skip, skip, skip, skip, skip, skip
            return
    names = [e.display_name for e in evaluations]
    hist = histogram_figure(evaluations, axis)
    headers, rows = comparison_table({n: e.metrics for n, e in zip(names, evaluations)})
    import pandas as pd

    stats = pd.DataFrame(rows, columns=headers)
    worst, worst_pairs = worst_rows(evaluations)
    worst_df = pd.DataFrame(worst, columns=WORST)
    threshold_note = (f"thresholds chosen on {len(validation):,} validation pairs" if validation
                      else "thresholds chosen on this data")
    umaps = [gr.update(value=None, visible=True), gr.update(value=None, visible=len(evaluations) > 1)]
    yield (f"{len(pairs):,} pairs from {name}; {threshold_note}. Projecting the statements (UMAP)…",
           hist, stats, *umaps, worst_df, worst_pairs, evaluations)
    for i, (e, n) in enumerate(zip(evaluations, names)):
        shown = [e.embedded.statements[j] for j in umap_sample(len(e.embedded.statements))]
        if not is_cached_projection(e.model, shown):
            yield (f"UMAP of {len(shown):,} statements under **{n}** (first time for this data: "
                   "up to a minute; cached afterwards)…", skip, skip, skip, skip, skip, skip, skip)
        plots = [skip, skip]
        plots[i] = umap_plot(e, colour_by, join, f"UMAP: {n}")
        yield skip, skip, skip, *plots, skip, skip, skip
    tuned_note = "" if len(models) > 1 else " No fine-tuned model yet: train one in the Train tab."
    yield (f"{len(pairs):,} pairs from {name}; {threshold_note}. Done in {time.perf_counter() - started:.1f} s."
           f"{tuned_note} Click a row of the worst-separated pairs to open it in the Data tab.",
           skip, skip, skip, skip, skip, skip, skip)


def _distinct(pairs: list[dict]) -> list[str]:
    from compat.evaluation.embeddings import distinct_statements

    return distinct_statements(pairs)[0]


def histogram_figure(evaluations, axis: str):
    """One histogram panel per model, of cosines or of calibrated probabilities (fine-tuned cosines crowd
    into a narrow band; the probability spreads them the way the Score tab reports them)."""
    from compat.evaluation.evaluate import probabilities
    from compat.evaluation.figures import HistogramPanel, similarity_histograms

    if not evaluations:
        return gr.skip()
    panels = []
    for e in evaluations:
        values, threshold = e.similarities, e.metrics["threshold"]
        title = e.display_name
        if axis == "calibrated probability" and e.calibration:
            values = probabilities(values, e.calibration)
            threshold = float(probabilities([threshold], e.calibration)[0])
            title = f"{title} (calibration fitted on {e.calibration['fitted_on']})"
        panels.append(HistogramPanel(title, values, e.labels, threshold))
    x_title = "calibrated probability" if axis == "calibrated probability" else "cosine similarity"
    return similarity_histograms(panels, x_title=x_title)


def recolour(evaluations, colour_by: str, join: bool):
    """Redraw the UMAP plots in another colouring (projections are cached: no recomputation)."""
    if not evaluations:
        return gr.skip(), gr.skip()
    names = [e.display_name for e in evaluations]
    figs = [umap_plot(e, colour_by, join, f"UMAP: {n}") for e, n in zip(evaluations, names)]
    return figs[0], (figs[1] if len(figs) > 1 else gr.skip())


def open_in_data_tab(worst_pairs: list[dict], evt: gr.SelectData):
    """A click on a worst-separated pair: show it in the Data tab, ready to relabel."""
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    if not worst_pairs or row is None or not 0 <= row < len(worst_pairs):
        return gr.skip(), gr.skip(), gr.skip()
    pair_id = find_store_id(worst_pairs[row])
    if pair_id is None:
        return gr.skip(), gr.skip(), "That pair is not in the label store: import its file in the Data tab first."
    return str(pair_id), gr.Tabs(selected="data"), f"Opened pair #{pair_id} in the Data tab."


def evaluate_api(model: str = "fine-tuned", data: str = "test") -> dict:
    """The `evaluate --json` metrics of `model` on `data`, with "ok": true and "error": null; or, for a
    request it cannot serve, {"ok": false, "error": why}.

    model: "base", "fine-tuned" (the model Score uses), "default" or a run id under COMPAT_HOME/runs.
    data: "validation", "test", "natural" or "store". Thresholds are chosen as validation_pairs says
    (the shipped validation set for test and natural).
    """
    from compat.active import active_finetuned
    from compat.evaluation.evaluate import evaluate_pairs
    from compat.evaluation.metrics import finite_or_none
    from compat.models import ModelNotFound
    from compat.paths import inside, runs_dir

    def refused(why: str) -> dict:
        return {"ok": False, "error": why}

    if model == "fine-tuned":
        model = active_finetuned() or ""
        if not model:
            return refused("No fine-tuned model yet: train one first, or ask for model 'base'.")
    elif model not in ("base", "default"):
        try:  # only run ids: a script must not make the app read arbitrary directories
            model = str(inside(runs_dir(), model))
        except ValueError:
            return refused(f"model {model!r}: not a run id")
    if data not in (*DATA_FILES, "store"):
        return refused(f"data must be one of {', '.join([*DATA_FILES, 'store'])}, got {data!r}")
    try:
        pairs, _ = load_source(data)
        metrics = evaluate_pairs(model, pairs, validation_pairs(data, pairs))
    except (ExploreError, ModelNotFound, ValueError) as exc:
        return refused(str(exc))
    return {"ok": True, "error": None, **finite_or_none(metrics)}


# -- the tab -----------------------------------------------------------------------------------------

def build(ctx) -> None:
    """The Explore tab's components and events (see compat/ui/app.py for the tab contract)."""
    gr.Markdown("Compare the base and the fine-tuned model on the same pairs. A good model puts "
                "compatible pairs (green) to the right of incompatible ones (red).")
    with gr.Row():
        source = gr.Radio(list(SOURCES), value="Validation set", label="Data", scale=3)
        upload = gr.File(label="Pair file (.jsonl)", file_types=[".jsonl"], type="filepath", height=110, scale=2)
    with gr.Row():
        colour = gr.Dropdown(COLOUR_BY, value="category", label="Colour UMAP points by")
        join = gr.Checkbox(value=False, label="Join the two halves of each pair")
        axis = gr.Radio(HISTOGRAM_AXES, value="cosine", label="Histogram of", elem_id="explore-axis")
        run = gr.Button("Explore", variant="primary", elem_id="explore-run")
    status = gr.Markdown("Choose the data and click **Explore**.", elem_id="explore-status")
    histograms = gr.Plot(label="Compatible vs incompatible pairs", elem_id="explore-histograms")
    stats = gr.Dataframe(label="Statistics (change = fine-tuned minus base)", interactive=False,
                         elem_id="explore-stats")
    with gr.Row():
        umap_base = gr.Plot(label="UMAP: base", elem_id="explore-umap-base")
        umap_tuned = gr.Plot(label="UMAP: fine-tuned", elem_id="explore-umap-tuned")
    gr.Markdown("**Worst-separated pairs** under the fine-tuned model (base if there is none): compatible "
                "pairs far apart, incompatible pairs close. Click a row to relabel it in the Data tab.")
    worst = gr.Dataframe(headers=WORST, interactive=False, wrap=True, max_height=420, elem_id="explore-worst",
                         column_widths=["6%", "10%", "7%", "7%", "6%", "5%", "24%", "24%", "6%", "5%"])
    worst_pairs = gr.State([])
    evaluations = gr.State(None)

    outputs = [status, histograms, stats, umap_base, umap_tuned, worst, worst_pairs, evaluations]
    run.click(explore, [source, upload, colour, join, axis], outputs, api_visibility="private")
    axis.change(histogram_figure, [evaluations, axis], histograms, api_visibility="private")
    for control in (colour, join):
        control.change(recolour, [evaluations, colour, join], [umap_base, umap_tuned], api_visibility="private")
    worst.select(open_in_data_tab, worst_pairs, [ctx.pair_focus, ctx.tabs, status], api_visibility="private")
    gr.api(evaluate_api, api_name="evaluate")
