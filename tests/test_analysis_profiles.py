"""Performance profiles, probability of improvement (G1), sample-efficiency curves, spread."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synthetic import make_tables

from rlsens.analysis.aggregates import iqm, padded
from rlsens.analysis.normalize import normalize
from rlsens.analysis.profiles import (
    average_score_profile,
    exceed_fractions,
    performance_profile,
    poi_replicates,
    probability_of_improvement,
    probability_of_improvement_tasks,
    sample_efficiency,
    spread,
)
from rlsens.analysis.scores import run_scores

X = np.array([[1, 2], [2, 2], [1, 1], [2, 1]], dtype=float)
Y = np.array([[1, 1], [2, 2], [3, 3]], dtype=float)


def _frame(matrices: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = [
        {"algorithm": a, "env_id": f"e{m}", "run_id": f"{a}{m}{n}", "status": "ok",
         "score": float(x[n, m]), "raw_score": float(x[n, m])}
        for a, x in matrices.items()
        for m in range(x.shape[1])
        for n in range(x.shape[0])
    ]
    return pd.DataFrame(rows)


def test_g1_probability_of_improvement() -> None:
    assert probability_of_improvement_tasks(X, Y) == pytest.approx(1 / 3)
    assert probability_of_improvement_tasks(Y, X) == pytest.approx(2 / 3)
    assert probability_of_improvement_tasks(X, X) == 0.5
    out = probability_of_improvement(_frame({"x": X, "y": Y}), reps=300).set_index(
        ["algorithm_x", "algorithm_y"]
    )
    assert out.loc[("x", "y"), "probability"] == pytest.approx(1 / 3)
    assert out.loc[("y", "x"), "probability"] == pytest.approx(2 / 3)
    assert out.loc[("x", "y"), "lower"] == pytest.approx(1 - out.loc[("y", "x"), "upper"])
    assert out.loc[("x", "y"), "lower"] <= 1 / 3 <= out.loc[("x", "y"), "upper"]


def test_poi_replicates_match_explicit_resampling_distribution() -> None:
    rng = np.random.default_rng(0)
    x, y = [rng.normal(size=6)], [rng.normal(size=4) + 0.5]
    reps = poi_replicates(x, y, 20_000, np.random.default_rng(1))
    explicit = [
        probability_of_improvement_tasks(
            [rng.choice(x[0], x[0].size)], [rng.choice(y[0], y[0].size)]
        )
        for _ in range(4000)
    ]
    assert reps.mean() == pytest.approx(np.mean(explicit), abs=0.01)
    assert reps.std() == pytest.approx(np.std(explicit), rel=0.08)


def test_exceed_fractions_strictly_greater_and_padding_ignored() -> None:
    batch = padded([np.array([1.0, 2.0, 3.0]), np.array([2.0])])[None]
    taus = np.array([0.0, 1.0, 2.0, 3.0])
    assert exceed_fractions(batch, taus)[0].tolist() == [1.0, 0.75, 0.25, 0.0]


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    data=st.lists(
        st.lists(st.floats(-10, 10, allow_nan=False), min_size=2, max_size=6),
        min_size=1, max_size=3,
    ),
    seed=st.integers(0, 1000),
)
def test_profiles_non_increasing_with_bands(data: list[list[float]], seed: int) -> None:
    matrix = {"a": np.array([d[:2] for d in data]).T}
    out = performance_profile(_frame(matrix), reps=100, seed=seed)
    for column in ("fraction", "lower", "upper"):
        assert (np.diff(out[column].to_numpy()) <= 1e-12).all()
    assert (out["lower"] <= out["upper"]).all()


def test_profile_values_and_columns() -> None:
    out = performance_profile(_frame({"x": X}), taus=[2.0, 0.5, 1.5], reps=200)
    assert list(out.columns) == ["algorithm", "tau", "fraction", "lower", "upper"]
    assert out["tau"].tolist() == [0.5, 1.5, 2.0]
    assert out["fraction"].tolist() == [1.0, 0.5, 0.0]


def test_sample_efficiency_pools_runs_per_step_and_requires_every_env() -> None:
    runs, curves = make_tables(algorithms=("a", "b"), n_configs=2, seeds=3, seed=4)
    scores = normalize(run_scores(runs), "observed")
    # Give one run an extra evaluation at a step nobody else has: reported nowhere, since
    # the other environment has no run there.
    extra = curves.iloc[[0]].assign(step=123_456)
    out = sample_efficiency(pd.concat([curves, extra]), scores, reps=100)
    assert list(out.columns) == ["algorithm", "step", "iqm", "lower", "upper", "n_runs",
                                 "n_envs"]
    assert 123_456 not in out["step"].tolist()
    steps = sorted(curves["step"].unique())
    assert sorted(out["step"].unique()) == steps
    # worst policy: every scored run contributes at every step, failed ones imputed
    assert (out["n_runs"] == scores.groupby("algorithm").size().reindex(out["algorithm"])
            .to_numpy()).all()
    assert (out["lower"] <= out["iqm"]).all() and (out["iqm"] <= out["upper"]).all()
    last = out[out["step"] == steps[-1]]
    assert last["iqm"].between(-0.5, 1.5).all()  # on the normalized scale, not raw returns


def test_sample_efficiency_exclude_policy_drops_failed_runs() -> None:
    runs, curves = make_tables(algorithms=("a",), n_configs=2, seeds=4, fail_rate=0.0,
                               diverge_rate=0.3, seed=2)
    scores = run_scores(runs, failed="exclude")
    out = sample_efficiency(curves, scores, reps=50)
    assert (out["n_runs"] == len(scores)).all()


def test_spread_columns_and_values() -> None:
    out = spread(_frame({"x": np.arange(21.0)[:, None]}))
    expected = ["algorithm", "env_id", "n", "mean", "min", "p5", "p25", "median", "p75", "p95",
                "max"]
    assert list(out.columns) == expected
    row = out.iloc[0]
    assert (row["n"], row["min"], row["p5"], row["median"], row["p95"], row["max"]) == (
        21, 0.0, 1.0, 10.0, 19.0, 20.0
    )


def test_average_score_distribution_counts_environments_not_runs() -> None:
    # e0: 8 runs at 0 and 2 at 1 (mean 0.2); e1: 2 runs at 1 (mean 1.0)
    frame = pd.DataFrame({
        "algorithm": "a", "env_id": ["e0"] * 10 + ["e1"] * 2,
        "score": [0.0] * 8 + [1.0] * 4,
    })
    runs = performance_profile(frame, taus=[0.1, 0.5], reps=200)
    average = average_score_profile(frame, taus=[0.1, 0.5], reps=200)
    assert list(average.columns) == ["algorithm", "tau", "fraction", "lower", "upper"]
    assert runs["fraction"].tolist() == pytest.approx([4 / 12, 4 / 12])  # runs pooled
    assert average["fraction"].tolist() == [1.0, 0.5]  # environments weigh 1/2 each
    # e1 never changes under resampling; e0's mean exceeds 0.1 unless no 1 is drawn
    assert (average["lower"] <= average["fraction"]).all()
    assert (average["fraction"] <= average["upper"]).all()
    assert average["lower"].iloc[1] == 0.5 and average["upper"].iloc[1] == 0.5


def test_average_score_distribution_on_rliable_fixture() -> None:
    x = np.arange(80, dtype=float).reshape(5, 16)  # task means 32..47
    out = average_score_profile(_frame({"x": x}), taus=[0.0, 35.0, 40.5, 47.0], reps=100)
    assert out["fraction"].tolist() == [1.0, 12 / 16, 7 / 16, 0.0]
    for column in ("fraction", "lower", "upper"):
        assert (np.diff(out[column].to_numpy()) <= 1e-12).all()


def test_ragged_weighting_of_iqm_and_profiles_is_by_runs() -> None:
    tasks = [np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5]), np.array([5.0, 6.0])]
    frame = pd.DataFrame({"algorithm": "a", "env_id": ["e0"] * 6 + ["e1"] * 2,
                          "score": np.concatenate(tasks)})
    assert iqm(tasks) == pytest.approx(np.mean([0.2, 0.3, 0.4, 0.5]))  # 8 runs, 2 cut a side
    assert performance_profile(frame, taus=[1.0], reps=50)["fraction"].iloc[0] == 0.25


def test_sample_efficiency_has_no_point_made_of_imputed_runs_only() -> None:
    runs, curves = make_tables(algorithms=("a", "b"), n_configs=2, seeds=3, fail_rate=0.0,
                               diverge_rate=0.0, timeout_rate=0.0, all_failed=("b",), seed=1)
    scores = run_scores(runs)  # worst policy: b's runs are scored (as the worst of a's)
    assert (scores["algorithm"] == "b").any()
    out = sample_efficiency(curves, scores, reps=50)
    assert set(out["algorithm"]) == {"a"}
    # a's ok runs lose their last evaluation on one environment: only imputed values would
    # be left there if a also had failed runs, so the step is not reported for a
    last = curves["step"].max()
    env = sorted(curves["env_id"].unique())[0]
    failed_a = runs[(runs["algorithm"] == "a") & (runs["env_id"] == env)].index[:2]
    runs.loc[failed_a, "status"] = "failed"
    scores = run_scores(runs)
    keep = ~((curves["algorithm"] == "a") & (curves["env_id"] == env) & (curves["step"] == last))
    out = sample_efficiency(curves[keep], scores, reps=50)
    assert last not in out.loc[out["algorithm"] == "a", "step"].tolist()
    assert len(out[out["algorithm"] == "a"]) == curves["step"].nunique() - 1


def test_probability_of_improvement_weighs_environments_equally_with_ragged_runs() -> None:
    # e0: X wins its 8 pairs; e1: X wins 8 of its 16 pairs. Per environment 1 and 1/2, so
    # 0.75; pooling the 24 pairs would give 16/24 = 0.67.
    x = [np.full(8, 2.0), np.array([0.0, 3.0])]
    y = [np.array([1.0]), np.full(8, 1.0)]
    assert probability_of_improvement_tasks(x, y) == pytest.approx(0.75)


def test_g8_ties_count_half_in_the_probability_of_improvement() -> None:
    # analysis-methods.md G8: A = [1, 2, 3], B = [2, 4]; with ties as 1/2, P(A > B) = 1.5 / 6.
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0])
    assert probability_of_improvement_tasks([a], [b]) == 0.25
    assert probability_of_improvement_tasks([b], [a]) == 0.75
    frame = pd.DataFrame({"algorithm": ["A"] * 3 + ["B"] * 2, "env_id": "e",
                          "score": np.r_[a, b]})
    rows = probability_of_improvement(frame, reps=200).set_index(["algorithm_x", "algorithm_y"])
    assert rows.loc[("A", "B"), "probability"] == 0.25
    assert rows.loc[("B", "A"), "probability"] == 0.75
