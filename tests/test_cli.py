"""The `rlsens` command line end to end: exit codes, resume, status, export, driver SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from rlsens.cli import main
from rlsens.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "suites" / "smoke.yaml"


def test_validate_and_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SMOKE), "--scale", "tiny"]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["plan", str(SMOKE)]) == 0
    out = capsys.readouterr().out
    assert "est_cpu_hours" in out and "total" in out


def test_bad_suite_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMOKE.read_text().replace("class: SAC", "class: SACC"))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "SACC" in err
    assert main(["run", "no-such-suite"]) == 2
    assert "smoke" in capsys.readouterr().err  # lists the available suites
    assert main(["status", str(tmp_path / "missing")]) == 2
    assert main(["run", str(SMOKE), "--scale", "enormous"]) == 2


def test_run_resume_status_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    args = ["run", str(SMOKE), "--scale", "tiny", "--backend", "serial", "--no-progress",
            "--results", str(results)]
    assert main(args) == 0
    planned = ResultStore(results).planned_ids()
    assert planned and ResultStore(results).stored_ids() == set(planned)
    mtimes = {p: p.stat().st_mtime_ns for p in results.glob("runs/*/*.json")}

    capsys.readouterr()
    assert main(args) == 0  # second run: everything stored, nothing re-run
    assert f"{len(planned)} already stored, 0 to run" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in results.glob("runs/*/*.json")} == mtimes

    assert main(["status", str(results)]) == 0
    out = capsys.readouterr().out
    assert f"total{'':<40} {len(planned):>6}" in out

    assert main(["export", str(results), "--out", str(tmp_path / "t")]) == 0
    runs = pd.read_parquet(tmp_path / "t" / "runs.parquet")
    curves = pd.read_csv(tmp_path / "t" / "curves.csv")
    assert len(runs) == len(planned) and set(runs["status"]) == {"ok"}
    assert set(curves["run_id"]) == set(runs["run_id"])

    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["suite"]["hash"] and manifest["provenance"]["torch"]
    assert manifest["plan"]["runs"] == len(planned)


def test_changed_suite_keeps_old_runs_unused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    common = ["--scale", "tiny", "--backend", "serial", "--no-progress", "--results", str(results)]
    assert main(["run", str(SMOKE), *common]) == 0
    changed = tmp_path / "smoke.yaml"
    text = SMOKE.read_text().replace("seeds: 2\n    evaluation", "seeds: 3\n    evaluation")
    changed.write_text(text)
    capsys.readouterr()
    assert main(["run", str(changed), *common]) == 0
    err = capsys.readouterr().err
    assert "8 to run" in err  # only the new seed's runs
    tables = ResultStore(results).load()
    assert len(tables.runs) == 24 and tables.unused == 0


def _record_contents(results: Path) -> dict[str, list]:
    """Per run: the learning curve, the only part of a record that must not depend on timing."""
    return {
        p.stem: json.loads(p.read_text())["curve"] for p in sorted(results.glob("runs/*/*.json"))
    }


@pytest.mark.slow
def test_sigkill_driver_then_resume_equals_uninterrupted_run(tmp_path: Path) -> None:
    """SIGKILL the driver mid-sweep, run the same command again: nothing lost or duplicated."""
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    command = [sys.executable, "-m", "rlsens", "run", str(SMOKE), "--scale", "tiny",
               "--no-progress", "--max-concurrent", "2"]
    proc = subprocess.Popen([*command, "--results", str(killed)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 240
    while len(ResultStore(killed).stored_ids()) < 3 and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = ResultStore(killed).stored_ids()
    assert 3 <= len(partial) < 16, "the kill should land mid-sweep"

    resumed = subprocess.run([*command, "--results", str(killed)], cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(partial)} already stored" in resumed.stderr

    reference = subprocess.run([*command, "--results", str(clean), "--backend", "serial"],
                               cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert reference.returncode == 0, reference.stderr
    assert _record_contents(killed) == _record_contents(clean)
