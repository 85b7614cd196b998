"""The unit of work: one training run, fully specified.

A ``RunSpec`` is the boundary between planning and execution. Its identity (``run_id``) is a
stable hash of exactly what determines the numbers a run produces: algorithm, environment
(with its kwargs), configuration, seed, budget, evaluation protocol and trainer. Resources and
the seed's role are bookkeeping and do not enter the hash, so changing them never re-runs
anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

SEED_ROLES = ("all", "tune", "report")
# Who trains a run. The trainer is part of what determines a run's numbers (the population
# trainer draws its exploration noise from other streams than SB3), so it enters the run id;
# ``sb3`` is left out of the hash so that every run id computed before trainers existed stays
# valid.
TRAINERS = ("sb3", "population")
DEFAULT_TRAINER = "sb3"
# What a suite or ``--trainer`` may ask for: a trainer, or ``auto`` (population wherever the
# population trainer supports the run, sb3 elsewhere).
TRAINER_CHOICES = (*TRAINERS, "auto")


@dataclass(frozen=True)
class EvalProtocol:
    """How a run is evaluated: every ``every`` steps, ``episodes`` episodes on a separate env.

    ``final`` is how many of the last evaluations the final score averages. Evaluation episodes
    use common random numbers: their reset seeds depend only on the run seed (see
    ``eval_episode_seeds``), so every configuration trained with a given seed is scored on the
    same start states, and configuration differences are not swamped by evaluation noise.
    """

    every: int = 1000
    episodes: int = 20
    final: int = 3
    deterministic: bool = True


@dataclass(frozen=True)
class Resources:
    """What one run asks of the executor. Not part of a run's identity."""

    cpus: float = 1.0
    gpus: float = 0.0
    memory_mb: int | None = None
    timeout_s: float | None = None


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the form every hash in rlsens is taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def stable_hash(value: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:length]


@dataclass(frozen=True)
class RunSpec:
    """One (algorithm, environment, configuration, seed, budget, evaluation) run.

    ``hyperparameters`` holds every hyperparameter of the run in suite vocabulary (SB3
    constructor arguments plus the zoo conventions ``noise_type``/``noise_std``, ``n_envs``,
    ``normalize``, ``policy_kwargs`` as a mapping, ``lin_<x>`` schedules); the trainer translates
    them. ``point`` holds only the searched dimensions (what the design varied), which is what
    the analysis treats as the hyperparameters of a sensitivity study; ``config_id`` hashes it,
    and is the same across environments so configurations can be compared across them.
    """

    suite: str
    algorithm: str
    algo_class: str
    env_id: str
    hyperparameters: Mapping[str, Any]
    seed: int
    budget: int
    eval: EvalProtocol = field(default_factory=EvalProtocol)
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    policy: str = "MlpPolicy"
    point: Mapping[str, Any] = field(default_factory=dict)
    config_id: str = ""
    seed_role: str = "all"
    resources: Resources = field(default_factory=Resources)
    trainer: str = DEFAULT_TRAINER

    def __post_init__(self) -> None:
        if self.trainer not in TRAINERS:
            raise ValueError(f"unknown trainer {self.trainer!r}; expected one of {list(TRAINERS)}")

    def identity(self) -> dict[str, Any]:
        identity: dict[str, Any] = {
            "algorithm": self.algorithm,
            "algo_class": self.algo_class,
            "policy": self.policy,
            "env_id": self.env_id,
            "env_kwargs": dict(self.env_kwargs),
            "hyperparameters": dict(self.hyperparameters),
            "seed": self.seed,
            "budget": self.budget,
            "eval": asdict(self.eval),
        }
        if self.trainer != DEFAULT_TRAINER:
            identity["trainer"] = self.trainer
        return identity

    @property
    def run_id(self) -> str:
        return stable_hash(self.identity())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["env_kwargs"] = dict(self.env_kwargs)
        data["hyperparameters"] = dict(self.hyperparameters)
        data["point"] = dict(self.point)
        data["run_id"] = self.run_id
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        fields = dict(data)
        fields.pop("run_id", None)
        fields["eval"] = EvalProtocol(**fields.get("eval", {}))
        fields["resources"] = Resources(**fields.get("resources", {}))
        return cls(**fields)


@dataclass(frozen=True)
class RunGroup:
    """Runs that one process trains together: the unit the executor schedules.

    An sb3 run is a group of one. A population group holds runs of one ``group_key``; it asks
    for ``resources`` once (the resources of one run: the members share one process, its
    threads and its GPU), and each member is still its own run, record and run id.

    ``stored`` names members already handed to the sink in this call (a run listed in two
    units): they train with their group but their results are not handed to the sink again.
    A resumed group does not need it: it holds only its missing members, whose numbers do not
    depend on the group's size (``rlsens.plan.groups.pending_groups``).
    """

    specs: tuple[RunSpec, ...]
    resources: Resources
    stored: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.specs:
            raise ValueError("a run group needs at least one run")
        if not self.stored <= set(self.run_ids) or self.stored == set(self.run_ids):
            raise ValueError("stored must name some, not all, of the group's runs")
        if len({spec.trainer for spec in self.specs}) > 1:
            raise ValueError("a run group mixes trainers")
        if len(self.specs) > 1 and self.trainer != "population":
            raise ValueError("only population runs share a group; an sb3 run is a group of one")

    @classmethod
    def single(cls, spec: RunSpec) -> RunGroup:
        return cls((spec,), spec.resources)

    @property
    def trainer(self) -> str:
        return self.specs[0].trainer

    @property
    def run_ids(self) -> list[str]:
        return [spec.run_id for spec in self.specs]

    @property
    def to_sink(self) -> list[RunSpec]:
        """The members whose results the executor hands to the sink."""
        return [spec for spec in self.specs if spec.run_id not in self.stored]


def eval_episode_seeds(seed: int, episodes: int) -> list[int]:
    """Reset seeds of the evaluation episodes of every run trained with ``seed``.

    Derived from the training seed through a ``SeedSequence`` with its own tag, so they never
    coincide with the training env's seeds, and independent of the configuration (common
    random numbers across configurations).
    """
    state = np.random.SeedSequence([seed, 0x5EED_E7A1]).generate_state(episodes, dtype=np.uint32)
    return [int(s) for s in state]
