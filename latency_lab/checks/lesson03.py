"""Checkers of lesson 03 (memory and data layout): strides, and a VWAP over columns."""

from __future__ import annotations

import numpy as np

from latency_lab import memory
from latency_lab.checks.core import Feedback, checker, same_as_reference, whole


@checker
def check_row_stride(answer) -> Feedback:
    """Lesson 03: bytes between ``a[i, j]`` and ``a[i + 1, j]`` in a C-ordered (2048, 2048)
    float64 array."""
    expected = np.zeros((2, 2048)).strides[0]
    if whole(answer, "the stride in bytes") == expected:
        return Feedback(True, f"Correct: {expected} bytes — a whole row of 2048 × 8 bytes apart.")
    return Feedback(
        False,
        f"{whole(answer, 'the stride in bytes')} is not it. Hint: in C order a row is "
        "contiguous; what lies between two rows?",
    )


@checker
def check_vwap(func) -> Feedback:
    """Lesson 03: ``func(prices, sizes)`` must return the volume-weighted average price."""
    rng = np.random.default_rng(5)
    ticks = memory.make_ticks(1_000, seed=5)
    cases = [(100 + rng.random(n), rng.integers(1, 50, n).astype(float)) for n in (1, 7, 10_000)]
    cases.append((ticks["price"], ticks["size"]))  # strided views into an array of structs
    return same_as_reference(
        func,
        cases,
        memory.vwap_vectorized,
        describe_case=lambda prices, sizes: f"{prices.size} ticks",
        hint="Σ price·size / Σ size.",
        success="Correct, including on strided columns of a structured array.",
        rel_tol=1e-9,
    )
