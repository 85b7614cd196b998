"""Where a run executes: its torch device and how many threads torch may use.

The trainer and both execution backends decide these for every run; they do it here so a run
gets the same device and thread count whether it is trained directly, in the serial loop or
in a Ray task. torch is imported inside the functions: the CLI imports the execution stage for
commands that never train, and torch costs seconds to import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from rlsens.spec import RunSpec

_interop_threads_set = False


def set_torch_threads(cpus: float) -> None:
    """One torch thread per requested CPU.

    Torch's default (all cores) collapses 3-12x as soon as two runs share the cores, because
    OpenMP workers spin-wait; Ray sets ``OMP_NUM_THREADS`` for a task, but torch may already
    have been imported by the worker. The inter-op pool size can be set only once per process
    and only before any parallel work, so it is set on the first run and left alone afterwards.
    """
    import torch

    global _interop_threads_set
    threads = max(1, int(cpus))
    torch.set_num_threads(threads)
    if not _interop_threads_set:
        _interop_threads_set = True
        # Fails if the process already ran parallel torch work; its pool then stays as it is.
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(threads)


def resolve_device(
    spec: RunSpec, requested: str | None = None, *, assigned_gpus: Sequence[str] | None = None
) -> str:
    """The torch device of a run: ``requested`` if given, else ``cuda`` or ``cpu``.

    ``assigned_gpus`` are the GPU ids Ray gave the task; inside a Ray task they decide, since
    Ray both reserves the GPUs and restricts ``CUDA_VISIBLE_DEVICES`` to them. Outside Ray a
    run that asks for GPUs gets CUDA when this process can see one, and the CPU otherwise.
    """
    if requested is not None:
        return requested
    if assigned_gpus is not None:
        return "cuda" if assigned_gpus else "cpu"
    if spec.resources.gpus <= 0:
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
