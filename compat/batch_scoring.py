"""Scoring a file of statement pairs: each row gets the base model's cosine, the fine-tuned model's cosine and
its calibrated probability of compatible. JSONL or CSV in (text_1, text_2; any other field, a label included,
is kept); bad rows are named by line and the good ones still scored. Used by `compat score --file` and the
Score tab's upload (the `score_file` endpoint)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from compat.pairs import LineError, atomic_write, csv_as_jsonl, to_csv, to_jsonl
from compat.text import StatementError, clean_statement

BATCH = 64


@dataclass
class ScoredFile:
    """The scored rows (input fields plus base_cosine, tuned_cosine, probability) and the bad lines."""

    rows: list[dict] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    model: str = ""


def read_rows(path: str | os.PathLike) -> tuple[list[tuple[int, dict]], list[LineError]]:
    """The usable rows of a JSONL or CSV file with their line numbers, and every bad line named."""
    name = str(path)
    try:
        text = csv_as_jsonl(path) if name.lower().endswith(".csv") else Path(path).read_text(encoding="utf-8")
    except (UnicodeDecodeError, ValueError) as exc:
        return [], [LineError(name, 0, f"not readable UTF-8 text ({exc})")]
    good, bad = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(LineError(name, number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(row, dict):
            bad.append(LineError(name, number, "expected an object with text_1 and text_2"))
            continue
        try:
            for key in ("text_1", "text_2"):
                clean_statement(row.get(key), field=f"field {key!r}")
        except StatementError as exc:
            bad.append(LineError(name, number, str(exc)))
            continue
        good.append((number, row))
    return good, bad


def _cosines(model, rows: list[dict], tick: Callable[[int], None]) -> list[float]:
    out: list[float] = []
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        a = model.embed([r["text_1"] for r in chunk])
        b = model.embed([r["text_2"] for r in chunk])
        out += [max(-1.0, min(1.0, float(x @ y))) for x, y in zip(a, b)]
        tick(len(chunk))
    return out


def score_file(path: str | os.PathLike, model_name: str,
               progress: Callable[[int, int], None] | None = None) -> ScoredFile:
    """Score every usable row of `path` with the base model and `model_name`; `progress(done, total)` is
    called as rows are embedded (each row twice: once per model)."""
    from compat.models import load_model

    numbered, errors = read_rows(path)
    rows = [row for _, row in numbered]
    done, total = 0, 2 * len(rows)

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    base, tuned = load_model("base"), load_model(model_name)
    base_cos, tuned_cos = _cosines(base, rows, tick), _cosines(tuned, rows, tick)
    cal = tuned.calibration
    scored = [{**row, "base_cosine": round(bc, 6), "tuned_cosine": round(tc, 6),
               "probability": None if cal is None else round(cal.probability(tc), 6)}
              for row, bc, tc in zip(rows, base_cos, tuned_cos)]
    return ScoredFile(scored, errors, tuned.name)


def write_scored(path: str | os.PathLike, scored: ScoredFile) -> None:
    """Write the scored rows atomically: CSV when `path` ends in .csv, JSONL otherwise."""
    csv = str(path).lower().endswith(".csv")
    atomic_write(path, to_csv(scored.rows) if csv else to_jsonl(scored.rows))
