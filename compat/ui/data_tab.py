"""Data tab: page through the label store and correct labels by hand.

Buttons or keys (1 compatible, 0 incompatible, arrows for next / previous), a bulk relabel of everything
the filter matches (after a confirmation that says how many), undo, the history of each label, a review
queue ranked by how strongly the fine-tuned model disagrees with the label, delete (soft, undoable), a filter
for where pairs came from (hand-added), import (JSONL or CSV) and export.
This module lays the tab out and wires its events to the handlers in compat/ui/data_events.py; the API
endpoints (`list_pairs`, `relabel`, `bulk_relabel`, `add_pair`, `delete_pair`) are in compat/ui/data_api.py.
"""

from __future__ import annotations

import gradio as gr

from compat.store.review import COLUMNS as REVIEW
from compat.ui import data_api, data_events
from compat.ui.data_events import ANY, EDITED, HISTORY, LABELS, SOURCES, TABLE, Cursor

SORTS = [("id", "id"), ("last changed", "updated"), ("label", "label"), ("category", "category"),
         ("pair type", "pair_type"), ("split", "split"), ("statement A", "text_1"), ("statement B", "text_2")]
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
        f_source = gr.Dropdown(SOURCES, value=ANY, label="Source", elem_id="data-source")
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
        delete = gr.Button("Delete", elem_id="data-delete")
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
            upload = gr.File(label="Pair file (.jsonl, or .csv with a header: text_1, text_2, label, ...)",
                             file_types=[".jsonl", ".csv"], type="filepath", height=140)
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

    cursor = gr.State(Cursor())  # what ↑/↓ walk through
    page_ids, review_ids = gr.State([]), gr.State([])
    version, offset, bulk_count = gr.State(None), gr.State(0), gr.State(None)
    view = [f_label, f_category, f_type, f_split, f_edited, search, sort, descending, f_source]  # View's fields
    table_out = [table, page_info, offset, page_ids, counts]  # TableView's fields
    detail_out = [text_1, text_2, explanation, info, history, version]  # pair_view's values
    private = {"api_visibility": "private"}

    gr.on(None, data_events.load_tab, inputs=None, outputs=[*table_out, f_category, f_type, f_split], **private)
    saved_name.change(data_events.normalised_name, saved_name, annotator, **private)
    gr.on([annotator.submit, annotator.blur], data_events.normalised_name, annotator, saved_name, **private)
    gr.on([c.change for c in (f_label, f_category, f_type, f_split, f_edited, sort, descending, f_source)]
          + [search.submit],
          data_events.refilter, view, [*table_out, cursor], **private)
    prev_page.click(data_events.previous_page, [offset, *view], [*table_out, cursor], **private)
    next_page.click(data_events.next_page, [offset, *view], [*table_out, cursor], **private)
    table.select(data_events.select_in_table, page_ids, [*detail_out, cursor, message], **private)
    review.select(data_events.select_in_review, review_ids, [*detail_out, cursor, message], **private)
    ctx.data_source.change(data_events.focus_source, [ctx.data_source, *view], [f_source, *table_out, cursor],
                           **private)
    ctx.pair_focus.change(data_events.focus_pair, ctx.pair_focus, [*detail_out, cursor, message], **private)
    prev.click(data_events.previous_pair, [cursor, offset, *view], [*table_out, *detail_out, cursor], **private)
    nxt.click(data_events.next_pair, [cursor, offset, *view], [*table_out, *detail_out, cursor], **private)
    for button, handler in ((mark_1, data_events.mark_compatible), (mark_0, data_events.mark_incompatible)):
        button.click(handler, [cursor, version, annotator, offset, *view], [message, *table_out, *detail_out],
                     **private)
    delete.click(data_events.delete_selected, [cursor, annotator, offset, *view],
                 [message, *table_out, *detail_out], **private)
    undo.click(data_events.undo_last, [cursor, annotator, offset, *view], [message, *table_out, *detail_out],
               **private)
    bulk_ask.click(data_events.ask_bulk, [bulk_label, *view], [confirm_row, confirm_text, bulk_count, message],
                   **private)
    cancel.click(data_events.cancel_bulk, None, [confirm_row, bulk_count], **private)
    confirm.click(data_events.do_bulk, [bulk_label, bulk_count, annotator, cursor, offset, *view],
                  [confirm_row, message, *table_out, *detail_out], **private)
    rank.click(data_events.rank, view, [review, review_info, review_ids], **private)
    do_import.click(data_events.import_and_refresh, [upload, skip_bad, *view],
                    [import_report, *table_out, f_category, f_type, f_split], **private)
    do_export.click(data_events.export_view, [fmt, scope, *view], [download, message], **private)

    gr.api(data_api.list_pairs, api_name="list_pairs")
    gr.api(data_api.relabel, api_name="relabel")
    gr.api(data_api.bulk_relabel, api_name="bulk_relabel")
    gr.api(data_api.add_pair, api_name="add_pair")
    gr.api(data_api.delete_pair, api_name="delete_pair")
