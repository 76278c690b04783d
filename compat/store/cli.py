"""`python -m compat import FILE [--skip-bad]` and `python -m compat export --out FILE [--format] [--edited]`.

Both work on the label store in COMPAT_HOME (filled from the shipped data set on first use, as the app
does), through the same LabelStore methods the Data tab uses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compat.cli import CommandFailed


def add_import_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="a JSONL pair file (see docs/conventions.md)")
    p.add_argument("--skip-bad", action="store_true",
                   help="import the good lines and report the bad ones, instead of refusing the file")


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="FILE", help="where to write (atomically)")
    p.add_argument("--format", choices=("jsonl", "csv"), default=None,
                   help="default: from the file name's suffix, else jsonl")
    p.add_argument("--edited", action="store_true", help="only pairs whose label was changed by hand")


def _open_store():
    from compat.pairs import PairFileError
    from compat.store.shared import shared_store

    try:
        return shared_store()
    except PairFileError as exc:
        raise CommandFailed(f"the shipped data set is broken, nothing done:\n{exc}") from exc


def run_import(args: argparse.Namespace) -> int:
    from compat.pairs import PairFileError

    path = Path(args.file)
    if not path.is_file():
        raise CommandFailed(f"{path}: no such file")
    store = _open_store()
    try:
        report = store.import_pairs(path, origin="imported", skip_bad=args.skip_bad)
    except PairFileError as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        raise CommandFailed(f"refused {path}: {len(exc.errors)} bad line(s), nothing imported "
                            "(fix them, or use --skip-bad to import the rest)") from exc
    for note in (*report.errors, *report.duplicates, *report.in_store):
        print(f"skipped {note}", file=sys.stderr)
    print(report.summary())
    return 0


def run_export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    fmt = args.format or ("csv" if out.suffix.lower() == ".csv" else "jsonl")
    store = _open_store()
    try:
        count = store.export(out, fmt=fmt, edited_only=args.edited)
    except OSError as exc:
        raise CommandFailed(f"cannot write {out}: {exc.strerror or exc}") from exc
    print(f"wrote {count} pair(s) to {out} ({fmt})")
    return 0
