"""Select-then-score: tuned scores that the selection never saw (Eimer et al. 2023; Patterson
et al. 2024).

Choosing the best of many noisy configurations and reporting its score on the same seeds is
biased upwards (maximization bias, the winner's curse): with 40 configurations of equal true
mean the in-sample maximum sits well above every one of them, and a bootstrap of that maximum
does not even cover the truth. Every "best configuration" number rlsens reports is therefore
computed by selecting on one set of runs and scoring on another:

* ``held-out``: the algorithm's runs carry seed roles ``tune`` and ``report`` (the suite declared
  them); selection uses the tune runs, scoring the report runs.
* ``cross-fit``: no declared roles; every configuration's scored runs (per environment) are split
  into two halves by seed rank (even / odd). Select on one half and score on the other, in both
  directions, and average the two estimates.
* ``in-sample``: neither is possible (a configuration has a single scored run, so one half is
  empty): selection and score use the same runs, and the value is optimistic.

A configuration is eligible in a direction only if it has runs on both sides. The estimate
targets the true mean of the configuration the procedure selects (never above the best true
mean, equal to it when the best configuration is clear); bootstrap intervals resample runs
within each environment x configuration x half and repeat the whole select-then-score
procedure on every replicate. The interval is the bootstrap (basic) interval of the error
``score - true mean of the selected configuration``: in each replicate the bootstrap world's
true mean of the configuration selected there is known (what its resampled runs are drawn
around), so the error, not the maximum, is what is resampled; a percentile interval of the
replicates would add the spread of the sample means across configurations and over-cover.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlsens.analysis._frames import resampled_cell_means

HELD_OUT, CROSS_FIT, IN_SAMPLE = "held-out", "cross-fit", "in-sample"
COLUMNS = ["algorithm", "env_id", "config_id", "selection_score", "reported_score",
           "n_selection", "n_report", "method", "optimistic"]


def seed_halves(valid: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """One algorithm's scored runs with a ``half`` column (0 or 1), and the method.

    ``held-out``: half 0 = the tune runs, 1 = the report runs (runs of other roles dropped).
    ``cross-fit``: within each env x config, runs sorted by seed alternate between halves.
    """
    roles = set(valid["seed_role"].dropna().unique())
    if {"tune", "report"} <= roles:
        out = valid.loc[valid["seed_role"].isin(["tune", "report"])].copy()
        out["half"] = (out["seed_role"] == "report").astype(int)
        return out, HELD_OUT
    out = valid.sort_values(["env_id", "config_id", "seed", "run_id"], kind="stable").copy()
    out["half"] = out.groupby(["env_id", "config_id"], sort=False).cumcount().to_numpy() % 2
    return out, CROSS_FIT


def directions(method: str) -> list[tuple[int, int]]:
    """(selection half, scoring half) pairs averaged by ``method``."""
    return [(0, 1)] if method == HELD_OUT else [(0, 1), (1, 0)]


def half_array(values: np.ndarray, groups: pd.DataFrame, envs: list, configs: list
               ) -> np.ndarray:
    """Scatter per-group means ``(..., n_groups)`` keyed by ``groups[env_id, config_id, half]``
    into an array ``(..., 2, n_envs, n_configs)``, NaN where a cell has no run."""
    env_index = {e: i for i, e in enumerate(envs)}
    config_index = {c: i for i, c in enumerate(configs)}
    out = np.full((*values.shape[:-1], 2, len(envs), len(configs)), np.nan)
    h = groups["half"].to_numpy(dtype=int)
    e = groups["env_id"].map(env_index).to_numpy(dtype=int)
    c = groups["config_id"].map(config_index).to_numpy(dtype=int)
    out[..., h, e, c] = values
    return out


def bootstrap_half_means(split: pd.DataFrame, method: str, reps: int,
                         rng: np.random.Generator, chunk_cells: int = 4_000_000
                         ) -> tuple[pd.DataFrame, np.ndarray]:
    """Bootstrap replicates ``reps x groups`` of the env x config x half means of
    ``seed_halves`` output, and the groups (sorted).

    ``held-out``: runs are resampled within their role (the design fixes which seeds tune).
    Runs are first spread around their pool's mean by ``sqrt(n / (n - 1))`` (see below).
    ``cross-fit``: each configuration's runs are resampled from all its runs and the resampled
    runs are split into halves again by position, so the split is part of what is bootstrapped
    (resampling within fixed halves of one or two runs would show almost no spread).
    """
    keys = ["env_id", "config_id", "half"]
    ordered = split.sort_values(keys, kind="stable")
    pool_keys = keys if method == HELD_OUT else keys[:2]
    pool = ordered.groupby(pool_keys, sort=False).ngroup().to_numpy()
    cell = ordered.groupby(keys, sort=False).ngroup().to_numpy()
    if method != HELD_OUT:  # halves by position: rank within the configuration's runs
        rank = ordered.groupby(pool_keys, sort=False).cumcount().to_numpy()
        ordered = ordered.assign(half=rank % 2)
        ordered = ordered.iloc[np.lexsort((rank % 2, pool))]
        pool = pool[np.lexsort((rank % 2, pool))]
        cell = ordered.groupby(keys, sort=False).ngroup().to_numpy()
    pool_start = np.flatnonzero(np.r_[True, pool[1:] != pool[:-1]])
    pool_size = np.diff(np.r_[pool_start, len(pool)])
    # Runs spread around their pool's mean by sqrt(n / (n - 1)): a resampled mean of k runs
    # then has variance s^2 / k with the unbiased s^2 (plain resampling under-covers with the
    # 3 to 10 seeds typical of RL studies); pool means, the bootstrap world's truth, are kept.
    x = ordered["score"].to_numpy(dtype=float)
    centre = (np.add.reduceat(x, pool_start) / pool_size)[pool]
    n = pool_size[pool]
    x = centre + np.sqrt(n / np.maximum(n - 1, 1)) * (x - centre)
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    groups = ordered.iloc[starts][keys].reset_index(drop=True)
    return groups, resampled_cell_means(x, pool_start[pool], pool_size[pool], starts, reps, rng,
                                        chunk_cells)


def _chosen(select: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Index of the best eligible entry along the last axis (ties: the first); -1 if none."""
    masked = np.where(eligible, select, -np.inf)
    best = masked.argmax(axis=-1)
    return np.where(eligible.any(axis=-1), best, -1)


def _take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    picked = np.take_along_axis(values, np.maximum(index, 0)[..., None], axis=-1)[..., 0]
    return np.where(index >= 0, picked, np.nan)


def split_tuned(halves: np.ndarray, method: str, values: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Select-then-score per-env and cross-env tuned scores from ``(..., 2, envs, configs)``.

    Per-env: on every env, the eligible config with the best selection mean, scored by its
    scoring mean; averaged over envs. Cross-env: the config eligible on every env with the
    best mean selection score over envs, scored by its mean scoring score over envs. Both are
    averaged over the method's directions; NaN where a direction has nothing eligible.

    ``values`` (``(2, envs, configs)``, broadcast against ``halves``) replaces the scoring
    means by other values of the selected configurations, e.g. their true means in a
    bootstrap world, while the selection still runs on ``halves``.
    """
    p_env, p_cross = [], []
    for sel_half, score_half in directions(method):
        select, score = halves[..., sel_half, :, :], halves[..., score_half, :, :]
        eligible = ~np.isnan(select) & ~np.isnan(score)
        if values is not None:
            score = np.broadcast_to(values[score_half], score.shape)
        p_env.append(_take(score, _chosen(select, eligible)).mean(axis=-1))
        common = eligible.all(axis=-2)[..., None, :]
        default = _chosen(np.where(common, select, 0.0).mean(axis=-2), common[..., 0, :])
        p_cross.append(_take(np.where(common, score, 0.0).mean(axis=-2), default))
    return np.mean(p_env, axis=0), np.mean(p_cross, axis=0)


def bootstrap_centres(valid: pd.DataFrame, method: str, halves: np.ndarray, envs: list,
                      configs: list) -> np.ndarray:
    """What each half's resampled mean is centred on in the bootstrap world (2, envs,
    configs): the half's own mean when runs are resampled within roles (held-out), the
    configuration's mean over all its runs when halves are re-drawn from them (cross-fit)."""
    if method == HELD_OUT:
        return halves
    full = valid.groupby(["env_id", "config_id"], sort=True)["score"].mean()
    groups = full.index.to_frame(index=False).assign(half=0)
    return np.repeat(half_array(full.to_numpy(), groups, envs, configs)[:1], 2, axis=0)


def half_means(valid: pd.DataFrame) -> tuple[np.ndarray, str, list, list]:
    """Halves array ``(2, envs, configs)`` of one algorithm's config means, method, envs,
    configs (both sorted)."""
    split, method = seed_halves(valid)
    envs = sorted(valid["env_id"].unique())
    configs = sorted(valid["config_id"].unique())
    means = split.groupby(["env_id", "config_id", "half"], sort=True)["score"].mean()
    groups = means.index.to_frame(index=False)
    return half_array(means.to_numpy(), groups, envs, configs), method, envs, configs


def select_and_report(scores: pd.DataFrame) -> pd.DataFrame:
    """Best configuration per algorithm x env and the score it is honestly reported with.

    Returns ``[algorithm, env_id, config_id, selection_score, reported_score, n_selection,
    n_report, method, optimistic]``. ``held-out``: the configuration best on the tune runs, its
    tune mean and its report mean. ``cross-fit``: the configuration best on all runs (the one to
    deploy) with that in-sample (optimistic) mean as ``selection_score``, and as
    ``reported_score`` the cross-fitted estimate of the select-then-score procedure (each run
    selects in one direction and scores in the other; ``n_selection = n_report`` = the chosen
    configuration's runs). ``in-sample`` (no configuration has runs in both halves): reported =
    selection score, ``optimistic=True``. Ties go to the smallest config_id.
    """
    rows = []
    valid = scores.dropna(subset=["score"])
    for alg, sub in valid.groupby("algorithm", sort=True):
        halves, method, envs, configs = half_means(sub)
        counts = seed_halves(sub)[0].groupby(["env_id", "config_id", "half"])["score"].count()
        for e, env in enumerate(envs):
            part = sub.loc[sub["env_id"] == env]
            stats = part.groupby("config_id", sort=True)["score"].agg(["mean", "count"])
            env_halves = halves[:, e:e + 1, :]
            eligible = ~np.isnan(env_halves).any(axis=0)[0]
            chosen_method = method if eligible.any() else IN_SAMPLE
            row = {"algorithm": alg, "env_id": env, "method": chosen_method,
                   "optimistic": chosen_method == IN_SAMPLE}
            if chosen_method == HELD_OUT:
                index = int(_chosen(env_halves[0, 0], eligible))
                best = configs[index]
                row.update(config_id=best, selection_score=float(env_halves[0, 0, index]),
                           reported_score=float(env_halves[1, 0, index]),
                           n_selection=int(counts.get((env, best, 0), 0)),
                           n_report=int(counts.get((env, best, 1), 0)))
            else:
                best = str(stats["mean"].idxmax())
                n = int(stats.loc[best, "count"])
                in_sample = float(stats.loc[best, "mean"])
                reported = (float(split_tuned(env_halves, CROSS_FIT)[0])
                            if chosen_method == CROSS_FIT else in_sample)
                row.update(config_id=best, selection_score=in_sample, reported_score=reported,
                           n_selection=n, n_report=n)
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


class SplitBest:
    """Select-then-score "best of a subset of configurations" for one algorithm (e.g. the best
    configuration at one hyperparameter value, for "best" sensitivity curves).

    Built once from the algorithm's scored runs; ``estimate`` then selects within any subset,
    per environment or across environments (``"all"``: the subset's cross-env tuned score),
    with the same method, bootstrap and interval as ``hyperparameter_sensitivity``.
    """

    def __init__(self, valid: pd.DataFrame, reps: int, rng: np.random.Generator) -> None:
        self.valid = valid
        self.halves, method, self.envs, self.configs = half_means(valid)
        self.method = method if (~np.isnan(self.halves).any(axis=0)).any(axis=1).all() \
            else IN_SAMPLE
        self.cube: np.ndarray | None = None
        self.centres: np.ndarray | None = None
        if reps > 0 and self.method != IN_SAMPLE:
            groups, boot = bootstrap_half_means(seed_halves(valid)[0], method, reps, rng)
            self.cube = half_array(boot, groups, self.envs, self.configs)
            self.centres = bootstrap_centres(valid, method, self.halves, self.envs,
                                             self.configs)

    def estimate(self, env: str, config_ids: list, alpha: float
                 ) -> tuple[float, float, float, float]:
        """``(estimate, lower, upper, in-sample best)`` for the subset on ``env`` or ``"all"``."""
        cols = [self.configs.index(c) for c in config_ids]
        rows = list(range(len(self.envs))) if env == "all" else [self.envs.index(env)]
        part = self.valid.loc[self.valid["config_id"].isin(config_ids)
                              & self.valid["env_id"].isin([self.envs[r] for r in rows])]
        table = part.pivot_table(index="config_id", columns="env_id", values="score",
                                 aggfunc="mean").dropna(how="any")
        in_sample = float(table.mean(axis=1).max()) if len(table) else float("nan")
        if self.method == IN_SAMPLE:
            return in_sample, float("nan"), float("nan"), in_sample
        pick = 1 if env == "all" else 0
        value = float(split_tuned(self.halves[:, rows][:, :, cols], self.method)[pick])
        lo = hi = float("nan")
        if self.cube is not None and self.centres is not None:
            cube = self.cube[:, :, rows][:, :, :, cols]
            boot = split_tuned(cube, self.method)[pick]
            truth = split_tuned(cube, self.method,
                                values=self.centres[:, rows][:, :, cols])[pick]
            errors = (boot - truth)[~np.isnan(boot - truth)]
            if errors.size:
                e_lo, e_hi = np.quantile(errors, [alpha, 1.0 - alpha])
                lo, hi = value - float(e_hi), value - float(e_lo)
        return value, lo, hi, in_sample
