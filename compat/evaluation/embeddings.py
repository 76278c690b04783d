"""Statement embeddings, computed once per model and data, for evaluation, projection, matching and the
review queue.

Every cache here is keyed by what embeddings depend on: the model's identity (its directory and the size
and mtime of the files that define its weights and prompt, so retraining into the same directory starts
afresh; never the Python object, whose id can be reused once it is freed) and the statements as they are
embedded (speaker prefix parsed off).

  cached_embeddings        a whole list of statements: kept on disk under cache_dir()/embeddings/ and the
                           newest few lists in memory, so the same data set asked again costs nothing
  embeddings_by_statement  statement by statement, in memory, for a set that changes a little between calls
                           (the review queue after a few relabels, or another filter): only new ones are embedded
cached_array / keep_array store any array the same way (compat.evaluation.projection keeps its UMAP layouts so).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from compat.paths import cache_dir
from compat.text import clean_statement

# Files whose change means different embeddings (weights, adapter, prompt, pooling).
IDENTITY_FILES = (
    "compat_model.json", "adapter/adapter_model.safetensors", "adapter/adapter_config.json",
    "modules.json", "model.safetensors", "config_sentence_transformers.json", "1_Pooling/config.json",
)
MEMORY_ARRAYS = 16  # whole arrays (embeddings of a list, projections) kept in memory, newest last
STATEMENTS_PER_MODEL = 60_000  # embeddings_by_statement: beyond this the model's statements start over
BATCH = 256  # statements per progress step of embeddings_by_statement

_memory: OrderedDict[str, np.ndarray] = OrderedDict()
_by_statement: dict[str, dict[str, np.ndarray]] = {}  # model identity -> cleaned statement -> embedding
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


def distinct_statements(pairs: Sequence[dict]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(distinct cleaned statements, index of each pair's text_1, index of each pair's text_2)."""
    position: dict[str, int] = {}
    idx = np.empty((2, len(pairs)), dtype=np.int64)
    for i, pair in enumerate(pairs):
        for side, key in enumerate(("text_1", "text_2")):
            text = clean_statement(pair[key], field=f"pair {i} field {key!r}")
            idx[side, i] = position.setdefault(text, len(position))
    return list(position), idx[0], idx[1]


# -- arrays on disk and in memory -------------------------------------------------------------------

def _file(kind: str, key: str) -> Path:
    return cache_dir() / kind / f"{key}.npy"


def _remember(name: str, array: np.ndarray) -> np.ndarray:
    with _lock:
        _memory[name] = array
        _memory.move_to_end(name)
        while len(_memory) > MEMORY_ARRAYS:
            _memory.popitem(last=False)
    return array


def is_cached(kind: str, key: str) -> bool:
    """Whether cached_array(kind, key) would find an array, without reading it."""
    return f"{kind}/{key}" in _memory or _file(kind, key).exists()


def cached_array(kind: str, key: str) -> np.ndarray | None:
    """The array kept under (kind, key): from memory, else from disk; None when there is none (a damaged
    file is removed, to be computed again, never trusted)."""
    name = f"{kind}/{key}"
    with _lock:
        if name in _memory:
            _memory.move_to_end(name)
            return _memory[name]
    file = _file(kind, key)
    if file.exists():
        try:
            return _remember(name, np.load(file, allow_pickle=False))
        except (OSError, ValueError):
            file.unlink(missing_ok=True)
    return None


def keep_array(kind: str, key: str, array: np.ndarray) -> np.ndarray:
    """Keep `array` under (kind, key) in memory and on disk; returns it. The file is written atomically:
    a reader sees the old file, no file, or the complete new one."""
    file = _file(kind, key)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
    os.replace(tmp, file)
    return _remember(f"{kind}/{key}", array)


# -- embeddings -------------------------------------------------------------------------------------

def _embeddings_key(model, statements: Sequence[str]) -> str:
    return f"{model_identity(model)}-{data_hash(statements)}"


def is_cached_embeddings(model, statements: Sequence[str]) -> bool:
    return is_cached("embeddings", _embeddings_key(model, statements))


def _loaded(model):
    """A CompatModel for `model` (a CompatModel or a name)."""
    if isinstance(model, str):
        from compat.models import load_model

        return load_model(model)
    return model


def cached_embeddings(model, statements: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised embeddings of `statements` (rows in order), computed once per (model, data).

    `model` is a CompatModel or a name; a name is only loaded when the embeddings are not cached.
    """
    if len(statements) == 0:
        raise ValueError("no statements to embed")
    key = _embeddings_key(model, statements)
    found = cached_array("embeddings", key)
    if found is not None and found.shape[0] == len(statements):
        return found
    emb = np.asarray(_loaded(model).embed(list(statements), batch_size=batch_size), dtype=np.float32)
    return keep_array("embeddings", key, emb)


def embeddings_by_statement(model, statements: Sequence[str],
                            progress: Callable | None = None) -> dict[str, np.ndarray]:
    """The embedding of each of `statements` under `model` (a CompatModel or a name), by cleaned statement,
    embedding only those not seen before. One model is kept at a time, at most STATEMENTS_PER_MODEL
    statements. `progress(fraction, desc=...)` is called before each batch (a gradio Progress fits)."""
    identity = model_identity(model)
    with _lock:
        known = _by_statement.get(identity)
        if known is None or len(known) > STATEMENTS_PER_MODEL:
            _by_statement.clear()
            known = _by_statement[identity] = {}
    todo = sorted({clean_statement(s) for s in statements} - known.keys())
    if todo:
        loaded = _loaded(model)
        for start in range(0, len(todo), BATCH):
            if progress is not None:
                progress(start / len(todo), desc=f"embedding {len(todo):,} statements")
            batch = todo[start:start + BATCH]
            vectors = np.asarray(loaded.embed(batch), dtype=np.float32)
            with _lock:
                known.update(zip(batch, vectors))
    return known
