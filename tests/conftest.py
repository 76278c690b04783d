"""Shared test set-up: offline, a private COMPAT_HOME, the real base model loaded once."""

from __future__ import annotations

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["COMPAT_HOME"] = tempfile.mkdtemp(prefix="compat-test-home-")  # never the user's state

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def base_model():
    """The real all-MiniLM-L6-v2, loaded once for the whole session."""
    from compat.models import load_model

    return load_model("base")


@pytest.fixture()
def compat_home(tmp_path, monkeypatch):
    """A fresh, empty COMPAT_HOME for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("COMPAT_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """One real app process (python app.py) for the tests that only read from it."""
    from apputil import running_app

    with running_app(tmp_path_factory.mktemp("app-home")) as app:
        yield app
