"""The population trainer in the pipeline: suite key, --trainer, fallback, groups, execution.

Tiny DDPG populations on Pendulum-v1 (300 steps, 100 warm-up steps, 80x80 networks) keep the
real-training tests at seconds; the Ray tests are marked slow.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import execute_helpers as helpers
import pandas as pd
import pytest
import ray

from rlsens.cli import main
from rlsens.errors import SuiteError
from rlsens.execute import execute
from rlsens.plan import (
    build_plan,
    estimate_cpu_seconds,
    estimate_group_cpu_seconds,
    group_runs,
    member_bytes,
    member_cap,
    pending_groups,
    population_speedup,
)
from rlsens.plan import groups as groups_module
from rlsens.record import RunResult
from rlsens.spec import Resources, RunGroup
from rlsens.store import ResultStore
from rlsens.suite import load_suite
from rlsens.sweep import run_plan
from rlsens.trainer.population.group import replay_bytes
from rlsens.trainer.population.run import train_group

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "suites" / "smoke.yaml"

# 4 configurations x 2 seeds. A member's replay holds only the 301 transitions its 300-step run
# can make (12 KB, not buffer_size's 4 MB); its 80x80 networks' six copies are 0.43 MB, so
# memory_mb 1 caps groups at 2 members: 4 groups of 2.
SUITE = """\
name: pop
environments:
  Pendulum-v1: {budget: 300}
algorithms:
  ddpg:
    class: DDPG
    hyperparameters:
      learning_starts: 100
      batch_size: 32
      buffer_size: 100000
      net_arch: [80, 80]
      noise_type: normal
      noise_std: 0.1
    search_space:
      learning_rate: {dist: categorical, choices: [0.001, 0.0003, 0.003, LR]}
design: {type: grid}
seeds: 2
evaluation: {every: 150, episodes: 2, final: 1}
resources: {cpus: 1, memory_mb: 1}
TRAINER
"""


def write_suite(tmp_path: Path, trainer: str = "trainer: population", lr: str = "0.0001",
                name: str = "pop.yaml") -> Path:
    path = tmp_path / name
    path.write_text(SUITE.replace("TRAINER", trainer).replace("LR", lr))
    return path


def records(results: Path) -> dict[str, dict]:
    """Per run: what must not depend on the backend or on timing (status, curve, trainer)."""
    out = {}
    for path in sorted(results.glob("runs/*/*.json")):
        data = json.loads(path.read_text())
        out[path.stem] = {k: data[k] for k in ("status", "curve", "steps", "trainer")}
    return out


# --- suite key and --trainer ---------------------------------------------------------------


def test_suite_trainer_key_top_level_and_per_algorithm(tmp_path: Path) -> None:
    top = load_suite(write_suite(tmp_path))
    assert top.trainer == "population" and top.resolved["trainer"] == "population"
    assert {s.trainer for s in build_plan(top).runs} == {"population"}

    per_algorithm = write_suite(tmp_path, trainer="", name="per.yaml")
    per_algorithm.write_text(per_algorithm.read_text().replace(
        "    class: DDPG\n", "    class: DDPG\n    trainer: auto\n"))
    suite = load_suite(per_algorithm)
    assert suite.trainer is None and suite.algorithms["ddpg"].trainer == "auto"
    assert suite.resolved["algorithms"]["ddpg"]["trainer"] == "auto"
    assert {s.trainer for s in build_plan(suite).runs} == {"population"}
    # --trainer overrides both levels.
    assert {s.trainer for s in build_plan(suite, trainer="sb3").runs} == {"sb3"}


def test_bad_trainer_value_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_suite(tmp_path, trainer="trainer: jax")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert info.value.key == "trainer" and info.value.line == 20
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "pop.yaml" in err and ":20" in err and "'jax'" in err and "auto" in err


def test_suites_without_the_key_keep_hash_and_run_ids() -> None:
    """Hashes and run ids computed before the key existed (commit 4682ba2)."""
    smoke = load_suite(SMOKE, scale="tiny")
    assert smoke.hash == "978245c2ba6b6f72" and "trainer" not in smoke.resolved
    plan = build_plan(smoke)
    assert plan.runs[0].run_id == "2f01513dbc2a29ae"
    assert plan.runs[-1].run_id == "39cc18a8e73474d7"
    assert {s.trainer for s in plan.runs} == {"sb3"}
    assert [s.run_id for s in build_plan(smoke, trainer="sb3").runs] == [
        s.run_id for s in plan.runs]
    population = build_plan(smoke, trainer="population")
    assert not {s.run_id for s in population.runs} & {s.run_id for s in plan.runs}
    # td3.yaml is byte-identical to 4682ba2's (ddpg.yaml has since set `trainer: auto`).
    assert load_suite(ROOT / "suites" / "td3.yaml").hash == "e071e247adc5b24f"


def test_trainer_option_on_plan_validate_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_suite(tmp_path)
    assert main(["validate", str(path), "--trainer", "sb3"]) == 0
    assert main(["plan", str(path), "--trainer", "sb3"]) == 0
    out = capsys.readouterr().out
    assert "ddpg Pendulum-v1    8           0       0" in out
    assert main(["plan", str(path)]) == 0
    assert "ddpg Pendulum-v1    0           8       4" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["run", str(path), "--trainer", "jax"])
    assert info.value.code == 2


def test_auto_falls_back_per_run_with_counted_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_suite(tmp_path, trainer="trainer: auto")
    searched = "      normalize: {dist: categorical, choices: [false, true]}\n"
    text = path.read_text().replace("    search_space:\n", "    search_space:\n" + searched)
    path.write_text(text)
    plan = build_plan(load_suite(path))
    normalized = [s for s in plan.runs if s.hyperparameters["normalize"]]
    assert len(normalized) == 8 and {s.trainer for s in normalized} == {"sb3"}
    assert {s.trainer for s in plan.runs if not s.hyperparameters["normalize"]} == {"population"}
    assert set(plan.fallbacks) == {s.run_id for s in normalized}
    assert main(["plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "8 runs asked for the population trainer and use sb3:" in out
    assert "ddpg Pendulum-v1: 8 runs: normalize" in out


# --- groups --------------------------------------------------------------------------------


def test_groups_respect_member_and_memory_caps(tmp_path: Path, monkeypatch) -> None:
    plan = build_plan(load_suite(write_suite(tmp_path)))
    spec = plan.runs[0]
    assert replay_bytes(spec) == 301 * 40  # what a 300-step run fills, not buffer_size 100k
    assert 2**20 // 3 < member_bytes(spec) <= 2**20 // 2  # so memory_mb 1 holds two
    assert member_cap(spec) == 2
    assert [len(g.specs) for g in plan.groups] == [2, 2, 2, 2]
    assert all(g.resources == spec.resources for g in plan.groups)  # one run's resources
    unbounded = [dataclasses.replace(s, resources=Resources()) for s in plan.runs]
    assert [len(g.specs) for g in group_runs(unbounded)] == [8]
    monkeypatch.setattr(groups_module, "MAX_MEMBERS", 3)
    assert [len(g.specs) for g in group_runs(unbounded)] == [3, 3, 2]
    # Every run lands in exactly one group, in plan order.
    assert [s.run_id for g in group_runs(unbounded) for s in g.specs] == [
        s.run_id for s in unbounded]
    sb3 = [dataclasses.replace(s, trainer="sb3") for s in unbounded]
    assert [len(g.specs) for g in group_runs(sb3)] == [1] * 8


def test_group_cost_uses_the_measured_speedup(tmp_path: Path) -> None:
    plan = build_plan(load_suite(write_suite(tmp_path)))
    members = plan.groups[0].specs
    as_sb3 = [dataclasses.replace(s, trainer="sb3") for s in members]
    assert estimate_group_cpu_seconds(as_sb3[:1]) == estimate_cpu_seconds(as_sb3[0])
    small = dataclasses.replace(
        members[0], hyperparameters={**members[0].hyperparameters, "net_arch": [16, 16]}
    )
    assert population_speedup(small, 1) == 1.0
    assert population_speedup(small, 4) == pytest.approx(3.3)  # 16x16: no size discount
    assert population_speedup(small, 64) == pytest.approx(5.4)
    assert population_speedup(members[0], 4) < 3.3  # 80x80: discounted
    assert estimate_group_cpu_seconds(members) < sum(estimate_cpu_seconds(s) for s in as_sb3)
    summary = plan.summary()
    sb3_summary = build_plan(load_suite(write_suite(tmp_path)), trainer="sb3").summary()
    assert summary["est_cpu_hours"].iloc[-1] < sb3_summary["est_cpu_hours"].iloc[-1]


# --- execution -----------------------------------------------------------------------------


def test_exception_in_train_group_fails_each_member_with_traceback(tmp_path: Path) -> None:
    plan = build_plan(load_suite(write_suite(tmp_path)))
    sunk: list[RunResult] = []

    def broken(specs, device=None):
        raise RuntimeError("batched update exploded")

    summary = execute(plan.groups[:2], sunk.append, backend="serial", progress=False,
                      group_fn=broken)
    assert summary.total == 4 and summary.failed == 4 and len(sunk) == 4  # runs, not groups
    assert [r.run_id for r in sunk] == [s.run_id for g in plan.groups[:2] for s in g.specs]
    assert all("RuntimeError: batched update exploded" in r.error for r in sunk)
    assert all("Traceback" in r.error for r in sunk)


def test_group_given_a_gpu_is_handed_cuda(tmp_path: Path, monkeypatch) -> None:
    """The device of a group is placement's choice for its runs (CI has no GPU: faked)."""
    import torch

    plan = build_plan(load_suite(write_suite(tmp_path)))
    gpu = Resources(cpus=1, gpus=0.5)
    group = RunGroup(tuple(dataclasses.replace(s, resources=gpu) for s in plan.runs[:2]), gpu)
    devices = []

    def spy(specs, device=None):
        devices.append(device)
        return [RunResult(spec=s, status="ok") for s in specs]

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    execute([group], lambda result: None, backend="serial", progress=False, group_fn=spy)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    execute([group], lambda result: None, backend="serial", progress=False, group_fn=spy)
    assert devices == ["cuda", "cpu"]


@pytest.fixture(scope="module")
def serial_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny population suite run serially, once for the module."""
    tmp = tmp_path_factory.mktemp("serial")
    results = tmp / "results"
    args = ["run", str(write_suite(tmp)), "--backend", "serial", "--no-progress",
            "--results", str(results)]
    assert main(args) == 0
    return results


def test_serial_population_run_records(serial_reference: Path) -> None:
    stored = records(serial_reference)
    assert len(stored) == 8
    assert {r["status"] for r in stored.values()} == {"ok"}
    assert {r["trainer"] for r in stored.values()} == {"population"}
    assert all(r["steps"] == 300 and len(r["curve"]) == 2 for r in stored.values())


def test_resume_trains_only_the_missing_members(tmp_path: Path, serial_reference: Path) -> None:
    """A group half stored trains its missing member alone, and that member's record equals
    the one it got in its planned group of two (80x80 networks, batch 32: the critic's 1-wide
    output layer is where a lone member once rounded differently)."""
    path = write_suite(tmp_path)
    plan = build_plan(load_suite(path))
    store = ResultStore(tmp_path / "results")
    first, second = plan.groups[0].specs
    stored = ResultStore(serial_reference).read(first.run_id)
    store.write(stored)
    trained: list[list[str]] = []

    def spy(specs, device=None):
        trained.append([s.run_id for s in specs])
        return train_group(specs, device=device)

    pending = pending_groups(plan.groups, {s.run_id for s in plan.runs} - {first.run_id})
    assert [len(g.specs) for g in pending] == [1, 2, 2, 2]
    assert pending[0].run_ids == [second.run_id] and pending[1:] == plan.groups[1:]
    assert not any(g.stored for g in pending)
    outcome_ids = set()

    def sink(result: RunResult) -> None:
        outcome_ids.add(result.run_id)
        store.write(result)

    execute(pending, sink, backend="serial", progress=False, group_fn=spy)
    assert trained[0] == [second.run_id]
    assert first.run_id not in outcome_ids and len(outcome_ids) == 7
    assert records(tmp_path / "results") == records(serial_reference)


def test_diverging_member_is_recorded_diverged_and_the_others_ok(tmp_path: Path) -> None:
    """One group of all 8 runs (no memory cap), once with a 1e17 learning rate in one
    configuration: its two runs diverge, the other six are ok with the numbers they have in
    the same group without it."""
    stored = {}
    for lr in ("1.0e+17", "0.0001"):
        folder = tmp_path / lr
        folder.mkdir()
        path = write_suite(folder, lr=lr)
        path.write_text(path.read_text().replace("memory_mb: 1", "memory_mb: null"))
        assert [len(g.specs) for g in build_plan(load_suite(path)).groups] == [8]
        assert main(["run", str(path), "--backend", "serial", "--no-progress",
                     "--results", str(folder / "results")]) == 0
        stored[lr] = records(folder / "results")
    runs = ResultStore(tmp_path / "1.0e+17" / "results").load().runs
    diverged = runs[runs["status"] == "diverged"]
    assert len(diverged) == 2 and set(diverged["hp.learning_rate"]) == {1e17}
    assert (diverged["diverged_step"] > 100).all()  # after the warm-up, at its own step
    assert set(runs[runs["hp.learning_rate"] != 1e17]["status"]) == {"ok"}
    shared = set(stored["1.0e+17"]) & set(stored["0.0001"])
    assert len(shared) == 6
    assert {rid: stored["1.0e+17"][rid] for rid in shared} == {
        rid: stored["0.0001"][rid] for rid in shared}


def test_run_plan_resume_reports_stored_members(tmp_path: Path, serial_reference: Path) -> None:
    plan = build_plan(load_suite(write_suite(tmp_path)))
    store = ResultStore(tmp_path / "results")
    outcome = run_plan(plan, store, backend="serial", progress=False)
    assert outcome.statuses == {"ok": 8}
    again = run_plan(plan, store, backend="serial", progress=False)
    assert again.already_stored == 8 and again.executed == 0
    assert records(tmp_path / "results") == records(serial_reference)


# --- Ray -----------------------------------------------------------------------------------


def dies_once(specs, device=None):
    """Kill the worker the first time this group runs, then train it (Ray retries the task)."""
    marker = Path(specs[0].hyperparameters["calls_dir"]) / specs[0].run_id
    if not marker.exists():
        marker.write_text("died")
        os._exit(1)
    return [RunResult(spec=s, status="ok", steps=s.budget) for s in specs]


@pytest.mark.slow
def test_ray_run_equals_serial_and_worker_death_retries_the_group(
    tmp_path: Path, serial_reference: Path
) -> None:
    results = tmp_path / "results"
    args = ["run", str(write_suite(tmp_path)), "--no-progress", "--results", str(results)]
    assert main(args) == 0
    assert records(results) == records(serial_reference)

    plan = build_plan(load_suite(write_suite(tmp_path)))
    calls = tmp_path / "calls"
    calls.mkdir()
    specs = [dataclasses.replace(s, hyperparameters={"calls_dir": str(calls), "index": i})
             for i, s in enumerate(plan.runs[:4])]
    groups = [RunGroup(tuple(specs[:2]), specs[0].resources),
              RunGroup(tuple(specs[2:]), specs[0].resources)]
    sunk: list[RunResult] = []
    summary = execute(groups, sunk.append, backend="ray", progress=False, group_fn=dies_once,
                      max_retries=1)
    assert summary.ok == 4 and sorted(r.run_id for r in sunk) == sorted(s.run_id for s in specs)
    assert len(list(calls.iterdir())) == 2  # each group died once and was retried whole


@pytest.mark.slow
def test_sigkill_driver_mid_sweep_then_resume_loses_and_duplicates_nothing(
    tmp_path: Path, serial_reference: Path
) -> None:
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "rlsens", "run", str(write_suite(tmp_path)),
               "--no-progress", "--max-concurrent", "1", "--results", str(killed)]
    partial = helpers.sigkill_driver_once_stored(command, ROOT, killed, stored=2)
    assert 2 <= len(partial) < 8, "the kill should land mid-sweep"

    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(partial)} already stored" in resumed.stderr
    assert records(killed) == records(serial_reference)
    assert len(list(killed.glob("runs/*/*.json"))) == 8


# --- report --------------------------------------------------------------------------------


def _population_store(root: Path, algorithm: str, offset: float) -> None:
    """``test_cli._store_with``'s store with every run retrained by the population trainer."""
    from test_cli import _store_with

    from rlsens.store import Manifest

    _store_with(root, algorithm, offset)
    store = ResultStore(root)
    ids = []
    for rid in sorted(store.stored_ids()):
        result = store.read(rid)
        moved = dataclasses.replace(result, spec=dataclasses.replace(result.spec,
                                                                     trainer="population"))
        store.write(moved)
        ids.append(moved.run_id)
    store.write_manifest(Manifest.from_dict({"suite": {"name": algorithm},
                                             "plan": {"runs": len(ids), "run_ids": ids}}))


def test_report_names_the_trainer_and_refuses_a_silent_mix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_cli import _store_with

    _store_with(tmp_path / "a", "alpha", 0.0)
    _population_store(tmp_path / "b", "beta", 7.0)
    assert main(["export", str(tmp_path / "b"), "--out", str(tmp_path / "t")]) == 0
    assert set(pd.read_csv(tmp_path / "t" / "runs.csv")["trainer"]) == {"population"}

    assert main(["report", str(tmp_path / "b"), "--reps", "100"]) == 0
    page = (tmp_path / "b" / "report" / "index.html").read_text()
    assert "Runs were trained by rlsens&#39;s population trainer" in page

    out = tmp_path / "ab"
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out),
                 "--reps", "100"]) == 2
    err = capsys.readouterr().err
    assert "2 trainers (18 population, 18 sb3)" in err
    assert "--trainer NAME" in err and "--mix-trainers" in err
    assert not out.exists()  # nothing written

    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out),
                 "--reps", "100", "--trainer", "population"]) == 0
    assert set(pd.read_csv(out / "tables" / "aggregates.csv")["algorithm"]) == {"beta"}
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out),
                 "--reps", "100", "--mix-trainers"]) == 0
    assert set(pd.read_csv(out / "tables" / "aggregates.csv")["algorithm"]) == {"alpha", "beta"}
    assert "Runs come from 2 trainers, mixed on request" in (out / "index.html").read_text()
    assert main(["report", str(tmp_path / "a"), "--trainer", "population"]) == 2
    assert "no stored run was trained by 'population'" in capsys.readouterr().err
