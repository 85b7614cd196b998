"""Plans: order, cross product, resolved hyperparameters, ids, cost summary, determinism."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlsens.errors import SuiteError
from rlsens.plan import STEPS_PER_CPU_SECOND, build_plan, config_id, estimate_cpu_seconds
from rlsens.spec import EvalProtocol, Resources, RunSpec
from rlsens.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]

SUITE = """\
name: plan-test
seed: 1
environments:
  Pendulum-v1: {budget: 2000}
  MountainCarContinuous-v0: {budget: 3000, env_kwargs: {goal_velocity: 0.0}}
algorithms:
  sac:
    class: SAC
    hyperparameters: {learning_rate: 1.0e-3, net_arch: [64, 64]}
    per_env:
      Pendulum-v1: {buffer_size: 5000}
    budget: {Pendulum-v1: 1000}
    search_space:
      learning_rate: {dist: log_uniform, low: 1.0e-4, high: 1.0e-2}
      net_arch: {dist: categorical, choices: {small: [64, 64], big: [256, 256]}}
      one_minus_gamma: {dist: log_uniform, low: 0.001, high: 0.1, aux: true}
      gamma: {derived: "1 - one_minus_gamma"}
      learning_starts: {dist: fixed, value: 100}
  ppo:
    class: PPO
    environments: [Pendulum-v1]
    search_space:
      n_epochs: {dist: int, low: 1, high: 20}
design: {type: sobol, n: 4, include_default: true}
seeds: {tune: 2, report: 1}
evaluation: {every: 500, episodes: 3, final: 1}
resources: {cpus: 1}
"""


@pytest.fixture
def suite_path(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(SUITE)
    return path


def test_plan_order_and_cross_product(suite_path):
    plan = build_plan(load_suite(suite_path))
    keys = [(r.algorithm, r.env_id, r.config_id, r.seed) for r in plan.runs]
    assert len(plan.runs) == 5 * 3 * 2 + 5 * 3 * 1
    assert len(set(keys)) == len(keys)
    assert [k[0] for k in keys] == ["sac"] * 30 + ["ppo"] * 15
    assert [k[1] for k in keys[:30]] == ["Pendulum-v1"] * 15 + ["MountainCarContinuous-v0"] * 15
    assert [k[3] for k in keys[:6]] == [0, 1, 2, 0, 1, 2]
    assert [r.seed_role for r in plan.runs[:3]] == ["tune", "tune", "report"]
    configs = [k[2] for k in keys[:15:3]]
    assert configs == [config_id("sac", p) for p in plan.configs["sac"]]
    assert plan.default_config_ids["sac"] == configs[0]


def test_run_fields(suite_path):
    suite = load_suite(suite_path)
    plan = build_plan(suite)
    run = plan.runs[0]
    assert run.suite == "plan-test" and run.algo_class == "SAC" and run.policy == "MlpPolicy"
    assert run.budget == 1000 and run.eval == EvalProtocol(every=500, episodes=3, final=1)
    assert run.resources == Resources(cpus=1.0)
    assert run.point == {"learning_rate": 1e-3, "net_arch": "small",
                         "one_minus_gamma": pytest.approx(0.01)}
    hp = run.hyperparameters
    assert hp["net_arch"] == [64, 64] and hp["buffer_size"] == 5000
    assert hp["gamma"] == pytest.approx(0.99) and hp["learning_starts"] == 100
    assert "one_minus_gamma" not in hp
    car = next(r for r in plan.runs if r.env_id == "MountainCarContinuous-v0")
    assert car.budget == 3000 and car.env_kwargs == {"goal_velocity": 0.0}
    assert "buffer_size" not in car.hyperparameters
    assert RunSpec.from_dict(json.loads(json.dumps(run.to_dict()))) == run


def test_config_id_equal_across_envs(suite_path):
    plan = build_plan(load_suite(suite_path))
    by_env: dict[str, list[str]] = {}
    for run in plan.runs:
        if run.algorithm == "sac" and run.seed == 0:
            by_env.setdefault(run.env_id, []).append(run.config_id)
    assert by_env["Pendulum-v1"] == by_env["MountainCarContinuous-v0"]
    assert len(set(by_env["Pendulum-v1"])) == 5
    pend = [r for r in plan.runs if r.algorithm == "sac" and r.env_id == "Pendulum-v1"]
    car = [r for r in plan.runs if r.algorithm == "sac" and r.env_id != "Pendulum-v1"]
    assert pend[0].hyperparameters != car[0].hyperparameters  # per_env differs, id does not
    assert config_id("sac", {"a": 1}) != config_id("td3", {"a": 1})


def test_run_id_tracks_identity_not_resources(suite_path):
    run = build_plan(load_suite(suite_path)).runs[0]
    same = [dataclasses.replace(run, resources=Resources(cpus=4, gpus=1, timeout_s=5)),
            dataclasses.replace(run, seed_role="report")]
    assert all(other.run_id == run.run_id for other in same)
    changed = [
        dataclasses.replace(run, budget=run.budget + 1),
        dataclasses.replace(run, seed=run.seed + 1),
        dataclasses.replace(run, hyperparameters={**run.hyperparameters, "tau": 0.01}),
        dataclasses.replace(run, eval=EvalProtocol(every=100)),
    ]
    assert len({run.run_id, *(c.run_id for c in changed)}) == 1 + len(changed)


def test_summary(suite_path):
    plan = build_plan(load_suite(suite_path))
    summary = plan.summary()
    assert list(summary.columns) == ["algorithm", "env_id", "configs", "seeds", "runs",
                                     "env_steps", "est_cpu_hours"]
    assert summary["algorithm"].tolist() == ["sac", "sac", "ppo", "total"]
    first = summary.iloc[0]
    assert (first.configs, first.seeds, first.runs, first.env_steps) == (5, 3, 15, 15000)
    total = summary.iloc[-1]
    assert total.runs == len(plan.runs) == 45
    assert total.configs == 10 and total.seeds == 3
    assert total.env_steps == 15000 + 45000 + 15 * 2000
    assert total.est_cpu_hours == pytest.approx(summary["est_cpu_hours"].iloc[:-1].sum())


def test_cost_estimate(suite_path):
    run = build_plan(load_suite(suite_path)).runs[0]
    train = run.budget / STEPS_PER_CPU_SECOND["SAC"]
    evals = (run.budget // run.eval.every) * run.eval.episodes * 200 * 0.08 / 200
    assert estimate_cpu_seconds(run) == pytest.approx(train + evals)
    halved = dataclasses.replace(run, hyperparameters={**run.hyperparameters, "train_freq": 2})
    assert estimate_cpu_seconds(halved) < estimate_cpu_seconds(run)


def test_smoke_suite_is_a_few_minutes():
    plan = build_plan(load_suite(ROOT / "suites" / "smoke.yaml"))
    summary = plan.summary()
    assert summary.iloc[-1].est_cpu_hours * 3600 / 2 < 6 * 60  # 2 cores
    assert len(plan.runs) == 2 * 2 * 5 * 2
    tiny = build_plan(load_suite(ROOT / "suites" / "smoke.yaml", scale="tiny"))
    assert tiny.summary().iloc[-1].est_cpu_hours * 3600 < 120


def test_derived_failure_at_a_sampled_point(tmp_path):
    text = SUITE.replace('gamma: {derived: "1 - one_minus_gamma"}',
                         'gamma: {derived: "1 / (one_minus_gamma - 0.01)"}')
    text = text.replace("low: 0.001, high: 0.1, aux: true", "low: 0.001, high: 0.1, aux: true, "
                        "default: 0.02")
    path = tmp_path / "d.yaml"
    path.write_text(text.replace("design: {type: sobol, n: 4, include_default: true}",
                                 "design: {type: grid, levels: 3}"))
    suite = load_suite(path)  # fine at the default point
    with pytest.raises(SuiteError) as info:
        build_plan(suite)
    assert info.value.key == "algorithms.sac.search_space.gamma.derived"
    assert "division by zero" in info.value.message
    assert info.value.line == SUITE.splitlines().index(
        '      gamma: {derived: "1 - one_minus_gamma"}') + 1


def test_oat_plan(tmp_path):
    path = tmp_path / "oat.yaml"
    path.write_text(SUITE.replace("design: {type: sobol, n: 4, include_default: true}",
                                  "design: {type: oat, levels: 3}"))
    plan = build_plan(load_suite(path))
    # default + learning_rate 3 levels + net_arch 2 choices + one_minus_gamma 3 levels,
    # minus the levels equal to the default (1e-3 is the log centre; net_arch small;
    # one_minus_gamma centre)
    assert len(plan.configs["sac"]) == 1 + 2 + 1 + 2
    assert len(plan.configs["ppo"]) == 1 + 3 - 1


PLAN_DUMP = """
import json, sys
from rlsens.plan import build_plan
from rlsens.suite import load_suite
plan = build_plan(load_suite(sys.argv[1]))
print(json.dumps([r.to_dict() for r in plan.runs], sort_keys=True))
"""


def test_plan_is_deterministic_across_processes(suite_path):
    here = json.dumps([r.to_dict() for r in build_plan(load_suite(suite_path)).runs],
                      sort_keys=True)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", PLAN_DUMP, str(suite_path)], env=env,
                         capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == here
