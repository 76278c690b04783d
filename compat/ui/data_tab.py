"""Data tab: page through the label store and correct labels by hand.

Buttons or keys (1 compatible, 0 incompatible, arrows for next / previous), a bulk relabel of everything
the filter matches (after a confirmation that says how many), undo, the history of each label, a review
queue ranked by how strongly the fine-tuned model disagrees with the label, import and export.
API endpoints (compat/ui/data_api.py): `list_pairs`, `relabel`, `bulk_relabel`. All work goes through
compat.store.labels.LabelStore.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr

from compat.store.review import COLUMNS as REVIEW
from compat.store.review import MAX_PAIRS as REVIEW_MAX_PAIRS  # noqa: F401 (importable from here, as before)
from compat.store.shared import shared_store
from compat.ui import data_api

PAGE = 50
ANY = "any"
LABELS = {ANY: None, "compatible (1)": 1, "incompatible (0)": 0}
EDITED = {ANY: None, "edited": True, "not edited": False}
SORTS = [("id", "id"), ("last changed", "updated"), ("label", "label"), ("category", "category"),
         ("pair type", "pair_type"), ("split", "split"), ("statement A", "text_1"), ("statement B", "text_2")]
TABLE = ["id", "label", "statement A", "statement B", "category", "pair type", "split", "edited"]
HISTORY = ["when (UTC)", "who", "from", "to", "note"]
ANNOTATOR_KEY = "compat-annotator"

# Document-level keys, caught before the table's own cell navigation (which would not select a pair);
# skipped while typing in a field and while the Data tab is hidden.
KEYS_JS = """
if (!window.__compatDataKeys) {
  window.__compatDataKeys = true;
  const targets = {'1': 'data-compatible', '0': 'data-incompatible', 'ArrowDown': 'data-next',
                   'ArrowRight': 'data-next', 'ArrowUp': 'data-prev', 'ArrowLeft': 'data-prev'};
  document.addEventListener('keydown', (e) => {
    const t = e.target, id = targets[e.key];
    if (!id || e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
    const button = document.getElementById(id);
    if (!button || button.offsetParent === null || button.disabled) return;  // Data tab hidden
    e.preventDefault();
    e.stopPropagation();
    button.click();
  }, true);
}
"""

def label_text(label: int | None) -> str:
    return {1: "compatible (1)", 0: "incompatible (0)"}.get(label, "")


def filters_of(label: str, category: str, pair_type: str, split: str, edited: str, search: str):
    """The store's Filters for the values of the filter controls."""
    from compat.store.records import Filters

    def chosen(value):
        return None if value in (None, "", ANY) else value

    return Filters(label=LABELS.get(label), category=chosen(category), pair_type=chosen(pair_type),
                   split=chosen(split), edited=EDITED.get(edited), search=(search or "").strip() or None)


def page_table(filters, sort: str, descending: bool, offset: int):
    """One page of the table (pandas), the text saying where it is, the offset used, and its pair ids."""
    import pandas as pd

    page = shared_store().query(filters, sort or "id", bool(descending), max(0, int(offset or 0)), PAGE)
    if page.total and not page.rows:  # past the end (rows were relabeled out of the filter): last page
        page = shared_store().query(filters, sort or "id", bool(descending), (page.total - 1) // PAGE * PAGE, PAGE)
    rows = [[r.id, r.label, r.text_1, r.text_2, r.category or "", r.pair_type or "", r.split or "",
             "yes" if r.origin == "edited" else ""] for r in page.rows]
    shown = f"{page.offset + 1:,}–{page.offset + len(rows):,}" if rows else "0"
    return pd.DataFrame(rows, columns=TABLE), f"{shown} of {page.total:,} pairs", page.offset, [r.id for r in page.rows]


def counts_text() -> str:
    c = shared_store().counts()
    splits = ", ".join(f"{k or 'no split'} {v:,}" for k, v in sorted(c.by_split.items()))
    return (f"**{c.total:,}** pairs · {c.compatible:,} compatible · {c.incompatible:,} incompatible · "
            f"**{c.edited:,} edited** · {splits}")


def pair_view(pair_id: int | None):
    """The detail panel of a pair: statements, explanation, label line, history table, version."""
    import pandas as pd

    if pair_id is None:
        return "", "", "", "No pair selected.", pd.DataFrame(columns=HISTORY), None
    row = shared_store().get(int(pair_id))
    history = [[h.at.replace("T", " ")[:19], h.annotator, h.old_label, h.new_label, h.note or ""]
               for h in reversed(row.history)]
    edited = "edited by hand" if row.origin == "edited" else row.origin
    info = (f"Pair #{row.id} · **{label_text(row.label)}** · {row.category or '-'} / {row.subcategory or '-'}"
            f" · {row.pair_type or '-'} · split {row.split or '-'} · {edited} · version {row.version}")
    return row.text_1, row.text_2, row.explanation or "", info, pd.DataFrame(history, columns=HISTORY), row.version


def relabel_pair(pair_id: int | None, label: int, version: int | None, annotator: str) -> str:
    """Apply one label change from the UI; the message says what happened, including a refusal."""
    from compat.store.records import PairNotFound, StaleVersion

    if pair_id is None or version is None:
        return "Select a pair first (click a row)."
    if not (annotator or "").strip():
        return "Type your name in 'Annotator' first: it is stored with each change."
    try:
        row = shared_store().relabel(int(pair_id), label, int(version), annotator)
    except StaleVersion as exc:
        return (f"Not saved: pair #{pair_id} was changed elsewhere since you opened it. It is now "
                f"{label_text(exc.current.label)} (version {exc.current.version}); shown below. Choose again.")
    except (PairNotFound, ValueError) as exc:
        return f"Not saved: {exc}"
    if row.version == int(version):
        return f"Pair #{row.id} already is {label_text(row.label)}."
    return f"Pair #{row.id} is now {label_text(row.label)} (version {row.version}, by {row.history[-1].annotator})."


def review_queue(filters, limit: int = 50, progress=None) -> tuple[list[list], str]:
    """The review queue of the app's store (compat.store.review.review_queue): least trusted labels first."""
    from compat.store.review import review_queue as ranked

    return ranked(shared_store(), filters, limit, progress)


def import_file(path: str | None, skip_bad: bool) -> str:
    from compat.pairs import PairFileError

    if not path:
        return "Choose a .jsonl file first."
    try:
        report = shared_store().import_pairs(path, origin="imported", skip_bad=bool(skip_bad))
    except PairFileError as exc:
        lines = "\n".join(f"line {e.line}: {e.message}" for e in exc.errors)
        return f"Refused: {len(exc.errors)} bad line(s), nothing imported. Fix them or tick 'skip bad lines'.\n{lines}"
    skipped = "\n".join(f"line {e.line}: {e.message}" for e in (*report.errors, *report.duplicates, *report.in_store))
    return f"{report.summary().split(': ', 1)[1]}\n{skipped}".strip()


def export_file(fmt: str, scope: str, filters) -> tuple[str, str]:
    """Write the export into a fresh temporary folder (gradio serves it from there); path and message."""
    out = Path(tempfile.mkdtemp(prefix="compat-export-")) / f"labels.{fmt}"
    count = shared_store().export(out, fmt=fmt, filters=filters if scope == "filtered" else None,
                           edited_only=scope == "edited")
    return str(out), f"Exported {count:,} pairs ({scope})."


# -- the tab ------------------------------------------------------------------------------------------

def build(ctx) -> None:
    """The Data tab's components and events (see compat/ui/app.py for the tab contract)."""
    gr.HTML("", js_on_load=KEYS_JS, elem_id="data-keys")
    counts = gr.Markdown(elem_id="data-counts")
    saved_name = gr.BrowserState("", storage_key=ANNOTATOR_KEY, secret="compat-annotator-name")
    annotator = gr.Textbox(label="Annotator", placeholder="your name: asked once, stored with each change",
                           max_length=100, elem_id="data-annotator")
    with gr.Row():
        f_label = gr.Dropdown(list(LABELS), value=ANY, label="Label")
        f_category = gr.Dropdown([ANY], value=ANY, label="Category")
        f_type = gr.Dropdown([ANY], value=ANY, label="Pair type")
        f_split = gr.Dropdown([ANY], value=ANY, label="Split")
        f_edited = gr.Dropdown(list(EDITED), value=ANY, label="Edited")
    with gr.Row():
        search = gr.Textbox(label="Search", placeholder="text in either statement or the explanation, then Enter",
                            scale=3)
        sort = gr.Dropdown(SORTS, value="id", label="Sort by")
        descending = gr.Checkbox(label="Descending")
    table = gr.Dataframe(headers=TABLE, interactive=False, wrap=True, max_height=420, elem_id="data-table",
                         column_widths=["5%", "5%", "30%", "30%", "10%", "10%", "5%", "5%"])
    with gr.Row():
        prev_page = gr.Button("◀ Previous page", size="sm")
        page_info = gr.Markdown(elem_id="data-page-info")
        next_page = gr.Button("Next page ▶", size="sm")
    gr.Markdown("Click a row to see it. Keys (outside text fields): **1** compatible · **0** incompatible · "
                "**↓ / ↑** next / previous.")
    info = gr.Markdown("No pair selected.", elem_id="data-pair-info")
    with gr.Row():
        text_1 = gr.Textbox(label="Statement A", interactive=False, lines=2, elem_id="data-text-1")
        text_2 = gr.Textbox(label="Statement B", interactive=False, lines=2, elem_id="data-text-2")
    explanation = gr.Textbox(label="Explanation", interactive=False, lines=2)
    with gr.Row():
        mark_1 = gr.Button("Compatible (1)", variant="primary", elem_id="data-compatible")
        mark_0 = gr.Button("Incompatible (0)", variant="stop", elem_id="data-incompatible")
        prev = gr.Button("↑ Previous", elem_id="data-prev")
        nxt = gr.Button("↓ Next", elem_id="data-next")
        undo = gr.Button("Undo my last change", elem_id="data-undo")
    message = gr.Textbox(label="Message", interactive=False, elem_id="data-message")
    history = gr.Dataframe(headers=HISTORY, interactive=False, label="Label history (newest first)",
                           elem_id="data-history")
    with gr.Accordion("Bulk relabel everything the filter matches", open=False):
        bulk_label = gr.Radio(list(LABELS)[1:], value="compatible (1)", label="New label")
        bulk_ask = gr.Button("Relabel all matching…")
        with gr.Row(visible=False) as confirm_row:
            confirm_text = gr.Markdown()
            confirm = gr.Button("Yes, relabel them", variant="stop")
            cancel = gr.Button("Cancel")
    with gr.Accordion("Review queue: the labels the fine-tuned model disagrees with most", open=False):
        rank = gr.Button("Rank the filtered pairs")
        review_info = gr.Markdown()
        review = gr.Dataframe(headers=REVIEW, interactive=False, wrap=True, max_height=360)
    with gr.Accordion("Import / export", open=False):
        with gr.Row():
            upload = gr.File(label="Pair file (.jsonl)", file_types=[".jsonl"], type="filepath", height=140)
            with gr.Column():
                skip_bad = gr.Checkbox(label="Skip bad lines (otherwise a bad file is refused whole)")
                do_import = gr.Button("Import")
        import_report = gr.Textbox(label="Import report", lines=4, interactive=False)
        with gr.Row():
            fmt = gr.Radio(["jsonl", "csv"], value="jsonl", label="Format")
            scope = gr.Radio([("all pairs", "all"), ("the current filter", "filtered"), ("edited only", "edited")],
                             value="all", label="Export")
            do_export = gr.Button("Export")
        download = gr.File(label="Download", interactive=False, height=90)

    nav = gr.State({"ids": [], "index": -1, "source": "table"})  # what ↑/↓ walk through
    page_ids, review_ids = gr.State([]), gr.State([])
    version, offset, bulk_count = gr.State(None), gr.State(0), gr.State(None)
    view = [f_label, f_category, f_type, f_split, f_edited, search, sort, descending]
    table_out = [table, page_info, offset, page_ids, counts]
    detail_out = [text_1, text_2, explanation, info, history, version]

    def table_values(off, values):
        df, where, used, ids = page_table(filters_of(*values[:6]), values[6], values[7], off)
        return [df, where, used, ids, counts_text()]

    def current(nav_value) -> int | None:
        ids, i = nav_value["ids"], nav_value["index"]
        return ids[i] if 0 <= i < len(ids) else None

    def load():  # page load: the filters are at their defaults again
        s = shared_store()
        choices = [gr.update(choices=[ANY, *s.choices(c)]) for c in ("category", "pair_type", "split")]
        return [*table_values(0, [ANY] * 5 + ["", "id", False]), *choices]

    gr.on(None, load, inputs=None, outputs=[*table_out, f_category, f_type, f_split], api_visibility="private")
    saved_name.change(lambda name: name or "", saved_name, annotator, api_visibility="private")
    gr.on([annotator.submit, annotator.blur], lambda name: " ".join((name or "").split()), annotator, saved_name,
          api_visibility="private")

    def refilter(*values):
        out = table_values(0, values)
        return [*out, {"ids": out[3], "index": -1, "source": "table"}]

    gr.on([c.change for c in (f_label, f_category, f_type, f_split, f_edited, sort, descending)] + [search.submit],
          refilter, view, [*table_out, nav], api_visibility="private")

    def turn(step):
        def go(off, *values):
            out = table_values(max(0, off + step * PAGE), values)
            return [*out, {"ids": out[3], "index": -1, "source": "table"}]
        return go

    prev_page.click(turn(-1), [offset, *view], [*table_out, nav], api_visibility="private")
    next_page.click(turn(+1), [offset, *view], [*table_out, nav], api_visibility="private")

    def select(source):
        def go(ids, evt: gr.SelectData):
            new_nav = {"ids": ids, "index": evt.index[0], "source": source}
            return [*pair_view(current(new_nav)), new_nav, ""]
        return go

    table.select(select("table"), page_ids, [*detail_out, nav, message], api_visibility="private")
    review.select(select("review"), review_ids, [*detail_out, nav, message], api_visibility="private")

    def focus(pair_id):
        from compat.store.records import PairNotFound

        if not (pair_id or "").strip():
            return [gr.skip()] * (len(detail_out) + 2)
        try:
            pid = int((pair_id or "").strip())
            return [*pair_view(pid), {"ids": [pid], "index": 0, "source": "focus"}, ""]
        except (ValueError, PairNotFound):
            return [*pair_view(None), {"ids": [], "index": -1, "source": "focus"}, f"No pair #{pair_id} in the store."]

    ctx.pair_focus.change(focus, ctx.pair_focus, [*detail_out, nav, message], api_visibility="private")

    def move(step):
        def go(nav_value, off, *values):
            i, ids = nav_value["index"] + step, nav_value["ids"]
            out = table_values(off, values)
            if nav_value["source"] == "table" and not 0 <= i < len(ids):
                if i >= len(ids) and out[2] + PAGE < shared_store().count(filters_of(*values[:6])):
                    out, i = table_values(out[2] + PAGE, values), 0
                elif i < 0 and out[2] > 0:
                    out = table_values(out[2] - PAGE, values)
                    i = len(out[3]) - 1
                ids = out[3]
            new_nav = {**nav_value, "ids": ids, "index": max(0, min(i, len(ids) - 1))}
            return [*out, *pair_view(current(new_nav)), new_nav]
        return go

    prev.click(move(-1), [nav, offset, *view], [*table_out, *detail_out, nav], api_visibility="private")
    nxt.click(move(+1), [nav, offset, *view], [*table_out, *detail_out, nav], api_visibility="private")

    def mark(label):
        def go(nav_value, seen_version, name, off, *values):
            pair_id = current(nav_value)
            text = relabel_pair(pair_id, label, seen_version, name)
            return [text, *table_values(off, values), *pair_view(pair_id)]
        return go

    for button, label in ((mark_1, 1), (mark_0, 0)):
        button.click(mark(label), [nav, version, annotator, offset, *view], [message, *table_out, *detail_out],
                     api_visibility="private")

    def undo_last(nav_value, name, off, *values):
        if not (name or "").strip():
            text = "Type your name in 'Annotator' first."
        else:
            done = shared_store().undo_last(name)
            text = ("Nothing of yours to undo." if done is None else
                    f"Undid change #{done.change_id} ({done.kind}): {done.reverted} pair(s) put back"
                    + (f", {done.skipped} left alone (changed by someone since)." if done.skipped else "."))
        return [text, *table_values(off, values), *pair_view(current(nav_value))]

    undo.click(undo_last, [nav, annotator, offset, *view], [message, *table_out, *detail_out],
               api_visibility="private")

    def ask_bulk(label, *values):
        filters = filters_of(*values[:6])
        n = shared_store().count(filters)
        if n == 0:
            return gr.update(visible=False), "", None, "No pairs match the filter."
        text = f"Relabel **{n:,}** pairs matching the current filter as **{label}**? This is one change; Undo reverts it."
        return gr.update(visible=True), text, n, ""

    bulk_ask.click(ask_bulk, [bulk_label, *view], [confirm_row, confirm_text, bulk_count, message],
                   api_visibility="private")
    cancel.click(lambda: (gr.update(visible=False), None), None, [confirm_row, bulk_count], api_visibility="private")

    def do_bulk(label, n, name, nav_value, off, *values):
        from compat.store.records import CountChanged

        if not (name or "").strip():
            text = "Type your name in 'Annotator' first."
        else:
            try:
                changed = shared_store().bulk_relabel(filters_of(*values[:6]), LABELS[label], name, expected_count=n)
                text = f"Relabeled {changed:,} of {n:,} matching pairs as {label} (the rest already were)."
            except CountChanged as exc:
                text = f"Not applied: {exc}. Check the filter and ask again."
        return [gr.update(visible=False), text, *table_values(off, values), *pair_view(current(nav_value))]

    confirm.click(do_bulk, [bulk_label, bulk_count, annotator, nav, offset, *view],
                  [confirm_row, message, *table_out, *detail_out], api_visibility="private")

    def do_rank(*values, progress=gr.Progress()):
        import pandas as pd

        rows, text = review_queue(filters_of(*values[:6]), progress=progress)
        return pd.DataFrame(rows, columns=REVIEW), text, [r[0] for r in rows]

    rank.click(do_rank, view, [review, review_info, review_ids], api_visibility="private")

    def import_and_refresh(path, skip, *values):
        s = shared_store()
        report = import_file(path, skip)
        choices = [gr.update(choices=[ANY, *s.choices(c)]) for c in ("category", "pair_type", "split")]
        return [report, *table_values(0, values), *choices]

    do_import.click(import_and_refresh, [upload, skip_bad, *view], [import_report, *table_out, f_category, f_type, f_split],
                    api_visibility="private")
    do_export.click(lambda f, sc, *v: export_file(f, sc, filters_of(*v[:6])), [fmt, scope, *view],
                    [download, message], api_visibility="private")

    gr.api(data_api.list_pairs, api_name="list_pairs")
    gr.api(data_api.relabel, api_name="relabel")
    gr.api(data_api.bulk_relabel, api_name="bulk_relabel")
