"""Pairwise claims "A differs from B", per environment and pooled, with multiplicity control.

Colas et al. (2018, 2019) show Welch's t-test is the robust default for RL score samples
(unequal variances, small n); Mann-Whitney U drops the normality assumption, and a
resampling test of the mean difference drops both. Every comparison reports effect sizes next
to the p-value, as Agarwal et al. (2021) and Henderson et al. (2018) urge: the mean difference
with a CI and the probability of improvement P(A > B) (ties 1/2). Holm's (1979) step-down
correction controls the family-wise error over all comparisons made (every pair on every
environment plus the pooled rows), generalising Jordan et al.'s (2020) Bonferroni split.

**Pooled rows are stratified by environment.** Concatenating runs across environments
confounds "which algorithm" with "which environment" as soon as run counts differ (an algorithm
with most of its runs on an easy environment looks better). The pooled ``all`` row therefore
compares the *per-environment* effects, each environment weighing the same, whatever its run
counts:

* effect: ``mean_diff = (1/E) Σ_e (mean A_e − mean B_e)`` (the difference of rliable's mean of
  task means), ``prob_improvement = (1/E) Σ_e P(A_e > B_e)`` (rliable's PoI);
* ``welch``: ``t = mean_diff / se`` with ``se² = (1/E²) Σ_e (s²_Ae/n_Ae + s²_Be/n_Be)`` and the
  Welch-Satterthwaite degrees of freedom over all 2E variance components (with E = 1 this is
  exactly Welch's test);
* ``mannwhitney``: the equal-weight stratified Mann-Whitney test: ``z = (mean_e AUC_e − 1/2) /
  sd₀``, ``AUC_e = U_e / (n_Ae n_Be)``, with the exact null variance of each U_e (tie-corrected)
  and a normal reference;
* ``bootstrap``: a permutation test of ``mean_diff`` that shuffles the A/B labels *within each
  environment* (so each environment keeps its own score level), p-value
  ``(1 + #{|d*| ≥ |d|}) / (B + 1)``, never 0; the interval is a percentile bootstrap of
  ``mean_diff`` resampling A's and B's runs independently within each environment.

Per-environment rows are the same tests with E = 1, except that ``mannwhitney`` there uses
scipy's test (exact for small samples without ties).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from rlsens.analysis._rng import derive_rng
from rlsens.analysis.aggregates import (
    CHUNK_ELEMENTS,
    as_tasks,
    batched_mean,
    percentile_interval,
    stratified_bootstrap,
)
from rlsens.analysis.profiles import probability_of_improvement_tasks
from rlsens.analysis.scores import carry_attrs

TESTS = ("welch", "mannwhitney", "bootstrap")
POOLED = "all"
COLUMNS = [
    "env_id", "algorithm_a", "algorithm_b", "n_a", "n_b", "mean_diff", "diff_lower",
    "diff_upper", "prob_improvement", "statistic", "p_value", "p_holm", "significant",
]
NAN = float("nan")


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


def stratified_mean_difference(x: Sequence[np.ndarray], y: Sequence[np.ndarray]) -> float:
    """``(1/E) Σ_e (mean x_e − mean y_e)``: every environment weighs the same."""
    return float(np.mean([a.mean() - b.mean() for a, b in zip(x, y, strict=True)]))


def stratified_welch(
    x: Sequence[np.ndarray], y: Sequence[np.ndarray], confidence: float = 0.95
) -> tuple[float, float, float, float]:
    """``(t, p, lower, upper)`` of the equal-weight mean difference (Welch-Satterthwaite).

    NaN when an environment has fewer than two runs of either algorithm, or when no run
    varies (no variance to test against).
    """
    if min(min(a.size, b.size) for a, b in zip(x, y, strict=True)) < 2:
        return NAN, NAN, NAN, NAN
    n = np.array([a.size for a in [*x, *y]], dtype=float)
    c = np.array([a.var(ddof=1) for a in [*x, *y]]) / n
    e = len(x)
    se = float(np.sqrt(c.sum())) / e
    if se == 0:
        return NAN, NAN, NAN, NAN
    df = float(c.sum() ** 2 / (c**2 / (n - 1)).sum())
    d = stratified_mean_difference(x, y)
    t = d / se
    p = float(2 * stats.t.sf(abs(t), df))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return float(t), p, d - half, d + half


def stratified_mannwhitney(x: Sequence[np.ndarray], y: Sequence[np.ndarray]) -> tuple[float, float]:
    """``(z, p)`` of the equal-weight stratified Mann-Whitney test of mean AUC = 1/2.

    ``Var₀(U_e) = n_A n_B / 12 · (N + 1 − Σ(t³ − t) / (N (N − 1)))`` (ties of size t), so
    ``Var₀(mean AUC) = Σ_e Var₀(U_e) / (n_Ae n_Be)² / E²``. With E = 1 this is scipy's
    asymptotic test without continuity correction.
    """
    auc, var = [], []
    for a, b in zip(x, y, strict=True):
        na, nb = a.size, b.size
        big = na + nb
        _, counts = np.unique(np.concatenate([a, b]), return_counts=True)
        ties = float((counts**3 - counts).sum()) / (big * (big - 1)) if big > 1 else 0.0
        var.append(na * nb / 12.0 * (big + 1 - ties) / (na * nb) ** 2)
        auc.append(probability_of_improvement_tasks([a], [b]))
    sd = float(np.sqrt(np.sum(var))) / len(x)
    if sd == 0:
        return NAN, NAN
    z = (float(np.mean(auc)) - 0.5) / sd
    return z, float(2 * stats.norm.sf(abs(z)))


def stratified_permutation_p(
    x: Sequence[np.ndarray],
    y: Sequence[np.ndarray],
    reps: int,
    rng: np.random.Generator,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> float:
    """Two-sided permutation p-value of the equal-weight mean difference, labels shuffled
    within each environment: ``(1 + #{|d*| ≥ |d|}) / (reps + 1)``, so never 0.

    Exact under the null that A's and B's runs are exchangeable on every environment; a
    relative tolerance of 1e-9 keeps permutations equal to the observation (up to rounding)
    counted as at least as extreme.
    """
    pooled = [np.concatenate([a, b]) for a, b in zip(x, y, strict=True)]
    sizes = [a.size for a in x]
    observed = abs(stratified_mean_difference(x, y))
    per_rep = sum(p.size for p in pooled)
    step = max(1, chunk_elements // max(per_rep, 1))
    hits = 0
    for lo in range(0, reps, step):
        r = min(step, reps - lo)
        total = np.zeros(r)
        for values, na in zip(pooled, sizes, strict=True):
            shuffled = values[np.argsort(rng.random((r, values.size)), axis=1)]
            total += shuffled[:, :na].mean(axis=1) - shuffled[:, na:].mean(axis=1)
        hits += int((np.abs(total / len(pooled)) >= observed * (1 - 1e-9)).sum())
    return (1 + hits) / (reps + 1)


def compare(
    x: Sequence[np.ndarray],
    y: Sequence[np.ndarray],
    test: str = "welch",
    reps: int = 10_000,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> dict[str, float]:
    """One comparison of A's runs ``x`` with B's runs ``y`` (lists of per-env arrays, the same
    environments), stratified by environment as the module docstring defines."""
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    x, y = as_tasks(x), as_tasks(y)
    if len(x) != len(y):
        raise ValueError("a comparison needs the same environments for both algorithms")
    rng = derive_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if test == "welch":
            statistic, p_value, low, high = stratified_welch(x, y, confidence)
        else:
            diffs = (stratified_bootstrap(x, batched_mean, reps, rng)
                     - stratified_bootstrap(y, batched_mean, reps, rng))
            low, high = percentile_interval(diffs, confidence)
            if test == "bootstrap":
                statistic = stratified_mean_difference(x, y)
                p_value = stratified_permutation_p(x, y, reps, rng)
            elif len(x) == 1:
                result = stats.mannwhitneyu(x[0], y[0], alternative="two-sided")
                statistic, p_value = float(result.statistic), float(result.pvalue)
            else:
                statistic, p_value = stratified_mannwhitney(x, y)
    return {
        "n_a": sum(a.size for a in x), "n_b": sum(b.size for b in y),
        "mean_diff": stratified_mean_difference(x, y), "diff_lower": low, "diff_upper": high,
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

    The pooled row weighs every shared environment equally (see the module docstring) and
    assumes per-environment normalized scores (see ``normalize``), so that a difference on one
    environment means as much as on another. ``statistic`` is Welch's t (``welch``), U on one
    environment and the stratified z on the pooled row (``mannwhitney``), or the mean
    difference (``bootstrap``). ``p_holm`` corrects over all rows; ``significant`` is
    ``p_holm < alpha``. Columns: env_id, algorithm_a, algorithm_b, n_a, n_b, mean_diff,
    diff_lower, diff_upper, prob_improvement, statistic, p_value, p_holm, significant.
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
