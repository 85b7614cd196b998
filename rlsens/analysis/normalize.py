"""Per-environment normalization: put every environment's scores on one scale.

Aggregating across environments (IQM, profiles, cross-environment tuning) only makes sense
once returns are comparable. The methods, each computed per environment:

- ``none``: raw returns (fine for a single environment).
- ``reference``: min-max against given (low, high) reference scores, e.g. (random, target);
  the Atari human-normalized score used by rliable (Agarwal et al., 2021).
- ``observed``: min-max over all observed runs of all algorithms (marl-eval, Gorsane et al.,
  2022). The minimum and the maximum are computed independently (marl-eval's
  ``if ... elif`` update can miss one of them).
- ``percentile``: affine map sending the ``quantiles`` (default 5th/95th percentile) of the
  pooled runs of all algorithms on the environment to 0/1 (Adkins et al., 2024): robust to the
  outliers that make min-max anchors unstable. Scores outside [0, 1] are kept.
- ``cdf``: the score's percentile in a pooled reference distribution (Jordan et al., 2020;
  CHS, Patterson et al., 2024), invariant to any increasing transform of returns. ``cdf="chs"``
  counts reference scores strictly below (<) the value, ``cdf="jordan"`` counts ties fully
  (<=). The reference is the mean over algorithms of each algorithm's empirical CDF (every
  algorithm weighs the same, whatever its run count), or one algorithm's CDF when
  ``cdf_reference`` names it (Jordan's per-normalizer score p_ijk).

Normalization always starts from ``raw_score``, so calling it twice does not compound. A
zero-width range (all runs equal) maps every run to 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

METHODS = ("none", "reference", "observed", "percentile", "cdf")
CDF_RULES = ("chs", "jordan")
Transform = Callable[[np.ndarray], np.ndarray]


def cdf_scale(values: ArrayLike, references: Sequence[ArrayLike], rule: str = "chs") -> np.ndarray:
    """Mean over reference samples of the fraction of each sample below ``values``.

    ``rule="chs"``: strictly below (CHS ``cdfScale``); ``rule="jordan"``: at or below (the
    ECDF F(x) = #{samples <= x}/n of Jordan et al., 2020).
    """
    if rule not in CDF_RULES:
        raise ValueError(f"cdf rule must be one of {CDF_RULES}, got {rule!r}")
    side = "left" if rule == "chs" else "right"
    x = np.asarray(values, dtype=float)
    fractions = [
        np.searchsorted(np.sort(np.asarray(r, dtype=float)), x, side=side) / len(r)
        for r in references
    ]
    return np.mean(fractions, axis=0)


def _affine(low: float, high: float) -> Transform:
    width = high - low
    if width == 0:
        return lambda x: np.zeros_like(np.asarray(x, dtype=float))
    return lambda x: (np.asarray(x, dtype=float) - low) / width


def anchors(
    raw: np.ndarray,
    method: str,
    env_id: str,
    reference: Mapping[str, tuple[float, float]] | None = None,
    quantiles: tuple[float, float] = (0.05, 0.95),
) -> tuple[float, float]:
    """The (low, high) raw scores mapped to (0, 1) by an affine method on one environment."""
    if method == "reference":
        if not reference or env_id not in reference:
            raise ValueError(f"normalize(method='reference') needs reference scores for {env_id!r}")
        low, high = (float(v) for v in reference[env_id])
        if low == high:
            raise ValueError(f"reference scores for {env_id!r} are equal ({low}); need low != high")
        return low, high
    if method == "observed":
        return float(np.min(raw)), float(np.max(raw))
    if method == "percentile":
        q_low, q_high = quantiles
        if not 0 <= q_low < q_high <= 1:
            raise ValueError(f"quantiles must satisfy 0 <= low < high <= 1, got {quantiles}")
        low, high = np.quantile(raw, [q_low, q_high])
        return float(low), float(high)
    return 0.0, 1.0


def fit_normalizer(
    scores: pd.DataFrame,
    method: str = "none",
    reference: Mapping[str, tuple[float, float]] | None = None,
    quantiles: tuple[float, float] = (0.05, 0.95),
    cdf: str = "chs",
    cdf_reference: str | None = None,
) -> dict[str, Transform]:
    """Per-environment maps from raw returns to normalized scores, fitted on ``raw_score``.

    Returned separately from :func:`normalize` so that learning curves can be put on exactly
    the scale of the run scores (same anchors, same reference distribution).
    """
    if method not in METHODS:
        raise ValueError(f"normalization must be one of {METHODS}, got {method!r}")
    transforms: dict[str, Transform] = {}
    for env_id, group in scores.groupby("env_id", sort=True):
        raw = group["raw_score"].to_numpy(dtype=float)
        if method == "cdf":
            transforms[env_id] = _cdf_transform(group, env_id, cdf, cdf_reference)
        else:
            transforms[env_id] = _affine(*anchors(raw, method, env_id, reference, quantiles))
    return transforms


def _cdf_transform(group: pd.DataFrame, env_id: Any, rule: str, algorithm: str | None) -> Transform:
    by_algorithm = dict(tuple(group.groupby("algorithm", sort=True)["raw_score"]))
    if algorithm is not None:
        if algorithm not in by_algorithm:
            raise ValueError(f"cdf_reference {algorithm!r} has no runs on {env_id!r}")
        by_algorithm = {algorithm: by_algorithm[algorithm]}
    refs = [s.to_numpy(dtype=float) for s in by_algorithm.values()]
    return lambda x: cdf_scale(x, refs, rule)


def normalize(
    scores: pd.DataFrame,
    method: str = "none",
    reference: Mapping[str, tuple[float, float]] | None = None,
    quantiles: tuple[float, float] = (0.05, 0.95),
    cdf: str = "chs",
    cdf_reference: str | None = None,
) -> pd.DataFrame:
    """A copy of ``scores`` with ``score`` normalized per environment, ``raw_score`` kept.

    ``attrs["normalization"]`` records the parameters (and, for affine methods, the per-env
    anchors) so reports can state them and :func:`rlsens.analysis.sample_efficiency` can map
    learning curves to the same scale.
    """
    params = {
        "method": method,
        "reference": dict(reference) if reference else None,
        "quantiles": tuple(quantiles),
        "cdf": cdf,
        "cdf_reference": cdf_reference,
    }
    if cdf not in CDF_RULES:
        raise ValueError(f"cdf must be one of {CDF_RULES}, got {cdf!r}")
    transforms = fit_normalizer(scores, **params)
    out = scores.copy()
    normalized = np.empty(len(out))
    for env_id, index in out.groupby("env_id", sort=True).indices.items():
        normalized[index] = transforms[env_id](out["raw_score"].to_numpy(dtype=float)[index])
    out["score"] = normalized
    if method not in ("none", "cdf"):
        params["anchors"] = {
            env: anchors(group.to_numpy(dtype=float), method, env, reference, quantiles)
            for env, group in out.groupby("env_id", sort=True)["raw_score"]
        }
    out.attrs["normalization"] = params
    return out


def normalization_params(scores: pd.DataFrame) -> dict[str, Any]:
    """The parameters :func:`normalize` used on ``scores`` (raw scores if none recorded)."""
    params = dict(scores.attrs.get("normalization", {"method": "none"}))
    params.pop("anchors", None)
    return params
