"""Tuning-seed / reporting-seed separation (Eimer et al. 2023; Patterson et al. 2024).

Choosing the best of many noisy configurations and reporting its score on the same seeds is
biased upwards (maximization bias, the winner's curse). When a suite declares seed roles
``tune`` and ``report``, the best configuration per algorithm x env is chosen by its mean on the
tune seeds and reported with its mean on the report seeds, which the choice never saw. Without
that split the reported score is the selection score itself, and ``optimistic=True`` marks
it so a report can say the number is biased upwards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["algorithm", "env_id", "config_id", "selection_score", "reported_score",
           "n_selection", "n_report", "optimistic"]


def select_and_report(scores: pd.DataFrame) -> pd.DataFrame:
    """Best configuration per algorithm x env and the score it is honestly reported with.

    Returns ``[algorithm, env_id, config_id, selection_score, reported_score, n_selection,
    n_report, optimistic]``: ``n_selection``/``n_report`` count the chosen configuration's
    scored runs on the selection/report seeds. Ties in the selection score go to the smallest
    config_id. A chosen configuration with no scored report run has ``reported_score`` NaN.
    """
    rows = []
    valid = scores.dropna(subset=["score"])
    for (alg, env), sub in valid.groupby(["algorithm", "env_id"], sort=True):
        roles = set(sub["seed_role"].unique())
        split = {"tune", "report"} <= roles
        select = sub.loc[sub["seed_role"] == "tune"] if split else sub
        stats = select.groupby("config_id", sort=True)["score"].agg(["mean", "count"])
        best = str(stats["mean"].idxmax())
        row = {"algorithm": alg, "env_id": env, "config_id": best,
               "selection_score": float(stats.loc[best, "mean"]),
               "n_selection": int(stats.loc[best, "count"])}
        if split:
            report = sub.loc[(sub["seed_role"] == "report") & (sub["config_id"] == best), "score"]
            row["reported_score"] = float(report.mean()) if len(report) else np.nan
            row["n_report"] = len(report)
            row["optimistic"] = False
        else:
            row["reported_score"] = row["selection_score"]
            row["n_report"] = row["n_selection"]
            row["optimistic"] = True
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)
