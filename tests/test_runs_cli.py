"""`python -m compat runs`: the Train tab's run list from a terminal, on real run folders and a real run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest

from compat.paths import DEFAULT_MODEL_DIR, REPO_ROOT, runs_dir

FIRST, SECOND = "20260101-000000-abcd", "20260102-000000-efgh"


def runs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compat", "runs", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)


def test_list_compare_use_and_delete_finished_runs(compat_home):
    """The shipped model's folder, copied in twice as finished runs, through every action but stop."""
    if not (DEFAULT_MODEL_DIR / "metrics.json").exists():
        pytest.skip("no shipped default model (run `make model`)")
    assert "no runs yet" in runs().stdout
    for run in (FIRST, SECOND):
        shutil.copytree(DEFAULT_MODEL_DIR, runs_dir() / run)
    metrics = json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text())
    listed = runs()
    assert listed.returncode == 0, listed.stderr
    assert FIRST in listed.stdout and SECOND in listed.stdout
    assert f"{metrics['test']['fine_tuned']['auc']:.3f}" in listed.stdout
    (first, second) = json.loads(runs("list", "--json").stdout)
    assert {first["run_id"], second["run_id"]} == {FIRST, SECOND} and first["status"] == "finished"
    assert first["test_auc"] == metrics["test"]["fine_tuned"]["auc"] and first["stance_gain"] == 3.0
    assert len(first["soup_of"]) == 3  # the shipped model is a soup of three seeds

    curves = compat_home / "compare.html"
    compared = runs("compare", FIRST, SECOND, "--html", str(curves))
    assert compared.returncode == 0, compared.stderr
    assert compared.stdout.count("0.696") == 2 and "plotly" in curves.read_text()[:100_000].lower()

    used = runs("use", FIRST)
    assert used.returncode == 0 and str(runs_dir() / FIRST) in used.stdout
    assert json.loads((compat_home / "active_model.json").read_text())["model"] == str(runs_dir() / FIRST)
    unknown = runs("use", "no-such-run")
    assert unknown.returncode == 2 and "no run 'no-such-run'" in unknown.stderr
    assert runs("use", "default").returncode == 0
    assert json.loads((compat_home / "active_model.json").read_text())["model"] == "default"

    refused = runs("delete", FIRST, "no-such-run")  # one unknown run: none is removed
    assert refused.returncode == 2 and "no-such-run" in refused.stderr and (runs_dir() / FIRST).is_dir()
    deleted = runs("delete", FIRST, SECOND)
    assert deleted.returncode == 0, deleted.stderr
    assert not (runs_dir() / FIRST).exists() and not (runs_dir() / SECOND).exists()


@pytest.mark.slow
def test_a_running_run_is_not_deleted_and_stops_when_asked(compat_home):
    """A real tiny training the app's runner started: delete refuses while it runs, stop ends it saved."""
    from compat.training.runner import TrainingRunner, read_events, train_arguments

    runner = TrainingRunner(runs_dir())
    run_id = runner.start(train_arguments({"preset": "quick", "max_steps": 400, "batch": 8, "seed": 1})
                          + ["--data", "data"])
    deadline = time.monotonic() + 240
    while sum("loss" in e for e in read_events(runner.run_dir(run_id))) < 2 and time.monotonic() < deadline:
        time.sleep(1)
    refused = runs("delete", run_id)
    assert refused.returncode == 2 and "still running" in refused.stderr and runner.run_dir(run_id).is_dir()
    stopped = runs("stop", run_id)
    assert stopped.returncode == 0 and "asked to stop" in stopped.stdout
    deadline = time.monotonic() + 120
    while runner.info(run_id).status in ("starting", "running") and time.monotonic() < deadline:
        time.sleep(1)
    assert runner.info(run_id).status == "stopped"
    assert runs("use", run_id).returncode == 0  # a stopped run with its adapter is a usable model
    assert runs("delete", run_id).returncode == 0 and not runner.run_dir(run_id).exists()
