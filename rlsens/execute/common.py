"""What the serial and Ray backends share: the summary, calling a run function, failure records.

Both backends must produce identical records for the same outcome, so the few rules that
decide a record (how a run function is called, what a crash becomes) live here once.
"""

from __future__ import annotations

import inspect
import signal
import socket
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rlsens.record import STATUSES, RunResult
from rlsens.spec import RunGroup, RunSpec
from rlsens.timestamp import now_utc

RunFn = Callable[..., RunResult]
GroupFn = Callable[..., list[RunResult]]
Sink = Callable[[RunResult], None]


@dataclass
class ExecutionSummary:
    """What happened to a batch of runs, for the CLI's final message and exit code.

    ``not_run`` lists the run ids that were neither finished nor recorded: the ones an
    interruption stopped, and the ones lost to the infrastructure (worker or node dead on
    every attempt); rerunning the same command runs them because the store skips every run it
    already holds.
    """

    total: int
    ok: int = 0
    diverged: int = 0
    failed: int = 0
    timeout: int = 0
    interrupted: bool = False
    elapsed_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    not_run: list[str] = field(default_factory=list)
    backend: str = ""
    address: str | None = None

    @property
    def finished(self) -> int:
        return self.ok + self.diverged + self.failed + self.timeout

    @classmethod
    def from_counts(cls, total: int, counts: Counter[str], **extra: Any) -> ExecutionSummary:
        per_status = {status: counts.get(status, 0) for status in STATUSES}
        return cls(total=total, counts=per_status, **per_status, **extra)

    def resume_message(self) -> str:
        """One paragraph telling the user what was kept and how to continue."""
        return (
            f"Interrupted: {self.finished} of {self.total} runs finished and were saved; "
            f"{len(self.not_run)} did not finish. Run the same command again to resume: "
            "runs already in the result store are skipped."
        )


def unique_groups(units: Sequence[RunSpec | RunGroup]) -> list[RunGroup]:
    """Units of execution: a bare spec is a group of one. A run is sunk at most once per
    call: a member already sunk by an earlier group trains with its group but counts as
    ``stored``; a group with nothing left to sink is dropped."""
    seen: set[str] = set()
    out: list[RunGroup] = []
    for unit in units:
        group = unit if isinstance(unit, RunGroup) else RunGroup.single(unit)
        stored = frozenset(group.stored | (set(group.run_ids) & seen))
        if len(stored) == len(group.specs):
            continue
        seen.update(group.run_ids)
        out.append(RunGroup(group.specs, group.resources, stored))
    return out


def default_run_fn() -> RunFn:
    """The trainer, imported only where a run executes (workers need not import it eagerly)."""
    from rlsens.trainer.run import train

    return train


def accepts_device(run_fn: RunFn) -> bool:
    try:
        params = inspect.signature(run_fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "device" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def call_run_fn(run_fn: RunFn | None, spec: RunSpec, device: str) -> RunResult:
    """Call ``run_fn`` the way every backend does: device keyword only if it takes one."""
    fn = run_fn if run_fn is not None else default_run_fn()
    if accepts_device(fn):
        return fn(spec, device=device)
    return fn(spec)


def default_group_fn() -> GroupFn:
    """The population trainer, imported only where a group executes."""
    from rlsens.trainer.population.run import train_group

    return train_group


def run_group(group: RunGroup, run_fn: RunFn | None, group_fn: GroupFn | None,
              device: str) -> list[RunResult]:
    """One unit of execution, as every backend runs it: its members' results, in order.

    An sb3 run goes through ``run_fn``, a population group through ``group_fn`` (default
    ``train_group``). Whatever the function raises or returns amiss becomes a failed record
    of each member concerned, with the traceback, so a crash is recorded as the sb3 path does.
    """
    try:
        if group.trainer == "population":
            fn = group_fn if group_fn is not None else default_group_fn()
            results = fn(list(group.specs), device=device)
        else:
            results = [call_run_fn(run_fn, group.specs[0], device)]
    except Exception:
        error = "run function raised:\n" + traceback.format_exc()
        return [failed_result(spec, error) for spec in group.specs]
    return checked_results(group, results)


def checked_results(group: RunGroup, results: Any) -> list[RunResult]:
    """``results`` as one ``RunResult`` per member of ``group``, in order; anything else (a
    wrong type, a missing or foreign run) becomes the member's failed record."""
    if not isinstance(results, list) or len(results) != len(group.specs):
        got = f"{len(results)} results" if isinstance(results, list) else type(results).__name__
        error = f"executor: run function returned {got} for a group of {len(group.specs)} runs"
        return [failed_result(spec, error) for spec in group.specs]
    out = []
    for spec, result in zip(group.specs, results, strict=True):
        if not isinstance(result, RunResult):
            out.append(failed_result(
                spec, f"run function raised:\nTypeError: run function returned "
                f"{type(result).__name__}, not RunResult"))
        elif result.run_id != spec.run_id:
            out.append(failed_result(
                spec, f"executor: run function returned the result of {result.run_id}"))
        else:
            out.append(result)
    return out


def failed_result(spec: RunSpec, error: str, status: str = "failed") -> RunResult:
    """A record for a run that produced no result of its own (it raised, or its worker died)."""
    stamp = now_utc()
    return RunResult(
        spec=spec,
        status=status,
        error=error,
        host=socket.gethostname(),
        started_at=stamp,
        finished_at=stamp,
    )


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while runs execute, so a killed job stops cleanly too.

    Signal handlers can only be installed from the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
