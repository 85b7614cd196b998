"""Which differences between algorithms the data support: direct intervals of the difference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlsens.analysis import (
    algorithm_comparisons,
    hyperparameter_sensitivity,
    probability_of_improvement,
    tuned_score_errors,
)
from rlsens.analysis.claims import difference_interval

# Configuration means per environment: "specialist" has a different best configuration on each
# environment (P_env = 1.0, P_cross = 0.6, Φ = 0.4); "generalist" has one best everywhere (Φ = 0).
SPECIALIST = {"e1": [1.0, 0.2], "e2": [0.2, 1.0]}
GENERALIST = {"e1": [1.0, 0.9], "e2": [1.0, 0.9]}


def scores_frame(truth: dict[str, dict[str, list[float]]], seeds: int = 6, noise: float = 0.03,
                 seed: int = 0, same_noise: bool = False) -> pd.DataFrame:
    """Scores of runs around known configuration means (``same_noise``: every algorithm gets
    the same noise draws, so equal truths give exactly equal data)."""
    rows = []
    for a_index, (algorithm, envs) in enumerate(sorted(truth.items())):
        rng = np.random.default_rng(seed if same_noise else seed + a_index)
        for env, means in sorted(envs.items()):
            for c, mean in enumerate(means):
                for s in range(seeds):
                    rows.append({"run_id": f"{algorithm}-{env}-{c}-{s}", "algorithm": algorithm,
                                 "env_id": env, "config_id": f"c{c}", "seed": s,
                                 "seed_role": "all", "status": "ok", "hp.lr": float(c),
                                 "score": mean + noise * rng.normal()})
    return pd.DataFrame(rows)


def comparisons(scores: pd.DataFrame, reps: int = 1000) -> pd.DataFrame:
    sens = hyperparameter_sensitivity(scores, reps=reps, seed=0)
    errors = tuned_score_errors(scores, reps, seed=0)
    poi = probability_of_improvement(scores, reps=reps, seed=0)
    return algorithm_comparisons(sens, errors, poi)


def row(frame: pd.DataFrame, quantity: str) -> pd.Series:
    match = frame[frame["quantity"] == quantity]
    assert len(match) == 1, match
    return match.iloc[0]


def test_clearly_separated_sensitivity_is_claimed() -> None:
    result = comparisons(scores_frame({"ddpg": SPECIALIST, "td3": GENERALIST}))
    phi = row(result, "sensitivity")
    assert (phi["algorithm_a"], phi["algorithm_b"]) == ("ddpg", "td3")
    assert phi["estimate"] == pytest.approx(0.4, abs=0.05)
    assert phi["lower"] > 0 and phi["separated"] and phi["higher"] == "ddpg"
    assert not phi["optimistic"] and phi["reason"] == ""
    assert set(result["quantity"]) == {"sensitivity", "per_env_tuned", "cross_env_tuned",
                                       "improvement"}
    assert (result["n_comparisons"] == 1).all()


def test_equal_sensitivity_cannot_be_separated() -> None:
    # The same data for both algorithms: the difference is exactly 0 and must not be claimed.
    same = scores_frame({"ddpg": SPECIALIST, "td3": SPECIALIST}, same_noise=True)
    phi = row(comparisons(same), "sensitivity")
    assert phi["estimate"] == 0.0
    assert phi["lower"] < 0 < phi["upper"]
    assert not phi["separated"] and phi["higher"] is None
    # Equal truths, independent noise: still no claim.
    noisy = scores_frame({"ddpg": SPECIALIST, "td3": SPECIALIST}, noise=0.2, seeds=4)
    result = comparisons(noisy)
    assert not row(result, "sensitivity")["separated"]
    assert not row(result, "improvement")["separated"]


def test_difference_interval_is_the_basic_interval_of_paired_replicate_errors() -> None:
    rng = np.random.default_rng(3)
    errors_a, errors_b = rng.normal(0, 1, 4000), rng.normal(0.5, 2, 4000)
    lower, upper = difference_interval(1.0, errors_a, errors_b, 0.9)
    q_lo, q_hi = np.quantile(errors_a - errors_b, [0.05, 0.95])
    assert (lower, upper) == pytest.approx((1.0 - q_hi, 1.0 - q_lo))
    # Against an algorithm without sampling error, it is the first algorithm's own interval.
    scores = scores_frame({"ddpg": SPECIALIST, "td3": GENERALIST})
    sens = hyperparameter_sensitivity(scores, reps=800, seed=5).set_index("algorithm")
    errors = tuned_score_errors(scores, 800, seed=5)
    point = float(sens.loc["ddpg", "sensitivity"])
    assert difference_interval(point, errors["ddpg"]["sensitivity"], np.zeros(800), 0.95) \
        == pytest.approx((sens.loc["ddpg", "sensitivity_lower"],
                          sens.loc["ddpg", "sensitivity_upper"]))
    assert np.isnan(difference_interval(point, np.array([]), np.array([]), 0.95)).all()
    assert np.isnan(difference_interval(point, np.zeros(3), np.zeros(4), 0.95)).all()


def test_in_sample_estimates_make_no_claim() -> None:
    one_seed = scores_frame({"ddpg": SPECIALIST, "td3": GENERALIST}, seeds=1)
    phi = row(comparisons(one_seed), "sensitivity")
    assert phi["estimate"] == pytest.approx(0.4, abs=0.1)
    assert phi["optimistic"] and not phi["separated"]
    assert np.isnan(phi["lower"]) and "in-sample" in phi["reason"]


def test_without_replicates_or_environments_nothing_is_claimed() -> None:
    scores = scores_frame({"ddpg": SPECIALIST, "td3": GENERALIST})
    sens = hyperparameter_sensitivity(scores, reps=0)
    result = algorithm_comparisons(sens, {}, None)
    assert set(result["quantity"]) == {"sensitivity", "per_env_tuned", "cross_env_tuned"}
    assert not result["separated"].any() and (result["reason"] == "no interval").all()
    single = scores[scores["env_id"] == "e1"]
    result = algorithm_comparisons(hyperparameter_sensitivity(single, reps=200),
                                   tuned_score_errors(single, 200), None)
    phi = row(result, "sensitivity")
    assert np.isnan(phi["estimate"]) and "single environment" in phi["reason"]
    assert np.isfinite(row(result, "per_env_tuned")["lower"])  # P_env needs one environment


def test_improvement_rows_use_the_pairs_interval_and_null_one_half() -> None:
    poi = pd.DataFrame({"algorithm_x": ["a", "b", "a", "c"], "algorithm_y": ["b", "a", "c", "a"],
                        "probability": [0.7, 0.3, 0.55, 0.45], "lower": [0.6, 0.2, 0.45, 0.35],
                        "upper": [0.8, 0.4, 0.65, 0.55]})
    result = algorithm_comparisons(None, {}, poi).set_index("algorithm_b")
    assert list(result.index) == ["b", "c"]
    assert result.loc["b", "separated"] and result.loc["b", "higher"] == "a"
    assert not result.loc["c", "separated"] and result.loc["c", "null"] == 0.5
    assert (result["n_comparisons"] == 2).all()


def test_the_interval_not_the_point_decides_the_direction() -> None:
    # A basic bootstrap interval need not contain its point estimate (a biased error
    # distribution shifts it); a claim follows the interval.
    poi = pd.DataFrame({"algorithm_x": ["a", "b"], "algorithm_y": ["b", "a"],
                        "probability": [0.49, 0.51], "lower": [0.51, 0.4],
                        "upper": [0.6, 0.49]})
    result = algorithm_comparisons(None, {}, poi).iloc[0]
    assert result["separated"] and result["higher"] == "a"
