"""Training from the app: the runner starts a real `compat train` child; the API and a browser watch it."""

from __future__ import annotations

import json
import time

import pytest

from compat.training.progress import progress_of, smooth
from compat.training.runner import TrainingRunner, read_events, train_arguments

from apputil import browser_page, running_app

TINY = {"preset": "quick", "max_steps": 12, "batch": 8, "quant": "4bit", "seed": 1}


def test_settings_become_train_options():
    args = train_arguments({"preset": "quick", "quant": "none", "lora_r": 4.0, "lr": 2e-4, "full": True,
                            "loss": None, "instruction": "", "max_steps": 0, "lora_alpha": 0, "seed": 0})
    # a blank number box arrives as 0: it means "the preset's", except for the seed
    assert args == ["--preset", "quick", "--quant", "none", "--lora-r", "4", "--lr", "0.0002", "--seed", "0",
                    "--full"]


def test_progress_reads_loss_and_eval_points_and_skips_a_half_written_line(tmp_path):
    lines = [{"step": 1, "loss": 1.0, "progress": 0.1, "elapsed": 3, "eta": 27},
             {"step": 2, "loss": 0.5, "progress": 0.2},
             {"step": 2, "eval_auc": 0.9, "eval_cohen_d": 2.5}]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines) + '{"step": 3, "lo')
    p = progress_of(read_events(tmp_path))
    assert p.steps == [1, 2] and p.loss == [1.0, 0.5] and p.auc == [0.9] and p.cohen_d == [2.5]
    assert p.fraction == 0.2 and p.eta == 27
    assert smooth([1.0, 1.0]) == pytest.approx([1.0, 1.0])


def _wait(client_or_fn, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client_or_fn()
        if predicate(status):
            return status
        time.sleep(1)
    pytest.fail(f"timed out; last status {status}")


@pytest.mark.slow
def test_runner_refuses_a_second_run_and_a_stopped_run_is_usable(tmp_path):
    runner = TrainingRunner(tmp_path / "runs")
    (tmp_path / "runs").mkdir()
    first = runner.start(train_arguments({**TINY, "max_steps": 400}) + ["--data", "data"])
    from compat.training.runner import RunnerBusy

    with pytest.raises(RunnerBusy, match=first):
        runner.start(train_arguments(TINY) + ["--data", "data"])
    _wait(lambda: read_events(runner.run_dir(first)), lambda ev: sum("loss" in e for e in ev) >= 2, 240)
    runner.stop(first)
    info = _wait(lambda: runner.info(first), lambda i: i.status not in ("starting", "running"), 120)
    assert info.status == "stopped", info.error
    assert info.usable
    from compat.models import load_model
    from compat.scoring import score

    assert -1 <= score("I love hiking", "I hate hiking", load_model(str(info.path))).cosine <= 1


@pytest.mark.slow
def test_a_broken_data_file_ends_as_failed_with_a_readable_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text_1": "a", "text_2": "b", "label": 1}\n{"text_1": "a", "label": "yes"}\n')
    runner = TrainingRunner(tmp_path / "runs")
    (tmp_path / "runs").mkdir()
    run_id = runner.start(train_arguments(TINY) + ["--data", str(bad)])
    info = _wait(lambda: runner.info(run_id), lambda i: i.status not in ("starting", "running"), 120)
    assert info.status == "failed"
    assert "bad.jsonl:2" in (info.error or "") and "Traceback" not in (info.error or "")


@pytest.mark.slow
@pytest.mark.browser
def test_train_tab_api_and_browser_show_a_live_run(tmp_path):
    from gradio_client import Client

    with running_app(tmp_path / "home") as app:
        client = Client(app.url, verbose=False)
        with browser_page() as page:
            page.goto(app.url)
            page.get_by_role("tab", name="Train").click()
            page.get_by_label("Shipped data set (data/)").check()
            page.get_by_text("Advanced settings").click()
            page.get_by_label("Max steps (blank: all)").fill("400")
            page.get_by_label("Batch size").fill("8")
            page.get_by_role("button", name="Train", exact=True).click()
            page.wait_for_function(
                "() => document.querySelector('#train-message textarea')?.value.startsWith('Started')",
                timeout=30_000)
            run_id = page.locator("#train-run-id textarea, #train-run-id input").first.input_value()
            _wait(lambda: client.predict(run_id, api_name="/training_status"),
                  lambda s: len(s["loss"]) >= 2 or s["status"] not in ("starting", "running"), 240)
            # the loss chart gets at least two points (plotly draws one marker per point)
            page.wait_for_function(
                "() => document.querySelectorAll('#train-loss .scatterlayer .trace:first-child .point').length >= 2",
                timeout=30_000)
            status = client.predict(api_name="/training_status")
            assert status["status"] == "running" and len(status["loss"]) >= 2
            message, run_id = client.predict("Shipped data set (data/)", None, "quick", True, None, None,
                                             False, "(preset)", None, None, 8, "", None, 5,
                                             api_name="/start_training")
            assert message.startswith("Not started") and run_id == ""
            page.get_by_role("button", name="Stop").click()
            final = _wait(lambda: client.predict(api_name="/training_status"),
                          lambda s: s["status"] not in ("starting", "running"), 120)
            assert final["status"] == "stopped" and final["usable"]
            page.wait_for_function(
                "() => document.querySelector('#train-headline')?.innerText.includes('stopped')", timeout=30_000)
        # the app still scores while and after training
        base, *_ = client.predict("I love hiking", "I love hiking", api_name="/score")
        assert base == pytest.approx(1.0, abs=1e-3)


def test_finished_runs_show_their_metrics_and_settings(compat_home):
    """The shipped model's run files, copied in as a run, fill the final-metrics and runs tables."""
    import shutil

    from compat.paths import DEFAULT_MODEL_DIR, runs_dir
    from compat.training.runner import read_json
    from compat.ui.train_tab import _metrics_rows, refresh, runs_table

    if not (DEFAULT_MODEL_DIR / "metrics.json").exists():
        pytest.skip("no shipped default model (run `make model`)")
    shutil.copytree(DEFAULT_MODEL_DIR, runs_dir() / "20260101-000000-abcd")
    rows = _metrics_rows(read_json(DEFAULT_MODEL_DIR / "metrics.json"))
    assert {r[0] for r in rows} >= {"validation", "test"} and all(isinstance(r[2], float) for r in rows)
    auc = next(r for r in rows if r[:2] == ["test", "auc"])
    assert auc[4] == pytest.approx(auc[2] - auc[3], abs=1e-3)  # the change is fine-tuned minus base
    (run,) = runs_table()
    assert run[0] == "20260101-000000-abcd" and run[1] == "finished"
    assert run[4:6] == ["default", "cosent+supcon"] and isinstance(run[6], float)  # make model's preset and loss
    headline, *_ = refresh("no-such-run")
    assert "no-such-run" in headline  # an unknown run is reported, not a traceback every second


@pytest.mark.slow
def test_the_selected_runs_average_into_a_new_run(compat_home):
    """"Average into one model (soup)": two finished runs of one recipe (the shipped model, copied in twice)
    become a new run, started by the runner like a training run and usable once finished."""
    import shutil

    from compat.paths import DEFAULT_MODEL_DIR, runs_dir
    from compat.training.runner import default_runner
    from compat.ui.train_tab import soup_runs

    if not (DEFAULT_MODEL_DIR / "metrics.json").exists():
        pytest.skip("no shipped default model (run `make model`)")
    a, b, other = "20260101-000000-aaaa", "20260101-000000-bbbb", "20260101-000000-cccc"
    for run in (a, b, other):
        shutil.copytree(DEFAULT_MODEL_DIR, runs_dir() / run)
    info = json.loads((runs_dir() / other / "compat_model.json").read_text())
    info["training"]["loss"] = "cosent"
    (runs_dir() / other / "compat_model.json").write_text(json.dumps(info))

    assert soup_runs([a]) == {"ok": False, "run_id": None,
                              "error": "select at least two finished runs of one recipe (seeds) to average",
                              "message": "Not averaged: select at least two finished runs of one recipe (seeds) "
                                         "to average."}
    refused = soup_runs([a, other])
    assert not refused["ok"] and refused["run_id"] is None
    assert "in its loss: 'cosent' against 'cosent+supcon'" in refused["error"]
    assert refused["message"] == f"Not averaged: {refused['error']}"
    started = soup_runs([a, b])
    new = started["run_id"]
    assert started["ok"] and new in started["message"] and new not in (a, b)
    final = _wait(lambda: default_runner().info(new), lambda r: r.status not in ("starting", "running"), 600)
    assert final.status == "finished" and final.usable, (final.status, final.error)
    training = json.loads((final.path / "compat_model.json").read_text())["training"]
    seed = info["training"]["seed"] if info["training"]["seed"] is not None else info["training"]["soup"]
    assert training["soup"] == [seed, seed] and training["lora_r"] == 2 * info["training"]["lora_r"]


@pytest.mark.slow
def test_the_soup_endpoint_answers_a_refusal_through_the_api(app_server):
    """`soup_runs` is an API endpoint of its own (the tab's run list is no input an API client can fill), and a
    request it cannot serve comes back as an answer naming why."""
    from gradio_client import Client

    client = Client(app_server.url, verbose=False)
    answer = client.predict(["20260101-000000-none", "20260101-000000-nada"], api_name="/soup_runs")
    assert answer["ok"] is False and answer["run_id"] is None
    assert "20260101-000000-none: no readable compat_model.json" in answer["error"]


def test_the_terminal_command_is_shown_on_page_load(compat_home):
    """Issue 14: "The same run from a terminal" holds the command before any setting changes, and it is the
    command for the controls' first values."""
    from compat.ui.app import build_app
    from compat.ui.train_tab import SETTINGS, SOURCES, cli_command

    blocks = list(build_app().blocks.values())
    [command] = [b for b in blocks if getattr(b, "elem_id", None) == "train-command"]
    assert command.value.startswith("python -m compat train --data '<label snapshot>' --preset quick")
    controls = {getattr(b, "label", None): b for b in blocks}
    first = {"preset": controls["Preset (quick: 1 epoch, default: 2)"].value,
             "quant4": controls["4-bit base (QLoRA)"].value, "full": controls["Full fine-tune (no LoRA)"].value,
             "loss": controls["Loss"].value, "seed": controls["Seed"].value}
    assert command.value == cli_command(SOURCES[0], None, *(first.get(key) for key in SETTINGS))
    assert "--quant 4bit" in command.value and "--seed 42" in command.value
