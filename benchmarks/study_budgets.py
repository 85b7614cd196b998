"""Are the ddpg-td3-sac study's budgets right? Train each algorithm's default configuration.

The study compares sensitivity around each algorithm's zoo-tuned defaults, which only means
something at a budget where those defaults have learned the task. This script takes the
default configuration's runs of every algorithm on every environment from the suite's own plan
(so the specs are exactly those the study runs), trains the first ``--seeds`` seeds with
today's SB3 trainer (``rlsens.trainer.run.train``), and prints each run's curve, final score,
training steps/s and CPU time, then per algorithm and environment the mean final score against
the target band and a verdict. It ends with the study scale's projected wall time: the plan's
cost estimate rescaled by the measured/estimated CPU-time ratio of these runs, divided over
the cores and by the assumed population-trainer speed-up.

Targets: Pendulum-v1 mean final return in [-200, -110], the band around the zoo's published
-152 (DDPG), -152 (TD3) and -157 (SAC) at 20k steps that a multi-seed reproduction should land
in (the zoo's +-90 is over episodes of one agent); InvertedPendulum-v5 at least 950 of the
maximum 1000 (the pole balanced for (nearly) the whole episode), which is the level every
published DDPG/TD3/SAC result reaches on it.

The machine is shared, so run it niced; the CPU time it prints is the portable number. At the
study scale with 2 seeds it costs about 15 CPU-minutes (12 runs):

    nice -n 19 .venv/bin/python benchmarks/study_budgets.py [--scale study] [--seeds 2] [--jobs 2]
        [--algorithm ddpg] [--env InvertedPendulum-v5] [--budget 30000] [--json runs.json]

``--algorithm``/``--env`` restrict the runs; ``--budget`` probes a longer budget than the
suite's (the curve shows when the default first reaches its target). Figures: docs/study.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlsens.plan import Plan, build_plan, estimate_cpu_seconds  # noqa: E402
from rlsens.spec import RunSpec  # noqa: E402
from rlsens.suite import load_suite  # noqa: E402

SUITE = ROOT / "suites" / "ddpg-td3-sac.yaml"
TARGETS: dict[str, tuple[float, float]] = {
    "Pendulum-v1": (-200.0, -110.0),
    "InvertedPendulum-v5": (950.0, 1000.0),
}
CORES = 2
POPULATION_SPEEDUP = 2.5  # assumed population-trainer throughput per core, relative to SB3


@dataclass(frozen=True)
class Measured:
    """What one trained default run tells about the budget: its scores and its cost."""

    spec: RunSpec
    status: str
    score_final: float | None
    curve: list[tuple[int, float]]
    steps: int
    train_time_s: float
    cpu_s: float

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.train_time_s if self.train_time_s > 0 else float("nan")


def default_runs(plan: Plan, seeds: int) -> list[RunSpec]:
    """The default configuration's runs on the plan's first ``seeds`` seeds, in plan order."""
    kept = sorted({spec.seed for spec in plan.runs})[:seeds]
    return [spec for spec in plan.runs
            if spec.config_id == plan.default_config_ids.get(spec.algorithm)
            and spec.seed in kept]


def verdict(mean: float, target: tuple[float, float]) -> str:
    low, high = target
    return "PASS" if low <= mean <= high else "FAIL"


def projected_minutes(plan: Plan, cpu_ratio: float, cores: int, speedup: float) -> float:
    """Wall minutes of ``plan`` on ``cores``: the cost estimate times the measured/estimated
    CPU ratio, shared over the cores and divided by the trainer's speed-up over SB3."""
    estimated = sum(estimate_cpu_seconds(spec) for spec in plan.runs)
    return estimated * cpu_ratio / cores / speedup / 60


def _measure(spec: RunSpec) -> Measured:
    # Imported here so the parent process stays light; each worker pays the import once.
    from rlsens.trainer.run import train

    began = time.process_time()
    result = train(spec)
    return Measured(
        spec=spec,
        status=result.status,
        score_final=result.score_final,
        curve=[(e.step, e.mean) for e in result.curve],
        steps=result.steps,
        train_time_s=result.train_time_s,
        cpu_s=time.process_time() - began,
    )


def _print_run(m: Measured) -> None:
    curve = " ".join(f"{step / 1000:g}k:{value:.0f}" for step, value in m.curve)
    final = f"{m.score_final:.1f}" if m.score_final is not None else "-"
    print(f"{m.spec.algorithm:<5} {m.spec.env_id:<20} seed {m.spec.seed}: {m.status}, final "
          f"{final}, {m.steps_per_s:.0f} steps/s, {m.cpu_s:.0f} CPU-s  [{curve}]", flush=True)


@dataclass(frozen=True)
class Cell:
    """The default configuration of one algorithm on one environment, over the seeds run."""

    algorithm: str
    env_id: str
    runs: list[Measured]
    target: tuple[float, float] | None

    @property
    def scores(self) -> list[float]:
        return [m.score_final for m in self.runs
                if m.status == "ok" and m.score_final is not None]

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.scores) if self.scores else None

    @property
    def best(self) -> float | None:
        """Mean over seeds of the best evaluation: whether the default learned at all before
        the budget ended, which a final score below target cannot tell from an unstable agent."""
        curves = [m.curve for m in self.runs if m.curve]
        return statistics.fmean(max(v for _, v in c) for c in curves) if curves else None

    @property
    def verdict(self) -> str:
        if len(self.scores) < len(self.runs) or self.mean is None:
            return "FAIL"
        return verdict(self.mean, self.target) if self.target is not None else "no target"


def cells(measured: list[Measured]) -> list[Cell]:
    """Runs grouped by algorithm and environment, in the order they were measured."""
    groups: dict[tuple[str, str], list[Measured]] = {}
    for m in measured:
        groups.setdefault((m.spec.algorithm, m.spec.env_id), []).append(m)
    return [Cell(algorithm, env_id, sorted(runs, key=lambda m: m.spec.seed), TARGETS.get(env_id))
            for (algorithm, env_id), runs in groups.items()]


def _summary(measured: list[Measured]) -> bool:
    header = (f"{'algorithm':<9} {'environment':<20} {'per-seed final':<22} {'mean':>8} "
              f"{'target':>16} {'best eval':>10} {'steps/s':>8} {'CPU-s/run':>10}  verdict")
    print("\n" + header + "\n" + "-" * len(header))
    for cell in cells(measured):
        if cell.mean is None or len(cell.scores) < len(cell.runs):
            print(f"{cell.algorithm:<9} {cell.env_id:<20} "
                  + ", ".join(f"seed {m.spec.seed}: {m.status}" for m in cell.runs) + "  FAIL")
            continue
        per_seed = ", ".join(f"{s:.1f}" for s in cell.scores)
        sps = statistics.fmean(m.steps_per_s for m in cell.runs)
        cpu = statistics.fmean(m.cpu_s for m in cell.runs)
        band = f"[{cell.target[0]:g}, {cell.target[1]:g}]" if cell.target else "-"
        print(f"{cell.algorithm:<9} {cell.env_id:<20} {per_seed:<22} {cell.mean:>8.1f} "
              f"{band:>16} {cell.best:>10.1f} {sps:>8.0f} {cpu:>10.0f}  {cell.verdict}")
    return all(cell.verdict in {"PASS", "no target"} for cell in cells(measured))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=SUITE)
    parser.add_argument("--scale", default="study")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--algorithm", action="append", help="only this algorithm (repeatable)")
    parser.add_argument("--env", action="append", help="only this environment (repeatable)")
    parser.add_argument("--budget", type=int, help="train this many steps instead of the suite's")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args()

    # the budgets are checked with the SB3 trainer the zoo published its figures with
    plan = build_plan(load_suite(args.suite, scale=args.scale), trainer="sb3")
    specs = [spec for spec in default_runs(plan, args.seeds)
             if (args.algorithm is None or spec.algorithm in args.algorithm)
             and (args.env is None or spec.env_id in args.env)]
    if args.budget is not None:
        # A longer probe shows when the default reaches its target; its run ids are not the
        # study's, and the projection below still uses the suite's budgets.
        specs = [replace(spec, budget=args.budget) for spec in specs]
    if not specs:
        print(f"error: no default-configuration runs of {plan.suite.name} match --algorithm "
              f"{args.algorithm} --env {args.env}; the plan has algorithms "
              f"{sorted(plan.suite.algorithms)} on {sorted(plan.suite.environments)}",
              file=sys.stderr)
        return 2
    print(f"{len(specs)} default-configuration runs of {plan.suite.name} (scale {args.scale}), "
          f"{args.jobs} at a time\n", flush=True)
    started = time.monotonic()
    measured: list[Measured] = []
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        for m in pool.map(_measure, specs):
            _print_run(m)
            measured.append(m)
    elapsed = time.monotonic() - started

    passed = _summary(measured)
    ratio = sum(m.cpu_s for m in measured) / sum(estimate_cpu_seconds(m.spec) for m in measured)
    print(f"\n{elapsed / 60:.1f} min wall for {len(specs)} runs; CPU time measured / "
          f"estimated = {ratio:.2f}")
    for label, speedup in (("SB3 trainer", 1.0), ("population trainer (assumed "
                                                   f"{POPULATION_SPEEDUP:g}x SB3)",
                                                   POPULATION_SPEEDUP)):
        minutes = projected_minutes(plan, ratio, CORES, speedup)
        print(f"projected wall time of scale {args.scale} ({len(plan.runs)} runs) on {CORES} "
              f"cores, {label}: {minutes:.0f} min")
    if args.json is not None:
        args.json.write_text(json.dumps([{
            "algorithm": m.spec.algorithm, "env_id": m.spec.env_id, "seed": m.spec.seed,
            "run_id": m.spec.run_id, "status": m.status, "score_final": m.score_final,
            "curve": m.curve, "steps_per_s": m.steps_per_s, "cpu_s": m.cpu_s,
        } for m in measured], indent=1))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
