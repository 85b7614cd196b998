"""Frame helpers shared by the sensitivity analyses: hyperparameter columns and config means.

Every hyperparameter analysis (tuned scores, importance, tunability, sensitivity and
expected-max curves) starts from the same two facts about the scores frame: which columns are
hyperparameters (the ``hp.`` columns that :mod:`rlsens.tables` writes) and what one
configuration scored on one environment averaged over its seeds. They are defined here once so
that every analysis agrees on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from rlsens.tables import HP_PREFIX

KEYS = ["algorithm", "env_id", "config_id"]

__all__ = [
    "HP_PREFIX", "KEYS", "bare", "bootstrap_config_means", "config_means", "cross_env_table",
    "hp_column", "hp_columns", "param_columns", "same_value",
]


def hp_columns(frame: pd.DataFrame) -> list[str]:
    """The ``hp.<name>`` columns of a frame, in frame order."""
    return [c for c in frame.columns if c.startswith(HP_PREFIX)]


def hp_column(name: str) -> str:
    """The column that holds hyperparameter ``name`` (``lr`` or already ``hp.lr``)."""
    return name if name.startswith(HP_PREFIX) else HP_PREFIX + name


def param_columns(frame: pd.DataFrame, params: Iterable[str] | None) -> list[str]:
    """Resolve hyperparameter names (``lr`` or ``hp.lr``) to ``hp.`` columns of ``frame``.

    ``None`` means every ``hp.`` column that holds at least one value in ``frame`` (the columns
    of other algorithms are all-NaN in a per-algorithm slice and are not hyperparameters of it).
    """
    if params is None:
        return [c for c in hp_columns(frame) if frame[c].notna().any()]
    cols = []
    for name in params:
        col = hp_column(name)
        if col not in frame.columns:
            raise ValueError(f"unknown hyperparameter {name!r}; known: {hp_columns(frame)}")
        cols.append(col)
    return cols


def bare(col: str) -> str:
    """``hp.lr`` -> ``lr`` (the name reports show)."""
    return col[len(HP_PREFIX):] if col.startswith(HP_PREFIX) else col


def config_means(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean score over seeds per algorithm x env x config (Adkins' Γ before/after normalization).

    Returns ``[algorithm, env_id, config_id, score, n_seeds, hp.*]``. NaN scores (runs excluded
    by the failure policy) are skipped; a configuration left with no scored seed is dropped,
    as Adkins et al. drop diverged configurations.
    """
    valid = scores.dropna(subset=["score"])
    grouped = valid.groupby(KEYS, sort=True)
    out = grouped["score"].agg(["mean", "count"]).rename(
        columns={"mean": "score", "count": "n_seeds"}
    )
    hps = hp_columns(scores)
    if hps:
        out = out.join(grouped[hps].first())
    out = out.reset_index()
    out["n_seeds"] = out["n_seeds"].astype(int)
    return out


def cross_env_table(cm: pd.DataFrame) -> pd.DataFrame:
    """Config x env table of one algorithm's config means, restricted to configs on every env."""
    table = cm.pivot(index="config_id", columns="env_id", values="score")
    return table.dropna(how="any")


def same_value(values: pd.Series, target: object) -> np.ndarray:
    """Elementwise equality that treats NaN as equal to NaN (an unset hyperparameter)."""
    if pd.isna(target):
        return values.isna().to_numpy()
    return (values == target).to_numpy()


def bootstrap_config_means(
    scores: pd.DataFrame, keys: Sequence[str], reps: int, rng: np.random.Generator,
    chunk_cells: int = 4_000_000,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Bootstrap replicates of per-group means, resampling seeds within every group.

    Returns the group keys (sorted) and a ``reps x groups`` matrix. Each group keeps its own
    number of seeds (ragged groups are fine); replicates are drawn in chunks so memory stays
    bounded by ``chunk_cells`` floats whatever ``reps`` is.
    """
    valid = scores.dropna(subset=["score"])
    codes = valid.groupby(list(keys), sort=True).ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    x = valid["score"].to_numpy(dtype=float)[order]
    groups = valid.iloc[order].drop_duplicates(list(keys))[list(keys)].reset_index(drop=True)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sizes = np.diff(np.r_[starts, len(codes)])
    return groups, resampled_cell_means(x, starts[codes], sizes[codes], starts, reps, rng,
                                        chunk_cells)


def resampled_cell_means(
    x: np.ndarray, pool_start: np.ndarray, pool_size: np.ndarray, cell_starts: np.ndarray,
    reps: int, rng: np.random.Generator, chunk_cells: int,
) -> np.ndarray:
    """``reps x cells`` means of runs redrawn from their pools, in bounded-memory chunks.

    Run ``j`` is replaced by a uniform draw from ``x[pool_start[j] : pool_start[j] +
    pool_size[j]]``; cells are the contiguous slices beginning at ``cell_starts``. One kernel for
    every seed bootstrap, so that a chunk size never changes the replicates (the random stream
    is consumed run by run, replicate by replicate, whatever ``chunk_cells`` is).
    """
    sizes = np.diff(np.r_[cell_starts, len(x)])
    out = np.empty((reps, len(cell_starts)))
    step = max(1, chunk_cells // max(1, len(x)))
    for lo in range(0, reps, step):
        r = min(step, reps - lo)
        idx = pool_start + (rng.random((r, len(x))) * pool_size).astype(np.int64)
        out[lo:lo + r] = np.add.reduceat(x[idx], cell_starts, axis=1) / sizes
    return out
