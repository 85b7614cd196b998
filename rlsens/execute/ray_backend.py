"""The Ray backend: one Ray core task per run, a bounded window of tasks in flight.

Only the driver talks to the result store: a task returns its ``RunResult`` (plain data) and
the driver hands it to the sink, so workers need no shared filesystem and a run is recorded
exactly once even when Ray re-executes it after its worker or node died.

Fault model:

- worker process or node dies -> Ray re-runs the task up to ``max_retries`` times; the driver
  sees a single result. If every attempt dies, the run is recorded as failed with an error
  starting with ``executor:`` (an infrastructure failure, not the configuration's).
- the run function raises -> not retried (``retry_exceptions=False``: it is deterministic);
  recorded as failed with the remote traceback.
- Ctrl-C / SIGTERM -> in-flight tasks are force-cancelled, everything already sunk is kept.
"""

from __future__ import annotations

import socket
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError, TaskCancelledError

from rlsens.execute.common import RunFn, Sink, call_run_fn, failed_result
from rlsens.execute.progress import Progress
from rlsens.record import RunResult
from rlsens.spec import RunSpec
from rlsens.trainer.placement import resolve_device, set_torch_threads

WAIT_TIMEOUT_S = 1.0  # how often the driver wakes up to refresh progress and notice Ctrl-C


def run_task(spec: RunSpec, run_fn: RunFn | None) -> RunResult:
    """Body of the Ray task: pin threads, choose the device Ray assigned, call the run function."""
    gpu_ids = [str(i) for i in ray.get_runtime_context().get_accelerator_ids().get("GPU", [])]
    set_torch_threads(spec.resources.cpus)
    result = call_run_fn(run_fn, spec, resolve_device(spec, assigned_gpus=gpu_ids))
    if not isinstance(result, RunResult):
        raise TypeError(f"run function returned {type(result).__name__}, not RunResult")
    if gpu_ids:
        result.device = "cuda:" + ",".join(gpu_ids)
    if not result.host:
        result.host = socket.gethostname()
    return result


_remote_task = ray.remote(run_task)


def capacity(specs: Sequence[RunSpec]) -> int:
    """How many runs the cluster can hold at once, from its CPUs and GPUs and the largest ask."""
    resources = ray.cluster_resources()
    limits = []
    cpus = max(spec.resources.cpus for spec in specs)
    gpus = max(spec.resources.gpus for spec in specs)
    if cpus > 0:
        limits.append(int(resources.get("CPU", 0) // cpus))
    if gpus > 0:
        limits.append(int(resources.get("GPU", 0) // gpus))
    return max(1, min(limits)) if limits else max(1, int(resources.get("CPU", 1)))


def _options(spec: RunSpec, max_retries: int) -> dict[str, Any]:
    res = spec.resources
    options: dict[str, Any] = {
        "num_cpus": res.cpus,
        "num_gpus": res.gpus,
        "max_retries": max_retries,
        "retry_exceptions": False,
        "name": f"rlsens {spec.algorithm} {spec.env_id} seed {spec.seed} {spec.run_id}",
    }
    if res.memory_mb:
        options["memory"] = int(res.memory_mb * 2**20)
    return options


def _collect(ref: ray.ObjectRef, spec: RunSpec, max_retries: int) -> tuple[RunResult, bool]:
    """The run's result, and whether it was lost to the infrastructure rather than finished.

    A run whose worker or node died on every attempt, or that was cancelled from outside,
    says nothing about the algorithm: it is reported but never stored, so the next
    `rlsens run` retries it and the analysis never scores it as the algorithm's failure.
    """
    try:
        result = ray.get(ref)
    except RayTaskError as exc:
        return failed_result(spec, f"run function raised:\n{exc}"), False
    except TaskCancelledError as exc:
        return failed_result(spec, f"executor: the run was cancelled from outside: {exc}"), True
    except RayError as exc:
        return failed_result(
            spec,
            f"executor: the run's worker died on each of {max_retries + 1} attempts "
            f"(Ray max_retries={max_retries}); last error:\n{exc}",
        ), True
    if result.run_id != spec.run_id:
        message = f"executor: run function returned the result of {result.run_id}"
        return failed_result(spec, message), False
    return result, False


def run_ray(
    specs: Sequence[RunSpec],
    sink: Sink,
    *,
    run_fn: RunFn | None,
    max_concurrent: int | None,
    max_retries: int,
    make_progress: Callable[[int], Progress],
) -> tuple[Counter[str], set[str], bool]:
    """Fan ``specs`` out as Ray tasks on the connected cluster.

    Returns (status counts, finished run ids, interrupted).
    """
    window = max_concurrent or capacity(specs)
    progress = make_progress(window)
    waiting = deque(specs)
    in_flight: dict[ray.ObjectRef, RunSpec] = {}
    counts: Counter[str] = Counter()
    done: set[str] = set()
    interrupted = False
    try:
        while waiting or in_flight:
            while waiting and len(in_flight) < window:
                spec = waiting.popleft()
                ref = _remote_task.options(**_options(spec, max_retries)).remote(spec, run_fn)
                in_flight[ref] = spec
                progress.started(spec)
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=WAIT_TIMEOUT_S)
            for ref in ready:
                spec = in_flight.pop(ref)
                result, lost = _collect(ref, spec, max_retries)
                progress.finished(result)
                if lost:  # left in the summary's not_run: the next invocation retries it
                    continue
                sink(result)
                done.add(spec.run_id)
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
