"""Progress of a results folder against its plan: what `rlsens status` prints.

Counted from the manifest's plan cells and the stored records alone, so it needs no suite
file and works on a store another machine is still writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rlsens.errors import StoreError
from rlsens.record import FAILED_STATUSES, error_summary
from rlsens.store.results import ResultStore


@dataclass(frozen=True)
class CellStatus:
    algorithm: str
    env_id: str
    done: int = 0
    failed: int = 0
    remaining: int = 0


@dataclass(frozen=True)
class FailedRun:
    run_id: str
    algorithm: str
    env_id: str
    seed: int
    status: str
    error: str


@dataclass(frozen=True)
class StoreStatus:
    """Per plan cell: done, failed (or timed out) and remaining runs; ``unused`` stored runs
    are outside the current plan and counted nowhere else, ``warnings`` name duplicates."""

    cells: list[CellStatus]
    failures: list[FailedRun] = field(default_factory=list)
    unused: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def totals(self) -> CellStatus:
        return CellStatus("total", "", sum(c.done for c in self.cells),
                          sum(c.failed for c in self.cells),
                          sum(c.remaining for c in self.cells))


def store_status(store: ResultStore) -> StoreStatus:
    manifest = store.read_manifest()
    if manifest is None or manifest.plan is None or not manifest.plan.cells:
        raise StoreError(f"{store.root}: no manifest with a plan; was it written by "
                         "`rlsens run`?")
    stored = store.stored_ids()
    planned: set[str] = set()
    cells, failures = [], []
    for cell in manifest.plan.cells:
        done = failed = remaining = 0
        for rid in cell.run_ids:
            planned.add(rid)
            if rid not in stored:
                remaining += 1
                continue
            result = store.read(rid)
            if result.status in FAILED_STATUSES:
                failed += 1
                failures.append(FailedRun(rid, cell.algorithm, cell.env_id, result.spec.seed,
                                          result.status, error_summary(result.error) or ""))
            else:
                done += 1
        cells.append(CellStatus(cell.algorithm, cell.env_id, done, failed, remaining))
    return StoreStatus(cells=cells, failures=failures, unused=len(stored - planned),
                       warnings=store.duplicate_warnings())
