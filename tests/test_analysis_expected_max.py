"""Expected max vs #trials (Dodge 2019 / Tang 2020) and the tune/report protocol guard."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rlsens.analysis.expected_max import expected_max_u, expected_max_v, tuning_curves
from rlsens.analysis.protocol import select_and_report


def test_v_statistic_by_hand() -> None:
    mean, std = expected_max_v([3.0, 1.0, 2.0], 1)
    assert mean == pytest.approx(2.0) and std == pytest.approx(math.sqrt(2 / 3))
    mean, _ = expected_max_v([1.0, 2.0, 3.0], 2)  # pmf 1/9, 3/9, 5/9
    assert mean == pytest.approx(22 / 9)
    mean, std = expected_max_v([1.0, 2.0, 3.0], 50)  # n > N is defined and tends to the max
    assert 2.99 < mean < 3.0 and std > 0


def test_u_statistic_by_hand() -> None:
    mean, std = expected_max_u([1.0, 2.0, 3.0], 2)  # pmf 0, 1/3, 2/3
    assert mean == pytest.approx(8 / 3) and std == pytest.approx(math.sqrt(2 / 9))
    assert expected_max_u([1.0, 2.0, 3.0], 3) == pytest.approx((3.0, 0.0))
    assert expected_max_u([1.0, 2.0, 3.0], 1)[0] == pytest.approx(2.0)
    with pytest.raises(ValueError):
        expected_max_u([1.0, 2.0], 3)


def test_monte_carlo_agreement() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=20)
    draws = 100_000
    with_replacement = rng.choice(values, size=(draws, 5)).max(axis=1)
    assert expected_max_v(values, 5)[0] == pytest.approx(with_replacement.mean(), abs=0.01)
    assert expected_max_v(values, 5)[1] == pytest.approx(with_replacement.std(), abs=0.01)
    without = np.array([values[rng.permutation(20)[:5]].max() for _ in range(20_000)])
    assert expected_max_u(values, 5)[0] == pytest.approx(without.mean(), abs=0.015)
    assert expected_max_u(values, 5)[1] == pytest.approx(without.std(), abs=0.015)


def test_large_n_does_not_overflow() -> None:
    values = np.linspace(0.0, 1.0, 3000)
    mean, std = expected_max_u(values, 1500)
    assert np.isfinite(mean) and np.isfinite(std) and 0.99 < mean <= 1.0
    assert expected_max_v(values, 1500)[0] <= mean  # V is biased downwards


def scores_frame(cells: dict[tuple[str, str, str, str], list[float]]) -> pd.DataFrame:
    rows = []
    for (alg, env, config, role), values in cells.items():
        for i, value in enumerate(values):
            seed = i if role != "report" else 100 + i
            rows.append({"algorithm": alg, "env_id": env, "config_id": config, "seed": seed,
                         "seed_role": role, "run_id": f"{alg}{env}{config}{role}{i}",
                         "status": "ok", "score": value, "raw_score": value})
    return pd.DataFrame(rows)


def test_tuning_curves_per_env_and_cross_env() -> None:
    cells = {("a", env, c, "all"): [v + (env == "e2"), v + (env == "e2")]
             for env in ("e1", "e2") for c, v in (("c1", 1.0), ("c2", 2.0), ("c3", 3.0))}
    out = tuning_curves(scores_frame(cells), max_trials=4)
    assert set(out["env_id"]) == {"e1", "e2", "all"}
    e1 = out.loc[out["env_id"] == "e1"].set_index("trials")
    assert e1.loc[2, "expected_max_v"] == pytest.approx(22 / 9)
    assert e1.loc[2, "expected_max_u"] == pytest.approx(8 / 3)
    assert np.isnan(e1.loc[4, "expected_max_u"]) and e1.loc[4, "n_configs"] == 3
    everywhere = out.loc[out["env_id"] == "all"].set_index("trials")
    assert everywhere.loc[1, "expected_max_v"] == pytest.approx(2.5)


def test_protocol_with_tune_and_report_seeds() -> None:
    cells = {("a", "e", "lucky", "tune"): [10.0, 10.0], ("a", "e", "lucky", "report"): [1.0] * 3,
             ("a", "e", "solid", "tune"): [5.0, 5.0], ("a", "e", "solid", "report"): [5.0] * 3}
    row = select_and_report(scores_frame(cells)).iloc[0]
    assert row["config_id"] == "lucky" and row["selection_score"] == 10.0
    assert row["reported_score"] == 1.0 and row["n_selection"] == 2 and row["n_report"] == 3
    assert not row["optimistic"]


def test_protocol_without_split_is_cross_fitted() -> None:
    # Halves by seed: c1 = {1 | 5}, c2 = {2 | 2}. Select on the first half: c2, scored 2;
    # select on the second: c1, scored 1. Cross-fitted: 1.5; in-sample best c1 at 3.
    cells = {("a", "e", "c1", "all"): [1.0, 5.0], ("a", "e", "c2", "all"): [2.0, 2.0]}
    row = select_and_report(scores_frame(cells)).iloc[0]
    assert row["config_id"] == "c1" and row["selection_score"] == 3.0
    assert row["reported_score"] == 1.5 and row["n_report"] == row["n_selection"] == 2
    assert row["method"] == "cross-fit" and not bool(row["optimistic"])
