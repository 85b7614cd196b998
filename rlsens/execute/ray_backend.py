"""The Ray backend: one Ray core task per group, a bounded window of tasks in flight.

A group is an sb3 run alone or a population group (one process trains its members); the
task asks for the group's resources, which are those of one run. Only the driver talks to the
result store: a task returns its members' ``RunResult``s (plain data) and the driver hands
each to the sink, so workers need no shared filesystem and a run is recorded exactly once
even when Ray re-executes its group after its worker or node died.

Fault model:

- worker process or node dies -> Ray re-runs the whole group up to ``max_retries`` times (its
  members are stored only once the task returns, so none is stored twice); the driver sees a
  single result per member. If every attempt dies, the members are reported with an error
  starting with ``executor:`` (an infrastructure failure, not the configuration's) and not
  stored, so the next invocation retries them.
- the run function raises -> not retried (``retry_exceptions=False``: it is deterministic);
  each member recorded as failed with the remote traceback.
- Ctrl-C / SIGTERM -> in-flight tasks are force-cancelled, everything already sunk is kept.
"""

from __future__ import annotations

import socket
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError, TaskCancelledError

from rlsens.execute.common import GroupFn, RunFn, Sink, checked_results, failed_result, run_group
from rlsens.execute.progress import Progress
from rlsens.record import RunResult
from rlsens.spec import RunGroup
from rlsens.trainer.placement import resolve_device, set_torch_threads

WAIT_TIMEOUT_S = 1.0  # how often the driver wakes up to refresh progress and notice Ctrl-C


def run_task(group: RunGroup, run_fn: RunFn | None, group_fn: GroupFn | None) -> list[RunResult]:
    """Body of the Ray task: pin threads, choose the device Ray assigned, train the group."""
    gpu_ids = [str(i) for i in ray.get_runtime_context().get_accelerator_ids().get("GPU", [])]
    set_torch_threads(group.resources.cpus)
    device = resolve_device(group.specs[0], assigned_gpus=gpu_ids)
    results = run_group(group, run_fn, group_fn, device)
    for result in results:
        if gpu_ids:
            result.device = "cuda:" + ",".join(gpu_ids)
        if not result.host:
            result.host = socket.gethostname()
    return results


_remote_task = ray.remote(run_task)


def capacity(groups: Sequence[RunGroup]) -> int:
    """How many groups the cluster can hold at once, from its CPUs and GPUs and the largest ask."""
    resources = ray.cluster_resources()
    limits = []
    cpus = max(group.resources.cpus for group in groups)
    gpus = max(group.resources.gpus for group in groups)
    if cpus > 0:
        limits.append(int(resources.get("CPU", 0) // cpus))
    if gpus > 0:
        limits.append(int(resources.get("GPU", 0) // gpus))
    return max(1, min(limits)) if limits else max(1, int(resources.get("CPU", 1)))


def _options(group: RunGroup, max_retries: int) -> dict[str, Any]:
    res = group.resources
    spec = group.specs[0]
    name = f"rlsens {spec.algorithm} {spec.env_id} seed {spec.seed} {spec.run_id}"
    if len(group.specs) > 1:
        name += f" +{len(group.specs) - 1} population members"
    options: dict[str, Any] = {
        "num_cpus": res.cpus,
        "num_gpus": res.gpus,
        "max_retries": max_retries,
        "retry_exceptions": False,
        "name": name,
    }
    if res.memory_mb:
        options["memory"] = int(res.memory_mb * 2**20)
    return options


def _collect(ref: ray.ObjectRef, group: RunGroup,
             max_retries: int) -> tuple[list[RunResult], bool]:
    """The members' results, and whether they were lost to the infrastructure.

    A group whose worker or node died on every attempt, or that was cancelled from outside,
    says nothing about the algorithm: its members are reported but never stored, so the next
    `rlsens run` retries them and the analysis never scores them as the algorithm's failure.
    """
    def each(error: str) -> list[RunResult]:
        return [failed_result(spec, error) for spec in group.specs]

    try:
        results = ray.get(ref)
    except RayTaskError as exc:
        return each(f"run function raised:\n{exc}"), False
    except TaskCancelledError as exc:
        return each(f"executor: the run was cancelled from outside: {exc}"), True
    except RayError as exc:
        return each(
            f"executor: the run's worker died on each of {max_retries + 1} attempts "
            f"(Ray max_retries={max_retries}); last error:\n{exc}",
        ), True
    return checked_results(group, results), False


def run_ray(
    groups: Sequence[RunGroup],
    sink: Sink,
    *,
    run_fn: RunFn | None,
    group_fn: GroupFn | None = None,
    max_concurrent: int | None,
    max_retries: int,
    make_progress: Callable[[int], Progress],
) -> tuple[Counter[str], set[str], bool]:
    """Fan ``groups`` out as Ray tasks on the connected cluster (``max_concurrent`` bounds the
    groups in flight). Returns (status counts, finished run ids, interrupted).
    """
    window = max_concurrent or capacity(groups)
    members = sum(len(g.to_sink) for g in groups) / len(groups)
    progress = make_progress(max(1, round(window * members)))  # runs in flight, for the ETA
    waiting = deque(groups)
    in_flight: dict[ray.ObjectRef, RunGroup] = {}
    counts: Counter[str] = Counter()
    done: set[str] = set()
    interrupted = False
    try:
        while waiting or in_flight:
            while waiting and len(in_flight) < window:
                group = waiting.popleft()
                ref = _remote_task.options(**_options(group, max_retries)).remote(
                    group, run_fn, group_fn)
                in_flight[ref] = group
                for spec in group.to_sink:
                    progress.started(spec)
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=WAIT_TIMEOUT_S)
            for ref in ready:
                group = in_flight.pop(ref)
                results, lost = _collect(ref, group, max_retries)
                for result in results:
                    if result.run_id in group.stored:
                        continue
                    progress.finished(result)
                    if lost:  # left in the summary's not_run: the next invocation retries it
                        continue
                    sink(result)
                    done.add(result.run_id)
                    counts[result.status] += 1
            progress.refresh()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for ref in in_flight:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # already finished or its worker is gone: nothing to cancel
                continue
    return counts, done, interrupted
