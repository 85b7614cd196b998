"""Run records -> the two tidy tables every later stage reads.

``runs``: one row per run.
    run_id, suite, algorithm, algo_class, env_id, config_id, seed, seed_role, status,
    score_auc, score_final, steps, budget, wall_time_s, steps_per_s, diverged_step, error,
    device, then ``hp.<name>`` for each searched hyperparameter (the design's axes: what a
    sensitivity study varies) and ``cfg.<name>`` for every other hyperparameter of the run
    (fixed or derived), so every hyperparameter is a column.
``curves``: one row per run x scheduled evaluation.
    run_id, algorithm, env_id, config_id, seed, seed_role, status, step, return_mean,
    return_std, return_min, return_max, length_mean, episodes.

Non-scalar hyperparameter values (``net_arch`` lists, mappings) appear as canonical JSON text
so that every column holds scalars and groups cleanly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from rlsens.record import RunResult, error_summary
from rlsens.spec import canonical_json

HP_PREFIX = "hp."
CFG_PREFIX = "cfg."

RUN_COLUMNS = [
    "run_id", "suite", "algorithm", "algo_class", "env_id", "config_id", "seed", "seed_role",
    "status", "score_auc", "score_final", "steps", "budget", "wall_time_s", "steps_per_s",
    "diverged_step", "error", "device",
]
CURVE_COLUMNS = [
    "run_id", "algorithm", "env_id", "config_id", "seed", "seed_role", "status", "step",
    "return_mean", "return_std", "return_min", "return_max", "length_mean", "episodes",
]


def scalar(value: Any) -> Any:
    """A table cell for a hyperparameter value: scalars stay, containers become JSON text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return canonical_json(value)


def run_row(result: RunResult) -> dict[str, Any]:
    spec = result.spec
    error = error_summary(result.error)
    row: dict[str, Any] = {
        "run_id": result.run_id,
        "suite": spec.suite,
        "algorithm": spec.algorithm,
        "algo_class": spec.algo_class,
        "env_id": spec.env_id,
        "config_id": spec.config_id,
        "seed": spec.seed,
        "seed_role": spec.seed_role,
        "status": result.status,
        "score_auc": result.score_auc,
        "score_final": result.score_final,
        "steps": result.steps,
        "budget": spec.budget,
        "wall_time_s": result.wall_time_s,
        "steps_per_s": result.steps_per_s,
        "diverged_step": result.diverged_step,
        "error": error[:300] if error else None,
        "device": result.device,
        "trainer": result.trainer,
    }
    for name, value in spec.point.items():
        row[HP_PREFIX + name] = scalar(value)
    for name, value in spec.hyperparameters.items():
        if name not in spec.point:
            row[CFG_PREFIX + name] = scalar(value)
    return row


def curve_rows(result: RunResult) -> list[dict[str, Any]]:
    spec = result.spec
    rows = []
    for ev in result.curve:
        returns = np.asarray(ev.returns, dtype=float)
        rows.append(
            {
                "run_id": result.run_id,
                "algorithm": spec.algorithm,
                "env_id": spec.env_id,
                "config_id": spec.config_id,
                "seed": spec.seed,
                "seed_role": spec.seed_role,
                "status": result.status,
                "step": ev.step,
                "return_mean": float(returns.mean()),
                "return_std": float(returns.std()),
                "return_min": float(returns.min()),
                "return_max": float(returns.max()),
                "length_mean": float(np.mean(ev.lengths)),
                "episodes": len(ev.returns),
            }
        )
    return rows


def build_tables(results: Iterable[RunResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``runs`` and ``curves`` tables of a set of results, in a stable row order."""
    run_rows: list[dict[str, Any]] = []
    curves: list[dict[str, Any]] = []
    for result in results:
        run_rows.append(run_row(result))
        curves.extend(curve_rows(result))
    runs = pd.DataFrame(run_rows)
    extra = sorted(c for c in runs.columns if c not in RUN_COLUMNS)
    runs = runs.reindex(columns=RUN_COLUMNS + extra)
    if len(runs):
        runs = runs.sort_values(["algorithm", "env_id", "config_id", "seed"], kind="stable")
    curve_table = pd.DataFrame(curves, columns=CURVE_COLUMNS)
    if len(curve_table):
        curve_table = curve_table.sort_values(["algorithm", "env_id", "run_id", "step"])
    return runs.reset_index(drop=True), curve_table.reset_index(drop=True)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas.

    A CSV cell beginning with ``= + - @`` (or tab/CR) is evaluated by Excel and LibreOffice
    when opened; error messages and labels come from users and runs, so text cells get a
    leading ``'`` (OWASP's advice). Only text columns change: numbers, including negative
    ones, stay numbers.
    """
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            risky = out[column].map(
                lambda v: isinstance(v, str) and v.startswith(FORMULA_PREFIXES)).astype(bool)
            if risky.any():
                out.loc[risky, column] = "'" + out.loc[risky, column]
    return out


def parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` that Parquet can store: a column mixing text and numbers becomes
    text.

    Parquet types each column, and a categorical dimension may mix kinds (``learning_rate``
    choices ``[0.0007, lin_0.0007]``, ``train_freq`` of ``4`` on one environment and
    ``[1, episode]`` on another); pyarrow refuses such a column after the sweep has run. Its
    non-text cells are written as canonical JSON text (``0.0007``, ``true``) and missing
    values stay missing; every column of one kind is unchanged.
    """
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype != object:
            continue
        present = out[column].dropna()
        if present.map(_cell_kind).nunique() > 1:
            out[column] = out[column].map(
                lambda v: v if v is None or isinstance(v, str) or _missing(v)
                else canonical_json(v.item() if isinstance(v, np.generic) else v))
    return out


def _cell_kind(value: Any) -> str:
    """Which Parquet type ``value`` needs: integers and floats share one."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number"
    return type(value).__name__


def _missing(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)
