"""Benchmark: report generation for ~10,000 runs with default options (target < 60 s).

Synthetic store: 3 algorithms x 4 environments x 105 configurations x 8 seeds = 10,080 runs
(~48,000 curve rows), built by ``tests/synthetic.py``. Prints the wall time of each section
(analysis + figures) and of the whole ``build_report`` call.

    .venv/bin/python benchmarks/bench_report.py [--out benchmarks/out/report] [--reps N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlsens.report import ReportOptions, build_report  # noqa: E402
from rlsens.report import build as report_build  # noqa: E402
from rlsens.report import sections as report_sections  # noqa: E402
from tests.synthetic import ENV_SCALES, make_manifest, make_tables  # noqa: E402


def timed_sections(timings: dict[str, float]) -> None:
    """Wrap every section function so its wall time lands in ``timings``."""

    def wrap(name, fn):
        def run(ctx, section):
            start = time.perf_counter()
            try:
                fn(ctx, section)
            finally:
                timings[name] = time.perf_counter() - start

        return run

    report_sections.SECTIONS[:] = [
        (sid, title, wrap(sid, fn), intro) for sid, title, fn, intro in report_sections.SECTIONS
    ]


def timed_headline(timings: dict[str, float]) -> None:
    """Time the headline too (it reuses the sections' tuned scores and importance)."""
    original = report_build.build_headline

    def run(ctx):
        start = time.perf_counter()
        try:
            return original(ctx)
        finally:
            timings["headline"] = time.perf_counter() - start

    report_build.build_headline = run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="report directory (default: temp)")
    parser.add_argument(
        "--reps",
        type=int,
        default=ReportOptions.reps,
        help="aggregate bootstrap replicates (default: the report default)",
    )
    args = parser.parse_args()

    start = time.perf_counter()
    runs, curves = make_tables(
        algorithms=("ppo", "sac", "td3"),
        envs=tuple(ENV_SCALES),
        n_configs=105,
        seeds=8,
        eval_points=5,
    )
    manifest = make_manifest(runs)
    print(
        f"synthetic store: {len(runs):,} runs, {len(curves):,} curve rows "
        f"({time.perf_counter() - start:.1f} s to generate)"
    )

    timings: dict[str, float] = {}
    timed_sections(timings)
    timed_headline(timings)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "report"
        start = time.perf_counter()
        index = build_report(runs, curves, manifest, out, options=ReportOptions(reps=args.reps))
        total = time.perf_counter() - start
        n_figures = len(list((out / "figures").glob("*.pdf")))
        size = index.stat().st_size / 1e6
    for name, seconds in sorted(timings.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<20s} {seconds:6.2f} s")
    print(
        f"build_report: {total:.1f} s for {len(runs):,} runs, {n_figures} figures (PDF+PNG), "
        f"index.html {size:.1f} MB, reps={args.reps:,} (target < 60 s)"
    )


if __name__ == "__main__":
    main()
