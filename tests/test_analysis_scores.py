"""Per-run scores, the failed-run policy and per-environment normalization (G8)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synthetic import make_tables

from rlsens.analysis.normalize import cdf_scale, normalize
from rlsens.analysis.scores import failed_policy_text, run_scores


def _runs() -> pd.DataFrame:
    runs, _ = make_tables(n_configs=3, seeds=4, fail_rate=0.1, diverge_rate=0.1, seed=1)
    return runs


def _scores(values: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    rows = [
        {"algorithm": a, "env_id": e, "config_id": "c", "seed": i, "seed_role": "all",
         "run_id": f"{a}-{e}-{i}", "status": "ok", "score": v, "raw_score": v}
        for (a, e), vs in values.items()
        for i, v in enumerate(vs)
    ]
    return pd.DataFrame(rows)


def test_run_scores_columns_and_provenance() -> None:
    runs = _runs()
    scores = run_scores(runs)
    expected = ["algorithm", "env_id", "config_id", "seed", "seed_role", "run_id", "status",
                "score", "raw_score"]
    assert list(scores.columns[:9]) == expected
    assert {c for c in scores.columns if c.startswith("hp.")} == {
        c for c in runs.columns if c.startswith("hp.")
    }
    assert (scores["score"] == scores["raw_score"]).all()
    assert scores.attrs["failed_policy_text"] == failed_policy_text("worst")
    assert scores.attrs["score"] == "auc"


def test_worst_policy_uses_worst_ok_score_of_env_across_algorithms() -> None:
    runs = _runs()
    scores = run_scores(runs, score="final", failed="worst")
    assert len(scores) == len(runs)
    ok = runs[runs["status"] == "ok"]
    for env_id, group in scores.groupby("env_id"):
        worst = ok.loc[ok["env_id"] == env_id, "score_final"].min()
        assert (group.loc[group["status"] != "ok", "score"] == worst).all()
        assert group["score"].min() == worst


def test_exclude_policy_drops_unsuccessful_runs() -> None:
    runs = _runs()
    scores = run_scores(runs, failed="exclude")
    assert (scores["status"] == "ok").all()
    assert len(scores) == (runs["status"] == "ok").sum()
    assert "excluded" in failed_policy_text("exclude")


def test_env_without_any_ok_run_is_dropped_under_worst() -> None:
    runs = _runs()
    runs.loc[runs["env_id"] == "Pendulum-v1", "status"] = "failed"
    scores = run_scores(runs)
    assert set(scores["env_id"]) == {"CartPole-v1"}


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="failed policy"):
        failed_policy_text("drop")
    with pytest.raises(ValueError, match="score"):
        run_scores(_runs(), score="best")


def test_reference_normalization() -> None:
    scores = _scores({("a", "e"): [0.0, 50.0, 100.0], ("a", "f"): [-10.0, 0.0]})
    out = normalize(scores, "reference", reference={"e": (0.0, 200.0), "f": (-10.0, 10.0)})
    assert out["score"].tolist() == [0.0, 0.25, 0.5, 0.0, 0.5]
    assert out["raw_score"].tolist() == scores["raw_score"].tolist()
    assert out.attrs["normalization"]["anchors"]["e"] == (0.0, 200.0)
    with pytest.raises(ValueError, match="reference"):
        normalize(scores, "reference", reference={"e": (0.0, 1.0)})


def test_observed_min_max_updates_both_ends_independently() -> None:
    # Pooled over algorithms; the lowest and highest values come from the same algorithm
    # (marl-eval's if/elif update would miss one of them).
    scores = _scores({("a", "e"): [5.0, -5.0, 15.0], ("b", "e"): [0.0, 10.0]})
    out = normalize(scores, "observed")
    assert out["score"].tolist() == [0.5, 0.0, 1.0, 0.25, 0.75]


def test_percentile_normalization_anchors_pooled_quantiles() -> None:
    values = {("a", "e"): list(np.arange(0.0, 50.0)), ("b", "e"): list(np.arange(50.0, 101.0))}
    out = normalize(_scores(values), "percentile")
    assert out["score"].iloc[5] == pytest.approx(0.0)
    assert out["score"].iloc[95] == pytest.approx(1.0)
    assert out["score"].min() < 0 and out["score"].max() > 1
    custom = normalize(_scores(values), "percentile", quantiles=(0.0, 1.0))
    assert custom["score"].min() == 0.0 and custom["score"].max() == 1.0


def test_zero_width_range_maps_to_zero() -> None:
    out = normalize(_scores({("a", "e"): [3.0, 3.0]}), "observed")
    assert out["score"].tolist() == [0.0, 0.0]


def test_g8_jordan_cdf_per_normalizer() -> None:
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0])
    assert cdf_scale(a, [b], "jordan").mean() == pytest.approx(1 / 3)
    assert cdf_scale(b, [a], "jordan").mean() == pytest.approx(5 / 6)
    scores = _scores({("A", "e"): list(a), ("B", "e"): list(b)})
    by_b = normalize(scores, "cdf", cdf="jordan", cdf_reference="B")
    assert by_b.loc[by_b["algorithm"] == "A", "score"].mean() == pytest.approx(1 / 3)
    by_a = normalize(scores, "cdf", cdf="jordan", cdf_reference="A")
    assert by_a.loc[by_a["algorithm"] == "B", "score"].mean() == pytest.approx(5 / 6)


def test_g8_chs_cdf_strict_mean_over_algorithms() -> None:
    refs = [np.array([1.0, 2, 3, 4]), np.array([2.0, 2, 6, 8])]
    assert cdf_scale([2.0, 3.0, 5.0, 9.0], refs, "chs").tolist() == [0.125, 0.5, 0.75, 1.0]
    scores = _scores({("alg1", "e"): [1.0, 2, 3, 4], ("alg2", "e"): [2.0, 2, 6, 8]})
    out = normalize(scores, "cdf")
    assert out["score"].iloc[1] == 0.125  # alg1's run scoring 2
    assert out.attrs["normalization"]["cdf"] == "chs"


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    raw=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=4, max_size=12),
    scale=st.floats(0.01, 100.0),
    shift=st.floats(-1e3, 1e3),
    method=st.sampled_from(["observed", "percentile", "cdf"]),
)
def test_normalized_scores_invariant_to_positive_affine_rescaling(
    raw: list[float], scale: float, shift: float, method: str
) -> None:
    half = len(raw) // 2
    base = _scores({("a", "e"): raw[:half], ("b", "e"): raw[half:]})
    moved = base.assign(raw_score=base["raw_score"] * scale + shift)
    a = normalize(base, method)["score"].to_numpy()
    b = normalize(moved, method)["score"].to_numpy()
    if method == "cdf":  # exact ties must survive the rescaling for a rank-based score
        same_order = np.array_equal(
            np.argsort(base["raw_score"], kind="stable"),
            np.argsort(moved["raw_score"], kind="stable"),
        ) and base["raw_score"].nunique() == moved["raw_score"].nunique()
        if not same_order:
            return
    np.testing.assert_allclose(a, b, atol=1e-6)
