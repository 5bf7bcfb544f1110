"""Run-size settings shared by notebooks, tests and benchmarks (quick mode; lesson 00)."""

import os

QUICK_ENV = "LATENCY_LAB_QUICK"


def is_quick() -> bool:
    """True when ``LATENCY_LAB_QUICK=1`` asks timing cells to shrink (``make test`` and CI)."""
    return os.environ.get(QUICK_ENV, "") not in ("", "0")


def scaled(full: int, quick: int) -> int:
    """Return ``quick`` in quick mode, else ``full``: repetition counts for timing cells."""
    return quick if is_quick() else full
