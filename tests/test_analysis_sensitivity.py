"""Adkins et al. (2024) sensitivity, Probst tunability and sensitivity curves on tiny frames."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from rlsens.analysis.protocol import select_and_report
from rlsens.analysis.sensitivity import (
    SINGLE_ENV_NOTE,
    config_means,
    effective_dimensionality,
    hyperparameter_sensitivity,
    sensitivity_plane,
)
from rlsens.analysis.sensitivity_curves import sensitivity_curves
from rlsens.analysis.tunability import tunability


def make_scores(cells: dict[tuple[str, str, str], list[float]],
                hps: dict[str, dict[str, object]]) -> pd.DataFrame:
    """A scores frame from {(algorithm, env, config): [seed scores]} and {config: {hp: value}}."""
    rows = []
    for (alg, env, config), values in cells.items():
        for seed, value in enumerate(values):
            row = {"algorithm": alg, "env_id": env, "config_id": config, "seed": seed,
                   "seed_role": "all", "run_id": f"{alg}-{env}-{config}-{seed}", "status": "ok",
                   "score": value, "raw_score": value}
            row.update({f"hp.{k}": v for k, v in hps[config].items()})
            rows.append(row)
    return pd.DataFrame(rows)


# Two envs, a 2x2 grid over a (matters, differently per env) and b (irrelevant).
GRID_HPS = {f"a{a}b{b}": {"a": a, "b": b} for a in (0, 1) for b in (0, 1)}
GRID_GAMMA = {  # Γ(env, config)
    ("e1", "a0b0"): 1.0, ("e1", "a0b1"): 1.0, ("e1", "a1b0"): 0.2, ("e1", "a1b1"): 0.2,
    ("e2", "a0b0"): 0.4, ("e2", "a0b1"): 0.4, ("e2", "a1b0"): 0.8, ("e2", "a1b1"): 0.8,
}


def grid_scores(alg: str = "alg", noise: float = 0.0) -> pd.DataFrame:
    cells = {(alg, env, c): [g - noise, g + noise] for (env, c), g in GRID_GAMMA.items()}
    return make_scores(cells, GRID_HPS)


def test_config_means_skips_nan_and_drops_empty_configs() -> None:
    frame = make_scores({("x", "e", "c1"): [1.0, 3.0, np.nan], ("x", "e", "c2"): [np.nan]},
                        {"c1": {"lr": 0.1}, "c2": {"lr": 0.2}})
    cm = config_means(frame)
    assert list(cm["config_id"]) == ["c1"]
    assert cm.loc[0, "score"] == 2.0 and cm.loc[0, "n_seeds"] == 2 and cm.loc[0, "hp.lr"] == 0.1


def test_per_env_cross_env_and_phi_by_hand() -> None:
    out = hyperparameter_sensitivity(grid_scores()).iloc[0]
    assert out["per_env_tuned"] == pytest.approx((1.0 + 0.8) / 2)
    assert out["cross_env_tuned"] == pytest.approx((1.0 + 0.4) / 2)  # a0 beats a1 (0.5)
    assert out["sensitivity"] == pytest.approx(0.2)
    assert out["default_config_id"] == "a0b0"  # tie with a0b1 -> smallest id
    assert out["n_envs"] == 2 and out["n_common_configs"] == 4 and out["note"] == ""


def test_cross_env_uses_only_configs_present_on_every_env() -> None:
    cells = {("x", "e1", "good"): [5.0], ("x", "e1", "ok"): [1.0], ("x", "e2", "ok"): [1.0]}
    out = hyperparameter_sensitivity(make_scores(cells, {"good": {"p": 1}, "ok": {"p": 2}}))
    assert out.loc[0, "default_config_id"] == "ok"
    assert out.loc[0, "per_env_tuned"] == pytest.approx(3.0)
    assert out.loc[0, "cross_env_tuned"] == pytest.approx(1.0)


def test_single_environment_gives_nan_with_note() -> None:
    frame = grid_scores()
    out = hyperparameter_sensitivity(frame.loc[frame["env_id"] == "e1"]).iloc[0]
    assert out["per_env_tuned"] == pytest.approx(1.0)
    assert np.isnan(out["cross_env_tuned"]) and np.isnan(out["sensitivity"])
    assert out["note"] == SINGLE_ENV_NOTE
    _, summary = effective_dimensionality(frame.loc[frame["env_id"] == "e1"])
    assert summary.loc[0, "note"] == SINGLE_ENV_NOTE


def test_bootstrap_is_deterministic_and_brackets_the_point() -> None:
    frame = grid_scores(noise=0.3)
    a = hyperparameter_sensitivity(frame, reps=500, seed=3)
    b = hyperparameter_sensitivity(frame, reps=500, seed=3)
    pd.testing.assert_frame_equal(a, b)
    row = a.iloc[0]
    for name in ("per_env_tuned", "cross_env_tuned", "sensitivity"):
        assert row[f"{name}_lower"] <= row[name] + 0.31 and row[f"{name}_upper"] >= row[name] - 0.31
        assert row[f"{name}_lower"] < row[f"{name}_upper"]
    exact = hyperparameter_sensitivity(grid_scores(noise=0.0), reps=200).iloc[0]
    assert exact["sensitivity_lower"] == pytest.approx(0.2)
    assert exact["sensitivity_upper"] == pytest.approx(0.2)


def test_bootstrap_of_one_algorithm_ignores_the_others() -> None:
    one = hyperparameter_sensitivity(grid_scores("p", 0.3), reps=300)
    both = hyperparameter_sensitivity(pd.concat([grid_scores("p", 0.3), grid_scores("q", 0.1)]),
                                      reps=300)
    pd.testing.assert_frame_equal(one, both.iloc[[0]].reset_index(drop=True))


def test_effective_dimensionality_curve_and_crossing() -> None:
    curve, summary = effective_dimensionality(grid_scores())
    scores = curve.set_index("k")["score"]
    assert scores[0] == pytest.approx(0.7)  # P_cross
    assert scores[1] == pytest.approx(0.9) and curve.loc[1, "subset"] == "a"
    assert scores[2] == pytest.approx(0.9)  # P_env
    row = summary.iloc[0]
    assert row["target"] == pytest.approx(0.95 * 0.9)
    assert row["dimensionality"] == 1
    assert row["interpolated"] == pytest.approx((0.855 - 0.7) / (0.9 - 0.7))
    _, gap = effective_dimensionality(grid_scores(), baseline="cross")
    assert gap.loc[0, "target"] == pytest.approx(0.7 + 0.95 * 0.2)


def test_dimensionality_zero_when_one_config_wins_everywhere() -> None:
    cells = {("x", env, c): [v + (env == "e2")] for env in ("e1", "e2")
             for c, v in (("lo", 1.0), ("hi", 2.0))}
    _, summary = effective_dimensionality(make_scores(cells, {"lo": {"p": 0}, "hi": {"p": 1}}))
    assert summary.loc[0, "dimensionality"] == 0 and summary.loc[0, "interpolated"] == 0.0


def test_nonpositive_p_env_is_not_a_fraction() -> None:
    frame = grid_scores()
    frame["score"] -= 5.0
    _, zero = effective_dimensionality(frame)
    assert pd.isna(zero.loc[0, "dimensionality"]) and "P_env <= 0" in zero.loc[0, "note"]
    _, gap = effective_dimensionality(frame, baseline="cross")
    assert gap.loc[0, "dimensionality"] == 1


def test_sensitivity_plane_regions() -> None:
    table = pd.DataFrame({
        "algorithm": ["ref", "r1", "r2", "r3", "r4", "r5a", "r5b"],
        "sensitivity": [0.2, 0.1, 0.4, 0.1, 0.4, 0.1, 0.4],
        "per_env_tuned": [1.0, 1.1, 1.3, 0.95, 1.1, 0.85, 0.99],
    })
    out = sensitivity_plane(table, "ref").set_index("algorithm")["region"]
    assert out.to_dict() == {"ref": 1, "r1": 1, "r2": 2, "r3": 3, "r4": 4, "r5a": 5, "r5b": 5}
    with pytest.raises(ValueError, match="reference"):
        sensitivity_plane(table, "nope")


def test_tunability_matches_phi_and_per_param_gains() -> None:
    tables = tunability(grid_scores())
    overall = tables["overall"].set_index("env_id")["d"]
    assert overall["e1"] == pytest.approx(0.0) and overall["e2"] == pytest.approx(0.4)
    assert overall["all"] == pytest.approx(0.2)  # equals Φ
    per = tables["per_param"].set_index("param")
    assert per.loc["a", "d"] == pytest.approx(0.2) and per.loc["a", "relative"] == pytest.approx(1)
    assert per.loc["b", "d"] == pytest.approx(0.0)
    pair = tables["pairs"].iloc[0]
    assert pair["d_joint"] == pytest.approx(0.2) and pair["joint_gain"] == pytest.approx(0.0)


def test_tunability_joint_gain_of_an_interaction() -> None:
    # xor landscape: only moving both a and b reaches the best config on e2.
    hps = {f"a{a}b{b}": {"a": a, "b": b} for a, b in itertools.product((0, 1), repeat=2)}
    gamma = {"e1": {"a0b0": 1.0, "a0b1": 0.0, "a1b0": 0.0, "a1b1": 0.0},
             "e2": {"a0b0": 0.5, "a0b1": 0.0, "a1b0": 0.0, "a1b1": 1.0}}
    cells = {("x", e, c): [v] for e, row in gamma.items() for c, v in row.items()}
    tables = tunability(make_scores(cells, hps))
    assert tables["per_param"]["d"].tolist() == [0.0, 0.0]
    assert tables["pairs"].loc[0, "joint_gain"] == pytest.approx(0.25)


def test_sensitivity_curves_marginal_best_and_bins() -> None:
    frame = grid_scores(noise=0.1)
    marg = sensitivity_curves(frame, mode="marginal", reps=300, seed=1)
    e1a = marg.loc[(marg["env_id"] == "e1") & (marg["param"] == "a")].set_index("value")
    assert e1a.loc[0, "mean"] == pytest.approx(1.0) and e1a.loc[1, "mean"] == pytest.approx(0.2)
    assert (e1a["lower"] <= e1a["mean"]).all() and (e1a["upper"] >= e1a["mean"]).all()
    assert set(marg["env_id"]) == {"e1", "e2", "all"} and (marg["n"] == 2).all()
    again = sensitivity_curves(frame, mode="marginal", reps=300, seed=1)
    pd.testing.assert_frame_equal(marg, again)
    best = sensitivity_curves(frame, mode="best", reps=0)
    allb = best.loc[(best["env_id"] == "all") & (best["param"] == "b")]
    assert allb["mean"].tolist() == pytest.approx([0.7, 0.7]) and allb["lower"].isna().all()
    rng = np.random.default_rng(0)
    lrs = rng.uniform(0, 1, 40)
    cells = {("x", "e", f"c{i}"): [float(v)] for i, v in enumerate(lrs)}
    binned = sensitivity_curves(make_scores(cells, {f"c{i}": {"lr": v} for i, v in
                                                    enumerate(lrs)}), reps=0, bins=4)
    assert len(binned) == 4 and binned["n"].sum() == 40
    assert (binned["value_low"] <= binned["value"]).all()
    assert binned["mean"].is_monotonic_increasing


# --- tuned scores without the winner's curse -------------------------------------------------

def simulated_study(mu: np.ndarray, rng: np.random.Generator, seeds: int = 10,
                    held_out: bool = False) -> pd.DataFrame:
    """Scores N(mu[env, config], 1), one frame; held_out: first half tune, second half report."""
    rows = []
    for e, row in enumerate(mu):
        for h, mean in enumerate(row):
            for s, value in enumerate(mean + rng.standard_normal(seeds)):
                role = ("tune" if s < seeds // 2 else "report") if held_out else "all"
                rows.append({"algorithm": "a", "env_id": f"e{e}", "config_id": f"c{h:02d}",
                             "seed": s, "seed_role": role, "run_id": f"{e}-{h}-{s}",
                             "status": "ok", "score": float(value), "raw_score": float(value),
                             "hp.h": h})
    return pd.DataFrame(rows)


def coverage(mu: np.ndarray, studies: int, held_out: bool) -> dict[str, float]:
    truth = {"per_env_tuned": mu.max(axis=1).mean(), "cross_env_tuned": mu.mean(axis=0).max()}
    truth["sensitivity"] = truth["per_env_tuned"] - truth["cross_env_tuned"]
    rng = np.random.default_rng(5)
    hits = {name: 0 for name in truth}
    for i in range(studies):
        row = hyperparameter_sensitivity(simulated_study(mu, rng, held_out=held_out),
                                         reps=300, seed=i).iloc[0]
        assert row["method"] == ("held-out" if held_out else "cross-fit")
        for name, value in truth.items():
            hits[name] += row[f"{name}_lower"] <= value <= row[f"{name}_upper"]
    return {name: n / studies for name, n in hits.items()}


@pytest.mark.parametrize("held_out", [False, True])
def test_intervals_cover_the_tuned_score_of_equal_configurations(held_out: bool) -> None:
    # 40 configurations of equal true mean 0 on two envs: P_env = P_cross = Φ = 0.
    rates = coverage(np.zeros((2, 40)), studies=30, held_out=held_out)
    assert min(rates.values()) >= 0.8, rates


def test_intervals_cover_known_differences() -> None:
    mu = np.zeros((2, 40))
    mu[0, 0] = mu[1, 1] = 3.0  # P_env = 3, P_cross = 1.5, Φ = 1.5
    rates = coverage(mu, studies=30, held_out=False)
    assert min(rates.values()) >= 0.8, rates


def test_in_sample_values_are_kept_and_optimistic() -> None:
    frame = simulated_study(np.zeros((2, 40)), np.random.default_rng(0))
    row = hyperparameter_sensitivity(frame).iloc[0]
    cm = config_means(frame)
    assert row["per_env_tuned_in_sample"] == pytest.approx(
        cm.groupby("env_id")["score"].max().mean())
    assert row["per_env_tuned_in_sample"] > 0.4  # E[max of 40 N(0, 0.1)] ~ 0.71
    assert abs(row["per_env_tuned"]) < 0.4 and row["method"] == "cross-fit"
    assert row["sensitivity"] == pytest.approx(row["per_env_tuned"] - row["cross_env_tuned"])


def test_cross_fit_by_hand_and_in_sample_fallback() -> None:
    # e1: c1 = {1 | 5}, c2 = {2 | 2}; e2: c1 = {0 | 0}, c2 = {4 | 0} (halves by seed).
    cells = {("x", "e1", "c1"): [1.0, 5.0], ("x", "e1", "c2"): [2.0, 2.0],
             ("x", "e2", "c1"): [0.0, 0.0], ("x", "e2", "c2"): [4.0, 0.0]}
    row = hyperparameter_sensitivity(make_scores(cells, {"c1": {"p": 1}, "c2": {"p": 2}})).iloc[0]
    # First half selects c2 on e1 (scored 2) and c2 on e2 (scored 0): P_env 1; cross: c2
    # (mean 3 vs 0.5), scored (2 + 0) / 2 = 1. Second half selects c1 on e1 (scored 1) and
    # c1 on e2 (tie at 0 -> c1, scored 0): 0.5; cross: c1 (2.5 vs 1), scored 0.5.
    assert row["per_env_tuned"] == pytest.approx((1.0 + 0.5) / 2)
    assert row["cross_env_tuned"] == pytest.approx((1.0 + 0.5) / 2)
    assert row["per_env_tuned_in_sample"] == pytest.approx((3.0 + 2.0) / 2)
    single = {k: v[:1] for k, v in cells.items()}
    one = hyperparameter_sensitivity(make_scores(single, {"c1": {"p": 1}, "c2": {"p": 2}}),
                                     reps=50).iloc[0]
    assert one["method"] == "in-sample"
    assert one["per_env_tuned"] == one["per_env_tuned_in_sample"] == pytest.approx(3.0)
    assert np.isnan(one["per_env_tuned_lower"])


def test_selected_configurations_cross_fit_and_fallback() -> None:
    rng = np.random.default_rng(1)
    rows = pd.concat([select_and_report(simulated_study(np.zeros((1, 40)), rng))
                      for _ in range(10)])
    assert (rows["method"] == "cross-fit").all() and not rows["optimistic"].any()
    # True means are all 0: the in-sample best sits near E[max of 40 N(0, 0.1)] ~ 0.71.
    assert rows["selection_score"].mean() > 0.5 and abs(rows["reported_score"].mean()) < 0.2
    frame = simulated_study(np.zeros((1, 40)), rng)
    single = frame.loc[frame["seed"] == 0]
    fallback = select_and_report(single).iloc[0]
    assert fallback["method"] == "in-sample" and bool(fallback["optimistic"])
    assert fallback["reported_score"] == fallback["selection_score"]


def test_best_sensitivity_curve_is_select_then_score() -> None:
    # One hyperparameter with 2 values x 20 configurations each, all of true mean 0: the
    # in-sample best at each value is inflated, the cross-fitted one covers 0.
    rng = np.random.default_rng(3)
    frame = simulated_study(np.zeros((2, 40)), rng)
    frame["hp.h"] = frame["config_id"].map(lambda c: int(c[1:]) % 2)
    curve = sensitivity_curves(frame, params=["h"], mode="best", reps=300, seed=0)
    assert len(curve) == 6 and (curve["method"] == "cross-fit").all()
    assert (curve["in_sample"] > 0.3).all()
    # Equal when both halves select the in-sample best (the halves' scores average to its mean).
    assert (curve["in_sample"] >= curve["mean"] - 1e-12).all()
    assert (curve["in_sample"] - curve["mean"]).mean() > 0.2
    assert ((curve["lower"] <= 0.0) & (curve["upper"] >= 0.0)).mean() >= 5 / 6


@pytest.mark.parametrize("roles", [("all",), ("tune", "report")])
def test_methods_text_names_each_estimate_and_the_optimistic_ones(roles: tuple[str, ...]) -> None:
    from rlsens.report.bibliography import Citations
    from rlsens.report.methods import methods_paragraphs
    from rlsens.report.options import ReportOptions
    from rlsens.store import Manifest

    scores = pd.DataFrame({"seed_role": list(roles), "score": [1.0] * len(roles)})
    used = {"sensitivity": True, "sensitivity_methods": ["in-sample"], "protocol": ["held-out"],
            "dimensionality": True, "importance": ["forest"]}
    cite = Citations()
    text = " ".join(methods_paragraphs(ReportOptions(sensitivity_reps=500), "none", scores,
                                       used, Manifest.from_dict({}), cite))
    assert ("held-out" if "tune" in roles else "cross-fitted") in text
    assert "in-sample values beside them" in text and "optimistic" in text
    assert "500 replicates" in text and "basic bootstrap intervals of its error" in text
    assert "no split was possible" in text  # an algorithm fell back to in-sample
    assert "Effective dimensionality is in-sample and optimistic" in text
    assert "infinitesimal-jackknife" in text and "surrogate's bias" in text


def test_methods_text_says_variance_shares_and_importance_carry_seed_noise() -> None:
    from rlsens.report.bibliography import Citations
    from rlsens.report.methods import methods_paragraphs
    from rlsens.report.options import ReportOptions
    from rlsens.store import Manifest

    scores = pd.DataFrame({"seed_role": ["all"], "score": [1.0]})
    used = {"variance": True, "importance": ["anova"]}
    text = " ".join(methods_paragraphs(ReportOptions(), "none", scores, used,
                                       Manifest.from_dict({}), Citations()))
    assert "observed shares, not variance components" in text
    assert "overstate what configurations explain" in text
    assert "seed noise left in them counts as configuration variance" in text
    without = " ".join(methods_paragraphs(ReportOptions(), "none", scores, {},
                                          Manifest.from_dict({}), Citations()))
    assert "variance decomposition" not in without and "Importance" not in without


def test_bootstrap_chunks_do_not_change_the_replicates() -> None:
    from rlsens.analysis._rng import derive_rng
    from rlsens.analysis.sensitivity import _split_tuned

    frame = simulated_study(np.zeros((2, 6)), np.random.default_rng(2))
    whole = _split_tuned(frame, 50, derive_rng(0, "a"))
    chunked = _split_tuned(frame, 50, derive_rng(0, "a"), chunk_cells=1)
    assert whole[:3] == chunked[:3]
    np.testing.assert_array_equal(whole[3], chunked[3])
    np.testing.assert_array_equal(whole[4], chunked[4])
    assert np.isfinite(whole[3]).all() and whole[3].std() > 0
