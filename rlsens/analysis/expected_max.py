"""Expected best score vs number of tuning trials ("Show your work").

Given the seed-averaged scores v_1..v_N of N configurations (trials of a random search), the
expected maximum of n trials is estimated two ways:

* Dodge et al. (EMNLP 2019), V-statistic (sampling with replacement): the max of n draws from
  the empirical distribution has pmf ``p_i = (i/N)^n − ((i−1)/N)^n`` on the sorted values, so
  ``E = Σ p_i v_(i)``, defined for every n ≥ 1 (also n > N);
* Tang et al. (ACL 2020), U-statistic (without replacement, unbiased for the max of n distinct
  trials): ``p_i = [C(i, n) − C(i−1, n)] / C(N, n) = C(i−1, n−1) / C(N, n)``, defined for n ≤ N,
  evaluated in log space (``scipy.special.gammaln``) so large N does not overflow.

Both report the standard deviation ``sqrt(Σ p_i (v_(i) − E)²)`` (Dodge's shading; allentune
calls it "var"). The curves only mean "random search" when the configurations were drawn at
random (random/Sobol designs); on a grid they describe drawing grid points at random.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammaln

from rlsens.analysis._frames import config_means, cross_env_table


def _moments(sorted_values: np.ndarray, pmf: np.ndarray) -> tuple[float, float]:
    mean = float(np.dot(pmf, sorted_values))
    var = float(np.dot(pmf, (sorted_values - mean) ** 2))
    return mean, float(np.sqrt(max(var, 0.0)))


def _sorted(values: object) -> np.ndarray:
    v = np.sort(np.asarray(values, dtype=float).ravel())
    if v.size == 0 or np.isnan(v).any():
        raise ValueError("expected-max estimators need a non-empty array without NaN")
    return v


def expected_max_v(values: object, n: int) -> tuple[float, float]:
    """Dodge's expected max of ``n`` trials (with replacement) and its std; any n >= 1."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    v = _sorted(values)
    i = np.arange(1, v.size + 1, dtype=float)
    pmf = (i / v.size) ** n - ((i - 1) / v.size) ** n
    return _moments(v, pmf)


def expected_max_u(values: object, n: int) -> tuple[float, float]:
    """Tang's unbiased expected max of ``n`` distinct trials and its std; 1 <= n <= N."""
    v = _sorted(values)
    big_n = v.size
    if not 1 <= n <= big_n:
        raise ValueError(f"the U-statistic needs 1 <= n <= N={big_n}, got n={n}")
    i = np.arange(n, big_n + 1, dtype=float)
    log_c_n = gammaln(big_n + 1) - gammaln(n + 1) - gammaln(big_n - n + 1)
    log_p = gammaln(i) - gammaln(n) - gammaln(i - n + 1) - log_c_n  # C(i-1, n-1) / C(N, n)
    pmf = np.zeros(big_n)
    pmf[n - 1:] = np.exp(log_p)
    return _moments(v, pmf / pmf.sum())


def _curve(values: np.ndarray, max_trials: int | None) -> list[dict[str, float]]:
    top = max_trials if max_trials is not None else values.size
    rows = []
    for n in range(1, top + 1):
        ev, sv = expected_max_v(values, n)
        eu, su = expected_max_u(values, n) if n <= values.size else (np.nan, np.nan)
        rows.append({"trials": n, "expected_max_v": ev, "std_v": sv,
                     "expected_max_u": eu, "std_u": su, "n_configs": values.size})
    return rows


def tuning_curves(scores: pd.DataFrame, max_trials: int | None = None) -> pd.DataFrame:
    """Expected best config score vs number of trials, per algorithm x env and cross-env.

    Computed on the configurations' seed-averaged scores. ``env_id="all"`` (two or more envs)
    uses the mean over envs of each configuration present on every env, which only makes sense
    on per-env normalized scores. ``max_trials`` defaults to the number of configurations; the
    U columns are NaN beyond it. Returns ``[algorithm, env_id, trials, expected_max_v, std_v,
    expected_max_u, std_u, n_configs]``.
    """
    rows = []
    for alg, sub in scores.groupby("algorithm", sort=True):
        cm = config_means(sub)
        for env, part in cm.groupby("env_id", sort=True):
            for row in _curve(part["score"].to_numpy(dtype=float), max_trials):
                rows.append({"algorithm": alg, "env_id": env, **row})
        if cm["env_id"].nunique() > 1:
            table = cross_env_table(cm)
            if not table.empty:
                for row in _curve(table.mean(axis=1).to_numpy(dtype=float), max_trials):
                    rows.append({"algorithm": alg, "env_id": "all", **row})
    return pd.DataFrame(rows, columns=["algorithm", "env_id", "trials", "expected_max_v",
                                       "std_v", "expected_max_u", "std_u", "n_configs"])
