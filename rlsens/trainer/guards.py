"""Stop a run early, keeping what it measured: divergence and wall-time limits.

Both conditions are raised as exceptions from inside ``model.learn`` (SB3 does not catch
exceptions from callbacks), which unwinds training at once; ``train`` turns them into the
``diverged`` and ``timeout`` statuses with the learning curve recorded so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback

# How often (in environment steps) parameters and logged losses are checked. Cheap
# (microseconds for the small MLPs of RL) but not free, and a diverged network shows up in the
# next actions anyway for most algorithms; DQN's argmax hides NaN Q-values, hence this check.
PARAMETER_CHECK_EVERY = 1000
# Per-step values of SB3's rollout loops (on- and off-policy) worth checking.
_STEP_LOCALS = ("actions", "new_obs", "rewards")


class Diverged(Exception):
    """NaN/inf appeared in actions, observations, rewards, losses, parameters or returns."""

    def __init__(self, reason: str, step: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.step = step

    def __str__(self) -> str:
        where = f" at step {self.step}" if self.step is not None else ""
        return f"{self.reason}{where}"


class TimedOut(Exception):
    """The run's wall time passed ``resources.timeout_s``."""


def all_finite(values: Any) -> bool:
    """True when ``values`` (array, number, sequence or mapping of them) holds no NaN/inf."""
    if isinstance(values, dict):
        return all(all_finite(v) for v in values.values())
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.integer):
        return True
    return bool(np.isfinite(array).all())


def parameters_finite(model: BaseAlgorithm) -> bool:
    tensors: Iterable[torch.Tensor] = model.policy.parameters()
    # SAC's entropy coefficient lives outside the policy.
    log_ent_coef = getattr(model, "log_ent_coef", None)
    if isinstance(log_ent_coef, torch.Tensor):
        tensors = [*tensors, log_ent_coef]
    with torch.no_grad():
        return all(bool(torch.isfinite(t).all()) for t in tensors)


def losses_finite(model: BaseAlgorithm) -> bool:
    """Losses recorded since the logger's last dump (SB3 records them every update)."""
    values = model.logger.name_to_value
    numbers = (int, float, np.floating)
    return all(np.isfinite(v) for k, v in values.items() if "loss" in k and isinstance(v, numbers))


def check_model(model: BaseAlgorithm, step: int) -> None:
    if not parameters_finite(model):
        raise Diverged("non-finite network parameters", step)
    if not losses_finite(model):
        raise Diverged("non-finite training loss", step)


class RunCallback(BaseCallback):
    """Timeout, divergence checks and the in-training evaluations of one run.

    ``evaluate(step)`` is called once the agent has taken at least ``step`` environment steps,
    for each step of ``eval_steps`` (the schedule without its final point, which ``train``
    evaluates after ``learn`` returns so it scores the fully trained agent).
    """

    def __init__(
        self,
        evaluate: Callable[[int], None],
        eval_steps: Iterable[int],
        deadline: float | None,
        timeout_s: float | None,
    ) -> None:
        super().__init__(verbose=0)
        self._evaluate = evaluate
        self._pending = sorted(eval_steps)
        self._deadline = deadline
        self._timeout_s = timeout_s
        self._next_check = PARAMETER_CHECK_EVERY

    def check_deadline(self) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise TimedOut(
                f"wall time exceeded timeout_s={self._timeout_s} at step {self.num_timesteps}"
            )

    def _on_step(self) -> bool:
        step = self.num_timesteps
        self.check_deadline()
        for key in _STEP_LOCALS:
            if key in self.locals and not all_finite(self.locals[key]):
                raise Diverged(f"non-finite {key.replace('new_obs', 'observations')}", step)
        if step >= self._next_check:
            check_model(self.model, step)
            self._next_check = (step // PARAMETER_CHECK_EVERY + 1) * PARAMETER_CHECK_EVERY
        while self._pending and step >= self._pending[0]:
            check_model(self.model, step)
            self._evaluate(self._pending.pop(0))
        return True
