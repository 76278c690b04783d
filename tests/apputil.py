"""Start the real app in a subprocess on a free port, and drive it with a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    def __init__(self, proc: subprocess.Popen, url: str, home: Path, log: Path):
        self.proc, self.url, self.home, self.log = proc, url, home, log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None, auth=None) -> float:
    """Seconds until `url` answers HTTP 200; fails the test on timeout or if the process died."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"app exited with {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {timeout} s")


@contextmanager
def running_app(home: Path, *, env: dict | None = None, timeout: float = 60):
    """`python app.py` with COMPAT_HOME=home on a free port; stopped (and its log kept) afterwards."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    log = home / f"app-{port}.log"
    full_env = {
        **os.environ, "COMPAT_HOME": str(home), "COMPAT_PORT": str(port), "COMPAT_HOST": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=full_env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    app = AppProcess(proc, f"http://127.0.0.1:{port}/", home, log)
    try:
        if not (env or {}).get("COMPAT_AUTH"):
            wait_http(app.url, timeout, proc)
        yield app
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def need_chromium() -> str:
    """The browser's path; a skip on a developer machine without it, a failure in CI (CI=true)."""
    if shutil.which(CHROMIUM) or Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"{CHROMIUM} is missing: install Debian's chromium (make test does so as root)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def browser_page():
    """A Playwright page in Debian's headless Chromium (never a downloaded browser)."""
    executable = need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def score_and_open_raw_cosines(page, text_a: str, text_b: str) -> None:
    """Score two statements in the Score tab and open "Raw cosines" once the page has settled: the message
    is set by every finished score (the number boxes hold a value before that), and the verdict above the
    accordion by the step chained after it.
    Clicking before the verdict lands can hit the accordion while the verdict pushes it down the page."""
    page.get_by_label("Person A").fill(text_a)
    page.get_by_label("Person B").fill(text_b)
    page.get_by_role("button", name="Score", exact=True).click()
    page.wait_for_function("() => document.querySelector('#score-message textarea')?.value.length > 0",
                           timeout=60_000)
    page.wait_for_selector("#compat-verdict", timeout=60_000)
    page.get_by_text("Raw cosines").click()  # the verdict leads; the cosines are one click away
    page.wait_for_selector("#score-base input", state="visible")
