"""Run every benchmark (bench/bench_*.py) and write each one's results as a section of BENCHMARKS.md.

    make bench                                   # all of them, for the record (takes the heavy lock)
    .venv/bin/python bench/run_all.py --only scoring app
    .venv/bin/python bench/run_all.py --quick    # tiny settings, printed only: checks the scripts work

Each script prints markdown on stdout; its section records the exact command, the machine, the date and
the output (or, when it failed, its exit status and the end of its error output). Scripts run one after
another, each in its own process, while holding /tmp/compat-heavy.lock so that no other heavy
measurement shares the CPU (pass --no-lock when the caller already holds it, e.g. under `flock`).
"""

from __future__ import annotations

import argparse
import ast
import fcntl
import shlex
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
# Order: quick and independent first; training (the longest) last.
PREFERRED = ["store", "scoring", "encoding", "app", "generator", "training"]
# --quick settings for scripts that have no --quick flag of their own.
QUICK_ARGS = {"store": ["--n", "2000", "--repeats", "3"], "generator": ["--n", "500", "--repeats", "1"]}


def discover() -> list[str]:
    """Benchmark names (bench_<name>.py) present, in PREFERRED order, then the others by name."""
    names = sorted(p.stem[len("bench_"):] for p in BENCH_DIR.glob("bench_*.py"))
    return sorted(names, key=lambda n: (PREFERRED.index(n) if n in PREFERRED else len(PREFERRED), n))


def title_of(name: str) -> str:
    """The first sentence of a script's docstring (its first paragraph), the section's title."""
    try:
        doc = ast.get_docstring(ast.parse((BENCH_DIR / f"bench_{name}.py").read_text()))
    except (OSError, SyntaxError):
        doc = None
    return " ".join((doc or name).split("\n\n")[0].split()).rstrip(".")


def supports(name: str, flag: str) -> bool:
    return flag in (BENCH_DIR / f"bench_{name}.py").read_text()


def arguments(name: str, quick: bool, extra: list[str]) -> list[str]:
    args = list(extra)
    if quick:
        args += ["--quick"] if supports(name, '"--quick"') else QUICK_ARGS.get(name, [])
    return args


@contextmanager
def heavy_lock(enabled: bool):
    """Hold /tmp/compat-heavy.lock (flock) for the whole run, saying so when we have to wait."""
    if not enabled:
        yield
        return
    with open(c.HEAVY_LOCK, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for {c.HEAVY_LOCK} (another heavy measurement is running)...", flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_one(name: str, args: list[str], timeout: float) -> tuple[str, str, float]:
    """Run one benchmark; returns (command as typed, markdown body, seconds)."""
    script = f"bench/bench_{name}.py"
    command = shlex.join(["python", script, *args])
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(c.REPO / script), *args], cwd=c.REPO, env=c.bench_env(),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-2000:]
        tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        return command, f"**Timed out after {timeout:.0f} s.**\n\n```\n{tail}\n```", time.perf_counter() - started
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        body = (f"**Failed (exit status {proc.returncode}).**\n\n```\n{proc.stderr[-3000:]}\n```\n\n"
                f"{proc.stdout[-3000:]}")
        return command, body, seconds
    return command, proc.stdout.strip() + f"\n\n(The script ran {seconds:.0f} s.)", seconds


def own_section(name: str, output: str) -> str | None:
    """The section a script printed itself (common.section_text, with its own command), if it did."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    i, j = output.find(start), output.find(end)
    return output[i:j + len(end)] if 0 <= i < j else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="benchmarks to run (e.g. scoring app)")
    parser.add_argument("--quick", action="store_true", help="tiny settings; print, write only with --out")
    parser.add_argument("--out", type=Path, help="file to write sections into (default BENCHMARKS.md)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per script")
    parser.add_argument("--no-lock", action="store_true", help="do not take /tmp/compat-heavy.lock")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args, extra = parser.parse_known_args()
    names = discover()
    if args.list:
        print("\n".join(f"{n}: {title_of(n)}" for n in names))
        return 0
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (have: {', '.join(names)})")
    chosen = [n for n in names if not args.only or n in args.only]
    out = args.out or (None if args.quick else c.BENCHMARKS_MD)
    failed = []
    with heavy_lock(not args.no_lock):
        for name in chosen:
            bench_args = arguments(name, args.quick, extra if args.only and len(chosen) == 1 else [])
            machine_line = c.machine()
            print(f"== {name}: python bench/bench_{name}.py {shlex.join(bench_args)}", flush=True)
            command, body, seconds = run_one(name, bench_args, args.timeout)
            if body.startswith("**Failed") or body.startswith("**Timed out"):
                failed.append(name)
            text = own_section(name, body) or c.section_text(name, title_of(name), body, command, machine_line)
            print(text + "\n", flush=True)
            if out is not None:
                c.write_section(name, text, out)
    if out is not None:
        print(f"wrote {len(chosen)} section(s) to {out}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
