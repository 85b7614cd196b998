"""Functional ANOVA importances against analytic values (analysis-methods.md §11, G11)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import qmc

from rlsens.analysis.importance import importance, importance_variability


def frame_from(points: np.ndarray, values: np.ndarray, names: list[str], env: str = "e",
               alg: str = "alg") -> pd.DataFrame:
    """One configuration per point, one seed each."""
    n = len(values)
    out = pd.DataFrame({
        "algorithm": alg, "env_id": env, "config_id": [f"c{i}" for i in range(n)], "seed": 0,
        "seed_role": "all", "run_id": [f"{env}-{i}" for i in range(n)], "status": "ok",
        "score": values, "raw_score": values,
    })
    for j, name in enumerate(names):
        out[f"hp.{name}"] = points[:, j]
    return out


def by_term(imp: pd.DataFrame, env: str = "e") -> dict[str, float]:
    return imp.loc[imp["env_id"] == env].set_index("term")["importance"].to_dict()


def test_additive_function_on_two_level_grid_is_exact() -> None:
    x = np.array(list(itertools.product((0.0, 1.0), repeat=2)))
    imp = importance(frame_from(x, 2 * x[:, 0] + x[:, 1], ["x1", "x2"]))
    terms = by_term(imp)
    assert terms["x1"] == pytest.approx(0.8) and terms["x2"] == pytest.approx(0.2)
    assert terms["x1 × x2"] == pytest.approx(0.0, abs=1e-12)
    assert set(imp["method"]) == {"anova"} and imp["std"].isna().all()
    assert imp.set_index("term")["order"].to_dict() == {"x1": 1, "x2": 1, "x1 × x2": 2}


def test_product_function_on_fine_grid() -> None:
    levels = np.linspace(0.0, 1.0, 41)
    x = np.array(list(itertools.product(levels, repeat=2)))
    terms = by_term(importance(frame_from(x, x[:, 0] * x[:, 1], ["x1", "x2"]), method="anova"))
    assert terms["x1"] == pytest.approx(3 / 7, abs=0.01)
    assert terms["x2"] == pytest.approx(3 / 7, abs=0.01)
    assert terms["x1 × x2"] == pytest.approx(1 / 7, abs=0.01)


def test_ishigami_via_forest_surrogate() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-np.pi, np.pi, (1024, 3))
    y = np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
    imp = importance(frame_from(x, y, ["x1", "x2", "x3"]), seed=0)
    assert set(imp["method"]) == {"forest"}  # auto: random design is not a grid
    terms = by_term(imp)
    assert terms["x1"] == pytest.approx(0.3139, abs=0.05)
    assert terms["x2"] == pytest.approx(0.4424, abs=0.05)
    assert terms["x3"] == pytest.approx(0.0, abs=0.03)
    assert terms["x1 × x3"] == pytest.approx(0.2437, abs=0.06)  # S13 = ST3 analytically
    assert (imp["std"].dropna() > 0).all()  # NaN: not estimable from 32 trees
    again = importance(frame_from(x, y, ["x1", "x2", "x3"]), seed=0)
    pd.testing.assert_frame_equal(imp, again)


def test_anova_refuses_an_incomplete_grid() -> None:
    x = np.array(list(itertools.product((0.0, 1.0), repeat=2)))[:3]
    with pytest.raises(ValueError, match="full grid"):
        importance(frame_from(x, x[:, 0], ["x1", "x2"]), method="anova")


def test_categorical_axes_cross_env_and_variability() -> None:
    grid = list(itertools.product(("adam", "sgd", "rms"), (0.1, 0.2, 0.3)))
    x = np.array(grid, dtype=object)
    opt_effect = {"adam": 1.0, "sgd": 0.0, "rms": 0.5}
    y1 = np.array([opt_effect[o] for o, _ in grid])  # e1: only the optimizer matters
    y2 = np.array([lr * 10 for _, lr in grid])  # e2: only the learning rate matters
    frame = pd.concat([frame_from(x, y1, ["opt", "lr"], env="e1"),
                       frame_from(x, y2, ["opt", "lr"], env="e2")])
    imp = importance(frame)
    assert by_term(imp, "e1")["opt"] == pytest.approx(1.0)
    assert by_term(imp, "e2")["lr"] == pytest.approx(1.0)
    assert set(imp["env_id"]) == {"e1", "e2", "all"}
    assert by_term(imp, "all")["opt"] + by_term(imp, "all")["lr"] == pytest.approx(1.0)
    var = importance_variability(imp).set_index("term")
    assert var.loc["opt", "min"] == pytest.approx(0.0)
    assert var.loc["opt", "max"] == pytest.approx(1.0)
    assert var.loc["opt", "std"] == pytest.approx(0.5) and var.loc["opt", "n_envs"] == 2


def sobol_design(k: int, n: int, seed: int = 1) -> np.ndarray:
    """Scrambled Sobol points in [0, 1]^k, as the suites' ``sobol`` designs draw them."""
    return qmc.Sobol(k, scramble=True, rng=np.random.default_rng(seed)).random_base2(
        int(np.log2(n)))


def names(k: int) -> list[str]:
    return [f"x{j}" for j in range(k)]


# 4 (x0 - 1/2)^2 + x1 on U[0,1]^k: Var = 16/180 + 1/12, optimum of x0 mid-range.
QUAD_S0 = (16 / 180) / (16 / 180 + 1 / 12)


@pytest.mark.parametrize("k", [3, 11, 20])
def test_mid_range_optimum_keeps_its_importance_in_many_dimensions(k: int) -> None:
    x = sobol_design(k, 256)
    y = 4 * (x[:, 0] - 0.5) ** 2 + x[:, 1]
    imp = importance(frame_from(x, y, names(k)), seed=0)
    assert set(imp["method"]) == {"forest"}
    terms = by_term(imp)
    assert terms["x0"] == pytest.approx(QUAD_S0, abs=0.04)
    assert terms["x1"] == pytest.approx(1 - QUAD_S0, abs=0.04)
    inert = [v for t, v in terms.items() if t not in ("x0", "x1")]
    assert len(inert) == k * (k + 1) // 2 - 2 and max(inert) < 0.02


@pytest.mark.parametrize("k", [3, 11, 20])
def test_product_interaction_in_many_dimensions(k: int) -> None:
    x = sobol_design(k, 128 if k == 3 else 256)
    imp = importance(frame_from(x, x[:, 0] * x[:, 1], names(k)), seed=0)
    terms = by_term(imp)
    assert terms["x0"] == pytest.approx(3 / 7, abs=0.03)
    assert terms["x1"] == pytest.approx(3 / 7, abs=0.03)
    assert terms["x0 × x1"] == pytest.approx(1 / 7, abs=0.03)


LEVEL_EFFECTS = np.array([0.0, 3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0])


def test_categorical_with_many_levels_in_eleven_dimensions() -> None:
    x = sobol_design(11, 256).astype(object)
    level = np.floor(8 * x[:, 0].astype(float)).astype(int)
    y = LEVEL_EFFECTS[level] + 6 * x[:, 1].astype(float)
    x[:, 0] = [f"opt{v}" for v in level]  # strings: encoded as sorted codes
    imp = importance(frame_from(x, y, names(11)), seed=0)
    terms = by_term(imp)
    v_cat = float(np.var(LEVEL_EFFECTS))
    assert terms["x0"] == pytest.approx(v_cat / (v_cat + 3.0), abs=0.05)
    assert terms["x1"] == pytest.approx(3.0 / (v_cat + 3.0), abs=0.03)


def test_std_is_the_spread_of_the_reported_estimate_over_designs() -> None:
    estimates, stds = [], []
    for seed in range(6):
        x = sobol_design(3, 128, seed)
        y = 4 * (x[:, 0] - 0.5) ** 2 + x[:, 1] + 0.3 * x[:, 0] * x[:, 2]
        row = importance(frame_from(x, y, names(3)), seed=seed).set_index("term").loc["x0"]
        estimates.append(row["importance"])
        stds.append(row["std"])
    spread = float(np.std(estimates, ddof=1))
    finite = [s for s in stds if np.isfinite(s)]  # NaN: not estimable from this forest
    assert len(finite) >= 4 and min(finite) > 0.0
    # Conservative: 32 trees' jackknife measured 1.3-5.6x the spread here (mean 3.1x).
    assert spread / 3 < np.mean(finite) < 6 * spread


def test_constant_scores_have_no_importance() -> None:
    x = sobol_design(4, 64)
    imp = importance(frame_from(x, np.full(len(x), 2.5), names(4)), seed=0)
    assert len(imp) == 10 and imp["importance"].isna().all() and imp["std"].isna().all()


def test_std_is_never_a_false_zero() -> None:
    """With 17 configurations (the shipped quick scales) 32 trees' Monte-Carlo correction can
    exceed the jackknife estimate; the std is then not estimable (NaN), never an exact 0."""
    x = np.vstack([sobol_design(8, 16, 3), np.full((1, 8), 0.5)])
    y = 3 * x[:, 0] + 2 * (x[:, 1] - 0.5) ** 2 + 0.2 * x[:, 2]
    std = importance(frame_from(x, y, names(8)), seed=0)["std"]
    assert not (std == 0).any() and std.isna().any() and (std.dropna() > 0).all()
