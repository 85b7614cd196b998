"""Suite vocabulary -> stable-baselines3 objects.

A run's hyperparameters are written in the vocabulary of the suite (which follows the
rl-baselines3-zoo conventions): SB3 constructor arguments plus a few keys that SB3 does not
understand (``noise_type``/``noise_std``, ``n_envs``, ``normalize``, ``net_arch``,
``activation_fn`` by name, ``lin_<x>`` schedules). ``translate`` turns them into what SB3
takes, as plain data (no environment is built), so it can be unit-tested and so that errors
in a configuration surface before any time is spent training.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common import noise as sb3_noise
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.utils import LinearSchedule, set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from rlsens.spec import RunSpec
from rlsens.vocabulary import (
    ACTIVATIONS,
    LINEAR_PREFIX,
    NOISE_TYPES,
    OPTIMIZERS,
    SCHEDULED,
    algorithm_class,
    lookup,
    noise_problem,
)


@dataclass
class Translation:
    """What a run's hyperparameters mean for SB3.

    ``model_kwargs`` go to the algorithm's constructor (``action_noise`` still as a recipe,
    ``noise``, because the action dimension is only known once the env exists);
    ``n_envs`` and ``normalize`` (VecNormalize keyword arguments, or ``None``) shape the
    training env.
    """

    model_kwargs: dict[str, Any]
    n_envs: int = 1
    normalize: dict[str, Any] | None = None
    noise: tuple[str, Any] | None = None


def _named(table: Mapping[str, str], value: Any, module: Any, what: str) -> Any:
    """The class a vocabulary name stands for (``relu`` -> ``torch.nn.ReLU``); classes pass."""
    if not isinstance(value, str):
        return value
    name = lookup(table, value)
    if name is None:
        raise ValueError(f"unknown {what} {value!r}; expected one of {sorted(table)}")
    return getattr(module, table[name])


def activation(value: Any) -> type[torch.nn.Module]:
    return _named(ACTIVATIONS, value, torch.nn, "activation_fn")


def schedule(key: str, value: Any) -> Any:
    """``lin_<x>`` -> a schedule going linearly from x (start) to 0 (end of training)."""
    if key in SCHEDULED and isinstance(value, str) and value.startswith(LINEAR_PREFIX):
        text = value[len(LINEAR_PREFIX) :]
        try:
            start = float(text)
        except ValueError:
            raise ValueError(f"{key}: cannot read {value!r} as lin_<number>") from None
        return LinearSchedule(start=start, end=0.0, end_fraction=1.0)
    return value


def _policy_kwargs(hps: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``policy_kwargs`` with the ``net_arch``/``activation_fn`` shorthands.

    The shorthands win over the mapping: they are what a design searches, while
    ``policy_kwargs`` usually comes from zoo defaults.
    """
    raw = hps.get("policy_kwargs") or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"policy_kwargs must be a mapping, got {type(raw).__name__}")
    kwargs = dict(raw)
    for key in ("net_arch", "activation_fn"):
        if key in hps:
            kwargs[key] = hps[key]
    if "net_arch" in kwargs:
        kwargs["net_arch"] = _as_net_arch(kwargs["net_arch"])
    if "activation_fn" in kwargs:
        kwargs["activation_fn"] = activation(kwargs["activation_fn"])
    if "optimizer_class" in kwargs:
        kwargs["optimizer_class"] = _named(OPTIMIZERS, kwargs["optimizer_class"], torch.optim,
                                           "optimizer_class")
    return kwargs


def _as_net_arch(value: Any) -> Any:
    """Lists stay lists; a mapping (``{pi: [...], vf: [...]}`` / ``qf``) becomes a dict of lists."""
    if isinstance(value, Mapping):
        return {str(k): [int(n) for n in v] for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [int(n) for n in value]
    raise ValueError(f"net_arch must be a list of layer sizes or a mapping, got {value!r}")


def _normalize_kwargs(value: Any, gamma: Any) -> dict[str, Any] | None:
    if value is None or value is False:
        return None
    if value is True:
        kwargs: dict[str, Any] = {}
    elif isinstance(value, Mapping):
        kwargs = dict(value)
    else:
        raise ValueError(f"normalize must be a boolean or a mapping, got {value!r}")
    # As in the zoo: reward normalisation discounts with the agent's own gamma.
    if gamma is not None:
        kwargs.setdefault("gamma", gamma)
    return kwargs


def translate(hyperparameters: Mapping[str, Any]) -> Translation:
    """Suite vocabulary -> SB3 constructor kwargs plus env-shaping options."""
    hps = dict(hyperparameters)
    n_envs = hps.pop("n_envs", 1)
    if isinstance(n_envs, bool) or not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
        raise ValueError(f"n_envs must be a positive integer, got {n_envs!r}")
    normalize = _normalize_kwargs(hps.pop("normalize", None), hps.get("gamma"))

    noise_type = hps.pop("noise_type", None)
    noise_std = hps.pop("noise_std", None)
    problem = noise_problem(noise_type, noise_std)
    if problem:
        raise ValueError(problem)
    noise: tuple[str, Any] | None = None
    if noise_type is not None and NOISE_TYPES[noise_type] is not None:
        noise = (noise_type, noise_std)

    policy_kwargs = _policy_kwargs(hps)
    for key in ("policy_kwargs", "net_arch", "activation_fn"):
        hps.pop(key, None)

    kwargs: dict[str, Any] = {}
    for key, value in hps.items():
        if key == "train_freq" and isinstance(value, (list, tuple)):
            value = (int(value[0]), str(value[1]))
        kwargs[key] = schedule(key, value)
    if policy_kwargs:
        kwargs["policy_kwargs"] = policy_kwargs
    return Translation(kwargs, int(n_envs), normalize, noise)


def action_noise(noise: tuple[str, Any] | None, action_space: gym.Space) -> ActionNoise | None:
    """Zoo semantics: mean 0, sigma = noise_std on every action dimension."""
    if noise is None:
        return None
    if not isinstance(action_space, gym.spaces.Box):
        raise ValueError(f"action noise needs a continuous (Box) action space, got {action_space}")
    noise_type, std = noise
    dim = int(np.prod(action_space.shape))
    sigma = np.asarray(std, dtype=np.float64) * np.ones(dim)
    cls = getattr(sb3_noise, str(NOISE_TYPES[noise_type]))
    return cls(mean=np.zeros(dim), sigma=sigma)


def make_train_env(
    env_id: str, env_kwargs: Mapping[str, Any], translation: Translation, seed: int
) -> VecEnv:
    """``n_envs`` copies in one process (DummyVecEnv), seeded ``seed, seed+1, ...``.

    Subprocess envs would pay IPC per step for the cheap Gymnasium envs rlsens targets, and
    runs are parallelised across processes by the executor instead.
    """
    env: VecEnv = make_vec_env(
        env_id,
        n_envs=translation.n_envs,
        seed=seed,
        env_kwargs=dict(env_kwargs),
        vec_env_cls=DummyVecEnv,
    )
    if translation.normalize is not None:
        env = VecNormalize(env, **translation.normalize)
    return env


def build_model(spec: RunSpec, device: str, *, replay_slots: int | None = None) -> BaseAlgorithm:
    """The run's SB3 model on its seeded training env, built the one way both trainers build it.

    Seeding, translation, the training env, the action noise and the constructor call come in
    this order because together they fix the initial weights and the env's start states; the
    sb3 trainer and every population member call this, so a member starts exactly where its
    sb3 run would. ``replay_slots`` replaces the replay buffer's size (the population keeps
    its members' transitions in one stacked buffer); the size consumes no randomness. The
    model's env is its training env (closed here if the constructor fails); the logger has no
    outputs, since SB3 otherwise creates a temp folder per model.
    """
    set_random_seed(spec.seed, using_cuda=device.startswith("cuda"))
    translation = translate(spec.hyperparameters)
    cls = algorithm_class(spec.algo_class)
    env = make_train_env(spec.env_id, spec.env_kwargs, translation, spec.seed)
    kwargs = dict(translation.model_kwargs)
    noise = action_noise(translation.noise, env.action_space)
    if noise is not None:
        kwargs["action_noise"] = noise
    if replay_slots is not None:
        kwargs["buffer_size"] = replay_slots
    try:
        model = cls(spec.policy, env, seed=spec.seed, device=device, verbose=0, **kwargs)
    except BaseException:
        env.close()
        raise
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model
