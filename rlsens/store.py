"""The result store: one JSON record per finished run, written so a crash can never lose one.

Layout of ``results/<suite>/``::

    manifest.json          suite as resolved, its hash, the plan, provenance
    runs/<ab>/<run_id>.json one record per finished run (any status)
    .lock                  held (flock) by the one driver writing this store

Every write goes to a temporary file in the same folder, is fsync'ed, renamed over the final
name and the folder fsync'ed, so killing the process at any instant leaves either the whole
record or none of it. Records are keyed by run id, which makes re-running a suite idempotent:
runs already stored are skipped, and runs that dropped out of the plan are kept but unused.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rlsens.errors import StoreError
from rlsens.record import RunResult
from rlsens.tables import build_tables

MANIFEST = "manifest.json"
RUNS_DIR = "runs"
LOCK = ".lock"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True)
class StoreTables:
    """The tidy tables of a store plus what the analysis needs to know about their scope."""

    runs: pd.DataFrame
    curves: pd.DataFrame
    manifest: dict[str, Any]
    planned: int
    unused: int


class ResultStore:
    """Reads and writes one suite's results folder. Only one process writes (see ``lock``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- records ---------------------------------------------------------------------------
    def record_path(self, run_id: str) -> Path:
        return self.root / RUNS_DIR / run_id[:2] / f"{run_id}.json"

    def write(self, result: RunResult) -> Path:
        path = self.record_path(result.run_id)
        atomic_write_text(path, json.dumps(result.to_dict(), indent=1, allow_nan=True))
        return path

    def _record_files(self) -> Iterator[Path]:
        runs = self.root / RUNS_DIR
        if runs.is_dir():
            yield from sorted(runs.glob("*/*.json"))

    def stored_ids(self) -> set[str]:
        """Ids of every stored run, from file names alone (cheap enough to call while running)."""
        return {path.stem for path in self._record_files()}

    def read(self, run_id: str) -> RunResult:
        return self._read_file(self.record_path(run_id))

    def _read_file(self, path: Path) -> RunResult:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            result = RunResult.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"{path}: unreadable run record ({exc}). Records are written atomically, so "
                "this file was changed by hand or by another program; move it out of the "
                "store and the run will be redone on the next `rlsens run`."
            ) from exc
        if result.run_id != path.stem:
            raise StoreError(
                f"{path}: the record describes run {result.run_id}, not {path.stem}; the file "
                "was renamed or edited. Move it out of the store and re-run the suite."
            )
        return result

    def results(self, run_ids: Iterable[str] | None = None) -> list[RunResult]:
        wanted = None if run_ids is None else set(run_ids)
        return [
            self._read_file(path)
            for path in self._record_files()
            if wanted is None or path.stem in wanted
        ]

    # -- manifest --------------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any]:
        path = self.root / MANIFEST
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise StoreError(
                f"{path}: unreadable manifest ({exc}); re-run the suite to rewrite it."
            ) from exc

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_text(self.root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))

    def planned_ids(self) -> list[str] | None:
        plan = self.read_manifest().get("plan")
        return None if plan is None else list(plan.get("run_ids", []))

    # -- tables ----------------------------------------------------------------------------
    def load(self, planned_only: bool = True) -> StoreTables:
        """The store's tables; by default only runs of the current plan (see module doc).

        Seed roles come from the current plan when the manifest has them: a suite that
        re-splits its seeds into tuning and reporting seeds re-runs nothing, and its analysis
        must still see the new roles.
        """
        if not self.root.is_dir():
            raise StoreError(
                f"{self.root}: no such results folder; run a suite first "
                "(`rlsens run SUITE`) or pass the folder it wrote."
            )
        manifest = self.read_manifest()
        planned = self.planned_ids()
        stored = self.stored_ids()
        keep = stored if (planned is None or not planned_only) else stored & set(planned)
        runs, curves = build_tables(self.results(keep))
        roles = manifest.get("plan", {}).get("seed_roles")
        if roles and len(runs):
            current = {rid: role for role, ids in roles.items() for rid in ids}
            for table in (runs, curves):
                table["seed_role"] = table["run_id"].map(current).fillna(table["seed_role"])
        return StoreTables(
            runs=runs,
            curves=curves,
            manifest=manifest,
            planned=len(planned) if planned is not None else len(stored),
            unused=len(stored - keep),
        )

    # -- single writer ---------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's write lock; refuse clearly if another driver holds it.

        ``flock`` is released by the kernel when its holder dies, even by SIGKILL, so a
        crashed driver never leaves a stale lock behind.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise StoreError(
                    f"{self.root} is being written by {holder}. Only one `rlsens run` may write "
                    "a results folder at a time: wait for it to finish (`rlsens status "
                    f"{self.root}` shows its progress) or pass a different --results folder."
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"rlsens run (pid {os.getpid()} on {os.uname().nodename})\n")
            handle.flush()
            yield
        finally:
            handle.close()
