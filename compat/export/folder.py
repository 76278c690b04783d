"""`export_model`: a compat model as a standalone sentence-transformers folder, written atomically.

The folder is built in a temporary directory beside DIR and renamed into place only when complete, so
DIR is either absent, the old export, or the whole new one; a failure leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from compat.training.finalize import make_readable

EXPORT_FILE = "compat_export.json"
CALIBRATION_FILE = "compat_calibration.json"
EXPORT_FORMAT = "compat-export/1"
FORMATS = ("torch", "onnx", "onnx-int8")
ONNX_FILE = "onnx/model.onnx"
ONNX_INT8_FILE = "onnx/model_qint8.onnx"
PROBABILITY_FORMULA = "probability = 1 / (1 + exp(-scale * (cosine - threshold)))"


class ExportError(ValueError):
    """The export cannot be made as asked; the message says what is wrong."""


def serving_file(folder: Path) -> Path | None:
    """The ONNX file an exported folder is meant to be served from (None: torch, or not an export)."""
    manifest = _read_json(folder / EXPORT_FILE)
    serving = (manifest or {}).get("serving")
    if not serving or serving == "torch":
        return None
    file = (folder / serving).resolve()
    if folder.resolve() not in file.parents:
        raise ExportError(f"{folder / EXPORT_FILE}: 'serving' points outside the folder: {serving!r}")
    return file


def read_export_calibration(folder: Path) -> dict | None:
    """{"threshold", "scale"} from an exported folder's compat_calibration.json (None when absent)."""
    data = _read_json(folder / CALIBRATION_FILE)
    if not data or data.get("threshold") is None or data.get("scale") is None:
        return None
    return {"threshold": float(data["threshold"]), "scale": float(data["scale"])}


def _read_json(file: Path) -> dict | None:
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError):
        return None


def _check_target(out: Path, source: Path | None, force: bool) -> None:
    """Refuse a target that is a file, a non-empty folder (without force), or the model itself."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ExportError(f"--out {out}: folder exists and is not empty (pass --force to replace it)")
    if source is not None:
        src, dst = source.resolve(), out.resolve()
        if dst == src or dst in src.parents or src in dst.parents:
            raise ExportError(f"--out {out}: overlaps the model being exported ({source}); choose another folder")


def _calibration_record(model, source_name: str) -> dict | None:
    """What compat_calibration.json holds: the run's fitted threshold and scale, and how to use them."""
    if model.calibration is None:
        return None
    return {
        "threshold": model.calibration.threshold,
        "scale": model.calibration.scale,
        "formula": PROBABILITY_FORMULA,
        "cosine": "cosine similarity of the two statements' L2-normalised embeddings",
        "fitted_on": "the run's validation pairs (logistic regression of label on cosine)",
        "instruction": model.instruction,
        "speaker_prefix": "compat removes a leading speaker prefix ('boy: ', 'girl: ', any 'name: ') "
                          "before embedding; do the same for the same scores",
        "source_model": source_name,
    }


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("sentence-transformers", "transformers", "torch", "onnxruntime", "onnx"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found



def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished folder onto `out`; an existing export is moved aside first, then deleted."""
    if out.is_dir() and any(out.iterdir()):
        old = out.with_name(f".{out.name}.old.{os.getpid()}")
        os.rename(out, old)
        try:
            os.replace(tmp, out)
        except BaseException:
            os.rename(old, out)  # put the old export back rather than leave nothing
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)  # onto nothing, or onto an empty folder


def export_model(model: str, out: str | os.PathLike, *, force: bool = False, fmt: str = "torch") -> Path:
    """Write `model` (base, default, a run id or a folder) as a standalone folder at `out`; returns it.

    fmt "torch" writes the merged full-precision sentence-transformers folder; "onnx" adds
    onnx/model.onnx and "onnx-int8" also onnx/model_qint8.onnx (8-bit weights), the one compat then
    serves the folder from. Raises ExportError or compat.models.ModelNotFound with the reason.
    """
    from compat.export.card import write_card
    from compat.models import load_model, resolve

    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    out = Path(out).expanduser()
    source = resolve(model)
    if source is not None and source.suffix == ".onnx":
        raise ExportError(f"model {model!r} is an ONNX file; export from the model it was made from")
    _check_target(out, source, force)
    loaded = load_model(model)
    if source is not None and not hasattr(loaded.encoder, "save"):
        raise ExportError(f"model {model!r} is served from ONNX; export from the model it was made from")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        loaded.encoder.save(str(tmp), safe_serialization=True, create_model_card=False)
        calibration = _calibration_record(loaded, model)
        if calibration:
            (tmp / CALIBRATION_FILE).write_text(json.dumps(calibration, indent=1) + "\n")
        serving = "torch"
        if fmt != "torch":
            from compat.export.onnx_export import export_onnx

            files = export_onnx(loaded.encoder, tmp, int8=fmt == "onnx-int8")
            serving = files[-1].relative_to(tmp).as_posix()
        manifest = {"format": EXPORT_FORMAT, "serving": serving, "source_model": model,
                    "source_path": str(source) if source else None, "instruction": loaded.instruction,
                    "created": time.time(), "versions": _versions()}
        (tmp / EXPORT_FILE).write_text(json.dumps(manifest, indent=1) + "\n")
        write_card(tmp, loaded, source, manifest)
        make_readable(tmp)  # mkdtemp makes a private folder; an export is meant to be shared
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
