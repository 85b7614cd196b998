"""The one timestamp format of rlsens: UTC, ISO 8601, millisecond precision.

Records and manifests are compared and sorted by these strings (run order, resume history),
which works only if every stage writes the same format.
"""

from __future__ import annotations

from datetime import datetime, timezone


def now_utc() -> str:
    """Now, e.g. ``2026-01-31T12:00:00.123+00:00``: readable, sortable, and parsed back by
    ``datetime.fromisoformat``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
