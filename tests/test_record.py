"""The small concepts every stage shares: statuses, error summaries, timestamps, versions."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from rlsens import provenance
from rlsens.execute.common import failed_result
from rlsens.execute.progress import failure_reason
from rlsens.provenance import library_versions
from rlsens.record import FAILED_STATUSES, STATUSES, RunResult, error_summary
from rlsens.spec import RunSpec
from rlsens.tables import run_row
from rlsens.timestamp import now_utc, now_utc_compact, now_utc_minutes

SPEC = RunSpec("s", "a", "PPO", "CartPole-v1", {}, seed=0, budget=10)
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "x.py", line 1, in <module>\n'
    "    boom()\n"
    "ValueError: learning_rate must be positive\n"
    "\n   \n"
)


def test_failed_statuses_are_statuses_and_exclude_outcomes() -> None:
    assert set(FAILED_STATUSES) < set(STATUSES)
    assert "ok" not in FAILED_STATUSES and "diverged" not in FAILED_STATUSES


@pytest.mark.parametrize(
    ("error", "summary"),
    [
        (TRACEBACK, "ValueError: learning_rate must be positive"),
        ("one line", "one line"),
        ("  indented last line  \n", "indented last line"),
        ("", None),
        ("\n \n", None),
        (None, None),
    ],
)
def test_error_summary_is_the_last_non_blank_line(error: str | None, summary: str | None) -> None:
    assert error_summary(error) == summary


def test_every_stage_summarises_errors_the_same_way() -> None:
    result = RunResult(SPEC, "failed", error=TRACEBACK)
    assert failure_reason(result) == "failed: ValueError: learning_rate must be positive"
    assert run_row(result)["error"] == "ValueError: learning_rate must be positive"
    assert run_row(RunResult(SPEC, "failed", error="x" * 1000))["error"] == "x" * 300
    assert run_row(RunResult(SPEC, "ok"))["error"] is None
    assert failure_reason(RunResult(SPEC, "timeout")) == "timeout"


def test_timestamps_are_utc_iso_with_milliseconds() -> None:
    stamp = now_utc()
    parsed = datetime.fromisoformat(stamp)
    assert parsed.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - parsed) < timedelta(seconds=5)
    assert len(stamp.split("T")[1].split("+")[0]) == len("12:00:00.123")
    record = failed_result(SPEC, "executor: worker died")
    assert record.started_at == record.finished_at
    assert datetime.fromisoformat(record.started_at).utcoffset() == timedelta(0)


def test_file_name_and_header_stamps_are_the_same_utc_clock() -> None:
    now = datetime.now(timezone.utc)
    compact = datetime.strptime(now_utc_compact(), "%Y%m%dT%H%M%S%fZ")
    assert abs(compact.replace(tzinfo=timezone.utc) - now) < timedelta(seconds=5)
    minutes = datetime.strptime(now_utc_minutes(), "%Y-%m-%d %H:%M UTC")
    minutes = minutes.replace(tzinfo=timezone.utc)
    assert abs(minutes - now) < timedelta(minutes=2)


def test_records_and_manifests_use_the_same_version_keys() -> None:
    versions = library_versions()
    for key in ("rlsens_version", "python", "torch", "stable_baselines3", "gymnasium", "numpy",
                "ray", "pandas", "scipy"):
        assert versions[key], key
    collected = provenance.collect()
    assert {k: collected[k] for k in versions} == versions
    assert collected["git_commit"] is None or isinstance(collected["git_commit"], str)


def test_cheap_modules_do_not_import_torch() -> None:
    """The CLI imports these for commands that never train; torch costs seconds."""
    code = (
        "import sys\n"
        "import rlsens.cli, rlsens.execute, rlsens.execute.serial, rlsens.provenance\n"
        "import rlsens.sweep, rlsens.trainer, rlsens.trainer.placement\n"
        "from rlsens.provenance import collect, library_versions\n"
        "library_versions(); collect()\n"
        "print(sorted(m for m in ('torch', 'stable_baselines3') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "[]"
