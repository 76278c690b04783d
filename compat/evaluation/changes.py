"""After a run: what changed. The run's model beside the model that was active before it and the base model,
on the same validation and natural pairs, and the pairs whose verdict flipped (right -> wrong, wrong -> right).

A model's verdict on a pair is "compatible" when its cosine reaches its threshold: the calibration's (the
cosine where the calibrated probability is 50%) when it has one, otherwise the accuracy-best threshold on
the validation pairs (the base model). No gradio here: compat/ui/train_tab.py shows the result."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from compat.pairs import atomic_write, read_pairs
from compat.paths import DATA_DIR

BEFORE_FILE = "before.json"  # in a run dir: {"model": the fine-tuned model active when the run started, or null}
CHANGES_FILE = "changes.json"  # in a run dir: the cached Changes


@dataclass
class Flip:
    """One pair whose verdict differs between the model before and this run's model."""

    set_name: str
    text_1: str
    text_2: str
    label: int
    before: int
    after: int
    pair_id: int | None  # the label store's id, None when the pair is not in the store

    @property
    def direction(self) -> str:
        return "wrong -> right" if self.after == self.label else "right -> wrong"


@dataclass
class Changes:
    """The metrics of each model on each set ({set: {model role: {metric: value}}}) and the flipped pairs."""

    before: str | None
    after: str
    metrics: dict = field(default_factory=dict)
    flips: list[Flip] = field(default_factory=list)


def record_before(run_dir: Path, active: str | None) -> None:
    """Remember, as a run starts, which fine-tuned model was active (what its result is compared with)."""
    atomic_write(Path(run_dir) / BEFORE_FILE, json.dumps({"model": active}))


def model_before(run_dir: Path) -> str | None:
    """The fine-tuned model that was active when the run started (None: none, or not recorded)."""
    try:
        return json.loads((Path(run_dir) / BEFORE_FILE).read_text()).get("model")
    except (OSError, ValueError, AttributeError):
        return None


def comparison_sets(run_dir: Path) -> dict[str, list[dict]]:
    """The pairs every model is measured on: the run's own validation split when it has one (its label
    snapshot), else the shipped one; and the shipped hand-written natural pairs."""
    own = Path(run_dir) / "data" / "validation.jsonl"
    sets = {"validation": own if own.exists() else DATA_DIR / "validation.jsonl",
            "natural": DATA_DIR / "natural_pairs.jsonl"}
    return {name: read_pairs(path).pairs for name, path in sets.items() if path.exists()}


def verdicts(model, pairs: list[dict], validation: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(cosines, 0/1 verdicts) of a model (a name or a CompatModel) on `pairs`."""
    from compat.evaluation.evaluate import embed_pairs, validation_threshold
    from compat.models import load_model

    model = load_model(model) if isinstance(model, str) else model
    sims = embed_pairs(model, pairs).similarities()
    threshold = model.calibration.threshold if model.calibration else validation_threshold(model, validation)
    return sims, (sims >= threshold).astype(int)


def what_changed(run_dir: Path, after: str, before: str | None) -> Changes:
    """Measure base, `before` and `after` on the comparison sets; list the pairs whose verdict flipped
    between `before` (the base model when there was none) and `after`."""
    from compat.evaluation.metrics import roc_auc
    from compat.store.shared import shared_store

    sets = comparison_sets(run_dir)
    validation = sets.get("validation", [])
    models = {"base": "base", "before": before, "this run": after}
    changes = Changes(before, after)
    for set_name, pairs in sets.items():
        labels = np.array([p["label"] for p in pairs])
        said = {}
        changes.metrics[set_name] = {}
        for role, name in models.items():
            if name is None:
                continue
            sims, said[role] = verdicts(name, pairs, validation)
            changes.metrics[set_name][role] = {"auc": roc_auc(sims, labels),
                                               "accuracy": float((said[role] == labels).mean())}
        old = said.get("before", said["base"])
        for i in np.flatnonzero(old != said["this run"]):
            pair = pairs[int(i)]
            found = shared_store().find(pair)
            changes.flips.append(Flip(set_name, pair["text_1"], pair["text_2"], int(pair["label"]), int(old[i]),
                                      int(said["this run"][i]), None if found is None else found.id))
    return changes


def cached_changes(run_dir: Path, after: str) -> Changes:
    """what_changed for a finished run, computed once and kept in the run dir."""
    file = Path(run_dir) / CHANGES_FILE
    if file.exists():
        try:
            data = json.loads(file.read_text())
            return Changes(data["before"], data["after"], data["metrics"], [Flip(**f) for f in data["flips"]])
        except (ValueError, KeyError, TypeError):
            pass  # a file from another version: measure again
    changes = what_changed(run_dir, after, model_before(run_dir))
    atomic_write(file, json.dumps(asdict(changes)))
    return changes
