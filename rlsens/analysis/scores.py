"""Per-run scalar scores: the one number per run that every analysis compares.

Jordan et al. (2020), Adkins et al. (2024) and the CHS benchmark (Patterson et al., 2024) all
score a run by the area under its learning curve (mean evaluation return over training), so
``auc`` is the default; ``final`` (mean of the last evaluations) is the classic alternative.

Runs that failed, diverged or timed out have no trustworthy score. Dropping them silently
flatters fragile algorithms (Henderson et al., 2018), so the policy is explicit, and
:func:`failed_policy_text` gives the sentence every report states:

- ``worst``: the run scores the worst ``ok`` score observed on its environment across all
  algorithms (a floor that stays on the environment's own scale, so normalization still works);
- ``exclude``: the run is dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlsens.analysis._frames import hp_columns
from rlsens.record import OK

SCORE_KINDS = ("auc", "final")
FAILED_POLICIES = ("worst", "exclude")
SCORE_COLUMNS = [
    "algorithm", "env_id", "config_id", "seed", "seed_role", "run_id", "status", "score",
    "raw_score",
]


def failed_policy_text(policy: str) -> str:
    """The sentence stating how failed runs were scored (printed with every result)."""
    _check_policy(policy)
    if policy == "worst":
        return (
            "Failed, diverged and timed-out runs (and runs without a finite score) are scored "
            "as the worst successful score observed on their environment across all "
            "algorithms; environments without any successful run are dropped."
        )
    return (
        "Failed, diverged and timed-out runs (and runs without a finite score) are excluded "
        "from every statistic."
    )


def _check_policy(policy: str) -> None:
    if policy not in FAILED_POLICIES:
        raise ValueError(f"failed policy must be one of {FAILED_POLICIES}, got {policy!r}")


def run_scores(runs: pd.DataFrame, score: str = "auc", failed: str = "worst") -> pd.DataFrame:
    """The *scores* frame: one row per run with ``score`` (and ``raw_score``) set.

    ``score`` and ``raw_score`` are equal here; :func:`rlsens.analysis.normalize` later rewrites
    ``score`` and keeps ``raw_score``. A run counts as successful only if its status is ``ok``
    and its score is finite. The frame's ``attrs`` record the score kind and the failed policy
    so that later stages can state them.
    """
    if score not in SCORE_KINDS:
        raise ValueError(f"score must be one of {SCORE_KINDS}, got {score!r}")
    _check_policy(failed)
    hps = hp_columns(runs)
    frame = runs[[c for c in SCORE_COLUMNS if c not in ("score", "raw_score")]]
    frame = frame.assign(score=pd.to_numeric(runs[f"score_{score}"], errors="coerce").astype(float))
    good = (frame["status"] == OK) & np.isfinite(frame["score"])
    if failed == "exclude":
        frame = frame[good]
    else:
        worst = frame["score"].where(good).groupby(frame["env_id"]).transform("min")
        frame = frame.assign(score=frame["score"].where(good, worst))
        frame = frame[np.isfinite(frame["score"])]
    frame = frame.assign(raw_score=frame["score"])
    out = pd.concat([frame[SCORE_COLUMNS], runs.loc[frame.index, hps]], axis=1)
    out = out.reset_index(drop=True)
    out.attrs.update(
        {"score": score, "failed_policy": failed, "failed_policy_text": failed_policy_text(failed)}
    )
    return out


def carry_attrs(out: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Copy the scores' provenance (score kind, failed policy and its sentence, normalization)
    onto an analysis result, so every output can state how it was computed."""
    out.attrs.update(scores.attrs)
    return out
