"""App cold start: `python app.py` to its first HTTP 200, against a bare gr.Blocks hello app, median of N.

    flock /tmp/compat-heavy.lock .venv/bin/python bench/bench_app.py [--n 5] [--quick]

Each start is a new process with a fresh, empty COMPAT_HOME; the variants are interleaved (A, B, C, A,
B, C, ...) so that all see the same machine and the same warm OS file cache. Also measured: the time
until the first `score` call is answered (models loaded), for compat and for a plain gr.Blocks app
with one sentence-transformers score endpoint, and each server's peak resident memory.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c  # noqa: E402

VARIANTS = ("compat app (python app.py)", "bare gr.Blocks hello (baseline)", "plain gr.Blocks + ST score endpoint")


def first_score_seconds(url: str, started: float, timeout: float = 180) -> float:
    """Seconds from process start until a `score` call over HTTP returns a number."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        base, *_ = client.predict("I love hiking", "I love hiking", api_name="/score")
        if base is not None:
            return time.perf_counter() - started
        time.sleep(0.1)
    raise TimeoutError(f"{url}: no score within {timeout} s")


def one_start(variant: str, tmp: Path, i: int, with_score: bool) -> dict:
    """Start one server of `variant`, time first 200 (and first score), read its peak RSS, stop it."""
    port = c.free_port()
    home = tmp / f"home-{i}-{VARIANTS.index(variant)}"
    home.mkdir()
    if variant == VARIANTS[0]:
        cmd, extra = c.compat_app_command(port)
        env = c.bench_env(home, **extra)
    else:
        cmd, env = c.baseline_app_command(port, 1 if variant == VARIANTS[2] else 0), c.bench_env(home)
    started = time.perf_counter()
    with c.served(cmd, port, env, home / "server.log", timeout=180) as app:
        result = {"first_200": time.perf_counter() - started}
        if with_score and variant != VARIANTS[1]:
            result["first_score"] = first_score_seconds(app["url"], started)
        result["rss"] = c.peak_rss_of_pid_mb(app["pid"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5, help="starts per variant (median reported)")
    parser.add_argument("--no-score", action="store_true", help="skip the time-to-first-score column")
    parser.add_argument("--quick", action="store_true", help="one start each, to check the script works")
    parser.add_argument("--write", action="store_true", help="also write the section into BENCHMARKS.md")
    args = parser.parse_args()
    if args.quick:
        args.n = 1
    machine_line = c.machine()
    runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="bench-app-") as tmp:
        for i in range(args.n):
            for variant in VARIANTS:
                runs[variant].append(one_start(variant, Path(tmp), i, not args.no_score))

    def med(variant: str, key: str) -> float | None:
        values = [r[key] for r in runs[variant] if key in r]
        return statistics.median(values) if values else None

    base_200 = med(VARIANTS[1], "first_200")
    plain_score = med(VARIANTS[2], "first_score")
    rows = []
    for v in VARIANTS:
        first = med(v, "first_200")
        score = med(v, "first_score")
        rows.append([v, first, c.ratio(first, base_200), score,
                     c.ratio(score, plain_score) if score is not None else "—",
                     max((r["rss"] or 0) for r in runs[v]) or None])
    body = (f"Cold start, median of {args.n} starts each (fresh COMPAT_HOME, interleaved); seconds.\n\n"
            + c.markdown_table(["server", "first HTTP 200 s", "vs bare hello", "first score answered s",
                                "vs plain score app", "peak RSS MiB"],
                               [[r[0], round(r[1], 2), r[2], None if r[3] is None else round(r[3], 2), r[4],
                                 r[5]] for r in rows], digits=2)
            + "\n\nAll starts (s): " + "; ".join(
                f"{v}: " + ", ".join(f"{r['first_200']:.2f}" for r in runs[v]) for v in VARIANTS))
    print(body)
    if args.write:
        c.write_section("app", c.section_text("app", "App cold start", body, c.command_line(), machine_line))


if __name__ == "__main__":
    main()
