"""End to end, side by side: one suite's plan run with ``--trainer sb3`` and ``--trainer auto``.

What ``make bench SUITE=<suite>`` does, timed per trainer on the same plan: ``rlsens run``
(planning, Ray start-up, training, evaluation, every record written) into a fresh results
folder, then ``rlsens report``. Both trainers get the same plan, the same machine and the same
command line apart from ``--trainer``, one after the other in one invocation, so the ratio is
side by side; other load on the machine moves both.

``--configs K`` times a slice of the plan instead of all of it: the suite's design is cut to
its first K - 1 Sobol points (a power of two) plus the default. A scrambled Sobol sequence is
fixed by its seed, so those are the first points of the full design and the slice's runs are
the full plan's runs (the same run ids); every environment and seed is kept. The full plan's
``rlsens run`` time is then a projection (slice time x full runs / slice runs), which the
output labels; report time does not scale with runs and is not projected.

Usage: .venv/bin/python benchmarks/bench_suite_trainers.py [--suite ddpg] [--scale quick]
       [--configs K] [--trainers sb3 auto] [--keep DIR]
Target (issue 12): ``make bench SUITE=ddpg`` >= 2x faster with ``auto`` than with ``sb3``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rlsens.plan import build_plan
from rlsens.suite import load_suite

ROOT = Path(__file__).resolve().parent.parent
RLSENS = [sys.executable, "-m", "rlsens"]


def sliced_suite(source: Path, configs: int | None, folder: Path) -> Path:
    """The suite file to run: the original, or a copy whose design keeps the first points."""
    if configs is None:
        return source
    points = configs - 1
    if points < 1 or points & (points - 1):
        sys.exit(f"--configs must be 1 + a power of two (2, 3, 5, 9, 17, ...), got {configs}")
    suite = yaml.safe_load(source.read_text())
    design = suite.get("design", {})
    if design.get("type") != "sobol" or not design.get("include_default"):
        sys.exit("--configs needs a suite with design {type: sobol, include_default: true}")
    suite["design"] = {**design, "n": points}
    for scale in (suite.get("scales") or {}).values():
        if isinstance(scale, dict) and "design" in scale:
            scale["design"] = {**scale["design"], "n": points}
    target = folder / source.name
    target.write_text(yaml.safe_dump(suite, sort_keys=False))
    return target


def planned_runs(suite: Path, scale: str | None) -> int:
    return len(build_plan(load_suite(suite, scale=scale)).runs)


def timed(command: list[str]) -> float:
    began = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.monotonic() - began
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr.decode()[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="ddpg")
    parser.add_argument("--scale", default=None)
    parser.add_argument("--configs", type=int, default=None)
    parser.add_argument("--trainers", nargs="+", default=["sb3", "auto"])
    parser.add_argument("--keep", type=Path, default=None, help="keep results folders here")
    args = parser.parse_args()
    source = ROOT / "suites" / f"{args.suite}.yaml"
    with tempfile.TemporaryDirectory(prefix="rlsens-bench-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        suite = sliced_suite(source, args.configs, folder)
        runs = planned_runs(suite, args.scale)
        full = planned_runs(source, args.scale)
        scale = ["--scale", args.scale] if args.scale else []
        print(f"suite {args.suite}, scale {args.scale or 'default'}: {runs} of {full} planned runs")
        print("| trainer | runs | rlsens run (s) | rlsens report (s) | end to end (s) | vs sb3 |")
        print("|---|---|---|---|---|---|")
        totals: dict[str, float] = {}
        training: dict[str, float] = {}
        for trainer in args.trainers:
            results = folder / f"results-{trainer}"
            run_s = timed(
                [
                    *RLSENS,
                    "run",
                    str(suite),
                    *scale,
                    "--trainer",
                    trainer,
                    "--results",
                    str(results),
                    "--no-progress",
                ]
            )
            report_s = timed([*RLSENS, "report", str(results)])
            totals[trainer] = run_s + report_s
            training[trainer] = run_s
            ratio = totals["sb3"] / totals[trainer] if "sb3" in totals else float("nan")
            print(
                f"| {trainer} | {runs} | {run_s:.0f} | {report_s:.0f} | {totals[trainer]:.0f} "
                f"| {ratio:.2f}x |",
                flush=True,
            )
        if runs != full and runs > 0:
            for trainer, run_s in training.items():
                print(
                    f"projected rlsens run of the full plan, {trainer}: "
                    f"{run_s * full / runs / 60:.1f} min (a projection from {runs} of {full} runs)"
                )


if __name__ == "__main__":
    main()
