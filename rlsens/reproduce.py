"""Reproducibility check: retrain stored runs from their stored specs and compare the curves.

A run is meant to be a pure function of its spec and the library versions, so retraining the
spec a record holds must give the same evaluation returns, exactly (same steps, same returns,
same episode lengths, same status). ``rlsens reproduce`` runs this check; it reads the store
and never writes to it (the new results are compared in memory and dropped).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from rlsens.errors import UsageError
from rlsens.record import RunResult
from rlsens.spec import RunSpec

Trainer = Callable[[RunSpec, str | None], RunResult]


@dataclass(frozen=True)
class Verdict:
    """The outcome for one run: identical, or the first difference found."""

    run_id: str
    identical: bool
    detail: str


def choose_runs(stored: Collection[str], run_ids: Sequence[str], random_n: int | None,
                seed: int, results: str) -> list[str]:
    """The runs to check: the ids given (each must be stored), or ``random_n`` stored ids drawn
    without replacement under ``seed`` (sorted ids first, so the draw is reproducible)."""
    how_to_list = (f"stored run ids are the file names under {results}/runs/*/ and the run_id "
                   f"column of `rlsens export {results}`")
    if run_ids and random_n is not None:
        raise UsageError("give run ids or --random N, not both.")
    if not run_ids and random_n is None:
        raise UsageError(f"say which runs to retrain: run ids, or --random N; {how_to_list}.")
    if not stored:
        raise UsageError(f"{results} holds no stored run; run its suite first.")
    if run_ids:
        unknown = [r for r in dict.fromkeys(run_ids) if r not in stored]
        if unknown:
            raise UsageError(f"no stored run {', '.join(unknown)} in {results}; {how_to_list}.")
        return list(dict.fromkeys(run_ids))
    if random_n is None or not 1 <= random_n <= len(stored):
        raise UsageError(f"--random must be from 1 to {len(stored)} (the stored runs of "
                         f"{results}), got {random_n}.")
    rng = np.random.default_rng(seed)
    return [str(r) for r in rng.choice(sorted(stored), size=random_n, replace=False)]


def first_difference(stored: RunResult, new: RunResult) -> str | None:
    """None when the curves are identical, else where they first differ, in words."""
    if stored.status != new.status:
        reason = f": {new.error.strip().splitlines()[-1]}" if (new.error or "").strip() else ""
        return f"status {stored.status} stored, {new.status} now{reason}"
    if len(stored.curve) != len(new.curve):
        return f"{len(stored.curve)} evaluations stored, {len(new.curve)} now"
    for i, (old, now) in enumerate(zip(stored.curve, new.curve, strict=True)):
        where = f"evaluation {i + 1} (step {old.step})"
        if old.step != now.step:
            return f"evaluation {i + 1}: step {old.step} stored, {now.step} now"
        if list(old.returns) != list(now.returns):
            pairs = zip(old.returns, now.returns, strict=False)
            j = next((k for k, (a, b) in enumerate(pairs) if a != b),
                     min(len(old.returns), len(now.returns)))
            got = now.returns[j] if j < len(now.returns) else "none"
            had = old.returns[j] if j < len(old.returns) else "none"
            return f"{where}, episode {j + 1}: return {had!r} stored, {got!r} now"
        if list(old.lengths) != list(now.lengths):
            return f"{where}: episode lengths {old.lengths} stored, {now.lengths} now"
    return None


def retrain(spec: RunSpec, device: str | None) -> RunResult:
    """Train ``spec`` with the trainer that produced it (its ``trainer`` field: a population
    member's curve does not depend on its group, so it is retrained alone)."""
    if spec.trainer == "population":
        from rlsens.trainer.population.run import train_group

        return train_group([spec], device)[0]
    from rlsens.trainer.run import train

    return train(spec, device)


def reproduce_run(stored: RunResult, trainer: Trainer = retrain) -> Verdict:
    """Retrain ``stored.spec`` on the device it was trained on and compare the curves."""
    new = trainer(stored.spec, stored.device or None)
    difference = first_difference(stored, new)
    if difference is None:
        evaluations = sum(len(e.returns) for e in stored.curve)
        return Verdict(stored.run_id, True, f"{len(stored.curve)} evaluations, "
                                            f"{evaluations} episode returns")
    if "timeout" in (stored.status, new.status):
        difference += ("; a run that times out stops at a wall-clock limit, which depends on "
                       "the machine's speed, not only on the spec")
    changed = sorted(k for k in set(stored.versions) | set(new.versions)
                     if stored.versions.get(k) != new.versions.get(k))
    if changed:
        difference += "; library versions differ: " + ", ".join(
            f"{k} {stored.versions.get(k)} stored, {new.versions.get(k)} now" for k in changed)
    return Verdict(stored.run_id, False, difference)
