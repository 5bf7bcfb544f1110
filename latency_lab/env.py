"""A Gymnasium environment over the batching engine (lesson 08): decide a batch cap every
interval of simulated time, be rewarded for keeping the tail short.

The MDP
-------
Time. The agent decides every ``interval_us`` µs of simulated time (1,000 µs by default), not
after every batch: a fixed interval gives every step the same length, so an arrival count is
a rate, the discount ``gamma`` means the same horizon in every regime, and the number of
decisions per episode does not grow with the load (per-batch decisions would come 10× more
often in a burst, exactly when each one is cheapest to get wrong). Each step is one call of
the engine's own :meth:`~latency_lab.engine.Simulator.step` (there is no second simulator);
the batches inside the interval keep the decision.

Actions. ``Discrete(len(caps) · len(waits))``: action ``a`` is the batch cap
``caps[a // len(waits)]`` with the wait ``waits[a % len(waits)]`` (µs). By default the caps
are 1, 2, 4, ..., 64 and the only wait is 0: greedy with a cap that the agent moves.

Observation. ``Box(4,)`` of float32: ``[queue_depth, arrival_rate_per_s, recent_tail_us,
max_batch]`` — events waiting at the end of the step; arrivals per second, smoothed over
about ``1/rate_smoothing`` steps (the regime signal); the worst latency of the events served
recently (µs, smoothed the same way; the last value is kept through a step that served
nothing); the cap in force.

Tabular view. :meth:`BatchingEnv.discretize` maps an observation to one of
:data:`N_STATES` = 5 × 4 × 4 = 80 states: queue depth in bins split at
:data:`DEPTH_EDGES` (0, 1–3, 4–15, 16–63, 64+), rate at :data:`RATE_EDGES` (per s), recent
tail at :data:`TAIL_EDGES` (µs). The cap in force is left out of the table: with a wait of 0
the cap only matters through the queue, which is observed.

Reward. Tail latency is not additive over steps; the per-step reward is
``−cost / reward_scale`` with ``cost = tail_weight · Σ max(latency − slo_us, 0)/slo_us +
mean_weight · Σ latency/slo_us + backlog_weight · queue_depth · interval_us/slo_us`` over the
events served in the step (see :func:`step_cost`). Its sum over an episode is the total
latency above the SLO (the area of the tail beyond ``slo_us``, in SLOs), a little of the total
latency, and the waiting time of the backlog at each decision. An episode whose p99 is under
the SLO has fewer than 1% of its events contributing to the first term, so driving that sum
down drives the tail down — but it is not the p99: see lesson 08 for where it misleads.

Seeding. ``reset(seed=s)`` builds the scenario instance ``Scenario.instance(events, seed=s)``
— the same traffic and service as ``sweep.run_one`` with seed ``s`` — and
``reset(options={"scenario": name})`` switches scenario. ``reset()`` without a seed draws
the instance's seed from the environment's own generator (seeded by the first ``seed``).
"""

from __future__ import annotations

import math
from collections import deque

import gymnasium
import numpy as np
from gymnasium import spaces
from numba import njit

from latency_lab import scenarios, units, validate
from latency_lab.engine import SimulationResult, Simulator

#: Registered Gymnasium id: ``gymnasium.make(ENV_ID)``.
ENV_ID = "latency_lab/Batching-v0"
#: Default batch caps (actions) and waits (µs).
CAPS = (1, 2, 4, 8, 16, 32, 64)
WAITS = (0.0,)
#: Bin edges of the tabular view: queue depth (events), arrival rate (events/s), tail (µs).
DEPTH_EDGES = (1, 4, 16, 64)
RATE_EDGES = (30_000, 80_000, 150_000)
TAIL_EDGES = (100, 300, 1_000)
#: Number of tabular states.
N_STATES = (len(DEPTH_EDGES) + 1) * (len(RATE_EDGES) + 1) * (len(TAIL_EDGES) + 1)
#: Largest episode (events) and the trace the render keeps (steps).
MAX_EPISODE_EVENTS = 2_000_000
RENDER_STEPS = 300
#: Largest seed an instance accepts from reset (seeds are 64-bit in tables).
MAX_SEED = 2**63 - 1
_OBS_HIGH = np.float32(np.finfo(np.float32).max)
_FLOATS = (float, np.float32, np.float64)


@njit(cache=True)
def _costs(latencies, slo_us):
    """(Σ max(l − slo, 0), Σ l, max l) over ``latencies`` in one pass."""
    excess = 0.0
    total = 0.0
    worst = 0.0
    for value in latencies:
        total += value
        if value > slo_us:
            excess += value - slo_us
        if value > worst:
            worst = value
    return excess, total, worst


def step_cost(latencies, queue_depth, interval_us, slo_us, *, tail_weight=1.0,
              mean_weight=0.05, backlog_weight=0.1) -> float:  # fmt: skip
    """The cost of one step (lesson 08), in SLOs: the reward is ``−step_cost(...)/scale``.

    ``tail_weight · Σ max(l − slo_us, 0)/slo_us + mean_weight · Σ l/slo_us +
    backlog_weight · queue_depth · interval_us/slo_us`` over the step's latencies ``l`` (µs).
    """
    latencies = validate.samples("latencies", latencies) if len(latencies) else np.empty(0)
    queue_depth = validate.integer("queue_depth", queue_depth, low=0)
    interval_us = validate.real("interval_us", interval_us, low=0, low_open=True)
    slo_us = validate.real("slo_us", slo_us, low=0, low_open=True)
    tail_weight = validate.real("tail_weight", tail_weight, low=0)
    mean_weight = validate.real("mean_weight", mean_weight, low=0)
    backlog_weight = validate.real("backlog_weight", backlog_weight, low=0)
    excess, total, _ = _costs(latencies, slo_us)
    return (
        tail_weight * excess + mean_weight * total + backlog_weight * queue_depth * interval_us
    ) / slo_us


class BatchingEnv(gymnasium.Env):
    """A batching server as a Gymnasium environment (lesson 08); see the module docstring.

    Parameters
    ----------
    scenario : str
        A name in :data:`latency_lab.scenarios.SCENARIOS` (``options={"scenario": ...}``
        in ``reset`` changes it).
    events : int, 1 to MAX_EPISODE_EVENTS
        Events per episode (the first ``events`` arrivals of the instance).
    interval_us : float > 0
        Simulated µs between decisions.
    caps, waits : sequences
        Batch caps (ints >= 1) and waits (µs >= 0, finite) the actions combine.
    slo_us : float > 0
        The latency the reward's tail term counts from (µs).
    tail_weight, mean_weight, backlog_weight, reward_scale : float >= 0 (scale > 0)
        The reward's weights (see :func:`step_cost`) and divisor.
    rate_smoothing : float in (0, 1]
        Weight of the newest step in the smoothed rate and tail.
    render_mode : None or "rgb_array"
        ``render()`` returns an RGB image of the recent tail and batch-cap trace.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, scenario: str = "regime_shift", events: int = 36_000,
                 interval_us: float = 1_000.0, caps=CAPS, waits=WAITS, slo_us: float = 200.0,
                 tail_weight: float = 1.0, mean_weight: float = 0.05,
                 backlog_weight: float = 0.1, reward_scale: float = 100.0,
                 rate_smoothing: float = 0.3, render_mode: str | None = None):  # fmt: skip
        self.scenario = validate.one_of("scenario", scenario, tuple(scenarios.SCENARIOS))
        self.events = validate.integer("events", events, low=1, high=MAX_EPISODE_EVENTS)
        self.interval_us = validate.real("interval_us", interval_us, low=0, low_open=True)
        gap = units.rate_to_gap_us(scenarios.get(self.scenario).process.mean_rate)
        if self.interval_us < gap:
            raise ValueError(
                f"interval_us must be at least the mean gap between arrivals of {scenario!r} "
                f"({gap:.3g} µs), got {self.interval_us:g}"
            )
        self.caps = _values("caps", caps, integer=True)
        self.waits = _values("waits", waits, integer=False)
        self.slo_us = validate.real("slo_us", slo_us, low=0, low_open=True)
        self.tail_weight = validate.real("tail_weight", tail_weight, low=0)
        self.mean_weight = validate.real("mean_weight", mean_weight, low=0)
        self.backlog_weight = validate.real("backlog_weight", backlog_weight, low=0)
        self.reward_scale = validate.real("reward_scale", reward_scale, low=0, low_open=True)
        self.rate_smoothing = validate.real(
            "rate_smoothing", rate_smoothing, low=0, high=1, low_open=True
        )
        if render_mode is not None:
            validate.one_of("render_mode", render_mode, tuple(self.metadata["render_modes"]))
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(len(self.caps) * len(self.waits))
        self.observation_space = spaces.Box(0.0, _OBS_HIGH, shape=(4,), dtype=np.float32)
        self._decisions = [(c, w) for c in self.caps for w in self.waits]
        self._sim: Simulator | None = None
        self._trace: deque = deque(maxlen=RENDER_STEPS)

    # -- the Gymnasium interface ----------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode on a new instance: ``Scenario.instance(events, seed=seed)``."""
        if seed is not None:
            seed = validate.integer("seed", seed, low=0, high=MAX_SEED)
        super().reset(seed=seed)
        if options is not None:
            if not isinstance(options, dict):
                raise TypeError(f"options must be a dict, got {type(options).__name__}")
            unknown = sorted(set(options) - {"scenario"})
            if unknown:
                raise ValueError(f"options has unknown key(s) {unknown}; known: ['scenario']")
            if "scenario" in options:
                self.scenario = validate.one_of(
                    "scenario", options["scenario"], tuple(scenarios.SCENARIOS)
                )
        if seed is None:
            seed = int(self.np_random.integers(0, 2**62))
        self.instance_seed = seed
        instance = scenarios.get(self.scenario).instance(self.events, seed=seed)
        self._sim = instance.simulator()
        self._steps = 0
        self._max_steps = self._step_limit(instance)
        self._depth = 0
        self._arrived = 0  # events arrived by the clock (served + waiting)
        self._rate = 0.0
        self._tail = 0.0
        self._cap = self._decisions[0][0]
        self._trace.clear()
        return self._observation(), {"scenario": self.scenario, "seed": seed}

    def step(self, action):
        """Apply ``action`` for ``interval_us`` µs; return (obs, reward, terminated,
        truncated, info)."""
        if self._sim is None:
            raise RuntimeError("call reset() before step()")
        decisions = self._decisions
        if type(action) is not int or not 0 <= action < len(decisions):  # a plain int is fast
            action = validate.integer("action", action, low=0, high=len(decisions) - 1)
        max_batch, max_wait_us = decisions[action]
        sim = self._sim
        report = sim.step(max_batch, max_wait_us, interval_us=self.interval_us)
        latencies = sim.latencies(report.first_batch)
        excess, total, worst = _costs(latencies, self.slo_us)
        depth = report.queue_depth
        cost = (
            self.tail_weight * excess
            + self.mean_weight * total
            + self.backlog_weight * depth * self.interval_us
        ) / self.slo_us
        reward = -cost / self.reward_scale
        arrived = sim.served + depth
        smooth = self.rate_smoothing
        fresh_rate = (arrived - self._arrived) * units.US_PER_S / self.interval_us
        self._rate += smooth * (fresh_rate - self._rate)
        if latencies.size:
            self._tail += smooth * (worst - self._tail)
        self._arrived, self._depth, self._cap = arrived, depth, max_batch
        self._steps += 1
        if self.render_mode is not None:
            self._trace.append((report.time_us, self._tail, max_batch, depth))
        truncated = not report.done and self._steps >= self._max_steps
        info = {"events": report.events, "batches": report.batches, "time_us": report.time_us}
        return self._observation(), reward, report.done, truncated, info

    def render(self):
        """An RGB array (H, W, 3) of the recent smoothed tail (µs) and batch cap, or None."""
        if self.render_mode is None:
            return None
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6, 3.5), dpi=80)
        canvas = FigureCanvasAgg(figure)
        top, bottom = figure.subplots(2, 1, sharex=True)
        if self._trace:
            t, tail, cap, _ = map(np.asarray, zip(*self._trace, strict=True))
            t_ms = t / units.US_PER_MS
            top.plot(t_ms, tail, color="C3")
            bottom.step(t_ms, cap, where="post", color="C0")
        top.set_ylabel("recent tail (µs)")
        bottom.set_ylabel("batch cap")
        bottom.set_xlabel("simulated time (ms)")
        top.set_title(f"{self.scenario}: last {len(self._trace)} decisions")
        figure.tight_layout()
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    # -- helpers --------------------------------------------------------------------------
    def decision(self, action: int) -> tuple[int, float]:
        """The ``(max_batch, max_wait_us)`` of ``action``."""
        action = validate.integer("action", action, low=0, high=self.action_space.n - 1)
        return self._decisions[action]

    def discretize(self, observation) -> int:
        """The tabular state (0 to N_STATES − 1) of an observation: depth, rate and tail bins."""
        depth, rate, tail = float(observation[0]), float(observation[1]), float(observation[2])
        return state_index(depth, rate, tail)

    def result(self) -> SimulationResult:
        """What the episode has served so far (the whole episode once it is done)."""
        if self._sim is None:
            raise RuntimeError("call reset() first")
        return self._sim.result()

    @property
    def simulator(self) -> Simulator:
        """The episode's engine (read it; stepping it directly bypasses the environment)."""
        if self._sim is None:
            raise RuntimeError("call reset() first")
        return self._sim

    def _observation(self) -> np.ndarray:
        return np.array([self._depth, self._rate, self._tail, self._cap], dtype=np.float32)

    def _step_limit(self, instance) -> int:
        """A bound on steps no policy can reach: the trace's span plus serving every event
        alone with a 10× service multiplier, in intervals."""
        service = instance.service
        span = float(instance.arrivals[-1] - instance.arrivals[0])
        worst = 10 * self.events * (service.setup_us + service.per_item_us)
        return int(math.ceil((span + worst) / self.interval_us)) + 10


def _values(name: str, values, *, integer: bool) -> tuple:
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(values).__name__}")
    values = list(values)
    if not values or len(values) > 64:
        raise ValueError(f"{name} must hold 1 to 64 values, got {len(values)}")
    if integer:
        out = tuple(validate.integer(f"{name}[{i}]", v, low=1) for i, v in enumerate(values))
    else:
        out = tuple(validate.real(f"{name}[{i}]", v, low=0) for i, v in enumerate(values))
    if len(set(out)) != len(out):
        raise ValueError(f"{name} has duplicates: {out}")
    return out


def _levels(depth, rate, tail) -> tuple[float, float, float]:
    """``depth``, ``rate`` and ``tail`` as floats (infinity allowed: the top bin); a string,
    a bool or NaN has no bin and is refused."""
    if (
        type(depth) in _FLOATS
        and type(rate) in _FLOATS
        and type(tail) in _FLOATS
        and not (math.isnan(depth) or math.isnan(rate) or math.isnan(tail))
    ):
        return depth, rate, tail  # an observation's own floats: the training loop's fast path
    return (
        validate.real("depth", depth, allow_inf=True),
        validate.real("rate", rate, allow_inf=True),
        validate.real("tail", tail, allow_inf=True),
    )


def bins(depth: float, rate: float, tail: float) -> tuple[int, int, int]:
    """The (depth, rate, tail) bins of the tabular view (lesson 08)."""
    depth, rate, tail = _levels(depth, rate, tail)
    return (
        int(np.searchsorted(DEPTH_EDGES, depth, side="right")),
        int(np.searchsorted(RATE_EDGES, rate, side="right")),
        int(np.searchsorted(TAIL_EDGES, tail, side="right")),
    )


def state_index(depth: float, rate: float, tail: float) -> int:
    """The tabular state of (depth, rate per s, tail µs): bins combined, depth slowest."""
    d, r, t = _bin3(*_levels(depth, rate, tail))
    return (d * (len(RATE_EDGES) + 1) + r) * (len(TAIL_EDGES) + 1) + t


@njit(cache=True)
def _bin3(depth, rate, tail):
    d = 0
    for edge in DEPTH_EDGES:
        if depth >= edge:
            d += 1
    r = 0
    for edge in RATE_EDGES:
        if rate >= edge:
            r += 1
    t = 0
    for edge in TAIL_EDGES:
        if tail >= edge:
            t += 1
    return d, r, t


def state_bins(state: int) -> tuple[int, int, int]:
    """The (depth, rate, tail) bins of a tabular state: the inverse of :func:`state_index`."""
    state = validate.integer("state", state, low=0, high=N_STATES - 1)
    state, t = divmod(state, len(TAIL_EDGES) + 1)
    d, r = divmod(state, len(RATE_EDGES) + 1)
    return d, r, t


if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="latency_lab.env:BatchingEnv")
