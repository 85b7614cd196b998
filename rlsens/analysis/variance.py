"""Where does score variance come from: environments, configurations or seeds?

``variance_decomposition`` is a descriptive law-of-total-variance split per algorithm, with
every (env, config) *cell* weighted equally (ragged seed counts do not re-weight cells):

* restrict to configurations with a score on every environment of the algorithm (a balanced
  env x config table of cell means ``m_ec``; ``n_ec`` seeds per cell);
* ``seed`` = mean over cells of the within-cell (population) variance of the seed scores;
* the variance of the cell means is split exactly as two-way ANOVA without replication:
  ``env`` = variance of the env means, ``config`` = variance of the config means (over envs),
  ``residual`` = the rest, i.e. the env x config interaction (configurations whose ranking
  changes between environments).

The four shares sum to 1 (NaN when the total is 0). With balanced data the total is exactly the
population variance of all scores. These are observed shares, not unbiased variance-component
estimates: the config and interaction shares include seed noise of the cell means
(≈ seed variance / n seeds). Normalize scores per environment first, otherwise the ``env``
share mostly measures reward scales.

``seed_split_consistency`` is the Henderson et al. (2018) check turned into a number: split
each algorithm x env's seeds at random into two halves, rank configurations by their mean in
each half, and report Kendall's tau-b and Spearman's rho between the rankings. Low values say
that the configuration ranking (and so any "best config") is mostly seed noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from rlsens.analysis._rng import derive_rng

COMPONENTS = ["env", "config", "seed", "residual"]


def _shares(sub: pd.DataFrame) -> dict[str, float]:
    valid = sub.dropna(subset=["score"])
    cells = valid.groupby(["env_id", "config_id"])["score"].agg(
        mean="mean", var=lambda v: float(np.var(v))
    ).reset_index()
    n_envs = cells["env_id"].nunique()
    counts = cells.groupby("config_id")["env_id"].transform("size")
    cells = cells.loc[counts == n_envs]
    if cells.empty:
        return dict.fromkeys(COMPONENTS, float("nan"))
    table = cells.pivot(index="config_id", columns="env_id", values="mean")
    grand = float(table.to_numpy().mean())
    v_env = float(((table.mean(axis=0) - grand) ** 2).mean())
    v_config = float(((table.mean(axis=1) - grand) ** 2).mean())
    v_cells = float(((table - grand) ** 2).to_numpy().mean())
    v_seed = float(cells["var"].mean())
    total = v_cells + v_seed
    if total <= 0:
        return dict.fromkeys(COMPONENTS, float("nan"))
    parts = {"env": v_env, "config": v_config, "seed": v_seed,
             "residual": max(v_cells - v_env - v_config, 0.0)}
    return {name: value / total for name, value in parts.items()}


def variance_decomposition(scores: pd.DataFrame) -> pd.DataFrame:
    """Shares of score variance per algorithm: ``[algorithm, component, share]``.

    ``component`` is one of env, config, seed, residual (env x config interaction); see the
    module docstring for the exact definition.
    """
    rows = []
    for alg, sub in scores.groupby("algorithm", sort=True):
        for component, share in _shares(sub).items():
            rows.append({"algorithm": alg, "component": component, "share": share})
    return pd.DataFrame(rows, columns=["algorithm", "component", "share"])


def seed_split_consistency(scores: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Rank agreement of configurations between two random halves of the seeds.

    Per algorithm x env the distinct seeds are shuffled (generator keyed on ``seed`` and the
    labels, so deterministic) and split into halves of sizes floor(n/2) and ceil(n/2);
    configurations with a score in both halves are ranked by their mean in each. Returns
    ``[algorithm, env_id, kendall_tau, spearman_rho, n_configs, n_seeds]``; NaN with fewer
    than 2 seeds or 2 configurations.
    """
    rows = []
    valid = scores.dropna(subset=["score"])
    for (alg, env), sub in valid.groupby(["algorithm", "env_id"], sort=True):
        seeds = np.sort(sub["seed"].unique())
        tau = rho = float("nan")
        n_configs = 0
        if len(seeds) >= 2:
            shuffled = derive_rng(seed, alg, env).permutation(seeds)
            half = set(shuffled[: len(seeds) // 2].tolist())
            side = sub["seed"].isin(half).map({True: "a", False: "b"})
            means = sub.groupby(["config_id", side])["score"].mean().unstack().dropna()
            n_configs = len(means)
            # A half whose configurations all score the same has no ranking: NaN, not a warning.
            if n_configs >= 2 and means["a"].nunique() > 1 and means["b"].nunique() > 1:
                tau = float(kendalltau(means["a"], means["b"]).statistic)
                rho = float(spearmanr(means["a"], means["b"]).statistic)
        rows.append({"algorithm": alg, "env_id": env, "kendall_tau": tau, "spearman_rho": rho,
                     "n_configs": n_configs, "n_seeds": len(seeds)})
    return pd.DataFrame(rows, columns=["algorithm", "env_id", "kendall_tau", "spearman_rho",
                                       "n_configs", "n_seeds"])
