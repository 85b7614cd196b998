"""Which hyperparameter pair to look at jointly, and its table of binned configuration means.

A report can show one two-dimensional map per algorithm; which pair deserves it is an analysis
decision (made from the importances), not a drawing one, so it is made here and the report
only draws the grid it is given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlsens.analysis._frames import hp_column

PAIR_COLUMNS = ["algorithm", "param_a", "param_b", "explained"]


def overall_importance(imp: pd.DataFrame) -> pd.DataFrame:
    """The cross-environment rows of an importance frame when present, else the single
    environment's (one environment has no ``"all"`` row)."""
    return imp[imp["env_id"] == "all"] if (imp["env_id"] == "all").any() else imp


def most_important_pairs(imp: pd.DataFrame) -> pd.DataFrame:
    """Per algorithm, the pair whose two hyperparameters together explain the most variance.

    ``explained`` is both main effects plus their interaction: a reader wants to see jointly the
    two hyperparameters that matter most together, even when the interaction itself is small
    (the highest interaction alone often pairs two unimportant ones). Terms are read from the
    ``"a × b"`` labels of :func:`rlsens.analysis.importance`; an unknown main effect counts as
    0 and ties go to the first pair in the frame's order. Returns ``[algorithm, param_a,
    param_b, explained]``, one row per algorithm that has a pair with a defined importance.
    """
    overall = overall_importance(imp)
    pairs = overall[(overall["order"] == 2) & overall["importance"].notna()]
    mains = (overall[overall["order"] == 1].set_index(["algorithm", "term"])["importance"]
             .fillna(0.0))
    rows = []
    for algorithm, part in pairs.groupby("algorithm", sort=True):
        terms = [tuple(t.strip() for t in str(term).split("×")) for term in part["term"]]
        joint = [
            mains.get((algorithm, a), 0.0) + mains.get((algorithm, b), 0.0) + float(inter)
            for (a, b), inter in zip(terms, part["importance"], strict=True)
        ]
        best = int(np.argmax(joint))
        rows.append((algorithm, *terms[best], float(joint[best])))
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def display_bins(values: pd.Series, bins: int = 5) -> pd.Categorical:
    """Ordered bins for one axis of the map: quantile bins for many numeric values (labelled
    by the range of values inside each), else the values themselves in sorted order."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and numeric.nunique() > bins:
        codes = pd.qcut(numeric, bins, labels=False, duplicates="drop")
        ranges = numeric.groupby(codes).agg(["min", "max"])
        labels = {code: f"{r['min']:.3g}–{r['max']:.3g}" for code, r in ranges.iterrows()}
        return pd.Categorical(codes.map(labels), categories=[labels[c] for c in sorted(labels)],
                              ordered=True)
    if numeric.notna().all():
        order = [str(v) for v in sorted(numeric.unique())]
        return pd.Categorical(numeric.map(str), categories=order, ordered=True)
    text = values.astype(str)
    return pd.Categorical(text, categories=sorted(text.unique()), ordered=True)


def pair_grid(cm: pd.DataFrame, param_a: str, param_b: str, bins: int = 5) -> pd.DataFrame:
    """Mean configuration score per (bin of ``param_b``, bin of ``param_a``) of one algorithm.

    ``cm`` holds configuration means (:func:`rlsens.analysis.config_means`), possibly over
    several environments: a cell averages every configuration mean whose values fall in it.
    Rows are ``param_b`` bins from the highest down (a map's y axis), columns ``param_a``
    bins; empty cells are NaN.
    """
    a, b = cm[hp_column(param_a)], cm[hp_column(param_b)]
    return (cm.assign(_a=display_bins(a, bins), _b=display_bins(b, bins))
            .pivot_table(index="_b", columns="_a", values="score", aggfunc="mean",
                         observed=False)
            .sort_index(ascending=False))
