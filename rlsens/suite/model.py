"""The suite model: what a loaded suite is, as frozen dataclasses.

``Suite`` is the input of the planner and ``Algorithm.resolve`` turns one design point into a
run's full hyperparameters; both are pure data plus the arithmetic of derived dimensions, so
the planner needs nothing from the parser.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlsens.errors import SuiteError
from rlsens.spec import DEFAULT_TRAINER, EvalProtocol, Resources
from rlsens.suite.design import Design
from rlsens.suite.hyperparameters import (
    as_integer_if_whole,
    check_value,
    combination_problem,
    value_hint,
)
from rlsens.suite.loader import Source
from rlsens.suite.space import ALLOWED_SYNTAX, Derived, Dimension, ExpressionError, Fixed
from rlsens.vocabulary import noise_problem


@dataclass(frozen=True)
class Environment:
    env_id: str
    budget: int | None = None
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Seeds:
    """Training seeds by role. ``all`` when the suite gives one list; ``tune``/``report`` when
    configurations are selected on some seeds and reported on fresh ones (no optimistic bias).
    """

    all: tuple[int, ...] = ()
    tune: tuple[int, ...] = ()
    report: tuple[int, ...] = ()

    def roles(self) -> list[tuple[int, str]]:
        """``(seed, role)`` in plan order: all seeds, or tune seeds then report seeds."""
        if self.all:
            return [(s, "all") for s in self.all]
        return [(s, "tune") for s in self.tune] + [(s, "report") for s in self.report]

    def to_dict(self) -> dict[str, list[int]]:
        if self.all:
            return {"all": list(self.all)}
        return {"tune": list(self.tune), "report": list(self.report)}


@dataclass(frozen=True)
class Algorithm:
    """One algorithm entry, with its per-environment defaults already resolved."""

    label: str
    algo_class: str
    environments: tuple[str, ...]
    budget: Mapping[str, int]
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    per_env: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    zoo: str | None = None
    zoo_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    policy: str | None = None
    zoo_policies: Mapping[str, str] = field(default_factory=dict)
    search_space: Mapping[str, Dimension] = field(default_factory=dict)
    default_point: Mapping[str, Any] = field(default_factory=dict)
    trainer: str | None = None
    source: Source | None = field(default=None, repr=False, compare=False)

    @property
    def searched(self) -> list[str]:
        """Names of the dimensions the design varies (aux included; fixed/derived not)."""
        return [name for name, dim in self.search_space.items() if dim.searched]

    def policy_for(self, env_id: str) -> str:
        """The suite's ``policy:``, else the zoo's for this environment, else MlpPolicy."""
        return self.policy or self.zoo_policies.get(env_id) or "MlpPolicy"

    def base_config(self, env_id: str) -> dict[str, Any]:
        """zoo[env] < hyperparameters < per_env[env]: everything but the searched point."""
        config = dict(self.zoo_defaults.get(env_id, {}))
        config.update(self.hyperparameters)
        config.update(self.per_env.get(env_id, {}))
        return copy.deepcopy(config)

    def resolve(self, point: Mapping[str, Any], env_id: str) -> dict[str, Any]:
        """The full hyperparameters of ``point`` on ``env_id`` (derived computed, aux dropped).

        Raises ``SuiteError`` when a derived expression cannot be evaluated at this point, or
        gives a value SB3 does not accept (the planner resolves every point, so such values
        fail ``validate`` rather than the run).
        """
        config = self.base_config(env_id)
        values: dict[str, Any] = dict(config)
        for name, dim in self.search_space.items():
            if isinstance(dim, Fixed):
                values[name] = copy.deepcopy(dim.value)
            elif dim.searched:
                values[name] = copy.deepcopy(dim.value_of(point[name]))
        for name in derived_order(self):
            dim = self.search_space[name]
            assert isinstance(dim, Derived)
            where = f" (on {env_id}, at {dict(point)})"
            try:
                values[name] = as_integer_if_whole(name, dim.evaluate(values))
            except ExpressionError as exc:
                raise self._derived_error(
                    name, f"cannot evaluate derived {dim.expression!r}: {exc}{where}",
                    ALLOWED_SYNTAX) from exc
            problem = None if dim.aux else check_value(name, values[name])
            if problem:
                raise self._derived_error(
                    name, f"derived {dim.expression!r} = {values[name]!r}: {problem}{where}",
                    value_hint(name))
        for name, dim in self.search_space.items():
            if not dim.aux:
                config[name] = values[name]
        problem = noise_problem(config.get("noise_type"), config.get("noise_std"))
        if problem:
            raise self._config_error(
                ("hyperparameters",), f"{problem} (on {env_id}, at {dict(point)})",
                "set both noise_type (normal, ornstein-uhlenbeck, none) and noise_std")
        combination = combination_problem(self.algo_class, config)
        if combination:
            key, problem = combination
            where = ("search_space", key) if key in self.search_space else ("hyperparameters",)
            raise self._config_error(
                where, f"{problem} (on {env_id}, at {dict(point)})",
                "change one of the values; SB3 refuses this combination when the run starts")
        return config

    def _config_error(self, where: tuple[str, ...], message: str, hint: str) -> SuiteError:
        path = ("algorithms", self.label, *where)
        if self.source is None:
            return SuiteError(message, key=".".join(path), hint=hint)
        return self.source.error(path, message, hint=hint)

    def _derived_error(self, name: str, message: str, hint: str) -> SuiteError:
        path = ("algorithms", self.label, "search_space", name, "derived")
        if self.source is None:
            return SuiteError(message, key=".".join(path), hint=hint)
        return self.source.error(path, message, hint=hint)


@dataclass(frozen=True)
class Suite:
    """A loaded, validated suite after its scale overlay: the input of ``build_plan``."""

    name: str
    path: Path
    scale: str | None
    scales: tuple[str, ...]
    seed: int
    environments: Mapping[str, Environment]
    algorithms: Mapping[str, Algorithm]
    design: Design
    seeds: Seeds
    evaluation: EvalProtocol
    resources: Resources
    resolved: Mapping[str, Any]
    hash: str
    searched: Mapping[str, list[str]]
    description: str = ""
    trainer: str | None = None

    def trainer_for(self, label: str, override: str | None = None) -> str:
        """Who trains algorithm ``label``'s runs: ``override`` (``--trainer``), else its own
        ``trainer:``, else the suite's, else ``sb3``; may be ``auto`` (see ``build_plan``)."""
        return override or self.algorithms[label].trainer or self.trainer or DEFAULT_TRAINER



def derived_order(algorithm: Algorithm) -> list[str]:
    """Derived dimensions in dependency order (validated acyclic at load)."""
    derived = {n: d for n, d in algorithm.search_space.items() if isinstance(d, Derived)}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in visiting:
            raise ExpressionError(f"derived dimensions depend on each other: "
                                  f"{' -> '.join((*chain, name))}")
        visiting.add(name)
        for dep in derived[name].names:
            if dep in derived:
                visit(dep, (*chain, name))
        visiting.discard(name)
        order.append(name)

    for name in derived:
        visit(name, ())
    return order

