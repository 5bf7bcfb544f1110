"""Tabular ε-greedy Q-learning for the batching environment, its training and its honest
evaluation (lesson 08).

The agent is Sutton & Barto's Q-learning (Reinforcement Learning: An Introduction, 2nd ed.,
2018, §6.5): after each step, ``Q[s, a] += α·(r + γ·max_a' Q[s', a'] − Q[s, a])`` (no
bootstrap from a terminal state); it acts greedily on ``Q`` except for a fraction ``ε`` of
uniformly random actions, and ``ε`` shrinks by ``epsilon_decay`` after every episode (never
below ``epsilon_min``). ``Q`` starts at 0 and rewards are negative, so untried actions look
best and each is tried in a state before the agent settles (optimistic start). Ties go to
the lowest action. A state never visited in training has no estimate: the agent then takes
:attr:`QAgent.fallback_action` (the largest cap, i.e. greedy with a cap), and evaluation
counts how often that happened.

Training episode ``i`` uses the instance seed ``training_seeds(seed, episodes)[i]`` (all at
least 2**32), so evaluation on small integer seeds never meets a training instance, and
:func:`evaluate` refuses a seed the agent trained on.
"""

from __future__ import annotations

import json
import math
import sys
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from latency_lab import env as envmod
from latency_lab import sweep, traffic, validate
from latency_lab.engine import SimulationResult

#: Most training episodes in one call.
MAX_EPISODES = 100_000
#: Format tag of saved agents.
FORMAT = "latency_lab.QAgent/1"
#: Columns of the training log.
LOG_COLUMNS = (
    "episode", "seed", "reward", "steps", "mean_batch", "p50_us", "p99_us", "p99.9_us",
    "max_us", "throughput_per_s", "epsilon",
)  # fmt: skip
#: Statistics reported per run in an evaluation (µs, and events/s).
EVAL_METRICS = ("p50_us", "p99_us", "p99.9_us", "max_us", "throughput_per_s", "mean_batch")
#: The static grid searched for the best static setting in hindsight.
STATIC_WAITS_US = (0.0, 25.0, 50.0, 100.0, 200.0)
_TRAIN_SEED_LOW = 2**32


@dataclass(frozen=True)
class Hyper:
    """Q-learning hyper-parameters (lesson 08): step size α, discount γ, exploration ε with
    its per-episode decay and floor, and the seed of the agent's own random choices."""

    alpha: float = 0.1
    gamma: float = 0.9
    epsilon: float = 0.2
    epsilon_decay: float = 0.99
    epsilon_min: float = 0.01
    seed: int = 0

    def __post_init__(self):
        validate.real("alpha", self.alpha, low=0, high=1, low_open=True)
        validate.real("gamma", self.gamma, low=0, high=1)
        validate.real("epsilon", self.epsilon, low=0, high=1)
        validate.real("epsilon_decay", self.epsilon_decay, low=0, high=1)
        validate.real("epsilon_min", self.epsilon_min, low=0, high=1)
        validate.integer("seed", self.seed, low=0, high=sweep.MAX_SEED)
        for name in ("alpha", "gamma", "epsilon", "epsilon_decay", "epsilon_min"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "seed", int(self.seed))


def q_update(q, state, action, reward, next_state, terminal, alpha, gamma) -> float:
    """One Q-learning update of ``q[state, action]`` in place (lesson 08); returns the TD
    error ``r + γ·max q[next_state] − q[state, action]`` (no bootstrap if ``terminal``)."""
    if not isinstance(q, np.ndarray) or q.ndim != 2 or q.dtype.kind != "f":
        raise TypeError(f"q must be a 2-D float array (states × actions), got {_kind(q)}")
    state = validate.integer("state", state, low=0, high=q.shape[0] - 1)
    action = validate.integer("action", action, low=0, high=q.shape[1] - 1)
    next_state = validate.integer("next_state", next_state, low=0, high=q.shape[0] - 1)
    reward = validate.real("reward", reward)
    alpha = validate.real("alpha", alpha, low=0, high=1, low_open=True)
    gamma = validate.real("gamma", gamma, low=0, high=1)
    target = reward if terminal else reward + gamma * q[next_state].max()
    error = target - q[state, action]
    q[state, action] += alpha * error
    return float(error)


def _kind(value) -> str:
    if isinstance(value, np.ndarray):
        return f"a {value.ndim}-D {value.dtype} array"
    return type(value).__name__


@dataclass
class QAgent:
    """A tabular ε-greedy Q-learning agent for :class:`latency_lab.env.BatchingEnv` (lesson 08).

    ``env_config`` holds the keyword arguments of the environment it was built for, so a
    saved agent can rebuild it. Use :func:`train` to train and :func:`evaluate` to judge it.
    """

    hyper: Hyper = field(default_factory=Hyper)
    env_config: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.hyper, Hyper):
            raise TypeError(f"hyper must be a Hyper, got {type(self.hyper).__name__}")
        probe = self.make_env()  # checks env_config
        self.n_actions = int(probe.action_space.n)
        self.n_states = envmod.N_STATES
        self.q = np.zeros((self.n_states, self.n_actions))
        self.visits = np.zeros((self.n_states, self.n_actions), dtype=np.int64)
        self.epsilon = self.hyper.epsilon
        self.episodes = 0
        self.training_seeds: list[int] = []
        self.rng = np.random.default_rng(self.hyper.seed)
        self.fallback_action = self.n_actions - 1

    def make_env(self, **overrides) -> envmod.BatchingEnv:
        """A fresh environment with this agent's configuration (``overrides`` replace keys)."""
        config = dict(self.env_config)
        config.update(overrides)
        return envmod.BatchingEnv(**config)

    def act(self, state: int, explore: bool = True) -> int:
        """An action for ``state``: random with probability ε if ``explore``, else greedy."""
        state = self._state(state)
        if explore and self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.n_actions))
        return self.greedy(state)

    def greedy(self, state: int) -> int:
        """The greedy action of ``state`` (the fallback action if it was never visited)."""
        state = self._state(state)
        if not self.visits[state].any():
            return self.fallback_action
        return int(self.q[state].argmax())

    def _state(self, state) -> int:
        if type(state) is int and 0 <= state < self.n_states:  # a plain int is fast
            return state
        return validate.integer("state", state, low=0, high=self.n_states - 1)

    def policy(self) -> np.ndarray:
        """The greedy action of every state (-1 where the state was never visited)."""
        out = self.q.argmax(axis=1)
        out[~self.visits.any(axis=1)] = -1
        return out

    # -- persistence ----------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the agent to ``path`` (an ``.npz`` file): Q, visits, ε, the hyper-parameters,
        the environment configuration and the training seeds."""
        path = Path(path)
        meta = {
            "format": FORMAT,
            "hyper": asdict(self.hyper),
            "env_config": {
                k: list(v) if isinstance(v, tuple) else v for k, v in self.env_config.items()
            },  # fmt: skip
            "epsilon": self.epsilon,
            "episodes": self.episodes,
        }
        with open(path, "wb") as handle:
            np.savez(
                handle,
                q=self.q,
                visits=self.visits,
                training_seeds=np.asarray(self.training_seeds, dtype=np.uint64),
                meta=np.array(json.dumps(meta)),
            )
        return path

    @classmethod
    def load(cls, path) -> QAgent:
        """Read an agent written by :meth:`save`. A missing file raises ``FileNotFoundError``,
        anything else that is not such an agent ``ValueError``; both name the path."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"agent file {str(path)!r} does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                q, visits = np.array(data["q"]), np.array(data["visits"])
                seeds = [int(s) for s in data["training_seeds"]]
            if meta.get("format") != FORMAT:
                raise ValueError(f"format is {meta.get('format')!r}, not {FORMAT!r}")
            agent = cls(Hyper(**meta["hyper"]), meta["env_config"])
            if q.shape != agent.q.shape or visits.shape != agent.visits.shape:
                raise ValueError(f"Q has shape {q.shape}, expected {agent.q.shape}")
            if not np.isfinite(q).all() or (visits < 0).any():
                raise ValueError("Q holds NaN/inf or visits are negative")
            agent.q, agent.visits = q, visits.astype(np.int64)
            agent.epsilon = validate.real("epsilon", meta["epsilon"], low=0, high=1)
            agent.episodes = validate.integer("episodes", meta["episodes"], low=0)
            agent.training_seeds = seeds
        except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile,
                json.JSONDecodeError) as exc:  # fmt: skip
            raise ValueError(f"agent file {str(path)!r} is not a saved agent ({exc})") from None
        return agent


def training_seeds(seed: int, episodes: int) -> list[int]:
    """The instance seeds of ``episodes`` training episodes for agent seed ``seed``: all at
    least 2**32, so they never meet small evaluation seeds (lesson 08)."""
    seed = validate.integer("seed", seed, low=0, high=sweep.MAX_SEED)
    episodes = validate.integer("episodes", episodes, low=0, high=MAX_EPISODES)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 8]))
    return [int(s) for s in rng.integers(_TRAIN_SEED_LOW, 2**62, size=episodes)]


def _episode_row(result: SimulationResult) -> dict[str, float]:
    summary = result.summary()
    return {name: float(summary[name]) for name in
            ("mean_batch", "p50_us", "p99_us", "p99.9_us", "max_us", "throughput_per_s")}  # fmt: skip


def train(agent: QAgent, episodes: int, *, progress: bool = False, callback=None) -> pd.DataFrame:
    """Train ``agent`` for ``episodes`` episodes of its environment (lesson 08); returns the
    log, one row per episode (columns :data:`LOG_COLUMNS`): total reward, steps, mean batch,
    p50/p99/p99.9/max latency (µs), throughput (events/s) and the ε used.

    Episodes continue the agent's seed list, so training 100 then 100 more is training 200.
    A tqdm bar goes to stderr if ``progress``; ``callback(row)`` is called after each episode.
    """
    if not isinstance(agent, QAgent):
        raise TypeError(f"agent must be a QAgent, got {type(agent).__name__}")
    episodes = validate.integer("episodes", episodes, low=1, high=MAX_EPISODES)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {type(progress).__name__}")
    first = agent.episodes
    seeds = training_seeds(agent.hyper.seed, first + episodes)[first:]
    env = agent.make_env()
    alpha, gamma = agent.hyper.alpha, agent.hyper.gamma
    q, visits, rng = agent.q, agent.visits, agent.rng
    n_actions = agent.n_actions
    discretize = envmod.state_index
    rows = []
    bar = tqdm(total=episodes, file=sys.stderr, unit="episode", desc="train") if progress else None
    try:
        for i, seed in enumerate(seeds):
            obs, _ = env.reset(seed=seed)
            state = discretize(obs[0], obs[1], obs[2])
            total, steps, epsilon = 0.0, 0, agent.epsilon
            while True:
                if rng.random() < epsilon:
                    action = int(rng.integers(n_actions))
                elif visits[state].any():
                    action = int(q[state].argmax())
                else:
                    action = agent.fallback_action
                obs, reward, terminated, truncated, _ = env.step(action)
                nxt = discretize(obs[0], obs[1], obs[2])
                target = reward if terminated else reward + gamma * q[nxt].max()
                q[state, action] += alpha * (target - q[state, action])
                visits[state, action] += 1
                total += reward
                steps += 1
                state = nxt
                if terminated or truncated:
                    break
            agent.training_seeds.append(seed)
            agent.episodes += 1
            agent.epsilon = max(agent.hyper.epsilon_min, epsilon * agent.hyper.epsilon_decay)
            row = {"episode": first + i, "seed": seed, "reward": total, "steps": steps,
                   **_episode_row(env.result()), "epsilon": epsilon}  # fmt: skip
            rows.append(row)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(reward=f"{total:.3g}", p99_us=f"{row['p99_us']:.0f}")
            if callback is not None:
                callback(row)
    finally:
        if bar is not None:
            bar.close()
    return pd.DataFrame(rows, columns=list(LOG_COLUMNS))


@dataclass(frozen=True)
class AgentRun:
    """One greedy episode of an agent (lesson 08): the result, the caps it chose per step and
    the queue depth it saw when choosing, and how often it fell back on an unvisited state."""

    result: SimulationResult
    caps: np.ndarray
    depths: np.ndarray
    fallbacks: int


def run_agent(agent: QAgent, seed: int, scenario: str | None = None) -> AgentRun:
    """Run ``agent`` greedily (no exploration, no learning) on the instance ``seed`` of
    ``scenario`` (default: the one it trained on)."""
    if not isinstance(agent, QAgent):
        raise TypeError(f"agent must be a QAgent, got {type(agent).__name__}")
    seed = validate.integer("seed", seed, low=0, high=sweep.MAX_SEED)
    env = agent.make_env() if scenario is None else agent.make_env(scenario=scenario)
    obs, _ = env.reset(seed=seed)
    caps, depths, fallbacks = [], [], 0
    while True:
        state = envmod.state_index(obs[0], obs[1], obs[2])
        if not agent.visits[state].any():
            fallbacks += 1
        action = agent.greedy(state)
        caps.append(env.decision(action)[0])
        depths.append(int(obs[0]))
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    return AgentRun(env.result(), np.array(caps), np.array(depths), fallbacks)


def baseline_configs(scenario: str, events: int, cap: int) -> dict[str, sweep.Config]:
    """The heuristics an agent is judged against (lesson 08), with the agent's largest cap:
    greedy, timeout (50 µs), AIMD (SLO 100 µs) and queue-depth (target 8, 50 µs)."""
    cap = validate.integer("cap", cap, low=1, high=traffic.MAX_EVENTS)
    common = {"scenario": scenario, "events": events, "max_batch": cap}
    return {
        f"greedy (cap {cap})": sweep.Config(policy="greedy", **common),
        f"timeout (cap {cap}, 50 µs)": sweep.Config(policy="timeout", **common),
        f"AIMD (cap {cap})": sweep.Config(policy="aimd", **common),
        f"queue-depth (cap {cap})": sweep.Config(policy="queue_depth", **common),
    }


def static_grid(scenario: str, events: int, caps) -> list[sweep.Config]:
    """Static ``(max_batch, max_wait_us)`` settings searched for the best in hindsight:
    every cap of the agent × :data:`STATIC_WAITS_US`."""
    return sweep.grid(scenario=scenario, policy="static", max_batch=list(caps),
                      max_wait_us=list(STATIC_WAITS_US), events=events)  # fmt: skip


@dataclass(frozen=True)
class Evaluation:
    """An agent judged on held-out seeds (lesson 08).

    ``runs``: one row per (scenario, policy, seed) with :data:`EVAL_METRICS`; ``table``: per
    (scenario, policy) the median over seeds and the min–max spread of each; ``verdicts``:
    one sentence per scenario, computed from ``runs``; ``latencies``: pooled latencies (µs)
    of the first ``cdf_seeds`` seeds per (scenario, policy), for CDFs.
    """

    runs: pd.DataFrame
    table: pd.DataFrame
    verdicts: dict[str, str]
    latencies: dict[tuple[str, str], np.ndarray]
    best_static: dict[str, str]
    fallbacks: dict[str, int]


AGENT = "Q-learning agent"


def evaluate(agent: QAgent, seeds, scenarios=None, *, jobs: int = 1, cdf_seeds: int = 3,
             progress: bool = False) -> Evaluation:  # fmt: skip
    """Judge ``agent`` on held-out ``seeds`` against every baseline (lesson 08).

    For each scenario (default: the agent's own): the agent run greedily, greedy /
    timeout / AIMD / queue-depth with the agent's largest cap, and the best static
    ``(max_batch, max_wait_us)`` in hindsight — the grid setting with the lowest median p99
    over these very seeds (ties: lower p99.9), so it is chosen knowing the test. All on the
    same instances (``Scenario.instance(events, seed)``). Seeds the agent trained on are
    refused.
    """
    if not isinstance(agent, QAgent):
        raise TypeError(f"agent must be a QAgent, got {type(agent).__name__}")
    seeds = [validate.integer(f"seeds[{i}]", s, low=0, high=sweep.MAX_SEED)
             for i, s in enumerate(_listed("seeds", seeds, sweep.MAX_SEEDS))]  # fmt: skip
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError("seeds must be a non-empty list without duplicates")
    seen = set(seeds) & set(agent.training_seeds)
    if seen:
        raise ValueError(
            f"seeds {sorted(seen)[:5]} were used in training: evaluate on held-out seeds"
        )
    if scenarios is None:
        scenarios = [agent.make_env().scenario]
    scenarios = [validate.one_of("scenario", s, tuple(sweep.scenarios.SCENARIOS))
                 for s in _listed("scenarios", scenarios, 16)]  # fmt: skip
    jobs = validate.integer("jobs", jobs, low=1, high=sweep.MAX_JOBS)
    cdf_seeds = min(validate.integer("cdf_seeds", cdf_seeds, low=0), len(seeds))
    probe = agent.make_env()
    cap, events = max(probe.caps), probe.events
    rows, latencies, best, fallbacks, binding = [], {}, {}, {}, {}
    for scenario in scenarios:
        agent_lat = []
        fallbacks[scenario] = 0
        bound = total = 0
        for seed in seeds:
            run = run_agent(agent, seed, scenario)
            fallbacks[scenario] += run.fallbacks
            bound += int((run.depths > run.caps).sum())
            total += run.caps.size
            rows.append({"scenario": scenario, "policy": AGENT, "seed": seed,
                         **_metrics(run.result.summary())})  # fmt: skip
            if len(agent_lat) < cdf_seeds:
                agent_lat.append(np.asarray(run.result.latency))
        binding[scenario] = bound / max(total, 1)
        latencies[(scenario, AGENT)] = np.concatenate(agent_lat) if agent_lat else np.empty(0)
        named = baseline_configs(scenario, events, cap)
        grid = static_grid(scenario, events, probe.caps)
        frame = sweep.sweep([*named.values(), *grid], seeds, jobs=jobs, progress=progress)
        summary = sweep.summarize(frame[frame["key"].isin({c.key for c in grid})])
        choice = summary.sort_values(["p99_us_median", "p99.9_us_median"], kind="stable").iloc[0]
        best_label = (f"best static in hindsight ({int(choice['max_batch'])}, "
                      f"{choice['max_wait_us']:g} µs)")  # fmt: skip
        best[scenario] = best_label
        labels = {c.key: label for label, c in named.items()}
        labels[choice["key"]] = best_label
        for _, row in frame[frame["key"].isin(labels)].iterrows():
            rows.append({"scenario": scenario, "policy": labels[row["key"]],
                         "seed": int(row["seed"]), **_metrics(row)})  # fmt: skip
        configs = {**{labels[c.key]: c for c in named.values()},
                   best_label: next(c for c in grid if c.key == choice["key"])}  # fmt: skip
        for label, config in configs.items():
            latencies[(scenario, label)] = (
                np.concatenate([np.asarray(sweep.simulate(config, s).latency)
                                for s in seeds[:cdf_seeds]]) if cdf_seeds else np.empty(0)
            )  # fmt: skip
    runs = pd.DataFrame(rows)
    table = _table(runs)
    verdicts = {s: _verdict(runs[runs["scenario"] == s], s, cap, binding[s], fallbacks[s])
                for s in scenarios}  # fmt: skip
    return Evaluation(runs, table, verdicts, latencies, best, fallbacks)


def _listed(name, values, limit) -> list:
    if isinstance(values, str):
        return [values]
    if not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a list, got {type(values).__name__}")
    out = []
    for value in values:
        out.append(value)
        if len(out) > limit:
            raise ValueError(f"{name}: more than {limit} values")
    return out


def _metrics(summary) -> dict[str, float]:
    return {name: float(summary[name]) for name in EVAL_METRICS}


def _table(runs: pd.DataFrame) -> pd.DataFrame:
    groups = runs.groupby(["scenario", "policy"], sort=False)
    out = groups.size().rename("seeds").to_frame()
    for name in ("p50_us", "p99_us", "p99.9_us", "max_us", "throughput_per_s"):
        out[f"{name}_median"] = groups[name].median()
        out[f"{name}_min"] = groups[name].min()
        out[f"{name}_max"] = groups[name].max()
    return out.reset_index()


def _verdict(runs: pd.DataFrame, scenario: str, cap: int, binding: float, fallbacks: int) -> str:
    """One sentence from the paired runs: does the agent beat greedy with a cap at p99?"""
    greedy = f"greedy (cap {cap})"
    mine = runs[runs["policy"] == AGENT].set_index("seed")
    theirs = runs[runs["policy"] == greedy].set_index("seed").loc[mine.index]
    ratio = mine["p99_us"] / theirs["p99_us"]
    lower = int((ratio < 1).sum())
    tp = float((mine["throughput_per_s"] / theirs["throughput_per_s"]).median())
    n = len(ratio)
    median = float(ratio.median())
    head = (f"{scenario}: the agent's p99 is {median:.3f}× greedy-with-a-cap's (median over "
            f"{n} held-out seeds; lower on {lower} of {n}; throughput {tp:.3f}×)")  # fmt: skip
    if median < 0.99 and lower >= math.ceil(0.75 * n) and tp >= 0.99:
        return head + " — it beats greedy with a cap here."
    why = (f"greedy already serves whatever waits, so its batch grows with the queue by itself "
           f"(median mean batch {theirs['mean_batch'].median():.2f}, the agent's "
           f"{mine['mean_batch'].median():.2f}); a cap below the queue only leaves events "
           f"waiting, and the agent's cap was below the waiting queue at {binding:.1%} of its "
           f"decisions")  # fmt: skip
    if fallbacks:
        why += f", and it met {fallbacks} never-trained states"
    return head + f" — it does NOT beat greedy with a cap. Why: {why}."


def percentile_table(evaluation: Evaluation, scenario: str) -> pd.DataFrame:
    """A compact table for one scenario (lesson 08): policy rows, median p50/p99/p99.9/max
    (µs) and throughput (events/s) over seeds, with the p99 spread (min–max)."""
    table = evaluation.table
    part = table[table["scenario"] == validate.one_of(
        "scenario", scenario, tuple(table["scenario"].unique()))]  # fmt: skip
    out = pd.DataFrame({
        "policy": part["policy"],
        "p50_us": part["p50_us_median"],
        "p99_us": part["p99_us_median"],
        "p99_min_us": part["p99_us_min"],
        "p99_max_us": part["p99_us_max"],
        "p99.9_us": part["p99.9_us_median"],
        "max_us": part["max_us_median"],
        "throughput_per_s": part["throughput_per_s_median"],
    })  # fmt: skip
    return out.set_index("policy")


__all__ = [
    "AGENT", "AgentRun", "EVAL_METRICS", "Evaluation", "Hyper", "LOG_COLUMNS", "QAgent",
    "baseline_configs", "evaluate", "percentile_table", "q_update", "run_agent",
    "static_grid", "train", "training_seeds",
]  # fmt: skip
