"""The Blocks app: one module per tab, each with `build(ctx)`, plus launch settings from the environment.

Tab contract: a module compat/ui/<name>_tab.py defines `build(ctx: AppContext) -> None`; it is called
inside `with gr.Tab(label, id=name)` and creates that tab's components and events. Shared things live
on `ctx`: `ctx.tabs` (the gr.Tabs, select another tab with `gr.Tabs(selected="data")` as an output),
`ctx.pair_focus` (a hidden Textbox: set it to a pair id to show that pair in the Data tab), `ctx.data_source`
(set it to "hand-added#<anything>" to filter the Data tab to that source).
Events meant for scripts get an `api_name` (docs/conventions.md); the others `api_visibility="private"`.
Library work (models, store, runner) is imported inside the event functions so the page starts fast.
"""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass

import gradio as gr

TABS = [("Score", "score"), ("Data", "data"), ("Train", "train"), ("Explore", "explore")]
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860


@dataclass
class AppContext:
    """What the tabs share."""

    tabs: gr.Tabs | None = None
    pair_focus: gr.Textbox | None = None
    data_source: gr.Textbox | None = None  # "hand-added#<nonce>": the Data tab filters to that source


def build_app() -> gr.Blocks:
    """The whole app, ready to launch."""
    ctx = AppContext()
    with gr.Blocks(title="compat — learn compatibility, not topic similarity") as app:
        gr.Markdown(
            "# compat\nAn embedding model that learns *relationship compatibility*, "
            "not just topic similarity."
        )
        ctx.pair_focus = gr.Textbox(visible=False, elem_id="pair-focus")
        ctx.data_source = gr.Textbox(visible=False, elem_id="data-source-focus")
        with gr.Tabs() as ctx.tabs:
            for label, name in TABS:
                with gr.Tab(label, id=name):
                    importlib.import_module(f"compat.ui.{name}_tab").build(ctx)
    return app


def _warm_up() -> None:
    """Load the models in the background so the first Score click is quick; the page is up already."""
    from compat.active import active_finetuned
    from compat.models import load_model

    for name in ("base", active_finetuned()):
        if name:
            try:
                load_model(name)
            except Exception as exc:  # the Score tab reports problems when used; start-up must not die
                print(f"compat: could not preload model {name!r}: {exc}")


def _watch_training(interval: float = 2.0) -> None:
    """Runs beside the app. While a training child runs, the app's torch uses one thread: two processes
    each running as many threads as there are cores made every op ~40x slower here (docs/traps.md,
    trap 4). When a run ends with a usable model, its embeddings and UMAP projections for the shipped
    validation and test sets are computed in the background, so its first Explore view is quick."""
    import sys
    import time

    from compat.paths import DATA_DIR
    from compat.training.runner import default_runner

    cores = os.cpu_count() or 1
    watched = None
    while True:
        runner = default_runner()
        active = runner.active()
        torch = sys.modules.get("torch")  # only once something in the app has imported it
        if torch is not None and torch.get_num_threads() != (1 if active else cores):
            torch.set_num_threads(1 if active else cores)
        if watched and (active is None or active.run_id != watched):
            ended = runner.info(watched)
            if ended.usable:
                from compat.evaluation.projection import warm_cache_in_background

                warm_cache_in_background(str(ended.path), [DATA_DIR / "validation.jsonl", DATA_DIR / "test.jsonl"])
                threading.Thread(target=_measure_changes, args=(ended.path,), daemon=True).start()
        watched = active.run_id if active else None
        time.sleep(interval)


def _measure_changes(run_dir) -> None:
    """After a run ends: measure what changed against the model before it, so the Train tab's "After a run:
    what changed" answers at once (compat.evaluation.changes keeps it in the run dir)."""
    from compat.evaluation.changes import cached_changes

    try:
        cached_changes(run_dir, str(run_dir))
    except Exception as exc:  # the button measures again and shows the problem
        print(f"compat: could not measure what run {run_dir} changed: {exc}")


def launch(host: str | None = None, port: int | None = None, *, block: bool = True) -> gr.Blocks:
    """Serve the app on COMPAT_HOST:COMPAT_PORT (default 127.0.0.1:7860), login if COMPAT_AUTH is set (and
    then a login page that does not describe the API: compat.ui.auth)."""
    from starlette.middleware import Middleware

    from compat.ui.auth import HideApiFromLoginPage, login_from_env

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    host = host or os.environ.get("COMPAT_HOST", DEFAULT_HOST)
    port = int(port or os.environ.get("COMPAT_PORT", DEFAULT_PORT))
    login = login_from_env()
    app = build_app()
    app.queue(default_concurrency_limit=4)
    app.launch(
        server_name=host, server_port=port, auth=login, prevent_thread_lock=True,
        show_error=False, max_file_size="20mb", footer_links=["api", "settings"],
        app_kwargs={"middleware": [Middleware(HideApiFromLoginPage)]} if login else None,
    )
    threading.Thread(target=_warm_up, daemon=True, name="compat-warm-up").start()
    threading.Thread(target=_watch_training, daemon=True, name="compat-training-watch").start()
    print(f"compat: serving on http://{host}:{port}", flush=True)
    if block:
        app.block_thread()
    return app
