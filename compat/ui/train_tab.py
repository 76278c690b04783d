"""Train tab: pick data and settings, click Train, watch live loss and validation curves.

The tab only asks the runner to start or stop a run and reads back what the run writes, every second,
so a reload or a second tab shows the same job, and Score and Data stay usable while it trains.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import gradio as gr

from compat.text import DEFAULT_INSTRUCTION
from compat.training.callbacks import format_seconds
from compat.training.config import LOSSES as TRAINING_LOSSES
from compat.training.config import PRESETS as TRAINING_PRESETS
from compat.training.progress import compare_figure, eval_figure, loss_figure, progress_of
from compat.training.runner import (
    RunnerBusy,
    default_runner,
    log_tail,
    read_events,
    read_json,
    run_summary,
    store_snapshot,
    train_arguments,
)

SOURCES = ["Current labels (label store)", "Shipped data set (data/)", "Uploaded file"]
PRESETS = list(TRAINING_PRESETS)
LOSSES = ["(preset)", *TRAINING_LOSSES]
SETTINGS = ["preset", "quant4", "lora_r", "lora_alpha", "full", "loss", "epochs", "lr", "batch",
            "instruction", "seed", "max_steps"]
DEFAULTS = {"preset": "quick", "quant4": True, "full": False, "loss": "(preset)", "seed": 42}  # the controls' values


def _settings(values: dict) -> dict:
    """UI values to runner settings; blank fields mean 'the preset decides'."""
    loss = values.get("loss")
    return {
        "preset": values.get("preset") or "quick",
        "quant": None if values.get("quant4") is None else ("4bit" if values["quant4"] else "none"),
        "lora_r": values.get("lora_r"), "lora_alpha": values.get("lora_alpha"),
        "full": bool(values.get("full")), "loss": None if loss in (None, "(preset)") else loss,
        "epochs": values.get("epochs"), "lr": values.get("lr"), "batch": values.get("batch"),
        "instruction": (values.get("instruction") or "").strip() or None,
        "seed": values.get("seed"), "max_steps": values.get("max_steps"),
    }


def cli_command(source: str, file, *values) -> str:
    """The equivalent command line, to copy."""
    data = {SOURCES[0]: "<label snapshot>", SOURCES[1]: "data"}.get(source, Path(file).name if file else "FILE")
    args = ["python", "-m", "compat", "train", "--data", data,
            *train_arguments(_settings(dict(zip(SETTINGS, values))))]
    return shlex.join(args)


def default_command() -> str:
    """The command line for the tab's controls as the page first shows them (shown before any change)."""
    return cli_command(SOURCES[0], None, *(DEFAULTS.get(key) for key in SETTINGS))


def start_training(source: str, file, *values) -> tuple[str, str]:
    """Start a run in the background; returns (message, run id)."""
    runner = default_runner()
    settings = _settings(dict(zip(SETTINGS, values)))

    def prepare(run_dir: Path) -> list[str]:
        from compat.active import active_finetuned
        from compat.evaluation.changes import record_before

        record_before(run_dir, active_finetuned())  # what "After a run: what changed" compares with
        if source == SOURCES[0]:
            return store_snapshot(run_dir)
        if source == SOURCES[1]:
            from compat.paths import DATA_DIR
            return ["--data", str(DATA_DIR)]
        if not file:
            raise ValueError("choose a pair file to upload first")
        target = run_dir / "uploaded.jsonl"
        shutil.copyfile(file, target)
        return ["--data", str(target)]

    try:
        run_id = runner.start(train_arguments(settings), prepare)
    except (RunnerBusy, ValueError) as exc:
        return f"Not started: {exc}", ""
    return f"Started run {run_id}.", run_id


def _status_and_progress(run_id: str) -> tuple[dict, object]:
    """A run's status dict and its parsed events (None when there is no such run), read once."""
    runner = default_runner()
    if not run_id:
        current = runner.active() or next(iter(runner.runs()), None)
        if current is None:
            return {"run_id": None, "status": "none", "message": "no runs yet"}, None
        run_id = current.run_id
    try:
        info = runner.info(run_id)
    except (ValueError, OSError) as exc:
        return {"run_id": run_id, "status": "unknown", "error": str(exc)}, None
    p = progress_of(read_events(info.path))
    return {
        "run_id": run_id, "status": info.status, "error": info.error, "usable": info.usable,
        "progress": p.fraction, "elapsed": p.elapsed, "eta": p.eta,
        "steps": p.steps, "loss": p.loss, "eval_steps": p.eval_steps, "auc": p.auc, "cohen_d": p.cohen_d,
        # not "path": gradio_client takes any dict with a string "path" for a file and fetches it
        "metrics": read_json(info.path / "metrics.json"), "run_dir": str(info.path),
    }, p


def training_status(run_id: str = "") -> dict:
    """Status, progress, loss points and final metrics of a run (the active or newest when no id)."""
    return _status_and_progress(run_id)[0]


def stop_training(run_id: str = "") -> dict:
    """Stop a run (the active one when no id); it saves at the next step and ends 'stopped'."""
    runner = default_runner()
    try:
        current = runner.info(run_id) if run_id else runner.active()
    except (ValueError, OSError) as exc:
        return {"run_id": run_id, "status": "unknown", "error": str(exc)}
    if current is None:
        return {"run_id": None, "status": "none", "message": "nothing is running"}
    info = runner.stop(current.run_id)
    return {"run_id": info.run_id, "status": info.status, "message": "stop requested"}


def _progress_html(status: dict) -> str:
    # built from numbers and fixed words only: nothing a user typed is rendered as HTML
    pct = int(100 * (status.get("progress") or 0))
    return (f"<div style='border:1px solid #ccc;border-radius:4px;height:18px'><div style='width:{pct}%;"
            f"height:100%;background:#4f8cff;border-radius:4px'></div></div><small>{pct}% · elapsed "
            f"{format_seconds(status.get('elapsed'))} · remaining {format_seconds(status.get('eta'))}</small>")


def _metrics_rows(metrics: dict | None) -> list[list]:
    """Final metrics, fine-tuned beside base: one row per measured set (validation, test, extra test
    files) and metric. metrics.json keeps each set as {"fine_tuned": {...}, "base": {...}}."""
    rows = []
    for name, block in (metrics or {}).items():
        if not isinstance(block, dict) or "fine_tuned" not in block:
            continue
        tuned, base = block["fine_tuned"] or {}, block.get("base") or {}
        for key in ("auc", "cohen_d", "accuracy", "f1", "recall_at_1"):
            if isinstance(tuned.get(key), (int, float)):
                b = base.get(key)
                rows.append([name, key, round(tuned[key], 4), None if b is None else round(b, 4),
                             None if b is None else round(tuned[key] - b, 4)])
    return rows


def refresh(selected: str):
    """Everything the live view shows for the selected run (or the active/newest one)."""
    status, p = _status_and_progress(selected or "")
    if p is None:
        empty = progress_of([])
        text = ("No runs yet: choose data and a preset, then click Train." if status["status"] == "none"
                else f"Run {status['run_id']!r}: {status.get('error')}")
        return (text, "", loss_figure(empty), eval_figure(empty), "", [], gr.update(interactive=False),
                gr.update(), gr.update(interactive=False))
    run_id = status["run_id"]
    headline = f"**Run {run_id}: {status['status']}**"
    if status.get("error"):
        headline += f" — {status['error'].splitlines()[-1][:300]}"
    usable = bool(status.get("usable"))
    return (headline, _progress_html(status), loss_figure(p), eval_figure(p),
            log_tail(Path(status["run_dir"])), _metrics_rows(status.get("metrics")),
            gr.update(interactive=usable), gr.update(), gr.update(interactive=usable))


def runs_table() -> list[list]:
    rows = [run_summary(r) for r in default_runner().runs()]
    return [[r["run_id"], r["status"], r["started"] or "", str(r["data"] or "")[-40:], r["preset"] or "",
             r["loss"] or "", r["test_auc"], r["test_cohen_d"]] for r in rows]


def use_model(run_id: str) -> str:
    from compat.active import set_active

    try:
        chosen = set_active(str(default_runner().run_dir(run_id)))
    except Exception as exc:
        return f"Cannot use run {run_id}: {exc}"
    return f"Score and Explore now use the fine-tuned model of run {run_id} ({chosen})."


def download_model(run_id: str) -> tuple[str | None, str]:
    """(path of a zip of the run's exported model, message): the merged sentence-transformers folder
    with its model card and calibration (compat.export), as `python -m compat export-model` writes it."""
    from compat.export.archive import export_run_archive

    run_id = run_id or training_status("")["run_id"] or ""
    if not run_id:
        return None, "No run to download yet: train one first."
    try:
        info = default_runner().info(run_id)
        if not info.usable:
            return None, f"Run {run_id} has no finished model to download ({info.status})."
        archive = export_run_archive(info.path)
    except Exception as exc:  # shown to the user; the tab keeps working
        return None, f"Cannot export run {run_id}: {exc}"
    return str(archive), (f"Run {run_id} exported: unzip it and load the folder with "
                          "SentenceTransformer(folder); README.md inside is its model card.")


CHANGE_COLUMNS = ["set", "metric", "base", "before this run", "this run"]
FLIP_COLUMNS = ["pair id", "set", "statement A", "statement B", "label", "before", "this run", "change"]


def what_changed(run_id: str) -> tuple[list[list], list[list], list, str]:
    """"After a run: what changed" for a finished run (the shown one, else the newest): its model beside the
    model active before it and the base on the same pairs, the flipped pairs, their store ids, and a note."""
    from compat.evaluation.changes import cached_changes

    run_id = run_id or training_status("")["run_id"] or ""
    try:
        info = default_runner().info(run_id) if run_id else None
    except (ValueError, OSError) as exc:
        return [], [], [], f"No run {run_id!r}: {exc}"
    if info is None or not info.usable:
        return [], [], [], "No finished run to compare yet: train one first."
    changes = cached_changes(info.path, str(info.path))
    rows = [[set_name, metric, *(None if by.get(role) is None else round(by[role][metric], 4)
                                 for role in ("base", "before", "this run"))]
            for set_name, by in changes.metrics.items() for metric in ("auc", "accuracy")]
    words = {1: "compatible", 0: "not compatible"}
    flips = [["" if f.pair_id is None else f.pair_id, f.set_name, f.text_1, f.text_2, words[f.label],
              words[f.before], words[f.after], f.direction] for f in changes.flips]
    before = changes.before or "base (no fine-tuned model was active)"
    gained = sum(f.direction == "wrong -> right" for f in changes.flips)
    note = (f"Run {run_id} against the model before it ({before}): {gained} pairs now right, "
            f"{len(flips) - gained} now wrong. Click a flipped pair to open it in the Data tab.")
    return rows, flips, [f.pair_id for f in changes.flips], note


def changes_when_ready(run_id: str, shown: str):
    """Every few seconds: once the shown (or newest) run has finished and the runner has worked out what
    changed (changes.json, written in the background when a run ends), show it and open its panel, once
    per run. Until then, and after, it changes nothing on the page."""
    from compat.evaluation.changes import CHANGES_FILE

    nothing = (gr.skip(),) * 6
    run_id = run_id or training_status("")["run_id"] or ""
    if not run_id or run_id == shown:
        return nothing
    try:
        info = default_runner().info(run_id)
    except (ValueError, OSError):
        return nothing
    if not info.usable or not (info.path / CHANGES_FILE).exists():
        return nothing
    return (*what_changed(run_id), gr.Accordion(open=True), run_id)


def open_flip(ids: list, evt: gr.SelectData):
    """A click on a flipped pair: show it in the Data tab (pairs not in the label store cannot be opened)."""
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    pair_id = ids[row] if ids and row is not None and 0 <= row < len(ids) else None
    if pair_id is None:
        return gr.skip(), gr.skip(), "That pair is not in the label store (the natural pairs are not imported)."
    return str(pair_id), gr.Tabs(selected="data"), f"Opened pair #{pair_id} in the Data tab."


def compare(run_ids: list[str]):
    runner = default_runner()
    return compare_figure({rid: progress_of(read_events(runner.run_dir(rid))) for rid in run_ids or []})


def soup_runs(run_ids: list[str]) -> dict:
    """Average two or more finished runs of one recipe into a new run (compat.training.soup), which the runner
    starts like a training run; {"ok", "error", "run_id" (the new run), "message"}."""
    from compat.training.soup import SoupError

    if len(run_ids or []) < 2:
        error = "select at least two finished runs of one recipe (seeds) to average"
        return {"ok": False, "error": error, "run_id": None, "message": f"Not averaged: {error}."}
    try:
        new = default_runner().soup(list(run_ids))
    except (SoupError, RunnerBusy, ValueError, OSError) as exc:  # SoupError and DataError are ValueErrors
        return {"ok": False, "error": str(exc), "run_id": None, "message": f"Not averaged: {exc}"}
    return {"ok": True, "error": None, "run_id": new,
            "message": f"Averaging {len(run_ids)} runs into run {new} (shown above): its stance gain, metrics "
                       "and calibration follow in about a minute."}


def _soup_clicked(run_ids: list[str]):
    answer = soup_runs(run_ids)
    return answer["message"], answer["run_id"] or gr.skip()


def delete_run(run_id: str) -> str:
    try:
        default_runner().delete(run_id)
    except (RunnerBusy, ValueError, OSError) as exc:
        return f"Not deleted: {exc}"
    return f"Deleted run {run_id}."


def build(ctx) -> None:
    default_runner().mark_interrupted()
    with gr.Row():
        with gr.Column(scale=2):
            source = gr.Radio(SOURCES, value=SOURCES[0], label="Data")
            file = gr.File(label="Pair file (JSONL)", file_types=[".jsonl"], type="filepath")
            preset = gr.Radio(PRESETS, value=DEFAULTS["preset"], label="Preset (quick: 1 epoch, default: 2)")
            with gr.Accordion("Advanced settings (blank or 0: the preset decides)", open=False):
                with gr.Row():
                    quant4 = gr.Checkbox(value=DEFAULTS["quant4"], label="4-bit base (QLoRA)")
                    full = gr.Checkbox(value=DEFAULTS["full"], label="Full fine-tune (no LoRA)")
                with gr.Row():
                    lora_r = gr.Number(None, label="LoRA rank", precision=0)
                    lora_alpha = gr.Number(None, label="LoRA alpha", precision=0)
                    loss = gr.Dropdown(LOSSES, value=DEFAULTS["loss"], label="Loss",
                                       info="(preset): cosent+supcon, the pairs and stance groups")
                with gr.Row():
                    epochs = gr.Number(None, label="Epochs")
                    lr = gr.Number(None, label="Learning rate")
                    batch = gr.Number(None, label="Batch size", precision=0)
                with gr.Row():
                    seed = gr.Number(DEFAULTS["seed"], label="Seed", precision=0)
                    max_steps = gr.Number(None, label="Max steps (blank: all)", precision=0)
                instruction = gr.Textbox(label="Instruction prompt (blank: none; 'default' for the standard one)",
                                         placeholder=DEFAULT_INSTRUCTION)
            command = gr.Code(default_command(), label="The same run from a terminal", language="shell",
                              interactive=False, elem_id="train-command")
            with gr.Row():
                train = gr.Button("Train", variant="primary")
                stop = gr.Button("Stop", variant="stop")
            message = gr.Textbox(label="Message", interactive=False, elem_id="train-message")
        with gr.Column(scale=3):
            run_id = gr.Textbox(label="Run shown (blank: the current or newest)", elem_id="train-run-id")
            headline = gr.Markdown(elem_id="train-headline")
            bar = gr.HTML()
            loss_plot = gr.Plot(label="Loss", elem_id="train-loss")
            eval_plot = gr.Plot(label="Validation metrics")
            results = gr.Dataframe(headers=["split", "metric", "fine-tuned", "base", "change"],
                                   label="Final metrics", interactive=False)
            with gr.Row():
                use = gr.Button("Use this model", interactive=False)
                download = gr.Button("Download model", interactive=False)
            download_file = gr.File(label="Exported model (zip: sentence-transformers folder, model card)",
                                    interactive=False, elem_id="train-download")
            log = gr.Code(label="Log (tail)", interactive=False)
            with gr.Accordion("After a run: what changed", open=False, elem_id="train-changed-box") as changes_box:
                changed_btn = gr.Button("Compare with the model before this run", elem_id="train-changed")
                changed_note = gr.Markdown(elem_id="train-changed-note")
                changed = gr.Dataframe(headers=CHANGE_COLUMNS, interactive=False, elem_id="train-changed-metrics")
                flips = gr.Dataframe(headers=FLIP_COLUMNS, interactive=False, wrap=True, max_height=360,
                                     label="Pairs whose verdict flipped", elem_id="train-flips")
                flip_ids = gr.State([])
                changes_shown = gr.State("")  # the run whose changes were last shown by themselves
    with gr.Accordion("All runs", open=False):
        table = gr.Dataframe(headers=["run", "status", "started", "data", "preset", "loss", "test AUC",
                                      "test d"], interactive=False, value=runs_table)
        with gr.Row():
            chosen = gr.Dropdown([], multiselect=True, label="Runs to compare, average or delete")
            compare_btn = gr.Button("Compare loss curves")
            soup_btn = gr.Button("Average into one model (soup)")
            delete_btn = gr.Button("Delete selected")
        compare_plot = gr.Plot()

    inputs = [source, file, preset, quant4, lora_r, lora_alpha, full, loss, epochs, lr, batch,
              instruction, seed, max_steps]
    for component in inputs:
        component.change(cli_command, inputs, command, api_visibility="private", show_progress="hidden")
    train.click(start_training, inputs, [message, run_id], api_name="start_training")
    stop.click(lambda rid: stop_training(rid).get("message", ""), run_id, message, api_visibility="private")
    gr.api(training_status, api_name="training_status")
    gr.api(stop_training, api_name="stop_training")

    live = [headline, bar, loss_plot, eval_plot, log, results, use, run_id, download]
    timer = gr.Timer(1.0)
    timer.tick(refresh, run_id, live, api_visibility="private", show_progress="hidden")
    use.click(lambda rid: use_model(rid or training_status("")["run_id"] or ""), run_id, message,
              api_visibility="private")
    download.click(download_model, run_id, [download_file, message], api_name="download_model")
    changed_btn.click(what_changed, run_id, [changed, flips, flip_ids, changed_note], api_visibility="private")
    flips.select(open_flip, flip_ids, [ctx.pair_focus, ctx.tabs, message], api_visibility="private")

    def refresh_runs():
        rows = runs_table()
        return rows, gr.update(choices=[r[0] for r in rows])

    compare_btn.click(compare, chosen, compare_plot, api_visibility="private")
    soup_btn.click(_soup_clicked, chosen, [message, run_id], api_visibility="private").then(
        refresh_runs, None, [table, chosen], api_visibility="private")
    gr.api(soup_runs, api_name="soup_runs")
    delete_btn.click(lambda ids: "\n".join(delete_run(i) for i in ids or []), chosen, message,
                     api_visibility="private").then(refresh_runs, None, [table, chosen], api_visibility="private")
    slow_timer = gr.Timer(5.0)
    slow_timer.tick(refresh_runs, None, [table, chosen], api_visibility="private", show_progress="hidden")
    slow_timer.tick(changes_when_ready, [run_id, changes_shown],
                    [changed, flips, flip_ids, changed_note, changes_box, changes_shown],
                    api_visibility="private", show_progress="hidden")
