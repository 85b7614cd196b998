"""The store stage: run records and the manifest of a results folder.

``ResultStore`` reads and writes a folder (``results.py``), ``Manifest`` is the typed
manifest and its merge for comparisons (``manifest.py``), ``store_status`` counts progress
against the plan (``status.py``), ``files.py`` holds the atomic, umask-respecting writes.
"""

from rlsens.store.files import atomic_write_text, fallback_root, probe_writable
from rlsens.store.manifest import (
    Manifest,
    ManifestFormatError,
    ManifestPlan,
    ManifestSuite,
    PlanCell,
    Source,
    as_manifest,
    merge_manifests,
    suite_conflict,
)
from rlsens.store.results import (
    MANIFEST,
    MANIFESTS_DIR,
    RUNS_DIR,
    ResultStore,
    StoreTables,
    merge_tables,
)
from rlsens.store.status import StoreStatus, store_status

__all__ = [
    "MANIFEST",
    "MANIFESTS_DIR",
    "RUNS_DIR",
    "Manifest",
    "ManifestFormatError",
    "ManifestPlan",
    "ManifestSuite",
    "PlanCell",
    "ResultStore",
    "Source",
    "StoreStatus",
    "StoreTables",
    "as_manifest",
    "atomic_write_text",
    "fallback_root",
    "merge_manifests",
    "merge_tables",
    "probe_writable",
    "store_status",
    "suite_conflict",
]
