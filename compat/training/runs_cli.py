"""`python -m compat runs [list|use|stop|delete|compare] ...`: the Train tab's run list, from a terminal.

Runs are the folders under COMPAT_HOME/runs that the app's runner starts (`compat train` or `compat soup`
with no `--out`); the same library calls sit under both (compat.training.runner, compat.active).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from compat.cli import CommandFailed

COLUMNS = (("run_id", "run"), ("status", "status"), ("started", "started"), ("preset", "preset"),
           ("loss", "loss"), ("steps", "steps"), ("stance_gain", "gain"), ("validation_auc", "val AUC"),
           ("validation_recall_at_5", "val r@5"), ("test_auc", "test AUC"), ("test_cohen_d", "test d"))


def add_runs_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="every run, newest first, with its figures (the default action)")
    listing.add_argument("--json", action="store_true", help="one JSON object per run, a list")
    use = actions.add_parser("use", help="the app's Score and Explore tabs and `compat score` use this run's model "
                                         "(the Train tab's 'Use this model'); `default` is the shipped one")
    use.add_argument("run_id")
    stop = actions.add_parser("stop", help="ask a running run to stop; it saves at its next step")
    stop.add_argument("run_id")
    delete = actions.add_parser("delete", help="remove runs' folders (all named runs exist, or none is removed)")
    delete.add_argument("run_ids", nargs="+", metavar="run_id")
    compare = actions.add_parser("compare", help="runs' final figures side by side; --html: their loss curves")
    compare.add_argument("run_ids", nargs="+", metavar="run_id")
    compare.add_argument("--json", action="store_true", help="the runs' summaries as JSON")
    compare.add_argument("--html", type=Path, metavar="FILE", help="also write the loss curves overlaid "
                                                                   "(plotly, self-contained) to FILE")


def existing(runner, run_id: str):
    """The RunInfo of `run_id`; CommandFailed naming the runs folder when there is no such run."""
    try:
        path = runner.run_dir(run_id)
    except ValueError as exc:
        raise CommandFailed(str(exc)) from exc
    if not path.is_dir():
        raise CommandFailed(f"no run {run_id!r} in {runner.root} (`python -m compat runs` lists them)")
    return runner.info(run_id)


def table(summaries: list[dict]) -> str:
    """A plain-text table of run summaries, one line each."""
    def cell(value) -> str:
        return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    rows = [[name for _, name in COLUMNS]] + [[cell(s[key]) for key, _ in COLUMNS] for s in summaries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def run_runs(args: argparse.Namespace) -> int:
    from compat.training.runner import ACTIVE, RunnerBusy, default_runner, run_summary

    runner = default_runner()
    action = args.action or "list"
    if action == "list":
        summaries = [run_summary(r) for r in runner.runs()]
        if getattr(args, "json", False):
            print(json.dumps(summaries, indent=1))
        else:
            print(table(summaries) if summaries else f"no runs yet in {runner.root}")
    elif action == "use":
        print(use(runner, args.run_id))
    elif action == "stop":
        if existing(runner, args.run_id).status in ACTIVE:
            runner.stop(args.run_id)
            print(f"run {args.run_id}: asked to stop; it saves at its next step and ends 'stopped'")
        else:
            print(f"run {args.run_id} is {runner.info(args.run_id).status}: nothing to stop")
    elif action == "delete":
        infos = [existing(runner, run_id) for run_id in args.run_ids]  # every one exists before any goes
        busy = [i.run_id for i in infos if i.status in ACTIVE]
        if busy:
            raise CommandFailed(f"run {busy[0]} is still running; `python -m compat runs stop {busy[0]}` first "
                                "(nothing was deleted)")
        for info in infos:
            try:
                runner.delete(info.run_id)
            except RunnerBusy as exc:
                raise CommandFailed(str(exc)) from exc
            print(f"deleted run {info.run_id}")
    else:
        compare(runner, args)
    return 0


def use(runner, run_id: str) -> str:
    """Make a run's model (or the shipped `default`) the active fine-tuned model; the message to print."""
    from compat.active import set_active
    from compat.models import ModelNotFound

    if run_id == "default":
        path = "default"
    else:
        info = existing(runner, run_id)
        if not info.usable:
            raise CommandFailed(f"run {run_id} has no usable model ({info.status})")
        path = str(info.path)
    try:
        chosen = set_active(path)
    except ModelNotFound as exc:
        raise CommandFailed(str(exc)) from exc
    return f"the app's Score and Explore tabs and `python -m compat score` now use {chosen}"


def compare(runner, args: argparse.Namespace) -> None:
    """Print the runs' summaries side by side; with --html, write their loss curves overlaid."""
    from compat.pairs import atomic_write
    from compat.training.progress import compare_figure, progress_of
    from compat.training.runner import read_events, run_summary

    infos = [existing(runner, run_id) for run_id in args.run_ids]
    summaries = [run_summary(i) for i in infos]
    print(json.dumps(summaries, indent=1) if args.json else table(summaries))
    if args.html:
        figure = compare_figure({i.run_id: progress_of(read_events(i.path)) for i in infos})
        atomic_write(args.html, figure.to_html(include_plotlyjs=True, full_html=True))
        print(f"wrote the loss curves to {args.html}")
