"""The serial backend: run groups one after another in this process, no Ray.

For tests, tiny suites and machines where Ray cannot start. It behaves like a one-slot Ray
worker (torch threads set per group, a crash becomes a failed record of each member) so
results do not depend on the backend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from rlsens.execute.common import GroupFn, RunFn, Sink, run_group
from rlsens.execute.progress import Progress
from rlsens.spec import RunGroup
from rlsens.trainer.placement import resolve_device, set_torch_threads


def run_serial(
    groups: Sequence[RunGroup],
    sink: Sink,
    *,
    run_fn: RunFn | None,
    group_fn: GroupFn | None = None,
    make_progress: Callable[[int], Progress],
) -> tuple[Counter[str], set[str], bool]:
    """Run ``groups`` in order; returns (status counts, finished run ids, interrupted)."""
    import torch

    threads_before = torch.get_num_threads()
    # One group at a time: as many runs in flight as a group has members, for the ETA.
    progress = make_progress(max(1, round(sum(len(g.to_sink) for g in groups) / len(groups))))
    counts: Counter[str] = Counter()
    done: set[str] = set()
    try:
        for group in groups:
            for spec in group.to_sink:
                progress.started(spec)
            device = resolve_device(group.specs[0])
            set_torch_threads(group.resources.cpus)
            for result in run_group(group, run_fn, group_fn, device):
                if result.run_id in group.stored:
                    continue
                sink(result)
                done.add(result.run_id)
                counts[result.status] += 1
                progress.finished(result)
    except KeyboardInterrupt:
        return counts, done, True
    finally:
        torch.set_num_threads(threads_before)
    return counts, done, False
