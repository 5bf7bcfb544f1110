"""Sweeps of seeded simulations: one pure run per (config, seed), many at once (lessons 07–08).

A :class:`Config` names a scenario, a policy with its parameters, a trace length and
optional service overrides. It is checked once, when it is built, and holds every value
resolved (a policy's defaults filled in, parameters it does not use set to None), so two
configs that mean the same run are equal and share one :attr:`Config.key`.

:func:`run_one` turns ``(config, seed)`` into one tidy row (a dict with :data:`COLUMNS`):
the config, the seed, the latency percentiles (µs), throughput, utilization and whether
the server kept up. It is a pure function of its arguments, so rows do not depend on where
or in which order they are computed. :func:`sweep` runs every (config, seed) pair with
joblib — in one process (``jobs=1``), in ``jobs`` local worker processes (``backend="loky"``),
or on a Dask cluster through joblib's Dask backend (``backend="dask"``, the optional
``dask`` extra) — and returns the same rows in the same order whatever the parallelism.
:func:`iter_rows` is the same work yielding each row as it completes (what the command
line writes to disk as it goes); :func:`summarize` and :func:`frontier` reduce rows to one
line per config and to the configs no other beats on both latency and throughput.

Policies by name: ``static`` (full batches of ``max_batch``, or after ``max_wait_us``,
default inf), ``greedy`` (``max_wait_us`` is 0), ``timeout`` (``max_wait_us`` default 50),
``aimd`` (Clipper's AIMD with limit ``max_batch``, ``slo_us`` default 100, ``max_wait_us``
default 0) and ``queue_depth`` (``target`` default ``min(8, max_batch)``, limit
``max_batch``, ``max_wait_us`` default 50); the last two decide after every batch, or every
``interval_us`` µs of simulated time if given.

Limits (work is refused up front, with the limit's name, beyond them): at most
:data:`MAX_RUN_EVENTS` events per run, :data:`MAX_CONFIGS` configs and :data:`MAX_SEEDS`
seeds per sweep, :data:`MAX_RUNS` runs and :data:`MAX_TOTAL_EVENTS` simulated events in
all, :data:`MAX_JOBS` parallel jobs; an adaptive policy's ``interval_us`` must be at least
the scenario's mean gap between arrivals (at most one decision per event on average).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import joblib
import pandas as pd
from tqdm import tqdm

from latency_lab import engine, policies, scenarios, traffic, units, validate
from latency_lab.engine import SimulationResult

#: Policy names, in the order lessons introduce them.
POLICIES = ("static", "greedy", "timeout", "aimd", "queue_depth")
#: Where :func:`sweep` runs: local worker processes, or a Dask cluster.
BACKENDS = ("loky", "dask")

#: Largest trace of one run (events).
MAX_RUN_EVENTS = 5_000_000
#: Most configs in one sweep.
MAX_CONFIGS = 10_000
#: Most seeds in one sweep.
MAX_SEEDS = 1_000
#: Most runs (configs × seeds) in one sweep.
MAX_RUNS = 100_000
#: Most simulated events in one sweep, summed over its runs (about an hour of static runs).
MAX_TOTAL_EVENTS = 2_000_000_000
#: Most parallel jobs.
MAX_JOBS = 64
#: Largest seed (seeds are stored as 64-bit integers in tables).
MAX_SEED = 2**63 - 1

#: Parameters each policy uses besides ``max_batch`` (its batch size, or its limit).
_USES = {
    "static": ("max_wait_us",),
    "greedy": (),
    "timeout": ("max_wait_us",),
    "aimd": ("max_wait_us", "slo_us", "interval_us"),
    "queue_depth": ("max_wait_us", "target", "interval_us"),
}
_DEFAULT_WAIT_US = {
    "static": math.inf,
    "greedy": 0.0,
    "timeout": 50.0,
    "aimd": 0.0,
    "queue_depth": 50.0,
}
#: Default service-time objective of ``aimd`` (µs) and backlog target of ``queue_depth``.
DEFAULT_SLO_US = 100.0
DEFAULT_TARGET = 8

#: The latency and load statistics of a row, as ``SimulationResult.summary()`` names them.
METRICS = (
    "count", "mean_us", "std_us", "min_us", "p50_us", "p90_us", "p99_us", "p99.9_us",
    "max_us", "throughput_per_s", "offered_rate_per_s", "utilization", "batches",
    "mean_batch", "stable",
)  # fmt: skip


@dataclass(frozen=True)
class Config:
    """One simulated setting of a sweep (lesson 07): scenario, policy, trace length, service.

    Parameters
    ----------
    scenario : str
        A name in :data:`latency_lab.scenarios.SCENARIOS`.
    policy : str
        One of :data:`POLICIES` (see the module docstring for what each uses).
    max_batch : int, 1 to MAX_EVENTS
        Batch size (static, greedy, timeout) or the largest batch allowed (aimd, queue_depth).
    max_wait_us : float >= 0 (inf allowed) or None
        Longest wait of the oldest event (µs); None means the policy's default. ``greedy``
        only accepts 0.
    slo_us : float > 0 or None
        ``aimd`` only: the service time (µs) under which its limit grows.
    target : int, 1 to max_batch, or None
        ``queue_depth`` only: the backlog at which it serves everything waiting at once.
    interval_us : float or None
        ``aimd`` and ``queue_depth``: decide every ``interval_us`` µs of simulated time
        (inf: once) instead of after every batch; at least the scenario's mean gap.
    events : int, 1 to MAX_RUN_EVENTS
        Length of the trace.
    setup_us, per_item_us, service_cv : float or None
        Override the scenario's service (cost per batch, per event, in µs; cv of the
        lognormal multiplier); None keeps the scenario's value, which is then filled in.
    """

    scenario: str = "bursty"
    policy: str = "timeout"
    max_batch: int = 16
    max_wait_us: float | None = None
    slo_us: float | None = None
    target: int | None = None
    interval_us: float | None = None
    events: int = 100_000
    setup_us: float | None = None
    per_item_us: float | None = None
    service_cv: float | None = None

    def __post_init__(self):
        fix = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        scenario = scenarios.SCENARIOS[
            validate.one_of("scenario", self.scenario, tuple(scenarios.SCENARIOS))
        ]
        validate.one_of("policy", self.policy, POLICIES)
        fix(
            "max_batch",
            validate.integer("max_batch", self.max_batch, low=1, high=traffic.MAX_EVENTS),
        )
        fix("events", validate.integer("events", self.events, low=1, high=MAX_RUN_EVENTS))
        uses = _USES[self.policy]
        for name in ("max_wait_us", "slo_us", "target", "interval_us"):
            if name not in uses and getattr(self, name) is not None:
                users = [p for p in POLICIES if name in _USES[p]]
                raise ValueError(
                    f"{name} applies to policy {' or '.join(map(repr, users))} only, "
                    f"not {self.policy!r}"
                )
        wait = self.max_wait_us
        if wait is None:
            wait = _DEFAULT_WAIT_US[self.policy]
        wait = validate.real("max_wait_us", wait, low=0, allow_inf=True)
        if self.policy == "greedy" and self.max_wait_us is not None and wait != 0:
            raise ValueError(
                f"max_wait_us of policy 'greedy' is always 0, got {wait}: use policy "
                "'timeout' to wait for a batch"
            )
        fix("max_wait_us", wait)
        if "slo_us" in uses:
            slo = DEFAULT_SLO_US if self.slo_us is None else self.slo_us
            fix("slo_us", validate.real("slo_us", slo, low=0, low_open=True))
        if "target" in uses:
            target = min(DEFAULT_TARGET, self.max_batch) if self.target is None else self.target
            fix("target", validate.integer("target", target, low=1, high=self.max_batch))
        if self.interval_us is not None:
            gap = units.rate_to_gap_us(scenario.process.mean_rate)
            interval = validate.real("interval_us", self.interval_us, low=0, allow_inf=True)
            if interval < gap:
                raise ValueError(
                    f"interval_us must be at least the mean gap between arrivals of "
                    f"{self.scenario!r} ({gap:.3g} µs: at most one decision per event on "
                    f"average), got {interval:g}"
                )
            fix("interval_us", interval)
        service = scenario.service
        overrides = {"setup_us": self.setup_us, "per_item_us": self.per_item_us}
        for name, value in overrides.items():
            if value is not None:
                validate.real(name, value, low=0, high=engine.MAX_SERVICE_US)
        if self.service_cv is not None:
            validate.real("service_cv", self.service_cv, low=0, high=engine.MAX_CV)
            if service.distribution != "lognormal":
                raise ValueError(
                    f"service_cv applies to lognormal service only; {self.scenario!r} has "
                    f"{service.distribution} service"
                )
        changes = {k: float(v) for k, v in overrides.items() if v is not None}
        if self.service_cv is not None:
            changes["cv"] = float(self.service_cv)
        service = dataclasses.replace(service, **changes)  # ServiceModel checks the pair
        fix("setup_us", float(service.setup_us))
        fix("per_item_us", float(service.per_item_us))
        fix("service_cv", float(service.multiplier_cv))
        object.__setattr__(self, "_scenario", dataclasses.replace(scenario, service=service))

    @property
    def key(self) -> str:
        """The config as one string (``scenario=bursty/policy=timeout/...``): equal configs,
        equal keys; used to recognise finished runs when a sweep is resumed."""
        return "/".join(f"{k}={v}" for k, v in self.to_dict().items() if v is not None)

    def to_dict(self) -> dict[str, object]:
        """The resolved fields, in order (None for parameters the policy does not use)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def scenario_object(self) -> scenarios.Scenario:
        """The scenario, with this config's service."""
        return self._scenario

    def policy_object(self) -> policies.Policy:
        """A fresh controller for this config (adaptive policies keep state: one per run)."""
        if self.policy in ("static", "timeout", "greedy"):
            return policies.Static(self.max_batch, self.max_wait_us)
        if self.policy == "aimd":
            return policies.AIMD(
                self.slo_us, self.max_wait_us, cap=self.max_batch, interval_us=self.interval_us
            )
        return policies.QueueDepth(
            self.target, self.max_wait_us, cap=self.max_batch, interval_us=self.interval_us
        )


#: Columns of a row, in order: the config, the seed, the config's capacity, the metrics, the key.
COLUMNS = (
    *(f.name for f in dataclasses.fields(Config)),
    "seed",
    "capacity_per_s",
    *METRICS,
    "key",
)


def as_config(config) -> Config:
    """``config`` as a :class:`Config`: a Config as is, or a mapping of its fields."""
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        unknown = sorted(set(map(str, config)) - {f.name for f in dataclasses.fields(Config)})
        if unknown:
            fields = ", ".join(f.name for f in dataclasses.fields(Config))
            raise ValueError(f"config has unknown field(s) {unknown}; fields are {fields}")
        return Config(**config)
    raise TypeError(
        f"config must be a Config or a mapping of its fields, got {type(config).__name__}"
    )


def _seed(name: str, seed) -> int:
    return validate.integer(name, seed, low=0, high=MAX_SEED)


def simulate(config, seed: int) -> SimulationResult:
    """Simulate one run (lesson 07): ``config``'s scenario instance for ``seed``, under a
    fresh controller of its policy. ``config`` is a :class:`Config` or a mapping of its
    fields; ``seed`` an int in [0, MAX_SEED]."""
    config = as_config(config)
    seed = _seed("seed", seed)
    instance = config.scenario_object().instance(config.events, seed=seed)
    return instance.simulate(policy=config.policy_object())


def make_row(config, seed: int, result: SimulationResult) -> dict[str, object]:
    """The tidy row (keys :data:`COLUMNS`) of a run of ``config`` with ``seed``."""
    config = as_config(config)
    seed = _seed("seed", seed)
    if not isinstance(result, SimulationResult):
        raise TypeError(f"result must be a SimulationResult, got {type(result).__name__}")
    summary = result.summary()
    service = config.scenario_object().service
    return {
        **config.to_dict(),
        "seed": seed,
        "capacity_per_s": float(service.capacity(config.max_batch)),
        **{name: summary[name] for name in METRICS},
        "key": config.key,
    }


def run_one(config, seed: int) -> dict[str, object]:
    """One run as one tidy row (lesson 07): a pure function of ``(config, seed)``.

    The row (keys :data:`COLUMNS`) holds the resolved config, the seed, ``capacity_per_s``
    (the highest throughput the service sustains with batches of ``max_batch``), the
    latency statistics in µs (``p50_us`` ... ``max_us``), ``throughput_per_s``,
    ``offered_rate_per_s``, ``utilization``, ``batches``, ``mean_batch``, ``stable``, and
    the config's :attr:`~Config.key`.
    """
    config = as_config(config)
    return make_row(config, seed, simulate(config, seed))


class Task(NamedTuple):
    """One run of a sweep: its position in the sweep's order, its config and its seed."""

    index: int
    config: Config
    seed: int


def tasks(configs, seeds: Iterable[int]) -> list[Task]:
    """The runs of a sweep, checked once (lesson 07): every config with every seed,
    config-major (all seeds of the first config, then the next config).

    ``configs`` is one :class:`Config` (or mapping of its fields) or an iterable of them;
    ``seeds`` an iterable of ints such as ``range(10)``. Duplicates are refused (they would
    give the same row twice), and so is work beyond the limits in the module docstring.
    """
    if isinstance(configs, Config | Mapping):
        configs = [configs]
    if isinstance(configs, str | bytes) or not isinstance(configs, Iterable):
        raise TypeError(f"configs must be Configs or mappings, got {type(configs).__name__}")
    checked: list[Config] = []
    seen: dict[str, int] = {}
    for i, config in enumerate(itertools.islice(configs, MAX_CONFIGS + 1)):
        if i == MAX_CONFIGS:
            raise ValueError(f"configs: more than MAX_CONFIGS = {MAX_CONFIGS:,} in one sweep")
        try:
            config = as_config(config)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"configs[{i}]: {exc}") from None
        if config.key in seen:
            raise ValueError(f"configs[{i}] repeats configs[{seen[config.key]}] ({config.key})")
        seen[config.key] = i
        checked.append(config)
    if not checked:
        raise ValueError("configs is empty: there is nothing to run")
    if isinstance(seeds, int) or not isinstance(seeds, Iterable) or isinstance(seeds, str):
        raise TypeError(
            f"seeds must be an iterable of ints such as range(10), got {type(seeds).__name__}"
        )
    seed_list: list[int] = []
    for i, seed in enumerate(itertools.islice(seeds, MAX_SEEDS + 1)):
        if i == MAX_SEEDS:
            raise ValueError(f"seeds: more than MAX_SEEDS = {MAX_SEEDS:,} in one sweep")
        seed_list.append(_seed(f"seeds[{i}]", seed))
    if not seed_list:
        raise ValueError("seeds is empty: there is nothing to run")
    if len(set(seed_list)) != len(seed_list):
        raise ValueError("seeds has duplicates: each seed would give the same rows twice")
    runs = len(checked) * len(seed_list)
    if runs > MAX_RUNS:
        raise ValueError(
            f"{len(checked):,} configs × {len(seed_list):,} seeds = {runs:,} runs, above "
            f"MAX_RUNS = {MAX_RUNS:,}"
        )
    total = sum(c.events for c in checked) * len(seed_list)
    if total > MAX_TOTAL_EVENTS:
        raise ValueError(
            f"this sweep simulates {total:,} events in all, above MAX_TOTAL_EVENTS = "
            f"{MAX_TOTAL_EVENTS:,}: use fewer events, configs or seeds"
        )
    pairs = itertools.product(checked, seed_list)
    return [Task(i, config, seed) for i, (config, seed) in enumerate(pairs)]


def _run_task(task: Task) -> tuple[int, dict[str, object]]:
    return task.index, run_one(task.config, task.seed)


def _check_tasks(plan) -> list[Task]:
    if isinstance(plan, str | bytes) or not isinstance(plan, Iterable):
        raise TypeError(f"tasks must be a list of Task from tasks(), got {type(plan).__name__}")
    plan = list(itertools.islice(plan, MAX_RUNS + 1))
    if len(plan) > MAX_RUNS:
        raise ValueError(f"tasks: more than MAX_RUNS = {MAX_RUNS:,} runs")
    for task in plan:
        if not isinstance(task, Task) or not isinstance(task.config, Config):
            raise TypeError(f"tasks must be Task objects from tasks(), got {task!r:.80}")
    return plan


def _connect(scheduler):
    """A Dask client for ``scheduler`` (an address or a Client) and whether we own it."""
    try:
        import distributed
    except ImportError:
        raise ValueError(
            "backend 'dask' needs the optional dask extra: pip install 'latency-lab[dask]'"
        ) from None
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    if not isinstance(scheduler, str) or not scheduler:
        raise ValueError(
            "scheduler must be a Dask scheduler address such as 'tcp://127.0.0.1:8786' (or a "
            f"distributed.Client) with backend 'dask', got {scheduler!r}"
        )
    try:
        client = distributed.Client(scheduler, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(f"scheduler {scheduler!r}: cannot connect ({exc})") from None
    return client, True


def iter_rows(
    plan, *, jobs: int = 1, backend: str = "loky", scheduler=None, progress: bool = False
) -> Iterator[tuple[int, dict[str, object]]]:
    """Run the tasks of ``plan`` (from :func:`tasks`) and yield ``(task.index, row)`` as each
    run completes, in completion order (lesson 07).

    ``jobs`` (1 to MAX_JOBS) local processes with ``backend="loky"`` (1: in this process);
    with ``backend="dask"``, the runs go through joblib's Dask backend to the cluster at
    ``scheduler`` (an address such as ``'tcp://127.0.0.1:8786'``, or a
    ``distributed.Client``), whose workers set the parallelism (``jobs`` is not used). A
    progress bar goes to stderr if ``progress``. Arguments are checked when this is called;
    the runs start when the first row is asked for. Closing the generator early stops the
    runs still pending (and disconnects from the scheduler).
    """
    plan = _check_tasks(plan)
    jobs = validate.integer("jobs", jobs, low=1, high=MAX_JOBS)
    validate.one_of("backend", backend, BACKENDS)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {type(progress).__name__}")
    if backend == "loky" and scheduler is not None:
        raise ValueError("scheduler applies to backend 'dask' only")
    client, owned = _connect(scheduler) if backend == "dask" else (None, False)
    return _rows(plan, jobs, client, owned, progress)


def _rows(plan, jobs, client, owned, progress):
    # no tqdm object at all without a bar: creating one starts tqdm's monitor thread
    bar = tqdm(total=len(plan), file=sys.stderr, unit="run", desc="sweep") if progress else None
    try:
        if client is None:
            config = joblib.parallel_config(backend="loky", n_jobs=jobs)
        else:
            config = joblib.parallel_config(backend="dask", client=client)
        with config:
            parallel = joblib.Parallel(return_as="generator_unordered", batch_size=1)
            for index, row in parallel(joblib.delayed(_run_task)(task) for task in plan):
                if bar is not None:
                    bar.update(1)
                yield index, row
    finally:
        if bar is not None:
            bar.close()
        if owned:
            client.close()


def sweep(
    configs,
    seeds: Iterable[int],
    *,
    jobs: int = 1,
    backend: str = "loky",
    scheduler=None,
    progress: bool = False,
) -> pd.DataFrame:
    """Run every config with every seed and return one row per run (lesson 07).

    Rows (columns :data:`COLUMNS`) come in the order of :func:`tasks` — config-major —
    and are the same whatever ``jobs``, ``backend`` and ``scheduler`` (see
    :func:`iter_rows`), since each is :func:`run_one` of its (config, seed).

    Examples
    --------
    >>> configs = grid(scenario="bursty", policy="timeout", max_batch=[1, 4, 16],
    ...                max_wait_us=[0, 50], events=20_000)
    >>> rows = sweep(configs, seeds=range(3), jobs=2)
    """
    plan = tasks(configs, seeds)
    rows: list[dict | None] = [None] * len(plan)
    for index, row in iter_rows(
        plan, jobs=jobs, backend=backend, scheduler=scheduler, progress=progress
    ):
        rows[index] = row
    return to_frame(rows)


def to_frame(records: Iterable[Mapping]) -> pd.DataFrame:
    """Rows (dicts from :func:`run_one`) as a DataFrame with :data:`COLUMNS`; parameters a policy does not use are NaN
    (as when the rows are read back from a CSV file)."""
    if isinstance(records, str | bytes | Mapping) or not isinstance(records, Iterable):
        raise TypeError(f"records must be an iterable of rows, got {type(records).__name__}")
    rows = list(itertools.islice(records, MAX_RUNS + 1))
    if len(rows) > MAX_RUNS:
        raise ValueError(f"records: more than MAX_RUNS = {MAX_RUNS:,} rows")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"records[{i}] must be a row (a dict), got {type(row).__name__}")
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for name in ("max_wait_us", "slo_us", "target", "interval_us"):
        frame[name] = frame[name].astype(float)
    return frame


def grid(**axes) -> list[Config]:
    """Every combination of the given :class:`Config` fields (lesson 07).

    Each keyword is a field; a list (or tuple, or range) gives the values to sweep, anything
    else one value. Combinations come in the order of the fields in :class:`Config`, the
    last field varying fastest, so ``grid(max_batch=[1, 2], max_wait_us=[0, 10])`` is
    (1, 0), (1, 10), (2, 0), (2, 10).

    With several policies, a policy's own fields (``max_wait_us``, ``slo_us``, ``target``,
    ``interval_us``) apply to the policies that use them: ``grid(policy=["greedy", "aimd"],
    slo_us=[50, 100])`` is one greedy config and two aimd ones (combinations that differ
    only in fields their policy does not use are one config). A field that no policy of the
    grid uses is refused, and so are more than MAX_CONFIGS combinations, before any is built.
    """
    order = [f.name for f in dataclasses.fields(Config)]
    unknown = sorted(set(axes) - set(order))
    if unknown:
        raise ValueError(f"grid got unknown field(s) {unknown}; fields are {', '.join(order)}")
    names = [name for name in order if name in axes]
    values = []
    for name in names:
        value = axes[name]
        value = list(value) if isinstance(value, list | tuple | range) else [value]
        if not value:
            raise ValueError(f"{name} has no values")
        values.append(value)
    count = math.prod(len(v) for v in values)
    if count > MAX_CONFIGS:
        raise ValueError(f"grid has {count:,} combinations, above MAX_CONFIGS = {MAX_CONFIGS:,}")
    chosen = values[names.index("policy")] if "policy" in names else [Config.policy]
    for policy in chosen:
        validate.one_of("policy", policy, POLICIES)
    for name in set(names) & {"max_wait_us", "slo_us", "target", "interval_us"}:
        if not any(name in _USES[p] for p in chosen):
            users = [p for p in POLICIES if name in _USES[p]]
            raise ValueError(
                f"{name} applies to policy {' or '.join(map(repr, users))} only, and the grid "
                f"has policy {', '.join(map(repr, chosen))}"
            )
    configs: dict[str, Config] = {}
    for combo in itertools.product(*values):
        fields = dict(zip(names, combo, strict=True))
        policy = fields.get("policy", Config.policy)
        for name in ("max_wait_us", "slo_us", "target", "interval_us"):
            if name in fields and name not in _USES[policy]:
                del fields[name]
        config = Config(**fields)
        configs.setdefault(config.key, config)
    return list(configs.values())


#: Statistics :func:`summarize` reduces over seeds (median, and min and max).
SUMMARIZED = (
    "p50_us", "p90_us", "p99_us", "p99.9_us", "max_us", "throughput_per_s", "utilization",
    "mean_batch",
)  # fmt: skip


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One line per config (lesson 07): over its seeds, the median, min and max of each
    run's statistics (``p99_us_median``, ``p99_us_min``, ``p99_us_max``, ...), the number
    of ``seeds`` and of ``stable_runs``; configs in order of first appearance.

    The median of the runs' p99 is a typical run's p99, and min–max its spread over seeds;
    it is not the p99 of all events pooled (percentiles are never averaged: pool the runs'
    latencies for that).
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a DataFrame of rows, got {type(frame).__name__}")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks the row columns {missing}")
    if frame.empty:
        raise ValueError("frame has no rows: there is nothing to summarize")
    groups = frame.groupby("key", sort=False)
    config_columns = [f.name for f in dataclasses.fields(Config)] + ["capacity_per_s", "key"]
    out = groups[config_columns].first().reset_index(drop=True)
    out["seeds"] = groups["seed"].count().to_numpy()
    out["stable_runs"] = groups["stable"].sum().to_numpy().astype(int)
    for name in SUMMARIZED:
        values = groups[name]
        out[f"{name}_median"] = values.median().to_numpy()
        out[f"{name}_min"] = values.min().to_numpy()
        out[f"{name}_max"] = values.max().to_numpy()
    return out


def frontier(frame: pd.DataFrame, x: str = "capacity_per_s", y: str = "p99_us") -> pd.DataFrame:
    """The rows no other row beats on both counts (lesson 07): no other has ``x`` at least
    as high (throughput: more is better) and ``y`` at least as low (latency: less is better)
    with one of them strictly. Sorted by ``x``; rows with NaN in either are left out, and of
    rows with equal (x, y) the first is kept.

    On :func:`summarize` output use ``y="p99_us_median"`` (or any other column).
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a DataFrame, got {type(frame).__name__}")
    for name, column in (("x", x), ("y", y)):
        if column not in frame.columns:
            raise ValueError(f"{name}={column!r} is not a column of frame")
    data = frame.dropna(subset=[x, y])
    order = data.sort_values([x, y], ascending=[False, True], kind="stable")
    keep, best = [], math.inf
    for label, value in zip(order.index, order[y].to_numpy(), strict=True):
        if value < best:
            keep.append(label)
            best = value
    return frame.loc[keep].sort_values(x, kind="stable")
