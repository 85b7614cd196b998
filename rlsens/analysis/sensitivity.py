"""Hyperparameter sensitivity after Adkins, Bowling & White (NeurIPS 2024).

Everything here starts from *configuration means*: the score of one algorithm x environment x
configuration averaged over its seeds (Adkins' Γ(ω, e, h), once the scores are normalized per
environment, e.g. with ``normalize(..., "percentile")``). From them:

* per-environment tuned score ``P_env = mean_e max_h Γ`` (tune separately for every env);
* cross-environment tuned score ``P_cross = max_h mean_e Γ`` and its maximizer ``h*``, the
  *cross-environment default*. As in the released code (``analysis/utils.py``), the max runs over
  configurations that have a score on **every** environment of the algorithm: a configuration
  missing on one env (all its runs excluded, or never run) has no cross-env mean;
* sensitivity ``Φ = P_env − P_cross`` (≥ 0: a mean of maxima is at least the max of means);
* effective hyperparameter dimensionality: how many hyperparameters one must tune per env (the
  rest held at ``h*``) to recover a fraction of ``P_env``.

Cross-environment quantities need two or more environments; with one they are returned as NaN
and the ``note`` column says why, so a report can still show ``P_env``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd

from rlsens.analysis._frames import (
    bare,
    config_means,
    cross_env_table,
    hp_columns,
    param_columns,
    same_value,
)
from rlsens.analysis._rng import derive_rng
from rlsens.analysis.protocol import (
    IN_SAMPLE,
    bootstrap_centres,
    bootstrap_half_means,
    half_array,
    half_means,
    seed_halves,
    split_tuned,
)

SINGLE_ENV_NOTE = "single environment: cross-environment metrics are undefined"
NO_COMMON_NOTE = "no configuration has a score on every environment"


def cross_env_default(cm: pd.DataFrame) -> tuple[str | None, float]:
    """``(h*, P_cross)`` of one algorithm; ties go to the smallest config_id (deterministic)."""
    table = cross_env_table(cm)
    if table.empty:
        return None, float("nan")
    means = table.mean(axis=1)
    return str(means.idxmax()), float(means.max())


def _tuned_scores(cm: pd.DataFrame) -> tuple[float, float, str | None, int, int, str]:
    n_envs = cm["env_id"].nunique()
    p_env = float(cm.groupby("env_id")["score"].max().mean())
    if n_envs < 2:
        return p_env, float("nan"), None, n_envs, 0, SINGLE_ENV_NOTE
    table = cross_env_table(cm)
    default, p_cross = cross_env_default(cm)
    note = "" if default is not None else NO_COMMON_NOTE
    return p_env, p_cross, default, n_envs, len(table), note


def _split_tuned(
    scores_alg: pd.DataFrame, reps: int, rng: np.random.Generator,
    chunk_cells: int = 2_000_000,
) -> tuple[str, float, float, np.ndarray, np.ndarray]:
    """Select-then-score ``(method, P_env, P_cross)`` of one algorithm and bootstrap replicates
    of their errors (runs resampled per env x config, the whole split-select-score re-run;
    error = replicate minus the bootstrap world's true score of the configurations it chose).

    ``method`` is ``held-out`` or ``cross-fit`` (protocol.py), or ``in-sample`` when some
    environment has no configuration with runs in both halves: then the values are NaN here and
    the caller reports the in-sample ones.
    """
    valid = scores_alg.dropna(subset=["score"])
    halves, method, envs, configs = half_means(valid)
    eligible = ~np.isnan(halves).any(axis=0)
    if not eligible.any(axis=1).all():
        return IN_SAMPLE, float("nan"), float("nan"), np.full(reps, np.nan), np.full(reps, np.nan)
    p_env, p_cross = split_tuned(halves, method)
    err_env, err_cross = np.full(reps, np.nan), np.full(reps, np.nan)
    split = seed_halves(valid)[0]
    centres = bootstrap_centres(valid, method, halves, envs, configs)
    step = max(1, chunk_cells // halves.size)  # replicates per chunk: memory stays bounded
    for lo in range(0, reps, step):
        r = min(step, reps - lo)
        groups, boot = bootstrap_half_means(split, method, r, rng)
        cube = half_array(boot, groups, envs, configs)
        b_env, b_cross = split_tuned(cube, method)
        t_env, t_cross = split_tuned(cube, method, values=centres)
        err_env[lo:lo + r], err_cross[lo:lo + r] = b_env - t_env, b_cross - t_cross
    return method, float(p_env), float(p_cross), err_env, err_cross


def hyperparameter_sensitivity(
    scores: pd.DataFrame, reps: int = 0, seed: int = 0, confidence: float = 0.95
) -> pd.DataFrame:
    """Adkins' per-env tuned score, cross-env tuned score and sensitivity Φ per algorithm,
    selected and scored on different runs.

    Returns ``[algorithm, per_env_tuned, cross_env_tuned, sensitivity, method,
    per_env_tuned_in_sample, cross_env_tuned_in_sample, sensitivity_in_sample,
    default_config_id, n_envs, n_common_configs, note]``. The first three are select-then-score
    estimates (``method`` ``held-out`` on declared tune/report seeds, else ``cross-fit`` over
    seed halves; see protocol.py); the ``_in_sample`` columns are Adkins' definitions on all
    runs (max over the same means that are reported: optimistic, the winner's curse). When no
    split is possible (one scored run per configuration) the first three equal the in-sample
    values and ``method`` says ``in-sample``. ``default_config_id`` is the in-sample ``h*``.

    With ``reps > 0`` also ``<metric>_lower/_upper`` bootstrap intervals for the first three,
    resampling runs within every env x config and repeating the whole select-then-score
    procedure on each replicate; the interval is the basic bootstrap interval of the error
    against the selected configurations' true scores (protocol.py; deterministic under
    ``seed``). In-sample values get no interval: a bootstrap of a maximum over noisy means
    does not cover it.
    """
    rows = []
    for alg, sub in scores.groupby("algorithm", sort=True):
        cm = config_means(sub)
        p_env, p_cross, default, n_envs, n_common, note = _tuned_scores(cm)
        method, s_env, s_cross, b_env, b_cross = _split_tuned(sub, reps, derive_rng(seed, alg))
        if method == IN_SAMPLE:
            s_env, s_cross = p_env, p_cross
        if n_envs < 2 or default is None:
            s_cross, b_cross = float("nan"), np.full(max(reps, 0), np.nan)
        row = {
            "algorithm": alg, "per_env_tuned": s_env, "cross_env_tuned": s_cross,
            "sensitivity": s_env - s_cross, "method": method,
            "per_env_tuned_in_sample": p_env, "cross_env_tuned_in_sample": p_cross,
            "sensitivity_in_sample": p_env - p_cross, "default_config_id": default,
            "n_envs": n_envs, "n_common_configs": n_common, "note": note,
        }
        if reps > 0:
            alpha = (1.0 - confidence) / 2.0
            for name, errors in (("per_env_tuned", b_env), ("cross_env_tuned", b_cross),
                                 ("sensitivity", b_env - b_cross)):
                ok = errors[~np.isnan(errors)]
                lo = hi = float("nan")
                if ok.size:
                    e_lo, e_hi = np.quantile(ok, [alpha, 1.0 - alpha])
                    lo, hi = row[name] - e_hi, row[name] - e_lo
                row[f"{name}_lower"], row[f"{name}_upper"] = float(lo), float(hi)
        rows.append(row)
    return pd.DataFrame(rows)


TUNED_METRICS = ("per_env_tuned", "cross_env_tuned", "sensitivity")


def tuned_score_errors(
    scores: pd.DataFrame, reps: int, seed: int = 0
) -> dict[str, dict[str, np.ndarray]]:
    """Per algorithm, the bootstrap errors behind :func:`hyperparameter_sensitivity`'s intervals
    (same ``reps`` and ``seed`` give the same replicates), keyed by ``TUNED_METRICS``.

    Comparing two algorithms needs the replicates, not the intervals: their runs are independent
    and so are their random streams, so replicate i of one minus replicate i of the other is a
    bootstrap replicate of the error of the difference, and its basic interval is a direct
    interval of e.g. ``Φ_a − Φ_b`` (overlap of the two intervals is not a test). Errors are NaN
    where no interval exists (in-sample selection, one environment for the cross-env metrics).
    """
    out = {}
    for alg, sub in scores.groupby("algorithm", sort=True):
        _, _, default, n_envs, _, _ = _tuned_scores(config_means(sub))
        _, _, _, b_env, b_cross = _split_tuned(sub, reps, derive_rng(seed, alg))
        if n_envs < 2 or default is None:
            b_cross = np.full(max(reps, 0), np.nan)
        out[str(alg)] = {"per_env_tuned": b_env, "cross_env_tuned": b_cross,
                         "sensitivity": b_env - b_cross}
    return out


def subset_tuned_scores(
    cm: pd.DataFrame, params: Sequence[str], default: str, subsets: Iterable[tuple[int, ...]]
) -> list[tuple[tuple[int, ...], float]]:
    """For every subset S (indices into ``params``): mean over envs of the best config score
    among configs that equal the default ``h*`` on every hyperparameter outside S.

    Hyperparameter columns not in ``params`` are always held at ``h*``. The search runs over
    the configurations actually present on each env (no surrogate), so on random or Sobol
    designs few configs match and the numbers are conservative.
    """
    ref = cm.loc[cm["config_id"] == default].iloc[0]
    others = [c for c in hp_columns(cm) if c not in params]
    keep = np.ones(len(cm), dtype=bool)
    for col in others:
        keep &= same_value(cm[col], ref[col])
    sub = cm.loc[keep]
    bits = np.zeros(len(sub), dtype=np.int64)
    for i, col in enumerate(params):
        bits |= (~same_value(sub[col], ref[col])).astype(np.int64) << i
    envs = sub["env_id"].to_numpy()
    score = sub["score"].to_numpy(dtype=float)
    out = []
    for subset in subsets:
        mask = sum(1 << i for i in subset)
        match = (bits & ~mask) == 0
        best = pd.Series(score[match]).groupby(envs[match]).max()
        out.append((subset, float(best.mean())))
    return out


def effective_dimensionality(
    scores: pd.DataFrame,
    params: Sequence[str] | None = None,
    threshold: float = 0.95,
    baseline: Literal["zero", "cross"] = "zero",
    pool: Literal["common", "all"] = "common",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Adkins' effective hyperparameter dimensionality, exhaustively over subsets.

    ``P_k = max_{|S|=k} mean_e max_{h: h_{¬S} = h*_{¬S}} Γ(e, h)``, so ``P_0 = P_cross`` and,
    when ``params`` covers every searched hyperparameter, ``P_K = P_env``. The target is
    ``threshold * P_env`` (``baseline="zero"``, the paper's rule) or
    ``P_cross + threshold * (P_env − P_cross)`` (``baseline="cross"``: the fraction of the
    tuning gain recovered, invariant to shifting the scores). The paper's rule is a fraction of
    performance only on a ratio scale with a meaningful zero (its normalized scores are positive),
    so with ``P_env <= 0`` it is reported as NaN with a note instead of a misleading number.

    ``pool`` says which configurations the subset search sees. ``"common"`` (default) follows
    the released code: for ``0 <= k < K`` only configurations with a score on every environment
    (the same pool as ``P_cross``), while tuning every hyperparameter per env is ``P_env`` over
    all configurations, by definition; this reproduces the paper's best subsets on its data.
    ``"all"`` searches every configuration present on each env for every k.

    Returns ``(curve, summary)``: curve ``[algorithm, k, score, subset]`` (best subset per k,
    names joined by ", "; ties go to the first subset in parameter order) and summary
    ``[algorithm, dimensionality, interpolated, target, per_env_tuned, cross_env_tuned,
    n_params, note]``. ``dimensionality`` is the smallest k with ``P_k >= target``;
    ``interpolated`` the linear crossing between k−1 and k (0.0 when ``P_0`` already reaches
    the target: handled explicitly, unlike the released plot code).
    """
    if baseline not in ("zero", "cross"):
        raise ValueError(f"baseline must be 'zero' or 'cross', not {baseline!r}")
    if pool not in ("common", "all"):
        raise ValueError(f"pool must be 'common' or 'all', not {pool!r}")
    curve_rows, summary_rows = [], []
    for alg, sub in scores.groupby("algorithm", sort=True):
        cm = config_means(sub)
        cols = param_columns(cm, params)
        p_env, p_cross, default, _, _, note = _tuned_scores(cm)
        summary = {
            "algorithm": alg, "dimensionality": np.nan, "interpolated": np.nan,
            "target": np.nan, "per_env_tuned": p_env, "cross_env_tuned": p_cross,
            "n_params": len(cols), "note": note,
        }
        if default is None:
            summary_rows.append(summary)
            continue
        searched = cm
        if pool == "common":
            searched = cm.loc[cm["config_id"].isin(cross_env_table(cm).index)]
        tunes_all = set(cols) == set(param_columns(cm, None))
        best: list[tuple[tuple[int, ...], float]] = []
        for k in range(len(cols) + 1):
            if k == len(cols) and tunes_all:
                subset, value = tuple(range(k)), p_env
            else:
                subsets = combinations(range(len(cols)), k)
                results = subset_tuned_scores(searched, cols, default, subsets)
                subset, value = max(results, key=lambda item: item[1])
            best.append((subset, value))
            curve_rows.append({"algorithm": alg, "k": k, "score": value,
                               "subset": ", ".join(bare(cols[i]) for i in subset)})
        if baseline == "zero" and p_env <= 0:
            summary["note"] = ("P_env <= 0: threshold * P_env is not a fraction of performance; "
                               "use baseline='cross' or positive normalized scores")
            summary_rows.append(summary)
            continue
        base = 0.0 if baseline == "zero" else p_cross
        target = base + threshold * (p_env - base)
        summary["target"] = target
        values = [v for _, v in best]
        reached = [k for k, v in enumerate(values) if v >= target]
        if not reached:
            summary["note"] = "target not reached by tuning all listed hyperparameters"
        elif reached[0] == 0:
            summary["dimensionality"], summary["interpolated"] = 0, 0.0
        else:
            k = reached[0]
            lo, hi = values[k - 1], values[k]
            summary["dimensionality"] = k
            summary["interpolated"] = k - 1 + (target - lo) / (hi - lo)
        summary_rows.append(summary)
    curve = pd.DataFrame(curve_rows, columns=["algorithm", "k", "score", "subset"])
    summary_df = pd.DataFrame(summary_rows)
    summary_df["dimensionality"] = summary_df["dimensionality"].astype("Int64")
    return curve, summary_df


def sensitivity_plane(sensitivity_df: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Place algorithms on Adkins' performance (P_env) vs sensitivity (Φ) plane.

    Regions relative to the reference algorithm r and the unit-slope line
    ``P = P_r + (Φ − Φ_r)`` through it (analysis-methods.md §2.3):
    1 ``Φ <= Φ_r, P >= P_r`` (better and less sensitive); 2 ``Φ > Φ_r, P >= line`` (gain
    exceeds added sensitivity); 3 ``Φ <= Φ_r, line <= P < P_r`` (sensitivity drop exceeds
    performance drop); 4 ``Φ > Φ_r, P_r <= P < line`` (gain smaller than added sensitivity);
    5 ``P < min(P_r, line)`` (worse). The reference itself is in region 1.

    Returns ``[algorithm, sensitivity, performance, region]`` (region nullable Int64: NaN
    sensitivity, e.g. one environment, has no region).
    """
    ref = sensitivity_df.loc[sensitivity_df["algorithm"] == reference]
    if ref.empty:
        raise ValueError(f"reference algorithm {reference!r} is not in the sensitivity table")
    phi_r = float(ref["sensitivity"].iloc[0])
    p_r = float(ref["per_env_tuned"].iloc[0])
    rows = []
    for _, r in sensitivity_df.iterrows():
        phi, p = float(r["sensitivity"]), float(r["per_env_tuned"])
        line = p_r + (phi - phi_r)
        region: int | None
        if np.isnan(phi) or np.isnan(p) or np.isnan(phi_r) or np.isnan(p_r):
            region = None
        elif p < min(p_r, line):
            region = 5
        elif phi <= phi_r:
            region = 1 if p >= p_r else 3
        else:
            region = 2 if p >= line else 4
        rows.append({"algorithm": r["algorithm"], "sensitivity": phi, "performance": p,
                     "region": region})
    out = pd.DataFrame(rows)
    out["region"] = out["region"].astype("Int64")
    return out
