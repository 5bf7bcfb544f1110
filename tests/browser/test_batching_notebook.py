"""Lesson 07 in a real browser: `make lab`, headless Chromium, run every cell, move the batch
slider with the keyboard; the p99 shown and the figure follow, and no cell shows an error.

Writes ``outputs/browser/07_batching.png`` (a screenshot of the batch explorer) and
``outputs/browser/slider_latency.json`` (key press to new readout, per press, in ms; printed
by ``benchmarks/bench_widgets.py``, never asserted).
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "notebooks/07_batching.ipynb"
OUT = ROOT / "outputs" / "browser"
STARTUP_S = 90
RUN_ALL_S = 240
UPDATE_S = 60
#: Max batch 16 -> 8 -> 4 -> 2 -> 4 -> 8 -> 16: each press changes p99 on the default scenario.
KEYS = ("ArrowLeft",) * 3 + ("ArrowRight",) * 3

# Lab settings for the test: every cell stays in the page (no virtual scrolling), and
# nothing is ever saved, so the committed notebook is not touched.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_server(port: int, token: str, server, log) -> None:
    deadline = time.monotonic() + STARTUP_S
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status")
    request.add_header("Authorization", f"token {token}")
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except (ConnectionError, urllib.error.URLError, TimeoutError):
            time.sleep(0.5)
    log.seek(0)
    pytest.fail(f"JupyterLab did not start:\n{log.read()[-3000:]}")


@pytest.fixture
def lab(tmp_path):
    """`make lab` (same code path as a learner's, without reinstalling) on a free loopback
    port with a fresh token; the notebook file is restored if anything changed it."""
    port, token = free_loopback_port(), secrets.token_hex(16)
    settings = tmp_path / "settings"
    for name, value in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # inline figures
    env.update(
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        LATENCY_LAB_QUICK="1",
    )
    flags = "--no-browser --LabApp.expose_app_in_browser=True"
    command = [
        "make", "--no-print-directory", "-o", ".venv/.installed", "lab",
        f"PY={sys.executable}", f"LAB_PORT={port}", f"LAB_TOKEN={token}", f"LAB_FLAGS={flags}",
    ]  # fmt: skip
    original = (ROOT / NOTEBOOK).read_bytes()
    log = open(tmp_path / "lab.log", "w+")
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_for_server(port, token, server, log)
        yield port, token
    finally:
        stop_server(server, port, token)
        log.close()
        if (ROOT / NOTEBOOK).read_bytes() != original:
            (ROOT / NOTEBOOK).write_bytes(original)
            pytest.fail(f"the browser session changed {NOTEBOOK} (restored): autosave is on?")


def stop_server(server, port: int, token: str) -> None:
    """Shut JupyterLab down through its API (kernels included), then end the whole process
    group `make lab` started, forcibly if it lingers."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/shutdown", method="POST")
    request.add_header("Authorization", f"token {token}")
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except (ConnectionError, urllib.error.URLError, TimeoutError):
        pass
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        deadline = time.monotonic() + grace
        try:
            os.killpg(server.pid, sig)
            while time.monotonic() < deadline:
                os.killpg(server.pid, 0)  # raises once no process of the group is left
                time.sleep(0.2)
        except ProcessLookupError:
            break
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


PROGRESS_JS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    if (!panel || !panel.content || !panel.content.model) return null;
    const cells = panel.content.model.cells;
    let code = 0, pending = 0, errors = [];
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== 'code') continue;
        code += 1;
        if (cell.executionCount === null) pending += 1;
        for (let j = 0; j < cell.outputs.length; j++) {
            const out = cell.outputs.get(j).toJSON();
            if (out.output_type === 'error' || (out.output_type === 'stream' && out.name === 'stderr')) {
                errors.push({cell: i, output: JSON.stringify(out).slice(0, 600)});
            }
        }
    }
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return {code, pending, errors, status: kernel ? kernel.status : 'none'};
}"""

# Resolves with the ms from now until the readout's text changes (null after timeoutMs).
# The HTML widget replaces its content on every update, so watch the content's container.
WATCH_JS = """([el, timeoutMs]) => {
    const box = el.parentElement;
    const before = box.textContent;
    window.__llStart = performance.now();
    window.__llChanged = new Promise((resolve) => {
        setTimeout(() => resolve(null), timeoutMs);
        const observer = new MutationObserver(() => {
            if (box.textContent !== before) {
                observer.disconnect();
                resolve(performance.now() - window.__llStart);
            }
        });
        observer.observe(box, {subtree: true, childList: true, characterData: true});
    });
}"""


def wait_until(page, predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        page.wait_for_timeout(500)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what} (last: {value!r})")


def test_batch_explorer_follows_the_keyboard(chromium, lab):
    port, token = lab
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    console_errors = []
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=STARTUP_S * 1000)
    wait_until(
        page,
        lambda: (p := page.evaluate(PROGRESS_JS)) and p["status"] == "idle" and p,
        STARTUP_S,
        "the kernel to start",
    )
    # Clear the stored outputs first: a cell counts as run once it has an execution count.
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    wait_until(
        page, lambda: (p := page.evaluate(PROGRESS_JS)) and p["pending"] == p["code"], 30,
        "the outputs to clear",
    )  # fmt: skip
    started = time.monotonic()
    # (the command's promise settles once every cell has run; the wait below checks that)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    progress = wait_until(
        page,
        lambda: (
            (p := page.evaluate(PROGRESS_JS)) and p["pending"] == 0 and p["status"] == "idle" and p
        ),
        RUN_ALL_S,
        "every cell to run",
    )
    print(f"\nall {progress['code']} code cells ran in {time.monotonic() - started:.0f} s")
    assert progress["errors"] == [], progress["errors"]

    explorers = page.locator(".widget-vbox").filter(has=page.locator(".ll-readout"))
    assert explorers.count() == 2, "expected the burst and the batch explorers"
    explorer = explorers.nth(1)  # the batch explorer comes second
    readout = explorer.locator(".ll-readout")
    image = explorer.locator("img").first
    slider = explorer.locator(".widget-hslider", has_text="max batch")
    handle = slider.locator(".noUi-handle").first
    readout.scroll_into_view_if_needed()
    handle.scroll_into_view_if_needed()

    def p99() -> str:
        return readout.locator(".ll-p99").inner_text()

    assert slider.locator(".widget-readout").inner_text().strip() == "16"
    latencies_ms = []
    for key in KEYS:
        before_p99, before_src = p99(), image.get_attribute("src")
        before_png = image.screenshot()
        readout_handle = readout.element_handle()
        page.evaluate(WATCH_JS, [readout_handle, UPDATE_S * 1000])
        handle.focus()
        page.keyboard.press(key)
        elapsed = page.evaluate("window.__llChanged")
        assert elapsed is not None, f"the readout did not change within {UPDATE_S} s"
        latencies_ms.append(elapsed)
        page.wait_for_function(
            "(args) => args[0].getAttribute('src') !== args[1]",
            arg=[image.element_handle(), before_src],
            timeout=UPDATE_S * 1000,
        )
        page.wait_for_timeout(300)  # let the new image paint before comparing pixels
        assert p99() != before_p99
        assert image.screenshot() != before_png
    assert slider.locator(".widget-readout").inner_text().strip() == "16"
    final = page.evaluate(PROGRESS_JS)
    assert final["errors"] == [], final["errors"]
    assert console_errors == [], console_errors

    OUT.mkdir(parents=True, exist_ok=True)
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / "07_batching.png"))
    result = {
        "when": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "samples_ms": latencies_ms,
        "median_ms": statistics.median(latencies_ms),
    }
    (OUT / "slider_latency.json").write_text(json.dumps(result, indent=1))
    print(
        "slider-to-update latency (key press to new readout): "
        + ", ".join(f"{v:.0f}" for v in latencies_ms)
        + f" ms (median {result['median_ms']:.0f} ms)"
    )
    page.close()
