"""The choice of the hyperparameter pair a report maps, and the binned grid it draws."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlsens.analysis import most_important_pairs, pair_grid


def _imp(rows: list[tuple[str, str, str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["algorithm", "env_id", "term", "order", "importance"])


def test_pair_with_largest_joint_share_wins_over_largest_interaction() -> None:
    imp = _imp([
        ("a", "all", "lr", 1, 0.5), ("a", "all", "gamma", 1, 0.3), ("a", "all", "tau", 1, 0.0),
        ("a", "all", "lr × gamma", 2, 0.01), ("a", "all", "gamma × tau", 2, 0.15),
        ("a", "all", "lr × tau", 2, 0.02),
        # per-environment rows are ignored when a cross-environment row exists
        ("a", "e1", "gamma × tau", 2, 0.9),
    ])
    pairs = most_important_pairs(imp)
    assert pairs.to_dict("records") == [
        {"algorithm": "a", "param_a": "lr", "param_b": "gamma", "explained": 0.81}
    ]


def test_single_environment_rows_and_undefined_pairs() -> None:
    imp = _imp([
        ("a", "e1", "x", 1, 0.2), ("a", "e1", "y", 1, 0.1), ("a", "e1", "x × y", 2, 0.05),
        ("b", "e1", "x", 1, 0.2), ("b", "e1", "x × y", 2, float("nan")),
    ])
    pairs = most_important_pairs(imp)
    assert list(pairs["algorithm"]) == ["a"]
    assert np.isclose(pairs["explained"].iloc[0], 0.35)


def test_pair_grid_averages_configuration_means_per_cell() -> None:
    cm = pd.DataFrame({
        "score": [1.0, 3.0, 10.0, 20.0, 5.0],
        "hp.x": [1, 1, 2, 2, 1],
        "hp.opt": ["adam", "adam", "sgd", "adam", "sgd"],
    })
    grid = pair_grid(cm, "x", "opt")
    assert list(grid.index) == ["sgd", "adam"]  # y axis from the top
    assert list(grid.columns) == ["1", "2"]
    assert grid.loc["adam", "1"] == 2.0 and grid.loc["adam", "2"] == 20.0
    assert grid.loc["sgd", "1"] == 5.0 and grid.loc["sgd", "2"] == 10.0


def test_pair_grid_bins_many_numeric_values_at_quantiles() -> None:
    cm = pd.DataFrame({"score": np.arange(20.0), "hp.lr": np.linspace(0.1, 2.0, 20),
                       "hp.n": [1, 2] * 10})
    grid = pair_grid(cm, "lr", "n", bins=4)
    assert grid.shape == (2, 4)
    # first quantile bin holds configurations 0..4: n=1 at 0, 2, 4 and n=2 at 1, 3
    assert grid.iloc[1, 0] == 2.0 and grid.iloc[0, 0] == 2.0
    assert grid.columns[0] == "0.1–0.5"
