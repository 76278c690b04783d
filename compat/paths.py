"""Where compat keeps things: the repository's shipped files and the runtime state under COMPAT_HOME."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
ASSETS_DIR = REPO_ROOT / "assets"
DEFAULT_MODEL_DIR = ASSETS_DIR / "models" / "default"


def compat_home() -> Path:
    """The runtime state directory (label database, runs, caches); created on first use."""
    home = Path(os.environ.get("COMPAT_HOME", REPO_ROOT / ".compat")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def runs_dir() -> Path:
    path = compat_home() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    path = compat_home() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def labels_db() -> Path:
    return compat_home() / "labels.db"


def inside(root: Path, name: str) -> Path:
    """Resolve `name` under `root`, refusing anything that escapes it (`..`, absolute paths, links)."""
    root = root.resolve()
    path = (root / name).resolve()
    if path != root and root not in path.parents:
        raise ValueError(f"{name!r} is outside {root}")
    return path
