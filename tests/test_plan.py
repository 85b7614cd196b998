"""Plans: order, cross product, resolved hyperparameters, ids, cost summary, determinism."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlsens.errors import SuiteError
from rlsens.plan import (
    EVAL_SECONDS_PER_STEP,
    OFF_POLICY_STEP_SECONDS,
    RUN_OVERHEAD_SECONDS,
    TRAIN_CALL_SECONDS,
    UPDATE_SECONDS,
    build_plan,
    config_id,
    estimate_cpu_seconds,
)
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
    run = build_plan(load_suite(suite_path)).runs[0]  # SAC [64, 64], 1000 steps, 100 warm-up
    a, b = UPDATE_SECONDS["SAC"]
    update = a + b * 256 * (16 * 64 + 64 * 64 + 64 * 16)
    train = 1000 * OFF_POLICY_STEP_SECONDS["SAC"] + 900 * (TRAIN_CALL_SECONDS["SAC"] + update)
    evals = 2 * run.eval.episodes * 200 * EVAL_SECONDS_PER_STEP  # at 500 and 1000 steps
    assert estimate_cpu_seconds(run) == pytest.approx(RUN_OVERHEAD_SECONDS + train + evals)
    halved = dataclasses.replace(run, hyperparameters={**run.hyperparameters, "train_freq": 2})
    assert estimate_cpu_seconds(halved) < estimate_cpu_seconds(run)


def _spec(algo_class: str, budget: int = 20000, env_id: str = "Pendulum-v1",
          every: int = 10**9, **hyperparameters) -> RunSpec:
    return RunSpec(suite="s", algorithm=algo_class.lower(), algo_class=algo_class, env_id=env_id,
                   env_kwargs={}, policy="MlpPolicy", hyperparameters=hyperparameters, point={},
                   config_id="c", seed=0, seed_role="all", budget=budget,
                   eval=EvalProtocol(every=every, episodes=10, final=1), resources=Resources())


def _steps_per_second(spec: RunSpec) -> float:
    evaluation = math.ceil(spec.budget / spec.eval.every) * 10 * 200 * EVAL_SECONDS_PER_STEP
    return spec.budget / (estimate_cpu_seconds(spec) - RUN_OVERHEAD_SECONDS - evaluation)


@pytest.mark.parametrize(("spec", "measured"), [
    # peers.md 8.2 and the measurements behind rlsens.plan (env steps per CPU-second)
    (_spec("DDPG", learning_starts=10000, net_arch=[400, 300]), 20000 / 180),
    (_spec("TD3", learning_starts=10000, net_arch=[400, 300]), 20000 / 180),
    (_spec("SAC", learning_starts=100), 55.0),
    (_spec("DDPG", learning_starts=200, net_arch=[64, 64]), 2000 / 7.2),
    (_spec("SAC", learning_starts=200, net_arch=[64, 64]), 2000 / 11.5),
    (_spec("DQN", env_id="CartPole-v1", learning_starts=0), 6000 / 4.15),
    (_spec("PPO", n_envs=4, n_steps=1024, n_epochs=10, batch_size=64), 16384 / 8.6),
    (_spec("A2C", n_envs=8, n_steps=8), 16000 / 2.14),
])
def test_cost_estimate_matches_measured_throughput(spec, measured):
    assert _steps_per_second(spec) == pytest.approx(measured, rel=0.3)


def test_cost_estimate_scales_with_the_work():
    base = _spec("DDPG", learning_starts=100, net_arch=[64, 64], batch_size=256)
    def cost(**changes):
        return estimate_cpu_seconds(dataclasses.replace(
            base, hyperparameters={**base.hyperparameters, **changes}))
    assert cost(net_arch=[400, 300]) > 2 * cost()
    assert cost(batch_size=2048) > cost() > cost(batch_size=32)
    assert cost(learning_starts=10000) < 0.6 * cost()
    assert cost(train_freq=8, gradient_steps=8) < cost() < cost(train_freq=1, gradient_steps=4)
    assert cost(gradient_steps=-1, train_freq=[1, "episode"]) == pytest.approx(cost())
    assert cost(policy_kwargs={"net_arch": [400, 300]}, net_arch=None) == pytest.approx(
        cost(net_arch=[400, 300]))
    ppo = _spec("PPO", n_steps=1024, batch_size=64)
    more_epochs = dataclasses.replace(ppo, hyperparameters={**ppo.hyperparameters, "n_epochs": 20})
    assert estimate_cpu_seconds(more_epochs) > 1.3 * estimate_cpu_seconds(ppo)
    assert estimate_cpu_seconds(_spec("DQN")) < estimate_cpu_seconds(_spec("DQN", train_freq=1))


def test_cost_estimate_counts_evaluation():
    quiet = _spec("PPO", env_id="Pendulum-v1")
    evaluated = dataclasses.replace(quiet, eval=EvalProtocol(every=3000, episodes=10, final=1))
    extra = estimate_cpu_seconds(evaluated) - estimate_cpu_seconds(quiet)
    assert extra == pytest.approx((7 - 1) * 10 * 200 * EVAL_SECONDS_PER_STEP)
    # episodes that end on failure are assumed to last half the time limit
    cart = _spec("PPO", env_id="CartPole-v1", every=3000)
    cart_quiet = _spec("PPO", env_id="CartPole-v1")
    assert estimate_cpu_seconds(cart) - estimate_cpu_seconds(cart_quiet) == pytest.approx(
        (7 - 1) * 10 * 500 * 0.5 * EVAL_SECONDS_PER_STEP)


def test_smoke_suite_is_a_few_minutes():
    plan = build_plan(load_suite(ROOT / "suites" / "smoke.yaml"))
    summary = plan.summary()
    assert summary.iloc[-1].est_cpu_hours * 3600 / 2 < 6 * 60  # 2 cores
    assert len(plan.runs) == 2 * 2 * 5 * 2
    tiny = build_plan(load_suite(ROOT / "suites" / "smoke.yaml", scale="tiny"))
    assert tiny.summary().iloc[-1].est_cpu_hours * 3600 < 120


def test_derived_failure_at_a_sampled_point(tmp_path):
    text = SUITE.replace('gamma: {derived: "1 - one_minus_gamma"}',
                         'gamma: {derived: "1 - one_minus_gamma + 0 / (one_minus_gamma - 0.01)"}')
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
