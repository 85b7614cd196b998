"""Per-member bookkeeping of a group: evaluations, divergence, timeouts, as the sb3 trainer does.

``GroupProgress.after_env_step`` is ``RunCallback._on_step`` for M members at once, called at
the same point of the rollout loop (after the environment step, before the transition is
stored or trained on): deadline, finite actions / observations / rewards, parameters and
losses every ``PARAMETER_CHECK_EVERY`` steps and before each evaluation, then the scheduled
evaluations, each member scored by its own ``Evaluator`` after its trained weights are written
back into its SB3 policy. A member that diverges or runs out of time stops there with its
curve so far, exactly as a run of the sb3 trainer would; the others go on.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from rlsens.record import Evaluation
from rlsens.trainer.evaluation import evaluation_steps
from rlsens.trainer.guards import PARAMETER_CHECK_EVERY, Diverged
from rlsens.trainer.population.members import Member


class Networks(Protocol):
    def parameters(self) -> list[torch.Tensor]: ...

    def write_member(self, i: int) -> None: ...


@dataclass
class MemberOutcome:
    status: str = "ok"
    error: str | None = None
    diverged_step: int | None = None
    steps: int = 0
    curve: list[Evaluation] = field(default_factory=list)
    eval_time_s: float = 0.0


def finite_rows(values: np.ndarray) -> np.ndarray:
    """Per member (first axis): no NaN/inf in the row."""
    return np.isfinite(np.asarray(values, dtype=np.float64).reshape(len(values), -1)).all(axis=1)


class GroupProgress:
    def __init__(self, members: Sequence[Member], start: float) -> None:
        self.members = list(members)
        self.outcomes = [MemberOutcome() for _ in members]
        self.alive = np.ones(len(members), dtype=bool)
        self.networks: Networks | None = None
        spec = members[0].spec
        self.schedule = evaluation_steps(spec.budget, spec.eval.every)
        self._pending = list(self.schedule[:-1])
        self._next_check = PARAMETER_CHECK_EVERY
        self._losses_ok = np.ones(len(members), dtype=bool)
        self.deadlines = [
            start + m.spec.resources.timeout_s if m.spec.resources.timeout_s is not None else None
            for m in members
        ]
        self.num_timesteps = 0

    @property
    def any_alive(self) -> bool:
        return bool(self.alive.any())

    def stop(self, i: int, status: str, error: str, step: int | None = None) -> None:
        if not self.alive[i]:
            return
        self.alive[i] = False
        outcome = self.outcomes[i]
        outcome.status, outcome.error = status, error
        outcome.steps = self.num_timesteps
        if status == "diverged":
            outcome.diverged_step = step

    def diverge(self, bad: np.ndarray, reason: str, step: int) -> None:
        for i in np.flatnonzero(bad & self.alive):
            self.stop(int(i), "diverged", str(Diverged(reason, step)), step)

    def record_losses(self, finite: torch.Tensor) -> None:
        self._losses_ok &= finite.cpu().numpy()

    def check_deadlines(self) -> None:
        now = time.monotonic()
        for i, deadline in enumerate(self.deadlines):
            if deadline is not None and now > deadline and self.alive[i]:
                timeout = self.members[i].spec.resources.timeout_s
                message = f"wall time exceeded timeout_s={timeout} at step {self.num_timesteps}"
                self.stop(i, "timeout", message)

    def check_model(self, step: int) -> None:
        """``guards.check_model`` per member: parameters, then losses since the last check."""
        assert self.networks is not None
        with torch.no_grad():
            ok = np.ones(len(self.members), dtype=bool)
            for p in self.networks.parameters():
                ok &= torch.isfinite(p.detach().flatten(1)).all(dim=1).cpu().numpy()
        self.diverge(~ok, "non-finite network parameters", step)
        self.diverge(~self._losses_ok, "non-finite training loss", step)
        self._losses_ok[:] = True

    def after_env_step(
        self, num_timesteps: int, actions: np.ndarray, new_obs: np.ndarray, rewards: np.ndarray
    ) -> None:
        self.num_timesteps = step = num_timesteps
        self.check_deadlines()
        for name, values in (("actions", actions), ("observations", new_obs), ("rewards", rewards)):
            self.diverge(~finite_rows(values), f"non-finite {name}", step)
        if step >= self._next_check:
            self.check_model(step)
            self._next_check = (step // PARAMETER_CHECK_EVERY + 1) * PARAMETER_CHECK_EVERY
        while self._pending and step >= self._pending[0]:
            self.check_model(step)
            self.evaluate(self._pending.pop(0))

    def evaluate(self, step: int) -> None:
        assert self.networks is not None
        for i in np.flatnonzero(self.alive):
            member, outcome = self.members[i], self.outcomes[i]
            began = time.monotonic()
            try:
                self.networks.write_member(int(i))
                outcome.curve.append(member.evaluator.evaluate(member.model, step))
            except Diverged as exc:
                step_now = self.num_timesteps
                self.stop(int(i), "diverged", str(Diverged(exc.reason, step_now)), step_now)
            except Exception:  # this member's evaluation broke: its run fails, the others go on
                self.stop(int(i), "failed", traceback.format_exc())
            finally:
                outcome.eval_time_s += time.monotonic() - began

    def finish(self) -> None:
        """After training: the sb3 trainer's ``check_model``, deadline, final evaluation."""
        self.check_model(self.num_timesteps)
        self.check_deadlines()
        self.evaluate(self.schedule[-1])
        for i in np.flatnonzero(self.alive):
            self.outcomes[i].steps = self.num_timesteps
