"""The suite checks and the trainer read one vocabulary: every name the suite accepts builds.

Before the vocabulary had one owner, ``activation_fn: selu`` validated and then failed every
run; these tests construct, in the trainer's translate/build path, every activation, optimizer,
noise type, algorithm class and schedule the suite accepts, and check that names the suite
refuses are refused by the trainer too.
"""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.noise import ActionNoise

from rlsens.suite.hyperparameters import accepted, check_value
from rlsens.trainer.build import action_noise, make_train_env, translate
from rlsens.vocabulary import (
    ACTIVATIONS,
    ALGORITHM_CLASSES,
    CONTINUOUS_ACTIONS_ONLY,
    DISCRETE_ACTIONS_ONLY,
    NOISE_TYPES,
    OPTIMIZERS,
    SCHEDULED,
    algorithm_class,
)

BOX = gym.spaces.Box(-1.0, 1.0, shape=(2,))


def _build(algo_class: str, hyperparameters: dict) -> BaseAlgorithm:
    """The model a run of these hyperparameters would train (built, not trained)."""
    env_id = "CartPole-v1" if algo_class in DISCRETE_ACTIONS_ONLY else "Pendulum-v1"
    translation = translate(hyperparameters)
    env = make_train_env(env_id, {}, translation, seed=0)
    kwargs = dict(translation.model_kwargs)
    noise = action_noise(translation.noise, env.action_space)
    if noise is not None:
        kwargs["action_noise"] = noise
    return algorithm_class(algo_class)("MlpPolicy", env, seed=0, device="cpu", **kwargs)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_activation_the_suite_accepts_builds(name: str) -> None:
    assert check_value("activation_fn", name) is None
    assert check_value("policy_kwargs", {"activation_fn": name}) is None
    cls = translate({"activation_fn": name}).model_kwargs["policy_kwargs"]["activation_fn"]
    assert issubclass(cls, torch.nn.Module)
    model = _build("PPO", {"activation_fn": name, "net_arch": [8], "n_steps": 16,
                           "batch_size": 16})
    assert any(isinstance(m, cls) for m in model.policy.modules())


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_the_suite_accepts_builds(name: str) -> None:
    assert check_value("policy_kwargs", {"optimizer_class": name}) is None
    model = _build("PPO", {"policy_kwargs": {"optimizer_class": name}, "net_arch": [8],
                           "n_steps": 16, "batch_size": 16})
    assert type(model.policy.optimizer).__name__ == OPTIMIZERS[name]


@pytest.mark.parametrize("name", list(NOISE_TYPES))
def test_every_noise_type_the_suite_accepts_builds(name: str) -> None:
    assert check_value("noise_type", name) is None
    hps = {"noise_type": name, "noise_std": 0.1, "net_arch": [8], "buffer_size": 100}
    noise = action_noise(translate(hps).noise, BOX)
    assert (noise is None) == (NOISE_TYPES[name] is None)
    assert noise is None or isinstance(noise, ActionNoise)
    model = _build("TD3", hps)
    assert (model.action_noise is None) == (NOISE_TYPES[name] is None)


@pytest.mark.parametrize("algo_class", ALGORITHM_CLASSES)
def test_every_algorithm_class_builds_with_every_extra_it_accepts(algo_class: str) -> None:
    names = accepted(algo_class)
    hps = {"net_arch": [8], "activation_fn": "tanh", "n_envs": 2, "normalize": True}
    if "noise_type" in names:
        hps |= {"noise_type": "normal", "noise_std": 0.1}
    if "buffer_size" in names:
        hps["buffer_size"] = 100
    if "n_steps" in names:
        hps |= {"n_steps": 8}
    if algo_class == "PPO":
        hps["batch_size"] = 16
    assert all(check_value(k, v) is None for k, v in hps.items())
    model = _build(algo_class, hps)
    assert type(model).__name__ == algo_class and model.n_envs == 2
    continuous = isinstance(model.action_space, gym.spaces.Box)
    assert continuous or algo_class not in CONTINUOUS_ACTIONS_ONLY


@pytest.mark.parametrize("key", SCHEDULED)
def test_every_scheduled_key_builds_a_schedule(key: str) -> None:
    assert check_value(key, "lin_0.001") is None
    model = _build("PPO", {key: "lin_0.001", "net_arch": [8], "n_steps": 16, "batch_size": 16})
    schedule = {"learning_rate": model.lr_schedule, "clip_range": model.clip_range,
                "clip_range_vf": model.clip_range_vf}[key]
    assert schedule(1.0) == pytest.approx(1e-3) and schedule(0.0) == 0.0


@pytest.mark.parametrize(
    ("key", "value"),
    [("activation_fn", "swish2"), ("activation_fn", "softmax"), ("noise_type", "pink"),
     ("policy_kwargs", {"optimizer_class": "lbfgs2"}), ("learning_rate", "lin_fast")],
)
def test_names_the_suite_refuses_the_trainer_refuses(key: str, value: object) -> None:
    assert check_value(key, value) is not None
    hps = {key: value, "noise_std": 0.1} if key == "noise_type" else {key: value}
    with pytest.raises(ValueError):
        translate(hps)


def test_the_vocabulary_imports_neither_torch_nor_sb3() -> None:
    code = ("import sys, rlsens.vocabulary; "
            "print(sorted(m for m in ('torch', 'stable_baselines3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
