"""Calibration of the pooled pairwise tests under the null, with ragged run counts (not a test).

Three environments at different score levels and spreads (means 0, 5, -3; sds 1, 0.5, 2), A with
10/2/5 runs and B with 2/10/5, drawn from the *same* per-environment distributions. A
calibrated test rejects at 5 % in about 5 % of the simulations. Shown for the stratified pooled
tests of ``rlsens.analysis.pairwise`` and, for comparison, Welch's test on runs concatenated
across environments (what the pooled row computed before it was stratified). Also times one
``pairwise_tests`` call with the permutation test at the report's default of 10,000
permutations.

Usage: .venv/bin/python benchmarks/calibration_pairwise.py [--sims 4000] [--reps 199]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy import stats

from rlsens.analysis.pairwise import compare, pairwise_tests

LEVELS, SPREADS = (0.0, 5.0, -3.0), (1.0, 0.5, 2.0)
RUNS_A, RUNS_B = (10, 2, 5), (2, 10, 5)


def _draw(rng: np.random.Generator, counts: tuple[int, ...]) -> list[np.ndarray]:
    return [rng.normal(m, s, n) for m, s, n in zip(LEVELS, SPREADS, counts, strict=True)]


def rejection_rates(sims: int, reps: int, alpha: float = 0.05) -> dict[str, float]:
    rng = np.random.default_rng(123)
    hits = dict.fromkeys(("welch", "mannwhitney", "bootstrap", "concatenated welch"), 0)
    for sim in range(sims):
        x, y = _draw(rng, RUNS_A), _draw(rng, RUNS_B)
        for test in ("welch", "mannwhitney", "bootstrap"):
            hits[test] += compare(x, y, test, reps=reps, seed=sim)["p_value"] < alpha
        naive = stats.ttest_ind(np.concatenate(x), np.concatenate(y), equal_var=False)
        hits["concatenated welch"] += naive.pvalue < alpha
    return {name: count / sims for name, count in hits.items()}


def time_permutation_tests(reps: int = 10_000) -> float:
    rng = np.random.default_rng(0)
    rows = [{"algorithm": a, "env_id": f"e{e}", "score": float(v)}
            for a in ("a", "b", "c") for e in range(5) for v in rng.normal(size=30)]
    start = time.perf_counter()
    pairwise_tests(pd.DataFrame(rows), test="bootstrap", reps=reps)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=4000)
    parser.add_argument("--reps", type=int, default=199)
    args = parser.parse_args()
    for name, rate in rejection_rates(args.sims, args.reps).items():
        print(f"{name:<20} rejection rate at alpha=0.05: {rate:.4f} ({args.sims} simulations)")
    seconds = time_permutation_tests()
    print(f"pairwise_tests(test='bootstrap', reps=10000), 3 algorithms x 5 envs x 30 runs "
          f"(18 comparisons): {seconds:.2f} s")


if __name__ == "__main__":
    main()
