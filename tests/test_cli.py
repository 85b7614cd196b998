"""The `rlsens` command line end to end: exit codes, resume, status, export, driver SIGKILL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import execute_helpers as helpers
import pandas as pd
import pytest

from rlsens.cli import main
from rlsens.record import Evaluation, RunResult
from rlsens.spec import RunSpec
from rlsens.store import Manifest, ResultStore

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "suites" / "smoke.yaml"


def test_output_cut_short_by_its_reader_is_not_a_traceback() -> None:
    """`rlsens plan ddpg | head -1`: the reader closes the pipe before the plan is printed."""
    proc = subprocess.Popen([sys.executable, "-m", "rlsens", "plan", str(SMOKE)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err


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
    partial = helpers.sigkill_driver_once_stored([*command, "--results", str(killed)], ROOT,
                                                 killed, stored=3, poll_s=0.2)
    assert 3 <= len(partial) < 16, "the kill should land mid-sweep"

    resumed = subprocess.run([*command, "--results", str(killed)], cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(partial)} already stored" in resumed.stderr

    reference = subprocess.run([*command, "--results", str(clean), "--backend", "serial"],
                               cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert reference.returncode == 0, reference.stderr
    assert _record_contents(killed) == _record_contents(clean)


def _store_with(root: Path, algorithm: str, offset: float) -> None:
    """A small store of one algorithm on two environments, written as `rlsens run` would."""
    store = ResultStore(root)
    ids = []
    for env in ("Pendulum-v1", "CartPole-v1"):
        for config, lr in enumerate((1e-4, 1e-3, 1e-2)):
            for seed in range(3):
                spec = RunSpec(
                    suite=algorithm, algorithm=algorithm, algo_class="PPO", env_id=env,
                    hyperparameters={"learning_rate": lr}, seed=seed, budget=1000,
                    point={"learning_rate": lr}, config_id=f"c{config}",
                )
                curve = [Evaluation(step=500 * (i + 1),
                                    returns=[offset + 10.0 * config + seed + 5.0 * i],
                                    lengths=[200]) for i in range(2)]
                store.write(RunResult(spec=spec, status="ok", curve=curve, steps=1000))
                ids.append(spec.run_id)
    store.write_manifest(Manifest.from_dict({"suite": {"name": algorithm},
                                             "plan": {"runs": len(ids), "run_ids": ids}}))


def test_report_and_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _store_with(tmp_path / "a", "alpha", 0.0)
    _store_with(tmp_path / "b", "beta", 7.0)
    assert main(["report", str(tmp_path / "a"), "--reps", "200"]) == 0
    assert (tmp_path / "a" / "report" / "index.html").is_file()
    assert (tmp_path / "a" / "report" / "tables" / "aggregates.tex").is_file()

    out = tmp_path / "ab"
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out),
                 "--reps", "200"]) == 0
    aggregates = pd.read_csv(out / "tables" / "aggregates.csv")
    assert set(aggregates["algorithm"]) == {"alpha", "beta"}
    assert set(pd.read_csv(out / "tables" / "probability_of_improvement.csv")["algorithm_x"]) \
        == {"alpha", "beta"}
    pairs = pd.read_csv(out / "tables" / "headline_pairs.csv")  # the headline compares them
    assert {tuple(p) for p in pairs[["algorithm_a", "algorithm_b"]].to_numpy()} \
        == {("alpha", "beta")}
    assert (out / "index.html").read_text().index('id="headline"') \
        < (out / "index.html").read_text().index('id="overview"')
    assert "comparison report" in capsys.readouterr().out


def test_resplit_seeds_runs_nothing_and_takes_the_new_roles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    common = ["--scale", "tiny", "--backend", "serial", "--no-progress", "--results", str(results)]
    assert main(["run", str(SMOKE), *common]) == 0
    assert set(ResultStore(results).load().runs["seed_role"]) == {"all"}
    split = tmp_path / "smoke.yaml"
    text = SMOKE.read_text().replace(
        "seeds: 2\n    evaluation", "seeds: {tune: 1, report: 1}\n    evaluation"
    )
    split.write_text(text)
    capsys.readouterr()
    assert main(["run", str(split), *common]) == 0
    assert "0 to run" in capsys.readouterr().err
    tables = ResultStore(results).load()
    roles = tables.runs.groupby("seed")["seed_role"].unique().to_dict()
    assert {seed: list(r) for seed, r in roles.items()} == {0: ["tune"], 1: ["report"]}
    assert set(tables.curves["seed_role"]) == {"tune", "report"}


def test_report_option_errors_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _store_with(tmp_path / "a", "alpha", 0.0)
    assert main(["report", str(tmp_path / "a"), "--reps", "0"]) == 2
    assert "--reps" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "a"), "--reps", "100", "--reference", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "a"), "--reps", "100", "--reference", "alpha"]) == 0
