"""Real (tiny) runs through ``rlsens.trainer.run.train``: records, statuses, determinism."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from rlsens.record import RunResult
from rlsens.spec import EvalProtocol, Resources, RunSpec
from rlsens.trainer import evaluation
from rlsens.trainer.evaluation import evaluation_steps
from rlsens.trainer.run import train

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"net_arch": [32, 32]}
OFF_POLICY = {**SMALL, "learning_starts": 50, "batch_size": 32}
ON_POLICY = {**SMALL, "n_steps": 50}


class FaultyEnv(gym.Env):
    """A legitimate Gymnasium env that goes wrong after ``fault_after`` steps of its life.

    ``fault="nan"`` returns NaN observations and rewards (what a blown-up simulation does);
    ``fault="raise"`` raises. Steps are counted per instance across episodes, so the
    trainer's separate evaluation env (few, short episodes) stays healthy.
    """

    # SB3's make_vec_env asks for rgb_array rendering; declaring it avoids a warning.
    metadata = {"render_modes": ["rgb_array"]}  # noqa: RUF012 - Gymnasium's class attribute

    def __init__(self, fault_after: int = 10**9, fault: str = "nan") -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.fault_after, self.fault, self.steps = fault_after, fault, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), {}

    def step(self, action: np.ndarray) -> tuple:
        self.steps += 1
        obs = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        reward = -float(np.square(action).sum())
        if self.steps >= self.fault_after:
            if self.fault == "raise":
                raise RuntimeError("simulator exploded")
            obs[:], reward = np.nan, math.nan
        return obs, reward, False, False, {}


gym.register("RlsensTest/Faulty-v0", entry_point=FaultyEnv, max_episode_steps=10)


def spec_for(
    algo_class: str,
    hyperparameters: dict[str, Any],
    *,
    env_id: str = "Pendulum-v1",
    budget: int = 300,
    seed: int = 0,
    every: int = 100,
    episodes: int = 2,
    env_kwargs: dict[str, Any] | None = None,
    timeout_s: float | None = None,
    deterministic: bool = True,
) -> RunSpec:
    return RunSpec(
        suite="test",
        algorithm=algo_class.lower(),
        algo_class=algo_class,
        env_id=env_id,
        hyperparameters=hyperparameters,
        seed=seed,
        budget=budget,
        eval=EvalProtocol(every=every, episodes=episodes, final=2, deterministic=deterministic),
        env_kwargs=env_kwargs or {},
        resources=Resources(cpus=1, timeout_s=timeout_s),
    )


def assert_valid_record(result: RunResult) -> None:
    spec = result.spec
    assert result.status == "ok", result.error
    assert result.error is None and result.diverged_step is None
    assert [e.step for e in result.curve] == evaluation_steps(spec.budget, spec.eval.every)
    for e in result.curve:
        assert len(e.returns) == len(e.lengths) == spec.eval.episodes
        assert all(math.isfinite(r) for r in e.returns) and all(n > 0 for n in e.lengths)
    assert result.steps >= spec.budget
    assert math.isfinite(result.score_auc) and math.isfinite(result.score_final)
    assert 0 < result.train_time_s < result.wall_time_s
    assert result.device == "cpu" and result.host and result.versions["stable_baselines3"]
    assert result.started_at <= result.finished_at
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert RunResult.from_dict(json.loads(text)).to_dict() == result.to_dict()


@pytest.mark.parametrize(
    ("algo_class", "env_id", "hyperparameters"),
    [
        ("DDPG", "Pendulum-v1", {**OFF_POLICY, "noise_type": "normal", "noise_std": 0.1}),
        (
            "TD3",
            "Pendulum-v1",
            {**OFF_POLICY, "noise_type": "ornstein-uhlenbeck", "noise_std": 0.2},
        ),
        ("SAC", "Pendulum-v1", {**OFF_POLICY, "train_freq": [1, "episode"], "gradient_steps": 50}),
        ("PPO", "Pendulum-v1", {**ON_POLICY, "batch_size": 50, "learning_rate": "lin_3e-4"}),
        ("A2C", "Pendulum-v1", {**SMALL, "activation_fn": "relu", "normalize": True}),
        ("DQN", "CartPole-v1", {**OFF_POLICY, "exploration_fraction": 0.5}),
    ],
)
def test_each_algorithm_produces_a_valid_record(
    algo_class: str, env_id: str, hyperparameters: dict[str, Any]
) -> None:
    assert_valid_record(train(spec_for(algo_class, hyperparameters, env_id=env_id)))


def test_evaluation_schedule_counts_total_steps_with_several_envs() -> None:
    # 3 envs: num_timesteps moves in steps of 3; evaluations still land on the schedule,
    # and the budget (not a multiple of every) gets its own final evaluation.
    spec = spec_for("PPO", {**ON_POLICY, "n_envs": 3, "batch_size": 50}, budget=250)
    result = train(spec)
    assert_valid_record(result)
    assert [e.step for e in result.curve] == [100, 200, 250]
    assert result.steps == 300  # two rollouts of 3 x 50 steps


def test_nan_from_the_environment_is_divergence() -> None:
    spec = spec_for(
        "A2C",
        {**SMALL, "n_steps": 5},
        env_id="RlsensTest/Faulty-v0",
        env_kwargs={"fault_after": 250},
    )
    result = train(spec)
    assert result.status == "diverged", result.error
    assert result.diverged_step == 250 and result.steps == 250
    assert [e.step for e in result.curve] == [100, 200]
    assert result.error.startswith("non-finite") and result.error.endswith("at step 250")


def test_exception_mid_training_is_failed_with_traceback_and_curve() -> None:
    spec = spec_for(
        "A2C",
        {**SMALL, "n_steps": 5},
        env_id="RlsensTest/Faulty-v0",
        env_kwargs={"fault_after": 150, "fault": "raise"},
    )
    result = train(spec)
    assert result.status == "failed"
    assert "Traceback" in result.error and "simulator exploded" in result.error
    assert [e.step for e in result.curve] == [100] and result.steps == 149


def test_invalid_hyperparameter_is_failed() -> None:
    for hps in ({"not_an_argument": 1}, {"noise_type": "pink", "noise_std": 0.1}):
        result = train(spec_for("PPO", hps))
        assert result.status == "failed" and "Traceback" in result.error
        assert result.curve == [] and result.steps == 0
        json.dumps(result.to_dict(), allow_nan=False)


def test_timeout_keeps_the_curve_so_far() -> None:
    spec = spec_for(
        "SAC",
        {**OFF_POLICY, "learning_starts": 10},
        budget=10**6,
        every=50,
        episodes=1,
        timeout_s=2.0,
    )
    result = train(spec)
    assert result.status == "timeout" and "timeout_s=2.0" in result.error
    assert 0 < result.steps < 10**6 and result.wall_time_s < 30
    assert [e.step for e in result.curve] == list(range(50, 50 * len(result.curve) + 1, 50))


def test_evaluation_start_states_are_common_across_configurations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts: list[np.ndarray] = []

    def recording(*args: Any) -> evaluation.EpisodeBatch:
        batch = real(*args)
        starts.append(np.stack(batch.initial_observations))
        return batch

    real = evaluation.run_episodes
    monkeypatch.setattr(evaluation, "run_episodes", recording)
    configs = [
        {**ON_POLICY, "batch_size": 50, "learning_rate": 1e-3},
        {"n_steps": 20, "batch_size": 20, "net_arch": [8], "gamma": 0.9},
    ]
    per_run = []
    for seed, hps in [(0, configs[0]), (0, configs[1]), (1, configs[0])]:
        starts.clear()
        train(spec_for("PPO", hps, seed=seed, budget=200, episodes=3))
        per_run.append(list(starts))
    same_seed_a, same_seed_b, other_seed = per_run
    assert len(same_seed_a) == 2
    for a, b in zip(same_seed_a, same_seed_b, strict=True):
        np.testing.assert_array_equal(a, b)  # same seed, different configuration
    np.testing.assert_array_equal(same_seed_a[0], same_seed_a[1])  # every evaluation
    assert not np.array_equal(same_seed_a[0], other_seed[0])


def test_evaluation_does_not_perturb_training() -> None:
    hps = {**OFF_POLICY}
    dense = train(spec_for("SAC", hps, budget=200, every=50, deterministic=False))
    sparse = train(spec_for("SAC", hps, budget=200, every=100, deterministic=False))
    by_step = {e.step: e.returns for e in dense.curve}
    for e in sparse.curve:
        assert e.returns == by_step[e.step]


_SUBPROCESS = """
import json, sys
from rlsens.spec import RunSpec
from rlsens.trainer.run import train
spec = RunSpec.from_dict(json.loads(sys.argv[1]))
print(json.dumps([[e.step, e.returns, e.lengths] for e in train(spec).curve]))
"""


def test_same_spec_gives_identical_curves_in_one_and_two_processes() -> None:
    spec = spec_for("SAC", {**OFF_POLICY, "ent_coef": "auto"}, budget=200)
    first, second = train(spec), train(spec)
    curve = [[e.step, e.returns, e.lengths] for e in first.curve]
    assert curve == [[e.step, e.returns, e.lengths] for e in second.curve]
    out = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS, json.dumps(spec.to_dict())],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == curve
