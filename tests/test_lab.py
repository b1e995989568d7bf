"""The `make lab` path, end to end: server up, notebook opened, set-up cell run, shut down.

The server is started with the very command line `make lab` runs (read from
``make -n lab``), plus flags for a test: no browser, a free loopback port, a random
token. Everything then goes through the server as JupyterLab's front end does it: the
REST API for contents and sessions, and the kernel's websocket channel
``/api/kernels/<id>/channels`` to execute code.
"""

import asyncio
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "notebooks/00_getting_started.ipynb"  # the one `make lab` opens
STUDENTS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("*.ipynb"))
START_TIMEOUT = 90
EXEC_TIMEOUT = 120
BIN = Path(sys.executable).parent.resolve()  # the venv this test runs in


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_command(extra: list[str]) -> list[str]:
    """`make lab`'s command line with ``extra`` as LAB_ARGS (without running `setup`)."""
    if shutil.which("make") is None:
        pytest.skip("`make` is not installed")
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", "lab", "LAB_ARGS=" + shlex.join(extra)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    (line,) = [ln for ln in dry.splitlines() if "jupyter lab" in ln]
    command = shlex.split(line)
    jupyter = (ROOT / command[0]).resolve()
    if not jupyter.exists():
        pytest.skip(f"{command[0]} does not exist: run `make setup` first")
    assert jupyter.parent == BIN, "the test runs in make lab's venv"
    return command


class Server:
    def __init__(self, url: str, token: str):
        self.url, self.token = url, token

    def request(self, method: str, path: str, body=None, expect=(200,)):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"token {self.token}",
                     "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status in expect, (method, path, response.status)
            text = response.read().decode()
        return json.loads(text) if text else None


def _start(tmp_path: Path, token: str):
    """Start the server on a free loopback port; return (process, Server, log path)."""
    env = {
        **os.environ,
        # Keep the test's server, kernels and settings out of the user's directories.
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    for attempt in range(3):  # a free port can be taken between choosing and binding it
        port = _free_port()
        command = _lab_command(
            ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]
        )
        log = tmp_path / f"server-{attempt}.log"
        with log.open("w") as sink:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
            )
        server = Server(f"http://127.0.0.1:{port}", token)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                server.request("GET", "/api/status")
                return process, server, log
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.25)
        if process.poll() is None:
            process.kill()
            process.wait()
            pytest.fail(f"JupyterLab did not answer in {START_TIMEOUT} s:\n{log.read_text()}")
    pytest.fail(f"JupyterLab exited at start-up:\n{log.read_text()}")


def _message(session: str, code: str) -> dict:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "username": "test",
            "session": session,
            "date": datetime.now(UTC).isoformat(),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        "channel": "shell",
        "buffers": [],
    }


async def _execute(server: Server, kernel_id: str, codes: list[str]) -> list[dict]:
    """Run each code over the kernel's websocket; return {'reply', 'stdout', 'errors'}."""
    session = uuid.uuid4().hex
    ws_url = server.url.replace("http", "ws", 1)
    request = HTTPRequest(
        f"{ws_url}/api/kernels/{kernel_id}/channels?session_id={session}",
        headers={"Authorization": f"token {server.token}"},
        connect_timeout=30,
    )
    connection = await websocket_connect(request)
    results = []
    try:
        for code in codes:
            message = _message(session, code)
            await connection.write_message(json.dumps(message))
            result = {"reply": None, "stdout": "", "errors": [], "idle": False}
            deadline = time.monotonic() + EXEC_TIMEOUT
            while result["reply"] is None or not result["idle"]:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no reply to {code!r} within {EXEC_TIMEOUT} s"
                raw = await asyncio.wait_for(connection.read_message(), remaining)
                assert raw is not None, "the kernel websocket closed"
                incoming = json.loads(raw)
                if incoming["parent_header"].get("msg_id") != message["header"]["msg_id"]:
                    continue
                kind = incoming["msg_type"]
                content = incoming["content"]
                if kind == "execute_reply":
                    result["reply"] = content
                elif kind == "stream" and content["name"] == "stdout":
                    result["stdout"] += content["text"]
                elif kind == "error":
                    result["errors"].append(f"{content['ename']}: {content['evalue']}")
                elif kind == "status" and content["execution_state"] == "idle":
                    result["idle"] = True
            results.append(result)
    finally:
        connection.close()
    return results


def test_make_lab_serves_and_runs_a_student_notebook(tmp_path):
    token = secrets.token_hex(16)
    process, server, log = _start(tmp_path, token)
    try:
        # The token is required: an anonymous request is refused.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/api/contents", timeout=30)
        assert refused.value.code == 403

        # Every student notebook can be opened; the one `make lab` shows is run.
        for path in STUDENTS:
            model = server.request("GET", f"/api/contents/{path}?type=notebook&content=1")
            assert model["type"] == "notebook" and model["path"] == path
        model = server.request("GET", f"/api/contents/{NOTEBOOK}?type=notebook&content=1")
        nb = nbformat.from_dict(model["content"])
        (setup,) = [c for c in nb.cells if "setup" in c.metadata.get("tags", [])]

        # Open it as JupyterLab does: a session binds the notebook to a new kernel.
        session = server.request(
            "POST", "/api/sessions", expect=(201,),
            body={"path": NOTEBOOK, "type": "notebook", "name": "",
                  "kernel": {"name": "python3"}},
        )
        kernel_id = session["kernel"]["id"]
        probe = (
            "import os, sys, course_utils\n"
            "print(json.dumps({'cwd': os.getcwd(), 'package': course_utils.__file__, "
            "'python': sys.executable}))"
        )
        setup_result, probe_result = asyncio.run(
            _execute(server, kernel_id, [setup.source, "import json\n" + probe])
        )
        assert setup_result["reply"]["status"] == "ok", setup_result["errors"]
        assert not setup_result["errors"]
        assert probe_result["reply"]["status"] == "ok", probe_result["errors"]
        seen = json.loads(probe_result["stdout"])
        assert Path(seen["cwd"]) == ROOT / "notebooks"
        assert Path(seen["package"]).is_relative_to(ROOT / "course_utils")
        assert Path(seen["python"]).parent.resolve() == BIN, "the kernel runs in the venv"

        # Close the notebook, then stop the server the way its own API offers.
        server.request("DELETE", f"/api/sessions/{session['id']}", expect=(204,))
        assert server.request("GET", "/api/kernels") == []
        server.request("POST", "/api/shutdown", expect=(200, 204))
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not list((tmp_path / "runtime").glob("kernel-*.json")), "a kernel was left behind"
