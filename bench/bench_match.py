"""Matching at scale: index build time, query latency p50/p95 and recall@10 against exact search.

    flock /tmp/compat-heavy.lock .venv/bin/python bench/bench_match.py [--sizes 10000 100000 1000000]
        [--encode N] [--queries Q] [--model default] [--quick] [--write]

Statements: every distinct composed wording of the generator (frames x topic phrases, all splits,
about 160,000), shuffled with a fixed seed; the queries are held-out wordings that are not in any pool.
The first `--encode` pool statements and the queries are embedded by the model (torch fp32, as
`compat match` does). A pool larger than that is filled with stand-ins: a real embedding chosen at
random plus Gaussian noise whose length is the median distance between a real embedding and its
nearest real neighbour, re-normalised. So the stand-ins keep the real embeddings' shape (the cone
a fine-tuned model packs statements into) and their local density, but they are not statements; the
report says which pools used them. Encoding 1M statements at a few hundred a second on this CPU would
take about an hour, which is why the default encodes 10,000.

For each pool size: compat's choice (exact below compat.evaluation.vector_index.EXACT_BELOW, the faiss IVF index
above), the IVF index's build time (k-means, adding, and tuning nprobe against exact search), then one
query at a time (the way `compat match` asks): p50/p95 latency of the IVF index and of exact search,
and recall@10 of the index against exact search on the held-out queries.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c  # noqa: E402


def composed_statements(seed: int = 0) -> list[str]:
    """Every distinct composed wording of every preference, all splits, in a seeded random order."""
    from compat.generator.ontology import load_ontology
    from compat.generator.wording import SPLITS, load_wording

    onto = load_ontology()
    wording = load_wording(onto)
    prefs = [(trait, stance) for trait in onto.traits for stance in ("pos", "neg", "dealbreaker")]
    seen: dict[str, None] = {}
    for pref in prefs:
        for split in SPLITS:
            for texts in wording.pool(pref, split).values():
                seen.update(dict.fromkeys(texts))
    statements = list(seen)
    random.Random(seed).shuffle(statements)
    return statements


def stand_ins(real: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """n vectors: a random real row plus Gaussian noise of the real nearest-neighbour distance, normalised."""
    from compat.evaluation.vector_index import exact_search

    rng = np.random.default_rng(seed)
    sample = real[rng.choice(len(real), size=min(500, len(real)), replace=False)]
    scores, _ = exact_search(real, sample, 2)  # [:, 0] is the row itself
    nn_distance = float(np.median(np.sqrt(np.maximum(0.0, 2 - 2 * scores[:, 1]))))
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):  # in blocks: 1M x 384 float64 noise at once would be 3 GB
        m = min(100_000, n - start)
        noise = rng.standard_normal((m, real.shape[1])).astype(np.float32)
        noise *= nn_distance / np.sqrt(real.shape[1])
        block = real[rng.integers(0, len(real), size=m)] + noise
        out[start:start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out, nn_distance


def vector_flags() -> str:
    """The CPU's vector extensions that decide matrix-product speed (avx2, avx512*, amx*)."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return "unknown"
    found = sorted({f for f in flags.split(":", 1)[1].split() if f.startswith(("avx2", "avx512", "amx", "avx_vnni"))})
    return ", ".join(found) or "no avx2"


def one_at_a_time(search, queries: np.ndarray) -> list[float]:
    """Seconds per single-query search, every query in turn after one untimed warm-up."""
    search(queries[:1])
    times = []
    for q in queries:
        start = time.perf_counter()
        search(q[None, :])
        times.append(time.perf_counter() - start)
    return times


def measure(pool: np.ndarray, queries: np.ndarray, k: int) -> dict:
    from compat.evaluation.vector_index import EXACT_BELOW, build_index, exact_search, recall_at_k

    started = time.perf_counter()
    index = build_index(pool, exact_below=0)  # the IVF index, whatever the size: it is what we measure
    build = time.perf_counter() - started
    _, truth = exact_search(pool, queries, k)
    _, found = index.search(queries, k)
    ivf = c.summary_ms(one_at_a_time(lambda q: index.search(q, k), queries))
    exact = c.summary_ms(one_at_a_time(lambda q: exact_search(pool, q, k), queries))
    return {"n": len(pool), "compat_uses": "exact" if len(pool) < EXACT_BELOW else "IVF index",
            "build_s": build, "nlist": index.info["nlist"], "nprobe": index.info["nprobe"],
            "tuning_recall": index.info["recall_at_10"], "recall": recall_at_k(found, truth),
            "ivf": ivf, "exact": exact}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--encode", type=int, default=10_000, help="pool statements embedded by the model")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--model", default="default")
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks the script works")
    parser.add_argument("--write", action="store_true", help="also write the section into BENCHMARKS.md")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.encode, args.queries = [2_000, 5_000], 500, 20
    started = time.perf_counter()
    from compat.models import load_model

    statements = composed_statements()
    n_real = min(args.encode, max(args.sizes), len(statements) - args.queries)
    model = load_model(args.model)
    t = time.perf_counter()
    real = np.asarray(model.embed(statements[:n_real]), dtype=np.float32)
    queries = np.asarray(model.embed(statements[-args.queries:]), dtype=np.float32)
    encode_rate = (n_real + args.queries) / (time.perf_counter() - t)
    rows, notes = [], []
    for size in args.sizes:
        if size <= n_real:
            pool, kind = real[:size], "real"
        else:
            pool, distance = stand_ins(real, size)
            kind = "stand-ins"
            notes.append(f"{size:,}: stand-ins around the {n_real:,} real embeddings (noise length {distance:.3f})")
        r = measure(pool, queries, args.k)
        rows.append([f"{size:,}", kind, r["compat_uses"], round(r["build_s"], 2), f"{r['nlist']} / {r['nprobe']}",
                     round(r["ivf"]["p50"], 2), round(r["ivf"]["p95"], 2), round(r["exact"]["p50"], 2),
                     round(r["exact"]["p95"], 2), round(r["recall"], 3)])
        print(f"done {size:,} ({kind}) after {time.perf_counter() - started:.0f} s", file=sys.stderr)
    body = (f"CPU vector extensions: {vector_flags()}; faiss-cpu {c._version('faiss-cpu')} "
            f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}).\n\n")
    body += (f"Model `{args.model}` (torch fp32) embedded {n_real:,} composed wordings and {args.queries} held-out "
            f"query wordings at {encode_rate:,.0f} statements/s. Latency: one query at a time, "
            f"top-{args.k}, milliseconds; recall@{args.k} of the IVF index against exact search on the "
            f"{args.queries} held-out queries.\n\n")
    body += c.markdown_table(["pool", "vectors", "compat uses", "IVF build s", "cells / nprobe",
                              "IVF p50 ms", "IVF p95 ms", "exact p50 ms", "exact p95 ms", f"recall@{args.k}"],
                             rows, digits=2)
    if notes:
        body += "\n\nStand-ins (see the script's docstring): " + "; ".join(notes) + "."
    body += f"\n\n(The script ran {time.perf_counter() - started:.0f} s.)\n"
    print(body)
    if args.write:
        c.write_section("match", c.section_text("match", "Matching at scale: faiss IVF index against exact search",
                                                body, c.command_line()))


if __name__ == "__main__":
    main()
