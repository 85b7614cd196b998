"""Tunability after Probst, Boulesteix & Bischl (JMLR 2019), mapped to RL.

Dataset -> environment, risk -> −score (so "gain" below is a score improvement). The
data-based default ``θ*`` is the cross-environment default ``h*`` of
:mod:`rlsens.analysis.sensitivity` (argmax of the mean score over environments, among
configurations with a score on every environment). Then, per environment e:

* ``d_e = max_h Γ_e(h) − Γ_e(θ*)`` (overall tunability; its mean over envs equals Adkins' Φ);
* ``d_i,e``: the same gain when only hyperparameter i may move, all others held at ``θ*``;
* ``d_{i,i'},e``: i and i' move jointly; joint gain ``d_{i,i'} − max(d_i, d_i')``.

Probst et al. estimate the risks with per-dataset surrogate models; here the maxima run over
the configurations **actually run** (no surrogate), which is exact on full grids and one-at-a-time
designs. On random or Sobol designs almost no configuration equals θ* outside {i}, so d_i and
the pair values are then lower bounds (often 0); ``n_configs`` says how many configurations
each value could use. Use :func:`rlsens.analysis.importance.importance` for such designs.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from rlsens.analysis._frames import bare, config_means, param_columns, same_value
from rlsens.analysis.sensitivity import NO_COMMON_NOTE, SINGLE_ENV_NOTE, cross_env_default


def _gains(cm: pd.DataFrame, free: Sequence[str], fixed: Sequence[str], default: str
           ) -> tuple[float, int]:
    """Mean over envs of (best score with ``free`` moving, ``fixed`` at θ*) − score at θ*."""
    ref = cm.loc[cm["config_id"] == default].iloc[0]
    keep = np.ones(len(cm), dtype=bool)
    for col in fixed:
        if col not in free:
            keep &= same_value(cm[col], ref[col])
    sub = cm.loc[keep]
    at_default = cm.loc[cm["config_id"] == default].set_index("env_id")["score"]
    best = sub.groupby("env_id")["score"].max()
    return float((best - at_default.reindex(best.index)).mean()), int(sub["config_id"].nunique())


def tunability(scores: pd.DataFrame, params: Sequence[str] | None = None
               ) -> dict[str, pd.DataFrame]:
    """Probst tunability tables per algorithm.

    Returns a dict of DataFrames:
    ``"overall"``: ``[algorithm, env_id, d, note]``, one row per env plus ``env_id="all"`` (the
    mean over envs); ``"per_param"``: ``[algorithm, param, d, relative, n_configs]`` with
    ``relative = d_i / d`` (NaN when d = 0); ``"pairs"``: ``[algorithm, param_a, param_b,
    d_joint, joint_gain, n_configs]``. With one environment θ* would be that env's best config,
    every d would be 0 by construction; the rows are NaN with a note instead.
    """
    overall, per_param, pairs = [], [], []
    for alg, sub in scores.groupby("algorithm", sort=True):
        cm = config_means(sub)
        cols = param_columns(cm, params)
        every = param_columns(cm, None)
        n_envs = cm["env_id"].nunique()
        default, _ = cross_env_default(cm) if n_envs > 1 else (None, np.nan)
        if default is None:
            note = SINGLE_ENV_NOTE if n_envs < 2 else NO_COMMON_NOTE
            overall.append({"algorithm": alg, "env_id": "all", "d": np.nan, "note": note})
            continue
        at_default = cm.loc[cm["config_id"] == default].set_index("env_id")["score"]
        best = cm.groupby("env_id")["score"].max()
        d_env = best - at_default.reindex(best.index)
        for env, d in d_env.items():
            overall.append({"algorithm": alg, "env_id": env, "d": float(d), "note": ""})
        d_all = float(d_env.mean())
        overall.append({"algorithm": alg, "env_id": "all", "d": d_all, "note": ""})
        single = {}
        for col in cols:
            d_i, n = _gains(cm, [col], every, default)
            single[col] = d_i
            per_param.append({"algorithm": alg, "param": bare(col), "d": d_i,
                              "relative": d_i / d_all if d_all > 0 else np.nan, "n_configs": n})
        for a, b in combinations(cols, 2):
            d_ab, n = _gains(cm, [a, b], every, default)
            pairs.append({"algorithm": alg, "param_a": bare(a), "param_b": bare(b),
                          "d_joint": d_ab, "joint_gain": d_ab - max(single[a], single[b]),
                          "n_configs": n})
    return {
        "overall": pd.DataFrame(overall, columns=["algorithm", "env_id", "d", "note"]),
        "per_param": pd.DataFrame(
            per_param, columns=["algorithm", "param", "d", "relative", "n_configs"]),
        "pairs": pd.DataFrame(pairs, columns=["algorithm", "param_a", "param_b", "d_joint",
                                              "joint_gain", "n_configs"]),
    }
