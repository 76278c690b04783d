"""`python -m compat score --model MODEL "TEXT A" "TEXT B"`: prints the score on its last line.
`python -m compat score --file PAIRS --out SCORED [--model MODEL]`: scores a JSONL or CSV file of pairs
(compat.batch_scoring), a progress bar on stderr, bad rows named by line, the output written atomically."""

from __future__ import annotations

import argparse
import sys

from compat.cli import CommandFailed


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None,
                   help="base, default, a run id or a model directory (two statements: base; --file: the "
                        "active fine-tuned model)")
    p.add_argument("--file", help="a JSONL or CSV file of pairs (text_1, text_2) to score")
    p.add_argument("--out", help="with --file: where to write the scored rows (.jsonl, or .csv)")
    p.add_argument("text_a", nargs="?")
    p.add_argument("text_b", nargs="?")


def run(args: argparse.Namespace) -> int:
    from compat.models import ModelNotFound
    from compat.scoring import score
    from compat.text import StatementError

    if args.file:
        return _run_file(args)
    if args.text_a is None or args.text_b is None:
        raise CommandFailed("give two statements, or --file PAIRS --out SCORED")
    try:
        result = score(args.text_a, args.text_b, args.model or "base")
    except (ModelNotFound, StatementError) as exc:
        raise CommandFailed(str(exc)) from exc
    if result.probability is not None:
        print(f"compatibility: {result.probability:.1%}")
    print(f"{result.cosine:.6f}")
    return 0


def _run_file(args: argparse.Namespace) -> int:
    """Score a file; bad rows go to stderr by line; exit 2 when no row could be scored."""
    from tqdm import tqdm

    from compat.active import active_finetuned
    from compat.batch_scoring import score_file, write_scored
    from compat.models import ModelNotFound

    if not args.out:
        raise CommandFailed("--file needs --out SCORED")
    model = args.model or active_finetuned() or "default"
    bar = tqdm(total=0, unit="statement pairs", file=sys.stderr, desc="scoring")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        scored = score_file(args.file, model, progress)
    except (ModelNotFound, OSError) as exc:
        raise CommandFailed(str(exc)) from exc
    finally:
        bar.close()
    for error in scored.errors:
        print(f"{error}", file=sys.stderr)
    if not scored.rows:
        raise CommandFailed(f"{args.file}: no row could be scored ({len(scored.errors)} bad)")
    write_scored(args.out, scored)
    print(f"scored {len(scored.rows):,} rows with base and {scored.model} into {args.out}; "
          f"{len(scored.errors)} bad row(s) skipped")
    return 0
