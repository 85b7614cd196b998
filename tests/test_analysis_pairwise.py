"""Pairwise tests with effect sizes and Holm correction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rlsens.analysis.pairwise import COLUMNS, holm, pairwise_tests


def _frame(samples: dict[tuple[str, str], np.ndarray]) -> pd.DataFrame:
    rows = [
        {"algorithm": a, "env_id": e, "score": float(v)}
        for (a, e), values in samples.items()
        for v in values
    ]
    return pd.DataFrame(rows)


def _data() -> dict[tuple[str, str], np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        ("a", "e1"): rng.normal(1.0, 0.2, 12),
        ("a", "e2"): rng.normal(0.8, 0.3, 10),
        ("b", "e1"): rng.normal(0.0, 0.5, 8),
        ("b", "e2"): rng.normal(0.7, 0.3, 10),
    }


def test_holm_known_values() -> None:
    p = [0.01, 0.04, 0.03, np.nan, 0.005]
    out = holm(p)
    assert out[4] == pytest.approx(0.02)
    assert out[0] == pytest.approx(0.03)
    assert out[2] == pytest.approx(0.06)
    assert out[1] == pytest.approx(0.06)  # monotone: never below an earlier adjusted value
    assert np.isnan(out[3])


def test_welch_rows_match_scipy_and_pooled_row() -> None:
    data = _data()
    out = pairwise_tests(_frame(data), reps=500)
    assert list(out.columns) == COLUMNS
    assert out["env_id"].tolist() == ["e1", "e2", "all"]
    row = out.iloc[0]
    ref = stats.ttest_ind(data[("a", "e1")], data[("b", "e1")], equal_var=False)
    assert row["statistic"] == pytest.approx(ref.statistic)
    assert row["p_value"] == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval()
    assert (row["diff_lower"], row["diff_upper"]) == pytest.approx((ci.low, ci.high))
    assert (row["n_a"], row["n_b"]) == (12, 8)
    assert row["significant"] and not out.iloc[1]["significant"]
    assert out["p_holm"].iloc[0] == pytest.approx(min(1.0, 3 * row["p_value"]))
    pooled = out.iloc[2]
    assert pooled["n_a"] == 22 and pooled["n_b"] == 18
    per_env = out.iloc[:2]["prob_improvement"].mean()
    assert pooled["prob_improvement"] == pytest.approx(per_env)
    assert out.attrs["test"] == "welch"


def test_mannwhitney_and_bootstrap() -> None:
    data = _data()
    mw = pairwise_tests(_frame(data), test="mannwhitney", reps=500).iloc[0]
    ref = stats.mannwhitneyu(data[("a", "e1")], data[("b", "e1")], alternative="two-sided")
    assert mw["statistic"] == ref.statistic and mw["p_value"] == pytest.approx(ref.pvalue)
    assert mw["prob_improvement"] == pytest.approx(ref.statistic / (12 * 8))
    boot = pairwise_tests(_frame(data), test="bootstrap", reps=2000)
    assert boot.iloc[0]["p_value"] < 0.01 and boot.iloc[0]["diff_lower"] > 0
    assert boot.iloc[1]["diff_lower"] < boot.iloc[1]["mean_diff"] < boot.iloc[1]["diff_upper"]
    again = pairwise_tests(_frame(data), test="bootstrap", reps=2000)
    pd.testing.assert_frame_equal(boot, again)


def test_untestable_comparison_is_nan_and_not_significant() -> None:
    frame = _frame({("a", "e"): np.array([1.0]), ("b", "e"): np.array([0.0, 0.5])})
    row = pairwise_tests(frame, reps=100).iloc[0]
    assert np.isnan(row["p_value"]) and np.isnan(row["p_holm"]) and not row["significant"]


def test_unknown_test_rejected() -> None:
    with pytest.raises(ValueError, match="test"):
        pairwise_tests(_frame(_data()), test="ks")
