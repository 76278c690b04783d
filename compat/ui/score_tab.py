"""Score tab: two statements in, base and fine-tuned compatibility side by side."""

from __future__ import annotations

import gradio as gr

from compat.scoring import EXAMPLE_PAIRS

EXAMPLES = [[a, b] for a, b, _ in EXAMPLE_PAIRS]


def score_pair(text_a: str, text_b: str) -> tuple[float | None, float | None, str, str]:
    """Base cosine, fine-tuned cosine, the fine-tuned verdict, and a message; never raises to the UI."""
    from compat.active import active_finetuned
    from compat.scoring import score
    from compat.text import StatementError

    try:
        base = score(text_a, text_b, "base")
    except StatementError as exc:
        return None, None, "", f"Cannot score: {exc}."
    name = active_finetuned()
    if name is None:
        return round(base.cosine, 4), None, "", "No fine-tuned model yet: train one in the Train tab."
    try:
        tuned = score(text_a, text_b, name)
    except Exception as exc:  # a broken run must not take the base score down with it
        return round(base.cosine, 4), None, "", f"Fine-tuned model {name!r} failed: {exc}"
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
    gr.Markdown(
        "Type what two people say about themselves. The base model measures topic similarity; "
        "the fine-tuned model should measure compatibility."
    )
    with gr.Row():
        text_a = gr.Textbox(label="Person A", lines=2, max_length=5000, placeholder="boy: I love lazy Sundays")
        text_b = gr.Textbox(label="Person B", lines=2, max_length=5000, placeholder="girl: Clubs drain me")
    gr.Examples(EXAMPLES, inputs=[text_a, text_b], label="Example pairs (click one)")
    button = gr.Button("Score", variant="primary")
    with gr.Row():
        base = gr.Number(label="Base model (cosine)", precision=4, interactive=False, elem_id="score-base")
        tuned = gr.Number(label="Fine-tuned (cosine)", precision=4, interactive=False, elem_id="score-tuned")
        verdict = gr.Textbox(label="Fine-tuned verdict", interactive=False, elem_id="score-verdict")
    message = gr.Textbox(label="Message", interactive=False, elem_id="score-message")
    outputs = [base, tuned, verdict, message]
    button.click(score_pair, [text_a, text_b], outputs, api_name="score")
    text_b.submit(score_pair, [text_a, text_b], outputs, api_visibility="private")

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
