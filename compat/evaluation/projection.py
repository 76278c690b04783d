"""The 2-D UMAP layout of statement embeddings, cached like the embeddings themselves
(compat.evaluation.embeddings) by (model identity, data hash, UMAP parameters).

Cache layout under compat.paths.cache_dir():
  embeddings/<model-id>-<data-hash>.npy            float32 (n, dim), L2-normalised, rows in input order
  projections/<model-id>-<data-hash>-<params>.npy  float32 (n, 2)
umap (and numba) are imported only when a projection has to be computed; numba's compilation cache is
kept under COMPAT_HOME so the second start is quick.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from compat.evaluation.embeddings import (
    cached_array,
    cached_embeddings,
    data_hash,
    distinct_statements,
    is_cached,
    keep_array,
    model_identity,
)
from compat.paths import compat_home

UMAP_DEFAULTS = {"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine", "seed": 42}
MIN_UMAP_POINTS = 6  # below this UMAP's spectral layout fails; a PCA projection is used instead


def _params_tag(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]


def import_umap():
    """umap, imported with numba's on-disk cache under COMPAT_HOME and switched on for all its functions.

    umap-learn compiles many functions without `cache=True` (fuzzy_simplicial_set's helpers among
    them): measured here, that recompiles ~30 s in every new process. Enabling numba's cache on those
    dispatchers makes the first fit of a warm process take 0.3 s instead.
    """
    os.environ.setdefault("NUMBA_CACHE_DIR", str(compat_home() / "numba"))
    import umap  # noqa: PLC0415  (slow: ~6 s warm, over a minute on a cold numba cache)

    _enable_numba_caching(("umap", "pynndescent"))
    return umap


def _enable_numba_caching(packages: tuple[str, ...]) -> None:
    import sys

    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in packages:
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, Dispatcher) and isinstance(obj._cache, NullCache):
                try:
                    obj.enable_caching()
                except RuntimeError:  # e.g. no locatable source file: it just stays uncached
                    pass


def pca_2d(embeddings: np.ndarray) -> np.ndarray:
    """The first two principal components (zero-padded when there are fewer)."""
    x = np.asarray(embeddings, dtype=np.float64)
    x = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    out = np.zeros((x.shape[0], 2))
    m = min(2, s.size)
    out[:, :m] = u[:, :m] * s[:m]
    return out.astype(np.float32)


def umap_2d(embeddings: np.ndarray, n_neighbors: int = 15, min_dist: float = 0.1,
            metric: str = "cosine", seed: int = 42) -> np.ndarray:
    """A 2-D UMAP layout of `embeddings` (float32, (n, 2)); deterministic for a seed.

    Fewer than MIN_UMAP_POINTS points get a PCA layout instead (UMAP's spectral start fails there).
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if x.shape[0] < MIN_UMAP_POINTS:
        return pca_2d(x)
    umap = import_umap()
    reducer = umap.UMAP(
        n_components=2, n_neighbors=min(n_neighbors, x.shape[0] - 1), min_dist=min_dist,
        metric=metric, random_state=seed, n_jobs=1,  # a fixed seed makes umap single-threaded anyway
    )
    return np.asarray(reducer.fit_transform(x), dtype=np.float32)


def _projection_key(model, statements: Sequence[str], params: dict) -> str:
    return f"{model_identity(model)}-{data_hash(statements)}-{_params_tag({**UMAP_DEFAULTS, **params})}"


def is_cached_projection(model, statements: Sequence[str], **params) -> bool:
    return is_cached("projections", _projection_key(model, statements, params))


def cached_projection(model, statements: Sequence[str], **params) -> np.ndarray:
    """The 2-D UMAP layout of the statements' embeddings under `model`, computed once and kept on disk.

    `params` override UMAP_DEFAULTS (n_neighbors, min_dist, metric, seed).
    """
    key = _projection_key(model, statements, params)
    found = cached_array("projections", key)
    if found is not None and found.shape[0] == len(statements):
        return found
    xy = umap_2d(cached_embeddings(model, statements), **{**UMAP_DEFAULTS, **params})
    return keep_array("projections", key, xy)


def warm_cache(model, statements: Sequence[str], projection: bool = True) -> None:
    """Compute and store embeddings (and the UMAP layout) ahead of time, e.g. after a training run."""
    cached_embeddings(model, statements)
    if projection:
        cached_projection(model, statements)


def warm_pair_files(model, pair_files: Sequence[str | os.PathLike], projection: bool = True) -> None:
    """warm_cache for the statements the Explore tab and `evaluate` will embed for each pair file."""
    from compat.pairs import load_pairs

    for file in pair_files:
        if Path(file).exists():
            warm_cache(model, distinct_statements(load_pairs(file))[0], projection)


def warm_cache_in_background(model_name: str, pair_files: Sequence[str | os.PathLike]) -> threading.Thread:
    """warm_pair_files in a daemon thread, e.g. for a run that just finished (so its first Explore view
    is quick); errors are printed, never raised: this is only a speed-up."""

    def work() -> None:
        try:
            warm_pair_files(model_name, list(pair_files))
        except Exception as exc:  # noqa: BLE001
            print(f"compat: could not precompute embeddings/projections for {model_name!r}: {exc}")

    thread = threading.Thread(target=work, daemon=True, name="compat-projection")
    thread.start()
    return thread
