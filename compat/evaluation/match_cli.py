"""`python -m compat match --pool POOL --query TEXT [--k K] [--model MODEL] [--json]`.

Prints the pool's K statements most compatible with TEXT, best first: rank, cosine, probability (when
the model is calibrated), id and statement; with --json one JSON object. How the search ran (exact, or
the faiss index with its tuned nprobe and measured recall) goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from compat.cli import CommandFailed


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pool", required=True,
                   help='.jsonl (one {"text": ..., "id": ...} a line) or .txt (one statement a line)')
    p.add_argument("--query", required=True, help="the statement to find matches for")
    p.add_argument("--k", type=int, default=10, help="how many matches (default 10)")
    p.add_argument("--model", default=None,
                   help="base, default, a run id, a model folder or an export (default: the fine-tuned model the "
                        "app uses, as the Score tab's pool matching does: `compat runs use`, else default)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from compat.active import active_finetuned
    from compat.evaluation.pool import PoolFileError, match_pool, read_pool
    from compat.models import ModelNotFound
    from compat.text import StatementError, clean_statement

    if args.k < 1:
        raise CommandFailed(f"--k must be at least 1, got {args.k}")
    model = args.model or active_finetuned() or "base"
    started = time.perf_counter()
    try:
        clean_statement(args.query, "--query")
        entries = read_pool(args.pool)
        matches, info = match_pool(model, entries, args.query, args.k)
    except (PoolFileError, ModelNotFound, StatementError) as exc:
        raise CommandFailed(str(exc)) from exc
    seconds = round(time.perf_counter() - started, 3)
    how = "exact search" if info["kind"] == "exact" else \
        f"faiss IVF index ({info['nlist']} cells, nprobe {info['nprobe']}, recall@10 {info['recall_at_10']} at build)"
    print(f"{len(entries):,} statements, model {model}, {how}, {seconds} s", file=sys.stderr)
    if args.json:
        print(json.dumps({"query": args.query, "model": model, "pool": args.pool, "index": info,
                          "seconds": seconds, "matches": [m.__dict__ for m in matches]}, ensure_ascii=False))
        return 0
    for m in matches:
        prob = f"{m.probability:6.1%}" if m.probability is not None else "     –"
        print(f"{m.rank:>3}  {m.cosine:.4f}  {prob}  {str(m.id)[:20]:<20}  {m.text}")
    return 0
