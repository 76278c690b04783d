"""Matching over a pool: the pool file format, exact search, the faiss index and its cache, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from compat.paths import DATA_DIR, DEFAULT_MODEL_DIR, REPO_ROOT

needs_default = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "compat_model.json").exists(),
                                   reason="no shipped default model (run `make model`)")


def _statements(file: str, limit: int) -> list[str]:
    from compat.evaluation.embeddings import distinct_statements
    from compat.pairs import load_pairs

    return distinct_statements(load_pairs(DATA_DIR / file))[0][:limit]


@pytest.fixture(scope="module")
def pool_and_queries():
    """Embeddings of 500 real test-split statements (the pool) and 40 validation statements (queries)."""
    from compat.models import load_model

    model = load_model("default")
    pool = _statements("test.jsonl", 500)
    queries = [q for q in _statements("validation.jsonl", 60) if q not in set(pool)][:40]
    return model, pool, model.embed(pool), model.embed(queries)


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "compat", *args], capture_output=True, text=True, env=env,
                          cwd=REPO_ROOT, timeout=300)


@needs_default
def test_index_search_returns_the_exact_top_k(pool_and_queries):
    from compat.evaluation.vector_index import build_index, exact_search, recall_at_k

    _, _, emb, queries = pool_and_queries
    index = build_index(emb, exact_below=0)  # a faiss IVF index even for this small pool
    assert index.kind == "ivf" and index.info["nlist"] > 1
    truth_scores, truth = exact_search(emb, queries, 10)
    index.faiss_index.nprobe = index.info["nlist"]  # every cell scanned: must equal exact search
    scores, rows = index.search(queries, 10)
    assert (rows == truth).all()
    assert np.allclose(scores, truth_scores, atol=1e-5)
    index.faiss_index.nprobe = index.info["nprobe"]  # as tuned at build time, on queries it never saw
    assert recall_at_k(index.search(queries, 10)[1], truth) >= 0.95
    brute = np.argsort(-(queries @ emb.T), axis=1, kind="stable")[:, :10]
    assert (truth == brute).all()  # exact_search is a plain argsort of the cosines


@needs_default
def test_small_pools_search_exactly_and_indexes_are_cached(pool_and_queries, compat_home):
    from compat.evaluation.vector_index import pool_index

    model, pool, _, _ = pool_and_queries
    assert pool_index(model, pool).kind == "exact"
    first = pool_index(model, pool, exact_below=100)
    assert first.kind == "ivf" and "cached" not in first.info
    again = pool_index(model, pool, exact_below=100)
    assert again.info.get("cached") and again.info["nprobe"] == first.info["nprobe"]
    assert len(list((compat_home / "cache" / "indexes").glob("*.faiss"))) == 1
    assert len(list((compat_home / "cache" / "embeddings").glob("*.npy"))) == 1  # the embedding cache, reused


@needs_default
def test_match_pool_ranks_by_cosine_and_leaves_the_query_out(pool_and_queries, tmp_path):
    from compat.evaluation.pool import match_pool, read_pool

    model, pool, emb, _ = pool_and_queries
    file = tmp_path / "pool.jsonl"
    file.write_text("".join(json.dumps({"text": f"girl: {t}", "id": f"u{i}"}) + "\n" for i, t in enumerate(pool)))
    entries = read_pool(file)
    query = pool[3]
    matches, info = match_pool(model, entries, f"boy: {query}", k=5)
    assert info["kind"] == "exact" and [m.rank for m in matches] == [1, 2, 3, 4, 5]
    assert all(m.id != "u3" for m in matches)  # the same statement is not its own match
    cosines = emb @ emb[3]
    cosines[3] = -2
    assert [m.id for m in matches] == [f"u{i}" for i in np.argsort(-cosines, kind="stable")[:5]]
    assert all(m.probability is not None and 0 < m.probability < 1 for m in matches)


def test_pool_files_name_every_bad_line(tmp_path):
    from compat.evaluation.pool import PoolFileError, read_pool

    good = tmp_path / "people.txt"
    good.write_text("I love hiking\n\nboy: Clubs drain me\n")
    assert [(e.id, e.clean) for e in read_pool(good)] == [(1, "I love hiking"), (3, "Clubs drain me")]
    bad = tmp_path / "people.jsonl"
    bad.write_text('{"text": "I love hiking", "id": 7}\n{"id": 8}\n{"text": "   "}\nnot json\n'
                   '{"text": "Dogs!", "id": 7}\n{"text": "Cats", "id": [1]}\n')
    with pytest.raises(PoolFileError) as caught:
        read_pool(bad)
    message = str(caught.value)
    for line, what in ((2, "no 'text' field"), (3, "empty"), (4, "not valid JSON"), (5, "id 7 again"),
                       (6, "must be a string or an integer")):
        assert f"{bad}:{line}: " in message and what in message, (line, what)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(PoolFileError, match="has no statements"):
        read_pool(empty)
    with pytest.raises(PoolFileError, match="unknown format"):
        read_pool(tmp_path / "pool.csv")
    with pytest.raises(PoolFileError, match="no such file"):
        read_pool(tmp_path / "missing.jsonl")


def test_cli_names_bad_input(tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"text": "I love hiking"}\n{"name": "no statement"}\n')
    done = _run("match", "--pool", str(pool), "--query", "I hike")
    assert done.returncode == 2 and f"{pool}:2: no 'text' field" in done.stderr
    pool.write_text('{"text": "I love hiking"}\n')
    done = _run("match", "--pool", str(pool), "--query", "I hike", "--model", str(tmp_path / "no-model"))
    assert done.returncode == 2 and "no-model" in done.stderr
    done = _run("match", "--pool", str(pool), "--query", "   ")
    assert done.returncode == 2 and "--query is empty" in done.stderr


@needs_default
@pytest.mark.slow
def test_cli_prints_the_best_matches(tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text("\n".join(_statements("test.jsonl", 50)) + "\n")
    done = _run("match", "--pool", str(pool), "--query", "I'd never date a smoker", "--k", "3", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [m["rank"] for m in result["matches"]] == [1, 2, 3] and result["index"]["kind"] == "exact"
    assert "exact search" in done.stderr


@needs_default
def test_cli_matches_with_the_model_the_app_uses(tmp_path, compat_home):
    """Without --model, `match` ranks by the active fine-tuned model (`compat runs use`), as the Score tab does."""
    import shutil

    from compat.active import set_active

    pool = tmp_path / "pool.txt"
    pool.write_text("\n".join(_statements("test.jsonl", 20)) + "\n")
    args = ("match", "--pool", str(pool), "--query", "I'd never date a smoker", "--k", "3", "--json")
    assert json.loads(_run(*args).stdout)["model"] == "default"  # nothing chosen: the shipped model
    chosen = tmp_path / "my-run"
    shutil.copytree(DEFAULT_MODEL_DIR, chosen)
    set_active(str(chosen))
    done = _run(*args)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model"] == str(chosen) and f"model {chosen}" in done.stderr
    assert json.loads(_run(*args, "--model", "base").stdout)["model"] == "base"


@needs_default
def test_score_tab_matches_an_uploaded_pool(tmp_path, compat_home):
    from compat.ui.score_tab import find_pool_matches

    pool = tmp_path / "people.jsonl"
    pool.write_text("".join(json.dumps({"text": t, "id": f"p{i}"}) + "\n"
                            for i, t in enumerate(_statements("test.jsonl", 30))))
    rows, note = find_pool_matches("I'd never date a smoker", str(pool), 4)
    assert len(rows) == 4 and all(r[0].startswith("p") for r in rows) and "of 30 pool statements" in note
    assert [r[2] for r in rows] == sorted((r[2] for r in rows), reverse=True)
    pool.write_text('{"text": "I love hiking"}\n{"txt": "typo"}\n')
    rows, note = find_pool_matches("I'd never date a smoker", str(pool), 4)
    assert rows == [] and f"{pool}:2: no 'text' field" in note
    assert find_pool_matches("I hike", None)[0] == []
