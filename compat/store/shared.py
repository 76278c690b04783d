"""The label store this process shares: the app's tabs and API, the runner's label snapshot and the
`import` / `export` commands all reach COMPAT_HOME/labels.db through `shared_store()`."""

from __future__ import annotations

import threading

from compat.paths import labels_db
from compat.store.labels import LabelStore

_stores: dict[str, LabelStore] = {}
_lock = threading.Lock()


def shared_store() -> LabelStore:
    """The label store at COMPAT_HOME/labels.db, filled from the shipped data set when it is first opened.

    One LabelStore per database path in this process (its connections are per thread), so a COMPAT_HOME
    that changes, as it does between tests, gets its own. Raises PairFileError if the shipped data set is
    broken."""
    key = str(labels_db())
    with _lock:
        if key not in _stores:
            opened = LabelStore(key)
            opened.ensure_seeded()
            _stores[key] = opened
        return _stores[key]
