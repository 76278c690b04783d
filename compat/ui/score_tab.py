"""Score tab: two statements in; the fine-tuned verdict first, the base model's cosine beside it, the
evidence ("Why"), "This is wrong / right" into the label store (compat/ui/score_loop.py), and matching."""

from __future__ import annotations

import gradio as gr

from compat.scoring import EXAMPLE_PAIRS
from compat.ui.data_tab import ANNOTATOR_KEY

EXAMPLES = [[a, b] for a, b, _ in EXAMPLE_PAIRS]


def score_pair(text_a: str, text_b: str) -> tuple[float | None, float | None, str, str]:
    """Base cosine, fine-tuned cosine, the fine-tuned verdict, and a message; never raises to the UI."""
    from compat.scoring import score_base_and_tuned

    scored = score_base_and_tuned(text_a, text_b)
    base, tuned, name = scored.base, scored.tuned, scored.model
    if base is None:
        return None, None, "", f"Cannot score: {scored.error}."
    if name is None:
        return round(base.cosine, 4), None, "", "No fine-tuned model yet: train one in the Train tab."
    if tuned is None:
        return round(base.cosine, 4), None, "", f"Fine-tuned model {name!r} failed: {scored.error}"
    verdict = ""
    if tuned.probability is not None:
        verdict = f"{tuned.probability:.0%} compatible"
    return round(base.cosine, 4), round(tuned.cosine, 4), verdict, f"Fine-tuned model: {name}"


def store_statements() -> list[str]:
    """Every distinct statement in the label store (seeded from the shipped data on first use)."""
    from compat.store.shared import shared_store

    seen: dict[str, None] = {}
    for row in shared_store().rows():
        seen.setdefault(row.text_1)
        seen.setdefault(row.text_2)
    return list(seen)


def find_matches(statement: str) -> tuple[list[list], str]:
    """The 5 statements in the store most compatible with `statement`, by the fine-tuned model."""
    from compat.active import active_finetuned
    from compat.evaluation.matching import top_matches
    from compat.text import StatementError

    name = active_finetuned() or "base"
    try:
        matches = top_matches(name, statement, store_statements(), k=5)
    except StatementError as exc:
        return [], f"Cannot match: {exc}."
    rows = [[text, round(cos, 4), "" if p is None else f"{p:.0%}"] for text, cos, p in matches]
    note = "" if name != "base" else " (no fine-tuned model yet: these are topic matches from the base model)"
    return rows, f"Top {len(rows)} of the label store's statements by model {name}{note}."


def find_pool_matches(statement: str, pool_file: str | None, k: int = 10) -> tuple[list[list], str]:
    """The k statements of an uploaded pool (.jsonl or .txt, see compat.evaluation.pool) most compatible with
    `statement`, by the fine-tuned model: rows of [id, statement, cosine, compatible], and a note."""
    from compat.active import active_finetuned
    from compat.evaluation.pool import PoolFileError, match_pool, read_pool
    from compat.text import StatementError

    if not pool_file:
        return [], ("Upload a pool first: .jsonl with one {\"text\": ..., \"id\": ...} a line, "
                    "or .txt with one statement a line.")
    name = active_finetuned() or "base"
    try:
        entries = read_pool(pool_file)
        matches, info = match_pool(name, entries, statement, k=max(1, min(int(k or 10), 100)))
    except (PoolFileError, StatementError) as exc:
        return [], f"Cannot match: {exc}"
    rows = [[str(m.id), m.text, round(m.cosine, 4), "" if m.probability is None else f"{m.probability:.0%}"]
            for m in matches]
    how = "exact search" if info["kind"] == "exact" else f"faiss index, nprobe {info['nprobe']}"
    return rows, f"Top {len(rows)} of {len(entries):,} pool statements by model {name} ({how})."


def build(ctx) -> None:
    from compat.ui import score_loop

    gr.Markdown(
        "Type what two people say about themselves. The fine-tuned model gives a verdict; the base model's "
        "cosine beside it measures topic similarity. If the verdict is wrong, say so: the pair goes into "
        "the label store for the next training run."
    )
    with gr.Row():
        text_a = gr.Textbox(label="Person A", lines=2, max_length=5000, placeholder="boy: I love lazy Sundays")
        text_b = gr.Textbox(label="Person B", lines=2, max_length=5000, placeholder="girl: Clubs drain me")
    gr.Examples(EXAMPLES, inputs=[text_a, text_b], label="Example pairs (click one)")
    button = gr.Button("Score", variant="primary")
    headline = gr.HTML("", elem_id="score-headline")
    model_says = gr.State(None)
    with gr.Row():
        name = gr.Textbox(label="Your name", placeholder="stored with the label, as in the Data tab",
                          max_length=100, scale=2, elem_id="score-annotator")
        wrong = gr.Button("This is wrong", variant="stop", elem_id="score-wrong")
        right = gr.Button("This is right", elem_id="score-right")
    feedback = gr.Textbox(label="Stored?", interactive=False, elem_id="score-feedback")
    to_data = gr.Button("Show the hand-added pairs in the Data tab", size="sm", elem_id="score-to-data")
    # the message stays in view: it says why a pair could not be scored, and how long scoring took
    message = gr.Textbox(label="Message", interactive=False, elem_id="score-message")
    with gr.Accordion("Raw cosines", open=False, elem_id="score-raw"):
        with gr.Row():
            base = gr.Number(label="Base model (cosine)", precision=4, interactive=False, elem_id="score-base")
            tuned = gr.Number(label="Fine-tuned (cosine)", precision=4, interactive=False, elem_id="score-tuned")
            verdict = gr.Textbox(label="Fine-tuned verdict", interactive=False, elem_id="score-verdict")
    with gr.Accordion("Why: what the fine-tuned model leans on", open=False):
        why_button = gr.Button("Show the nearest labelled statements and pairs", elem_id="score-why")
        why_note = gr.Markdown()
        with gr.Row():
            near_a = gr.Dataframe(headers=score_loop.WHY_STATEMENT_COLUMNS, interactive=False, wrap=True,
                                  label="Nearest to Person A", elem_id="score-why-a")
            near_b = gr.Dataframe(headers=score_loop.WHY_STATEMENT_COLUMNS, interactive=False, wrap=True,
                                  label="Nearest to Person B", elem_id="score-why-b")
        near_pairs = gr.Dataframe(headers=score_loop.WHY_PAIR_COLUMNS, interactive=False, wrap=True,
                                  label="Stored pairs nearest to this pair", elem_id="score-why-pairs")
    with gr.Accordion("The examples: what a person would say, and does the model agree?", open=False):
        examples = gr.Dataframe(value=score_loop.example_rows(), headers=score_loop.EXAMPLE_COLUMNS,
                                interactive=False, wrap=True, elem_id="score-examples")
        check = gr.Button("Check the examples against the current model", elem_id="score-check-examples")

    with gr.Accordion("Score a file of pairs", open=False):
        batch_in = gr.File(label="Pairs: .jsonl or .csv with text_1, text_2 (other fields kept)",
                           file_types=[".jsonl", ".csv"], type="filepath", elem_id="score-batch-in")
        batch_button = gr.Button("Score the file", elem_id="score-batch")
        batch_out = gr.File(label="Scored file (base_cosine, tuned_cosine, probability per row)", interactive=False,
                            elem_id="score-batch-out")
        batch_note = gr.Textbox(label="About the scoring", interactive=False, lines=3, elem_id="score-batch-note")
    batch_button.click(score_loop.score_uploaded_file, batch_in, [batch_out, batch_note], api_name="score_file")

    saved_name = gr.BrowserState("", storage_key=ANNOTATOR_KEY, secret="compat-annotator-name")
    private = {"api_visibility": "private"}
    outputs = [base, tuned, verdict, message]
    for trigger, options in ((button.click, {"api_name": "score"}), (text_b.submit, private)):
        trigger(score_pair, [text_a, text_b], outputs, **options).then(
            score_loop.headline, [text_a, text_b], [headline, model_says], **private)
    saved_name.change(lambda n: " ".join((n or "").split()), saved_name, name, **private)
    gr.on([name.submit, name.blur], lambda n: " ".join((n or "").split()), name, saved_name, **private)
    wrong.click(lambda a, b, s, n: score_loop.store_judgement(a, b, s, False, n), [text_a, text_b, model_says, name],
                feedback, **private)
    right.click(lambda a, b, s, n: score_loop.store_judgement(a, b, s, True, n), [text_a, text_b, model_says, name],
                feedback, **private)
    to_data.click(lambda: (score_loop.show_hand_added(), gr.Tabs(selected="data")), None,
                  [ctx.data_source, ctx.tabs], **private)
    why_button.click(score_loop.why, [text_a, text_b], [near_a, near_b, near_pairs, why_note], **private)
    check.click(score_loop.check_examples, None, examples, **private)

    with gr.Accordion("Who fits Person A? Matches from the label store", open=False):
        match_button = gr.Button("Find matches for Person A")
        matches = gr.Dataframe(headers=["statement", "cosine", "compatible"], interactive=False,
                               elem_id="score-matches")
        match_note = gr.Textbox(label="About these matches", interactive=False)
    match_button.click(find_matches, text_a, [matches, match_note], api_name="match")

    with gr.Accordion("Who fits Person A? Matches from your own pool of profiles", open=False):
        pool_file = gr.File(label="Pool: .jsonl ({\"text\": ..., \"id\": ...} a line) or .txt (a statement a line)",
                            file_types=[".jsonl", ".txt"], type="filepath")
        pool_k = gr.Number(10, label="How many matches", precision=0, minimum=1, maximum=100)
        pool_button = gr.Button("Find matches for Person A in this pool")
        pool_matches = gr.Dataframe(headers=["id", "statement", "cosine", "compatible"], interactive=False,
                                    elem_id="score-pool-matches")
        pool_note = gr.Textbox(label="About these matches", interactive=False)
    pool_button.click(find_pool_matches, [text_a, pool_file, pool_k], [pool_matches, pool_note],
                      api_name="match_pool")
