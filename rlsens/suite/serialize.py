"""The suite as plain JSON data: what the manifest stores and the suite hash covers.

Everything that changes a run is in it (resolved after the scale overlay, zoo defaults
imported); the file's location is not, so a suite moved elsewhere keeps its hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlsens.spec import EvalProtocol, Resources
from rlsens.suite.design import Design
from rlsens.suite.model import Algorithm, Environment, Seeds


def suite_dict(name: str, description: str, seed: int, scale: str | None,
               environments: Mapping[str, Environment], algorithms: Mapping[str, Algorithm],
               design: Design, seeds: Seeds, evaluation: EvalProtocol,
               resources: Resources, trainer: str | None = None) -> dict[str, Any]:
    """The resolved suite as JSON-ready data (``Suite.resolved``).

    ``trainer`` keys appear only where the suite writes them, so that suites written before
    the key existed keep their hash.
    """
    data: dict[str, Any] = {
        "name": name,
        "description": description,
        "seed": seed,
        "scale": scale,
        "environments": {e.env_id: {"budget": e.budget, "env_kwargs": dict(e.env_kwargs)}
                         for e in environments.values()},
        "algorithms": {label: algorithm_dict(a) for label, a in algorithms.items()},
        "design": {"type": design.type, "n": design.n, "levels": design.levels,
                   "include_default": design.include_default},
        "seeds": seeds.to_dict(),
        "evaluation": {"every": evaluation.every, "episodes": evaluation.episodes,
                       "final": evaluation.final, "deterministic": evaluation.deterministic},
        "resources": {"cpus": resources.cpus, "gpus": resources.gpus,
                      "memory_mb": resources.memory_mb, "timeout_s": resources.timeout_s},
    }
    if trainer is not None:
        data["trainer"] = trainer
    return data


def algorithm_dict(algorithm: Algorithm) -> dict[str, Any]:
    data: dict[str, Any] = {
        "class": algorithm.algo_class,
        "policy": algorithm.policy,
        "environments": list(algorithm.environments),
        "budget": dict(algorithm.budget),
        "zoo": algorithm.zoo,
        "zoo_defaults": {k: dict(v) for k, v in algorithm.zoo_defaults.items()},
        "zoo_policies": dict(algorithm.zoo_policies),
        "hyperparameters": dict(algorithm.hyperparameters),
        "per_env": {k: dict(v) for k, v in algorithm.per_env.items()},
        "search_space": {name: dim.to_dict() for name, dim in algorithm.search_space.items()},
        "default_point": dict(algorithm.default_point),
    }
    if algorithm.trainer is not None:
        data["trainer"] = algorithm.trainer
    return data
