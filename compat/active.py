"""Which fine-tuned model the app uses ("Use this model"), kept in COMPAT_HOME so every tab, every
browser session and a restarted app agree."""

from __future__ import annotations

import json

from compat.models import ModelNotFound, default_available, resolve
from compat.pairs import atomic_write
from compat.paths import compat_home

ACTIVE_FILE = "active_model.json"


def active_finetuned() -> str | None:
    """The chosen fine-tuned model's name, else the shipped `default` if it exists, else None."""
    file = compat_home() / ACTIVE_FILE
    if file.exists():
        try:
            name = json.loads(file.read_text())["model"]
            resolve(name)
            return name
        except (ValueError, KeyError, ModelNotFound):
            pass  # the chosen run was deleted or is broken: fall back rather than fail the app
    return "default" if default_available() else None


def set_active(name: str) -> str:
    """Make `name` the fine-tuned model used by Score and Explore; raises ModelNotFound if unusable."""
    path = resolve(name)
    if path is None:
        raise ModelNotFound("`base` is not a fine-tuned model")
    chosen = "default" if name == "default" else str(path)
    atomic_write(compat_home() / ACTIVE_FILE, json.dumps({"model": chosen}))
    return chosen
