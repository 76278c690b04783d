"""Label store page times on 50,000 pairs, against a bare SQLite query on the same table.

    flock /tmp/compat-heavy.lock .venv/bin/python bench/bench_store.py [--n 50000] [--repeats 30]

Prints a markdown table: p50 / p95 milliseconds of `LabelStore.query` (count + page + row objects) for
typical filters, sorts and searches; the same page run bare with sqlite3 on the same table (count + page,
plain tuples, LIKE for search instead of our trigram index), and the ratio; then what one Data tab page
costs on the server (query, table frame, counts line); then the time to import, export and bulk-relabel
all pairs.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compat.store.labels import LabelStore  # noqa: E402
from compat.store.records import Filters  # noqa: E402

CATEGORIES = ["lifestyle", "social_energy", "interests", "values", "family", "goals", "habits", "dealbreakers"]
PAIR_TYPES = ["compatible", "incompatible", "dealbreaker", "complex_compatible", "complex_incompatible",
              "subtle_mismatch", "judged", "realistic"]
OPENERS = ["I love", "I can't stand", "Weekends are for", "Never date someone into", "I'm all about",
           "Honestly I avoid", "My happy place is", "Hard pass on", "I spend evenings on", "Looking for"]
THINGS = ["hiking", "smoking", "clubbing", "a good novel", "early runs", "late nights", "kids", "dogs",
          "cats", "travel", "cooking", "video games", "church", "camping", "jazz", "crowds", "wine",
          "board games", "the gym", "road trips", "gardening", "sushi", "horror films", "poetry"]


def synthetic_pairs(n: int, seed: int = 0) -> list[dict]:
    """n distinct pairs in the original format plus split and explanation, like a generated set."""
    rng = random.Random(seed)
    pairs, seen = [], set()
    while len(pairs) < n:
        a = f"{rng.choice(OPENERS)} {rng.choice(THINGS)} #{rng.randrange(10**6)}"
        b = f"{rng.choice(OPENERS)} {rng.choice(THINGS)} and {rng.choice(THINGS)}"
        if (a, b) in seen:
            continue
        seen.add((a, b))
        pairs.append({"text_1": f"boy: {a}", "text_2": f"girl: {b}", "label": rng.randrange(2),
                      "category": rng.choice(CATEGORIES), "subcategory": f"sub_{rng.randrange(40)}",
                      "pair_type": rng.choice(PAIR_TYPES), "explanation": "synthetic benchmark pair",
                      "split": rng.choice(["train"] * 8 + ["validation", "test"])})
    return pairs


SCENARIOS: list[tuple[str, dict]] = [
    ("first page, no filter", dict()),
    ("page at offset 25,000", dict(offset=25_000)),
    ("last page, sorted by text_1 desc", dict(sort="text_1", descending=True, offset=49_950)),
    ("label=0 + category", dict(filters=Filters(label=0, category="values"))),
    ("pair_type, sorted by text_2", dict(filters=Filters(pair_type="dealbreaker"), sort="text_2")),
    ("split=test, offset 2,000", dict(filters=Filters(split="test"), offset=2_000)),
    ("edited only, newest first", dict(filters=Filters(edited=True), sort="updated", descending=True)),
    ("search 'smok'", dict(filters=Filters(search="smok"))),
    ("search + label, sorted by category", dict(filters=Filters(search="novel", label=1), sort="category")),
    ("search, no match", dict(filters=Filters(search="zzzz-nothing"))),
]


def plain_where(filters: Filters | None) -> tuple[str, list]:
    """What a plain implementation would write: equality tests and LIKE for search (no text index)."""
    f = filters or Filters()
    clauses, params = ["1"], []
    for column in ("label", "category", "pair_type", "split"):
        if getattr(f, column) is not None:
            clauses.append(f"{column} = ?")
            params.append(getattr(f, column))
    if f.edited is not None:
        clauses.append("origin = 'edited'" if f.edited else "origin != 'edited'")
    if f.search:
        clauses.append("(text_1 LIKE ? OR text_2 LIKE ? OR explanation LIKE ?)")
        params += [f"%{f.search}%"] * 3
    return " AND ".join(clauses), params


def bare_query(conn: sqlite3.Connection, filters=None, sort="id", descending=False, offset=0, limit=50):
    """The same page with plain sqlite3 on the same table: no transaction, no row objects, no text index."""
    condition, params = plain_where(filters)
    direction = "DESC" if descending else "ASC"
    order = f"{sort} {direction}, id {direction}" if sort != "id" else f"id {direction}"
    total = conn.execute(f"SELECT COUNT(*) FROM pairs WHERE {condition}", params).fetchone()[0]
    rows = conn.execute(f"SELECT * FROM pairs WHERE {condition} ORDER BY {order} LIMIT ? OFFSET ?",
                        [*params, limit, offset]).fetchall()
    return total, rows


def timed(fn, repeats: int) -> tuple[float, float]:
    """p50 and p95 of fn() in milliseconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COMPAT_HOME"] = tmp  # the Data tab below opens this same store
        pairs = synthetic_pairs(args.n)
        store = LabelStore(Path(tmp) / "labels.db")
        start = time.perf_counter()
        report = store.import_pairs(pairs, origin="generated")
        import_s = time.perf_counter() - start
        # Some edits, so the `edited` filter has something to find.
        for row in store.query(Filters(category="habits"), limit=200).rows:
            store.relabel(row.id, 1 - row.label, row.version, "bench")
        bare = sqlite3.connect(Path(tmp) / "labels.db")

        print(f"Label store, {report.added:,} pairs, {args.repeats} repeats, page size 50 (ms)\n")
        print("| query | ours p50 | ours p95 | bare SQLite p50 | bare p95 | ratio p50 | matched |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, kw in SCENARIOS:
            ours = timed(lambda: store.query(**kw), args.repeats)
            plain = timed(lambda: bare_query(bare, **kw), args.repeats)
            total = store.query(**kw).total
            print(f"| {name} | {ours[0]:.1f} | {ours[1]:.1f} | {plain[0]:.1f} | {plain[1]:.1f} | "
                  f"{ours[0] / plain[0]:.2f} | {total:,} |")

        print("\nThe Data tab's page (store query + table frame + counts line), as one click costs on the server:\n")
        print("| query | p50 | p95 |")
        print("|---|---:|---:|")
        from compat.ui.data_events import counts_text, page_table

        for name, kw in (SCENARIOS[0], SCENARIOS[2], SCENARIOS[8]):
            p50, p95 = timed(lambda: (page_table(kw.get("filters"), kw.get("sort", "id"), kw.get("descending", False),
                                                 kw.get("offset", 0)), counts_text()), args.repeats)
            print(f"| {name} | {p50:.1f} | {p95:.1f} |")

        start = time.perf_counter()
        store.export(Path(tmp) / "all.jsonl")
        export_s = time.perf_counter() - start
        start = time.perf_counter()
        changed = store.bulk_relabel(Filters(), 1, "bench")
        bulk_s = time.perf_counter() - start
        print(f"\nimport {report.added:,} pairs: {import_s:.2f} s; export all: {export_s:.2f} s; "
              f"bulk relabel of {changed:,} pairs (one transaction): {bulk_s:.2f} s")


if __name__ == "__main__":
    main()
