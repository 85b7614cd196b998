"""Variance decomposition with known components, and the seed-split rank check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlsens.analysis.variance import seed_split_consistency, variance_decomposition


def synthetic(env_eff: float, cfg_eff: float, inter: float, seed_eff: float,
              n_configs: int = 4, n_seeds: int = 4, alg: str = "a") -> pd.DataFrame:
    """Orthogonal ± effects so the population variance of each part is its effect squared."""
    rows = []
    for e, env_sign in (("e1", 1), ("e2", -1)):
        for c in range(n_configs):
            cfg_sign = 1 if c % 2 == 0 else -1
            for s in range(n_seeds):
                seed_sign = 1 if s % 2 == 0 else -1
                score = (env_sign * env_eff + cfg_sign * cfg_eff + env_sign * cfg_sign * inter
                         + seed_sign * seed_eff)
                rows.append({"algorithm": alg, "env_id": e, "config_id": f"c{c}", "seed": s,
                             "seed_role": "all", "run_id": f"{alg}{e}{c}{s}", "status": "ok",
                             "score": score, "raw_score": score})
    return pd.DataFrame(rows)


def test_known_components_are_recovered_and_sum_to_one() -> None:
    frame = synthetic(env_eff=2.0, cfg_eff=1.0, inter=0.5, seed_eff=1.5)
    shares = variance_decomposition(frame).set_index("component")["share"]
    total = 4.0 + 1.0 + 0.25 + 2.25
    assert shares["env"] == pytest.approx(4.0 / total)
    assert shares["config"] == pytest.approx(1.0 / total)
    assert shares["residual"] == pytest.approx(0.25 / total)
    assert shares["seed"] == pytest.approx(2.25 / total)
    assert shares.sum() == pytest.approx(1.0)
    assert np.var(frame["score"]) == pytest.approx(total)  # balanced: the plain variance


def test_only_seed_noise() -> None:
    shares = variance_decomposition(synthetic(0.0, 0.0, 0.0, 1.0)).set_index("component")
    assert shares.loc["seed", "share"] == pytest.approx(1.0)


def test_ragged_frame_still_sums_to_one() -> None:
    frame = synthetic(1.0, 1.0, 0.3, 0.7)
    frame = frame.drop(index=[0, 5]).assign(algorithm="a")
    extra = synthetic(1.0, 1.0, 0.0, 0.2, alg="b")
    out = variance_decomposition(pd.concat([frame, extra]))
    assert out.groupby("algorithm")["share"].sum().to_numpy() == pytest.approx([1.0, 1.0])
    assert (out["share"] >= 0).all()


def test_seed_split_consistency() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for c in range(10):
        for s in range(6):
            for name, signal in (("clear", float(c)), ("noise", 0.0)):
                score = signal + rng.normal(scale=0.01 if name == "clear" else 1.0)
                rows.append({"algorithm": "a", "env_id": name, "config_id": f"c{c}",
                             "seed": s, "seed_role": "all", "run_id": f"{name}{c}{s}",
                             "status": "ok", "score": score, "raw_score": score})
    frame = pd.DataFrame(rows)
    out = seed_split_consistency(frame, seed=1).set_index("env_id")
    assert out.loc["clear", "kendall_tau"] == pytest.approx(1.0)
    assert out.loc["clear", "spearman_rho"] == pytest.approx(1.0)
    assert abs(out.loc["noise", "kendall_tau"]) < 0.8
    assert out.loc["clear", "n_configs"] == 10 and out.loc["clear", "n_seeds"] == 6
    pd.testing.assert_frame_equal(seed_split_consistency(frame, seed=1).set_index("env_id"), out)
    single = seed_split_consistency(frame.loc[frame["seed"] == 0])
    assert single["kendall_tau"].isna().all()
