"""Suite -> plan: every run of a suite as a ``RunSpec``, plus a cost estimate.

Runs are ordered algorithm -> environment -> configuration -> seed and are the full cross
product of an algorithm's configurations and the suite's seeds (both roles), on each of its
environments. A configuration's ``config_id`` hashes only the algorithm label and the point
(searched dimensions, categorical labels), so the same configuration has the same id on every
environment even though zoo/per-env defaults make its full hyperparameters differ.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd

from rlsens.spec import RunSpec, stable_hash
from rlsens.suite import Suite
from rlsens.suite.designs import generate
from rlsens.suite.vocabulary import OFF_POLICY, algorithm_class

# Training throughput in env steps per CPU-second, measured with SB3 on a 2-core machine with
# one torch thread per run (off-policy classes with 256x256 networks, one gradient step per
# env step; on-policy classes with SB3 default networks).
STEPS_PER_CPU_SECOND = {"DDPG": 60.0, "TD3": 60.0, "SAC": 55.0, "PPO": 1500.0, "A2C": 1500.0,
                        "DQN": 600.0}
# Evaluation cost: about 0.08 s per 200-step episode on the same machine.
EVAL_SECONDS_PER_STEP = 0.08 / 200
DEFAULT_EPISODE_STEPS = 1000


def config_id(algorithm: str, point: Mapping[str, Any]) -> str:
    """The id of a configuration: the same point of the same algorithm on any environment."""
    return stable_hash({"algorithm": algorithm, "point": dict(point)})


@dataclass(frozen=True)
class Plan:
    """The runs of a suite. ``configs`` lists each algorithm's points in design order and
    ``default_config_ids`` the id of its default configuration when the design includes it
    (the reference of default-vs-tuned sensitivity measures)."""

    suite: Suite
    runs: list[RunSpec]
    configs: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    default_config_ids: Mapping[str, str] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """One row per algorithm x environment, then a ``total`` row.

        Columns: algorithm, env_id, configs, seeds, runs, env_steps, est_cpu_hours. The total
        row counts distinct (algorithm, configuration) pairs and distinct seeds. The hours are
        a rough estimate (see ``estimate_cpu_seconds``), good for "minutes or days?" only.
        """
        columns = ["algorithm", "env_id", "configs", "seeds", "runs", "env_steps",
                   "est_cpu_hours"]
        groups: dict[tuple[str, str], list[RunSpec]] = {}
        for spec in self.runs:
            groups.setdefault((spec.algorithm, spec.env_id), []).append(spec)
        rows = []
        for (algorithm, env_id), specs in groups.items():
            rows.append({
                "algorithm": algorithm,
                "env_id": env_id,
                "configs": len({s.config_id for s in specs}),
                "seeds": len({s.seed for s in specs}),
                "runs": len(specs),
                "env_steps": sum(s.budget for s in specs),
                "est_cpu_hours": sum(estimate_cpu_seconds(s) for s in specs) / 3600,
            })
        rows.append({
            "algorithm": "total",
            "env_id": "",
            "configs": len({(s.algorithm, s.config_id) for s in self.runs}),
            "seeds": len({s.seed for s in self.runs}),
            "runs": len(self.runs),
            "env_steps": sum(s.budget for s in self.runs),
            "est_cpu_hours": sum(r["est_cpu_hours"] for r in rows),
        })
        return pd.DataFrame(rows, columns=columns)


@cache
def _episode_steps(env_id: str) -> int:
    import gymnasium

    spec = gymnasium.envs.registry.get(env_id)
    steps = getattr(spec, "max_episode_steps", None)
    return int(steps) if steps else DEFAULT_EPISODE_STEPS


def estimate_cpu_seconds(spec: RunSpec) -> float:
    """A rough CPU-time estimate of one run: training plus evaluation episodes.

    Training uses ``STEPS_PER_CPU_SECOND`` of the algorithm class, measured with SB3 on a
    2-core machine with one torch thread per run (off-policy figures are for 256x256
    networks; smaller networks run faster, so those estimates err high). Evaluation assumes
    ``budget // every`` evaluations of ``episodes`` full-length episodes at about 0.08 s per
    200 steps. Off-policy training time is scaled by the ratio of gradient steps per env step
    (``gradient_steps / train_freq``) to the class default, since updates dominate its cost.
    Real times vary by a factor of two or more with hardware, network size,
    ``n_envs``, ``gradient_steps`` and episode lengths; use it to size a suite, not to plan
    a deadline.
    """
    train = spec.budget / STEPS_PER_CPU_SECOND[spec.algo_class] * _update_factor(spec)
    episode_steps = int(spec.env_kwargs.get("max_episode_steps") or _episode_steps(spec.env_id))
    evaluations = max(1, spec.budget // spec.eval.every)
    return train + evaluations * spec.eval.episodes * episode_steps * EVAL_SECONDS_PER_STEP


def _updates_per_step(hyperparameters: Mapping[str, Any]) -> float | None:
    train_freq = hyperparameters.get("train_freq", 1)
    if isinstance(train_freq, list):
        train_freq = train_freq[0] if train_freq[1:] in ([], ["step"]) else None
    gradient_steps = hyperparameters.get("gradient_steps", 1)
    if not isinstance(train_freq, int) or not isinstance(gradient_steps, int) or train_freq < 1:
        return None
    return 1.0 if gradient_steps < 0 else gradient_steps / train_freq


def _update_factor(spec: RunSpec) -> float:
    """Training cost relative to the class default's update rate (1 for on-policy classes)."""
    if spec.algo_class not in OFF_POLICY:
        return 1.0
    ratio = _updates_per_step(spec.hyperparameters)
    default = _updates_per_step(_class_defaults(spec.algo_class))
    if ratio is None or not default:
        return 1.0
    return (0.1 + 0.9 * ratio) / (0.1 + 0.9 * default)


@cache
def _class_defaults(algo_class: str) -> dict[str, Any]:
    params = inspect.signature(algorithm_class(algo_class).__init__).parameters
    return {name: list(p.default) if isinstance(p.default, tuple) else p.default
            for name, p in params.items() if name in ("train_freq", "gradient_steps")}


def build_plan(suite: Suite) -> Plan:
    """Every run of ``suite``: algorithm -> environment -> configuration -> seed.

    Deterministic: the same suite file yields the same runs, in the same order, with the same
    ids, in any process and on any machine. Raises ``SuiteError`` if a derived expression
    cannot be evaluated at one of the design's points.
    """
    runs: list[RunSpec] = []
    configs: dict[str, list[dict[str, Any]]] = {}
    defaults: dict[str, str] = {}
    roles = suite.seeds.roles()
    for label, algorithm in suite.algorithms.items():
        points = generate(suite.design, algorithm.search_space, algorithm.default_point,
                          suite.seed, label)
        configs[label] = points
        if suite.design.include_default or suite.design.type == "oat":
            defaults[label] = config_id(label, algorithm.default_point)
        for env_id in algorithm.environments:
            environment = suite.environments[env_id]
            for point in points:
                hyperparameters = algorithm.resolve(point, env_id)
                cid = config_id(label, point)
                for seed, role in roles:
                    runs.append(RunSpec(
                        suite=suite.name,
                        algorithm=label,
                        algo_class=algorithm.algo_class,
                        env_id=env_id,
                        env_kwargs=dict(environment.env_kwargs),
                        policy=algorithm.policy_for(env_id),
                        hyperparameters=copy.deepcopy(hyperparameters),
                        point=dict(point),
                        config_id=cid,
                        seed=seed,
                        seed_role=role,
                        budget=algorithm.budget[env_id],
                        eval=suite.evaluation,
                        resources=suite.resources,
                    ))
    return Plan(suite=suite, runs=runs, configs=configs, default_config_ids=defaults)
