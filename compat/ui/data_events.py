"""The Data tab's event handlers and what they show (compat/ui/data_tab.py lays the tab out and wires them).

Each handler is a plain function of the values of its input components: `*view` stands for the filter and
sort controls' values, in View's field order, so no handler indexes into a list of values. Every store
access goes through compat.store.shared.shared_store().
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import gradio as gr

from compat.store.records import CountChanged, Filters, PairNotFound, StaleVersion
from compat.store.review import COLUMNS as REVIEW
from compat.store.shared import shared_store

PAGE = 50
ANY = "any"
LABELS = {ANY: None, "compatible (1)": 1, "incompatible (0)": 0}
EDITED = {ANY: None, "edited": True, "not edited": False}
SOURCES = [ANY, "generated", "imported", "hand-added"]
TABLE = ["id", "label", "statement A", "statement B", "category", "pair type", "split", "edited"]
HISTORY = ["when (UTC)", "who", "from", "to", "note"]
PAIR_VIEW_VALUES = 6  # what pair_view returns: statement A, statement B, explanation, info, history, version


@dataclass(frozen=True)
class View:
    """What the filter and sort controls say, in the order compat.ui.data_tab.build passes them as inputs
    (label, category, pair type, split, edited, search, sort, descending, source)."""

    label: str = ANY
    category: str = ANY
    pair_type: str = ANY
    split: str = ANY
    edited: str = ANY
    search: str = ""
    sort: str = "id"
    descending: bool = False
    source: str = ANY

    def filters(self) -> Filters:
        """The store's Filters for these controls ("any" and blanks filter nothing)."""
        def chosen(value):
            return None if value in (None, "", ANY) else value

        return Filters(label=LABELS.get(self.label), category=chosen(self.category),
                       pair_type=chosen(self.pair_type), split=chosen(self.split), edited=EDITED.get(self.edited),
                       search=(self.search or "").strip() or None, source=chosen(self.source))


@dataclass(frozen=True)
class Cursor:
    """The pairs ↑ / ↓ walk through (a table page, the review queue, or one pair opened from elsewhere)
    and the selected one's place among them (-1: none)."""

    ids: tuple[int, ...] = ()
    index: int = -1
    source: str = "table"

    @property
    def pair_id(self) -> int | None:
        return self.ids[self.index] if 0 <= self.index < len(self.ids) else None


class TableView(NamedTuple):
    """What the table outputs show, in their order: the page, where it is, its offset, its pair ids, and
    the store's counts line."""

    frame: object  # pandas.DataFrame
    position: str
    offset: int
    ids: list[int]
    counts: str


def label_text(label: int | None) -> str:
    """How a label reads in the tab."""
    return {1: "compatible (1)", 0: "incompatible (0)"}.get(label, "")


def page_table(filters, sort: str, descending: bool, offset: int):
    """One page of the table (pandas), the text saying where it is, the offset used, and its pair ids."""
    import pandas as pd

    page = shared_store().query(filters, sort or "id", bool(descending), max(0, int(offset or 0)), PAGE)
    if page.total and not page.rows:  # past the end (rows were relabeled out of the filter): last page
        last = (page.total - 1) // PAGE * PAGE
        page = shared_store().query(filters, sort or "id", bool(descending), last, PAGE)
    rows = [[r.id, r.label, r.text_1, r.text_2, r.category or "", r.pair_type or "", r.split or "",
             "yes" if r.origin == "edited" else ""] for r in page.rows]
    shown = f"{page.offset + 1:,}–{page.offset + len(rows):,}" if rows else "0"
    return pd.DataFrame(rows, columns=TABLE), f"{shown} of {page.total:,} pairs", page.offset, [r.id for r in page.rows]


def counts_text() -> str:
    """The line of counts above the table: pairs, by label, edited, by split."""
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
    history = [[h.at.replace("T", " ")[:19], h.annotator, h.old_label, h.new_label,
                ("" if h.action == "label" else f"[{h.action}] ") + (h.note or "")]
               for h in reversed(row.history)]
    edited = "edited by hand" if row.origin == "edited" else row.origin
    if row.deleted:
        edited += " · **deleted** (Undo brings it back)"
    info = (f"Pair #{row.id} · **{label_text(row.label)}** · {row.category or '-'} / {row.subcategory or '-'}"
            f" · {row.pair_type or '-'} · split {row.split or '-'} · {edited} · version {row.version}")
    return row.text_1, row.text_2, row.explanation or "", info, pd.DataFrame(history, columns=HISTORY), row.version


def relabel_pair(pair_id: int | None, label: int, version: int | None, annotator: str) -> str:
    """Apply one label change from the UI; the message says what happened, including a refusal."""
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
    """Import a pair file into the store; the report says what was added, skipped or refused."""
    from compat.pairs import PairFileError

    if not path:
        return "Choose a .jsonl or .csv file first."
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


def table_view(offset: int, view: View) -> TableView:
    """The table page at `offset` under `view`, with the counts line."""
    return TableView(*page_table(view.filters(), view.sort, view.descending, offset), counts_text())


def _choices() -> list:
    """Updates of the category, pair type and split drop-downs to the values the store holds."""
    store = shared_store()
    return [gr.update(choices=[ANY, *store.choices(c)]) for c in ("category", "pair_type", "split")]


# -- event handlers: `*view` are the filter and sort controls' values (View's fields, in order) -------

def load_tab():
    """Page load: the filters are at their defaults again."""
    return [*table_view(0, View()), *_choices()]


def normalised_name(name: str | None) -> str:
    """The annotator name as stored: whitespace collapsed."""
    return " ".join((name or "").split())


def refilter(*view):
    """A filter or the sort changed: the first page under it, nothing selected."""
    out = table_view(0, View(*view))
    return [*out, Cursor(tuple(out.ids))]


def _turn_page(step: int, offset: int, view: tuple):
    out = table_view(max(0, offset + step * PAGE), View(*view))
    return [*out, Cursor(tuple(out.ids))]


def previous_page(offset: int, *view):
    """◀: the page before, nothing selected."""
    return _turn_page(-1, offset, view)


def next_page(offset: int, *view):
    """▶: the page after, nothing selected."""
    return _turn_page(+1, offset, view)


def _select(source: str, ids: list[int], evt: gr.SelectData):
    cursor = Cursor(tuple(ids), evt.index[0], source)
    return [*pair_view(cursor.pair_id), cursor, ""]


def select_in_table(ids: list[int], evt: gr.SelectData):
    """A click on a table row: that pair, and ↑ / ↓ walk the page."""
    return _select("table", ids, evt)


def select_in_review(ids: list[int], evt: gr.SelectData):
    """A click on a review queue row: that pair, and ↑ / ↓ walk the queue."""
    return _select("review", ids, evt)


def focus_pair(pair_id: str):
    """Another tab asked to show a pair (ctx.pair_focus): show it, or say it is not in the store."""
    if not (pair_id or "").strip():
        return [gr.skip()] * (PAIR_VIEW_VALUES + 2)  # and the cursor and the message
    try:
        pid = int(pair_id.strip())
        return [*pair_view(pid), Cursor((pid,), 0, "focus"), ""]
    except (ValueError, PairNotFound):
        return [*pair_view(None), Cursor(source="focus"), f"No pair #{pair_id} in the store."]


def _move(step: int, cursor: Cursor, offset: int, view: tuple):
    """↑ / ↓: the neighbouring pair; in the table, across to the next or previous page at its ends."""
    view = View(*view)
    i, ids = cursor.index + step, cursor.ids
    out = table_view(offset, view)
    if cursor.source == "table" and not 0 <= i < len(ids):
        if i >= len(ids) and out.offset + PAGE < shared_store().count(view.filters()):
            out, i = table_view(out.offset + PAGE, view), 0
        elif i < 0 and out.offset > 0:
            out = table_view(out.offset - PAGE, view)
            i = len(out.ids) - 1
        ids = tuple(out.ids)
    moved = Cursor(ids, max(0, min(i, len(ids) - 1)), cursor.source)
    return [*out, *pair_view(moved.pair_id), moved]


def previous_pair(cursor: Cursor, offset: int, *view):
    """↑ (or the key)."""
    return _move(-1, cursor, offset, view)


def next_pair(cursor: Cursor, offset: int, *view):
    """↓ (or the key)."""
    return _move(+1, cursor, offset, view)


def _mark(label: int, cursor: Cursor, seen_version: int | None, annotator: str, offset: int, view: tuple):
    text = relabel_pair(cursor.pair_id, label, seen_version, annotator)
    return [text, *table_view(offset, View(*view)), *pair_view(cursor.pair_id)]


def mark_compatible(cursor: Cursor, seen_version: int | None, annotator: str, offset: int, *view):
    """Compatible (1), or the key 1: relabel the selected pair if it is still the version shown."""
    return _mark(1, cursor, seen_version, annotator, offset, view)


def mark_incompatible(cursor: Cursor, seen_version: int | None, annotator: str, offset: int, *view):
    """Incompatible (0), or the key 0: relabel the selected pair if it is still the version shown."""
    return _mark(0, cursor, seen_version, annotator, offset, view)


def undo_last(cursor: Cursor, annotator: str, offset: int, *view):
    """Undo the annotator's last change (a whole bulk relabel at once)."""
    if not (annotator or "").strip():
        text = "Type your name in 'Annotator' first."
    else:
        done = shared_store().undo_last(annotator)
        text = ("Nothing of yours to undo." if done is None else
                f"Undid change #{done.change_id} ({done.kind}): {done.reverted} pair(s) put back"
                + (f", {done.skipped} left alone (changed by someone since)." if done.skipped else "."))
    return [text, *table_view(offset, View(*view)), *pair_view(cursor.pair_id)]


def ask_bulk(label: str, *view):
    """Show the confirmation of a bulk relabel, with the number of pairs it would change."""
    n = shared_store().count(View(*view).filters())
    if n == 0:
        return gr.update(visible=False), "", None, "No pairs match the filter."
    text = f"Relabel **{n:,}** pairs matching the current filter as **{label}**? This is one change; Undo reverts it."
    return gr.update(visible=True), text, n, ""


def cancel_bulk():
    """Hide the bulk relabel's confirmation and forget the count it showed."""
    return gr.update(visible=False), None


def do_bulk(label: str, confirmed: int | None, annotator: str, cursor: Cursor, offset: int, *view):
    """The confirmed bulk relabel; refused when the filter now matches another number of pairs."""
    view = View(*view)
    if not (annotator or "").strip():
        text = "Type your name in 'Annotator' first."
    else:
        try:
            changed = shared_store().bulk_relabel(view.filters(), LABELS[label], annotator,
                                                  expected_count=confirmed)
            text = f"Relabeled {changed:,} of {confirmed:,} matching pairs as {label} (the rest already were)."
        except CountChanged as exc:
            text = f"Not applied: {exc}. Check the filter and ask again."
    return [gr.update(visible=False), text, *table_view(offset, view), *pair_view(cursor.pair_id)]


def rank(*view, progress=gr.Progress()):
    """The review queue of the filtered pairs, with the pair ids its rows select."""
    import pandas as pd

    rows, text = review_queue(View(*view).filters(), progress=progress)
    return pd.DataFrame(rows, columns=REVIEW), text, [r[0] for r in rows]


def import_and_refresh(path: str | None, skip_bad: bool, *view):
    """Import a pair file, then show the first page and the drop-downs' new values."""
    report = import_file(path, skip_bad)
    return [report, *table_view(0, View(*view)), *_choices()]


def export_view(fmt: str, scope: str, *view):
    """Export all pairs, the filtered ones or the edited ones, as a file to download."""
    return export_file(fmt, scope, View(*view).filters())


def delete_selected(cursor: Cursor, annotator: str, offset: int, *view):
    """Delete the selected pair (a soft delete: out of lists, exports and training; Undo brings it back)."""
    from compat.store.edits import delete_pairs

    if cursor.pair_id is None:
        text = "Select a pair first."
    elif not (annotator or "").strip():
        text = "Type your name in 'Annotator' first."
    else:
        try:
            done = delete_pairs(shared_store(), [cursor.pair_id], annotator, note="deleted in the Data tab")
            text = (f"Deleted pair #{cursor.pair_id}: it is out of lists, exports and training snapshots. "
                    "Undo my last change brings it back." if done else f"Pair #{cursor.pair_id} was deleted already.")
        except PairNotFound:
            text = f"No pair #{cursor.pair_id} in the store."
    return [text, *table_view(offset, View(*view)), *pair_view(cursor.pair_id)]


def focus_source(value: str, *view):
    """Another tab asked for the pairs of one source (ctx.data_source, "hand-added#<nonce>"): set the source
    filter and show the first page under it."""
    source = (value or "").split("#", 1)[0]
    if source not in SOURCES:
        return [gr.skip()] * (len(TableView._fields) + 2)  # the drop-down and the cursor too
    out = table_view(0, View(*view[:-1], source))
    return [source, *out, Cursor(tuple(out.ids))]
