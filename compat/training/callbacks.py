"""What the trainer reports and obeys while it runs: events.jsonl, terminal progress, and stop requests.

A stop is requested by SIGINT/SIGTERM or by a file (RUN_DIR/STOP, which the web app touches). It takes
effect at the end of the current optimizer step; under torchrun the flag is all-reduced (MAX) every
step, so every rank stops at the same step (a flag seen by one rank alone would hang the others).
transformers is imported only when the trainer callbacks are built (`trainer_callbacks`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

from compat.evaluation.metrics import finite_or_none

# transformers' log keys -> ours
LOG_KEYS = {"loss": "loss", "learning_rate": "lr", "grad_norm": "grad_norm"}
SKIP_LOG_KEYS = {"eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "epoch", "total_flos"}


class EventLog:
    """Appends one JSON object per line to events.jsonl (flushed at once) and echoes a progress line."""

    def __init__(self, path: Path | None, echo: bool = True, stream=None):
        self.path = path
        self.echo = echo
        self.stream = stream or sys.stdout

    def write(self, event: dict) -> None:
        if self.path is not None:
            line = json.dumps(finite_or_none(event), ensure_ascii=False)
            with open(self.path, "a", encoding="utf-8") as fh:  # one write per line: readers never see half
                fh.write(line + "\n")
        if self.echo:
            print(progress_line(event), file=self.stream, flush=True)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def progress_line(event: dict) -> str:
    """One terminal line for an event: step, loss, lr, validation metrics, elapsed and ETA."""
    kind = event.get("kind")
    if kind == "end":
        return f"[{event.get('status')}] step {event.get('step')} in {format_seconds(event.get('elapsed'))}"
    parts = [f"step {event.get('step')}/{event.get('max_steps')} ({100 * event.get('progress', 0):3.0f}%)"]
    if "epoch" in event:
        parts.append(f"epoch {event['epoch']:.2f}")
    if "loss" in event:
        parts.append(f"loss {event['loss']:.4f}")
    if "lr" in event:
        parts.append(f"lr {event['lr']:.2e}")
    if "eval_auc" in event:
        parts.append(f"val auc {event['eval_auc']:.4f} d {event.get('eval_cohen_d', float('nan')):.2f}")
    parts.append(f"{format_seconds(event.get('elapsed'))} elapsed, eta {format_seconds(event.get('eta'))}")
    return "  ".join(parts)


class StopRequest:
    """A stop flag set by a signal, a stop file, or code; `reason` says which."""

    def __init__(self, stop_file: Path | None = None):
        self.stop_file = stop_file
        self.reason: str | None = None
        self._signals = 0

    def request(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    @property
    def requested(self) -> bool:
        """True once a stop was asked for (checks the stop file each time)."""
        if self.reason is None and self.stop_file is not None and self.stop_file.exists():
            self.request(f"stop file {self.stop_file.name}")
        return self.reason is not None

    def _on_signal(self, signum, frame) -> None:
        if signum == signal.SIGHUP:  # the app that started us died (parent-death signal, see
            # compat/training/runner.py); Linux may deliver it more than once, so it never counts towards abort
            self.request("the app exited (SIGHUP)")
            return
        self._signals += 1
        if self._signals > 1:  # a second signal: the user wants out now
            raise KeyboardInterrupt
        self.request(signal.Signals(signum).name)
        print(f"\n{signal.Signals(signum).name}: stopping after this step and saving "
              "(send it again to abort without saving)", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def signals_handled(self) -> Iterator["StopRequest"]:
        """SIGINT/SIGTERM/SIGHUP request a stop while inside; the previous handlers come back on exit."""
        if threading.current_thread() is not threading.main_thread():
            yield self  # signal handlers can only be set from the main thread
            return
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def agreed_stop(local: bool, device: str) -> bool:
    """The stop flag all ranks agree on: any rank's True (all-reduce MAX); just `local` without DDP."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return local
    import torch

    flag = torch.tensor([1 if local else 0], dtype=torch.int32,
                        device=device if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def trainer_callbacks(events: EventLog | None, stop: StopRequest, clock_start: float | None = None) -> list:
    """The transformers TrainerCallbacks of a run: event logging (when `events`) and stop handling."""
    from transformers import TrainerCallback

    class EventCallback(TrainerCallback):
        """Turns each trainer log into one event line: step, epoch, loss, lr, eval metrics, progress, ETA."""

        def __init__(self):
            self.started = clock_start

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = self.started or time.time()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs or "train_runtime" in logs:
                return
            event = make_event(state, logs, self.started or time.time())
            events.write(event)

    class StopCallback(TrainerCallback):
        """Ends training at the end of the step in which any rank saw a stop request."""

        def on_step_end(self, args, state, control, **kwargs):
            if agreed_stop(stop.requested, str(args.device)):
                stop.request("another rank asked to stop")
                control.should_training_stop = True

    callbacks = [StopCallback()]
    if events is not None:
        callbacks.insert(0, EventCallback())
    return callbacks


def make_event(state, logs: dict, started: float) -> dict:
    """The events.jsonl record of one trainer log (`state` is transformers' TrainerState)."""
    step, max_steps = int(state.global_step), int(state.max_steps or 0)
    progress = min(1.0, step / max_steps) if max_steps else 0.0
    elapsed = time.time() - started
    is_eval = any(k.startswith("eval_") for k in logs)
    event = {"kind": "eval" if is_eval else "train", "step": step, "max_steps": max_steps,
             "epoch": round(float(state.epoch or 0.0), 4)}
    for key, value in logs.items():
        if key in SKIP_LOG_KEYS or not isinstance(value, (int, float)):
            continue
        event[LOG_KEYS.get(key, key)] = float(value)
    event.update(progress=round(progress, 4), elapsed=round(elapsed, 2),
                 eta=round(elapsed * (1 - progress) / progress, 1) if progress > 0 else None,
                 time=round(time.time(), 3))
    return event


def rank() -> int:
    """This process's rank under torchrun (0 when not distributed)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))
