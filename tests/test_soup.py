"""`python -m compat soup`: tiny real runs of two seeds averaged into one model (compat.training.soup)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from test_training import data_dir, tiny_config  # noqa: F401  (data_dir is a fixture)

pytestmark = pytest.mark.slow


def merged_linears(run_dir: Path) -> dict[str, torch.Tensor]:
    """Every linear weight of a run's model as served (a LoRA merged onto the NF4 weights it trained with)."""
    from compat.models import MODEL_FILE
    from compat.training.finalize import load_saved

    info = json.loads((run_dir / MODEL_FILE).read_text())
    model = load_saved(run_dir, info["training"]["kind"], info.get("instruction"), None, info["training"]["quant"])
    return {k: v.detach().clone() for k, v in model.encoder[0].auto_model.named_parameters()
            if k.endswith(".weight") and v.dim() == 2}


def train_seeds(data_dir: Path, root: Path, seeds: tuple[int, ...], **changes) -> list[Path]:  # noqa: F811
    from compat.training.run import train

    return [train(tiny_config(data_dir, root / f"seed{s}", seed=s, **changes), echo=False).run_dir for s in seeds]


@pytest.fixture(scope="module")
def two_seeds(data_dir, tmp_path_factory) -> list[Path]:  # noqa: F811
    """Two finished 10-step 4-bit LoRA runs that differ only in their seed."""
    return train_seeds(data_dir, tmp_path_factory.mktemp("seeds"), (7, 8), max_steps=10)


def test_a_soup_of_two_lora_seeds_serves_their_average_and_is_a_usable_model(two_seeds, tmp_path, capsys):
    from compat.cli import main
    from compat.models import load_model

    out = tmp_path / "soup"
    assert main(["soup", *map(str, two_seeds), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "averaged 2 runs (seeds 7, 8)" in printed and "validation   AUC" in printed

    first, second, soup = (merged_linears(p) for p in (*two_seeds, out))
    assert soup.keys() == first.keys() and len(soup) > 30
    moved = max(float((first[k] - second[k]).abs().max()) for k in soup)
    assert moved > 1e-4  # the seeds did land apart, so the average means something
    for key in soup:  # the stacked adapter merges to exactly the mean of the two served models
        torch.testing.assert_close(soup[key], (first[key] + second[key]) / 2, atol=2e-6, rtol=0)

    info = json.loads((out / "compat_model.json").read_text())
    assert info["training"]["soup"] == [7, 8] and info["training"]["seed"] is None
    assert (info["training"]["lora_r"], info["training"]["lora_alpha"]) == (16, 32)
    assert json.loads((out / "status.json").read_text())["status"] == "finished"
    metrics = json.loads((out / "metrics.json").read_text())
    assert [i["seed"] for i in metrics["soup"]] == [7, 8] and 0 <= metrics["validation"]["fine_tuned"]["auc"] <= 1
    config = json.loads((out / "config.json").read_text())
    assert config["command"][:2] == ["compat", "soup"] and config["settings"]["loss"] == "cosent+supcon"
    model = load_model(str(out))
    assert model.instruction == info["instruction"] and model.embed(["I love hiking"]).shape == (1, 384)


def edited_copy(run: Path, tmp_path: Path, name: str, file: str, edit) -> Path:
    """A copy of `run` whose `file` (a JSON record) `edit` has changed in place."""
    copy = tmp_path / name
    shutil.copytree(run, copy)
    record = json.loads((copy / file).read_text())
    edit(record)
    (copy / file).write_text(json.dumps(record))
    return copy


def test_soup_refuses_what_it_cannot_average_and_names_it(two_seeds, tmp_path, capsys):
    from compat.cli import main
    from compat.training.data import DataError
    from compat.training.soup import SoupError, make_soup

    a, b = two_seeds
    other_loss = edited_copy(b, tmp_path, "loss", "compat_model.json",
                             lambda r: r["training"].update(loss="cosent"))
    stopped = edited_copy(b, tmp_path, "stopped", "compat_model.json",
                          lambda r: r["training"].update(status="stopped"))
    split = edited_copy(b, tmp_path, "split", "config.json",
                        lambda r: r["data"]["validation"].update(source="split of train"))
    changed = edited_copy(b, tmp_path, "changed", "config.json",
                          lambda r: r["data"]["train"].update(sha256="0" * 64))
    refused = {
        "a soup needs at least two runs": [a],
        "a run is named twice": [a, a],
        f"{other_loss} differs from {a} in its loss: 'cosent' against 'cosent+supcon'": [a, other_loss],
        f"{stopped / 'compat_model.json'}: training status is 'stopped'": [a, stopped],
        f"{tmp_path}: no readable compat_model.json": [a, tmp_path],
        "its validation pairs were not a file of their own ('split of train'): split off the training data": [
            split, edited_copy(split, tmp_path, "split2", "config.json", lambda r: None)],
    }
    for message, runs in refused.items():
        with pytest.raises(SoupError, match=re.escape(message)):
            make_soup(runs, tmp_path / "out")
    with pytest.raises(DataError, match="the train file .* is missing or no longer the one the run used"):
        make_soup([changed, edited_copy(changed, tmp_path, "changed2", "config.json", lambda r: None)],
                  tmp_path / "out")
    with pytest.raises(SoupError, match="is one of the runs averaged"):
        make_soup([a, b], a, force=True)
    assert (a / "compat_model.json").exists() and (a / "adapter").is_dir()  # refused before --force cleared it
    assert not (tmp_path / "out").exists()  # nothing refused left a folder behind
    assert main(["soup", str(a), "--out", str(tmp_path / "out")]) == 2
    assert "compat soup: a soup needs at least two runs" in capsys.readouterr().err


def test_a_soup_of_full_fine_tunes_averages_every_weight(data_dir, tmp_path):  # noqa: F811
    from compat.training.soup import make_soup

    runs = train_seeds(data_dir, tmp_path, (7, 8), max_steps=4, quant="none", full=True, lr=1e-4)
    make_soup(runs, tmp_path / "soup", stance_gain=False)
    first, second, soup = (merged_linears(p) for p in (*runs, tmp_path / "soup"))
    for key in soup:
        torch.testing.assert_close(soup[key], (first[key] + second[key]) / 2, atol=1e-7, rtol=0)
    info = json.loads((tmp_path / "soup" / "compat_model.json").read_text())
    assert info["weights"] == "model" and info["stance_gain"] is None and info["training"]["lora_r"] is None
