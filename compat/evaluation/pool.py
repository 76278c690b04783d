"""A pool of statements to match against (people's profiles), and the pool's best matches for a query.

Pool file formats (CONVENTIONS.md):
  .jsonl   one JSON object a line: {"text": "I love hiking", "id": "user-17"}; `id` (string or integer)
           is optional and defaults to the line number; other fields are ignored
  .txt     one statement a line; the id is the line number
Blank lines are skipped. Every bad line is named (file:line: what), like pair files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compat.pairs import LineError, PairFileError
from compat.text import StatementError, clean_statement

SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".txt": "txt"}


class PoolFileError(ValueError):
    """A pool that cannot be used: missing, empty, an unknown format, or bad lines (each named)."""


@dataclass(frozen=True)
class PoolEntry:
    """One statement of a pool: its id, the text as given, and the text as embedded."""

    id: str | int
    text: str
    clean: str


@dataclass(frozen=True)
class Match:
    """One match of a query: rank (1 = best), the pool entry, its cosine and calibrated probability."""

    rank: int
    id: str | int
    text: str
    cosine: float
    probability: float | None


def _entry(obj: object, kind: str, line: int) -> PoolEntry:
    """A pool entry from one line's content; raises ValueError saying what is wrong."""
    if kind == "txt":
        return PoolEntry(line, obj, clean_statement(obj, "the statement"))
    if not isinstance(obj, dict):
        raise ValueError(f'expected a JSON object like {{"text": ..., "id": ...}}, got {type(obj).__name__}')
    if "text" not in obj:
        raise ValueError("no 'text' field (the statement)")
    ident = obj.get("id", line)
    if isinstance(ident, bool) or not isinstance(ident, (str, int)):
        raise ValueError(f"field 'id' must be a string or an integer, got {json.dumps(ident)[:40]}")
    return PoolEntry(ident, obj["text"], clean_statement(obj["text"], "field 'text'"))


def read_pool(path: str | os.PathLike) -> list[PoolEntry]:
    """The statements of a pool file, in order; raises PoolFileError naming the file and every bad line."""
    path = Path(path)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise PoolFileError(f"pool {path}: unknown format {path.suffix or '(no suffix)'!r}; use .jsonl "
                            '(one {"text": ..., "id": ...} a line) or .txt (one statement a line)')
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError as exc:
        raise PoolFileError(f"pool {path}: no such file") from exc
    except IsADirectoryError as exc:
        raise PoolFileError(f"pool {path} is a folder, not a file") from exc
    except UnicodeDecodeError as exc:
        raise PoolFileError(f"pool {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    entries, errors, seen_ids = [], [], {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = raw if kind == "txt" else json.loads(raw)
        except ValueError as exc:
            errors.append(LineError(str(path), number, f"not valid JSON ({exc})"))
            continue
        try:
            entry = _entry(obj, kind, number)
        except (ValueError, StatementError) as exc:
            errors.append(LineError(str(path), number, str(exc)))
            continue
        if entry.id in seen_ids:
            errors.append(LineError(str(path), number, f"id {entry.id!r} again (first on line {seen_ids[entry.id]})"))
            continue
        seen_ids[entry.id] = number
        entries.append(entry)
    if errors:
        raise PoolFileError(f"pool {str(PairFileError(errors))}")
    if not entries:
        raise PoolFileError(f"pool {path} has no statements")
    return entries


def match_pool(model, entries: list[PoolEntry], query: str, k: int = 10) -> tuple[list[Match], dict]:
    """The k pool entries most compatible with `query` under `model` (a CompatModel or a name).

    An entry saying exactly what the query says (same text once the prefix is parsed off) is left out:
    it is the same statement, not a match. Returns (matches, the index's info: kind, n, nprobe ...).
    Raises StatementError for an unusable query, compat.models.ModelNotFound for an unknown model.
    """
    from compat.evaluation.vector_index import pool_index
    from compat.models import load_model

    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    wanted = clean_statement(query, "the query")
    if isinstance(model, str):
        model = load_model(model)
    texts = [e.clean for e in entries]
    same = {i for i, t in enumerate(texts) if t == wanted}
    index = pool_index(model, texts)
    q = np.asarray(model.embed([wanted]), dtype=np.float32)
    cosines, rows = index.search(q, k + len(same))
    cal = model.calibration
    matches = []
    for cosine, row in zip(cosines[0].tolist(), rows[0].tolist()):
        if row < 0 or row in same:
            continue
        c = max(-1.0, min(1.0, cosine))
        matches.append(Match(len(matches) + 1, entries[row].id, entries[row].text, c,
                             cal.probability(c) if cal else None))
        if len(matches) == k:
            break
    return matches, index.info
