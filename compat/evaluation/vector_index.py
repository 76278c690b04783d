"""Nearest statements by cosine over a pool of embeddings: exact below EXACT_BELOW rows, a faiss index above.

Embeddings are L2-normalised, so the inner product is the cosine. Exact search is one matrix product.
Above the threshold a faiss IVF index (inverted lists over k-means cells, full vectors kept, no
compression) is built: `nlist` ~ sqrt(n) cells, and `nprobe`, how many cells a query scans, is tuned at
build time against exact search on CALIBRATION_QUERIES queries near pool rows until recall@10 reaches
TARGET_RECALL, so recall is measured rather than hoped for.

Cache (compat.paths.cache_dir()): the pool's embeddings through compat.evaluation.embeddings.cached_embeddings
(keyed by model identity and the statements' hash), and the index beside them as
  indexes/<model-id>-<pool-hash>-<params>.faiss   faiss.write_index
  indexes/<model-id>-<pool-hash>-<params>.json    {"kind", "n", "nlist", "nprobe", "recall_at_10"}
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

EXACT_BELOW = 50_000  # below this many rows an exact search is fast enough (a few ms a query)
TARGET_RECALL = 0.99  # recall@10 against exact search that build-time tuning of nprobe aims for
CALIBRATION_QUERIES = 200
TRAIN_PER_CELL = 64  # k-means training rows per IVF cell (faiss warns below 39)
INDEX_VERSION = 4


@dataclass
class VectorIndex:
    """A searchable set of L2-normalised rows; `kind` is "exact" or "ivf" (faiss IndexIVFFlat)."""

    kind: str
    n: int
    embeddings: np.ndarray | None = None  # kept for exact search only
    faiss_index: object | None = None
    info: dict = field(default_factory=dict)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(cosines, row numbers), each (len(queries), min(k, n)), best first; rows -1 where none."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, self.n)
        if self.kind == "exact":
            return exact_search(self.embeddings, q, k)
        scores, rows = self.faiss_index.search(q, k)
        return scores, rows


def exact_search(embeddings: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k rows of `embeddings` with the highest inner product with each query (ties: lower row first)."""
    sims = queries @ embeddings.T
    k = min(k, embeddings.shape[0])
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < embeddings.shape[0] else \
        np.tile(np.arange(embeddings.shape[0]), (len(queries), 1))
    top = np.take_along_axis(sims, part, axis=1)
    order = np.lexsort((part, -top), axis=1)  # by score, then by row number
    rows = np.take_along_axis(part, order, axis=1)
    return np.take_along_axis(sims, rows, axis=1).astype(np.float32), rows.astype(np.int64)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each query's true top-k rows that `found` also returns."""
    hits = [len(set(f.tolist()) & set(t.tolist())) / max(1, len(t)) for f, t in zip(found, truth)]
    return float(np.mean(hits)) if hits else 1.0


def _tune_nprobe(index, embeddings: np.ndarray, nlist: int, seed: int, k: int = 10) -> tuple[int, float]:
    """Twice the smallest nprobe (doubling) whose recall@k against exact search reaches TARGET_RECALL.

    The tuning queries stand for statements the pool has not seen: pool rows moved by Gaussian noise
    1 to 3 times as long as the median distance between a row and its k-th nearest neighbour, then
    re-normalised (a query that is itself a pool row sits in the middle of its cell and would flatter
    the index; farther queries have neighbours spread over more cells). The k-th, not the first: in a
    dense pool (many near-duplicates) the nearest row is so close that such queries still flattered
    the index (1M pool: tuned to 0.97, 0.90 on held-out statements).
    """
    rng = np.random.default_rng(seed)
    picked = rng.choice(embeddings.shape[0], size=min(CALIBRATION_QUERIES, embeddings.shape[0]), replace=False)
    rows = embeddings[picked]
    scores, _ = exact_search(embeddings, rows, k + 1)  # [:, k]: each row's k-th nearest other row
    distance = float(np.median(np.sqrt(np.maximum(0.0, 2.0 - 2.0 * scores[:, -1]))))
    scale = rng.uniform(1.0, 3.0, size=(len(rows), 1)).astype(np.float32)  # near and farther queries
    noise = rng.standard_normal(rows.shape).astype(np.float32) * (scale * distance / np.sqrt(rows.shape[1]))
    queries = rows + noise
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    _, truth = exact_search(embeddings, queries, k)
    nprobe, recall = 1, 0.0
    while True:
        index.nprobe = nprobe
        recall = recall_at_k(index.search(queries, k)[1], truth)
        if recall >= TARGET_RECALL or nprobe >= nlist:
            break
        nprobe = min(nlist, nprobe * 2)
    if nprobe < nlist:  # one doubling of margin: real new statements sit farther out than these queries
        nprobe = min(nlist, nprobe * 2)
        index.nprobe = nprobe
        recall = recall_at_k(index.search(queries, k)[1], truth)
    return nprobe, recall


def build_index(embeddings: np.ndarray, exact_below: int = EXACT_BELOW, seed: int = 0) -> VectorIndex:
    """An exact index for fewer than `exact_below` rows, else a faiss IVF index with a tuned nprobe."""
    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError("no embeddings to index")
    n, dim = x.shape
    if n < exact_below:
        return VectorIndex("exact", n, embeddings=x, info={"kind": "exact", "n": n})
    import faiss

    nlist = max(1, min(int(round(math.sqrt(n))), n // TRAIN_PER_CELL or 1))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    train = x if n <= TRAIN_PER_CELL * nlist else x[rng.choice(n, TRAIN_PER_CELL * nlist, replace=False)]
    index.cp.seed = seed  # k-means starts from a fixed seed: the same pool gives the same index
    index.train(train)
    index.add(x)
    nprobe, recall = _tune_nprobe(index, x, nlist, seed)
    index.nprobe = nprobe
    info = {"kind": "ivf", "n": n, "nlist": nlist, "nprobe": nprobe, "recall_at_10": round(recall, 4)}
    return VectorIndex("ivf", n, faiss_index=index, info=info)


def _index_key(model_id: str, pool_hash: str, exact_below: int) -> str:
    params = {"version": INDEX_VERSION, "target": TARGET_RECALL, "exact_below": exact_below}
    tag = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    return f"{model_id}-{pool_hash}-{tag}"


def _load_cached(file: Path, meta_file: Path, n: int) -> VectorIndex | None:
    import faiss

    try:
        info = json.loads(meta_file.read_text())
        index = faiss.read_index(str(file))
    except (OSError, ValueError, RuntimeError):
        return None  # missing or damaged: rebuilt, never trusted
    if index.ntotal != n or info.get("n") != n:
        return None
    index.nprobe = int(info["nprobe"])
    return VectorIndex("ivf", n, faiss_index=index, info={**info, "cached": True})


def _save(index: VectorIndex, file: Path, meta_file: Path) -> None:
    """Write index then metadata, each atomically (a reader needs both, and checks they agree)."""
    import faiss

    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    faiss.write_index(index.faiss_index, str(tmp))
    os.replace(tmp, file)
    tmp_meta = meta_file.with_name(f".{meta_file.name}.{os.getpid()}.tmp")
    tmp_meta.write_text(json.dumps(index.info))
    os.replace(tmp_meta, meta_file)


def pool_index(model, statements: Sequence[str], exact_below: int = EXACT_BELOW) -> VectorIndex:
    """The index of the statements' embeddings under `model` (a CompatModel or a name), cached on disk.

    Embeddings come from compat.evaluation.embeddings.cached_embeddings; an IVF index is stored beside them,
    keyed by the model's identity, the statements' hash and the index parameters.
    """
    from compat.evaluation.embeddings import cached_embeddings, data_hash, model_identity
    from compat.paths import cache_dir

    n = len(statements)
    key = _index_key(model_identity(model), data_hash(statements), exact_below)
    file, meta_file = cache_dir() / "indexes" / f"{key}.faiss", cache_dir() / "indexes" / f"{key}.json"
    if n >= exact_below and file.exists() and meta_file.exists():
        cached = _load_cached(file, meta_file, n)
        if cached is not None:
            return cached
    index = build_index(cached_embeddings(model, statements), exact_below)
    if index.kind == "ivf":
        _save(index, file, meta_file)
    return index
