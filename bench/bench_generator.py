"""How long the synthetic data generator takes for 10,000 pairs, against a bare template generator.

    flock /tmp/compat-heavy.lock .venv/bin/python bench/bench_generator.py [--n 10000] [--repeats 3] [--write]

Prints a markdown table: seconds to build the pairs in memory (median over seeds), and to build,
describe (metadata.json) and write all files; the baseline fills "I love X" / "I hate X" templates
and writes them as JSONL with the same number of pairs. `--write` puts the section into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compat.generator.dataset import write_dataset  # noqa: E402
from compat.generator.generate import generate  # noqa: E402
from compat.generator.ontology import load_ontology  # noqa: E402

import common  # noqa: E402


def template_baseline(n: int, seed: int, out: Path) -> None:
    """The well-known template approach: one verb swapped in front of a noun, labels by verb match."""
    rng = random.Random(seed)
    things = ["hiking", "clubs", "smoking", "kids", "dogs", "reading", "travel", "gaming", "cooking", "church"]
    verbs = {"I love": 1, "I hate": 0}
    lines = []
    for _ in range(n):
        thing, (va, sa), (vb, sb) = rng.choice(things), rng.choice(list(verbs.items())), rng.choice(list(verbs.items()))
        lines.append(json.dumps({"text_1": f"boy: {va} {thing}", "text_2": f"girl: {vb} {thing}",
                                 "label": int(sa == sb)}) + "\n")
    (out / "baseline.jsonl").write_text("".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="put the results into BENCHMARKS.md")
    args = parser.parse_args()

    started = time.perf_counter()
    load_ontology()
    load_s = time.perf_counter() - started
    in_memory = []
    for seed in range(args.repeats):
        t = time.perf_counter()
        generate(n=args.n, seed=seed)
        in_memory.append(time.perf_counter() - t)
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        write_dataset(Path(out) / "data", n=args.n, seed=0)
        with_files = time.perf_counter() - t
        t = time.perf_counter()
        template_baseline(args.n, 0, Path(out))
        baseline = time.perf_counter() - t
    rows = [
        ["load ontology.yaml (once per process)", load_s, "—"],
        [f"generate {args.n:,} pairs in memory (median of {args.repeats} seeds)", statistics.median(in_memory), "—"],
        [f"generate + metadata + write {args.n:,} pairs", with_files, baseline],
    ]
    body = common.markdown_table(["step", "compat generator (s)", "template baseline (s)"], rows, digits=2)
    body += (f"\n\nThroughput: {args.n / statistics.median(in_memory):,.0f} pairs/s in memory. "
             "Target: 10,000 pairs in under 5 s.")
    text = common.section_text("generator", "Synthetic data generator", body, common.command_line())
    print(text)
    if args.write:
        common.write_section("generator", text)


if __name__ == "__main__":
    main()
