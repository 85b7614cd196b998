"""Glue of one `rlsens run`: plan versus store, manifest, execution, outcome.

Kept apart from the CLI so that a script or notebook can run a suite with the same resume
semantics: runs already stored (by id) are skipped, stored runs that left the plan are kept
but not used, and everything finished is in the store before this returns or raises.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from rlsens import provenance
from rlsens.plan import Plan
from rlsens.record import FAILED_STATUSES
from rlsens.spec import RunSpec
from rlsens.store import ResultStore
from rlsens.timestamp import now_utc


@dataclass
class SweepOutcome:
    planned: int
    already_stored: int
    unused: int
    executed: int
    statuses: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False
    not_run: int = 0

    @property
    def failed(self) -> int:
        return sum(self.statuses.get(s, 0) for s in FAILED_STATUSES)


def plan_index(runs: Sequence[RunSpec]) -> list[dict[str, Any]]:
    """Run ids grouped by algorithm x environment, so `rlsens status` needs no suite file."""
    cells: dict[tuple[str, str], list[str]] = {}
    for spec in runs:
        cells.setdefault((spec.algorithm, spec.env_id), []).append(spec.run_id)
    return [
        {"algorithm": alg, "env_id": env, "run_ids": ids} for (alg, env), ids in cells.items()
    ]


def seed_roles(runs: Sequence[RunSpec]) -> dict[str, list[str]]:
    """Run ids per seed role. Roles are not part of a run's identity (re-splitting seeds must
    not re-run anything), so the analysis takes them from the current plan, not the records."""
    roles: dict[str, list[str]] = {}
    for spec in runs:
        roles.setdefault(spec.seed_role, []).append(spec.run_id)
    return roles


def build_manifest(plan: Plan, previous: dict[str, Any]) -> dict[str, Any]:
    suite = plan.suite
    return {
        "suite": {
            "name": suite.name,
            "path": str(suite.path),
            "scale": suite.scale,
            "hash": suite.hash,
            "resolved": suite.resolved,
        },
        "searched": {alg: list(names) for alg, names in suite.searched.items()},
        "plan": {
            "runs": len(plan.runs),
            "run_ids": [spec.run_id for spec in plan.runs],
            "cells": plan_index(plan.runs),
            "seed_roles": seed_roles(plan.runs),
        },
        "provenance": {**provenance.collect(), "started_at": now_utc()},
        "history": [*previous.get("history", [])],
    }


def stored_statuses(store: ResultStore, run_ids: Sequence[str]) -> Counter[str]:
    stored = store.stored_ids()
    return Counter(store.read(rid).status for rid in run_ids if rid in stored)


def run_plan(
    plan: Plan,
    store: ResultStore,
    *,
    backend: str = "ray",
    address: str | None = None,
    max_concurrent: int | None = None,
    max_retries: int = 3,
    retry_failed: bool = False,
    progress: bool = True,
    stream: TextIO | None = None,
) -> SweepOutcome:
    """Execute the runs of ``plan`` that ``store`` lacks, holding the store's write lock."""
    from rlsens.execute import check_request, execute

    # Before the store is touched: a bad option must not rewrite the manifest.
    check_request(plan.runs, backend=backend, max_concurrent=max_concurrent,
                  max_retries=max_retries)
    with store.lock():
        planned_ids = [spec.run_id for spec in plan.runs]
        planned = set(planned_ids)
        stored = store.stored_ids()
        if retry_failed:
            stored = {
                rid for rid in stored
                if rid not in planned or store.read(rid).status not in FAILED_STATUSES
            }
        todo = [spec for spec in plan.runs if spec.run_id not in stored]
        unused = len(store.stored_ids() - planned)
        out = stream or sys.stderr
        print(
            f"{plan.suite.name}: {len(planned_ids)} runs planned, "
            f"{len(planned_ids) - len(todo)} already stored, {len(todo)} to run.",
            file=out,
        )
        if unused:
            print(
                f"{unused} stored runs are no longer in the plan (the suite changed): "
                "kept in the store, not used.",
                file=out,
            )
        manifest = build_manifest(plan, store.read_manifest())
        store.write_manifest(manifest)

        summary = execute(
            todo,
            store.write,
            backend=backend,
            address=address,
            max_concurrent=max_concurrent,
            max_retries=max_retries,
            progress=progress,
            stream=stream,
        )

        manifest["provenance"]["finished_at"] = now_utc()
        manifest["history"].append(
            {
                "started_at": manifest["provenance"]["started_at"],
                "finished_at": manifest["provenance"]["finished_at"],
                "executed": len(todo),
                "interrupted": summary.interrupted,
                "backend": backend,
            }
        )
        store.write_manifest(manifest)
        statuses = stored_statuses(store, planned_ids)

    return SweepOutcome(
        planned=len(planned_ids),
        already_stored=len(planned_ids) - len(todo),
        unused=unused,
        executed=len(todo),
        statuses=dict(statuses),
        interrupted=summary.interrupted,
        not_run=len(summary.not_run),
    )
