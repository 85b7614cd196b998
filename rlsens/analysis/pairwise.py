"""Pairwise claims "A differs from B", per environment and pooled, with multiplicity control.

Colas et al. (2018, 2019) show Welch's t-test is the robust default for RL score samples
(unequal variances, small n); Mann-Whitney U drops the normality assumption, and a bootstrap of
the mean difference drops both. Every comparison reports effect sizes next to the p-value, as
Agarwal et al. (2021) and Henderson et al. (2018) urge: the mean difference with a CI and the
probability of improvement P(A > B) (ties 1/2). Holm's (1979) step-down correction controls
the family-wise error over all comparisons made (every pair on every environment plus the
pooled rows), generalising Jordan et al.'s (2020) Bonferroni split.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from rlsens.analysis._rng import derive_rng
from rlsens.analysis.aggregates import percentile_interval, stratified_bootstrap
from rlsens.analysis.profiles import probability_of_improvement_tasks
from rlsens.analysis.scores import carry_attrs

TESTS = ("welch", "mannwhitney", "bootstrap")
POOLED = "all"
COLUMNS = [
    "env_id", "algorithm_a", "algorithm_b", "n_a", "n_b", "mean_diff", "diff_lower",
    "diff_upper", "prob_improvement", "statistic", "p_value", "p_holm", "significant",
]


def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm-adjusted p-values: the i-th smallest of m becomes max_{j<=i} min(1, (m-j+1) p_(j)).

    NaN p-values (untestable comparisons) are not counted in the family and stay NaN.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


def _pooled_mean(b: np.ndarray) -> np.ndarray:
    flat = b.reshape(len(b), -1)
    valid = ~np.isnan(flat)
    return np.where(valid, flat, 0.0).sum(axis=1) / valid.sum(axis=1)


def _test(test: str, x: np.ndarray, y: np.ndarray, diffs: np.ndarray) -> tuple[float, float]:
    """(statistic, two-sided p-value) of the chosen test; NaN when it is undefined."""
    if test == "bootstrap":
        tail = min((diffs <= 0).mean(), (diffs >= 0).mean())
        return float(x.mean() - y.mean()), float(min(1.0, 2 * tail))
    if test == "mannwhitney":
        result = stats.mannwhitneyu(x, y, alternative="two-sided")
        return float(result.statistic), float(result.pvalue)
    if min(x.size, y.size) < 2:
        return float("nan"), float("nan")
    result = stats.ttest_ind(x, y, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def _diff_interval(
    test: str, x: np.ndarray, y: np.ndarray, diffs: np.ndarray, confidence: float
) -> tuple[float, float]:
    """Welch-Satterthwaite t interval for ``welch``; percentile bootstrap otherwise."""
    if test != "welch":
        return percentile_interval(diffs, confidence)
    if min(x.size, y.size) < 2:
        return float("nan"), float("nan")
    ci = stats.ttest_ind(x, y, equal_var=False).confidence_interval(confidence)
    return float(ci.low), float(ci.high)


def compare(
    x: Sequence[np.ndarray],
    y: Sequence[np.ndarray],
    test: str = "welch",
    reps: int = 10_000,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> dict[str, float]:
    """One comparison of A's runs ``x`` with B's runs ``y`` (lists of per-env arrays, the same
    environments): tests run on the pooled runs; the bootstrap resamples within environments."""
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    rng = derive_rng(seed)
    xs, ys = np.concatenate(x), np.concatenate(y)
    diffs = stratified_bootstrap(x, _pooled_mean, reps, rng) - stratified_bootstrap(
        y, _pooled_mean, reps, rng
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        statistic, p_value = _test(test, xs, ys, diffs)
        low, high = _diff_interval(test, xs, ys, diffs, confidence)
    return {
        "n_a": xs.size, "n_b": ys.size, "mean_diff": float(xs.mean() - ys.mean()),
        "diff_lower": low, "diff_upper": high,
        "prob_improvement": probability_of_improvement_tasks(x, y),
        "statistic": statistic, "p_value": p_value,
    }


def pairwise_tests(
    scores: pd.DataFrame,
    test: str = "welch",
    alpha: float = 0.05,
    reps: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Every pair of algorithms (A before B alphabetically) on every shared environment, plus
    a pooled row (``env_id == "all"``) over the shared environments when there are several.

    The pooled row assumes per-environment normalized scores (see ``normalize``). ``p_holm``
    corrects over all rows; ``significant`` is ``p_holm < alpha``. Columns: env_id,
    algorithm_a, algorithm_b, n_a, n_b, mean_diff, diff_lower, diff_upper, prob_improvement,
    statistic, p_value, p_holm, significant.
    """
    tasks = {
        key: g.to_numpy(dtype=float)
        for key, g in scores.groupby(["algorithm", "env_id"], sort=True)["score"]
    }
    names = sorted(scores["algorithm"].unique())
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            envs = sorted({e for (n, e) in tasks if n == a} & {e for (n, e) in tasks if n == b})
            groups = [(e, [e]) for e in envs] + ([(POOLED, envs)] if len(envs) > 1 else [])
            for label, members in groups:
                x = [tasks[(a, e)] for e in members]
                y = [tasks[(b, e)] for e in members]
                rng = derive_rng(seed, str(label), str(a), str(b))
                rows.append({"env_id": label, "algorithm_a": a, "algorithm_b": b,
                             **compare(x, y, test, reps, confidence, rng)})
    out = pd.DataFrame(rows, columns=COLUMNS[:-2])
    out["p_holm"] = holm(out["p_value"].to_numpy(dtype=float))
    out["significant"] = out["p_holm"] < alpha
    out = carry_attrs(out, scores)
    out.attrs["test"] = test
    return out
