"""One member = one run: its SB3 model built exactly as the sb3 trainer builds it.

Building the member's SB3 model (same seed, same translation of its hyperparameters, same
constructor) is what makes a member faithful for free: its networks are initialised by SB3's
own code under the run's seed, its environment is the run's ``DummyVecEnv`` seeded as the run
would be, its schedules, action noise recipe and action space (whose seeded generator draws
the warm-up actions) are SB3's objects. The population trainer then only stacks the
parameters and replaces SB3's per-run update loop by a batched one. The model also serves
evaluation: the member's trained weights are written back into its policy and scored by the
same ``Evaluator`` as every sb3 run.

The replay buffer of an off-policy model is built with one slot (the population keeps all
members' transitions in one stacked buffer); the buffer's size does not consume randomness, so
the networks are initialised exactly as with the run's own ``buffer_size``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from rlsens.spec import RunSpec
from rlsens.trainer.build import build_model
from rlsens.trainer.evaluation import EVAL_POOL, Evaluator
from rlsens.vocabulary import algorithm_class


def constructor_default(cls: type[BaseAlgorithm], name: str) -> Any:
    return inspect.signature(cls.__init__).parameters[name].default


@dataclass
class Member:
    spec: RunSpec
    model: BaseAlgorithm
    evaluator: Evaluator

    def close(self) -> None:
        self.model.env.close()  # type: ignore[union-attr]
        self.evaluator.close()


def evaluation_envs(spec: RunSpec) -> list[gym.Env]:
    """The evaluation env pool a run's ``Evaluator`` would make, to share across a group.

    Members are evaluated one after another and every episode starts from a seeded reset, so
    one pool serves them all (a group of 64 would otherwise hold 64 pools of up to 16 envs);
    its size is the one each member's own evaluator would use, so batches are the same.
    """
    pool = min(spec.eval.episodes, EVAL_POOL)
    return [gym.make(spec.env_id, **dict(spec.env_kwargs)) for _ in range(pool)]


def build_member(spec: RunSpec, device: str, eval_envs: Sequence[gym.Env] | None = None) -> Member:
    """The run's SB3 model (``build_model``, the sb3 trainer's builder) and its evaluator."""
    cls = algorithm_class(spec.algo_class)
    replay_slots = 1 if issubclass(cls, OffPolicyAlgorithm) else None
    evaluator = Evaluator(spec.env_id, spec.env_kwargs, spec.eval, spec.seed, eval_envs)
    try:
        model = build_model(spec, device, replay_slots=replay_slots)
    except BaseException:
        evaluator.close()
        raise
    return Member(spec, model, evaluator)
