"""``train_group(specs) -> list[RunResult]``: one process trains a group of runs as one population.

The counterpart of ``rlsens.trainer.run.train`` for a group: every member yields the
``RunResult`` its run would (same evaluation code and common random numbers, same statuses,
same record format), with ``trainer = "population"`` in its spec. Like ``train`` it never
raises for a run's own sake: a member that cannot be built is ``failed`` with its traceback
and the others train; a member that diverges or times out stops at its step; an exception in
the batched computation itself fails the members still training, keeping their curves.

``train_time_s`` of a member is its share of the group's training time (the group's wall
time outside evaluations divided by the number of members), so that summing runs still gives
the CPU time a suite cost and ``steps_per_s`` reads as member-steps per second.
"""

from __future__ import annotations

import socket
import time
import traceback
from collections.abc import Sequence

from rlsens.provenance import library_versions
from rlsens.record import RunResult
from rlsens.spec import RunSpec
from rlsens.timestamp import now_utc
from rlsens.trainer.placement import resolve_device, set_torch_threads
from rlsens.trainer.population.group import OFF_POLICY, group_key, supports
from rlsens.trainer.population.members import Member, build_member, evaluation_envs
from rlsens.trainer.population.offpolicy import OffPolicyLoop
from rlsens.trainer.population.ppo import OnPolicyLoop
from rlsens.trainer.population.progress import GroupProgress, MemberOutcome

TRAINER = "population"


def _check_group(specs: Sequence[RunSpec]) -> None:
    """Refuse a group its caller should not have formed: that is a planning bug, not a run's."""
    problems = []
    for spec in specs:
        if spec.trainer != TRAINER:
            problems.append(f"run {spec.run_id} has trainer {spec.trainer!r}, not {TRAINER!r}")
        elif (reason := supports(spec)) is not None:
            problems.append(f"run {spec.run_id}: {reason}")
    if not problems and len({group_key(s) for s in specs}) > 1:
        problems.append("the runs differ in structure (group_key); plan them as separate groups")
    if problems:
        raise ValueError("cannot train these runs as one population: " + "; ".join(problems))


def train_group(specs: Sequence[RunSpec], device: str | None = None) -> list[RunResult]:
    """Train ``specs`` (one group, see ``group_key``) together; one result per spec, in order."""
    if not specs:
        return []
    _check_group(specs)
    started_at = now_utc()
    start = time.monotonic()
    resolved = resolve_device(specs[0], device)
    set_torch_threads(specs[0].resources.cpus)

    outcomes: dict[int, MemberOutcome] = {}
    members: list[Member] = []
    indices: list[int] = []
    eval_envs = evaluation_envs(specs[0])
    for index, spec in enumerate(specs):
        try:
            members.append(build_member(spec, resolved, eval_envs))
            indices.append(index)
        except Exception:
            outcomes[index] = MemberOutcome(status="failed", error=traceback.format_exc())

    train_time = 0.0
    if members:
        progress = GroupProgress(members, start)
        began = time.monotonic()
        try:
            algorithm = OffPolicyLoop if specs[0].algo_class in OFF_POLICY else OnPolicyLoop
            algorithm(members, progress, resolved).learn()
            progress.finish()
        except Exception:
            error = traceback.format_exc()
            for i in range(len(members)):
                progress.stop(i, "failed", error)
        finally:
            for member in members:
                member.close()
        evaluations = sum(o.eval_time_s for o in progress.outcomes)
        train_time = max(0.0, time.monotonic() - began - evaluations) / len(specs)
        outcomes.update(zip(indices, progress.outcomes, strict=True))
    for env in eval_envs:
        env.close()

    finished_at = now_utc()
    wall_time = time.monotonic() - start
    versions = library_versions()
    host = socket.gethostname()
    return [
        RunResult(
            spec=spec,
            status=outcomes[i].status,
            curve=outcomes[i].curve,
            steps=outcomes[i].steps,
            wall_time_s=wall_time,
            train_time_s=train_time,
            diverged_step=outcomes[i].diverged_step,
            error=outcomes[i].error,
            versions=versions,
            device=resolved,
            host=host,
            started_at=started_at,
            finished_at=finished_at,
        )
        for i, spec in enumerate(specs)
    ]
