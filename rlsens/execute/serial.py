"""The serial backend: runs one after another in this process, no Ray.

For tests, tiny suites and machines where Ray cannot start. It behaves like a one-slot Ray
worker (torch threads set per run, a crash becomes a failed record) so results do not depend
on the backend.
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Callable, Sequence

from rlsens.execute.common import RunFn, Sink, call_run_fn, failed_result
from rlsens.execute.progress import Progress
from rlsens.record import RunResult
from rlsens.spec import RunSpec
from rlsens.trainer.placement import resolve_device, set_torch_threads


def run_serial(
    specs: Sequence[RunSpec],
    sink: Sink,
    *,
    run_fn: RunFn | None,
    make_progress: Callable[[int], Progress],
) -> tuple[Counter[str], set[str], bool]:
    """Run ``specs`` in order; returns (status counts, finished run ids, interrupted)."""
    import torch

    threads_before = torch.get_num_threads()
    progress = make_progress(1)
    counts: Counter[str] = Counter()
    done: set[str] = set()
    try:
        for spec in specs:
            progress.started(spec)
            device = resolve_device(spec)
            set_torch_threads(spec.resources.cpus)
            try:
                result = call_run_fn(run_fn, spec, device)
                if not isinstance(result, RunResult):
                    raise TypeError(f"run function returned {type(result).__name__}, not RunResult")
            except Exception:
                result = failed_result(spec, "run function raised:\n" + traceback.format_exc())
            sink(result)
            done.add(spec.run_id)
            counts[result.status] += 1
            progress.finished(result)
    except KeyboardInterrupt:
        return counts, done, True
    finally:
        torch.set_num_threads(threads_before)
    return counts, done, False
