"""`python -m compat generate --out DIR [--n N] [--seed S] [--speakers boy,girl|mixed|none]`."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DEFAULT_N = 2800


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="directory for train/validation/test.jsonl and metadata.json")
    parser.add_argument("--n", type=int, default=DEFAULT_N, help=f"pairs in all splits (default {DEFAULT_N})")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives identical files")
    parser.add_argument("--speakers", default="boy,girl",
                        help="speaker prefixes: two names 'boy,girl' (default), 'mixed', or 'none'")


def run(args: argparse.Namespace) -> int:
    from compat.cli import CommandFailed
    from compat.generator.dataset import write_dataset

    if args.n < 30:
        raise CommandFailed(f"--n must be at least 30 (10 pairs for each split); got {args.n}")
    started = time.perf_counter()
    try:
        metadata = write_dataset(args.out, n=args.n, seed=args.seed, speakers=args.speakers)
    except ValueError as exc:
        raise CommandFailed(str(exc)) from exc
    took = time.perf_counter() - started
    sizes = ", ".join(f"{s} {metadata['splits'][s]['n']}" for s in ("train", "validation", "test"))
    print(f"wrote {sizes} pairs to {Path(args.out)} in {took:.2f} s")
    print("held-out wording: " + json.dumps(metadata["held_out"]))
    return 0
