"""The runner owns training processes: it starts `python -m compat train` (or `soup`) as a child, one at a time,
and everything else (progress, status, metrics) is read back from the run directory the child writes.
Because state lives on disk, a page reload, a second browser tab or a restarted app sees the same job.

Run directory (written by compat.training): config.json, status.json {"status", "pid", "error", ...},
events.jsonl, metrics.json, compat_model.json + adapter/ once usable. The runner adds runner.json
(command, pid, start time) and train.log (the child's stdout and stderr).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from compat.models import MODEL_FILE
from compat.pairs import atomic_write
from compat.paths import REPO_ROOT, inside, runs_dir
from compat.training.rundir import new_run_id, pid_alive

ACTIVE = {"starting", "running"}
ENDED = {"finished", "stopped", "failed", "interrupted"}


class RunnerBusy(RuntimeError):
    """A run is already going; only one trains at a time on this machine."""


@dataclass(frozen=True)
class RunInfo:
    """What the UI shows of one run."""

    run_id: str
    status: str
    error: str | None
    started: float | None
    path: Path

    @property
    def usable(self) -> bool:
        return (self.path / MODEL_FILE).exists() and self.status in ("finished", "stopped")


def read_json(path: Path, default=None):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def read_events(run_dir: Path) -> list[dict]:
    """events.jsonl as dicts; a line still being written (no newline yet) is left for the next read."""
    try:
        text = (run_dir / "events.jsonl").read_text()
    except OSError:
        return []
    events = []
    for line in text.splitlines(keepends=True):
        if line.endswith("\n"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


def log_tail(run_dir: Path, lines: int = 30) -> str:
    try:
        return "\n".join((run_dir / "train.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_summary(info: RunInfo) -> dict:
    """One run as the run lists show it (the Train tab, `compat runs`): id, status, start, data, preset, loss,
    steps, the soup's seeds when it is one, the stance gain taken, and validation and test AUC, Cohen's d and
    recall@5 of the model as served (None where the run has not measured them)."""
    config = read_json(info.path / "config.json", {}) or {}
    settings = config.get("settings") or {}
    metrics = read_json(info.path / "metrics.json", {}) or {}
    summary = {"run_id": info.run_id, "status": info.status, "usable": info.usable, "error": info.error,
               "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(info.started)) if info.started else None,
               "data": settings.get("data"), "preset": settings.get("preset"), "loss": settings.get("loss"),
               "steps": metrics.get("steps"), "soup_of": [i["run"] for i in metrics.get("soup") or []] or None,
               "stance_gain": (metrics.get("stance_gain") or {}).get("chosen")}
    for split in ("validation", "test"):
        tuned = (metrics.get(split) or {}).get("fine_tuned") or {}
        summary |= {f"{split}_{key}": tuned.get(key) for key in ("auc", "cohen_d", "recall_at_5")}
    return summary


class TrainingRunner:
    """Starts, watches and stops training runs under one runs directory."""

    def __init__(self, root: Path | None = None):
        self.root = root or runs_dir()
        self._lock = threading.Lock()
        self._spawner = _Spawner()

    def run_dir(self, run_id: str) -> Path:
        """The directory of a run id; ids from the UI cannot escape the runs directory."""
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise ValueError(f"invalid run id {run_id!r}")
        return inside(self.root, run_id)

    def info(self, run_id: str) -> RunInfo:
        """A run's status, from its files and whether its process lives."""
        path = self.run_dir(run_id)
        status = read_json(path / "status.json", {}) or {}
        runner = read_json(path / "runner.json", {}) or {}
        state = status.get("status") or ("starting" if runner else "unknown")
        error = status.get("error")
        if state in ACTIVE and not pid_alive(status.get("pid") or runner.get("pid")):
            state, error = self._settle(path, status)
        return RunInfo(run_id, state, error, runner.get("started") or status.get("started"), path)

    def _settle(self, path: Path, status: dict) -> tuple[str, str | None]:
        """A run whose process is gone while its files say it runs: failed at start, or interrupted."""
        if (path / "status.json").exists():
            state, error = "interrupted", "the training process ended without finishing (app or machine stopped)"
        else:
            state, error = "failed", log_tail(path, 15) or "the training process exited before starting"
        atomic_write(path / "status.json", json.dumps({**status, "status": state, "error": error,
                                                       "ended": time.time()}))
        return state, error

    def runs(self) -> list[RunInfo]:
        """Every run, newest first."""
        ids = [p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return sorted((self.info(i) for i in ids), key=lambda r: r.started or 0, reverse=True)

    def active(self) -> RunInfo | None:
        return next((r for r in self.runs() if r.status in ACTIVE), None)

    def mark_interrupted(self) -> list[str]:
        """At app start: every run whose process is gone is settled (interrupted or failed)."""
        return [r.run_id for r in self.runs() if r.status in ("interrupted", "failed")]

    def start(self, train_args: list[str], prepare=None) -> str:
        """Start `python -m compat train <train_args> --out <new run dir>`; refuses while one runs.

        `prepare(run_dir)` may write inputs (a label snapshot) and return extra arguments.
        """
        return self._launch(lambda path: ["train", *train_args, *(prepare(path) if prepare else [])])

    def soup(self, run_ids: list[str]) -> str:
        """Start `python -m compat soup <the runs' folders> --out <new run dir>` (compat.training.soup) as a job
        like a training run; SoupError at once, before anything starts, for runs it cannot average."""
        from compat.training.soup import check_ingredients, read_ingredient

        paths = [self.run_dir(run_id) for run_id in run_ids]
        check_ingredients([read_ingredient(path) for path in paths])
        return self._launch(lambda path: ["soup", *map(str, paths)])

    def _launch(self, arguments) -> str:
        """Start `python -m compat <arguments(run dir)> --out <new run dir>` unless a job runs; its run id."""
        with self._lock:
            busy = self.active()
            if busy:
                raise RunnerBusy(f"run {busy.run_id} is still {busy.status}; stop it or wait for it to end")
            run_id = new_run_id()
            path = self.run_dir(run_id)
            path.mkdir(parents=True)
            command = [sys.executable, "-m", "compat", *arguments(path), "--out", str(path)]
            env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
            pid = self._spawner.spawn(command, env, path / "train.log")
            atomic_write(path / "runner.json", json.dumps({"pid": pid, "started": time.time(),
                                                           "command": command}))
            return run_id

    def stop(self, run_id: str) -> RunInfo:
        """Ask a run to stop: a STOP file and SIGTERM; it saves at the next step and ends 'stopped'."""
        info = self.info(run_id)
        if info.status not in ACTIVE:
            return info
        (info.path / "STOP").touch()
        pid = (read_json(info.path / "status.json", {}) or {}).get("pid") or \
            (read_json(info.path / "runner.json", {}) or {}).get("pid")
        if pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
        return self.info(run_id)

    def delete(self, run_id: str) -> None:
        """Remove a run's directory; a running run must be stopped first."""
        info = self.info(run_id)
        if info.status in ACTIVE:
            raise RunnerBusy(f"run {run_id} is {info.status}; stop it before deleting")
        shutil.rmtree(info.path)


class _Spawner:
    """Spawns children from one long-lived thread, so that the kernel's parent-death signal (which is
    tied to the spawning *thread*) fires only when the app itself exits: the child then gets SIGHUP,
    saves what it has and ends 'stopped' instead of training on unseen. SIGHUP rather than SIGTERM:
    the kernel can deliver it more than once as the dying app's threads go, and a repeated SIGTERM means
    "abort without saving" to `compat train`."""

    def __init__(self):
        self._requests: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def spawn(self, command: list[str], env: dict, log: Path) -> int:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._serve, daemon=True, name="compat-spawner")
            self._thread.start()
        reply: queue.Queue = queue.Queue()
        self._requests.put((command, env, log, reply))
        result = reply.get()
        if isinstance(result, BaseException):
            raise result
        return result

    def _serve(self) -> None:
        while True:
            command, env, log, reply = self._requests.get()
            try:
                with open(log, "ab") as out:
                    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            preexec_fn=_die_with_parent)
                reply.put(proc.pid)
            except BaseException as exc:  # hand the error to the caller's thread
                reply.put(exc)


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGHUP)  # PR_SET_PDEATHSIG


# -- what the UI asks for, as `compat train` arguments ---------------------------------------------
SETTING_FLAGS = {
    "preset": "--preset", "quant": "--quant", "lora_r": "--lora-r", "lora_alpha": "--lora-alpha",
    "loss": "--loss", "epochs": "--epochs", "lr": "--lr", "batch": "--batch",
    "instruction": "--instruction", "seed": "--seed", "max_steps": "--max-steps",
}


def train_arguments(settings: dict) -> list[str]:
    """`compat train` options for the settings that are set (None, "" and 0 mean the preset's, except
    for the seed: a blank number box in the browser arrives as 0)."""
    args: list[str] = []
    for key, flag in SETTING_FLAGS.items():
        value = settings.get(key)
        if value is None or value == "" or (key != "seed" and value == 0):
            continue
        if isinstance(value, float) and value.is_integer() and key not in ("lr", "epochs"):
            value = int(value)
        args += [flag, str(value)]
    if settings.get("full"):
        args.append("--full")
    return args


def store_snapshot(run_dir: Path) -> list[str]:
    """Write the label store's current labels, split by split, into the run; returns the --data option."""
    from compat.store.records import Filters
    from compat.store.shared import shared_store

    store = shared_store()
    data = run_dir / "data"
    hashes = {}
    for split in ("train", "validation", "test"):
        if store.count(Filters(split=split)):
            hashes[split] = store.snapshot(data / f"{split}.jsonl", Filters(split=split))
    if "train" not in hashes:
        raise ValueError("the label store has no pairs in the train split")
    atomic_write(data / "snapshot.json", json.dumps({"labels_db": str(store.path), "sha256": hashes,
                                                     "taken": time.time()}))
    return ["--data", str(data)]


_default: TrainingRunner | None = None


def default_runner() -> TrainingRunner:
    """The runner of this process over COMPAT_HOME/runs (created once)."""
    global _default
    if _default is None or _default.root != runs_dir():
        _default = TrainingRunner()
    return _default
