"""Coverage of the tuned-score intervals by simulation (the winner's curse, issue 11 §2).

Simulated studies: one algorithm, 2 environments, 40 configurations, 10 seeds each, scores
``N(mu[e, h], 1)``. Scenarios: ``equal`` (every true mean 0: true P_env = P_cross = Φ = 0),
``clear`` (on e1 config 0 and on e2 config 1 are 3 better: P_env = 3, P_cross = 1.5, Φ = 1.5),
and ``graded`` (true means evenly spaced from 0 to 0.5 in opposite orders on the two envs:
the best is not clearly identifiable, and a select-then-score estimate targets the true mean of
the configuration it selects, which lies below the best true mean). Protocols: ``cross-fit``
(all seeds role "all"), ``held-out`` (5 "tune" + 5 "report" seeds). For each, the script prints
the 95% interval's coverage of the true value (the best true means), the mean estimate, and the
in-sample value's mean and the coverage a percentile bootstrap of it would reach (the pre-fix
behaviour, for comparison; computed from the in-sample bootstrap of earlier rlsens versions).

Run from the repository root:
    PYTHONPATH=. .venv/bin/python benchmarks/bench_tuned_coverage.py [--studies 200 --reps 1000]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from rlsens.analysis.sensitivity import (
    bootstrap_config_means,
    hyperparameter_sensitivity,
)

N_CONFIGS, N_SEEDS = 40, 10
METRICS = ("per_env_tuned", "cross_env_tuned", "sensitivity")


def true_means(scenario: str) -> np.ndarray:
    mu = np.zeros((2, N_CONFIGS))
    if scenario == "clear":
        mu[0, 0] = mu[1, 1] = 3.0
    elif scenario == "graded":
        mu[0] = np.linspace(0.0, 0.5, N_CONFIGS)
        mu[1] = mu[0][::-1]
    return mu


def truth(mu: np.ndarray) -> dict[str, float]:
    p_env, p_cross = float(mu.max(axis=1).mean()), float(mu.mean(axis=0).max())
    return {"per_env_tuned": p_env, "cross_env_tuned": p_cross, "sensitivity": p_env - p_cross}


def study(mu: np.ndarray, protocol: str, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for e in range(mu.shape[0]):
        for h in range(N_CONFIGS):
            values = mu[e, h] + rng.standard_normal(N_SEEDS)
            for s, value in enumerate(values):
                role = "all" if protocol == "cross-fit" else ("tune" if s < 5 else "report")
                rows.append({"algorithm": "a", "env_id": f"e{e}", "config_id": f"c{h:02d}",
                             "seed": s, "seed_role": role, "run_id": f"{e}-{h}-{s}",
                             "status": "ok", "score": float(value), "hp.h": h})
    return pd.DataFrame(rows)


def in_sample_interval(frame: pd.DataFrame, reps: int, rng: np.random.Generator
                       ) -> dict[str, tuple[float, float]]:
    """The percentile bootstrap of the in-sample maxima (what rlsens reported before)."""
    groups, boot = bootstrap_config_means(frame, ["env_id", "config_id"], reps, rng)
    envs = sorted(groups["env_id"].unique())
    cube = boot.reshape(reps, len(envs), N_CONFIGS)
    p_env, p_cross = cube.max(axis=2).mean(axis=1), cube.mean(axis=1).max(axis=1)
    out = {}
    for name, values in (("per_env_tuned", p_env), ("cross_env_tuned", p_cross),
                         ("sensitivity", p_env - p_cross)):
        lo, hi = np.quantile(values, [0.025, 0.975])
        out[name] = (float(lo), float(hi))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--reps", type=int, default=1000)
    args = parser.parse_args()
    print(f"{args.studies} studies, {args.reps} bootstrap replicates, 2 envs x {N_CONFIGS} "
          f"configs x {N_SEEDS} seeds, noise sd 1, nominal 95%")
    print(f"{'scenario':8s} {'protocol':9s} {'metric':16s} {'truth':>6s} {'mean':>7s} "
          f"{'cover':>6s} {'width':>6s} | {'in-sample mean':>14s} {'old cover':>9s}")
    for scenario in ("equal", "clear", "graded"):
        mu = true_means(scenario)
        target = truth(mu)
        for protocol in ("cross-fit", "held-out"):
            rng = np.random.default_rng(11)
            hits = {m: [] for m in METRICS}
            old_hits = {m: [] for m in METRICS}
            est = {m: [] for m in METRICS}
            ins = {m: [] for m in METRICS}
            width = {m: [] for m in METRICS}
            for i in range(args.studies):
                frame = study(mu, protocol, rng)
                row = hyperparameter_sensitivity(frame, reps=args.reps, seed=i).iloc[0]
                old = in_sample_interval(frame, args.reps, np.random.default_rng(i))
                for m in METRICS:
                    lo, hi = row[f"{m}_lower"], row[f"{m}_upper"]
                    hits[m].append(lo <= target[m] <= hi)
                    width[m].append(hi - lo)
                    old_hits[m].append(old[m][0] <= target[m] <= old[m][1])
                    est[m].append(row[m])
                    ins[m].append(row[f"{m}_in_sample"])
            for m in METRICS:
                print(f"{scenario:8s} {protocol:9s} {m:16s} {target[m]:6.2f} "
                      f"{np.mean(est[m]):7.3f} {np.mean(hits[m]):6.3f} "
                      f"{np.mean(width[m]):6.3f} | {np.mean(ins[m]):14.3f} "
                      f"{np.mean(old_hits[m]):9.3f}")


if __name__ == "__main__":
    main()
