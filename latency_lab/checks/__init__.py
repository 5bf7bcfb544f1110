"""Exercise checkers: ``checks.check_<exercise>(answer)`` gives friendly pass/fail feedback
(all lessons).

One module per lesson (``lesson00`` ... ``lesson06``) on one shared core (:mod:`.core`). The
lesson modules are imported lazily, on first use of one of their checkers, so that checking
a lesson-00 answer never imports what later lessons need (compiled kernels, the simulator).

Every checker returns a :class:`Feedback` (shown as ``✅ ...`` or ``❌ ...``; ``.passed`` for
tests), never raises because of the answer, and stops the learner's code after
``time_limit_s`` seconds (10 by default).
"""

from __future__ import annotations

import importlib

from latency_lab.checks.core import Feedback

#: Which lesson module defines each checker.
CHECKERS = {
    "check_tail_probability": "lesson00",
    "check_fanout_for_even_odds": "lesson00",
    "check_slow_action_fraction": "lesson00",
    "check_clock_choice": "lesson01",
    "check_float_spacing": "lesson01",
    "check_smallest_step": "lesson01",
    "check_nearest_rank": "lesson02",
    "check_corrected_count": "lesson02",
    "check_latencies_from_schedule": "lesson02",
    "check_row_stride": "lesson03",
    "check_vwap": "lesson03",
    "check_to_columns": "lesson03",
    "check_ring_slot": "lesson04",
    "check_reset_hook": "lesson04",
    "check_ring_push": "lesson04",
    "check_try_send": "lesson05",
    "check_staleness_reader": "lesson05",
    "check_channel_fill_time": "lesson05",
    "check_mm1_wait": "lesson06",
    "check_littles_law": "lesson06",
    "check_timeout_latency": "lesson07",
    "check_batch_capacity": "lesson07",
    "check_queue_aware_aimd": "lesson07",
    "check_pk_mean_wait": "lesson06",
    "check_step_cost": "lesson08",
    "check_q_update": "lesson08",
    "check_histogram_quantile": "lesson10",
    "check_mean_alert_share": "lesson10",
    "check_sync_interval": "lesson10",
    "check_stagger_period": "lesson09",
    "check_spike_breakdown": "lesson09",
    "check_coinciding_jobs": "lesson09",
}

__all__ = ["CHECKERS", "Feedback", *CHECKERS]


def __getattr__(name: str):
    """Import a checker's lesson module the first time the checker is asked for."""
    if name not in CHECKERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{CHECKERS[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(CHECKERS))
