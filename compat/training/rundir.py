"""What the training engine (compat.training.run) and the app's runner (compat.training.runner) both need
to know of a run directory: how a new run is named, and whether the process running it still lives."""

from __future__ import annotations

import os
import secrets
import time


def new_run_id() -> str:
    """A new run's id: when it started, then four random hex digits, so ids sort by time and two runs
    started in the same second still differ."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def pid_alive(pid: int | None) -> bool:
    """Whether process `pid` still runs. A child of this process that has exited (a zombie) is reaped and
    counts as ended; a process this one may not signal, or another process's child, counts as alive."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True  # not our child (another app instance, or the runner, started it): it exists
