"""The report's first section answers the question from the data: claims only where the
interval of a difference supports them, numbers in the reading taken from the tables."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synthetic import make_manifest, make_tables

from rlsens.report import ReportOptions, build_report

FAST = ReportOptions(reps=300, profile_reps=300, test_reps=100, sensitivity_reps=1000)
SPECIALIST = {"CartPole-v1": [1.0, 0.2], "Pendulum-v1": [0.2, 1.0]}  # Φ = 0.4
GENERALIST = {"CartPole-v1": [1.0, 0.9], "Pendulum-v1": [1.0, 0.9]}  # Φ = 0


def runs_with_truth(truth: dict[str, dict[str, list[float]]], noise: float = 0.03,
                    seeds: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synthetic tables whose scores are known configuration means plus noise (0..100); the
    noise of a run depends on its environment, configuration and seed only, so algorithms with
    equal truths get exactly equal data."""
    runs, curves = make_tables(algorithms=tuple(sorted(truth)), n_configs=2, seeds=seeds,
                               fail_rate=0.0, diverge_rate=0.0, timeout_rate=0.0)
    configs = sorted(runs["config_id"].unique())
    envs = sorted(runs["env_id"].unique())
    draws = np.random.default_rng(1).normal(size=(len(envs), len(configs), seeds))
    for i in runs.index:
        e, c = envs.index(runs.at[i, "env_id"]), configs.index(runs.at[i, "config_id"])
        mean = truth[runs.at[i, "algorithm"]][runs.at[i, "env_id"]][c]
        value = 100.0 * (mean + noise * draws[e, c, runs.at[i, "seed"]])
        runs.at[i, "score_auc"] = runs.at[i, "score_final"] = value
    return runs, curves


def reading(index: Path) -> str:
    """The reading as plain text (the Markdown file without its bold labels)."""
    return (index.parent / "tables" / "headline_reading.md").read_text().strip().replace("**", "")


def test_separated_sensitivity_is_claimed_first_on_the_page(tmp_path: Path) -> None:
    runs, curves = runs_with_truth({"ddpg": SPECIALIST, "td3": GENERALIST})
    index = build_report(runs, curves, make_manifest(runs), tmp_path / "r", options=FAST)
    html = index.read_text()
    text = reading(index)
    assert "ddpg's Φ exceeds td3's with 95% confidence" in text
    assert "cannot separate" not in text.split("Tuned performance:")[0]
    # the headline comes before every other section, and the page shows the same reading
    assert html.index('id="headline"') < html.index('id="overview"') \
        < html.index('id="aggregates"')
    shown = re.search(r'<p class="reading">(.*?)</p>', html, re.S)
    assert shown
    assert " ".join(unescape(re.sub(r"<[^>]+>", "", shown.group(1))).split()) == text
    # the numbers of the reading are the table's numbers
    pairs = pd.read_csv(index.parent / "tables" / "headline_pairs.csv")
    phi = pairs[pairs["quantity"] == "sensitivity"].iloc[0]
    assert phi["separated"] and phi["higher"] == "ddpg"
    assert f"ddpg − td3: {phi['estimate']:.2f} [{phi['lower']:.2f}, {phi['upper']:.2f}]" in text
    per_alg = pd.read_csv(index.parent / "tables" / "headline.csv").set_index("algorithm")
    assert per_alg.loc["ddpg", "sensitivity"] > per_alg.loc["td3", "sensitivity_upper"]
    assert set(per_alg["method"]) == {"cross-fit"} and "cross-fit estimates" in text
    assert "Optimistic: the in-sample values" in text
    for ext in ("csv", "md", "tex"):
        assert (index.parent / "tables" / f"headline.{ext}").is_file()
    assert (index.parent / "tables" / "headline_reading.tex").is_file()
    assert "headline claims a difference" in html  # the methods text says how


def test_equal_sensitivity_is_not_claimed(tmp_path: Path) -> None:
    runs, curves = runs_with_truth({"ddpg": SPECIALIST, "td3": SPECIALIST}, noise=0.1)
    index = build_report(runs, curves, make_manifest(runs), tmp_path / "r", options=FAST)
    text = reading(index)
    assert "exceeds" not in text
    assert "Sensitivity: the interval of ddpg − td3 includes 0" in text
    assert "this budget cannot separate them" in text


def test_held_out_estimates_are_named(tmp_path: Path) -> None:
    held_out, curves = make_tables(algorithms=("ddpg", "td3"), n_configs=3,
                                   seeds={"tune": 2, "report": 2})
    text = reading(build_report(held_out, curves, make_manifest(held_out), tmp_path / "h",
                                options=FAST))
    assert "held-out estimates for ddpg, td3 (selected on the tune seeds" in text


def test_single_environment_and_single_seed_say_what_is_missing(tmp_path: Path) -> None:
    runs, curves = make_tables(algorithms=("a2c", "ppo"), envs=("CartPole-v1",), n_configs=3,
                               seeds=1, fail_rate=0.0, diverge_rate=0.0, timeout_rate=0.0)
    index = build_report(runs, curves, make_manifest(runs), tmp_path / "r", options=FAST)
    text = reading(index)
    assert "need two or more environments" in text
    assert "in-sample for a2c, ppo" in text
    assert "a2c and ppo cannot be compared (in-sample selection" in text
    assert "exceeds" not in text and "is higher than" not in text


def test_one_algorithm_and_no_scores(tmp_path: Path) -> None:
    runs, curves = make_tables(algorithms=("sac",), n_configs=3, seeds=2)
    text = reading(build_report(runs, curves, make_manifest(runs), tmp_path / "one",
                                options=FAST))
    assert "nothing to compare it with" in text and "Φ: (per-environment minus" in text
    dead, _ = make_tables(algorithms=("a",), n_configs=2, seeds=2, all_failed=("a",))
    index = build_report(dead, None, make_manifest(dead), tmp_path / "dead", options=FAST)
    assert "support no statement" in reading(index)


def test_a_part_the_data_cannot_support_says_why(tmp_path: Path) -> None:
    runs, curves = make_tables(algorithms=("a", "b"), n_configs=3, seeds=2, constant=True,
                               fail_rate=0.0, diverge_rate=0.0, timeout_rate=0.0)
    text = reading(build_report(runs, curves, make_manifest(runs), tmp_path / "r",
                                options=FAST))
    assert "Most important hyperparameter: Every run has the same score (zero variance)" in text
    assert "exceeds" not in text


def test_sensitivity_reps_are_checked_and_zero_claims_nothing(tmp_path: Path) -> None:
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="sensitivity_reps"):
            ReportOptions(sensitivity_reps=bad)
    runs, curves = runs_with_truth({"ddpg": SPECIALIST, "td3": GENERALIST})
    options = ReportOptions(reps=300, profile_reps=300, test_reps=100, sensitivity_reps=0)
    text = reading(build_report(runs, curves, make_manifest(runs), tmp_path / "r",
                                options=options))
    assert "ddpg and td3 cannot be compared (no interval)" in text
    assert "Φ exceeds" not in text
