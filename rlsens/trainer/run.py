"""``train(spec) -> RunResult``: one seeded SB3 training run with scheduled evaluations.

Plain function, no knowledge of executors, stores or reports: whatever runs it (a loop, a
Ray worker, a test) gets a ``RunResult`` back, and never an exception caused by the run.
"""

from __future__ import annotations

import socket
import time
import traceback
from dataclasses import dataclass, field

from stable_baselines3.common.base_class import BaseAlgorithm

from rlsens.provenance import library_versions
from rlsens.record import Evaluation, RunResult
from rlsens.spec import RunSpec
from rlsens.timestamp import now_utc
from rlsens.trainer.build import build_model
from rlsens.trainer.evaluation import Evaluator, evaluation_steps
from rlsens.trainer.guards import Diverged, RunCallback, TimedOut, check_model
from rlsens.trainer.placement import resolve_device, set_torch_threads


@dataclass
class _Progress:
    """What a run has produced so far; survives an exception half-way through."""

    curve: list[Evaluation] = field(default_factory=list)
    model: BaseAlgorithm | None = None
    eval_time_s: float = 0.0
    train_time_s: float = 0.0

    @property
    def steps(self) -> int:
        return int(self.model.num_timesteps) if self.model is not None else 0


def _run(spec: RunSpec, device: str, progress: _Progress, start: float) -> None:
    set_torch_threads(spec.resources.cpus)
    schedule = evaluation_steps(spec.budget, spec.eval.every)
    timeout_s = spec.resources.timeout_s
    deadline = start + timeout_s if timeout_s is not None else None

    model: BaseAlgorithm | None = None
    # The evaluator draws nothing from the global generators, so building it before the
    # model (which seeds them) leaves the run's numbers as they were.
    evaluator = Evaluator(spec.env_id, spec.env_kwargs, spec.eval, spec.seed)
    try:
        model = build_model(spec, device)
        progress.model = model
        vec_normalize = model.get_vec_normalize_env()
        normalize_obs = vec_normalize.normalize_obs if vec_normalize is not None else None

        def evaluate(step: int) -> None:
            began = time.monotonic()
            try:
                progress.curve.append(evaluator.evaluate(model, step, normalize_obs))
            finally:
                progress.eval_time_s += time.monotonic() - began

        callback = RunCallback(evaluate, schedule[:-1], deadline, timeout_s)
        began = time.monotonic()
        try:
            model.learn(total_timesteps=spec.budget, callback=callback, progress_bar=False)
        finally:
            # Only evaluations inside learn() have been timed so far.
            progress.train_time_s = time.monotonic() - began - progress.eval_time_s
        check_model(model, progress.steps)
        callback.check_deadline()
        evaluate(schedule[-1])
    finally:
        if model is not None:
            model.get_env().close()  # type: ignore[union-attr]
        evaluator.close()


def train(spec: RunSpec, device: str | None = None) -> RunResult:
    """Train ``spec`` and evaluate it on its schedule; never raises for the run's own sake.

    Status is ``ok``, ``diverged`` (NaN/inf seen; ``diverged_step`` set, training stopped),
    ``timeout`` (``resources.timeout_s`` passed) or ``failed`` (any other exception; its
    traceback in ``error``). In every case the curve evaluated so far is kept.
    """
    started_at = now_utc()
    start = time.monotonic()
    resolved = resolve_device(spec, device)
    progress = _Progress()
    status, error, diverged_step = "ok", None, None
    try:
        _run(spec, resolved, progress, start)
    except Diverged as exc:
        status, diverged_step = "diverged", exc.step if exc.step is not None else progress.steps
        exc.step = diverged_step
        error = str(exc)
    except TimedOut as exc:
        status, error = "timeout", str(exc)
    except Exception:
        status, error = "failed", traceback.format_exc()
    return RunResult(
        spec=spec,
        status=status,
        curve=progress.curve,
        steps=progress.steps,
        wall_time_s=time.monotonic() - start,
        train_time_s=progress.train_time_s,
        diverged_step=diverged_step,
        error=error,
        versions=library_versions(),
        device=resolved,
        host=socket.gethostname(),
        started_at=started_at,
        finished_at=now_utc(),
    )
