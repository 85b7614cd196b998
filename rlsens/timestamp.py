"""The timestamps of rlsens, all UTC: one owner so that every stage writes the same formats.

Records and manifests are compared and sorted by ``now_utc`` strings (run order, resume
history), which works only if every stage writes the same format; file names and the report
header need a compact and a readable form of the same clock.
"""

from __future__ import annotations

from datetime import datetime, timezone


def now_utc() -> str:
    """Now, e.g. ``2026-01-31T12:00:00.123+00:00``: readable, sortable, and parsed back by
    ``datetime.fromisoformat``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def now_utc_compact() -> str:
    """Now, e.g. ``20260131T120000123456Z``: safe in a file name on every OS, sorts by time."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def now_utc_minutes() -> str:
    """Now, e.g. ``2026-01-31 12:00 UTC``: the report header's "generated at"."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
