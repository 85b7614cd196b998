"""Suite -> plan: every run of a suite as a ``RunSpec``, and the plan's indexes.

Runs are ordered algorithm -> environment -> configuration -> seed and are the full cross
product of an algorithm's configurations and the suite's seeds (both roles), on each of its
environments. A configuration's ``config_id`` hashes only the algorithm label and the point
(searched dimensions, categorical labels), so the same configuration has the same id on every
environment even though zoo/per-env defaults make its full hyperparameters differ.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd

from rlsens.plan.cost import estimate_group_cpu_seconds
from rlsens.plan.designs import generate
from rlsens.plan.groups import group_runs
from rlsens.plan.trainers import choose_trainer
from rlsens.spec import TRAINERS, RunGroup, RunSpec, stable_hash
from rlsens.suite import Suite


def config_id(algorithm: str, point: Mapping[str, Any]) -> str:
    """The id of a configuration: the same point of the same algorithm on any environment."""
    return stable_hash({"algorithm": algorithm, "point": dict(point)})


@dataclass(frozen=True)
class Plan:
    """The runs of a suite. ``configs`` lists each algorithm's points in design order and
    ``default_config_ids`` the id of its default configuration when the design includes it
    (the reference of default-vs-tuned sensitivity measures). ``fallbacks`` maps the run id of
    each run that asked for the population trainer but trains with sb3 to the reason."""

    suite: Suite
    runs: list[RunSpec]
    configs: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    default_config_ids: Mapping[str, str] = field(default_factory=dict)
    fallbacks: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def groups(self) -> list[RunGroup]:
        """The units of execution: each sb3 run alone, population runs in groups
        (``rlsens.plan.groups``)."""
        return group_runs(self.runs)

    def _cell_seconds(self) -> dict[tuple[str, str], float]:
        """Estimated CPU-seconds per cell; a group's estimate is shared by its members."""
        seconds: dict[tuple[str, str], float] = {}
        for group in self.groups:
            share = estimate_group_cpu_seconds(group.specs) / len(group.specs)
            for spec in group.specs:
                cell = (spec.algorithm, spec.env_id)
                seconds[cell] = seconds.get(cell, 0.0) + share
        return seconds

    def trainer_summary(self) -> pd.DataFrame:
        """Per algorithm x environment: runs per trainer and the population groups."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for spec in self.runs:
            row = rows.setdefault((spec.algorithm, spec.env_id), {
                "algorithm": spec.algorithm, "env_id": spec.env_id,
                **{trainer: 0 for trainer in TRAINERS}, "groups": 0})
            row[spec.trainer] += 1
        for group in self.groups:
            if group.trainer == "population":
                first = group.specs[0]
                rows[(first.algorithm, first.env_id)]["groups"] += 1
        return pd.DataFrame(list(rows.values()),
                            columns=["algorithm", "env_id", *TRAINERS, "groups"])

    def fallback_reasons(self) -> list[tuple[str, str, str, int]]:
        """``(algorithm, env_id, reason, runs)`` for runs that fell back to sb3, most first."""
        by_id = {spec.run_id: spec for spec in self.runs}
        counts = Counter((by_id[rid].algorithm, by_id[rid].env_id, reason)
                         for rid, reason in self.fallbacks.items())
        return [(alg, env, reason, n) for (alg, env, reason), n in counts.most_common()]

    def summary(self) -> pd.DataFrame:
        """One row per algorithm x environment, then a ``total`` row.

        Columns: algorithm, env_id, configs, seeds, runs, env_steps, est_cpu_hours. The total
        row counts distinct (algorithm, configuration) pairs and distinct seeds. The hours are
        a rough estimate (see ``estimate_cpu_seconds`` and, for population groups,
        ``estimate_group_cpu_seconds``), good for "minutes or days?" only.
        """
        columns = ["algorithm", "env_id", "configs", "seeds", "runs", "env_steps",
                   "est_cpu_hours"]
        cells: dict[tuple[str, str], list[RunSpec]] = {}
        for spec in self.runs:
            cells.setdefault((spec.algorithm, spec.env_id), []).append(spec)
        seconds = self._cell_seconds()
        rows = []
        for (algorithm, env_id), specs in cells.items():
            rows.append({
                "algorithm": algorithm,
                "env_id": env_id,
                "configs": len({s.config_id for s in specs}),
                "seeds": len({s.seed for s in specs}),
                "runs": len(specs),
                "env_steps": sum(s.budget for s in specs),
                "est_cpu_hours": seconds[(algorithm, env_id)] / 3600,
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


def build_plan(suite: Suite, trainer: str | None = None) -> Plan:
    """Every run of ``suite``: algorithm -> environment -> configuration -> seed.

    Deterministic: the same suite file yields the same runs, in the same order, with the same
    ids, in any process and on any machine. Raises ``SuiteError`` if a derived expression
    cannot be evaluated at one of the design's points. ``trainer`` (``--trainer``) overrides
    the suite's ``trainer:`` keys; every run's ``trainer`` is set (``choose_trainer``).
    """
    runs: list[RunSpec] = []
    fallbacks: dict[str, str] = {}
    configs: dict[str, list[dict[str, Any]]] = {}
    defaults: dict[str, str] = {}
    roles = suite.seeds.roles()
    for label, algorithm in suite.algorithms.items():
        points = generate(suite.design, algorithm.search_space, algorithm.default_point,
                          suite.seed, label)
        configs[label] = points
        if suite.design.include_default or suite.design.type == "oat":
            defaults[label] = config_id(label, algorithm.default_point)
        mode = suite.trainer_for(label, trainer)
        for env_id in algorithm.environments:
            environment = suite.environments[env_id]
            for point in points:
                hyperparameters = algorithm.resolve(point, env_id)
                cid = config_id(label, point)
                for seed, role in roles:
                    spec, reason = choose_trainer(RunSpec(
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
                    ), mode)
                    runs.append(spec)
                    if reason is not None:
                        fallbacks[spec.run_id] = reason
    return Plan(suite=suite, runs=runs, configs=configs, default_config_ids=defaults,
                fallbacks=fallbacks)
