"""`make lab` serves JupyterLab: token auth on loopback, refuses requests without the token."""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 90


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_status(port: int, token: str | None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status")
    if token:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture
def lab(tmp_path):
    """Run `make lab` (without reinstalling) with this interpreter, a fixed token and port."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    port, token = free_loopback_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path))
    command = [
        "make", "--no-print-directory", "-o", ".venv/.installed", "lab",
        f"PY={sys.executable}", f"LAB_PORT={port}", f"LAB_TOKEN={token}",
        "LAB_FLAGS=--no-browser",
    ]  # fmt: skip
    log = open(tmp_path / "lab.log", "w+")
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield server, port, token, log
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except ProcessLookupError:  # it has already exited
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def test_make_lab_serves_with_token_and_refuses_without(lab):
    server, port, token, log = lab
    deadline = time.monotonic() + STARTUP_SECONDS
    status = None
    while time.monotonic() < deadline and server.poll() is None:
        try:
            status = get_status(port, token)
            break
        except (ConnectionError, urllib.error.URLError, TimeoutError):
            time.sleep(0.5)
    log.seek(0)
    assert status == 200, f"JupyterLab did not answer /api/status:\n{log.read()[-3000:]}"
    assert get_status(port, None) == 403
    assert get_status(port, "wrong-token") == 403


def test_make_lab_refuses_a_busy_port(tmp_path):
    """A port in use is reported with how to choose another, not silently replaced."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path))
        done = subprocess.run(
            ["make", "--no-print-directory", "-o", ".venv/.installed", "lab",
             f"PY={sys.executable}", f"LAB_PORT={port}", "LAB_FLAGS=--no-browser"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode != 0
    assert f"port {port} is in use" in done.stderr
    assert "LAB_PORT=" in done.stderr
