"""Statement embeddings and their 2-D UMAP projection, cached on disk by (model identity, data hash).

Cache layout under compat.paths.cache_dir():
  embeddings/<model-id>-<data-hash>.npy            float32 (n, dim), L2-normalised, rows in input order
  projections/<model-id>-<data-hash>-<params>.npy  float32 (n, 2)
The model identity is a hash of the model's directory and the size and mtime of the files that define
its weights and prompt, so retraining into the same directory invalidates the cache; the data hash is
a hash of the cleaned statements in order. umap (and numba) are imported only when a projection has to
be computed; numba's compilation cache is kept under COMPAT_HOME so the second start is quick.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np

from compat.paths import cache_dir, compat_home
from compat.text import clean_statement

# Files whose change means different embeddings (weights, adapter, prompt, pooling).
IDENTITY_FILES = (
    "compat_model.json", "adapter/adapter_model.safetensors", "adapter/adapter_config.json",
    "modules.json", "model.safetensors", "config_sentence_transformers.json", "1_Pooling/config.json",
)
UMAP_DEFAULTS = {"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine", "seed": 42}
MIN_UMAP_POINTS = 6  # below this UMAP's spectral layout fails; a PCA projection is used instead

_memory: OrderedDict[str, np.ndarray] = OrderedDict()  # in-process cache, newest last
_MEMORY_ITEMS = 16
_lock = threading.Lock()


def model_identity(model) -> str:
    """A short stable id of a model (a CompatModel or a name): what its embeddings depend on."""
    from compat.models import base_model_path, resolve

    path = resolve(model) if isinstance(model, str) else model.path
    if path is None:
        parts = ["base", base_model_path()]
    else:
        parts = [str(Path(path).resolve())]
        folder = Path(path)
        if folder.is_file():  # an exported ONNX file: its own bytes, then its folder's prompt and pooling
            from compat.export.onnx_runtime import export_folder_of

            st = folder.stat()
            parts.append(f"{folder.name}:{st.st_size}:{st.st_mtime_ns}")
            folder = export_folder_of(folder)
        for name in IDENTITY_FILES:
            file = folder / name
            if file.exists():
                st = file.stat()
                parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def data_hash(statements: Sequence[str]) -> str:
    """A short hash of the statements as they are embedded (prefix parsed off), in order."""
    h = hashlib.sha256()
    for s in statements:
        h.update(clean_statement(s).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def _remember(key: str, value: np.ndarray) -> np.ndarray:
    with _lock:
        _memory[key] = value
        _memory.move_to_end(key)
        while len(_memory) > _MEMORY_ITEMS:
            _memory.popitem(last=False)
    return value


def _recall(key: str, file: Path) -> np.ndarray | None:
    with _lock:
        if key in _memory:
            _memory.move_to_end(key)
            return _memory[key]
    if file.exists():
        try:
            return _remember(key, np.load(file, allow_pickle=False))
        except (OSError, ValueError):
            file.unlink(missing_ok=True)  # a damaged cache entry is recomputed, not trusted
    return None


def _save(file: Path, array: np.ndarray) -> None:
    """Write atomically: a reader sees the old file, no file, or the complete new one."""
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
    os.replace(tmp, file)


def is_cached_embeddings(model, statements: Sequence[str]) -> bool:
    key = f"{model_identity(model)}-{data_hash(statements)}"
    return key in _memory or (cache_dir() / "embeddings" / f"{key}.npy").exists()


def cached_embeddings(model, statements: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised embeddings of `statements` (rows in order), computed once per (model, data).

    `model` is a CompatModel or a name; a name is only loaded when the embeddings are not cached.
    """
    if len(statements) == 0:
        raise ValueError("no statements to embed")
    key = f"{model_identity(model)}-{data_hash(statements)}"
    file = cache_dir() / "embeddings" / f"{key}.npy"
    found = _recall(key, file)
    if found is not None and found.shape[0] == len(statements):
        return found
    if isinstance(model, str):
        from compat.models import load_model

        model = load_model(model)
    emb = np.asarray(model.embed(list(statements), batch_size=batch_size), dtype=np.float32)
    _save(file, emb)
    return _remember(key, emb)


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


def is_cached_projection(model, statements: Sequence[str], **params) -> bool:
    p = {**UMAP_DEFAULTS, **params}
    key = f"{model_identity(model)}-{data_hash(statements)}-{_params_tag(p)}"
    return key in _memory or (cache_dir() / "projections" / f"{key}.npy").exists()


def cached_projection(model, statements: Sequence[str], **params) -> np.ndarray:
    """The 2-D UMAP layout of the statements' embeddings under `model`, computed once and kept on disk.

    `params` override UMAP_DEFAULTS (n_neighbors, min_dist, metric, seed).
    """
    p = {**UMAP_DEFAULTS, **params}
    key = f"{model_identity(model)}-{data_hash(statements)}-{_params_tag(p)}"
    file = cache_dir() / "projections" / f"{key}.npy"
    found = _recall(key, file)
    if found is not None and found.shape[0] == len(statements):
        return found
    xy = umap_2d(cached_embeddings(model, statements), **p)
    _save(file, xy)
    return _remember(key, xy)


def warm_cache(model, statements: Sequence[str], projection: bool = True) -> None:
    """Compute and store embeddings (and the UMAP layout) ahead of time, e.g. after a training run."""
    cached_embeddings(model, statements)
    if projection:
        cached_projection(model, statements)


def warm_pair_files(model, pair_files: Sequence[str | os.PathLike], projection: bool = True) -> None:
    """warm_cache for the statements the Explore tab and `evaluate` will embed for each pair file."""
    from compat.evaluation import distinct_statements
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
