"""Browser tests: JupyterLab driven by Playwright with the system Chromium (lesson 07).

They need a Chromium executable (the Debian package ``chromium``; another one through
``LATENCY_LAB_CHROMIUM=/path/to/chrome``) and Playwright for Python (the ``dev`` extra).
Without them the tests are skipped with a one-line reason — unless
``LATENCY_LAB_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip into a failure,
so CI always runs them. Playwright's own browser download is never used.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_ENV = "LATENCY_LAB_REQUIRE_BROWSER"
CHROMIUM_ENV = "LATENCY_LAB_CHROMIUM"
#: Launch flags: no sandbox (root in a container), no GPU, no network chatter of its own.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def chromium_path() -> str | None:
    """The Chromium to drive: ``$LATENCY_LAB_CHROMIUM``, else ``chromium`` or
    ``chromium-browser`` on the PATH; None if there is none."""
    chosen = os.environ.get(CHROMIUM_ENV)
    if chosen:
        return chosen if os.access(chosen, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _unavailable(reason: str):
    if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
        pytest.fail(f"{reason}, and {REQUIRE_ENV} is set: the browser tests must run", False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium launched by Playwright (the system executable, never a download).

    Module-scoped on purpose: Playwright's sync API keeps an asyncio event loop running on
    the main thread while it is open, which would break every later test that starts a loop
    of its own (``asyncio.run``)."""
    path = chromium_path()
    if path is None:
        _unavailable("no Chromium found (apt-get install chromium): browser tests skipped")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable(
            "Playwright for Python is not installed (the dev extra): browser tests skipped"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
