"""The hyperparameter vocabulary shared by the suite checks and the trainer.

A suite names algorithm classes, activations, optimizers, noise types and schedules as
strings; the suite stage checks them at load time and the trainer turns them into torch and
stable-baselines3 objects. Both read the tables below, so a name the suite accepts is a name
the trainer can build (``tests/test_vocabulary.py`` builds every one). Names map to the
attribute that implements them (``torch.nn.<name>``, ``stable_baselines3.<name>``, ...), so
this module imports neither torch nor SB3: loading a suite stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

ALGORITHM_CLASSES = ("A2C", "DDPG", "DQN", "PPO", "SAC", "TD3")
OFF_POLICY = frozenset({"DDPG", "TD3", "SAC", "DQN"})
# Action spaces each class supports in SB3 (others: both): a mismatch fails every run.
CONTINUOUS_ACTIONS_ONLY = frozenset({"DDPG", "TD3", "SAC"})
DISCRETE_ACTIONS_ONLY = frozenset({"DQN"})

# suite name -> attribute of torch.nn
ACTIVATIONS: Mapping[str, str] = {
    "relu": "ReLU",
    "tanh": "Tanh",
    "elu": "ELU",
    "leaky_relu": "LeakyReLU",
    "selu": "SELU",
    "gelu": "GELU",
    "silu": "SiLU",
    "sigmoid": "Sigmoid",
    "softplus": "Softplus",
    "mish": "Mish",
}
# suite name -> attribute of torch.optim (``policy_kwargs.optimizer_class``)
OPTIMIZERS: Mapping[str, str] = {
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "sgd": "SGD",
}
# suite name -> attribute of stable_baselines3.common.noise; "none" means no action noise
NOISE_TYPES: Mapping[str, str | None] = {
    "normal": "NormalActionNoise",
    "ornstein-uhlenbeck": "OrnsteinUhlenbeckActionNoise",
    "none": None,
}


def noise_problem(noise_type: Any, noise_std: Any) -> str | None:
    """Why a ``noise_type``/``noise_std`` pair cannot build action noise, else ``None``.

    The pair only makes sense together, so the suite refuses at load what the trainer would
    refuse at the start of every run.
    """
    if noise_type is not None and noise_type not in NOISE_TYPES:
        return f"unknown noise_type {noise_type!r}; expected one of {sorted(NOISE_TYPES)}"
    if noise_type is not None and NOISE_TYPES[noise_type] is not None and noise_std is None:
        return f"noise_type {noise_type!r} needs noise_std"
    if noise_std is not None and noise_type is None:
        return "noise_std is set but noise_type is not"
    return None

# The zoo applies ``lin_<x>`` only to these keys; elsewhere such a string is a mistake.
SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")
LINEAR_PREFIX = "lin_"


def lookup(table: Mapping[str, Any], value: Any) -> str | None:
    """The suite name ``value`` spells in ``table``, else ``None``.

    Accepts the suite name (``leaky_relu``), the class name (``LeakyReLU``) and dotted forms
    (``nn.ReLU``, ``torch.nn.ReLU``), as rl-baselines3-zoo files write them.
    """
    if not isinstance(value, str):
        return None
    key = value.rsplit(".", 1)[-1].lower()
    if key in table:
        return key
    aliases = {name.replace("_", ""): name for name in table}
    aliases.update({str(attr).lower(): name for name, attr in table.items() if attr})
    return aliases.get(key.replace("_", ""))


@cache
def algorithm_class(name: str) -> Any:
    """The SB3 class of ``name``; imported on use because SB3 pulls in torch (seconds)."""
    if name not in ALGORITHM_CLASSES:
        raise ValueError(f"unknown algorithm class {name!r}; expected one of "
                         f"{list(ALGORITHM_CLASSES)}")
    import stable_baselines3

    return getattr(stable_baselines3, name)
