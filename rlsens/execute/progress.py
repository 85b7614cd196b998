"""Progress of a batch of runs: a live rich display on a terminal, plain lines in CI logs.

The ETA is deliberately simple so it can be trusted: seconds per environment step measured on
the runs that finished, times the steps the unfinished runs still have to do (minus the time
the running ones already spent), divided by how many run at once. Runs of very different
algorithms make it approximate; it never pretends to more.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Sequence
from typing import TextIO

from rlsens.record import FAILED_STATUSES, RunResult, error_summary
from rlsens.spec import RunSpec

PLAIN_INTERVAL_S = 30.0
FAILURES_SHOWN = 5


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def failure_reason(result: RunResult) -> str:
    """Status plus the last line of the error: what a user scans a list of failures for."""
    summary = error_summary(result.error)
    return f"{result.status}: {summary}" if summary else result.status


def run_label(spec: RunSpec) -> str:
    config = f" {spec.config_id}" if spec.config_id else ""
    return f"{spec.algorithm} {spec.env_id}{config} seed {spec.seed}"


class ProgressState:
    """Counts, rates and the ETA of one execution; no I/O, so it is easy to test."""

    def __init__(self, specs: Sequence[RunSpec], concurrency: int, clock=time.monotonic) -> None:
        self.clock = clock
        self.start = clock()
        self.total = len(specs)
        self.concurrency = max(1, concurrency)
        self.budgets = {spec.run_id: max(0, spec.budget) for spec in specs}
        self.remaining_steps = sum(self.budgets.values())
        self.running: dict[str, float] = {}
        self.counts: Counter[str] = Counter()
        self.done_seconds = 0.0
        self.done_steps = 0
        self.done_runs = 0
        self.failures: deque[str] = deque(maxlen=FAILURES_SHOWN)

    def started(self, spec: RunSpec) -> None:
        self.running[spec.run_id] = self.clock()

    def finished(self, result: RunResult) -> None:
        started = self.running.pop(result.run_id, None)
        measured = self.clock() - started if started is not None else 0.0
        duration = result.wall_time_s if result.wall_time_s > 0 else measured
        budget = self.budgets.get(result.run_id, 0)
        self.remaining_steps -= budget
        self.counts[result.status] += 1
        self.done_runs += 1
        if result.status not in FAILED_STATUSES:
            # Runs that crashed early say nothing about how long a full run takes.
            self.done_seconds += duration
            self.done_steps += budget
        else:
            self.failures.append(f"{run_label(result.spec)}: {failure_reason(result)}")

    @property
    def elapsed(self) -> float:
        return self.clock() - self.start

    @property
    def remaining(self) -> int:
        return self.total - self.done_runs - len(self.running)

    @property
    def runs_per_minute(self) -> float:
        return 60.0 * self.done_runs / self.elapsed if self.elapsed > 0 else 0.0

    def eta(self) -> float | None:
        unfinished = self.total - self.done_runs
        if unfinished == 0:
            return 0.0
        if self.done_steps == 0:
            return None
        seconds_per_step = self.done_seconds / self.done_steps
        now = self.clock()
        spent = sum(now - t for t in self.running.values())
        work = max(0.0, seconds_per_step * self.remaining_steps - spent)
        return work / min(self.concurrency, unfinished)

    def line(self) -> str:
        c = self.counts
        return (
            f"{self.done_runs}/{self.total} done (ok {c['ok']}, diverged {c['diverged']}, "
            f"failed {c['failed']}, timeout {c['timeout']}), {len(self.running)} running, "
            f"{self.remaining} waiting, {self.runs_per_minute:.1f} runs/min, "
            f"elapsed {format_duration(self.elapsed)}, ETA {format_duration(self.eta())}"
        )


class Progress:
    """Reports a ``ProgressState``: rich ``Live`` on a terminal, plain lines otherwise.

    Plain mode prints at start, every ``PLAIN_INTERVAL_S`` seconds, at every 10 % of the runs,
    on each failure, and at the end, so CI logs stay short but show that the job is alive.
    """

    def __init__(
        self,
        specs: Sequence[RunSpec],
        *,
        concurrency: int,
        stream: TextIO,
        enabled: bool = True,
        title: str = "rlsens",
    ) -> None:
        self.state = ProgressState(specs, concurrency)
        self.stream = stream
        self.enabled = enabled
        self.title = title
        self.live = None
        self.last_print = 0.0
        self.last_decile = 0
        if not enabled:
            return
        if _is_terminal(stream):
            from rich.console import Console
            from rich.live import Live

            console = Console(file=stream)
            self.live = Live(self._render(), console=console, refresh_per_second=2, transient=False)
            self.live.start()
        else:
            self._print(f"{self.state.total} runs, up to {self.state.concurrency} at a time")

    def started(self, spec: RunSpec) -> None:
        self.state.started(spec)
        self.refresh()

    def finished(self, result: RunResult) -> None:
        self.state.finished(result)
        if self.enabled and self.live is None and result.status in FAILED_STATUSES:
            self._print(f"{run_label(result.spec)}: {failure_reason(result)}")
        self.refresh()

    def refresh(self) -> None:
        if not self.enabled:
            return
        if self.live is not None:
            self.live.update(self._render())
            return
        now = self.state.clock()
        total = max(1, self.state.total)
        decile = (10 * self.state.done_runs) // total
        if decile > self.last_decile or now - self.last_print >= PLAIN_INTERVAL_S:
            self.last_decile = decile
            self._print(self.state.line())

    def close(self, message: str | None = None) -> None:
        if self.enabled:
            if self.live is not None:
                self.live.update(self._render())
                self.live.stop()
                self.live = None
            else:
                self._print(self.state.line())
        if message:
            print(message, file=self.stream, flush=True)

    def _print(self, text: str) -> None:
        self.last_print = self.state.clock()
        print(f"[{self.title}] {text}", file=self.stream, flush=True)

    def _render(self):
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.text import Text

        s = self.state
        parts = [
            Text(f"{self.title}: {s.total} runs", style="bold"),
            ProgressBar(total=max(1, s.total), completed=s.done_runs, width=60),
            Text(s.line()),
        ]
        if s.failures:
            parts.append(Text("last failures:", style="red"))
            parts.extend(Text(f"  {f}") for f in s.failures)
        return Group(*parts)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed stream
        return False
