"""Checkers of lesson 07 (batching): a timeout's latency, batch capacity, and an AIMD that
sees the queue."""

from __future__ import annotations

import math

from latency_lab import engine, scenarios, units
from latency_lab.checks.core import (
    NO_ANSWER,
    Feedback,
    Rejected,
    call_learner,
    checker,
    close,
    describe,
    is_stub,
    number,
    same_as_reference,
    whole,
)
from latency_lab.engine import StepReport, simulate


@checker
def check_timeout_latency(answer) -> Feedback:
    """Lesson 07: latency of a request alone in a Triton-style batcher (max queue delay
    100 µs, preferred batch 8) when requests come every 1,000 µs and a batch of k takes
    (20 + 2·k) µs."""
    return close(
        answer,
        100 + 20 + 2 * 1,
        "the latency in µs",
        "no second request arrives within the 100 µs delay, so every batch holds one request: "
        "it waits the whole delay, then is served alone.",
    )


def _reference_capacity(setup_us, per_item_us, k):
    return k / (setup_us + per_item_us * k) * units.US_PER_S


@checker
def check_batch_capacity(func) -> Feedback:
    """Lesson 07: ``func(setup_us, per_item_us, k)`` returns the events per second a server
    sustains with back-to-back batches of ``k``."""
    cases = [(20.0, 2.0, 1), (20.0, 2.0, 32), (5.0, 0.5, 100), (0.0, 3.0, 7), (250.0, 0.1, 64),
             (1.5, 0.0, 3), (40.0, 10.0, 1024)]  # fmt: skip
    return same_as_reference(
        func,
        cases,
        _reference_capacity,
        describe_case=lambda s, p, k: f"setup_us={s:g}, per_item_us={p:g}, k={k}",
        hint="a batch of k takes setup_us + per_item_us·k µs and serves k events; "
        "a second has units.US_PER_S µs.",
        success="Correct: k / (setup + per_item·k) events per µs, times 1,000,000 µs per "
        "second. The setup cost is shared by the whole batch.",
        rel_tol=1e-6,
    )


class _ReferenceQueueAwareAIMD:
    """The exercise's reference: Clipper's AIMD on the batch cap that never cuts the cap
    while events wait — a backlog needs more capacity, not less."""

    def __init__(self, slo_us, cap):
        self.slo_us, self.cap, self.limit = slo_us, cap, 1

    def reset(self):
        self.limit = 1
        return 1, 0.0

    def update(self, report):
        if report.batches > 0:
            if report.queue_depth > 0 or report.service_us <= self.slo_us:
                self.limit = min(self.limit + 1, self.cap)
            else:
                self.limit = max(1, self.limit // 2)
        return self.limit, 0.0


class _Recorder:
    """Forwards to a controller and records its decisions and the reports it got."""

    def __init__(self, controller, learner: bool):
        self.controller, self.learner = controller, learner
        self.decisions: list[tuple[int, float]] = []
        self.reports: list[StepReport | None] = []

    def _keep(self, decision, report):
        if self.learner:
            decision = _learner_decision(decision, report)
        self.decisions.append(decision)
        self.reports.append(report)
        return decision

    def reset(self):
        method = self.controller.reset
        decision = call_learner(method) if self.learner else method()
        return self._keep(decision, None)

    def update(self, report):
        method = self.controller.update
        decision = call_learner(method, report) if self.learner else method(report)
        return self._keep(decision, report)


def _learner_decision(decision, report) -> tuple[int, float]:
    when = "reset()" if report is None else "update(report)"
    if decision is None:
        raise Rejected(f"Your {when} returned None: return a pair (max_batch, max_wait_us).")
    if isinstance(decision, str | bytes) or not hasattr(decision, "__len__"):
        raise Rejected(f"Your {when} returned {describe(decision)}: return (max_batch, 0.0).")
    if len(decision) != 2:
        raise Rejected(
            f"Your {when} returned {describe(decision)}: a decision is a pair "
            "(max_batch, max_wait_us)."
        )
    pair = whole(decision[0], "max_batch"), number(decision[1], "max_wait_us")
    try:
        return tuple(engine.decision(*pair))
    except (TypeError, ValueError) as exc:
        raise Rejected(f"Your {when} returned {pair}, which the engine refuses: {exc}.") from None


def _describe_report(report: StepReport | None) -> str:
    if report is None:
        return "the first decision (reset)"
    return (
        f"after a batch of {report.size} served in {report.service_us:.1f} µs that left "
        f"{report.queue_depth} events waiting"
    )


@checker
def check_queue_aware_aimd(cls) -> Feedback:
    """Lesson 07: a controller class ``cls(slo_us, cap)`` that starts at a limit of 1; after
    each batch adds 1 (up to ``cap``) if events are still waiting or the batch's service
    time was within ``slo_us``, and otherwise halves the limit (``//``, at least 1); never
    waits (``max_wait_us`` 0). Compared with the reference decision by decision on runs you
    have not seen."""
    if not callable(cls):
        raise Rejected(
            f"Pass your class itself, not {describe(cls)}: check_queue_aware_aimd(MyAIMD)."
        )
    if isinstance(cls, type):  # the notebook's stub: every method still just `...`
        methods = [vars(cls).get(name) for name in ("__init__", "reset", "update")]
        if all(m is not None and is_stub(m) for m in methods):
            return Feedback(False, NO_ANSWER)
    cases = [("bursty", 11, 150.0, 64, 4_000), ("calm", 12, 60.0, 16, 3_000),
             ("hawkes_flow", 13, 80.0, 128, 4_000), ("regime_shift", 14, 200.0, 32, 3_000)]  # fmt: skip
    for scenario, seed, slo_us, cap, events in cases:
        instance = scenarios.get(scenario).instance(events, seed=seed)
        reference = _Recorder(_ReferenceQueueAwareAIMD(slo_us, cap), learner=False)
        simulate(instance.arrivals, instance.service, policy=reference)
        mine = _Recorder(call_learner(cls, slo_us, cap), learner=True)
        for name in ("reset", "update"):
            if not callable(getattr(mine.controller, name, None)):
                raise Rejected(f"Your class has no {name}() method: a controller needs both.")
        simulate(instance.arrivals, instance.service, policy=mine)
        where = f"{scenario} (seed {seed}, slo_us={slo_us:g}, cap={cap})"
        for step, (want, got) in enumerate(zip(reference.decisions, mine.decisions, strict=False)):
            if got[0] != want[0] or not math.isclose(got[1], want[1], abs_tol=1e-9):
                return Feedback(
                    False,
                    f"On {where}, at decision {step} — {_describe_report(mine.reports[step])} — "
                    f"you decided {got}, the reference {want}. Hint: grow by 1 (at most cap) "
                    "when report.queue_depth > 0 or report.service_us <= slo_us; otherwise "
                    "halve with // and keep at least 1; always wait 0.0; a report with "
                    "batches == 0 changes nothing.",
                )
        if len(mine.decisions) != len(reference.decisions):
            return Feedback(
                False,
                f"On {where} your controller made {len(mine.decisions)} decisions, the "
                f"reference {len(reference.decisions)}: does update() depend on something "
                "besides the report?",
            )
    return Feedback(
        True,
        "Correct: your AIMD no longer cuts capacity while a queue waits, so a burst gets "
        "bigger batches instead of smaller ones.",
    )


__all__ = ["check_batch_capacity", "check_queue_aware_aimd", "check_timeout_latency"]
