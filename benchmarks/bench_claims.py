"""How often the headline claims a difference in Φ between two algorithms, by simulation.

Simulated studies of two algorithms on 2 environments with 2 configurations each, scores
``mean + noise * N(0, 1)``. ``equal``: both algorithms have a different best configuration on
each environment (configuration means 1.0/0.2 and 0.2/1.0: Φ = 0.4 for both), so every claim of
a difference is false and the claim rate should be at most the nominal 5 %. ``separated``: the
second algorithm has one best configuration everywhere (1.0/0.9 on both: Φ = 0), so the claim
rate is the power of the check. Claims are decided by ``rlsens.analysis.algorithm_comparisons``
exactly as the report decides them (cross-fit tuned scores, direct bootstrap interval of the
difference, 95 %).

Run from the repository root:
    PYTHONPATH=. .venv/bin/python benchmarks/bench_claims.py [--studies 400 --reps 1000]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from rlsens.analysis import algorithm_comparisons, hyperparameter_sensitivity, tuned_score_errors

SPECIALIST = {"e1": (1.0, 0.2), "e2": (0.2, 1.0)}
GENERALIST = {"e1": (1.0, 0.9), "e2": (1.0, 0.9)}
SCENARIOS = {"equal": (SPECIALIST, SPECIALIST), "separated": (SPECIALIST, GENERALIST)}


def study(truths: tuple[dict, dict], noise: float, seeds: int, rng: np.random.Generator
          ) -> pd.DataFrame:
    rows = []
    for name, truth in zip(("a", "b"), truths, strict=True):
        for env, means in truth.items():
            for c, mean in enumerate(means):
                for s in range(seeds):
                    rows.append({"run_id": f"{name}{env}{c}{s}", "algorithm": name,
                                 "env_id": env, "config_id": f"c{c}", "seed": s,
                                 "seed_role": "all", "status": "ok", "hp.x": float(c),
                                 "score": mean + noise * rng.normal()})
    return pd.DataFrame(rows)


def claim_rate(scenario: str, noise: float, seeds: int, studies: int, reps: int) -> float:
    rng = np.random.default_rng(0)
    claims = 0
    for i in range(studies):
        scores = study(SCENARIOS[scenario], noise, seeds, rng)
        sens = hyperparameter_sensitivity(scores, reps=reps, seed=i)
        result = algorithm_comparisons(sens, tuned_score_errors(scores, reps, seed=i))
        claims += bool(result.loc[result["quantity"] == "sensitivity", "separated"].iloc[0])
    return claims / studies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=400)
    parser.add_argument("--reps", type=int, default=1000)
    args = parser.parse_args()
    print(f"{'scenario':<10} {'noise':>5} {'seeds':>5} {'claim rate':>10}  (±1.96 MC s.e.)")
    for scenario in SCENARIOS:
        for noise, seeds in ((0.2, 4), (0.2, 10), (0.1, 6), (0.05, 6)):
            rate = claim_rate(scenario, noise, seeds, args.studies, args.reps)
            half = 1.96 * np.sqrt(rate * (1 - rate) / args.studies)
            print(f"{scenario:<10} {noise:>5} {seeds:>5} {rate:>10.3f}  (±{half:.3f})",
                  flush=True)


if __name__ == "__main__":
    main()
