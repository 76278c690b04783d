"""`python -m compat score --model MODEL "TEXT A" "TEXT B"`: prints the score on its last line."""

from __future__ import annotations

import argparse

from compat.cli import CommandFailed


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="base", help="base, default, a run id or a model directory")
    p.add_argument("text_a")
    p.add_argument("text_b")


def run(args: argparse.Namespace) -> int:
    from compat.models import ModelNotFound
    from compat.scoring import score
    from compat.text import StatementError

    try:
        result = score(args.text_a, args.text_b, args.model)
    except (ModelNotFound, StatementError) as exc:
        raise CommandFailed(str(exc)) from exc
    if result.probability is not None:
        print(f"compatibility: {result.probability:.1%}")
    print(f"{result.cosine:.6f}")
    return 0
