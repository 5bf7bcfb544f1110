"""Hostile-input cases for ``tests/test_hostile.py``, run in a child process with limits.

Each group (one per ``latency_lab`` module) holds named cases (the hostile calls a review
found, each with its stated expectation) and a generic sweep: every public function, class
and method of the module whose numeric parameters can be given a small valid baseline is
called with hostile values, one parameter at a time, and must return normally or raise a
clean ``ValueError``/``TypeError`` — never crash, hang, exhaust memory or raise anything else;
a string or a bool given for a number must be refused, not used. A callable whose parameters
have no baseline is a failing case until a fixture (or a SKIP entry with its reason) is added,
so new public functions are swept too. ``ALLOWED`` lists the few outcomes that are fine by
design, each with its reason.

Run as ``python tests/hostile_cases.py GROUP START``: the child caps its address space, runs
the group's cases from index ``START`` and writes one JSON line per event to stdout::

    {"event": "start", "index": i, "name": ...}   before a case
    {"event": "done", "index": i, "name": ..., "verdict": ..., "detail": ...}   after it
    {"event": "end"}   when every case ran

``verdict`` is ``pass``, ``fail`` or (sweep only) ``unnamed``: a ValueError/TypeError whose
message does not name the parameter. A crash or a hang leaves a ``start`` without its
``done``; the parent kills the child, blames that case and starts a new child after it.
"""

from __future__ import annotations

import faulthandler
import fnmatch
import importlib
import inspect
import itertools
import json
import math
import os
import pkgutil
import resource
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Address space the child may use (bytes): a blow-up meets MemoryError or a refusal.
MEMORY_LIMIT_BYTES = 2 * 1024**3
#: Values substituted for one numeric parameter at a time.
HOSTILE = (10**12, 2**63 - 1, -1, 0, math.inf, math.nan, 1e-300, "5", True)
#: Exception types a refusal may have.
REFUSALS = (ValueError, TypeError)


# -- outcomes and expectations ----------------------------------------------------------------
@dataclass
class Outcome:
    """What a call did: returned ``value`` or raised ``error``."""

    value: object = None
    error: BaseException | None = None

    def describe(self) -> str:
        if self.error is not None:
            return f"raised {type(self.error).__name__}: {str(self.error)[:300]}"
        return f"returned {_short(self.value)}"


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype})"
    if isinstance(value, str | bytes | list | tuple) and len(value) > 100:
        return f"a {type(value).__name__} of length {len(value):,}"
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "…"


Expectation = Callable[[Outcome], str | None]  # None if met, else what went wrong


def raises(*types: type[BaseException], names: tuple[str, ...] = ()) -> Expectation:
    """The call raises one of ``types`` (ValueError/TypeError if none given), with one of
    ``names`` in the message when given."""
    types = types or REFUSALS

    def check(outcome: Outcome) -> str | None:
        if not isinstance(outcome.error, types):
            kinds = "/".join(t.__name__ for t in types)
            return f"expected {kinds}, but it {outcome.describe()}"
        if names and not any(name in str(outcome.error) for name in names):
            return f"expected the message to name {' or '.join(names)}; it {outcome.describe()}"
        return None

    return check


def returns(prop: Callable[[object], bool], what: str) -> Expectation:
    """The call returns a value for which ``prop`` holds (``what`` says which property)."""

    def check(outcome: Outcome) -> str | None:
        if outcome.error is not None:
            return f"expected it to return {what}, but it {outcome.describe()}"
        if not prop(outcome.value):
            return f"expected it to return {what}, but it {outcome.describe()}"
        return None

    return check


def either(*expectations: Expectation) -> Expectation:
    """At least one of ``expectations`` is met."""

    def check(outcome: Outcome) -> str | None:
        problems = [e(outcome) for e in expectations]
        return None if None in problems else " | or: ".join(problems)

    return check


@dataclass
class Case:
    """One hostile call: ``call()`` is judged by ``expect``; sweep cases name the parameter."""

    name: str
    call: Callable[[], object]
    expect: Expectation | None = None  # None: a sweep case (clean outcome, param named)
    param: str = ""  # sweep: the name a refusal must state
    value: object = None  # sweep: the hostile value given
    target: str = ""  # sweep: ``module.qualname(param)``, as ALLOWED patterns match it


def run_case(case: Case) -> tuple[str, str]:
    """Run one case in this process: its verdict and a detail line (never raises)."""
    try:
        outcome = Outcome(value=case.call())
    except BaseException as exc:  # every kind of exception is an outcome to judge
        outcome = Outcome(error=exc)
    try:
        verdict, detail = _judge(case, outcome)
    except BaseException as exc:  # judging must not end the child: it reports instead
        verdict, detail = "fail", f"judging the outcome raised {type(exc).__name__}: {exc}"
    if verdict != "pass" and case.target:
        reason = allowance(case.target)
        if reason:
            return "pass", f"allowed ({reason}); it {outcome.describe()}"
    return verdict, detail


def _judge(case: Case, outcome: Outcome) -> tuple[str, str]:
    if case.expect is not None:
        try:
            problem = case.expect(outcome)
        except Exception as exc:  # a property that cannot be evaluated is not met
            problem = (
                f"checking the result raised {type(exc).__name__}: {exc}; it {outcome.describe()}"
            )
        return ("fail", problem) if problem else ("pass", outcome.describe())
    error = outcome.error
    if error is None:
        if isinstance(case.value, str | bool):  # a string or bool is never a number
            return "fail", f"expected a TypeError for {case.value!r}, but it {outcome.describe()}"
        return "pass", outcome.describe()
    if not isinstance(error, REFUSALS) or "Unable to allocate" in str(error):
        return "fail", f"expected a return or ValueError/TypeError, but it {outcome.describe()}"
    if case.param not in str(error):
        return "unnamed", f"the message does not name {case.param!r}: it {outcome.describe()}"
    return "pass", outcome.describe()


# -- named cases (issue 7, section 5, and the other hostile inputs it lists) ----------------
def _sorted_finite(count: int) -> Callable[[object], bool]:
    def prop(times) -> bool:
        times = np.asarray(times)
        return (
            times.shape == (count,)
            and bool(np.isfinite(times).all())
            and bool((np.diff(times) >= 0).all())
        )

    return prop


def _spin(*args):
    deadline = time.monotonic() + 120  # a learner's infinite loop, bounded for safety
    while time.monotonic() < deadline:
        pass


def _erlang_c_reference(servers: int, load: float) -> float:
    """Erlang C by the stable Erlang B recurrence (no factorials, no overflow)."""
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    rho = load / servers
    return b / (1 - rho * (1 - b))


class _Lazy:
    """A latency_lab module imported on first attribute access, so that building the cases
    of one group imports nothing the others need."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(f"latency_lab.{self._name}"), attr)


def named_cases() -> dict[str, list[Case]]:
    """The named hostile calls, by module, each with its expectation (building them imports
    nothing; running one imports its module)."""
    import itertools as it

    engine, handoff, memory, queueing, stats = map(
        _Lazy, ("engine", "handoff", "memory", "queueing", "stats")
    )
    structures, timing, tracker, traffic = map(
        _Lazy, ("structures", "timing", "tracker", "traffic")
    )
    validate, checks = _Lazy("validate"), _Lazy("checks")

    groups: dict[str, list[Case]] = {}

    def add(module: str, name: str, call, expect: Expectation) -> None:
        groups.setdefault(module, []).append(Case(f"{module}: {name}", call, expect))

    # engine: max_batch beyond the trace behaves like the trace length; no garbage, no crash
    def huge_batch(n: int):
        arrivals, service = np.arange(float(n)), engine.ServiceModel(1, 0.001)
        runs = [engine.simulate(arrivals, service, 2**63 - 1, 100.0) for _ in range(2)]
        runs.append(engine.simulate(arrivals, service, n, 100.0))
        return [np.asarray(r.batch_size) for r in runs]

    def same_batches(n: int):
        return lambda sizes: all(np.array_equal(s, sizes[2]) for s in sizes) and sizes[2].sum() == n

    add(
        "engine",
        "simulate(np.arange(1000.0), ServiceModel(1, 0.001), 2**63 - 1, 100.0)",
        lambda: huge_batch(1000),
        returns(same_batches(1000), "the batches of max_batch=1000"),
    )

    def serve_state(report_slots: int, sizes: int = 4):
        """A fresh simulator's state for engine.serve_batch, with the sizes given."""
        return (
            np.arange(4.0), np.empty(0), 1.0, 0.5, np.zeros(4, dtype=np.int64),
            np.array([-np.inf, -np.inf, 0.0, 0.0, np.nan, np.nan, np.nan]), np.empty(4),
            np.empty(sizes, dtype=np.int64), np.empty(4), np.empty(4, dtype=np.int64),
            np.empty(report_slots),
        )  # fmt: skip

    for label, state in [("a 3-slot report", lambda: serve_state(3)),
                         ("batch sizes of another length", lambda: serve_state(11, 2))]:  # fmt: skip
        add(
            "engine",
            f"serve_batch(state with {label}, 1, 0.0)",
            lambda state=state: engine.serve_batch(state(), 1, 0.0),
            raises(ValueError),
        )

    def refused_untouched(max_batch, max_wait_us):
        state = serve_state(11)
        return engine.serve_batch(state, max_batch, max_wait_us), int(state[4][0])

    for bad in [(0, 0.0), (1, math.nan), (1, -1.0)]:
        add(
            "engine",
            f"serve_batch(a consistent state, {bad[0]}, {bad[1]})",
            lambda bad=bad: refused_untouched(*bad),
            returns(lambda out: out == (engine.REFUSED, 0), "REFUSED, nothing served"),
        )
    add(
        "engine",
        "serve_batch(a consistent state, 1, 0.0)",
        lambda: engine.serve_batch(serve_state(11), 1, 0.0),
        returns(lambda status: status == engine.SERVED, "SERVED"),
    )
    add(
        "engine",
        "simulate(3M events, max_batch=2**63 - 1) twice",
        lambda: huge_batch(3_000_000),
        returns(same_batches(3_000_000), "the same batches each run, those of max_batch=n"),
    )
    add(
        "engine",
        "simulate(2-D arrivals)",
        lambda: engine.simulate(np.arange(6.0).reshape(2, 3), engine.ServiceModel(1, 1)),
        raises(ValueError, names=("arrivals",)),
    )
    add(
        "engine",
        'Simulator.run(until_us="5")',
        lambda: engine.Simulator(np.arange(10.0), engine.ServiceModel(1, 1)).run(
            4, 10.0, until_us="5"
        ),
        raises(names=("until_us",)),
    )

    # compiled lesson kernels: mismatched sizes raise instead of reading out of bounds
    add("memory", "chase(np.array([5]), 10)", lambda: memory.chase(np.array([5]), 10), raises())
    add(
        "memory",
        "vwap_loop(np.ones(10**7), np.ones(2))",
        lambda: memory.vwap_loop(np.ones(10**7), np.ones(2)),
        raises(ValueError),
    )
    for kernel in ("sum_by_rows", "sum_by_columns"):
        add(
            "memory",
            f"{kernel}(np.ones((2, 2)), 10**6)",
            lambda k=kernel: getattr(memory, k)(np.ones((2, 2)), 10**6),
            either(raises(), returns(lambda total: total == 4.0, "the sum of all 4 cells")),
        )
    add(
        "memory",
        "traversal_table(n=16, lines=10**6)",
        lambda: memory.traversal_table(n=16, lines=10**6),
        either(raises(names=("lines",)), returns(lambda t: hasattr(t, "columns"), "a table")),
    )

    # traffic: bounded work and memory, no silent garbage
    for call_text, make, count in [
        ("MMPP(5e8, 5e8, 1e6, 1e6).arrivals(10)", lambda: traffic.MMPP(5e8, 5e8, 1e6, 1e6), 10),
        ("MMPP(10, 10, 1.0, 1.0).arrivals(100)", lambda: traffic.MMPP(10, 10, 1.0, 1.0), 100),
        ("MMPP(0, 1e-3, 1, 1).arrivals(1)", lambda: traffic.MMPP(0, 1e-3, 1, 1), 1),
        (
            "RegimeShift([(Poisson(1000), 1e-6)]).arrivals(10)",
            lambda: traffic.RegimeShift([(traffic.Poisson(1000.0), 1e-6)]),
            10,
        ),
        (
            "RegimeShift([(Poisson(1000), 1e-300)]).arrivals(10)",
            lambda: traffic.RegimeShift([(traffic.Poisson(1000.0), 1e-300)]),
            10,
        ),
    ]:
        add(
            "traffic",
            call_text,
            lambda make=make, count=count: make().arrivals(count, seed=1),
            either(raises(), returns(_sorted_finite(count), f"{count} sorted finite times")),
        )
    add(
        "traffic",
        "Poisson(inf).arrivals(20)",
        lambda: traffic.Poisson(math.inf).arrivals(20, seed=1),
        raises(ValueError, names=("rate",)),
    )
    add(
        "traffic",
        "Poisson(1e-300).arrivals(10**5)",
        lambda: traffic.Poisson(1e-300).arrivals(10**5, seed=1),
        either(
            raises(ValueError, names=("rate",)),
            returns(_sorted_finite(10**5), "10**5 sorted finite times"),
        ),
    )
    add(
        "traffic",
        "Poisson(1000).arrivals(10**12)",
        lambda: traffic.Poisson(1000.0).arrivals(10**12, seed=1),
        raises(ValueError, names=("n",)),
    )
    add(
        "traffic",
        "window_counts([0.0, 4e8], 1.0)",
        lambda: traffic.window_counts([0.0, 4e8], 1.0),
        raises(ValueError),
    )
    for helper in ("window_counts", "rate_over_time", "index_of_dispersion"):
        add(
            "traffic",
            f"{helper}(unsorted arrivals, 1.0)",
            lambda h=helper: getattr(traffic, h)([3.0, 1.0, 2.0], 1.0),
            raises(ValueError, names=("arrivals",)),
        )
    for seed in (-1, 1.5, "1"):
        add(
            "traffic",
            f"Poisson(1000).arrivals(10, seed={seed!r})",
            lambda seed=seed: traffic.Poisson(1000.0).arrivals(10, seed=seed),
            raises(names=("seed",)),
        )

    def read_two_columns():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "trace.csv")
            path.write_text("arrival_us\n1.0\t2.0\n3.0\t4.0\n")
            return traffic.read_csv(path)

    add("traffic", "read_csv(two tab-separated columns)", read_two_columns, raises(ValueError))
    add("traffic", "read_csv(0)", lambda: traffic.read_csv(0), raises(names=("path",)))

    # queueing: Erlang C is computed stably at many servers
    for servers in (700, 1000, 1400, 5000):
        load = 0.9 * servers
        want = _erlang_c_reference(servers, load)
        add(
            "queueing",
            f"erlang_c at {servers} servers, rho = 0.9",
            lambda s=servers, load=load: queueing.erlang_c(load * 10_000.0, 100.0, s),
            returns(
                lambda c, want=want: 0 <= c <= 1 and math.isclose(c, want, rel_tol=1e-9),
                f"{want:.12g} (Erlang B recurrence)",
            ),
        )

    # stats: strings are not percentiles; out-of-range values are stated as they are
    for p in ("50", ["50"]):
        add(
            "stats",
            f"percentiles(samples, {p!r})",
            lambda p=p: stats.percentiles(np.arange(10.0), p),
            raises(names=("p",)),
        )
    add(
        "stats",
        "LogHistogram().record([2**63])",
        lambda: stats.LogHistogram().record([2**63]),
        raises(
            ValueError,
            names=("9223372036854775808", "9,223,372,036,854,775,808", "9.223372036854776e+18"),
        ),
    )

    # tracker: no zeros from a float clock, no truncated samples, no numpy-sized errors
    def float_clock():
        t = tracker.LatencyTracker(clock=time.perf_counter)
        with t.measure():
            time.sleep(0.002)
        return t.samples()

    add(
        "tracker",
        "LatencyTracker(clock=time.perf_counter)",
        float_clock,
        either(
            raises(names=("clock",)),
            returns(lambda s: len(s) == 1 and s[0] >= 1_000_000, "a 2 ms sleep as >= 1e6 ns"),
        ),
    )

    def record_float():
        t = tracker.LatencyTracker()
        t.record(1.9)
        return t.samples()

    add(
        "tracker",
        "LatencyTracker().record(1.9)",
        record_float,
        either(
            raises(names=("latency_ns",)),
            returns(lambda s: list(s) == [2], "the sample rounded to 2"),
        ),
    )
    add(
        "tracker",
        "LatencyTracker(capacity=10**12)",
        lambda: tracker.LatencyTracker(capacity=10**12),
        raises(ValueError, names=("capacity",)),
    )

    # structures: no NaN prices or negative sizes, no shared or vanishing pooled objects
    tick_calls = {
        "TickBuffer.append(price=nan)": (lambda b: b.append(1, math.nan, 1.0), "price"),
        "TickBuffer.append(size=-5)": (lambda b: b.append(1, 100.0, -5.0), "size"),
        "TickBuffer.extend(prices with NaN)": (
            lambda b: b.extend([1, 2], [100.0, math.nan], [1.0, 1.0]),
            "prices",
        ),
        "TickBuffer.extend(negative sizes)": (
            lambda b: b.extend([1, 2], [100.0, 101.0], [1.0, -1.0]),
            "sizes",
        ),
    }
    for text, (call, param) in tick_calls.items():
        add(
            "structures",
            text,
            lambda call=call: call(structures.TickBuffer(8)),
            raises(ValueError, names=(param,)),
        )
    add(
        "structures",
        "TickBuffer(10**12)",
        lambda: structures.TickBuffer(10**12),
        raises(ValueError, names=("capacity",)),
    )

    def pool_of_tuples():
        pool = structures.ObjectPool(tuple)
        return pool.acquire(), pool.acquire(), pool.in_use

    add(
        "structures",
        "ObjectPool(tuple): acquire twice",
        pool_of_tuples,
        either(
            raises(),
            returns(lambda r: r[0] is not r[1] and r[2] == 2, "two distinct objects in use"),
        ),
    )
    add(
        "structures",
        "ObjectPool(list, 10**9)",
        lambda: structures.ObjectPool(list, 10**9),
        raises(ValueError, names=("initial",)),
    )

    def raising_reset():
        def reset(obj):
            raise RuntimeError("reset failed")

        pool = structures.ObjectPool(list, reset=reset)
        obj = pool.acquire()
        try:
            pool.release(obj)
        except Exception:
            pass
        stats_ = pool.stats()
        return stats_["in_use"] + stats_["free"] + stats_["discarded"]

    add(
        "structures",
        "ObjectPool with a raising reset hook: the object stays accounted for",
        raising_reset,
        returns(lambda total: total == 1, "in_use + free + discarded == 1"),
    )

    def push_endless():
        ring = structures.RingBuffer(4)
        return ring.push_many(it.count()), ring.pop_many()

    add(
        "structures",
        "RingBuffer(4).push_many(itertools.count())",
        push_endless,
        either(raises(), returns(lambda r: r == (4, [0, 1, 2, 3]), "(4, [0, 1, 2, 3])")),
    )

    # timing: unbounded work is refused up front
    add(
        "timing",
        "consecutive_reads(time.perf_counter_ns, reads=10**12)",
        lambda: timing.consecutive_reads(time.perf_counter_ns, reads=10**12),
        raises(ValueError, names=("reads",)),
    )

    # handoff: a producer that cannot run surfaces as an error, nothing hangs
    add(
        "handoff",
        'cross_thread("deque", items=10, rate=1e-300)',
        lambda: handoff.cross_thread("deque", items=10, rate=1e-300),
        raises(),
    )
    add(
        "handoff",
        'cross_thread("nope")',
        lambda: handoff.cross_thread("nope", items=10),
        raises(names=("kind",)),
    )

    # validate: infinity is not a finite float
    add(
        "validate",
        'real("x", inf)',
        lambda: validate.real("x", math.inf),
        raises(ValueError, names=("x",)),
    )

    # checkers: a looping, exiting or crashing learner function becomes feedback
    def looping(name):
        return lambda: getattr(checks, name)(_spin, time_limit_s=1)

    stopped = returns(
        lambda fb: not fb.passed and "did not return within 1 s" in fb.message,
        "failing feedback saying the function did not return",
    )
    for name in ("check_nearest_rank", "check_vwap", "check_reset_hook"):
        add("checks", f"{name}(a function that loops forever)", looping(name), stopped)
    add(
        "checks",
        "check_nearest_rank(a function calling sys.exit)",
        lambda: checks.check_nearest_rank(lambda s, p: sys.exit(0)),
        returns(lambda fb: not fb.passed and "SystemExit" in fb.message, "failing feedback"),
    )
    add(
        "checks",
        "check_vwap(a function calling os._exit)",
        lambda: checks.check_vwap(lambda p, s: os._exit(0)),
        returns(lambda fb: not fb.passed, "failing feedback"),
    )
    return groups


# -- the generic sweep --------------------------------------------------------------------------
def _noop() -> None:
    pass


def _arrivals() -> np.ndarray:
    return np.arange(1.0, 101.0) * 10.0


def _fixtures() -> dict[str, Callable[[], object]]:
    """Small valid baseline values by parameter name (factories: each call gets fresh ones).

    Sizes are small so that a hostile value that is legitimately accepted still returns fast.
    """
    engine, timing, traffic = _Lazy("engine"), _Lazy("timing"), _Lazy("traffic")
    values = {
        # sizes and repetitions
        "n": 64, "calls": 10, "repeats": 1, "reads": 10, "steps": 100, "ops": 10,
        "items": 20, "lines": 4, "rounds": 2, "capacity": 8, "initial": 1, "warmup": 1,
        "window": 16, "levels": 8, "buffer_bytes": 64, "working_set_bytes": 4096,
        "block_ns": 10_000, "max_size": 4, "max_items": 2, "count": 10, "k": 4,
        "significant_digits": 3, "highest": 10**6, "since_batch": 0, "first_batch": 0,
        # times, rates and queueing parameters
        "time_limit_s": 5.0, "timeout_s": 5.0, "p": 99.0, "percentile": 99.0,
        "expected_interval": 10, "expected_interval_ns": 10, "arrival_rate": 10_000.0,
        "mean_service_us": 20.0, "service_us": 20.0, "servers": 2, "arrival_cv": 1.0,
        "service_cv": 1.0, "mean_time_us": 20.0, "rate": 1_000.0, "calm_rate": 1_000.0,
        "burst_rate": 10_000.0, "mean_calm_us": 1_000.0, "mean_burst_us": 100.0,
        "baseline_rate": 1_000.0, "branching_ratio": 0.5, "decay_us": 100.0,
        "setup_us": 5.0, "per_item_us": 1.0, "max_batch": 4, "max_wait_us": 10.0,
        "max_batches": 3, "until_us": 500.0, "interval_us": 100.0, "at_us": 50.0,
        "slo_us": 50.0, "target": 4, "cap": 64, "increase": 1, "decrease": 0.5, "seed": 0,
        "span_us": 100.0, "window_us": 10.0, "rate_per_s": 1_000.0, "ns": 1_000, "us": 1.0, "seconds": 1.0,
        # ticks, samples and learners' answers
        "timestamp_ns": 1, "price": 100.0, "size": 5.0, "latency_ns": 1_000, "rows": 2,
        "cols": 2, "full": 10, "quick": 1, "answer": 0.5, "value": 1, "name": "x",
        "kind": "deque", "scenario": "calm", "is_ns": True, "description": "a workload",
        "numerator": "a", "denominator": "b", "mode": "bulk",
        "q": 0.99, "operation": "signal", "threshold_s": 0.0005,
    }  # fmt: skip
    factories: dict[str, Callable[[], object]] = {k: (lambda v=v: v) for k, v in values.items()}
    factories.update(
        {
            "arrivals": _arrivals,
            "samples": lambda: np.arange(1.0, 101.0),
            "values": lambda: np.arange(1, 101),
            "samples_ns": lambda: {"x": np.arange(1, 101)},
            "sizes_bytes": lambda: [4096, 8192],
            "segments": lambda: [(traffic.Poisson(1_000.0), 1_000.0)],
            "process": lambda: traffic.Poisson(1_000.0),
            "service": lambda: engine.ServiceModel(5.0, 1.0),
            "func": lambda: time.perf_counter_ns,
            "clock": lambda: time.perf_counter_ns,
            "factory": lambda: list,
            "cases": lambda: {"noop": _noop},
            "candidates": lambda: {"a": _noop, "b": _noop},
            "frame": lambda: timing.compare(
                {"a": _noop, "b": _noop}, rounds=2, mode="per_call", calls=10
            ),
            "nxt": lambda: np.roll(np.arange(16), -1),
            "a": lambda: np.ones((4, 4)),
            "prices": lambda: np.full(8, 100.0),
            "sizes": lambda: np.full(8, 5.0),
            "timestamps_ns": lambda: np.arange(8),
            "allowed": lambda: ("x", "y"),
            "le_s": lambda: [0.001, 0.01, math.inf],
            "cumulative": lambda: [5.0, 9.0, 10.0],
            # sweeps: one small run
            "config": lambda: _Lazy("sweep").Config("calm", "timeout", 4, 10.0, events=64),
            "configs": lambda: [_Lazy("sweep").Config("calm", "timeout", 4, 10.0, events=64)],
            "seeds": lambda: [0],
            "plan": lambda: _Lazy("sweep").tasks(
                [_Lazy("sweep").Config("calm", "timeout", 4, 10.0, events=64)], [0]
            ),
            "result": lambda: engine.simulate(_arrivals(), engine.ServiceModel(5.0, 1.0), 4, 10.0),
            # the compiled engine kernel's own state, as a fresh Simulator holds it
            "multipliers": lambda: np.empty(0),
            "istate": lambda: np.zeros(4, dtype=np.int64),
            "fstate": lambda: np.array([-np.inf, -np.inf, 10.0, 0.0, np.nan, np.nan, np.nan]),
            "batch_start": lambda: np.empty(100),
            "batch_size": lambda: np.empty(100, dtype=np.int64),
            "batch_service": lambda: np.empty(100),
            "batch_backlog": lambda: np.empty(100, dtype=np.int64),
        }
    )
    return factories


def _tiny_env_config() -> dict:
    """A short calm lesson-08 episode with two caps: a few milliseconds per episode."""
    return {"scenario": "calm", "events": 200, "caps": (1, 4)}


def _log_axis():
    """The x axis of a fresh log-scale plot (no pyplot state)."""
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    ax.set_xscale("log")
    return ax.xaxis


def _tiny_agent():
    """An untrained agent on :func:`_tiny_env_config`: keeps each call of train, run_agent
    and evaluate (one seed, one scenario) to tens of milliseconds."""
    return _Lazy("agent").QAgent(env_config=_tiny_env_config())


#: Baselines for one callable (by ``module.qualname``), overriding the fixtures; a list gives
#: several variants (each swept), e.g. sized by count and sized by time.
OVERRIDES: dict[str, list[dict[str, Callable[[], object]]]] = {
    "traffic.ArrivalProcess.arrivals": [
        {"n": lambda: 64},
        {"n": lambda: None, "duration_us": lambda: 100_000.0},
    ],
    "scenarios.Scenario.arrivals": [
        {"n": lambda: 64},
        {"n": lambda: None, "duration_us": lambda: 100_000.0},
    ],
    "scenarios.Scenario.instance": [
        {"n": lambda: 64},
        {"n": lambda: None, "duration_us": lambda: 100_000.0},
    ],
    "scenarios.Scenario.simulate": [
        {"n": lambda: 64},
        {"n": lambda: None, "duration_us": lambda: 100_000.0},
    ],
    "scenarios.get": [{"name": lambda: "calm"}],
    "scenarios.Instance": [
        {
            "scenario": lambda: "calm",
            "seed": lambda: np.random.SeedSequence(0),
        }
    ],
    "engine.run_kernel": [{"max_batches": lambda: 100, "until_us": lambda: math.inf}],
    "plots.log_ticks": [{"axis": _log_axis, "low": lambda: 10.0, "high": lambda: 1_000.0}],
    "memory.cache_sweep": [{"steps": lambda: 100}],
    "validate.one_of": [{"value": lambda: "x"}],
    "structures.RingBuffer.push_many": [{"items": lambda: [1, 2, 3]}],
    "structures.TickBuffer.latest": [{"n": lambda: 4}],
    "structures.TickBuffer.vwap": [{"n": lambda: 4}],
    "tracker.LatencyTracker": [{"capacity": lambda: 1_000}],
    "timing.verdict": [{"a": lambda: "a", "b": lambda: "b"}],
    "sweep.Config": [
        {
            "slo_us": lambda: None,
            "target": lambda: None,
            "interval_us": lambda: None,
            "events": lambda: 64,
        }
    ],
    # lesson 08: a short episode, states and actions of the tabular view, one tiny agent
    "env.BatchingEnv": [{"events": lambda: 200}],
    "env.BatchingEnv.decision": [{"action": lambda: 0}],
    "env.BatchingEnv.step": [{"action": lambda: 0}],
    "env.step_cost": [{"latencies": lambda: np.array([10.0, 80.0]), "queue_depth": lambda: 2}],
    "env.bins": [{"depth": lambda: 2.0, "tail": lambda: 150.0}],
    "env.state_index": [{"depth": lambda: 2.0, "tail": lambda: 150.0}],
    "env.state_bins": [{"state": lambda: 0}],
    "agent.QAgent": [{"env_config": _tiny_env_config}],
    "agent.QAgent.act": [{"state": lambda: 0}],
    "agent.QAgent.greedy": [{"state": lambda: 0}],
    "agent.q_update": [
        {
            "q": lambda: np.zeros((3, 2)),
            "state": lambda: 0,
            "action": lambda: 1,
            "reward": lambda: -1.0,
            "next_state": lambda: 1,
            "terminal": lambda: False,
            "alpha": lambda: 0.5,
            "gamma": lambda: 0.9,
        }
    ],
    "agent.training_seeds": [{"episodes": lambda: 2}],
    "agent.baseline_configs": [{"events": lambda: 64}],
    "agent.static_grid": [{"events": lambda: 64, "caps": lambda: [1, 4]}],
    "agent.train": [{"agent": _tiny_agent, "episodes": lambda: 1}],
    "agent.run_agent": [{"agent": _tiny_agent}],
    "agent.evaluate": [{"agent": _tiny_agent, "seeds": lambda: [0]}],
}

#: Called on a fresh instance before one of its methods is swept (methods that need data).
PREPARE: dict[str, Callable[[object], None]] = {
    "stats.LogHistogram": lambda h: h.record(np.arange(1, 101)),
    "structures.TickBuffer": lambda b: b.extend(np.arange(8), np.full(8, 100.0), np.full(8, 5.0)),
    "tracker.LatencyTracker": lambda t: [t.record(v) for v in range(1, 101)],
    "env.BatchingEnv": lambda e: e.reset(seed=0),
}

#: Callables the sweep does not call, each with the reason.
SKIP = {
    "checks.core": "helpers that judges call inside a checker: they signal a verdict by raising "
    "Rejected or LearnerError, which the checker wrapper turns into feedback; the checkers "
    "themselves (lesson modules) are swept",
    "traffic.ArrivalProcess": "abstract base: every concrete process is swept",
    "engine.SimulationResult": "made by Simulator.result(); its fields are the engine's outputs",
    "allocation.Order": "a plain record for the allocation experiments: stores what it is given",
    "structures.Channel": "abstract base: make_channel(kind, capacity) makes each kind, swept",
    "agent.AgentRun": "a record made by run_agent (swept): stores the run it is given",
}

#: Sweep outcomes that are fine by design, by ``module.qualname(param)`` pattern (fnmatch),
#: each with the reason. Kept short: anything else the sweep flags is a bug to fix.
ALLOWED = {
    "config.scaled(*)": "returns one of its two arguments unchanged: notebooks pass literals",
    "checks.lesson*.check_*(answer)": "a checker judges whatever a learner passes, a string or "
    "a bool included, and answers with feedback",
    "validate.*(low)": "bounds come from the calling module's own code, not from users; "
    "Python's TypeError on comparing a string bound is clear to that code's author",
    "validate.*(high)": "as for low",
}


def allowance(target: str) -> str | None:
    """The reason ``target`` (``module.qualname(param)``) is allowed, or None."""
    for pattern, reason in ALLOWED.items():
        if fnmatch.fnmatchcase(target, pattern):
            return reason
    return None


def _short_name(module_name: str) -> str:
    return module_name.removeprefix("latency_lab.")


def public_modules() -> list[str]:
    """Every public module of latency_lab (sub-packages included), as ``latency_lab.x``."""
    import latency_lab

    names = []
    for info in pkgutil.walk_packages(latency_lab.__path__, "latency_lab."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _signature(obj) -> inspect.Signature | None:
    try:
        return inspect.signature(obj, follow_wrapped=False)
    except (TypeError, ValueError):
        return None


def _is_numeric_value(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _is_numeric_annotation(annotation) -> bool:
    if not isinstance(annotation, str):
        annotation = getattr(annotation, "__name__", str(annotation))
    parts = {part.strip() for part in annotation.split("|")}
    return bool(parts) and parts <= {"int", "float", "None"} and parts != {"None"}


def _baselines(key: str, sig: inspect.Signature, fixtures) -> tuple[list[dict], list[str]]:
    """Baseline keyword factories for each variant, and the required parameters with none."""
    variants = OVERRIDES.get(key, [{}])
    out, missing = [], []
    for variant in variants:
        factories = {}
        for param in sig.parameters.values():
            if param.name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if param.name in variant:
                factories[param.name] = variant[param.name]
            elif param.name in fixtures:
                factories[param.name] = fixtures[param.name]
            elif param.default is not param.empty:
                factories[param.name] = lambda d=param.default: d
            else:
                missing.append(param.name)
        out.append(factories)
    return out, sorted(set(missing))


def _numeric_params(sig: inspect.Signature, factories: dict) -> list[str]:
    names = []
    for name, make in factories.items():
        value = make()
        annotation = sig.parameters[name].annotation
        if _is_numeric_value(value) or (
            value is None
            and annotation is not inspect.Parameter.empty
            and _is_numeric_annotation(annotation)
        ):
            names.append(name)
    return names


def _call_with(func, sig: inspect.Signature, kwargs: dict):
    """Call ``func`` with positional-or-keyword parameters passed by position (numba
    dispatchers take no keywords) and keyword-only ones by keyword."""
    args, keywords = [], {}
    for param in sig.parameters.values():
        if param.name not in kwargs:
            continue
        if param.kind is param.KEYWORD_ONLY:
            keywords[param.name] = kwargs[param.name]
        else:
            args.append(kwargs[param.name])
    return func(*args, **keywords)


def _ours(module_name: str | None) -> bool:
    """Whether ``module_name`` is latency_lab or one of its modules."""
    return module_name == "latency_lab" or (module_name or "").startswith("latency_lab.")


def _targets(module) -> list[tuple[str, object, object]]:
    """(key, callable, owner class or None) for every public function, class and method
    defined in latency_lab (inherited third-party methods are left to their library)."""
    short = _short_name(module.__name__)
    found = []
    for attr in sorted(vars(module)):
        obj = getattr(module, attr)
        if attr.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj):
            if issubclass(obj, BaseException) or (
                issubclass(obj, tuple) and hasattr(obj, "_fields")
            ):
                continue  # exceptions and record types (named tuples): no behaviour to sweep
            found.append((f"{short}.{attr}", obj, None))
            for name in sorted(dir(obj)):
                member = inspect.getattr_static(obj, name)
                if name.startswith("_") or isinstance(member, property):
                    continue
                # only methods written in latency_lab: members inherited from a third-party
                # base (gymnasium.Env's wrapper helpers, say) are that library's to test
                if inspect.isfunction(member) and _ours(member.__module__):
                    owner_name = member.__qualname__.split(".")[0]
                    owner_module = _short_name(member.__module__)
                    found.append((f"{owner_module}.{owner_name}.{name}", obj, name))
        elif callable(obj):
            found.append((f"{short}.{attr}", obj, None))
    return found


def _skipped(key: str, class_key: str | None) -> bool:
    """Whether SKIP names the callable, its class or its module (``a.b.c``: ``a``, ``a.b``...)."""
    parts = (class_key or key).split(".")
    prefixes = {".".join(parts[: i + 1]) for i in range(len(parts))}
    return key in SKIP or bool(prefixes & SKIP.keys())


def _overridden(key: str) -> dict[str, Callable[[], object]]:
    """Every baseline factory OVERRIDES gives ``key``, across its variants."""
    return {name: make for variant in OVERRIDES.get(key, ()) for name, make in variant.items()}


def _may_be_numeric(sig: inspect.Signature, fixtures) -> bool:
    """Whether any parameter looks numeric from its fixture (or override), default or
    annotation."""
    for param in sig.parameters.values():
        if param.name in fixtures and _is_numeric_value(fixtures[param.name]()):
            return True
        if param.default is not param.empty and _is_numeric_value(param.default):
            return True
        if param.annotation is not param.empty and _is_numeric_annotation(param.annotation):
            return True
    return False


def sweep_cases(module_name: str) -> list[Case]:
    """The generic sweep of one module: a case per (callable, numeric parameter, value),
    plus one failing case per callable that has no baseline (so that a new function with
    unknown parameters is noticed, not silently left out)."""
    module = importlib.import_module(module_name)
    fixtures = _fixtures()
    cases: list[Case] = []
    for key, obj, method in _targets(module):
        class_key = f"{_short_name(module_name)}.{obj.__name__}" if method else None
        if _skipped(key, class_key):
            continue
        if method is None:
            sig = _signature(obj)
            make_target = lambda obj=obj: obj  # noqa: E731
            missing_ctor: list[str] = []
        else:
            sig = _signature(getattr(obj, method))
            if sig is not None and "self" in sig.parameters:
                sig = sig.replace(parameters=list(sig.parameters.values())[1:])
            ctor_sig = _signature(obj)
            ctor_variants, missing_ctor = _baselines(class_key, ctor_sig, fixtures)
            ctor, prepare = ctor_variants[0], PREPARE.get(class_key)

            def make_target(obj=obj, ctor=ctor, ctor_sig=ctor_sig, method=method, prepare=prepare):
                instance = _call_with(obj, ctor_sig, {k: f() for k, f in ctor.items()})
                if prepare is not None:
                    prepare(instance)
                return getattr(instance, method)

        if sig is None or not _may_be_numeric(sig, {**fixtures, **_overridden(key)}):
            continue
        variants, missing = _baselines(key, sig, fixtures)
        missing = sorted(set(missing) | {f"{obj.__name__}({name})" for name in missing_ctor})
        if missing:
            problem = (
                f"no baseline value for {', '.join(missing)}: add one to the fixtures of "
                "tests/hostile_cases.py (or a SKIP entry with the reason)"
            )
            cases.append(Case(f"sweep {key}: baseline", _noop, lambda o, p=problem: p))
            continue
        for number, factories in enumerate(variants):
            params = _numeric_params(sig, factories)
            if not params:
                continue
            tag = f"#{number + 1}" if len(variants) > 1 else ""

            def baseline(make_target=make_target, sig=sig, factories=factories):
                return _call_with(make_target(), sig, {k: f() for k, f in factories.items()})

            cases.append(
                Case(
                    f"sweep {key}{tag}: baseline",
                    baseline,
                    returns(lambda _: True, "normally (the sweep's baseline call)"),
                )
            )
            for param, value in itertools.product(params, HOSTILE):

                def call(make_target=make_target, sig=sig, f=factories, param=param, value=value):
                    kwargs = {k: make() for k, make in f.items()}
                    kwargs[param] = value
                    return _call_with(make_target(), sig, kwargs)

                # validate's checks name the checked value by their ``name`` argument
                named = fixtures["name"]() if key.startswith("validate.") else param
                cases.append(
                    Case(
                        f"sweep {key}{tag}({param}={value!r})",
                        call,
                        param=named,
                        value=value,
                        target=f"{key}({param})",
                    )
                )
    return cases


def selftest_cases() -> list[Case]:
    """Cases with known verdicts, to show that the harness catches what it must."""

    def stray_thread():
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()

    def refuse():
        raise ValueError("bad value")

    return [
        Case("selftest: returns", lambda: 1, returns(lambda v: v == 1, "1")),
        Case("selftest: segfault", lambda: os.kill(os.getpid(), 11), returns(bool, "")),
        Case("selftest: after a crash", lambda: 2, returns(lambda v: v == 2, "2")),
        Case("selftest: hang", _spin, returns(bool, "")),
        Case("selftest: memory", lambda: np.empty(3 * 2**30 // 8), param="n"),  # > the limit
        Case("selftest: unnamed", refuse, param="n"),
        Case("selftest: stray thread", stray_thread, returns(lambda v: True, "")),
        Case("selftest: last", lambda: 3, returns(lambda v: v == 3, "3")),
    ]


def group_cases(group: str) -> list[Case]:
    """Every case of one group (a module's short name): named cases first, then the sweep."""
    if group == "selftest":
        return selftest_cases()
    named = named_cases().get(group, [])
    return named + sweep_cases(f"latency_lab.{group}")


# -- the child's main loop ----------------------------------------------------------------------
def _limit_memory() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = MEMORY_LIMIT_BYTES if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT_BYTES, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def main(group: str, start: int) -> None:
    """Run the group's cases from ``start``, reporting on the original stdout as JSON lines;
    anything the cases print goes to stderr instead."""
    report = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    faulthandler.enable()  # a segfault's traceback lands in stderr for the parent to show
    warnings.simplefilter("ignore")
    _limit_memory()

    def emit(**event) -> None:
        report.write(json.dumps(event) + "\n")
        report.flush()

    try:
        cases = group_cases(group)
    except BaseException as exc:
        emit(event="error", detail=f"building the cases raised {type(exc).__name__}: {exc}")
        os._exit(0)
    threads = threading.active_count()
    for index in range(start, len(cases)):
        case = cases[index]
        emit(event="start", index=index, name=case.name)
        verdict, detail = run_case(case)
        deadline = time.monotonic() + 2
        while threading.active_count() > threads and time.monotonic() < deadline:
            time.sleep(0.01)
        leftover = threading.active_count() - threads
        if leftover > 0:
            verdict = "fail"
            detail = f"left {leftover} thread(s) running after it {detail}"
        emit(event="done", index=index, name=case.name, verdict=verdict, detail=detail)
        if leftover > 0:
            os._exit(0)  # the parent goes on in a fresh child, without the stray threads
    emit(event="end", count=len(cases))
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
