"""Pairwise tests with effect sizes and Holm correction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rlsens.analysis.pairwise import (
    COLUMNS,
    compare,
    holm,
    pairwise_tests,
    stratified_mannwhitney,
    stratified_welch,
)


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
    pooled = out.iloc[2]
    # the stratified pooled row combines the evidence of both environments: smallest p here
    assert pooled["p_value"] < row["p_value"] < out.iloc[1]["p_value"]
    assert out["p_holm"].iloc[0] == pytest.approx(max(3 * pooled["p_value"], 2 * row["p_value"]))
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


def _same_distributions_unequal_counts() -> pd.DataFrame:
    """Identical per-environment samples for A and B (same means), but A has 10/2 runs on
    e1/e2 and B 2/10: e2 scores 10 higher, so concatenating runs makes B look far better."""
    ten = stats.norm.ppf((np.arange(10) + 0.5) / 10)
    two = np.array([-0.5, 0.5])
    return _frame({("a", "e1"): ten, ("a", "e2"): 10 + two,
                   ("b", "e1"): two, ("b", "e2"): 10 + ten})


@pytest.mark.parametrize("test", ["welch", "mannwhitney", "bootstrap"])
def test_pooled_row_weighs_environments_equally_not_runs(test: str) -> None:
    # Concatenated runs give a mean difference of (20 - 100) / 12 = -6.67 and Holm p < 0.001.
    out = pairwise_tests(_same_distributions_unequal_counts(), test=test, reps=999)
    pooled = out.set_index("env_id").loc["all"]
    assert pooled["mean_diff"] == pytest.approx(0.0, abs=1e-12)
    assert pooled["p_value"] > 0.5 and not pooled["significant"]
    assert not out["significant"].any()


def test_stratified_tests_on_a_duplicated_environment() -> None:
    # The same environment twice: the equal-weight effect is unchanged, its variance halves,
    # so t and z grow by sqrt(2) and Welch's degrees of freedom double.
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.4, 1.0, 7), rng.normal(0.0, 2.0, 5)
    ref = stats.ttest_ind(a, b, equal_var=False)
    t, p, low, high = stratified_welch([a, a], [b, b])
    assert t == pytest.approx(np.sqrt(2) * ref.statistic)
    assert p == pytest.approx(2 * stats.t.sf(abs(t), 2 * ref.df))
    half = stats.t.ppf(0.975, 2 * ref.df) * (a.mean() - b.mean()) / t
    assert (low, high) == pytest.approx((a.mean() - b.mean() - half, a.mean() - b.mean() + half))
    t1, p1, low1, high1 = stratified_welch([a], [b])
    assert (t1, p1) == pytest.approx((ref.statistic, ref.pvalue))
    ci = ref.confidence_interval()
    assert (low1, high1) == pytest.approx((ci.low, ci.high))
    z1_ref = stats.mannwhitneyu(a, b, method="asymptotic", use_continuity=False)
    z1, p1 = stratified_mannwhitney([a], [b])
    assert p1 == pytest.approx(z1_ref.pvalue)
    z2, p2 = stratified_mannwhitney([a, a], [b, b])
    assert z2 == pytest.approx(np.sqrt(2) * z1)
    assert p2 == pytest.approx(2 * stats.norm.sf(abs(z2)))


def test_stratified_mannwhitney_tie_correction_matches_scipy() -> None:
    a, b = np.array([1.0, 2.0, 2.0, 3.0, 3.0, 3.0]), np.array([2.0, 3.0, 4.0, 4.0])
    ref = stats.mannwhitneyu(a, b, method="asymptotic", use_continuity=False)
    assert stratified_mannwhitney([a], [b])[1] == pytest.approx(ref.pvalue)


@pytest.mark.parametrize("test", ["welch", "mannwhitney", "bootstrap"])
def test_pooled_tests_are_calibrated_under_the_null(test: str) -> None:
    # Environments at different levels and spreads, run counts 10/2/5 against 2/10/5, no
    # difference between A and B: the rejection rate must be close to alpha. Measured by
    # benchmarks/calibration_pairwise.py (4000 simulations): welch 0.038, mannwhitney 0.048,
    # bootstrap 0.046, and 0.48 for Welch on runs concatenated across environments.
    rng = np.random.default_rng(123)
    levels, spreads = [0.0, 5.0, -3.0], [1.0, 0.5, 2.0]
    sims, rejected = 1000, 0
    for sim in range(sims):
        x = [rng.normal(m, s, n) for m, s, n in zip(levels, spreads, [10, 2, 5], strict=True)]
        y = [rng.normal(m, s, n) for m, s, n in zip(levels, spreads, [2, 10, 5], strict=True)]
        rejected += compare(x, y, test, reps=199, seed=sim)["p_value"] < 0.05
    assert 0.025 <= rejected / sims <= 0.075


def test_permutation_p_value_is_never_zero() -> None:
    frame = _frame({("a", "e1"): np.arange(8.0) + 100, ("a", "e2"): np.arange(8.0) + 50,
                    ("b", "e1"): np.arange(8.0), ("b", "e2"): np.arange(8.0)})
    out = pairwise_tests(frame, test="bootstrap", reps=99)
    # no shuffle within environments reaches the observed separation: p = 1 / (B + 1)
    assert out["p_value"].tolist() == pytest.approx([0.01, 0.01, 0.01])
    assert (out["p_value"] > 0).all()


def test_constant_scores_are_untestable_not_an_error() -> None:
    frame = _frame({("a", "e1"): np.ones(3), ("a", "e2"): np.ones(3),
                    ("b", "e1"): np.ones(4), ("b", "e2"): np.ones(4)})
    out = pairwise_tests(frame, reps=50)
    assert out["p_value"].isna().all() and not out["significant"].any()
    assert (out["mean_diff"] == 0).all()
