"""Execution stage: run a plan's runs and hand each ``RunResult`` to a sink.

``execute`` is the only entry point. It takes ``RunSpec``s (each run alone) or ``RunGroup``s
(population groups, one process each). Backends: ``"ray"`` (default; one Ray task per group
on a local instance or an existing cluster) and ``"serial"`` (in-process loop, no Ray).
Whatever the backend, ``sink`` is called in the calling process only, once per run (member),
in completion order; that is where the result store writes, so workers need no shared
filesystem.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from rlsens.execute.checks import BACKENDS, check_fits, check_request
from rlsens.execute.common import (
    ExecutionSummary,
    GroupFn,
    RunFn,
    Sink,
    sigterm_as_interrupt,
    unique_groups,
)
from rlsens.execute.progress import Progress
from rlsens.spec import RunGroup, RunSpec

__all__ = ["BACKENDS", "ExecutionSummary", "check_request", "execute"]


def execute(
    units: Sequence[RunSpec | RunGroup],
    sink: Sink,
    *,
    backend: str = "ray",
    address: str | None = None,
    max_concurrent: int | None = None,
    max_retries: int = 3,
    progress: bool = True,
    run_fn: RunFn | None = None,
    group_fn: GroupFn | None = None,
    stream: TextIO | None = None,
) -> ExecutionSummary:
    """Run every run once (repeated run ids run once) and sink each result as it finishes.

    ``run_fn`` defaults to ``rlsens.trainer.run.train``, imported where the run executes; it is
    called as ``run_fn(spec, device=...)`` if it takes a ``device`` argument, else
    ``run_fn(spec)``. A population group goes to ``group_fn(specs, device=...)`` (default
    ``rlsens.trainer.population.run.train_group``), which returns its members' results in order.
    ``address`` (or ``RAY_ADDRESS``) selects an existing Ray cluster; without
    it a private local instance is started and stopped. ``max_concurrent`` bounds the runs in
    flight (default: what the cluster's CPUs/GPUs hold). ``max_retries`` is how often Ray
    re-runs a run whose worker or node died; a run function that raises is recorded as failed
    and not retried.

    Ctrl-C or SIGTERM stops early: running runs are cancelled, sunk results are kept, and the
    summary has ``interrupted=True`` and the unfinished run ids in ``not_run``. If ``sink``
    raises, running runs are cancelled and the exception propagates.
    """
    groups = unique_groups(units)
    specs = [spec for group in groups for spec in group.to_sink]
    check_request(specs, backend=backend, max_concurrent=max_concurrent, max_retries=max_retries,
                  address=address)
    out = stream if stream is not None else sys.stderr
    started = time.monotonic()
    shown: list[Progress] = []

    def make_progress(concurrency: int) -> Progress:
        shown.append(Progress(specs, concurrency=concurrency, stream=out, enabled=progress))
        return shown[-1]

    where: str | None = None
    try:
        with sigterm_as_interrupt():
            if not specs:  # nothing to do: do not pay for starting Ray
                counts, done, interrupted = Counter(), set(), False
            elif backend == "serial":
                from rlsens.execute.serial import run_serial

                counts, done, interrupted = run_serial(
                    groups, sink, run_fn=run_fn, group_fn=group_fn, make_progress=make_progress
                )
            else:
                import ray

                from rlsens.execute.ray_backend import run_ray
                from rlsens.execute.ray_session import ray_session

                with ray_session(address, out) as where:
                    if where == "local":
                        check_fits(specs, ray.cluster_resources())
                    counts, done, interrupted = run_ray(
                        groups,
                        sink,
                        run_fn=run_fn,
                        group_fn=group_fn,
                        max_concurrent=max_concurrent,
                        max_retries=max_retries,
                        make_progress=make_progress,
                    )
    except BaseException:
        for shown_progress in shown:
            shown_progress.close()
        raise
    summary = ExecutionSummary.from_counts(
        len(specs),
        counts,
        interrupted=interrupted,
        elapsed_s=time.monotonic() - started,
        not_run=[spec.run_id for spec in specs if spec.run_id not in done],
        backend=backend,
        address=where,
    )
    message = summary.resume_message() if interrupted else None
    if shown:
        shown[-1].close(message)
    elif message:
        print(message, file=out, flush=True)
    return summary
