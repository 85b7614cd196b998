"""Which trainer trains each run: the suite's ``trainer:`` (or ``--trainer``) applied per run.

``sb3`` trains every run with stable-baselines3. ``population`` and ``auto`` train a run with
the population trainer wherever it supports the run exactly (``supports`` is None), and fall
back to sb3 per run otherwise, keeping the reason so that `rlsens plan` can say why. The
population trainer's modules import torch, so they load only when a suite asks for them.
"""

from __future__ import annotations

from dataclasses import replace

from rlsens.spec import DEFAULT_TRAINER, TRAINER_CHOICES, RunSpec

POPULATION = "population"


def choose_trainer(spec: RunSpec, mode: str) -> tuple[RunSpec, str | None]:
    """``spec`` with its trainer set for ``mode``, and the reason when it fell back to sb3."""
    if mode not in TRAINER_CHOICES:
        raise ValueError(f"unknown trainer {mode!r}; expected one of {list(TRAINER_CHOICES)}")
    if mode == DEFAULT_TRAINER:
        return replace(spec, trainer=DEFAULT_TRAINER), None
    from rlsens.trainer.population.group import supports

    candidate = replace(spec, trainer=POPULATION)
    reason = supports(candidate)
    if reason is None:
        return candidate, None
    return replace(spec, trainer=DEFAULT_TRAINER), reason
