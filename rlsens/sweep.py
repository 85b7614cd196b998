"""Glue of one `rlsens run`: plan versus store, manifest, execution, outcome.

Kept apart from the CLI so that a script or notebook can run a suite with the same resume
semantics: runs already stored (by id) are skipped, stored runs that left the plan are kept
but not used, and everything finished is in the store before this returns or raises.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from rlsens import provenance
from rlsens.errors import StoreError
from rlsens.plan import Plan, pending_groups
from rlsens.record import FAILED_STATUSES
from rlsens.store import (
    Manifest,
    ManifestPlan,
    ManifestSuite,
    PlanCell,
    ResultStore,
    suite_conflict,
)
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
    unsaved: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(self.statuses.get(s, 0) for s in FAILED_STATUSES)


def build_manifest(plan: Plan, previous: Manifest | None) -> Manifest:
    suite = plan.suite
    return Manifest(
        suite=ManifestSuite(
            name=suite.name,
            path=str(suite.path),
            scale=suite.scale,
            hash=suite.hash,
            resolved=suite.resolved,
        ),
        searched={alg: list(names) for alg, names in suite.searched.items()},
        plan=ManifestPlan(
            runs=len(plan.runs),
            run_ids=[spec.run_id for spec in plan.runs],
            cells=[PlanCell(alg, env, ids) for alg, env, ids in plan.cells()],
            seed_roles=plan.seed_roles(),
        ),
        provenance={**provenance.collect(), "started_at": now_utc()},
        history=list(previous.history) if previous is not None else [],
    )


def claim_store(plan: Plan, store: ResultStore) -> Manifest | None:
    """Check that ``store`` may take runs of ``plan``'s suite; return its current manifest.

    Refuses a store that belongs to another suite (see ``suite_conflict``; without a manifest,
    the suite named by its records) before anything is written, and archives the manifest of
    an edited suite under ``manifests/``.
    """
    previous = store.read_manifest()
    if previous is None:
        # No manifest (never written, or moved aside as the corrupt-manifest message says):
        # the records still tell whose runs the folder holds.
        owners = sorted({r.spec.suite for r in store.results()} - {plan.suite.name})
        conflict = (suite_conflict(ManifestSuite(name=owners[0]),
                                   ManifestSuite(name=plan.suite.name)) if owners else None)
    else:
        conflict = suite_conflict(previous.suite, ManifestSuite(name=plan.suite.name))
    if conflict:
        raise StoreError(
            f"{store.root} belongs to another suite: {conflict}. A results folder holds the "
            "runs of one suite; pass --results with another folder (e.g. "
            f"results/{plan.suite.name}), or move {store.root} aside."
        )
    if previous is not None and previous.suite.hash != plan.suite.hash:
        store.archive_manifest()
    return previous


def stored_statuses(store: ResultStore, run_ids: Sequence[str]) -> Counter[str]:
    stored = store.stored_ids()
    return Counter(store.read(rid).status for rid in run_ids if rid in stored)


def _write_final_manifest(store: ResultStore, manifest: Manifest, out: TextIO) -> None:
    """Record the run's end; a store that stopped taking writes must not hide the results."""
    try:
        store.write_manifest(manifest)
    except OSError as exc:
        print(f"warning: could not update {store.manifest_path} ({exc.strerror or exc}); the "
              "stored runs are unaffected and the next `rlsens run` rewrites it.", file=out)


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
                  max_retries=max_retries, address=address)
    with store.lock():
        previous = claim_store(plan, store)
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
                "kept in the store, not used (`rlsens export --all` and `rlsens report --all` "
                "include them).",
                file=out,
            )
        manifest = build_manifest(plan, previous)
        store.write_manifest(manifest)

        # Population groups of the plan, minus their stored members.
        summary = execute(
            pending_groups(plan.groups, {spec.run_id for spec in todo}),
            store.write,
            backend=backend,
            address=address,
            max_concurrent=max_concurrent,
            max_retries=max_retries,
            progress=progress,
            stream=stream,
        )

        finished = {**manifest.provenance, "finished_at": now_utc()}
        _write_final_manifest(store, replace(manifest, provenance=finished, history=[
            *manifest.history,
            {
                "started_at": finished["started_at"],
                "finished_at": finished["finished_at"],
                "executed": len(todo),
                "interrupted": summary.interrupted,
                "backend": backend,
            },
        ]), out)
        statuses = stored_statuses(store, planned_ids)

    return SweepOutcome(
        planned=len(planned_ids),
        already_stored=len(planned_ids) - len(todo),
        unused=unused,
        executed=len(todo),
        statuses=dict(statuses),
        interrupted=summary.interrupted,
        not_run=len(summary.not_run),
        unsaved=list(store.unsaved),
    )
