"""A finished run as a downloadable zip (the Train tab's "Download model"): export once, zip once.

The export folder lives under COMPAT_HOME/exports/<run-id>/ and is remade only when the run's
compat_model.json changes; the zip goes to the system temp folder, where the web app may serve it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from compat.export.folder import EXPORT_FILE, export_model
from compat.paths import compat_home

ZIP_FOLDER = "compat-exports"


def _stamp(run_dir: Path) -> str:
    """What identifies the run's model version: the mtime of its compat_model.json (written last)."""
    return str((run_dir / "compat_model.json").stat().st_mtime_ns)


def export_run_archive(run_dir: Path) -> Path:
    """A zip of the run's export (one top folder, named after the run); built only when out of date.

    Raises compat.models.ModelNotFound for a run without a usable model.
    """
    from compat.models import ModelNotFound

    run_dir = Path(run_dir)
    if not (run_dir / "compat_model.json").exists():
        raise ModelNotFound(f"run {run_dir.name} has no model yet (only a finished or stopped run has one)")
    stamp = _stamp(run_dir)
    folder = compat_home() / "exports" / run_dir.name
    manifest = folder / EXPORT_FILE
    current = manifest.exists() and json.loads(manifest.read_text()).get("source_stamp") == stamp
    if not current:
        export_model(str(run_dir), folder, force=True)
        record = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**record, "source_stamp": stamp}, indent=1) + "\n")
    zips = Path(tempfile.gettempdir()) / ZIP_FOLDER
    zips.mkdir(parents=True, exist_ok=True)
    target = zips / f"{run_dir.name}-{stamp}.zip"
    if current and target.exists():
        return target
    for old in zips.glob(f"{run_dir.name}-*.zip"):
        old.unlink(missing_ok=True)  # an older version of this run's model
    partial = Path(shutil.make_archive(str(zips / f"partial-{run_dir.name}-{os.getpid()}"), "zip",
                                       root_dir=folder.parent, base_dir=folder.name))
    os.replace(partial, target)
    return target
