"""`python -m compat generate --out DIR [--n N] [--seed S] [--speakers boy,girl|mixed|none]
[--compose] [--groups N [--group-routes negation|contrast|all] [--group-fillers SHARE]] [--wordings K]`
(`--wordings` with `--compose` or `--groups`)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from compat.generator.generate import DEFAULT_N
from compat.generator.groups import FILLER_SHARE, GROUP_ROUTES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="directory for train/validation/test.jsonl and metadata.json")
    parser.add_argument("--n", type=int, default=DEFAULT_N, help=f"pairs in all splits (default {DEFAULT_N})")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives identical files")
    parser.add_argument("--speakers", default="boy,girl",
                        help="speaker prefixes: two names 'boy,girl' (default), 'mixed', or 'none'")
    parser.add_argument("--compose", action="store_true",
                        help="compose statements as stance frame x topic phrase (compat/generator/wording/); "
                             "without it, the ontology's hand-written phrasings alone (the shipped data set)")
    parser.add_argument("--wordings", type=int, default=None,
                        help="with --compose or --groups: at most this many distinct wordings per preference in "
                             "the train split's composed pairs and stance groups (the wording curve); validation "
                             "and test keep every wording")
    parser.add_argument("--groups", type=int, default=0, metavar="N",
                        help="also write N stance groups from the train split's wording to train_groups.jsonl "
                             "(the data of the supcon losses)")
    parser.add_argument("--group-routes", choices=GROUP_ROUTES, default="negation",
                        help="how group statements take a side: negation (like / dislike / dealbreaker frames over "
                             "the trait's own phrases, and the hand-written phrasings; default), contrast (also "
                             "'rather X than Y' frames and antonym traits' sides) or all (also the opposite pole's "
                             "phrases)")
    parser.add_argument("--group-fillers", type=float, default=FILLER_SHARE, metavar="SHARE",
                        help="share of group statements said beside a filler sentence (a job, a city), as pairs "
                             f"are (0 to 1; default {FILLER_SHARE:g})")


def run(args: argparse.Namespace) -> int:
    from compat.cli import CommandFailed
    from compat.generator.dataset import write_dataset

    if args.n < 30:
        raise CommandFailed(f"--n must be at least 30 (10 pairs for each split); got {args.n}")
    if args.wordings is not None and (args.wordings < 1 or not (args.compose or args.groups)):
        raise CommandFailed(f"--wordings takes a number of at least 1, with --compose or --groups; got "
                            f"{args.wordings}" + ("" if args.compose or args.groups else " without either"))
    if args.groups < 0:
        raise CommandFailed(f"--groups takes a number of groups, 0 or more; got {args.groups}")
    if not 0 <= args.group_fillers <= 1:
        raise CommandFailed(f"--group-fillers takes a share from 0 to 1; got {args.group_fillers}")
    started = time.perf_counter()
    try:
        metadata = write_dataset(args.out, n=args.n, seed=args.seed, speakers=args.speakers,
                                 wordings=args.wordings, compose=args.compose, groups=args.groups,
                                 group_routes=args.group_routes, group_fillers=args.group_fillers)
    except ValueError as exc:
        raise CommandFailed(str(exc)) from exc
    took = time.perf_counter() - started
    sizes = ", ".join(f"{s} {metadata['splits'][s]['n']}" for s in ("train", "validation", "test"))
    print(f"wrote {sizes} pairs to {Path(args.out)} in {took:.2f} s")
    if args.groups:
        print(f"wrote {args.groups} stance groups to {Path(args.out) / 'train_groups.jsonl'}")
    print("held-out wording: " + json.dumps(metadata["held_out"]))
    return 0
