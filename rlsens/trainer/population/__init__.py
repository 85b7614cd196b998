"""The population trainer: a group of runs trained as one batched computation.

A group is runs of one algorithm on one environment with the same structural hyperparameters
(``group_key``); each member is still exactly one run with its own spec, run id, record and
evaluations. DDPG, TD3, SAC, DQN, PPO and A2C follow SB3's own ``train()`` per member (see
the update-level tests); anything else falls back to the sb3 trainer (``supports``).

Import what you need from its submodules (``group`` for ``group_key``, ``supports`` and
``replay_bytes``; ``run`` for ``train_group``), as in ``rlsens.trainer``: they import torch
and stable-baselines3, so this package itself imports nothing.
"""
