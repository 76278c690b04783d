"""The Score tab's loop: the fine-tuned verdict first (coloured, calibrated), the evidence it leans on ("Why"),
"This is wrong / right" storing the pair in the label store, and whether the model agrees with the example
pairs' labels. Plain functions of component values; compat/ui/score_tab.py lays them out and wires them."""

from __future__ import annotations

import html
import time

from compat.scoring import EXAMPLE_PAIRS

HAND_ADDED = "hand-added"
EXAMPLE_COLUMNS = ["Person A", "Person B", "a person says", "the model says", "agrees"]
WHY_STATEMENT_COLUMNS = ["nearest labelled statement", "category", "cosine"]
WHY_PAIR_COLUMNS = ["pair id", "statement A", "statement B", "label", "similarity"]


def label_words(label: int | None) -> str:
    """How a label reads on the Score tab."""
    return {1: "compatible", 0: "not compatible"}.get(label, "")


def verdict_html(probability: float | None, tuned_cosine: float | None, base_cosine: float | None,
                 model_name: str | None) -> str:
    """The headline: the fine-tuned verdict (green compatible / red not, with the calibrated %), the base
    model's cosine beside it. Without a calibrated model, the cosine alone and a note saying so."""
    base = "" if base_cosine is None else (
        f"<div class='compat-base'>base model (topic similarity): cosine {base_cosine:.3f}</div>")
    if tuned_cosine is None:
        return f"<div id='compat-verdict' class='compat-none'>No fine-tuned verdict yet.</div>{base}"
    if probability is None:
        return (f"<div id='compat-verdict' class='compat-none'>fine-tuned cosine {tuned_cosine:.3f} "
                f"(model {html.escape(str(model_name))} has no calibration, so no verdict)</div>{base}")
    says = 1 if probability >= 0.5 else 0
    colour = "#15803d" if says else "#b91c1c"
    return (f"<div id='compat-verdict' data-label='{says}' style='font-size:1.6em;font-weight:600;"
            f"color:{colour}'>{label_words(says).capitalize()} · {probability:.0%}</div>"
            f"<div>fine-tuned model {html.escape(str(model_name))}, calibrated probability of compatible; "
            f"cosine {tuned_cosine:.3f}</div>{base}")


def headline(text_a: str, text_b: str) -> tuple[str, int | None]:
    """The verdict HTML for two statements, and the label the fine-tuned model gives (None without one)."""
    from compat.scoring import score_base_and_tuned

    scored = score_base_and_tuned(text_a, text_b)
    base, tuned, name = scored.base, scored.tuned, scored.model
    if base is None:
        return f"<div id='compat-verdict' class='compat-none'>Cannot score: {html.escape(scored.error)}.</div>", None
    if name is None:
        return verdict_html(None, None, base.cosine, None), None
    if tuned is None:
        return verdict_html(None, None, base.cosine, name) + f"<div>{html.escape(scored.error)}</div>", None
    says = None if tuned.probability is None else int(tuned.probability >= 0.5)
    return verdict_html(tuned.probability, tuned.cosine, base.cosine, name), says


def store_judgement(text_a: str, text_b: str, model_says: int | None, model_is_right: bool,
                    annotator: str) -> str:
    """Store the pair with the label the person gives ("This is right": the model's; "wrong": the other)
    through the add_pair endpoint; the message says what happened and where the pair is now."""
    from compat.ui.data_api import add_pair

    if model_says is None:
        return "Score the pair first: there is no fine-tuned verdict to call right or wrong."
    if not " ".join((annotator or "").split()):
        return "Type your name first (it is stored with the label, as in the Data tab)."
    label = model_says if model_is_right else 1 - model_says
    note = f"Score tab: the model's verdict ({label_words(model_says)}) marked {'right' if model_is_right else 'wrong'}"
    answer = add_pair(text_a, text_b, label, annotator, note=note)
    if not answer["ok"]:
        return f"Not stored: {answer['error']}"
    pair = answer["pair"]
    done = {"added": "Added", "relabelled": "Relabelled", "restored": "Restored",
            "unchanged": "Already stored with this label:"}[answer["action"]]
    return (f"{done} pair #{pair['id']} as {label_words(label)} ({pair['source']}, split {pair['split']}, by "
            f"{' '.join(annotator.split())}). It is in the next training run's current-labels snapshot. "
            "See it in the Data tab, filtered to hand-added pairs (button below); Undo there takes it back.")


def show_hand_added() -> str:
    """The value that tells the Data tab to filter to hand-added pairs (a fresh one each time, so a second
    click is a change too)."""
    return f"{HAND_ADDED}#{time.time()}"


def why(text_a: str, text_b: str) -> tuple[list[list], list[list], list[list], str]:
    """The evidence: the nearest labelled statements to A and to B and the stored pairs nearest to this pair,
    under the active fine-tuned model (the base model when there is none); and a note."""
    from compat.active import active_finetuned
    from compat.evaluation.evidence import nearest_pairs, nearest_statements
    from compat.store.shared import shared_store
    from compat.text import StatementError

    name = active_finetuned() or "base"
    rows = shared_store().rows()
    try:
        near_a, near_b = (nearest_statements(name, t, rows, k=3) for t in (text_a, text_b))
        pairs = nearest_pairs(name, text_a, text_b, rows, k=5)
    except StatementError as exc:
        return [], [], [], f"Cannot explain: {exc}."
    statement_rows = [[[s.text, s.category or "", round(s.cosine, 3)] for s in near] for near in (near_a, near_b)]
    pair_rows = [[p.pair_id, p.text_1, p.text_2, label_words(p.label), round(p.similarity, 3)] for p in pairs]
    return (*statement_rows, pair_rows,
            f"Nearest among the {len(rows):,} stored pairs under model {name}: what this score leans on.")


def example_rows(check: bool = False) -> list[list]:
    """The example pairs with the label a person would give; with `check`, the active fine-tuned model's
    verdict and whether it agrees."""
    rows = []
    for text_a, text_b, label in EXAMPLE_PAIRS:
        says, agrees = "", ""
        if check:
            from compat.active import active_finetuned
            from compat.scoring import score

            name = active_finetuned()
            if name is not None:
                p = score(text_a, text_b, name).probability
                if p is not None:
                    says = f"{label_words(int(p >= 0.5))} ({p:.0%})"
                    agrees = "yes" if int(p >= 0.5) == label else "NO"
        rows.append([text_a, text_b, label_words(label), says, agrees])
    return rows


def check_examples():
    """The examples table with the current model's verdicts (for the Score tab's button)."""
    import pandas as pd

    return pd.DataFrame(example_rows(check=True), columns=EXAMPLE_COLUMNS)


def score_uploaded_file(pairs_file: str | None) -> tuple[str | None, str]:
    """The `score_file` endpoint: a JSONL or CSV file of pairs scored by the base and the active fine-tuned
    model (compat.batch_scoring); returns (the scored file to download, or None, and a message naming every
    bad line). Never raises for a bad file: the message says why."""
    import tempfile
    from pathlib import Path

    from compat.active import active_finetuned
    from compat.batch_scoring import score_file, write_scored

    if not pairs_file:
        return None, "Upload a .jsonl or .csv file of pairs (text_1, text_2) first."
    scored = score_file(pairs_file, active_finetuned() or "base")
    bad = "".join(f"\nline {e.line}: {e.message}" for e in scored.errors)
    if not scored.rows:
        return None, f"No row could be scored.{bad}"
    suffix = ".csv" if str(pairs_file).lower().endswith(".csv") else ".jsonl"
    out = Path(tempfile.mkdtemp(prefix="compat-scored-")) / f"scored{suffix}"
    write_scored(out, scored)
    return str(out), f"Scored {len(scored.rows):,} rows with base and {scored.model}; {len(scored.errors)} bad.{bad}"
