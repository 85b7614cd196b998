"""Lockstep stepping is DummyVecEnv stepping: same observations, rewards, dones, timeouts."""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv

from rlsens.trainer.population.envs import LockstepEnvs


def test_lockstep_matches_dummy_vec_env_across_episode_ends() -> None:
    seeds = [3, 8]

    def make(seed: int) -> DummyVecEnv:
        return make_vec_env("Pendulum-v1", n_envs=1, seed=seed, vec_env_cls=DummyVecEnv)

    references = [make(s) for s in seeds]
    lockstep = LockstepEnvs([make(s) for s in seeds])
    obs = lockstep.reset()
    expected = np.concatenate([r.reset() for r in references])
    np.testing.assert_array_equal(obs, expected)
    rng = np.random.default_rng(0)
    alive = np.ones(2, dtype=bool)
    ends = 0
    for _ in range(450):
        actions = rng.uniform(-2, 2, size=(2, 1))
        step = lockstep.step(actions, obs, alive)
        for i, reference in enumerate(references):
            o, r, d, infos = reference.step(actions[i : i + 1])
            np.testing.assert_array_equal(step.observations[i], o[0])
            assert step.rewards[i] == r[0] and step.dones[i] == d[0]
            if d[0]:
                ends += 1
                assert step.timeouts[i] == infos[0]["TimeLimit.truncated"]
                np.testing.assert_array_equal(step.terminal[i], infos[0]["terminal_observation"])
        obs = step.observations
    assert ends == 4  # Pendulum-v1 truncates at 200 steps: two episode ends per member


def test_members_not_alive_are_not_stepped() -> None:
    envs = LockstepEnvs(
        [make_vec_env("Pendulum-v1", n_envs=1, seed=s, vec_env_cls=DummyVecEnv) for s in (1, 2)]
    )
    obs = envs.reset()
    step = envs.step(np.ones((2, 1)), obs, np.array([True, False]))
    assert not np.array_equal(step.observations[0], obs[0])
    np.testing.assert_array_equal(step.observations[1], obs[1])
    assert step.rewards[1] == 0.0
