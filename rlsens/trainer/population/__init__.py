"""The population trainer: a group of runs trained as one batched computation.

A group is runs of one algorithm on one environment with the same structural hyperparameters
(``group_key``); each member is still exactly one run with its own spec, run id, record and
evaluations. DDPG, TD3, SAC, DQN, PPO and A2C follow SB3's own ``train()`` per member (see
the update-level tests); anything else falls back to the sb3 trainer (``supports``).

Names load on first use, as in ``rlsens.trainer``: they import torch and stable-baselines3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlsens.trainer.population.group import group_key, replay_bytes, supports
    from rlsens.trainer.population.run import train_group

__all__ = ["group_key", "replay_bytes", "supports", "train_group"]

_LAZY = {
    "group_key": "rlsens.trainer.population.group",
    "supports": "rlsens.trainer.population.group",
    "replay_bytes": "rlsens.trainer.population.group",
    "train_group": "rlsens.trainer.population.run",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
