"""Which runs the population trainer can train, and which runs can share a group.

``supports(spec)`` is an allow-list: an algorithm, policy, environment or hyperparameter the
population trainer does not implement exactly is a reason to train the run with ``sb3``
instead, never something silently ignored. ``group_key(spec)`` is what members of one group
must share: everything that fixes tensor shapes or the update schedule (network architecture,
batch and buffer sizes, rollout length, train frequency, gradient steps, delays, epochs) plus
the environment, budget and evaluation protocol (members step and are evaluated in lockstep).
Scalar hyperparameters (learning rate and its schedule, tau, gamma, noise type and scale,
target-policy noise, entropy coefficient, clip ranges, GAE λ, coefficients, max grad norm,
target_kl, DQN's exploration schedule, initialisation options) and the seed vary freely
within a group.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from rlsens.spec import RunSpec, canonical_json, stable_hash
from rlsens.trainer.build import Translation, translate
from rlsens.trainer.population.members import constructor_default
from rlsens.trainer.population.stacked import supported_activation
from rlsens.vocabulary import algorithm_class

ALGORITHMS = ("DDPG", "TD3", "SAC", "DQN", "PPO", "A2C")
OFF_POLICY = ("DDPG", "TD3", "SAC", "DQN")
# Algorithms acting in a discrete (``Discrete``) action space; the others need a bounded Box.
DISCRETE = ("DQN",)

_COMMON = {"learning_rate", "gamma", "batch_size", "policy_kwargs"}
_OFF_POLICY = _COMMON | {"buffer_size", "learning_starts", "tau", "train_freq", "gradient_steps"}
HYPERPARAMETERS: dict[str, set[str]] = {
    "DDPG": _OFF_POLICY,
    "TD3": _OFF_POLICY | {"policy_delay", "target_policy_noise", "target_noise_clip"},
    "SAC": _OFF_POLICY | {"ent_coef", "target_entropy", "target_update_interval"},
    "DQN": _OFF_POLICY
    | {
        "target_update_interval",
        "exploration_fraction",
        "exploration_initial_eps",
        "exploration_final_eps",
        "max_grad_norm",
    },
    "PPO": _COMMON
    | {
        "n_steps",
        "n_epochs",
        "gae_lambda",
        "clip_range",
        "clip_range_vf",
        "normalize_advantage",
        "ent_coef",
        "vf_coef",
        "max_grad_norm",
        "target_kl",
    },
    "A2C": {
        "learning_rate",
        "gamma",
        "policy_kwargs",
        "n_steps",
        "gae_lambda",
        "ent_coef",
        "vf_coef",
        "max_grad_norm",
        "rms_prop_eps",
        "use_rms_prop",
        "normalize_advantage",
    },
}
POLICY_KWARGS: dict[str, set[str]] = {
    "DDPG": {"net_arch", "activation_fn"},
    "TD3": {"net_arch", "activation_fn"},
    "SAC": {"net_arch", "activation_fn"},
    "DQN": {"net_arch", "activation_fn"},
    "PPO": {"net_arch", "activation_fn", "log_std_init", "ortho_init"},
    "A2C": {"net_arch", "activation_fn", "log_std_init", "ortho_init"},
}
# Shape- or schedule-fixing hyperparameters, per algorithm: members of a group share them.
STRUCTURAL: dict[str, tuple[str, ...]] = {
    "DDPG": ("batch_size", "buffer_size", "learning_starts", "train_freq", "gradient_steps"),
    "TD3": (
        "batch_size",
        "buffer_size",
        "learning_starts",
        "train_freq",
        "gradient_steps",
        "policy_delay",
    ),
    "SAC": (
        "batch_size",
        "buffer_size",
        "learning_starts",
        "train_freq",
        "gradient_steps",
        "target_update_interval",
    ),
    "DQN": (
        "batch_size",
        "buffer_size",
        "learning_starts",
        "train_freq",
        "gradient_steps",
        "target_update_interval",
    ),
    "PPO": ("n_steps", "batch_size", "n_epochs", "normalize_advantage"),
    "A2C": ("n_steps", "normalize_advantage", "use_rms_prop", "rms_prop_eps"),
}


@functools.lru_cache(maxsize=64)
def _spaces(env_id: str, env_kwargs_json: str) -> tuple[gym.Space, gym.Space]:
    import json

    env = gym.make(env_id, **json.loads(env_kwargs_json))
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def _space_reason(spec: RunSpec) -> str | None:
    try:
        obs, act = _spaces(spec.env_id, canonical_json(dict(spec.env_kwargs)))
    except Exception as exc:  # the sb3 trainer reports a broken environment as a failed run
        return f"environment {spec.env_id} could not be made ({exc})"
    if not isinstance(obs, gym.spaces.Box) or len(obs.shape) != 1:
        return f"observation space {obs} is not a flat Box"
    if spec.algo_class in DISCRETE:
        if not isinstance(act, gym.spaces.Discrete) or act.start != 0:
            return f"action space {act} is not Discrete(n) starting at 0"
        return None
    if not isinstance(act, gym.spaces.Box) or len(act.shape) != 1:
        return f"action space {act} is not a flat Box"
    if not np.all(np.isfinite(act.low)) or not np.all(np.isfinite(act.high)):
        return "action space is unbounded"
    return None


def _translation(spec: RunSpec) -> Translation | str:
    try:
        return translate(spec.hyperparameters)
    except ValueError as exc:
        return f"hyperparameters: {exc}"


def supports(spec: RunSpec) -> str | None:
    """``None`` when the population trainer trains ``spec`` faithfully, else why not."""
    if spec.algo_class not in ALGORITHMS:
        return f"algorithm {spec.algo_class} is not implemented (population trains {ALGORITHMS})"
    if spec.policy != "MlpPolicy":
        return f"policy {spec.policy} is not supported (only MlpPolicy)"
    translation = _translation(spec)
    if isinstance(translation, str):
        return translation
    if translation.n_envs != 1:
        return f"n_envs={translation.n_envs} is not supported (one environment per member)"
    if translation.normalize is not None:
        return "normalize (VecNormalize) is not supported"
    kwargs = translation.model_kwargs
    unsupported = sorted(set(kwargs) - HYPERPARAMETERS[spec.algo_class])
    if unsupported:
        return f"hyperparameters {unsupported} are not supported for {spec.algo_class}"
    policy_kwargs: Mapping[str, Any] = kwargs.get("policy_kwargs", {})
    unsupported = sorted(set(policy_kwargs) - POLICY_KWARGS[spec.algo_class])
    if unsupported:
        return f"policy_kwargs {unsupported} are not supported for {spec.algo_class}"
    if "activation_fn" in policy_kwargs and not supported_activation(
        policy_kwargs["activation_fn"]
    ):
        return f"activation_fn {policy_kwargs['activation_fn'].__name__} is not supported"
    train_freq = kwargs.get("train_freq")
    if isinstance(train_freq, tuple) and train_freq[1] != "step":
        return "train_freq in episodes is not supported"
    return _space_reason(spec)


def _resolved(spec: RunSpec, translation: Translation, key: str) -> Any:
    value = translation.model_kwargs.get(
        key, constructor_default(algorithm_class(spec.algo_class), key)
    )
    if key == "train_freq" and isinstance(value, tuple):
        return int(value[0])
    return value


def group_key(spec: RunSpec) -> str:
    """Equal for two supported specs exactly when one population group can train both."""
    translation = translate(spec.hyperparameters)
    policy_kwargs = translation.model_kwargs.get("policy_kwargs", {})
    activation = policy_kwargs.get("activation_fn")
    kwargs = translation.model_kwargs
    structure: dict[str, Any] = {
        "algo_class": spec.algo_class,
        "policy": spec.policy,
        "env_id": spec.env_id,
        "env_kwargs": dict(spec.env_kwargs),
        "budget": spec.budget,
        "eval": spec.identity()["eval"],
        "net_arch": policy_kwargs.get("net_arch"),
        "activation_fn": None if activation is None else activation.__name__,
        "hyperparameters": {
            k: _resolved(spec, translation, k) for k in STRUCTURAL[spec.algo_class]
        },
    }
    if spec.algo_class == "SAC":
        ent_coef = kwargs.get("ent_coef", constructor_default(algorithm_class("SAC"), "ent_coef"))
        structure["tuned_entropy"] = isinstance(ent_coef, str) and ent_coef.startswith("auto")
    if spec.algo_class == "PPO":
        structure["clipped_value"] = kwargs.get("clip_range_vf") is not None
    return stable_hash(structure)


def replay_slots(spec: RunSpec) -> int:
    """Transitions one member's replay buffer holds: ``buffer_size``, or fewer when the run
    cannot fill it.

    A run makes at most ``budget + train_freq - 1`` transitions (its last ``train_freq`` block
    may pass the budget), and a buffer that never wraps samples only its filled slots, so
    slots beyond that would never be written nor read: a buffer of ``min(buffer_size,
    budget + train_freq)`` trains exactly as SB3's full-size one. With SB3's default of a
    million transitions and budgets of tens of thousands of steps this is what lets a group
    of 64 members fit (a million HalfCheetah transitions are 172 MB per member).
    """
    translation = translate(spec.hyperparameters)
    size = int(_resolved(spec, translation, "buffer_size"))
    return min(size, spec.budget + int(_resolved(spec, translation, "train_freq")))


def replay_bytes(spec: RunSpec) -> int:
    """Bytes of one member's replay buffer (0 for PPO): what bounds members per group.

    float32 observations and next observations, actions, reward, done and timeout flags per
    transition, ``replay_slots`` transitions (the stacked buffer is members x this).
    """
    if spec.algo_class not in OFF_POLICY:
        return 0
    obs, act = _spaces(spec.env_id, canonical_json(dict(spec.env_kwargs)))
    act_dim = 1 if spec.algo_class in DISCRETE else int(np.prod(act.shape))
    per_transition = 2 * int(np.prod(obs.shape)) + act_dim + 3
    return 4 * per_transition * replay_slots(spec)
