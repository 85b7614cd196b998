"""Aggregates (rliable semantics, G1/G2/G4) and the vectorized stratified bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.stats._resampling import BootstrapResult

from rlsens.analysis.aggregates import (
    METRICS,
    aggregate_estimates,
    batched_metric,
    bca_acceleration,
    bca_interval,
    interval_estimates,
    iqm,
    jackknife,
    mean_of_task_means,
    median_of_task_means,
    optimality_gap,
    padded,
    point_metric,
    stratified_bootstrap,
    stratified_indices,
)

X = np.array([[1, 2], [2, 2], [1, 1], [2, 1]], dtype=float)
Y = np.array([[1, 1], [2, 2], [3, 3]], dtype=float)
ARANGE = np.arange(80, dtype=float).reshape(5, 16)


def test_g1_rliable_unit_case() -> None:
    assert (mean_of_task_means(X), median_of_task_means(X), iqm(X)) == (1.5, 1.5, 1.5)
    assert optimality_gap(X) == 0.0
    assert (mean_of_task_means(Y), median_of_task_means(Y), iqm(Y)) == (2.0, 2.0, 2.0)


def test_g2_iqm_trim_rule() -> None:
    assert iqm(np.arange(1.0, 11.0)) == 5.5
    assert iqm(np.arange(1.0, 9.0)) == 4.5
    assert iqm([[1.0, 2, 3, 4, 5, 100]]) == 3.5


def test_g4_arange_fixture() -> None:
    assert mean_of_task_means(ARANGE) == 39.5
    assert median_of_task_means(ARANGE) == 39.5
    assert iqm(ARANGE) == 39.5
    assert optimality_gap(ARANGE, 1.0) == pytest.approx(0.0125, abs=1e-15)
    assert optimality_gap(ARANGE, 50.0) == 15.9375


def test_ragged_tasks_and_batched_forms_match_point_estimates() -> None:
    rng = np.random.default_rng(0)
    tasks = [rng.normal(size=n) for n in (3, 8, 5)]
    assert mean_of_task_means(tasks) == pytest.approx(np.mean([t.mean() for t in tasks]))
    assert iqm(tasks) == pytest.approx(stats.trim_mean(np.concatenate(tasks), 0.25))
    for metric in METRICS:
        batched = batched_metric(metric, 0.5)(padded(tasks)[None])
        assert batched[0] == pytest.approx(point_metric(metric, tasks, 0.5))


def test_nonfinite_scores_rejected() -> None:
    with pytest.raises(ValueError, match="finite"):
        iqm([[1.0, np.nan]])


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    sizes=st.lists(st.integers(1, 7), min_size=1, max_size=5),
    reps=st.integers(1, 40),
    task_bootstrap=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_resampling_never_mixes_strata(
    sizes: list[int], reps: int, task_bootstrap: bool, seed: int
) -> None:
    task, run = stratified_indices(sizes, reps, np.random.default_rng(seed), task_bootstrap)
    width = max(sizes)
    assert task.shape == (reps, len(sizes)) and run.shape == (reps, len(sizes), width)
    if not task_bootstrap:
        assert (task == np.arange(len(sizes))).all()
    n = np.asarray(sizes)[task][..., None]
    slot = np.arange(width)
    assert ((run >= 0) & (run < n))[np.broadcast_to(slot < n, run.shape)].all()
    assert (run == width)[np.broadcast_to(slot >= n, run.shape)].all()


def test_resampled_values_come_from_their_own_task() -> None:
    tasks = [np.array([1.0, 2.0]), np.array([10.0, 11.0, 12.0]), np.array([100.0])]
    seen = stratified_bootstrap(tasks, lambda b: b.reshape(len(b), -1), reps=200, seed=3)
    seen = seen.reshape(200, 3, -1)
    for m, t in enumerate(tasks):
        values = seen[:, m][~np.isnan(seen[:, m])]
        assert set(values) <= set(t)
        assert (~np.isnan(seen[:, m])).sum(axis=1).tolist() == [t.size] * 200


def test_same_seed_same_result_different_seed_different_result() -> None:
    first = interval_estimates(ARANGE, reps=500, seed=7)
    assert interval_estimates(ARANGE, reps=500, seed=7) == first
    assert interval_estimates(ARANGE, reps=500, seed=8) != first


def test_chunking_covers_all_reps() -> None:
    reps = stratified_bootstrap(ARANGE, batched_metric("mean"), reps=1001, seed=0,
                                chunk_elements=1000)
    assert reps.shape == (1001,)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    data=st.lists(
        st.lists(st.floats(-100, 100, allow_nan=False), min_size=3, max_size=8),
        min_size=1, max_size=4,
    ),
    metric=st.sampled_from(METRICS),
    method=st.sampled_from(["percentile", "bca"]),
)
def test_ci_contains_point_estimate_on_nondegenerate_data(
    data: list[list[float]], metric: str, method: str
) -> None:
    tasks = [np.array(d) for d in data]
    if any(np.unique(t).size < 3 for t in tasks):  # non-degenerate: spread in every task
        return
    point, low, high = interval_estimates(tasks, (metric,), reps=300, method=method,
                                          gamma=0.0)[metric]
    assert low <= point <= high


def test_library_fixture_lower_point_upper_for_all_methods() -> None:
    for method in ("percentile", "bca"):
        estimates = interval_estimates(ARANGE, reps=2000, method=method, gamma=50.0, seed=1)
        for metric, (point, low, high) in estimates.items():
            assert low < point < high, (metric, method)


def test_percentile_ci_agrees_with_scipy_within_monte_carlo_error() -> None:
    x = np.random.default_rng(11).gamma(2.0, 1.0, size=30)
    _, low, high = interval_estimates([x], ("mean",), reps=20_000, seed=0)["mean"]
    ref = stats.bootstrap((x,), np.mean, n_resamples=20_000, method="percentile",
                          rng=np.random.default_rng(1)).confidence_interval
    # Monte Carlo sd of a 2.5% quantile of B normal-ish replicates with sd `se`:
    # sqrt(q (1 - q) / B) / density(z_q); two independent runs -> sqrt(2); allow 4 sd.
    se = x.std() / np.sqrt(x.size)
    mc_sd = np.sqrt(0.025 * 0.975 / 20_000) / stats.norm.pdf(1.96) * se
    tolerance = 4 * np.sqrt(2) * mc_sd
    assert abs(low - ref.low) < tolerance and abs(high - ref.high) < tolerance


@pytest.mark.parametrize("n_tasks", [1, 2])
def test_bca_matches_scipy_given_the_same_replicates(n_tasks: int) -> None:
    rng = np.random.default_rng(5)
    tasks = [rng.gamma(2.0, 1.0, size=n) for n in (15, 9)[:n_tasks]]
    stat = batched_metric("mean")
    replicates = stratified_bootstrap(tasks, stat, reps=4000, seed=2)
    accel = bca_acceleration(jackknife(tasks, stat))
    ours = bca_interval(replicates, mean_of_task_means(tasks), accel)
    previous = BootstrapResult(confidence_interval=None, bootstrap_distribution=replicates,
                               standard_error=None)

    def mean_of_means(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean([s.mean(axis=axis) for s in samples], axis=0)

    ref = stats.bootstrap(tuple(tasks), mean_of_means, n_resamples=0, method="BCa",
                          bootstrap_result=previous).confidence_interval
    assert ours == pytest.approx((ref.low, ref.high), rel=1e-12)


def test_bca_acceleration_single_sample_matches_efron_formula() -> None:
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    jack = jackknife([x], batched_metric("mean"))[0]
    d = jack.mean() - jack
    assert bca_acceleration([jack]) == pytest.approx((d**3).sum() / (6 * (d**2).sum() ** 1.5))


def test_bca_rejects_task_bootstrap_and_single_runs() -> None:
    with pytest.raises(ValueError, match="task_bootstrap"):
        interval_estimates(ARANGE, reps=10, method="bca", task_bootstrap=True)
    with pytest.raises(ValueError, match="two runs"):
        interval_estimates([[1.0], [2.0, 3.0]], reps=10, method="bca")


def test_task_bootstrap_with_ragged_tasks_is_wider() -> None:
    tasks = [np.arange(5.0), np.arange(9.0) + 20, np.arange(7.0) + 40]
    _, low, high = interval_estimates(tasks, ("iqm",), reps=2000)["iqm"]
    _, tlow, thigh = interval_estimates(tasks, ("iqm",), reps=2000, task_bootstrap=True)["iqm"]
    assert thigh - tlow > high - low


def test_aggregate_estimates_frame() -> None:
    rows = [
        {"algorithm": a, "env_id": f"e{m}", "score": float(v)}
        for a, matrix in (("x", X), ("y", Y))
        for m in range(matrix.shape[1])
        for v in matrix[:, m]
    ]
    scores = pd.DataFrame(rows)
    scores.attrs["failed_policy_text"] = "stated"
    out = aggregate_estimates(scores, reps=200)
    assert list(out.columns) == ["algorithm", "metric", "point", "lower", "upper", "n_runs",
                                 "n_envs"]
    assert out.set_index(["algorithm", "metric"]).loc[("y", "iqm"), "point"] == 2.0
    assert out["n_runs"].tolist()[:1] == [8] and out["n_envs"].unique().tolist() == [2]
    assert out.attrs["failed_policy_text"] == "stated"
    only_x = aggregate_estimates(scores[scores["algorithm"] == "x"], reps=200)
    pd.testing.assert_frame_equal(only_x, out[out["algorithm"] == "x"].reset_index(drop=True))
