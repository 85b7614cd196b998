"""Unit tests of the trainer's parts: translation, schedule, guards, evaluation protocol."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
from stable_baselines3.common.vec_env import VecNormalize

from rlsens.provenance import library_versions
from rlsens.spec import EvalProtocol, RunSpec, eval_episode_seeds
from rlsens.trainer.build import action_noise, make_train_env, translate
from rlsens.trainer.evaluation import Evaluator, evaluation_steps, run_episodes
from rlsens.trainer.guards import Diverged, all_finite, check_model
from rlsens.trainer.placement import resolve_device
from rlsens.vocabulary import algorithm_class


def test_evaluation_steps_include_the_budget() -> None:
    assert evaluation_steps(1000, 300) == [300, 600, 900, 1000]
    assert evaluation_steps(900, 300) == [300, 600, 900]
    assert evaluation_steps(100, 300) == [100]
    with pytest.raises(ValueError):
        evaluation_steps(100, 0)


def test_plain_hyperparameters_pass_verbatim() -> None:
    t = translate({"gamma": 0.98, "batch_size": 64, "ent_coef": "auto", "use_sde": True})
    assert t.model_kwargs == {"gamma": 0.98, "batch_size": 64, "ent_coef": "auto", "use_sde": True}
    assert t.n_envs == 1 and t.normalize is None and t.noise is None


@pytest.mark.parametrize(
    ("name", "cls"),
    [("normal", NormalActionNoise), ("ornstein-uhlenbeck", OrnsteinUhlenbeckActionNoise)],
)
def test_noise_follows_zoo_semantics(name: str, cls: type) -> None:
    t = translate({"noise_type": name, "noise_std": 0.3})
    assert "noise_type" not in t.model_kwargs and "noise_std" not in t.model_kwargs
    space = gym.spaces.Box(-1.0, 1.0, shape=(3,))
    noise = action_noise(t.noise, space)
    assert isinstance(noise, cls)
    np.testing.assert_allclose(noise._mu, np.zeros(3))
    np.testing.assert_allclose(noise._sigma, 0.3 * np.ones(3))
    assert action_noise(translate({"noise_type": "none"}).noise, space) is None


@pytest.mark.parametrize(
    "hps",
    [
        {"noise_type": "pink"},
        {"noise_type": "normal"},
        {"noise_std": 0.1},
        {"learning_rate": "lin_fast"},
        {"activation_fn": "swish2"},
        {"n_envs": 0},
        {"normalize": "yes"},
        {"policy_kwargs": [1, 2]},
    ],
)
def test_invalid_values_are_rejected(hps: dict) -> None:
    with pytest.raises(ValueError):
        translate(hps)


def test_linear_schedules() -> None:
    t = translate({"learning_rate": "lin_3e-4", "clip_range": "lin_0.2", "clip_range_vf": 0.5})
    lr, clip = t.model_kwargs["learning_rate"], t.model_kwargs["clip_range"]
    assert lr(1.0) == pytest.approx(3e-4) and lr(0.5) == pytest.approx(1.5e-4) and lr(0.0) == 0.0
    assert clip(0.25) == pytest.approx(0.05)
    assert t.model_kwargs["clip_range_vf"] == 0.5


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("relu", torch.nn.ReLU),
        ("tanh", torch.nn.Tanh),
        ("elu", torch.nn.ELU),
        ("leaky_relu", torch.nn.LeakyReLU),
        ("LeakyReLU", torch.nn.LeakyReLU),
        ("gelu", torch.nn.GELU),
        ("nn.SiLU", torch.nn.SiLU),
    ],
)
def test_activation_names(name: str, cls: type) -> None:
    assert translate({"activation_fn": name}).model_kwargs["policy_kwargs"]["activation_fn"] is cls


def test_shorthands_merge_into_policy_kwargs() -> None:
    t = translate(
        {
            "policy_kwargs": {
                "net_arch": [400, 300],
                "log_std_init": -2,
                "optimizer_class": "RMSprop",
            },
            "net_arch": [32, 32],
            "activation_fn": "tanh",
        }
    )
    assert t.model_kwargs["policy_kwargs"] == {
        "net_arch": [32, 32],
        "log_std_init": -2,
        "activation_fn": torch.nn.Tanh,
        "optimizer_class": torch.optim.RMSprop,
    }
    assert "net_arch" not in t.model_kwargs and "activation_fn" not in t.model_kwargs
    split = translate({"net_arch": {"pi": [8], "vf": [16, 16]}}).model_kwargs["policy_kwargs"]
    assert split["net_arch"] == {"pi": [8], "vf": [16, 16]}


def test_train_freq_list_becomes_tuple() -> None:
    assert translate({"train_freq": [1, "episode"]}).model_kwargs["train_freq"] == (1, "episode")
    assert translate({"train_freq": 4}).model_kwargs["train_freq"] == 4


def test_n_envs_and_normalize_shape_the_training_env() -> None:
    t = translate({"n_envs": 3, "normalize": {"norm_reward": False}, "gamma": 0.9})
    assert t.n_envs == 3 and t.normalize == {"norm_reward": False, "gamma": 0.9}
    assert "n_envs" not in t.model_kwargs and "normalize" not in t.model_kwargs
    env = make_train_env("Pendulum-v1", {}, t, seed=0)
    try:
        assert isinstance(env, VecNormalize) and env.num_envs == 3 and not env.norm_reward
    finally:
        env.close()
    assert translate({"normalize": True}).normalize == {}
    assert translate({"normalize": False}).normalize is None


def test_unknown_algorithm_class() -> None:
    with pytest.raises(ValueError, match="unknown algorithm"):
        algorithm_class("TRPO")


def test_device_resolution() -> None:
    spec = RunSpec("s", "a", "PPO", "CartPole-v1", {}, seed=0, budget=10)
    assert resolve_device(spec, None) == "cpu"
    assert resolve_device(spec, "cuda:1") == "cuda:1"


def test_library_versions() -> None:
    versions = library_versions()
    for key in ("python", "rlsens_version", "torch", "stable_baselines3", "gymnasium", "numpy"):
        assert versions[key]


def test_all_finite() -> None:
    assert all_finite(np.array([1.0, 2.0])) and all_finite(np.array([1, 2])) and all_finite([])
    assert not all_finite(np.array([1.0, np.nan])) and not all_finite([np.inf])
    assert not all_finite({"a": np.zeros(2), "b": np.array([np.nan])})


def test_nan_parameters_are_detected() -> None:
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=8, batch_size=8, seed=0, device="cpu")
    model.set_logger(Logger(folder=None, output_formats=[]))
    check_model(model, 0)
    model.logger.record("train/value_loss", float("inf"))
    with pytest.raises(Diverged, match="loss"):
        check_model(model, 3)
    model.logger.dump()
    check_model(model, 4)
    with torch.no_grad():
        next(iter(model.policy.parameters()))[0].fill_(float("nan"))
    with pytest.raises(Diverged, match="parameters"):
        check_model(model, 5)


def test_run_episodes_uses_one_reset_seed_per_episode_whatever_the_pool() -> None:
    seeds = eval_episode_seeds(3, 5)
    zero = lambda obs: np.zeros((len(obs), 1), dtype=np.float32)  # noqa: E731
    outcomes = []
    for pool in (1, 2, 5):
        envs = [gym.make("Pendulum-v1") for _ in range(pool)]
        outcomes.append(run_episodes(envs, zero, seeds))
    expected = []
    for s in seeds:
        obs, _ = gym.make("Pendulum-v1").reset(seed=s)
        expected.append(obs)
    for batch in outcomes:
        np.testing.assert_array_equal(np.stack(batch.initial_observations), np.stack(expected))
        assert batch.returns == outcomes[0].returns and batch.lengths == [200] * 5


def test_evaluation_sees_observations_through_the_training_statistics() -> None:
    model = PPO("MlpPolicy", "Pendulum-v1", n_steps=8, batch_size=8, seed=0, device="cpu")
    evaluator = Evaluator("Pendulum-v1", {}, EvalProtocol(every=1, episodes=3), seed=0)
    seen = []

    def normalize(obs: np.ndarray) -> np.ndarray:
        seen.append(obs.copy())
        return obs * 0.0

    result = evaluator.evaluate(model, 7, normalize)
    evaluator.close()
    assert result.step == 7 and len(result.returns) == 3 and result.lengths == [200] * 3
    assert seen[0].shape == (3, 3) and np.abs(seen[0]).sum() > 0


def test_evaluation_leaves_training_rng_alone() -> None:
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=8, batch_size=8, seed=0, device="cpu")
    evaluator = Evaluator("CartPole-v1", {}, EvalProtocol(episodes=2, deterministic=False), seed=1)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy())
    first = evaluator.evaluate(model, 1)
    second = evaluator.evaluate(model, 2)
    evaluator.close()
    assert torch.equal(before[0], torch.get_rng_state())
    np.testing.assert_array_equal(before[1], np.random.get_state()[1])
    # Stochastic evaluation draws from its own seeded stream: same agent -> same outcome.
    assert first.returns == second.returns
