"""The result store: one JSON record per finished run, written so a crash can never lose one.

Layout of ``results/<suite>/``::

    manifest.json          suite as resolved, its hash, the plan, provenance (``Manifest``)
    manifests/             earlier manifests, kept when the suite was edited and re-run
    runs/<ab>/<run_id>.json one record per finished run (any status)
    .lock                  held (flock) by the one driver writing this store

Writes are atomic (see ``rlsens.store.files``). Records are keyed by run id, which makes
re-running a suite idempotent: runs already stored are skipped, and runs that dropped out of
the plan are kept but unused (every reader says how many, and ``--all`` includes them). A
record found under two paths (copied by hand between shards or stores) is one run: it is
counted once and the duplicate is reported.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import sys
import types
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rlsens.errors import StoreError
from rlsens.record import RunResult
from rlsens.store.files import (
    atomic_write_text,
    fallback_root,
    probe_writable,
    read_store_text,
)
from rlsens.store.manifest import Manifest, ManifestFormatError, merge_manifests
from rlsens.tables import build_tables
from rlsens.timestamp import now_utc_compact

MANIFEST = "manifest.json"
MANIFESTS_DIR = "manifests"
RUNS_DIR = "runs"
LOCK = ".lock"


@dataclass(frozen=True)
class StoreTables:
    """The tidy tables of a store plus what the analysis needs to know about their scope.

    ``unused``: stored runs left out because they are not in the current plan; ``warnings``:
    what a reader must be told about the records (duplicates), one sentence each.
    """

    runs: pd.DataFrame
    curves: pd.DataFrame
    manifest: Manifest
    planned: int
    unused: int
    warnings: list[str] = field(default_factory=list)


def duplicate_warning(run_id: str, paths: list[Path], used: Path) -> str:
    others = ", ".join(str(p) for p in paths if p != used)
    return (f"run {run_id} is stored {len(paths)} times ({used} and {others}); it is counted "
            f"once, from {used}. Remove the extra copies to silence this.")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _record_problem(result: RunResult) -> str | None:
    """What in a parsed record is not of its declared type (status, export and the report
    would crash on it): every field of the record and of its spec, then the curve's numbers."""
    problem = _field_problem(result, "")
    if problem:
        return problem
    for index, ev in enumerate(result.curve):
        for key in ("returns", "lengths"):
            if not getattr(ev, key):
                return f"`curve[{index}].{key}` must be a non-empty list of numbers"
    return None


def _field_problem(obj: Any, prefix: str) -> str | None:
    """The first field of dataclass ``obj`` whose value does not match its annotation."""
    hints = typing.get_type_hints(type(obj))
    for item in dataclasses.fields(obj):
        value = getattr(obj, item.name)
        if not _matches(value, hints[item.name]):
            return (f"`{prefix}{item.name}` is {_shown(value)}, not "
                    f"{_describe(hints[item.name])}")
        nested = value if dataclasses.is_dataclass(value) else None
        problem = _field_problem(nested, f"{prefix}{item.name}.") if nested else None
        for index, element in enumerate(value if isinstance(value, list) else []):
            if problem is None and dataclasses.is_dataclass(element):
                problem = _field_problem(element, f"{prefix}{item.name}[{index}].")
        if problem:
            return problem
    return None


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return _is_number(value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (dict, Mapping):
        key_type = typing.get_args(hint)[0] if typing.get_args(hint) else Any
        return isinstance(value, dict) and all(_matches(k, key_type) for k in value)
    if origin is list:
        (element,) = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, element) for v in value)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             type(None): "null", dict: "a mapping", Mapping: "a mapping", list: "a list"}
    origin = typing.get_origin(hint) or hint
    if origin is list and typing.get_args(hint):
        return f"a list of {_describe(typing.get_args(hint)[0]).removeprefix('a ')}s"
    return names.get(origin, getattr(origin, "__name__", str(origin)))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def merge_tables(loaded: Sequence[StoreTables]) -> StoreTables:
    """Several result sets as one (``rlsens compare``): a run present in more than one set is
    one run, counted once (first set wins) and reported."""
    runs = pd.concat([t.runs for t in loaded], ignore_index=True)
    curves = pd.concat([t.curves for t in loaded], ignore_index=True)
    warnings = [w for t in loaded for w in t.warnings]
    duplicated = runs["run_id"].duplicated() if len(runs) else pd.Series(dtype=bool)
    if duplicated.any():
        warnings.append(f"{int(duplicated.sum())} runs appear in more than one result set; "
                        "each is counted once.")
        runs = runs[~duplicated].reset_index(drop=True)
        curves = curves.drop_duplicates(["run_id", "step"]).reset_index(drop=True)
    return StoreTables(
        runs=runs,
        curves=curves,
        manifest=merge_manifests([t.manifest for t in loaded]),
        planned=sum(t.planned for t in loaded),
        unused=sum(t.unused for t in loaded),
        warnings=warnings,
    )


class ResultStore:
    """Reads and writes one suite's results folder. Only one process writes (see ``lock``).

    Reading never writes: status, export and report work on a read-only store.
    """

    def __init__(self, root: str | Path, *, stream: Any = None) -> None:
        self.root = Path(root)
        self.stream = stream
        self.unsaved: list[Path] = []

    # -- records ---------------------------------------------------------------------------
    def record_path(self, run_id: str) -> Path:
        return self.root / RUNS_DIR / run_id[:2] / f"{run_id}.json"

    def write(self, result: RunResult) -> Path:
        """Store ``result``; if the store refuses the write, keep it in the fallback folder.

        A finished run must never be lost to a full disk or a permission changed mid-sweep:
        the record goes to ``fallback_root`` in the store's own layout, and its path is
        printed at once and listed in ``unsaved``.
        """
        text = json.dumps(result.to_dict(), indent=1, allow_nan=True)
        path = self.record_path(result.run_id)
        try:
            atomic_write_text(path, text)
            return path
        except OSError as exc:
            fallback = fallback_root(self.root) / path.relative_to(self.root)
            atomic_write_text(fallback, text)
            self.unsaved.append(fallback)
            print(f"warning: could not write {path} ({exc.strerror or exc}); the record is "
                  f"kept at {fallback}", file=self.stream or sys.stderr)
            return fallback

    def _index(self) -> dict[str, list[Path]]:
        """Record files by run id (file name): more than one path is a duplicate."""
        runs = self.root / RUNS_DIR
        index: dict[str, list[Path]] = {}
        if runs.is_dir():
            for path in sorted(runs.glob("*/*.json")):
                index.setdefault(path.stem, []).append(path)
        return index

    def _chosen(self, run_id: str, paths: list[Path]) -> Path:
        canonical = self.record_path(run_id)
        return canonical if canonical in paths else paths[0]

    def duplicates(self) -> dict[str, list[Path]]:
        return {rid: paths for rid, paths in self._index().items() if len(paths) > 1}

    def duplicate_warnings(self) -> list[str]:
        return [duplicate_warning(rid, paths, self._chosen(rid, paths))
                for rid, paths in self.duplicates().items()]

    def stored_ids(self) -> set[str]:
        """Ids of every stored run, from file names alone (cheap enough to call while running)."""
        return set(self._index())

    def read(self, run_id: str) -> RunResult:
        """The record of ``run_id``: its canonical path (no folder scan), else any copy."""
        canonical = self.record_path(run_id)
        if canonical.exists():
            return self._read_file(canonical)
        paths = self._index().get(run_id)
        return self._read_file(paths[0] if paths else canonical)

    def _read_file(self, path: Path) -> RunResult:
        fix = ("Move it out of the store (its run is redone on the next `rlsens run`) or "
               "restore it from a backup.")
        try:
            data = json.loads(read_store_text(path))
            if not isinstance(data, dict):
                raise ValueError(f"the file holds a JSON {type(data).__name__}, not a record")
            result = RunResult.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(
                f"{path}: unreadable run record ({exc}). Records are written atomically, so "
                f"this file was changed by hand or by another program. {fix}"
            ) from exc
        problem = _record_problem(result)
        if problem:
            raise StoreError(f"{path}: invalid run record: {problem}. {fix}")
        try:
            run_id = result.run_id
        except ValueError as exc:  # NaN or infinity in the spec: it has no id
            raise StoreError(f"{path}: invalid run record: its spec cannot be hashed ({exc}). "
                             f"{fix}") from exc
        if run_id != path.stem:
            raise StoreError(
                f"{path}: the record describes run {run_id}, not {path.stem}; the file "
                "was renamed or edited. Move it out of the store and re-run the suite."
            )
        return result

    def results(self, run_ids: Iterable[str] | None = None) -> list[RunResult]:
        """One result per stored run id (a duplicated record is read once)."""
        wanted = None if run_ids is None else set(run_ids)
        return [
            self._read_file(self._chosen(rid, paths))
            for rid, paths in sorted(self._index().items())
            if wanted is None or rid in wanted
        ]

    # -- manifest --------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def read_manifest(self) -> Manifest | None:
        """The current manifest, ``None`` if there is none yet."""
        path = self.manifest_path
        if not path.exists():
            return None
        try:
            return Manifest.from_dict(json.loads(read_store_text(path)))
        except (OSError, ValueError) as exc:
            problem = (exc if isinstance(exc, (ManifestFormatError, OSError))
                       else f"not valid JSON: {exc}")
            raise StoreError(
                f"{path}: unreadable manifest ({problem}). The stored runs are intact: move "
                f"the manifest aside (mv {path} {path}.broken) and run the suite again with "
                f"`rlsens run SUITE --results {self.root}`; it skips the stored runs and "
                "writes a new manifest."
            ) from exc

    def write_manifest(self, manifest: Manifest) -> None:
        atomic_write_text(self.manifest_path,
                          json.dumps(manifest.to_dict(), indent=1, sort_keys=True))

    def archive_manifest(self) -> Path | None:
        """Copy the current manifest to ``manifests/<UTC time>-<suite hash>.json``.

        Called before a changed suite replaces it, so the plan and provenance of earlier runs
        stay on record next to the runs they describe.
        """
        if not self.manifest_path.exists():
            return None
        manifest = self.read_manifest()
        stamp = now_utc_compact()
        suite_hash = (manifest.suite.hash if manifest else None) or "unknown"
        target = self.root / MANIFESTS_DIR / f"{stamp}-{suite_hash}.json"
        atomic_write_text(target, read_store_text(self.manifest_path))
        return target

    def planned_ids(self) -> list[str] | None:
        manifest = self.read_manifest()
        if manifest is None or manifest.plan is None or manifest.plan.run_ids is None:
            return None
        return list(manifest.plan.run_ids)

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
        manifest = self.read_manifest() or Manifest()
        planned = self.planned_ids()
        stored = self.stored_ids()
        keep = stored if (planned is None or not planned_only) else stored & set(planned)
        runs, curves = build_tables(self.results(keep))
        roles = manifest.plan.seed_roles if manifest.plan is not None else {}
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
            warnings=[w for rid, paths in self.duplicates().items() if rid in keep
                      for w in [duplicate_warning(rid, paths, self._chosen(rid, paths))]],
        )

    # -- single writer ---------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's write lock; refuse clearly if another driver holds it.

        ``flock`` is released by the kernel when its holder dies, even by SIGKILL, so a
        crashed driver never leaves a stale lock behind.
        """
        probe_writable(self.root)
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
