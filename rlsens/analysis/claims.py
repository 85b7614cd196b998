"""Which comparisons between algorithms the data support: the decision behind a report's headline.

A headline such as "DDPG is more sensitive than TD3" is a claim about a *difference*, so it is
decided on an interval of that difference, never on whether two per-algorithm intervals overlap
(two 95 % intervals can overlap while the difference's interval excludes 0, and separated
intervals are a stricter, unnamed test). This module turns the analysis results into one row per
pair of algorithms and quantity, with the interval and whether it excludes the value of "no
difference"; the report only words the rows. Nothing here formats text.

* Tuned scores and Φ (``per_env_tuned``, ``cross_env_tuned``, ``sensitivity``): the basic
  bootstrap interval of ``a − b`` from the per-algorithm replicates of
  :func:`rlsens.analysis.sensitivity.tuned_score_errors` (runs resampled within every
  environment x configuration, the whole select-then-score procedure repeated; the algorithms'
  replicates are independent, so their difference is a replicate of the difference's error).
  Null value 0.
* Probability of improvement ``P(a > b)``: its bootstrap interval from
  :func:`rlsens.analysis.probability_of_improvement`. Null value 0.5.

Each interval is a per-comparison interval at the given confidence, not adjusted for the number
of comparisons; ``n_comparisons`` in every row says how many were made of that quantity.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import numpy as np
import pandas as pd

from rlsens.analysis.protocol import IN_SAMPLE
from rlsens.analysis.sensitivity import TUNED_METRICS

IMPROVEMENT = "improvement"
NULL_VALUES = {**dict.fromkeys(TUNED_METRICS, 0.0), IMPROVEMENT: 0.5}
COLUMNS = ["quantity", "algorithm_a", "algorithm_b", "estimate", "lower", "upper", "null",
           "separated", "higher", "optimistic", "reason", "n_comparisons"]


def difference_interval(
    point: float, errors_a: np.ndarray, errors_b: np.ndarray, confidence: float
) -> tuple[float, float]:
    """Basic bootstrap interval of a difference ``point = θ_a − θ_b`` from the replicate errors
    of each side, paired by replicate index (NaN where a side has no replicates, the sides
    differ in count, or no replicate is finite)."""
    errors_a, errors_b = np.asarray(errors_a, dtype=float), np.asarray(errors_b, dtype=float)
    if errors_a.size == 0 or errors_a.shape != errors_b.shape:
        return float("nan"), float("nan")
    errors = errors_a - errors_b
    errors = errors[np.isfinite(errors)]
    if errors.size == 0 or not np.isfinite(point):
        return float("nan"), float("nan")
    alpha = (1.0 - confidence) / 2.0
    e_lo, e_hi = np.quantile(errors, [alpha, 1.0 - alpha])
    return float(point - e_hi), float(point - e_lo)


def _row(quantity: str, a: str, b: str, estimate: float, lower: float, upper: float,
         optimistic: bool, reason: str) -> dict[str, object]:
    null = NULL_VALUES[quantity]
    has_interval = bool(np.isfinite(lower) and np.isfinite(upper))
    separated = has_interval and (lower > null or upper < null)
    higher = (a if lower > null else b) if separated else None  # the interval decides
    if not has_interval and not reason:
        reason = "no interval"
    return {"quantity": quantity, "algorithm_a": a, "algorithm_b": b, "estimate": estimate,
            "lower": lower, "upper": upper, "null": null, "separated": separated,
            "higher": higher, "optimistic": optimistic, "reason": reason}


def _errors(errors: Mapping[str, Mapping[str, np.ndarray]], algorithm: str, quantity: str
            ) -> np.ndarray:
    """An algorithm's replicate errors of one quantity; none (no interval) when not computed."""
    return np.asarray(errors.get(algorithm, {}).get(quantity, np.array([])), dtype=float)


def _tuned_rows(sensitivity: pd.DataFrame, errors: Mapping[str, Mapping[str, np.ndarray]],
                confidence: float) -> list[dict[str, object]]:
    table = sensitivity.set_index("algorithm")
    rows = []
    for quantity in TUNED_METRICS:
        for a, b in combinations(sorted(str(x) for x in table.index), 2):
            ra, rb = table.loc[a], table.loc[b]
            estimate = float(ra[quantity]) - float(rb[quantity])
            in_sample = IN_SAMPLE in (ra["method"], rb["method"])
            reason = ""
            if not np.isfinite(estimate):
                reason = ra["note"] or rb["note"] or "undefined"
                lower = upper = float("nan")
            elif in_sample:
                reason = "in-sample selection (one scored run per configuration): no interval"
                lower = upper = float("nan")
            else:
                lower, upper = difference_interval(
                    estimate, _errors(errors, a, quantity), _errors(errors, b, quantity),
                    confidence)
            rows.append(_row(quantity, a, b, estimate, lower, upper, in_sample, str(reason)))
    return rows


def _improvement_rows(poi: pd.DataFrame) -> list[dict[str, object]]:
    rows = []
    for r in poi.itertuples(index=False):
        a, b = str(r.algorithm_x), str(r.algorithm_y)
        if a < b:  # each unordered pair once; (b, a) is its complement
            rows.append(_row(IMPROVEMENT, a, b, float(r.probability), float(r.lower),
                             float(r.upper), False, ""))
    return rows


def algorithm_comparisons(
    sensitivity: pd.DataFrame | None,
    errors: Mapping[str, Mapping[str, np.ndarray]],
    poi: pd.DataFrame | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Every pair of algorithms (sorted names, ``a < b``) on Φ, both tuned scores and, with
    ``poi``, the probability of improvement: ``a − b`` (or ``P(a > b)``) with its interval.

    ``sensitivity`` is :func:`hyperparameter_sensitivity` output (None: no hyperparameter was
    searched) and ``errors`` :func:`tuned_score_errors` output for the same scores, ``reps`` and
    ``seed`` (an algorithm or quantity missing from it gets no interval). Columns:
    ``quantity`` (``sensitivity``, ``per_env_tuned``, ``cross_env_tuned``, ``improvement``),
    ``estimate``, ``lower``, ``upper``, ``null`` (the value of no difference), ``separated``
    (the interval excludes ``null``: the data support a difference at ``confidence``),
    ``higher`` (the algorithm with the larger value when separated, else None),
    ``optimistic`` (an in-sample estimate took part: no interval, no claim), ``reason`` (why
    there is no interval) and ``n_comparisons`` (pairs compared on that quantity).
    """
    rows = [] if sensitivity is None else _tuned_rows(sensitivity, errors, confidence)
    if poi is not None and len(poi):
        rows += _improvement_rows(poi)
    out = pd.DataFrame(rows, columns=COLUMNS[:-1])
    out["n_comparisons"] = out.groupby("quantity")["quantity"].transform("size").astype(int)
    return out[COLUMNS]
