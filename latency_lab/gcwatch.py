"""Observe CPython's garbage collector: count collections and time each pause (lessons 04, 09).

``GcWatch`` is a context manager that adds one callback to ``gc.callbacks`` while its block
runs and always removes it again, also when the block raises. For every collection it
counts the generation and, up to a preallocated ``capacity``, records when the pause
started and how long it lasted, in ``time.perf_counter_ns`` nanoseconds — the clock
``LatencyTracker`` uses, so pauses line up with per-operation samples.

>>> with GcWatch() as watch:
...     work()
>>> watch.counts  # {0: gen-0 collections, 1: ..., 2: ...}
>>> watch.pauses()  # one row per collection: generation, start_ns, duration_ns, ...
"""

from __future__ import annotations

import gc
import time

import numpy as np
import pandas as pd

from latency_lab import validate

#: Generations of CPython's collector (0 = youngest).
GENERATIONS = (0, 1, 2)

#: Upper bound on the pauses one watch can keep (each costs 33 bytes, preallocated).
MAX_CAPACITY = 10_000_000

_PAUSE_COLUMNS = ("generation", "start_ns", "duration_ns", "collected", "uncollectable")


class GcWatch:
    """Counts garbage collections per generation and records each pause, while active.

    Parameters
    ----------
    capacity : int, 0 to ``MAX_CAPACITY``
        Pauses kept with their timestamps (the arrays are allocated once, up front).
        Collections beyond it are still counted, and counted in ``dropped``; 0 counts only.

    Attributes
    ----------
    counts : dict[int, int]
        Collections started per generation, over every block the watch has been active in.
    total : int
        Sum of ``counts`` (cheap to poll between operations).
    dropped : int
        Collections counted but not recorded because ``capacity`` was reached.

    Entering an already active watch raises ``RuntimeError``; entering it again after it
    exited keeps counting on top of what it saw before.
    """

    def __init__(self, capacity: int = 10_000):
        self.capacity = validate.integer("capacity", capacity, low=0, high=MAX_CAPACITY)
        self._generation = np.zeros(self.capacity, dtype=np.int8)
        self._start = np.zeros(self.capacity, dtype=np.int64)
        self._duration = np.zeros(self.capacity, dtype=np.int64)
        self._collected = np.zeros(self.capacity, dtype=np.int64)
        self._uncollectable = np.zeros(self.capacity, dtype=np.int64)
        self.counts = dict.fromkeys(GENERATIONS, 0)
        self.total = 0
        self.dropped = 0
        self._recorded = 0
        self._pause_start = 0
        self._active = False

    def _callback(self, phase: str, info: dict) -> None:
        # Runs inside the collector: no allocation of containers, never raises.
        now = time.perf_counter_ns()
        if phase == "start":
            self._pause_start = now
            self.counts[info["generation"]] += 1
            self.total += 1
            return
        if self._recorded == self.capacity:
            self.dropped += 1
            return
        k = self._recorded
        self._generation[k] = info["generation"]
        self._start[k] = self._pause_start
        self._duration[k] = now - self._pause_start
        self._collected[k] = info.get("collected", 0)
        self._uncollectable[k] = info.get("uncollectable", 0)
        self._recorded = k + 1

    def __enter__(self) -> GcWatch:
        if self._active:
            raise RuntimeError("this GcWatch is already active; use a second one to nest")
        gc.callbacks.append(self._callback)
        self._active = True
        return self

    def __exit__(self, *exc) -> None:
        self._active = False
        try:  # bound methods compare equal only when bound to this very watch
            gc.callbacks.remove(self._callback)
        except ValueError:  # someone else removed it already: nothing left to undo
            pass

    @property
    def active(self) -> bool:
        """True while the watch's callback is installed."""
        return self._active

    def pauses(self) -> pd.DataFrame:
        """Recorded collections in order, one row each.

        Columns: ``generation``, ``start_ns`` (``time.perf_counter_ns`` when the pause began),
        ``duration_ns``, ``collected`` and ``uncollectable`` (objects, as ``gc`` reports them).
        """
        k = self._recorded
        return pd.DataFrame(
            {
                "generation": self._generation[:k].astype(np.int64),
                "start_ns": self._start[:k].copy(),
                "duration_ns": self._duration[:k].copy(),
                "collected": self._collected[:k].copy(),
                "uncollectable": self._uncollectable[:k].copy(),
            },
            columns=list(_PAUSE_COLUMNS),
        )

    def summary(self) -> pd.DataFrame:
        """Per generation: ``collections`` counted, and over the recorded pauses
        ``recorded``, ``total_ns`` and ``max_ns`` of their durations."""
        pauses = self.pauses()
        grouped = pauses.groupby("generation")["duration_ns"]
        table = pd.DataFrame(
            {
                "collections": pd.Series(self.counts, dtype=np.int64),
                "recorded": grouped.size(),
                "total_ns": grouped.sum(),
                "max_ns": grouped.max(),
            },
            index=pd.Index(GENERATIONS, name="generation"),
        )
        return table.fillna(0).astype(np.int64)

    def __repr__(self) -> str:
        return (
            f"GcWatch(counts={self.counts}, recorded={self._recorded}, "
            f"dropped={self.dropped}, active={self._active})"
        )
