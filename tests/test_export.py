"""export-model: a standalone sentence-transformers folder, its calibration and its model card.

Everything runs on the shipped model (assets/models/default); the round trip loads the export in a
fresh interpreter that cannot import compat, so the folder stands on its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from compat.paths import DEFAULT_MODEL_DIR

STATEMENTS = ["I'd never date a smoker", "I smoke a pack a day", "Weekends are pajamas and a good novel",
              "I'd rather stay in than go clubbing", "Kids are a hard no for me"]

pytestmark = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "compat_model.json").exists(),
                                reason="no shipped default model (run `make model`)")

# Runs in a clean interpreter that stands for a machine without compat: `make` installs compat into the
# venv (editable), so an import hook refuses it before anything is imported; only sentence-transformers
# (and numpy) load the folder.
PLAIN_LOADER = """
import importlib.abc, json, sys

class NoCompat(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "compat":
            raise ModuleNotFoundError(f"No module named {name!r} (compat is not installed here)", name=name)
        return None

sys.meta_path.insert(0, NoCompat())
try:
    import compat  # noqa: F401
    raise AssertionError("compat must not be importable here")
except ModuleNotFoundError:
    pass
import numpy as np
from sentence_transformers import SentenceTransformer
folder, texts, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
model = SentenceTransformer(folder, device="cpu", local_files_only=True)
np.save(out, model.encode(texts, normalize_embeddings=True, convert_to_numpy=True))
print(json.dumps({"default_prompt_name": model.default_prompt_name, "prompts": model.prompts,
                  "imported": sorted(m for m in sys.modules if m.split(".")[0] == "compat")}))
"""


def _plain_embeddings(folder: Path, tmp: Path) -> tuple[np.ndarray, dict]:
    out = tmp / f"{folder.name}.npy"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))
    done = subprocess.run([sys.executable, "-c", PLAIN_LOADER, str(folder), json.dumps(STATEMENTS), str(out)],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(out), json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from compat.export import export_model

    return export_model("default", tmp_path_factory.mktemp("export") / "default-export")


@pytest.mark.slow
def test_export_loads_with_plain_sentence_transformers(exported, tmp_path):
    from compat.models import load_model

    ours = load_model("default").embed(STATEMENTS)
    plain, seen = _plain_embeddings(exported, tmp_path)
    assert seen["imported"] == []
    assert np.abs(plain - ours).max() < 1e-5
    assert not (exported / "adapter").exists() and (exported / "model.safetensors").exists()
    assert not list(exported.parent.glob(".*tmp")), "the temporary folder is gone after the rename"


@pytest.mark.slow
def test_instruction_becomes_the_default_prompt(tmp_path):
    """A run trained with an instruction: the export applies it by itself, as compat does."""
    from compat.export import export_model
    from compat.models import load_model
    from compat.text import DEFAULT_INSTRUCTION

    run = tmp_path / "with-instruction"
    shutil.copytree(DEFAULT_MODEL_DIR, run)
    info = json.loads((run / "compat_model.json").read_text())
    (run / "compat_model.json").write_text(json.dumps({**info, "instruction": DEFAULT_INSTRUCTION}))
    out = export_model(str(run), tmp_path / "export")
    plain, seen = _plain_embeddings(out, tmp_path)
    assert seen["prompts"][seen["default_prompt_name"]] == DEFAULT_INSTRUCTION
    ours = load_model(str(run)).embed(STATEMENTS)
    assert np.abs(plain - ours).max() < 1e-5
    without = load_model("default").embed(STATEMENTS)
    assert np.abs(plain - without).max() > 1e-3  # the prompt really changes the embeddings


@pytest.mark.slow
def test_calibration_travels_with_the_export(exported):
    from compat.export import CALIBRATION_FILE
    from compat.scoring import score

    run_cal = json.loads((DEFAULT_MODEL_DIR / "compat_model.json").read_text())["calibration"]
    cal = json.loads((exported / CALIBRATION_FILE).read_text())
    assert (cal["threshold"], cal["scale"]) == (run_cal["threshold"], run_cal["scale"])
    ours, theirs = score(*STATEMENTS[:2], "default"), score(*STATEMENTS[:2], str(exported))
    assert theirs.probability == pytest.approx(ours.probability, abs=1e-5)
    assert theirs.cosine == pytest.approx(ours.cosine, abs=1e-5)


@pytest.mark.slow
def test_card_lists_the_runs_figures(exported):
    card = (exported / "README.md").read_text()
    assert card.startswith("---\n")
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["library_name"] == "sentence-transformers"
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    metrics = json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text())
    sets = [name for name, block in metrics.items() if isinstance(block, dict) and "fine_tuned" in block]
    assert {"validation", "test"} <= set(sets)
    for name in sets:
        for who in ("fine_tuned", "base"):
            m = metrics[name][who]
            row = next(line for line in card.splitlines()
                       if line.startswith(f"| {name} | {m['n']} | {'this model' if who == 'fine_tuned' else 'base'} |"))
            for key in ("auc", "cohen_d", "accuracy", "f1", "recall_at_5"):
                assert f"{m[key]:.3f}" in row, (name, who, key)
    config = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())
    assert config["data"]["train"]["sha256"][:16] in card
    assert "generator 2" in card and "seed 0" in card  # from data/metadata.json, matched by the train file's hash
    assert "Limits" in card and "Intended use" in card
    info = json.loads((DEFAULT_MODEL_DIR / "compat_model.json").read_text())
    gain = info["stance_gain"]  # compat.stance_gain
    assert (f"stance gain of {gain['gain']:g}" in card) if gain else "stance gain" not in card
    seeds = info["training"].get("soup")  # a soup (compat soup) names the runs it averages
    assert (f"the mean of {len(seeds)} runs of this recipe, seeds {', '.join(map(str, seeds))}" in card) if seeds \
        else "weights averaged" not in card


def test_refuses_a_non_empty_folder_and_names_it(tmp_path):
    from compat.export import ExportError, export_model

    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty.*--force"):
        export_model("default", out)
    assert (out / "keep.txt").read_text() == "mine"
    with pytest.raises(ExportError, match="overlaps"):
        export_model("default", DEFAULT_MODEL_DIR / "export", force=True)


def test_cli_names_a_missing_model(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "compat", "export-model", "--model", str(tmp_path / "nope"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).parent.parent, timeout=120)
    assert done.returncode == 2
    assert "nope" in done.stderr and "no such directory" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_force_replaces_an_export(exported, tmp_path):
    from compat.export import export_model

    out = tmp_path / "again"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    export_model("base", out, force=True)
    assert not (out / "stale.txt").exists() and (out / "modules.json").exists()
    assert "not fine-tuned" in (out / "README.md").read_text()


@pytest.mark.slow
def test_train_tab_downloads_a_finished_run(compat_home):
    """The Train tab's Download model: a zip of the export, made once per version of the run's model."""
    import zipfile

    from compat.paths import runs_dir
    from compat.ui.train_tab import download_model

    run_id = "20260101-000000-abcd"
    shutil.copytree(DEFAULT_MODEL_DIR, runs_dir() / run_id)
    path, message = download_model(run_id)
    assert path and "exported" in message, message
    names = zipfile.ZipFile(path).namelist()
    assert {f"{run_id}/README.md", f"{run_id}/model.safetensors", f"{run_id}/compat_calibration.json"} <= set(names)
    first = Path(path).stat().st_mtime_ns
    again, _ = download_model(run_id)
    assert again == path and Path(again).stat().st_mtime_ns == first  # not exported or zipped twice
    missing, message = download_model("no-such-run")
    assert missing is None and "no-such-run" in message
