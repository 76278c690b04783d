"""Security: where the app listens, the login, pickle-free model loading, names that cannot escape COMPAT_HOME."""

from __future__ import annotations

import json
import shutil
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from apputil import running_app

AUTH = ("ann", "s3cret-Pa55")


# -- where the app listens ----------------------------------------------------------------------------
def _non_loopback_ipv4() -> list[str]:
    import psutil

    return [a.address for addrs in psutil.net_if_addrs().values() for a in addrs
            if a.family == socket.AF_INET and not a.address.startswith("127.")]


@pytest.mark.slow
def test_the_app_listens_on_loopback_only(app_server):
    import psutil

    port = int(app_server.url.rstrip("/").rsplit(":", 1)[1])
    listening = [c for c in psutil.Process(app_server.proc.pid).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert any(c.laddr.port == port for c in listening), listening
    assert {c.laddr.ip for c in listening} <= {"127.0.0.1"}, listening
    for address in _non_loopback_ipv4():  # the machine's other addresses: nobody answers there
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((address, port)) != 0, f"the app answers on {address}:{port}"


# -- login --------------------------------------------------------------------------------------------
def _request(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory):
    """An app started with COMPAT_AUTH; yields once its login page answers."""
    with running_app(tmp_path_factory.mktemp("auth-home"), env={"COMPAT_AUTH": ":".join(AUTH)}) as app:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(app.url, timeout=2)
                break
            except OSError:
                if app.proc.poll() is not None:
                    pytest.fail(f"the app exited:\n{app.output()[-2000:]}")
                time.sleep(0.3)
        yield app


@pytest.mark.slow
def test_with_compat_auth_every_page_and_api_call_needs_the_login(auth_app):
    from gradio_client import Client

    url = auth_app.url
    status, page = _request(url)
    assert status == 200 and '"auth_required":true' in page.replace(" ", "")  # the login page, no app
    assert '"components":[]' in page.replace(" ", "")
    json_post = {"Content-Type": "application/json"}
    refused = {
        "GET /config": _request(url + "config"),
        "GET /gradio_api/info": _request(url + "gradio_api/info"),
        "GET /gradio_api/openapi.json": _request(url + "gradio_api/openapi.json"),
        "POST /gradio_api/call/score": _request(url + "gradio_api/call/score",
                                                 json.dumps({"data": ["a", "b"]}).encode(), json_post),
        "POST /gradio_api/queue/join": _request(url + "gradio_api/queue/join", json.dumps(
            {"data": ["a", "b"], "fn_index": 0, "session_hash": "x"}).encode(), json_post),
        "POST /gradio_api/upload": _request(url + "gradio_api/upload", b"--b--\r\n",
                                            {"Content-Type": "multipart/form-data; boundary=b"}),
        "GET /gradio_api/file=": _request(url + "gradio_api/file=" + str(Path(__file__).resolve())),
    }
    for what, (code, body) in refused.items():
        assert code in (401, 403), f"{what} answered {code} without a login: {body[:200]}"
    with pytest.raises(Exception):
        Client(url, verbose=False).predict("I love hiking", "I love hiking", api_name="/score")
    code, _ = _request(url + "login", f"username={AUTH[0]}&password=wrong".encode(),
                       {"Content-Type": "application/x-www-form-urlencoded"})
    assert code in (400, 401, 403)
    base, *_ = Client(url, auth=AUTH, verbose=False).predict("I love hiking", "I love hiking", api_name="/score")
    assert base == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
def test_the_login_page_does_not_describe_the_api(auth_app):
    """gradio 6.31 renders every named endpoint, with its parameters, into the login page it serves to
    anyone (whatever the query string); compat.ui.auth empties that description there. After logging in,
    the page describes the API as usual."""
    import httpx

    for path in ("", "?page=nope", "?all_endpoints=true", "gradio_api/runs"):
        status, page = _request(auth_app.url + path)
        assert status == 200 and '"auth_required":true' in page.replace(" ", ""), (path, status)
        assert "/start_training" not in page and "Person A" not in page, path
    with httpx.Client(base_url=auth_app.url) as browser:
        assert browser.post("login", data={"username": AUTH[0], "password": AUTH[1]}).status_code == 200
        assert "/start_training" in browser.get("").text


def test_only_the_login_page_loses_its_api_description():
    """compat.ui.auth's middleware on a stand-in app: the login page's description is emptied (its length
    header follows), an app page, a JSON answer and a HEAD request pass as they are."""
    import asyncio

    from compat.ui.auth import EMPTY_API_DESCRIPTION, HideApiFromLoginPage

    login = (b'<script>window.gradio_config = {"auth_required":true};</script><script>window.gradio_api_info = '
             b'{"named_endpoints":{"/start_training":{"parameters":[{"label":"Person A"}]}}};</script>')
    app_page = login.replace(b'"auth_required":true', b'"components":[]')

    def answer(scope, body: bytes, content_type: bytes) -> tuple[bytes, int]:
        async def app(scope, receive, send):  # sends its body in two pieces, as a streamed page may come
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]})
            await send({"type": "http.response.body", "body": body[:40], "more_body": True})
            await send({"type": "http.response.body", "body": body[40:]})

        sent = []

        async def send(message):
            sent.append(message)

        asyncio.run(HideApiFromLoginPage(app)(scope, None, send))
        received = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return received, int(dict(sent[0]["headers"])[b"content-length"])

    get, head = {"type": "http", "method": "GET"}, {"type": "http", "method": "HEAD"}
    page, length = answer(get, login, b"text/html; charset=utf-8")
    assert b"/start_training" not in page and EMPTY_API_DESCRIPTION in page and length == len(page)
    assert answer(get, app_page, b"text/html; charset=utf-8")[0] == app_page
    assert answer(get, login, b"application/json")[0] == login
    assert answer(head, login, b"text/html")[0] == login


# -- models load only from safetensors ------------------------------------------------------------------
def _pickled_copy_of_base(target: Path) -> Path:
    """The base model folder with its weights saved as pytorch_model.bin (pickle) instead of safetensors."""
    import torch
    from safetensors.torch import load_file

    from compat.models import base_model_path

    shutil.copytree(base_model_path(), target)
    weights = target / "model.safetensors"
    torch.save(load_file(str(weights)), target / "pytorch_model.bin")
    weights.unlink()
    return target


def test_an_adapter_saved_as_pickle_is_refused(tmp_path):
    from compat.models import FORMAT, MODEL_FILE, ModelNotFound, load_model

    run = tmp_path / "run"
    (run / "adapter").mkdir(parents=True)
    (run / MODEL_FILE).write_text(json.dumps({"format": FORMAT, "instruction": None, "calibration": None}))
    (run / "adapter" / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["query", "value"]}))
    (run / "adapter" / "adapter_model.bin").write_bytes(b"\x80\x04N.")  # a pickle; it must never be opened
    with pytest.raises(ModelNotFound, match="safetensors"):
        load_model(str(run))


def test_a_plain_model_folder_with_pickled_weights_is_refused(tmp_path):
    from compat.models import ModelNotFound, load_model

    folder = _pickled_copy_of_base(tmp_path / "pickled")
    with pytest.raises(ModelNotFound, match="safetensors"):
        load_model(str(folder))


# -- names from the UI stay inside COMPAT_HOME -----------------------------------------------------------
ESCAPES = ["..", "../x", "../../etc", "/etc", "runs/../../x", "a/../../b", ".hidden", "", "x/..", "..\x00"]


def test_run_ids_cannot_escape_the_runs_directory(tmp_path):
    from compat.training.runner import TrainingRunner

    root = tmp_path / "home" / "runs"
    root.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    (root / "link").symlink_to(victim, target_is_directory=True)  # a link inside that points outside
    runner = TrainingRunner(root)
    for run_id in [*ESCAPES, "link", str(victim), "../victim"]:
        with pytest.raises(ValueError):
            runner.run_dir(run_id)
        with pytest.raises(ValueError):
            runner.delete(run_id)
        with pytest.raises(ValueError):
            runner.stop(run_id)
    assert (victim / "keep.txt").read_text() == "keep" and not (victim / "STOP").exists()
    assert Path("/etc/hostname").exists() or Path("/etc/passwd").exists()


@pytest.mark.slow
def test_run_ids_over_http_cannot_escape_compat_home(app_server):
    from gradio_client import Client

    victim = app_server.home / "victim"
    victim.mkdir(exist_ok=True)
    (victim / "keep.txt").write_text("keep")
    (victim / "status.json").write_text(json.dumps({"status": "running", "pid": 1}))
    c = Client(app_server.url, verbose=False, download_files=False)
    for run_id in ["../victim", "..", "../..", "/etc", "../../etc"]:
        status = c.predict(run_id, api_name="/training_status")
        assert status["status"] == "unknown" and "invalid run id" in status["error"], status
        try:
            stopped = c.predict(run_id, api_name="/stop_training")
        except Exception:  # noqa: BLE001  (refused with an error is fine too; what matters is below)
            stopped = None
        assert stopped is None or stopped.get("status") in (None, "unknown", "none"), stopped
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt", "status.json"]  # no STOP file, nothing gone


@pytest.mark.slow
def test_files_outside_the_upload_cache_are_not_served(app_server):
    repo = Path(__file__).resolve().parent.parent
    for path in ["/etc/passwd", str(repo / "app.py"), str(app_server.home / "labels.db"),
                 str(app_server.home / "runs"), "../../../../etc/passwd"]:
        code, body = _request(app_server.url + "gradio_api/file=" + path)
        assert code in (403, 404), f"{path}: {code} {body[:100]}"
