"""Aggregate scores across environments with stratified-bootstrap confidence intervals.

Semantics follow rliable (Agarwal et al., 2021, "Deep RL at the Edge of the Statistical
Precipice"), so point estimates match that library exactly:

- ``mean``: mean over tasks of the per-task mean over runs;
- ``median``: median over tasks of the per-task means (not a median over runs);
- ``iqm``: ``scipy.stats.trim_mean(all runs pooled, 0.25)``, which drops ``int(0.25 K)`` runs
  from each end of the K pooled runs (not a fractional interquartile mean);
- ``optimality_gap``: ``gamma - mean(min(x, gamma))`` over all runs pooled (lower is better).

What rliable lacks and this module adds: ragged run counts (a list of per-task arrays), an
explicit ``np.random.Generator`` seed (rliable's ``random_state`` is ignored by its index
draws), BCa intervals computed here (no ``arch`` dependency), and a vectorized bootstrap:
replicates are drawn as a ``(reps, tasks, runs)`` array in memory-bounded chunks, and every
statistic works on the whole batch at once (sorting along an axis for the IQM).

Resampling is stratified by task (stratified resampling, Davison & Hinkley, 1997; rliable's
``StratifiedBootstrap``): each replicate redraws every task's runs with replacement from that
task only, with that task's own run count. ``task_bootstrap=True`` also redraws the task set
(with replacement), answering "what if we had benchmarked other environments".

Interval methods (``INTERVALS``), all read the same stratified replicates (drawn as rliable
draws them, from an explicit generator):

- ``percentile``: the replicate quantiles (rliable's default);
- ``bca``: BCa as rliable computes it through ``arch``'s ``IIDBootstrap``: the acceleration
  comes from a jackknife that leaves out one *run index* i from every task at once (row i of
  the ``runs x tasks`` matrix, N values), and the bias correction is
  ``z0 = Φ⁻¹(#{θ* < θ̂} / B)`` (ties count as above). It needs equal run counts per task.
  Given the same replicates it reproduces arch's interval for a single-metric statistic
  (with several metrics in one ``func``, arch centres the jackknife values on their mean over
  all metrics, which mixes metrics; each metric here gets its own jackknife);
- ``bca_scipy``: BCa as ``scipy.stats.bootstrap`` computes it for several samples: a
  jackknife that leaves out each run of each task separately (Σ n_m values, one stratum at a
  time) and ties counted as half in ``z0``. It works with ragged run counts.

The two BCa definitions differ whenever the jackknife values differ (e.g. the library_test
fixture of rliable for the optimality gap), so the report says which one it used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special, stats

from rlsens.analysis._rng import derive_rng
from rlsens.analysis.scores import carry_attrs

Tasks = ArrayLike | Sequence[ArrayLike]
Batched = Callable[[np.ndarray], np.ndarray]
METRICS = ("iqm", "mean", "median", "optimality_gap")
INTERVALS = ("percentile", "bca", "bca_scipy")
CHUNK_ELEMENTS = 2**21


def as_tasks(x: Tasks) -> list[np.ndarray]:
    """Per-task 1-D score arrays from a ``runs x tasks`` matrix (rliable layout) or a list."""
    if isinstance(x, np.ndarray) and x.ndim == 2:
        tasks = [x[:, m].astype(float) for m in range(x.shape[1])]
    elif isinstance(x, np.ndarray) and x.ndim == 1:
        tasks = [x.astype(float)]
    else:
        tasks = [np.asarray(t, dtype=float).ravel() for t in x]  # type: ignore[union-attr]
    if not tasks or any(t.size == 0 for t in tasks):
        raise ValueError("every task needs at least one run")
    if not all(np.isfinite(t).all() for t in tasks):
        raise ValueError("scores must be finite (apply a failed-run policy first)")
    return tasks


def iqm(x: Tasks) -> float:
    """Interquartile mean of all runs pooled: ``scipy.stats.trim_mean(·, 0.25)`` (rliable)."""
    return float(stats.trim_mean(np.concatenate(as_tasks(x)), 0.25))


def mean_of_task_means(x: Tasks) -> float:
    """Mean over tasks of per-task mean scores (rliable ``aggregate_mean``)."""
    return float(np.mean([t.mean() for t in as_tasks(x)]))


def median_of_task_means(x: Tasks) -> float:
    """Median over tasks of per-task mean scores (rliable ``aggregate_median``)."""
    return float(np.median([t.mean() for t in as_tasks(x)]))


def optimality_gap(x: Tasks, gamma: float = 1.0) -> float:
    """``gamma`` minus the mean of ``min(score, gamma)`` over all runs pooled (rliable)."""
    return float(gamma - np.minimum(np.concatenate(as_tasks(x)), gamma).mean())


def padded(tasks: Sequence[np.ndarray]) -> np.ndarray:
    """``(tasks, max_runs + 1)`` array, NaN where a task has no run (last column always NaN)."""
    out = np.full((len(tasks), max(t.size for t in tasks) + 1), np.nan)
    for m, t in enumerate(tasks):
        out[m, : t.size] = t
    return out


# Batched statistics: ``b`` has shape (reps, tasks, slots); NaN marks empty slots.


def batched_task_means(b: np.ndarray) -> np.ndarray:
    """Per-replicate, per-task mean over the non-empty slots: shape (reps, tasks)."""
    valid = ~np.isnan(b)
    return np.where(valid, b, 0.0).sum(axis=2) / valid.sum(axis=2)


def batched_mean(b: np.ndarray) -> np.ndarray:
    return batched_task_means(b).mean(axis=1)


def batched_median(b: np.ndarray) -> np.ndarray:
    return np.median(batched_task_means(b), axis=1)


def batched_iqm(b: np.ndarray) -> np.ndarray:
    """trim_mean(·, 0.25) of each replicate's pooled runs: sort along the run axis, then
    average the middle; per-row counts handle ragged replicates (NaNs sort last)."""
    flat = np.sort(b.reshape(len(b), -1), axis=1)
    counts = (~np.isnan(flat)).sum(axis=1)
    if (counts == counts[0]).all():
        k, cut = int(counts[0]), int(counts[0]) // 4
        return flat[:, cut : k - cut].mean(axis=1)
    cut = counts // 4
    cumulative = np.concatenate(
        [np.zeros((len(flat), 1)), np.cumsum(np.nan_to_num(flat), axis=1)], axis=1
    )
    rows = np.arange(len(flat))
    return (cumulative[rows, counts - cut] - cumulative[rows, cut]) / (counts - 2 * cut)


def batched_optimality_gap(gamma: float = 1.0) -> Batched:
    def gap(b: np.ndarray) -> np.ndarray:
        flat = b.reshape(len(b), -1)
        valid = ~np.isnan(flat)
        return gamma - np.where(valid, np.minimum(flat, gamma), 0.0).sum(axis=1) / valid.sum(axis=1)

    return gap


def batched_metric(name: str, gamma: float = 1.0) -> Batched:
    """The vectorized form of an aggregate metric by name."""
    table: dict[str, Batched] = {
        "iqm": batched_iqm,
        "mean": batched_mean,
        "median": batched_median,
        "optimality_gap": batched_optimality_gap(gamma),
    }
    if name not in table:
        raise ValueError(f"metric must be one of {METRICS}, got {name!r}")
    return table[name]


def point_metric(name: str, tasks: Tasks, gamma: float = 1.0) -> float:
    """The point estimate of a metric, computed exactly as rliable does."""
    if name == "optimality_gap":
        return optimality_gap(tasks, gamma)
    funcs = {"iqm": iqm, "mean": mean_of_task_means, "median": median_of_task_means}
    if name not in funcs:
        raise ValueError(f"metric must be one of {METRICS}, got {name!r}")
    return funcs[name](tasks)


def stratified_indices(
    sizes: Sequence[int], reps: int, rng: np.random.Generator, task_bootstrap: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Index draws of ``reps`` stratified replicates.

    Returns ``(task, run)``: ``task[r, s]`` is the task that fills slot ``s`` of replicate
    ``r`` (slot s itself unless ``task_bootstrap``), and ``run[r, s, j]`` for ``j < n_task``
    is a run of that task drawn uniformly with replacement; the remaining slots hold
    ``max(sizes)``, the always-empty padding column.
    """
    n = np.asarray(sizes, dtype=np.intp)
    width = int(n.max())
    if task_bootstrap:
        task = np.floor(rng.random((reps, n.size)) * n.size).astype(np.intp)
    else:
        task = np.broadcast_to(np.arange(n.size, dtype=np.intp), (reps, n.size))
    n_slot = n[task][..., None]
    run = (rng.random((reps, n.size, width)) * n_slot).astype(np.intp)  # floor: u * n >= 0
    if (n == width).all():
        return task, run
    return task, np.where(np.arange(width) < n_slot, run, width)


def _chunks(reps: int, per_rep: int, chunk_elements: int) -> list[int]:
    size = max(1, chunk_elements // max(per_rep, 1))
    return [min(size, reps - start) for start in range(0, reps, size)]


def stratified_bootstrap(
    x: Tasks,
    statistic: Batched,
    reps: int = 50_000,
    seed: int | np.random.Generator = 0,
    task_bootstrap: bool = False,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> np.ndarray:
    """Bootstrap replicates of a batched ``statistic`` under stratified resampling.

    ``statistic`` maps a ``(r, tasks, slots)`` NaN-padded batch to ``(r,)`` or ``(r, k)``.
    Reps are processed in chunks of at most ``chunk_elements`` resampled scores, so memory
    stays bounded; the result depends only on the data, ``reps``, ``seed`` and the chunking.
    """
    tasks = as_tasks(x)
    table = padded(tasks)
    flat = table.ravel()
    sizes = [t.size for t in tasks]
    rng = derive_rng(seed)
    out = []
    for r in _chunks(reps, table.size, chunk_elements):
        task, run = stratified_indices(sizes, r, rng, task_bootstrap)
        out.append(statistic(flat[task[..., None] * table.shape[1] + run]))
    return np.concatenate(out)


def jackknife(x: Tasks, statistic: Batched) -> list[np.ndarray]:
    """Leave-one-run-out values of ``statistic``, one array per stratum (task): scipy's
    multi-sample jackknife (``bca_scipy``)."""
    tasks = as_tasks(x)
    table = padded(tasks)
    values = []
    for m, t in enumerate(tasks):
        batch = np.repeat(table[None], t.size, axis=0)
        batch[np.arange(t.size), m, np.arange(t.size)] = np.nan
        values.append(np.asarray(statistic(batch)))
    return values


def run_index_jackknife(x: Tasks, statistic: Batched) -> np.ndarray:
    """Values of ``statistic`` with run index i left out of every task at once, i < N: the
    jackknife of arch's ``IIDBootstrap`` over a ``runs x tasks`` matrix, as rliable uses it.

    Needs the same number of runs N on every task (the rows of rliable's matrix).
    """
    tasks = as_tasks(x)
    n = tasks[0].size
    if any(t.size != n for t in tasks):
        raise ValueError(
            "rliable's BCa leaves out one run index across all tasks and needs the same "
            "number of runs on every task; use method='bca_scipy' (per-run jackknife) or "
            "'percentile' for ragged run counts"
        )
    batch = np.repeat(padded(tasks)[None], n, axis=0)
    batch[np.arange(n), :, np.arange(n)] = np.nan
    return np.asarray(statistic(batch))


def percentile_interval(replicates: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval (Efron, 1979): the replicate quantiles at (1 ± confidence)/2."""
    tail = (1 - confidence) / 2
    low, high = np.percentile(replicates, [100 * tail, 100 * (1 - tail)])
    return float(low), float(high)


def bca_acceleration(jack: Sequence[np.ndarray]) -> float:
    """Efron's (1987) jackknife acceleration, multi-sample form (as in scipy.stats.bootstrap):
    a = sum_m sum_i U_mi^3 / n_m^3 / (6 (sum_m sum_i U_mi^2 / n_m^2)^1.5) with
    U_mi = (n_m - 1)(mean_i theta_(m,i) - theta_(m,i))."""
    num = den = 0.0
    for values in jack:
        n = values.size
        u = (n - 1) * (values.mean() - values)
        num += float((u**3).sum()) / n**3
        den += float((u**2).sum()) / n**2
    return num / (6 * den**1.5) if den > 0 else 0.0


def run_index_acceleration(values: np.ndarray) -> float:
    """arch's acceleration from :func:`run_index_jackknife` values:
    ``a = Σ u_i³ / (6 (Σ u_i²)^1.5)``, ``u_i = mean_j θ_(j) − θ_(i)``; 0 without jackknife
    variance (where arch would raise or return NaN)."""
    u = values.mean() - values
    den = float((u**2).sum())
    return float((u**3).sum()) / (6 * den**1.5) if den > 0 else 0.0


def bca_interval(
    replicates: np.ndarray,
    point: float,
    acceleration: float,
    confidence: float = 0.95,
    ties: str = "half",
) -> tuple[float, float]:
    """Bias-corrected and accelerated interval (Efron, 1987; Efron & Tibshirani, 1993, 14.3).

    ``ties="half"`` counts replicates equal to ``point`` as half below (as scipy does), which
    keeps the bias correction finite for discrete statistics; ``ties="above"`` counts only
    replicates strictly below (as arch, hence rliable, does). If the fraction below is 0 or 1
    the correction is infinite and the interval is NaN (use the percentile method).
    """
    if ties == "half":
        below = ((replicates < point).sum() + (replicates <= point).sum()) / (2 * replicates.size)
    elif ties == "above":
        below = float((replicates < point).mean())
    else:
        raise ValueError(f"ties must be 'half' or 'above', got {ties!r}")
    z0 = special.ndtri(below)
    tail = (1 - confidence) / 2
    z = special.ndtri(np.array([tail, 1 - tail]))
    levels = special.ndtr(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))
    if not np.isfinite(levels).all():
        return float("nan"), float("nan")
    low, high = np.percentile(replicates, 100 * levels)
    return float(low), float(high)


def _interval(
    tasks: list[np.ndarray],
    stat: Batched,
    point: float,
    replicates: np.ndarray,
    confidence: float,
    method: str,
    task_bootstrap: bool,
) -> tuple[float, float]:
    if method not in INTERVALS:
        raise ValueError(f"method must be one of {INTERVALS}, got {method!r}")
    if method == "percentile":
        return percentile_interval(replicates, confidence)
    if task_bootstrap:
        raise ValueError(
            "BCa needs a jackknife over the resampled units; with task_bootstrap use "
            "method='percentile'"
        )
    if min(t.size for t in tasks) < 2:
        raise ValueError("BCa needs at least two runs per task for the jackknife")
    if method == "bca":
        accel = run_index_acceleration(run_index_jackknife(tasks, stat))
        return bca_interval(replicates, point, accel, confidence, ties="above")
    accel = bca_acceleration(jackknife(tasks, stat))
    return bca_interval(replicates, point, accel, confidence, ties="half")


def interval_estimates(
    x: Tasks,
    metrics: Sequence[str] = METRICS,
    reps: int = 50_000,
    confidence: float = 0.95,
    method: str = "percentile",
    task_bootstrap: bool = False,
    seed: int | np.random.Generator = 0,
    gamma: float = 1.0,
) -> dict[str, tuple[float, float, float]]:
    """``{metric: (point, lower, upper)}`` on one algorithm's per-task scores.

    Like rliable's ``get_interval_estimates``, every metric is evaluated on the same
    resamples (one bootstrap pass for all metrics).
    """
    if method not in INTERVALS:
        raise ValueError(f"method must be one of {INTERVALS}, got {method!r}")
    tasks = as_tasks(x)
    stats_ = [batched_metric(m, gamma) for m in metrics]
    replicates = stratified_bootstrap(
        tasks, lambda b: np.stack([f(b) for f in stats_], axis=1), reps, seed, task_bootstrap
    )
    out = {}
    for k, (metric, stat) in enumerate(zip(metrics, stats_, strict=True)):
        point = point_metric(metric, tasks, gamma)
        interval = _interval(
            tasks, stat, point, replicates[:, k], confidence, method, task_bootstrap
        )
        out[metric] = (point, *interval)
    return out


def score_tasks(frame: pd.DataFrame) -> list[np.ndarray]:
    """One algorithm's scores as per-environment arrays (environments sorted by name)."""
    return [g.to_numpy(dtype=float) for _, g in frame.groupby("env_id", sort=True)["score"]]


def aggregate_estimates(
    scores: pd.DataFrame,
    metrics: Sequence[str] = METRICS,
    reps: int = 50_000,
    confidence: float = 0.95,
    method: str = "percentile",
    task_bootstrap: bool = False,
    seed: int = 0,
    gamma: float = 1.0,
) -> pd.DataFrame:
    """Point estimates and bootstrap CIs of each metric per algorithm.

    Columns: algorithm, metric, point, lower, upper, n_runs, n_envs. Each algorithm is
    aggregated over the environments it ran on, with its own bootstrap stream derived from
    ``(seed, algorithm)``; its metrics share one set of resamples.
    """
    rows = []
    for algorithm, frame in scores.groupby("algorithm", sort=True):
        tasks = score_tasks(frame)
        estimates = interval_estimates(
            tasks, metrics, reps, confidence, method, task_bootstrap,
            derive_rng(seed, str(algorithm)), gamma,
        )
        for metric, (point, low, high) in estimates.items():
            rows.append((algorithm, metric, point, low, high, len(frame), len(tasks)))
    columns = ["algorithm", "metric", "point", "lower", "upper", "n_runs", "n_envs"]
    return carry_attrs(pd.DataFrame(rows, columns=columns), scores)
