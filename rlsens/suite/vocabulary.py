"""Which hyperparameters each algorithm accepts, and light checks of their values.

The vocabulary is the SB3 constructor signature of the class (read with ``inspect``, so it
follows the installed SB3 version) plus the rl-baselines3-zoo conventions the trainer
translates: ``noise_type``/``noise_std`` (classes taking ``action_noise``), ``n_envs``,
``normalize``, the ``net_arch``/``activation_fn`` shorthands and ``lin_<x>`` schedules. Checking
at load time turns a typo that would crash run 37 of 200 into an error before anything runs.
"""

from __future__ import annotations

import difflib
import inspect
import re
from functools import cache
from typing import Any

ALGORITHM_CLASSES = ("A2C", "DDPG", "DQN", "PPO", "SAC", "TD3")
OFF_POLICY = frozenset({"DDPG", "TD3", "SAC", "DQN"})

# Constructor arguments that are not hyperparameters, and what to write instead.
NOT_HYPERPARAMETERS = {
    "policy": "set the algorithm's `policy:` key",
    "env": "environments are listed under `environments:`",
    "seed": "seeds are set by the top-level `seeds:` key",
    "device": "rlsens picks the device from `resources.gpus`",
    "verbose": "rlsens controls logging",
    "tensorboard_log": "rlsens records learning curves itself",
    "_init_setup_model": "this is an SB3 internal",
    "action_noise": "use `noise_type` (normal, ornstein-uhlenbeck, none) and `noise_std`",
    "replay_buffer_class": "custom buffer classes cannot be named in a suite",
    "rollout_buffer_class": "custom buffer classes cannot be named in a suite",
}
EXTRAS = ("n_envs", "normalize", "net_arch", "activation_fn")
NOISE_EXTRAS = ("noise_type", "noise_std")
NOISE_TYPES = ("normal", "ornstein-uhlenbeck", "none")
SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")

# torch.nn activation class name -> suite name (the trainer maps names back to classes)
ACTIVATIONS = {
    "ReLU": "relu",
    "Tanh": "tanh",
    "ELU": "elu",
    "LeakyReLU": "leaky_relu",
    "SELU": "selu",
    "GELU": "gelu",
    "SiLU": "silu",
    "Sigmoid": "sigmoid",
    "Softplus": "softplus",
    "Mish": "mish",
}
_SCHEDULE = re.compile(r"lin_[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


@cache
def algorithm_class(name: str) -> Any:
    """The SB3 class; imported lazily because SB3 pulls in torch (about a second)."""
    import stable_baselines3

    return getattr(stable_baselines3, name)


@cache
def accepted(name: str) -> tuple[str, ...]:
    """Hyperparameter names the suite may set for algorithm class ``name``."""
    params = inspect.signature(algorithm_class(name).__init__).parameters
    names = [p for p in params if p != "self" and p not in NOT_HYPERPARAMETERS]
    names += EXTRAS
    if "action_noise" in params:
        names += NOISE_EXTRAS
    return tuple(names)


@cache
def policies(name: str) -> tuple[str, ...]:
    return tuple(algorithm_class(name).policy_aliases)


def check_name(name: str, algo_class: str) -> tuple[str, str] | None:
    """``None`` if ``name`` is a hyperparameter of ``algo_class``, else ``(message, hint)``."""
    names = accepted(algo_class)
    if name in names:
        return None
    if name in NOT_HYPERPARAMETERS:
        return f"{name!r} is not a hyperparameter", NOT_HYPERPARAMETERS[name]
    owners = [c for c in ALGORITHM_CLASSES if c != algo_class and name in accepted(c)]
    if owners:
        return (f"{algo_class} does not accept {name!r} (an argument of {', '.join(owners)})",
                f"{algo_class} accepts: {', '.join(sorted(names))}")
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (f"unknown hyperparameter {name!r} for {algo_class}",
            f"{hint}{algo_class} accepts: {', '.join(sorted(names))}")


def check_value(name: str, value: Any) -> str | None:
    """A problem with a hyperparameter's value that is certain to fail later, else ``None``.

    Only conventions rlsens itself defines are checked (schedules, activation names, network
    shapes, noise types); SB3 checks the rest when the run starts.
    """
    if name in SCHEDULED and isinstance(value, str) and not _SCHEDULE.fullmatch(value):
        return f"schedule {value!r} is not of the form lin_<number> (e.g. lin_3e-4)"
    if name == "activation_fn" and value not in ACTIVATIONS.values():
        return f"activation {value!r} is not one of {', '.join(ACTIVATIONS.values())}"
    if name == "noise_type" and value is not None and value not in NOISE_TYPES:
        return f"noise_type {value!r} is not one of {', '.join(NOISE_TYPES)}"
    if name == "net_arch" and not _net_arch(value):
        return ("net_arch must be a list of positive layer widths, or a mapping of "
                "pi/vf/qf to such lists")
    if name in ("policy_kwargs", "replay_buffer_kwargs", "rollout_buffer_kwargs") and not (
        isinstance(value, dict)
    ):
        return f"{name} must be a mapping"
    if name == "policy_kwargs" and isinstance(value, dict):
        if "net_arch" in value and not _net_arch(value["net_arch"]):
            return "policy_kwargs.net_arch must be a list of positive widths or a pi/vf/qf map"
        act = value.get("activation_fn")
        if act is not None and act not in ACTIVATIONS.values():
            return f"policy_kwargs.activation_fn {act!r} is not one of " + ", ".join(
                ACTIVATIONS.values())
    return None


def _widths(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in value)


def _net_arch(value: Any) -> bool:
    if isinstance(value, dict):
        return bool(value) and set(value) <= {"pi", "vf", "qf"} and all(
            _widths(v) for v in value.values())
    return _widths(value)
