"""Sensitivity curves: score against one hyperparameter's value (Patterson et al. 2024 style).

For every algorithm x env x hyperparameter, the configurations' seed-averaged scores are
grouped by that hyperparameter's value and summarised with the others either marginalized
(``mode="marginal"``: mean over the configurations at that value, i.e. the design's
distribution of the other hyperparameters) or at their best (``mode="best"``: what a per-value
tuner would get, selected on one set of runs and scored on another as in protocol.py, since a
plain max over noisy configuration means is biased upwards). Cross-env curves
(``env_id="all"``) use the mean over envs of the configurations present on every environment
(normalize scores first).

Numeric hyperparameters with more than ``bins`` distinct values (random/Sobol designs) are cut
into ``bins`` quantile bins of the configurations' values (``pandas.qcut``, duplicate edges
merged); ``value`` is then the median of the values in the bin and ``value_low``/``value_high``
its observed range. Intervals are percentile bootstrap intervals resampling seeds within every
env x config (deterministic under ``seed``); they show seed noise given the design, not the
uncertainty from having sampled only some configurations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from rlsens.analysis._frames import bare, bootstrap_config_means, config_means, param_columns
from rlsens.analysis._rng import derive_rng
from rlsens.analysis.importance import encode
from rlsens.analysis.protocol import SplitBest

COLUMNS = ["algorithm", "env_id", "param", "value", "mean", "lower", "upper", "n",
           "value_low", "value_high"]
BEST_COLUMNS = ["in_sample", "method"]


def _targets(cm: pd.DataFrame, boot: np.ndarray | None
             ) -> list[tuple[str, pd.DataFrame, np.ndarray | None]]:
    """(env label, configs with score and hp columns, bootstrap columns) per env and "all"."""
    out = []
    for env in sorted(cm["env_id"].unique()):
        rows = np.flatnonzero((cm["env_id"] == env).to_numpy())
        out.append((str(env), cm.iloc[rows].reset_index(drop=True),
                    None if boot is None else boot[:, rows]))
    envs = sorted(cm["env_id"].unique())
    if len(envs) > 1:
        position = {(e, c): i for i, (e, c) in enumerate(
            zip(cm["env_id"], cm["config_id"], strict=True))}
        configs = [c for c in sorted(cm["config_id"].unique())
                   if all((e, c) in position for e in envs)]
        if configs:
            idx = np.array([[position[(e, c)] for e in envs] for c in configs])
            first = cm.iloc[idx[:, 0]].reset_index(drop=True)
            frame = first.assign(score=cm["score"].to_numpy()[idx].mean(axis=1), env_id="all")
            out.append(("all", frame, None if boot is None else boot[:, idx].mean(axis=2)))
    return out


def _groups(frame: pd.DataFrame, col: str, bins: int) -> tuple[np.ndarray, pd.Series]:
    """Group code per configuration and the (value, low, high) label of each code."""
    values = frame[col]
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.notna().all() and values.nunique() > bins:
        codes = pd.qcut(values, bins, labels=False, duplicates="drop").to_numpy()
        labels = values.groupby(codes).agg(["median", "min", "max"])
        return codes, labels.apply(tuple, axis=1)
    key = encode(frame, [col])[:, 0]
    first = values.groupby(key).first()
    return key, first.map(lambda v: (v, v, v))


def sensitivity_curves(
    scores: pd.DataFrame,
    params: Sequence[str] | None = None,
    mode: Literal["marginal", "best"] = "marginal",
    reps: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    bins: int = 8,
) -> pd.DataFrame:
    """Score vs each hyperparameter's value per algorithm x env (and ``"all"``).

    Returns ``[algorithm, env_id, param, value, mean, lower, upper, n, value_low, value_high]``
    where ``mean`` is the mean (``marginal``) of the configuration means at that value, or
    (``best``) the select-then-score estimate of the best configuration there (protocol.py:
    held-out or cross-fit, with its bootstrap interval), ``n`` the number of configurations
    there, and lower/upper NaN when ``reps == 0``. ``best`` adds ``in_sample`` (the max of the
    configuration means, optimistic) and ``method``.
    """
    if mode not in ("marginal", "best"):
        raise ValueError(f"mode must be 'marginal' or 'best', not {mode!r}")
    stat = np.mean if mode == "marginal" else np.max
    alpha = (1.0 - confidence) / 2.0
    rows = []
    for alg, sub in scores.groupby("algorithm", sort=True):
        cm = config_means(sub)
        cols = param_columns(cm, params)
        boot = None
        if reps > 0 and mode == "marginal":
            groups, boot = bootstrap_config_means(sub, ["env_id", "config_id"], reps,
                                                  derive_rng(seed, alg))
            if not groups.equals(cm[["env_id", "config_id"]].reset_index(drop=True)):
                raise AssertionError("bootstrap groups and configuration means are misaligned")
        best = (SplitBest(sub.dropna(subset=["score"]), reps, derive_rng(seed, alg, "best"))
                if mode == "best" else None)
        for env, frame, env_boot in _targets(cm, boot):
            y = frame["score"].to_numpy(dtype=float)
            for col in cols:
                codes, labels = _groups(frame, col, bins)
                for code, (value, low, high) in labels.items():
                    members = codes == code
                    lo = hi = float("nan")
                    mean, extra = float(stat(y[members])), {}
                    if best is not None:
                        ids = frame["config_id"][members].tolist()
                        mean, lo, hi, in_sample = best.estimate(env, ids, alpha)
                        extra = {"in_sample": in_sample, "method": best.method}
                    elif env_boot is not None:
                        lo, hi = np.quantile(stat(env_boot[:, members], axis=1),
                                             [alpha, 1.0 - alpha])
                    rows.append({"algorithm": alg, "env_id": env, "param": bare(col),
                                 "value": value, "mean": mean,
                                 "lower": float(lo), "upper": float(hi),
                                 "n": int(members.sum()), "value_low": low, "value_high": high,
                                 **extra})
    return pd.DataFrame(rows, columns=COLUMNS + (BEST_COLUMNS if mode == "best" else []))
