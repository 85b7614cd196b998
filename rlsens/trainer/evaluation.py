"""Scheduled evaluation on a separate env with common random numbers.

Every configuration trained with seed ``s`` is evaluated on the same start states: episode
``i`` of every evaluation of every such run is reset with ``eval_episode_seeds(s, n)[i]``.
Differences between configurations are then not confounded with which start states their
evaluation happened to draw (on Pendulum-v1 ten random start angles move a mean return by
about +-25, as large as many configuration effects).

Evaluation leaves the training run untouched: it runs on its own env instances, and the
global random generators it may consume (stochastic actions, DQN's epsilon) are saved before
and restored after, so a run trains identically whatever its evaluation protocol.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm

from rlsens.record import Evaluation
from rlsens.spec import EvalProtocol, eval_episode_seeds
from rlsens.trainer.guards import Diverged, all_finite

# Evaluation episodes run in lockstep on up to this many env instances, so the policy sees a
# batch of observations per forward pass instead of one (about 10x fewer torch calls).
EVAL_POOL = 16
# Tag of the seed stream for stochastic evaluation actions (see ``isolated_rng``).
_ACTION_SEED_TAG = 0xAC7_10


def evaluation_steps(budget: int, every: int) -> list[int]:
    """The environment-step counts at which a run is evaluated.

    Multiples of ``every`` up to the budget, plus the budget itself when it is not a multiple,
    so the last evaluation always scores the fully trained agent.
    """
    if budget < 1 or every < 1:
        raise ValueError(f"budget and eval.every must be positive, got {budget} and {every}")
    steps = list(range(every, budget + 1, every))
    if not steps or steps[-1] != budget:
        steps.append(budget)
    return steps


@dataclass
class EpisodeBatch:
    """Per-episode outcomes of one evaluation, in episode (seed) order."""

    returns: list[float]
    lengths: list[int]
    initial_observations: list[Any]


def _stack(observations: Sequence[Any]) -> Any:
    if isinstance(observations[0], Mapping):
        return {key: np.stack([o[key] for o in observations]) for key in observations[0]}
    return np.stack(observations)


def run_episodes(
    envs: Sequence[gym.Env], act: Callable[[Any], np.ndarray], seeds: Sequence[int]
) -> EpisodeBatch:
    """Play one episode per seed, spreading them over ``envs`` in lockstep.

    ``act`` maps a batch of observations to a batch of actions. Episode ``i`` always starts
    from ``reset(seed=seeds[i])``, whichever env instance plays it; an episode ends on
    ``terminated`` or ``truncated`` (the env's own time limit).
    """
    n = len(seeds)
    returns = [0.0] * n
    lengths = [0] * n
    initial: list[Any] = [None] * n
    pending = iter(range(n))
    episode_of: dict[int, int] = {}
    observation: dict[int, Any] = {}

    def start(slot: int) -> None:
        episode = next(pending, None)
        if episode is None:
            return
        obs, _ = envs[slot].reset(seed=int(seeds[episode]))
        episode_of[slot] = episode
        observation[slot] = obs
        initial[episode] = obs

    for slot in range(min(len(envs), n)):
        start(slot)
    while episode_of:
        slots = sorted(episode_of)
        actions = act(_stack([observation[s] for s in slots]))
        if not all_finite(actions):
            raise Diverged("non-finite action during evaluation")
        for slot, action in zip(slots, actions, strict=True):
            episode = episode_of[slot]
            obs, reward, terminated, truncated, _ = envs[slot].step(action)
            returns[episode] += float(reward)
            lengths[episode] += 1
            observation[slot] = obs
            if terminated or truncated:
                del episode_of[slot], observation[slot]
                start(slot)
    return EpisodeBatch(returns, lengths, initial)


@contextlib.contextmanager
def isolated_rng(model: BaseAlgorithm, seed: int) -> Iterator[None]:
    """Seed the global generators with ``seed`` inside, restore the training state after.

    Stochastic evaluation samples actions from torch's generator; DQN's epsilon-greedy
    ``predict`` also draws from numpy's global generator and from the model's action space.
    Restoring them keeps training independent of evaluation; seeding them makes the
    evaluation's own draws the same at every evaluation and for every configuration.
    """
    py_state = random.getstate()
    np_state = np.random.get_state()
    space_rng = model.action_space.np_random.bit_generator
    space_state = space_rng.state
    devices: list[int] = []
    if model.device.type == "cuda":
        index = model.device.index
        devices = [torch.cuda.current_device() if index is None else index]
    with torch.random.fork_rng(devices=devices):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
            space_rng.state = space_state


class Evaluator:
    """The evaluation env(s) of one run and the protocol to score a model on them."""

    def __init__(
        self,
        env_id: str,
        env_kwargs: Mapping[str, Any],
        protocol: EvalProtocol,
        seed: int,
        envs: Sequence[gym.Env] | None = None,
    ) -> None:
        """``envs``: instances of ``env_id`` shared with other evaluators that run one at a
        time (every episode starts from a seeded reset); the caller closes them."""
        if protocol.episodes < 1:
            raise ValueError(f"eval.episodes must be at least 1, got {protocol.episodes}")
        self.protocol = protocol
        self.seeds = eval_episode_seeds(seed, protocol.episodes)
        self.action_seed = int(
            np.random.SeedSequence([seed, _ACTION_SEED_TAG]).generate_state(1, dtype=np.uint32)[0]
        )
        pool = min(protocol.episodes, EVAL_POOL)
        self._owns_envs = envs is None
        self.envs = list(envs) if envs is not None else [
            gym.make(env_id, **dict(env_kwargs)) for _ in range(pool)
        ]

    def evaluate(
        self,
        model: BaseAlgorithm,
        step: int,
        normalize_obs: Callable[[Any], Any] | None = None,
    ) -> Evaluation:
        """Score ``model`` (observations through the training env's ``normalize_obs``, if any).

        Returns are the env's raw rewards summed per episode, never normalised ones.
        Raises ``Diverged`` when an action or a return is not finite.
        """

        def act(obs: Any) -> np.ndarray:
            if normalize_obs is not None:
                obs = normalize_obs(obs)
            actions, _ = model.predict(obs, deterministic=self.protocol.deterministic)
            return actions

        with isolated_rng(model, self.action_seed):
            batch = run_episodes(self.envs, act, self.seeds)
        if not all_finite(batch.returns):
            raise Diverged("non-finite evaluation return")
        return Evaluation(step, batch.returns, batch.lengths)

    def close(self) -> None:
        for env in self.envs if self._owns_envs else ():
            env.close()
