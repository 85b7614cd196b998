"""Benchmark: stratified-bootstrap IQM CIs, rlsens vs rliable 1.2.0 on the same data.

Setup: 5 algorithms x 10 environments x 20 runs, 50,000 bootstrap replicates, 95% percentile
intervals. rliable needs ``pandas<3`` and ``arch<8``, which clash with this project's
environment, so it runs in its own venv (``benchmarks/.venv-rliable``, created on first use)
in a subprocess; the timing there excludes imports. rlsens runs in-process. Both timings are
taken in the same invocation, so the speed-up ratio compares like with like.

Run from the repository root:
    PYTHONPATH=. .venv/bin/python benchmarks/bench_bootstrap.py [--reps N] [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import venv
from pathlib import Path

import numpy as np
import pandas as pd

from rlsens.analysis._rng import derive_rng
from rlsens.analysis.aggregates import (
    aggregate_estimates,
    batched_iqm,
    score_tasks,
    stratified_bootstrap,
)

HERE = Path(__file__).resolve().parent
RLIABLE_VENV = HERE / ".venv-rliable"
RLIABLE_PACKAGES = ["rliable==1.2.0", "pandas<3", "arch<8", "numpy", "scipy"]
ALGORITHMS, ENVS, RUNS = 5, 10, 20

RLIABLE_SCRIPT = """
import json, sys, time
import numpy as np
from rliable import library, metrics
payload = json.load(sys.stdin)
scores = {k: np.asarray(v) for k, v in payload["scores"].items()}
np.random.seed(0)  # rliable draws indices from the global RNG (random_state is not used)
start = time.perf_counter()
points, cis = library.get_interval_estimates(
    scores, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=payload["reps"])
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed,
                  "points": {k: float(v[0]) for k, v in points.items()},
                  "cis": {k: [float(v[0, 0]), float(v[1, 0])] for k, v in cis.items()}}))
"""


def make_scores(seed: int = 0) -> dict[str, np.ndarray]:
    """runs x envs score matrices (rliable layout): skewed, algorithm- and env-dependent."""
    rng = np.random.default_rng(seed)
    out = {}
    for a in range(ALGORITHMS):
        env_level = rng.uniform(0.2, 0.9, size=ENVS) * (1 + 0.05 * a)
        out[f"algo{a}"] = env_level + rng.gamma(2.0, 0.1, size=(RUNS, ENVS)) - 0.2
    return out


def tidy(scores: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = [
        {"algorithm": name, "env_id": f"env{m:02d}", "run": n, "score": float(x[n, m])}
        for name, x in scores.items()
        for n in range(x.shape[0])
        for m in range(x.shape[1])
    ]
    return pd.DataFrame(rows)


def rliable_python() -> Path:
    """The rliable venv's interpreter, creating the venv on first use (about a minute)."""
    python = RLIABLE_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {RLIABLE_VENV} ...", file=sys.stderr)
        venv.create(RLIABLE_VENV, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *RLIABLE_PACKAGES], check=True)
    return python


def run_rliable(scores: dict[str, np.ndarray], reps: int) -> dict:
    payload = json.dumps({"scores": {k: v.tolist() for k, v in scores.items()}, "reps": reps})
    result = subprocess.run(
        [str(rliable_python()), "-c", RLIABLE_SCRIPT],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def endpoint_se(replicates: np.ndarray, q: float) -> float:
    """Monte Carlo standard error of the q-quantile of B replicates (order-statistic method:
    the quantile's index has binomial sd sqrt(B q (1-q)))."""
    b = replicates.size
    sd = np.sqrt(b * q * (1 - q))
    ordered = np.sort(replicates)
    low = ordered[max(0, int(np.floor(b * q - sd)))]
    high = ordered[min(b - 1, int(np.ceil(b * q + sd)))]
    return float((high - low) / 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="rlsens timings (median used)")
    args = parser.parse_args()
    scores = make_scores()
    frame = tidy(scores)

    reference = run_rliable(scores, args.reps)
    timings = []
    for _ in range(args.repeat):  # the machine may be shared: report the median of a few
        start = time.perf_counter()
        ours = aggregate_estimates(frame, metrics=("iqm",), reps=args.reps, seed=0)
        timings.append(time.perf_counter() - start)
    ours_seconds = float(np.median(timings))
    ours = ours.set_index("algorithm")

    print(
        f"IQM 95% percentile CIs, {ALGORITHMS} algorithms x {ENVS} envs x {RUNS} runs, "
        f"{args.reps} reps"
    )
    print(
        f"rliable 1.2.0: {reference['seconds']:.2f} s   rlsens: {ours_seconds:.3f} s   "
        f"(median of {args.repeat}: {', '.join(f'{t:.2f}' for t in timings)})   "
        f"speed-up: {reference['seconds'] / ours_seconds:.1f}x"
    )
    header = (
        f"{'algorithm':<9} {'point (rlsens)':>14} {'point (rliable)':>15} {'same':>5} "
        f"{'CI rlsens':>19} {'CI rliable':>19} {'|dLo|/MCse':>10} {'|dHi|/MCse':>10}"
    )
    print(header)
    for name in scores:
        row = ours.loc[name]
        lo_r, hi_r = reference["cis"][name]
        replicates = stratified_bootstrap(
            score_tasks(frame[frame["algorithm"] == name]),
            batched_iqm,
            args.reps,
            derive_rng(0, name),
        )
        # Two independent bootstraps: the difference of endpoints has sd sqrt(2) * se.
        se_lo = np.sqrt(2) * endpoint_se(replicates, 0.025)
        se_hi = np.sqrt(2) * endpoint_se(replicates, 0.975)
        same = row["point"] == reference["points"][name]
        print(
            f"{name:<9} {row['point']:>14.6f} {reference['points'][name]:>15.6f} "
            f"{'yes' if same else 'NO':>5} "
            f"[{row['lower']:.4f}, {row['upper']:.4f}]  [{lo_r:.4f}, {hi_r:.4f}] "
            f"{abs(row['lower'] - lo_r) / se_lo:>10.2f} "
            f"{abs(row['upper'] - hi_r) / se_hi:>10.2f}"
        )


if __name__ == "__main__":
    main()
