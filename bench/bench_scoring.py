"""Scoring latency p50/p95: compat against plain sentence-transformers, in-process and over HTTP.

    flock /tmp/compat-heavy.lock .venv/bin/python bench/bench_scoring.py [--model default|RUN|PATH] [--quick]

1. In-process: `compat.scoring.score(a, b, model)` vs a plain script (`SentenceTransformer(base path)
   .encode([a, b], normalize_embeddings=True)` then the dot product), calls interleaved so both see the
   same machine; and the fine-tuned model (merged LoRA: it should cost what base costs) when one exists.
2. HTTP: the real app (`python app.py`) scored with gradio_client, one call at a time, vs a bare
   gr.Blocks app whose `score` endpoint does the plain encode + cosine (once per model the real app
   runs for one call: base, plus the fine-tuned model when one is active), same queue settings.
3. 50 concurrent `score` calls (threads, one gradio_client each call) on both apps: p50/p95 per call.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c  # noqa: E402

PAIRS = [
    ("boy: I'd never date a smoker", "girl: I smoke a pack a day"),
    ("girl: Weekends are pajamas and a good novel", "boy: I'd rather stay in than go clubbing"),
    ("boy: I'm up at 5am for a run before work", "girl: I do my best thinking at 2am"),
    ("girl: I want a big family someday", "boy: Kids are a hard no for me"),
    ("boy: Every vacation I plan involves a mountain trail", "girl: Sleeping under the stars is my happy place"),
    ("I love hiking", "I love hiking"),
    ("girl: My faith is the centre of my life and I want a partner who shares it and goes to church with me",
     "boy: I'm an atheist and honestly religion makes me uncomfortable"),
    ("boy: Dogs are family", "girl: I'm allergic to anything with fur"),
]


def fine_tuned_name(wanted: str | None) -> str | None:
    """The fine-tuned model to measure: --model, else the shipped default when it exists, else None."""
    from compat.models import default_available

    if wanted:
        return wanted
    return "default" if default_available() else None


# -- in-process -------------------------------------------------------------------------------------
def in_process(repeats: int, tuned_name: str | None) -> tuple[list[list], str]:
    """Rows (what, p50, p95, ratio) for compat base, plain ST, and compat fine-tuned, interleaved."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from compat.models import base_model_path, load_model
    from compat.scoring import score
    from compat.text import clean_statement

    base = load_model("base")
    plain = SentenceTransformer(base_model_path(), device="cpu", local_files_only=True)
    tuned = load_model(tuned_name) if tuned_name else None
    clean = [(clean_statement(a), clean_statement(b)) for a, b in PAIRS]

    def plain_score(i: int) -> float:  # what a plain script does (given the same cleaned text)
        a, b = plain.encode(list(clean[i % len(clean)]), normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False)
        return float(np.dot(a, b))

    runners = {"compat base": lambda i: score(*PAIRS[i % len(PAIRS)], base),
               "plain sentence-transformers (base)": plain_score}
    if tuned is not None:
        runners[f"compat fine-tuned ({tuned_name})"] = lambda i: score(*PAIRS[i % len(PAIRS)], tuned)
    for fn in runners.values():  # warm-up: first calls allocate
        for i in range(3):
            fn(i)
    times: dict[str, list[float]] = {k: [] for k in runners}
    for i in range(repeats):
        for name, fn in runners.items():
            start = time.perf_counter()
            fn(i)
            times[name].append(time.perf_counter() - start)
    s = {k: c.summary_ms(v) for k, v in times.items()}
    ref = s["plain sentence-transformers (base)"]
    rows = []
    for name, v in s.items():
        rows.append([name, v["p50"], v["p95"], c.ratio(v["p50"], ref["p50"]), c.ratio(v["p95"], ref["p95"])])
    note = ""
    if tuned is not None:
        t = s[f"compat fine-tuned ({tuned_name})"]
        note = (f"Fine-tuned vs compat base: p50 {c.ratio(t['p50'], s['compat base']['p50'])}, "
                f"p95 {c.ratio(t['p95'], s['compat base']['p95'])} (a merged adapter should cost the same).")
    else:
        note = "No fine-tuned model (assets/models/default or --model): fine-tuned row left out."
    return rows, note


# -- over HTTP --------------------------------------------------------------------------------------
def _client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def sequential(url: str, repeats: int) -> list[float]:
    client = _client(url)
    for i in range(3):  # warm-up: model loading in the app, first requests
        client.predict(*PAIRS[i % len(PAIRS)], api_name="/score")
    out = []
    for i in range(repeats):
        start = time.perf_counter()
        client.predict(*PAIRS[i % len(PAIRS)], api_name="/score")
        out.append(time.perf_counter() - start)
    return out


def concurrent(url: str, n: int, timeout: float = 300) -> tuple[list[float], float, int]:
    """n score calls at once from n threads: per-call seconds, total wall seconds, calls answered ~1.0."""
    clients = [_client(url) for _ in range(n)]  # created first so connection set-up is not timed
    barrier = threading.Barrier(n)

    def call(i: int) -> tuple[float, float | None]:
        text = f"I love hiking and my dog number {i}"
        barrier.wait(timeout)
        start = time.perf_counter()
        base, *_ = clients[i].predict(text, text, api_name="/score")
        return time.perf_counter() - start, base

    start = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(call, range(n), timeout=timeout))
    wall = time.perf_counter() - start
    correct = sum(1 for _, base in results if base is not None and abs(base - 1.0) < 1e-3)
    return [r[0] for r in results], wall, correct


def write_active(home: Path, tuned_name: str | None) -> None:
    """Make the app in `home` use the fine-tuned model under test (the shipped default needs nothing)."""
    if tuned_name and tuned_name != "default":
        from compat.models import resolve

        (home / "active_model.json").write_text(json.dumps({"model": str(resolve(tuned_name))}))


def over_http(repeats: int, n_concurrent: int, tuned_name: str | None, tmp: Path) -> tuple[str, list[list]]:
    home = tmp / "home"
    home.mkdir()
    write_active(home, tuned_name)
    models_per_call = 2 if tuned_name else 1
    results = {}
    port = c.free_port()
    cmd, extra = c.compat_app_command(port)
    with c.served(cmd, port, c.bench_env(home, **extra), tmp / "compat-app.log") as app:
        seq = sequential(app["url"], repeats)
        conc, wall, ok = concurrent(app["url"], n_concurrent)
        results["compat app"] = (seq, conc, wall, ok, c.peak_rss_of_pid_mb(app["pid"]))
    port = c.free_port()
    with c.served(c.baseline_app_command(port, models_per_call), port, c.bench_env(tmp / "base-home"),
                  tmp / "baseline-app.log") as app:
        seq = sequential(app["url"], repeats)
        conc, wall, ok = concurrent(app["url"], n_concurrent)
        results["plain gr.Blocks + sentence-transformers"] = (seq, conc, wall, ok,
                                                              c.peak_rss_of_pid_mb(app["pid"]))
    ref_seq = c.summary_ms(results["plain gr.Blocks + sentence-transformers"][0])
    ref_conc = c.summary_ms(results["plain gr.Blocks + sentence-transformers"][1])
    rows = []
    for name, (seq, conc, wall, ok, rss) in results.items():
        s, k = c.summary_ms(seq), c.summary_ms(conc)
        rows.append([name, s["p50"], s["p95"], c.ratio(s["p50"], ref_seq["p50"]), k["p50"], k["p95"],
                     c.ratio(k["p95"], ref_conc["p95"]), f"{ok}/{n_concurrent}", n_concurrent / wall, rss])
    what = "base + fine-tuned" if tuned_name else "base only"
    return what, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="fine-tuned model to measure (default: assets/models/default if present)")
    parser.add_argument("--repeats", type=int, default=300, help="in-process calls per variant")
    parser.add_argument("--http-repeats", type=int, default=100, help="sequential HTTP calls per app")
    parser.add_argument("--concurrent", type=int, default=50, help="simultaneous HTTP calls")
    parser.add_argument("--no-http", action="store_true", help="in-process only")
    parser.add_argument("--quick", action="store_true", help="tiny settings to check the script works")
    parser.add_argument("--write", action="store_true", help="also write the section into BENCHMARKS.md")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.http_repeats, args.concurrent = 10, 5, 10
    machine_line = c.machine()
    tuned = fine_tuned_name(args.model)

    out = [f"Scoring two short statements; milliseconds per call. In-process: {args.repeats} calls each, "
           "interleaved.\n"]
    rows, note = in_process(args.repeats, tuned)
    out.append(c.markdown_table(["in-process", "p50 ms", "p95 ms", "p50 vs plain", "p95 vs plain"], rows))
    out.append(f"\n{note}\n")
    if not args.no_http:
        with tempfile.TemporaryDirectory(prefix="bench-scoring-") as tmp:
            what, rows = over_http(args.http_repeats, args.concurrent, tuned, Path(tmp))
        out.append(f"Over HTTP with gradio_client ({what} per call; the plain app encodes as many times): "
                   f"{args.http_repeats} sequential calls, then {args.concurrent} simultaneous calls from "
                   f"{args.concurrent} threads.\n")
        out.append(c.markdown_table(
            ["app", "sequential p50 ms", "sequential p95 ms", "p50 vs plain", f"{args.concurrent} concurrent p50 ms",
             "concurrent p95 ms", "p95 vs plain", "answered ~1.0", "calls/s", "server peak RSS MiB"], rows))
    out.append(f"\nThis process's peak RSS: {c.peak_rss_mb():.0f} MiB.")
    body = "\n".join(out)
    print(body)
    if args.write:
        c.write_section("scoring", c.section_text("scoring", "Scoring latency", body, c.command_line(),
                                                  machine_line))


if __name__ == "__main__":
    main()
