"""Suite -> plan: every run of a suite as a ``RunSpec``, and the plan's indexes.

Runs are ordered algorithm -> environment -> configuration -> seed and are the full cross
product of an algorithm's configurations and the suite's seeds (both roles), on each of its
environments. A configuration's ``config_id`` hashes only the algorithm label and the point
(searched dimensions, categorical labels), so the same configuration has the same id on every
environment even though zoo/per-env defaults make its full hyperparameters differ.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rlsens.plan.cost import estimate_cpu_seconds
from rlsens.plan.designs import generate
from rlsens.spec import RunSpec, stable_hash
from rlsens.suite import Suite


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

    def cells(self) -> list[tuple[str, str, list[str]]]:
        """``(algorithm, env_id, run_ids)`` per cell, in plan order."""
        return cell_index(self.runs)

    def seed_roles(self) -> dict[str, list[str]]:
        return seed_roles(self.runs)


def cell_index(runs: Sequence[RunSpec]) -> list[tuple[str, str, list[str]]]:
    """Run ids grouped by algorithm x environment, so `rlsens status` needs no suite file."""
    cells: dict[tuple[str, str], list[str]] = {}
    for spec in runs:
        cells.setdefault((spec.algorithm, spec.env_id), []).append(spec.run_id)
    return [(alg, env, ids) for (alg, env), ids in cells.items()]


def seed_roles(runs: Sequence[RunSpec]) -> dict[str, list[str]]:
    """Run ids per seed role. Roles are not part of a run's identity (re-splitting seeds must
    not re-run anything), so the analysis takes them from the current plan, not the records."""
    roles: dict[str, list[str]] = {}
    for spec in runs:
        roles.setdefault(spec.seed_role, []).append(spec.run_id)
    return roles


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
