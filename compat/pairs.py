"""The pair format (docs/conventions.md): one JSON object a line, read with every error named.

A pair is a plain dict with at least `text_1`, `text_2` and `label` (int 0 or 1). `category`,
`subcategory`, `pair_type` are optional strings; any other field is carried through untouched.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from compat.text import MAX_STATEMENT_CHARS, StatementError, clean_statement

REQUIRED = ("text_1", "text_2", "label")
OPTIONAL_STR = ("category", "subcategory", "pair_type")
MAX_LINE_BYTES = 64 * 1024
FIELD_ORDER = ("text_1", "text_2", "label", "category", "subcategory", "pair_type")


@dataclass(frozen=True)
class LineError:
    """One bad line: where it is and what is wrong with it."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class PairFileError(ValueError):
    """A pair file with bad lines; `errors` names each one."""

    def __init__(self, errors: list[LineError]):
        self.errors = errors
        shown = "\n".join(f"  {e}" for e in errors[:50])
        more = f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"{len(errors)} bad line(s):\n{shown}{more}")


@dataclass
class PairFile:
    """What reading a pair file found: the good pairs (with their line numbers) and the bad lines."""

    pairs: list[dict] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    duplicates: list[LineError] = field(default_factory=list)


def validate_pair(obj: object) -> str | None:
    """Why `obj` is not a valid pair, or None when it is."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        return "missing field " + ", ".join(repr(k) for k in missing)
    label = obj["label"]
    if type(label) is not int or label not in (0, 1):
        return f"field 'label' must be the integer 0 or 1, got {json.dumps(label)}"
    for key in ("text_1", "text_2"):
        try:
            clean_statement(obj[key], field=f"field {key!r}")
        except StatementError as exc:
            return str(exc)
    for key in OPTIONAL_STR:
        if key in obj and obj[key] is not None and not isinstance(obj[key], str):
            return f"field {key!r} must be a string, got {json.dumps(obj[key])[:40]}"
    return None


def pair_key(pair: dict) -> tuple[str, str]:
    """Identity of a pair for duplicate detection: both cleaned statements, order-insensitive."""
    a, b = clean_statement(pair["text_1"]), clean_statement(pair["text_2"])
    return (a.casefold(), b.casefold()) if a.casefold() <= b.casefold() else (b.casefold(), a.casefold())


def read_pairs(path: str | os.PathLike, *, text: str | None = None) -> PairFile:
    """Parse a JSONL pair file (or `text`), collecting every bad line and duplicate instead of stopping."""
    name = str(path)
    result = PairFile()
    seen: dict[tuple[str, str], int] = {}
    if text is None and name.lower().endswith(".csv"):
        try:
            text = csv_as_jsonl(path)
        except (UnicodeDecodeError, csv.Error) as exc:
            result.errors.append(LineError(name, 0, f"not a readable UTF-8 CSV file ({exc})"))
            return result
    source = io.StringIO(text) if text is not None else open(path, encoding="utf-8", errors="strict")
    with source as fh:
        try:
            lines = list(_lines(fh))
        except UnicodeDecodeError as exc:
            result.errors.append(LineError(name, 0, f"not UTF-8 text ({exc.reason})"))
            return result
    for number, line in lines:
        if not line.strip():
            continue
        if len(line.encode("utf-8")) > MAX_LINE_BYTES:
            result.errors.append(
                LineError(name, number, f"line is {len(line.encode()):,} bytes; the limit is {MAX_LINE_BYTES:,}")
            )
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            result.errors.append(LineError(name, number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        problem = validate_pair(obj)
        if problem:
            result.errors.append(LineError(name, number, problem))
            continue
        key = pair_key(obj)
        if key in seen:
            result.duplicates.append(LineError(name, number, f"duplicate of line {seen[key]}"))
            continue
        seen[key] = number
        result.pairs.append(obj)
        result.line_numbers.append(number)
    return result


def _csv_value(key: str, cell: str):
    """A CSV cell as a pair's value: the label "0" / "1" as the integer, a JSON object or list (as to_csv
    writes them) parsed, anything else the string itself (so validation names a bad label)."""
    if key == "label" and cell.strip() in ("0", "1"):
        return int(cell)
    if cell[:1] in "{[" and cell:
        try:
            return json.loads(cell)
        except json.JSONDecodeError:
            return cell
    return cell


def csv_as_jsonl(path: str | os.PathLike) -> str:
    """A CSV pair file (a header naming text_1, text_2, label and any other fields, as `export --format csv`
    writes it) as JSONL text whose line numbers are the CSV's: each record on the line where it ends, the
    header and padding blank. Empty cells are left out."""
    with open(path, encoding="utf-8-sig", errors="strict", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None) or []
        lines = [""] * reader.line_num
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            pair = {k: _csv_value(k, v) for k, v in zip(header, record) if k and v != ""}
            lines += [""] * (reader.line_num - 1 - len(lines))
            lines.append(json.dumps(pair, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def load_pairs(path: str | os.PathLike) -> list[dict]:
    """All pairs of a file; raises PairFileError naming every bad line (duplicates are kept out quietly)."""
    found = read_pairs(path)
    if found.errors:
        raise PairFileError(found.errors)
    if not found.pairs:
        raise PairFileError([LineError(str(path), 0, "no pairs in file")])
    return found.pairs


def _lines(fh) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(fh, start=1):
        yield number, line.rstrip("\n")


def ordered(pair: dict) -> dict:
    """The pair with the conventional fields first, in the original data set's order."""
    out = {k: pair[k] for k in FIELD_ORDER if k in pair}
    out.update({k: v for k, v in pair.items() if k not in out})
    return out


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | os.PathLike, data: str) -> None:
    """Write `data` to `path` so the file is either the old one or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a written file should look like any other
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def to_jsonl(pairs: Iterable[dict]) -> str:
    return "".join(json.dumps(ordered(p), ensure_ascii=False) + "\n" for p in pairs)


def to_csv(pairs: Iterable[dict]) -> str:
    rows = [ordered(p) for p in pairs]
    columns = list(FIELD_ORDER)
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in row.items()})
    return buf.getvalue()


def write_pairs(path: str | os.PathLike, pairs: Iterable[dict], fmt: str = "jsonl") -> None:
    """Write pairs atomically as JSONL (default) or CSV."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown format {fmt!r}; use jsonl or csv")
    atomic_write(path, to_jsonl(pairs) if fmt == "jsonl" else to_csv(pairs))


assert MAX_STATEMENT_CHARS * 4 < MAX_LINE_BYTES  # a line holding two maximal statements still fits
