"""Model soup (`python -m compat soup`): the average of several finished runs' weights, one model at the cost
of one.

Runs of one recipe that differ only in their seed end in different places, and which seed does best differs
from one held-out set to the next (README, "Quality, measured"). Averaging the weights of fine-tunes of one
base keeps what they agree on (Wortsman et al. 2022, "Model soups"). For LoRA runs the average of their
merged updates is itself a LoRA: with every A stacked and every B side by side, each divided by n,

    (1/n) sum_i s B_i A_i = s [B_1/n ... B_n/n] [A_1; ...; A_n],   s = alpha / r,

an adapter of rank n r at alpha n alpha (the same s), merged as any adapter is, onto the NF4 weights the runs
trained with. Full fine-tunes average every weight. Then the end of a run (compat.training.finalize): the
stance gain chosen on validation, the model measured as served, calibrated, files written atomically and
compat_model.json last.

The ingredients must be finished runs of one recipe on one data set, which their own files say (SAME);
their validation must come from a file, so that no ingredient trained on pairs that choose the soup's gain.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from compat.models import MODEL_FILE
from compat.pairs import atomic_write
from compat.training.data import DataError, DataFiles, file_sha256, load_data

# (what, where in compat_model.json / config.json) that every ingredient must share
SAME = (("weights", ("info", "weights")), ("merged_onto", ("info", "merged_onto")),
        ("base", ("info", "base_path")), ("instruction", ("info", "instruction")),
        ("kind", ("info", "training", "kind")), ("quant", ("info", "training", "quant")),
        ("loss", ("info", "training", "loss")), ("LoRA r", ("info", "training", "lora_r")),
        ("LoRA alpha", ("info", "training", "lora_alpha")), ("steps", ("info", "training", "steps")),
        *((f"{split} data", ("config", "data", split, "sha256")) for split in ("train", "validation", "test")))


class SoupError(ValueError):
    """Runs that cannot be averaged, or an output folder that cannot be used; the message names which."""


@dataclass(frozen=True)
class Ingredient:
    """One finished run: its folder, compat_model.json (`info`) and config.json (`config`)."""

    path: Path
    info: dict
    config: dict

    def field(self, where: tuple[str, ...]):
        value = self.info if where[0] == "info" else self.config
        for key in where[1:]:
            value = value.get(key) if isinstance(value, dict) else None
        return value


def read_ingredient(run_dir: str | Path) -> Ingredient:
    """A run folder's records; SoupError unless it is a finished run with its weights."""
    path = Path(run_dir).expanduser().resolve()
    records = {}
    for name in (MODEL_FILE, "config.json"):
        try:
            records[name] = json.loads((path / name).read_text())
        except (OSError, ValueError) as exc:
            raise SoupError(f"{path}: no readable {name} (is it a finished run of `python -m compat train`?): "
                            f"{exc}") from exc
    info = records[MODEL_FILE]
    status = (info.get("training") or {}).get("status")
    if status != "finished":
        raise SoupError(f"{path / MODEL_FILE}: training status is {status!r}; only finished runs are averaged")
    weights = path / ("model" if info.get("weights") == "model" else "adapter")
    if not any(weights.glob("*.safetensors")):
        raise SoupError(f"{weights}: no .safetensors weights")
    return Ingredient(path, info, records["config.json"])


def check_ingredients(runs: list[Ingredient]) -> None:
    """SoupError naming the first run and field that differ from the first run's, or a validation set that
    did not come from a file."""
    if len(runs) < 2:
        raise SoupError("a soup needs at least two runs")
    if len({r.path for r in runs}) < len(runs):
        raise SoupError("a run is named twice")
    first = runs[0]
    for run in runs[1:]:
        for what, value in [*((what, lambda r, w=where: r.field(w)) for what, where in SAME),
                            ("extra test data", extra_data), ("stance groups", stance_groups)]:
            if value(run) != value(first):
                raise SoupError(f"{run.path} differs from {first.path} in its {what}: "
                                f"{value(run)!r} against {value(first)!r}")
    source = first.field(("config", "data", "validation", "source"))
    if source != "file":
        raise SoupError(f"{first.path}: its validation pairs were not a file of their own ({source!r}): split off "
                        "the training data, they differ from seed to seed, so one run's validation pairs are "
                        "another's training pairs; train with a validation file (--validation, or "
                        "validation.jsonl in --data)")


def extra_data(run: Ingredient) -> dict:
    """{name: sha256} of the extra test files the run was measured on."""
    return {name: (entry or {}).get("sha256") for name, entry in (run.field(("config", "data", "extra")) or {}).items()}


def stance_groups(run: Ingredient):
    """The groups file's sha256; for groups a run generated itself (with its seed, as it draws its batches
    with it), only that they were generated and how many."""
    groups = run.field(("config", "data", "groups")) or {}
    return groups.get("sha256") if groups.get("source") == "file" else (groups.get("source"), groups.get("groups"))


def seeds_of(run: Ingredient):
    """A run's seed; for a run that is itself a soup, the list of its runs' seeds."""
    training = run.info.get("training") or {}
    return training.get("seed") if training.get("seed") is not None else training.get("soup")


def recorded_data(run: Ingredient) -> DataFiles:
    """The data files `run` trained and was measured on, as its config.json records them, unchanged since
    (sha256); DataError names a file that moved or changed."""
    from compat.paths import REPO_ROOT

    data = run.config.get("data") or {}

    def located(entry: dict | None, what: str) -> Path | None:
        if not entry or not entry.get("path"):
            return None
        path = Path(entry["path"])
        path = path if path.is_absolute() else Path(REPO_ROOT) / path
        if not path.is_file() or file_sha256(path) != entry.get("sha256"):
            raise DataError(f"{run.path / 'config.json'}: the {what} file {path} is missing or no longer the "
                            "one the run used (sha256 differs)")
        return path

    extra = data.get("extra") or {}
    return DataFiles(train=located(data.get("train"), "train"),
                     validation=located(data.get("validation"), "validation"), test=located(data.get("test"), "test"),
                     extra=tuple(located(entry, f"extra test {name}") for name, entry in extra.items()),
                     groups=located(data.get("groups"), "stance groups"))


def average_adapters(runs: list[Ingredient], folder: Path) -> None:
    """The adapter whose merged update is the mean of the runs' (module docstring), written into `folder`."""
    import torch
    from safetensors.torch import load_file, save_file

    config = json.loads((runs[0].path / "adapter" / "adapter_config.json").read_text())  # same modules: checked below
    if config.get("use_dora") or config.get("use_rslora") or config.get("rank_pattern") or config.get("alpha_pattern"):
        raise SoupError(f"{runs[0].path / 'adapter'}: DoRA, rsLoRA and per-module ranks are not averaged")
    tensors = [load_file(str(r.path / "adapter" / "adapter_model.safetensors")) for r in runs]
    if any(t.keys() != tensors[0].keys() for t in tensors):
        raise SoupError("the runs' adapters hold different modules")
    n, out = len(runs), {}
    for key in tensors[0]:
        if ".lora_A." in key:
            out[key] = torch.cat([t[key] for t in tensors], dim=0)
        elif ".lora_B." in key:
            out[key] = torch.cat([t[key] / n for t in tensors], dim=1)
        else:
            raise SoupError(f"adapter weight {key}: only LoRA A and B matrices are averaged")
    save_file(out, str(folder / "adapter_model.safetensors"), metadata={"format": "pt"})
    config.update(r=config["r"] * n, lora_alpha=config["lora_alpha"] * n)
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")


def average_full(runs: list[Ingredient], folder: Path) -> None:
    """The runs' full models with every weight averaged, written into `folder` (the first run's other files)."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(runs[0].path / "model", folder, dirs_exist_ok=True)
    for weights in sorted((runs[0].path / "model").glob("*.safetensors")):
        tensors = [load_file(str(r.path / "model" / weights.name)) for r in runs]
        if any(t.keys() != tensors[0].keys() for t in tensors):
            raise SoupError(f"{weights.name}: the runs' models hold different weights")
        mean = {k: (sum(t[k].double() for t in tensors) / len(tensors)).to(tensors[0][k].dtype) for k in tensors[0]}
        save_file(mean, str(folder / weights.name), metadata={"format": "pt"})


def write_weights(runs: list[Ingredient], out: Path) -> Path:
    """The averaged weights in out/adapter or out/model, appearing at once."""
    from compat.training.finalize import write_folder

    if runs[0].info.get("weights") == "model":
        return write_folder(out / "model", lambda tmp: average_full(runs, tmp))
    return write_folder(out / "adapter", lambda tmp: average_adapters(runs, tmp))


def make_soup(run_dirs: list[str | Path], out: str | Path, force: bool = False, stance_gain: bool = True) -> dict:
    """Average `run_dirs` into the model folder `out` (module docstring); returns its metrics.json record."""
    from compat.training.run import RunDirError, prepare_run_dir, write_status

    runs = [read_ingredient(r) for r in run_dirs]
    check_ingredients(runs)
    data = load_data(recorded_data(runs[0]))
    if Path(out).expanduser().resolve() in {r.path for r in runs}:  # before --force would clear it
        raise SoupError(f"--out {out}: is one of the runs averaged; choose another folder")
    try:
        folder, _ = prepare_run_dir(str(out), force)
    except RunDirError as exc:
        raise SoupError(str(exc)) from exc
    started = time.time()
    write_status(folder, "running", started)
    try:
        command = ["compat", "soup", *map(str, run_dirs), "--out", str(out)]  # as given: no one's checkout path
        record = _cook(runs, data, folder, command, stance_gain)
    except BaseException as exc:
        write_status(folder, "failed", started, f"{type(exc).__name__}: {exc}")
        raise
    write_status(folder, "finished", started)
    atomic_write(folder / MODEL_FILE, json.dumps(record.pop("model record"), indent=1) + "\n")  # last: a model now
    return record


def _cook(runs: list[Ingredient], data, folder: Path, command: list[str], stance_gain: bool) -> dict:
    """Weights, then measurement, config.json and metrics.json; the compat_model.json record is returned
    under "model record" for make_soup to write last."""
    from compat.training.data import shown_path
    from compat.training.finalize import gain_and_measure, headline, load_saved

    write_weights(runs, folder)
    info = runs[0].info
    model = load_saved(folder, info["training"]["kind"], info.get("instruction"), info.get("base_path"),
                       info["training"]["quant"])
    metrics, calibration, gain, candidates = gain_and_measure(model, data, info.get("base_path"), stance_gain)
    ingredients = [{"run": shown_path(r.path), "seed": seeds_of(r), "metrics": r.info.get("metrics")} for r in runs]
    record = {"status": "finished", "steps": info["training"]["steps"], "train_loss": None,
              "calibration": calibration, "validation_source": data.validation_source,
              "stance_gain": {"chosen": gain.gain if gain else None, "candidates": candidates},
              "soup": ingredients, **metrics}
    config = {**runs[0].config, "run_id": folder.name, "soup": ingredients, "seed": None,
              "settings": {**(runs[0].config.get("settings") or {}), "seed": None, "out": shown_path(folder)},
              "command": command, "created": time.time()}
    r, alpha, n = info["training"].get("lora_r"), info["training"].get("lora_alpha"), len(runs)
    training = {**info["training"], "seed": None, "soup": [i["seed"] for i in ingredients],
                "lora_r": r * n if r else r, "lora_alpha": alpha * n if alpha else alpha}
    atomic_write(folder / "config.json", json.dumps(config, indent=1) + "\n")
    atomic_write(folder / "metrics.json", json.dumps(record, indent=1) + "\n")
    return {**record, "model record": {**info, "calibration": calibration, "training": training,
                                       "stance_gain": gain.to_json() if gain else None, "metrics": headline(metrics),
                                       "created": time.time()}}
