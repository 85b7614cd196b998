"""Score distributions, probability of improvement, sample-efficiency curves and spread.

Agarwal et al. (2021) argue for reporting whole score distributions instead of point
estimates; these follow rliable's definitions:

- performance profile (run-score distribution): F(tau) = fraction of all runs (pooled over
  environments) with score strictly greater than tau, with pointwise stratified-bootstrap
  percentile bands;
- average-score distribution (rliable's ``use_score_distribution=False``): the fraction of
  environments whose mean score over runs is strictly greater than tau, same bands;
- probability of improvement: P(X > Y) = mean over environments of U / (n_x n_y), U the
  Mann-Whitney statistic (ties count 1/2), with a CI from resampling X and Y independently
  within each environment (rliable's ``StratifiedIndependentBootstrap``);
- sample-efficiency curve: IQM of the scores at each evaluation step, with CIs.

``spread`` gives the percentile summary per algorithm and environment that Patterson et al.
(2024) recommend reporting next to any mean.

Ragged run counts (environments with different numbers of runs for one algorithm) weigh
differently by design, as in rliable: the run-score profile, the IQM and the sample-efficiency
IQM pool *runs*, so an environment with more runs weighs more; the average-score distribution,
the mean and median of task means and the probability of improvement weigh every *environment*
equally. Report both kinds when run counts differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from rlsens.analysis._rng import derive_rng
from rlsens.analysis.aggregates import (
    as_tasks,
    batched_iqm,
    batched_task_means,
    iqm,
    padded,
    percentile_interval,
    score_tasks,
    stratified_bootstrap,
)
from rlsens.analysis.normalize import fit_normalizer, normalization_params
from rlsens.analysis.scores import carry_attrs
from rlsens.record import OK


def exceed_fractions(b: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Fraction of each replicate's runs (NaN = empty slot) strictly above each tau.

    Vectorized without a (reps x runs x taus) array: a score exceeds tau_0..tau_{k-1} where
    k = searchsorted(taus, score); a per-row histogram of k, summed from the top, gives the
    counts for every tau at once. ``taus`` must be sorted ascending.
    """
    flat = b.reshape(len(b), -1)
    valid = ~np.isnan(flat)
    k = np.where(valid, np.searchsorted(taus, np.where(valid, flat, 0.0), side="left"), 0)
    width = taus.size + 1
    hist = np.bincount(
        (np.arange(len(flat))[:, None] * width + k).ravel(),
        weights=valid.ravel().astype(float),
        minlength=len(flat) * width,
    ).reshape(len(flat), width)
    above = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]
    return above / valid.sum(axis=1, keepdims=True)


def default_taus(scores: pd.DataFrame, points: int = 101) -> np.ndarray:
    """An evenly spaced tau grid over the observed score range (shared by all algorithms)."""
    return np.linspace(scores["score"].min(), scores["score"].max(), points)


PROFILE_COLUMNS = ["algorithm", "tau", "fraction", "lower", "upper"]


def _profiles(
    scores: pd.DataFrame,
    taus: ArrayLike | None,
    reps: int,
    confidence: float,
    seed: int,
    fractions: Callable[[np.ndarray, np.ndarray], np.ndarray],
    stream: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Point curve and pointwise percentile bands of a batched ``fractions(batch, grid)``."""
    grid = np.unique(np.asarray(default_taus(scores) if taus is None else taus, dtype=float))
    tail = (1 - confidence) / 2
    frames = []
    for algorithm, frame in scores.groupby("algorithm", sort=True):
        tasks = score_tasks(frame)
        point = fractions(padded(tasks)[None], grid)[0]
        replicates = stratified_bootstrap(
            tasks, lambda b: fractions(b, grid), reps, derive_rng(seed, str(algorithm), *stream)
        )
        low, high = np.percentile(replicates, [100 * tail, 100 * (1 - tail)], axis=0)
        frames.append(pd.DataFrame({"algorithm": algorithm, "tau": grid, "fraction": point,
                                    "lower": low, "upper": high}))
    return carry_attrs(_concat(frames, PROFILE_COLUMNS), scores)


def performance_profile(
    scores: pd.DataFrame,
    taus: ArrayLike | None = None,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Run-score distribution per algorithm: columns algorithm, tau, fraction, lower, upper.

    Runs are pooled over environments (a fraction of runs, as in rliable; with ragged run
    counts an environment with more runs weighs more). Each replicate curve is non-increasing
    in tau, so the pointwise percentile bands are too.
    """
    return _profiles(scores, taus, reps, confidence, seed, exceed_fractions)


def _average_fractions(b: np.ndarray, taus: np.ndarray) -> np.ndarray:
    return exceed_fractions(batched_task_means(b)[:, None, :], taus)


def average_score_profile(
    scores: pd.DataFrame,
    taus: ArrayLike | None = None,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Average-score distribution per algorithm: columns algorithm, tau, fraction, lower, upper.

    ``fraction`` is the share of the algorithm's environments whose mean score over runs
    exceeds tau (rliable's ``mean_score_deviation``), so every environment weighs 1/E whatever
    its run count; it moves in steps of 1/E and is noisier than the run-score profile with few
    environments. Bands are pointwise percentile intervals of the stratified bootstrap (runs
    resampled within each environment, the environment set fixed), on their own stream:
    ``(seed, algorithm, "average")``.
    """
    return _profiles(scores, taus, reps, confidence, seed, _average_fractions, ("average",))


def _concat(frames: Sequence[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def pair_matrix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """C[i, j] = 1 if x_i > y_j, 1/2 if tied, 0 otherwise: the Mann-Whitney kernel."""
    return (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])


def probability_of_improvement_tasks(x: ArrayLike, y: ArrayLike) -> float:
    """P(X > Y) = mean over tasks of U_m / (n_x n_y) (rliable; ties 1/2; identical arrays
    give exactly 0.5). ``x`` and ``y`` hold the same tasks, possibly different run counts."""
    xs, ys = as_tasks(x), as_tasks(y)
    if len(xs) != len(ys):
        raise ValueError("probability of improvement needs the same tasks for both algorithms")
    values = [
        0.5 if np.array_equal(a, b) else float(pair_matrix(a, b).mean())
        for a, b in zip(xs, ys, strict=True)
    ]
    return float(np.mean(values))


def resample_counts(n: int, reps: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of n runs appears in each of ``reps`` with-replacement resamples."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=reps)


def poi_replicates(
    x: Sequence[np.ndarray], y: Sequence[np.ndarray], reps: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap replicates of P(X > Y), X and Y resampled independently within each task.

    A resample's U statistic is c_x^T C c_y for resample counts c_x, c_y, so each replicate
    costs a matrix product instead of a fresh pairwise comparison.
    """
    total = np.zeros(reps)
    for a, b in zip(x, y, strict=True):
        cx, cy = resample_counts(a.size, reps, rng), resample_counts(b.size, reps, rng)
        total += ((cx @ pair_matrix(a, b)) * cy).sum(axis=1) / (a.size * b.size)
    return total / len(x)


def _common_tasks(
    fx: pd.DataFrame, fy: pd.DataFrame
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    envs = sorted(set(fx["env_id"]) & set(fy["env_id"]))
    by_x, by_y = fx.groupby("env_id")["score"], fy.groupby("env_id")["score"]
    return (
        [by_x.get_group(e).to_numpy(dtype=float) for e in envs],
        [by_y.get_group(e).to_numpy(dtype=float) for e in envs],
    )


def probability_of_improvement(
    scores: pd.DataFrame, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """P(X > Y) for every ordered pair of algorithms over their common environments.

    Columns: algorithm_x, algorithm_y, probability, lower, upper. The (Y, X) row is computed
    from the same replicates as 1 - P(X > Y), so the two rows are exactly complementary.
    """
    groups = dict(tuple(scores.groupby("algorithm", sort=True)))
    names = list(groups)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            x, y = _common_tasks(groups[a], groups[b])
            if not x:
                continue
            point = probability_of_improvement_tasks(x, y)
            reps_ab = poi_replicates(x, y, reps, derive_rng(seed, str(a), str(b)))
            low, high = percentile_interval(reps_ab, confidence)
            rows.append((a, b, point, low, high))
            rows.append((b, a, 1.0 - point, 1.0 - high, 1.0 - low))
    columns = ["algorithm_x", "algorithm_y", "probability", "lower", "upper"]
    return carry_attrs(pd.DataFrame(rows, columns=columns), scores)


def curve_scores(curves: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Per-run, per-step values on the scale and with the failed-run policy of ``scores``.

    Only runs present in ``scores`` count (so ``failed="exclude"`` carries over). Runs whose
    status is not ``ok`` take, at every step, the worst ``ok`` return observed on their
    environment at that step across all algorithms (the ``worst`` policy applied per step);
    the ``imputed`` column marks those rows. Values go through the same per-environment
    normalization as the scores.
    """
    kept = scores[["run_id", "algorithm", "env_id", "status"]]
    ok_curves = curves[curves["run_id"].isin(kept.loc[kept["status"] == OK, "run_id"])]
    ok_curves = ok_curves[np.isfinite(ok_curves["return_mean"])]
    values = ok_curves[["run_id", "algorithm", "env_id", "step", "return_mean"]]
    worst = ok_curves.groupby(["env_id", "step"], as_index=False)["return_mean"].min()
    failed = kept[kept["status"] != OK].merge(worst, on="env_id")
    table = pd.concat([values.assign(imputed=False),
                       failed[values.columns].assign(imputed=True)], ignore_index=True)
    transforms = fit_normalizer(scores, **normalization_params(scores))
    table["value"] = table["return_mean"].astype(float)
    for env_id, index in table.groupby("env_id").indices.items():
        table.loc[table.index[index], "value"] = transforms[env_id](
            table["return_mean"].to_numpy(dtype=float)[index]
        )
    return table


def sample_efficiency(
    curves: pd.DataFrame,
    scores: pd.DataFrame,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """IQM vs training steps per algorithm, with stratified-bootstrap percentile CIs.

    Columns: algorithm, step, iqm, lower, upper, n_runs, n_envs. At each step the runs that
    have an evaluation at exactly that step are pooled (no interpolation between differing
    evaluation schedules); a step is reported only if every environment of the algorithm has
    at least one of the algorithm's own ``ok`` runs evaluated there, so every point aggregates
    the same environment set and no point is made of imputed failed runs alone (they join the
    pool only beside a real observation of their environment). The IQM pools runs: with
    ragged run counts an environment with more runs at a step weighs more (rliable's IQM).
    """
    table = curve_scores(curves, scores)
    rows = []
    for algorithm, frame in table.groupby("algorithm", sort=True):
        n_envs = scores.loc[scores["algorithm"] == algorithm, "env_id"].nunique()
        for step, at_step in frame.groupby("step", sort=True):
            observed = at_step.loc[~at_step["imputed"], "env_id"].nunique()
            if observed < n_envs:
                continue
            tasks = [g.to_numpy(dtype=float) for _, g in at_step.groupby("env_id")["value"]]
            replicates = stratified_bootstrap(
                tasks, batched_iqm, reps, derive_rng(seed, str(algorithm), str(step))
            )
            low, high = percentile_interval(replicates, confidence)
            rows.append((algorithm, int(step), iqm(tasks), low, high, len(at_step), len(tasks)))
    columns = ["algorithm", "step", "iqm", "lower", "upper", "n_runs", "n_envs"]
    return carry_attrs(pd.DataFrame(rows, columns=columns), scores)


def spread(scores: pd.DataFrame) -> pd.DataFrame:
    """Distribution summary per algorithm x environment: n, mean, min, p5, p25, median, p75,
    p95, max (linear-interpolated quantiles)."""
    grouped = scores.groupby(["algorithm", "env_id"], sort=True)["score"]
    out = grouped.agg(["size", "mean", "min"]).rename(columns={"size": "n"})
    for name, q in (("p5", 0.05), ("p25", 0.25), ("median", 0.5), ("p75", 0.75), ("p95", 0.95)):
        out[name] = grouped.quantile(q)
    out["max"] = grouped.max()
    return carry_attrs(out.reset_index(), scores)
