"""Shared test settings: hypothesis without per-example deadlines (CI machines are noisy),
and a fixture that fails a test leaving a thread running."""

import threading
import time

import pytest
from hypothesis import settings

settings.register_profile("course", deadline=None, max_examples=200)
settings.load_profile("course")


@pytest.fixture
def no_leaks():
    """Fails the test if it leaves a thread running."""
    before = threading.active_count()
    yield
    deadline = time.monotonic() + 2
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before, [t.name for t in threading.enumerate()]
