"""End-to-end report tests on synthetic tables: files, escaping and degenerate data."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from synthetic import make_manifest, make_tables

from rlsens.report import ReportOptions, build_report

FAST = ReportOptions(reps=500, profile_reps=100, test_reps=200)
EXPECTED_FIGURES = [
    "aggregates", "performance_profiles", "average_score_distributions",
    "probability_of_improvement", "sample_efficiency",
    "score_distributions", "importance", "sensitivity_plane", "effective_dimensionality",
    "tuning_curves", "variance_decomposition",
]
EXPECTED_TABLES = [
    "suite_algorithms", "suite_environments", "run_status", "aggregates",
    "probability_of_improvement", "score_spread", "importance", "sensitivity",
    "effective_dimensionality", "tuning_budget", "tunability", "variance_decomposition",
    "seed_split", "best_configurations", "pairwise_tests",
]
HOSTILE_ALGO = "<script>alert(1)</script>"
HOSTILE_VALUE = '"><img src=x onerror=alert(1)>'


def notes(html: str) -> list[str]:
    return re.findall(r'<p class="note">(.*?)</p>', html, re.S)


@pytest.fixture(scope="module")
def full_report(tmp_path_factory) -> Path:
    runs, curves = make_tables(n_configs=6, seeds=3)
    out = tmp_path_factory.mktemp("full") / "report"
    return build_report(runs, curves, make_manifest(runs), out, options=FAST)


def test_full_report_writes_every_artifact(full_report: Path):
    out = full_report.parent
    html = full_report.read_text()
    for name in EXPECTED_FIGURES:
        for ext in ("pdf", "png"):
            path = out / "figures" / f"{name}.{ext}"
            assert path.stat().st_size > 1000, path
    assert len(list((out / "figures").glob("sensitivity_curves_*.pdf"))) == 3
    assert len(list((out / "figures").glob("pair_heatmap_*.png"))) == 3
    for name in EXPECTED_TABLES:
        for ext in ("csv", "md", "tex"):
            assert (out / "tables" / f"{name}.{ext}").exists(), (name, ext)
    bib = (out / "tables" / "references.bib").read_text()
    for key in ("agarwal2021", "adkins2024", "probst2019", "hutter2014", "dodge2019",
                "tang2020", "welch1947", "holm1979", "henderson2018"):
        assert f"{{{key}," in bib
    assert "mann1947" not in bib  # Welch was used, not Mann-Whitney
    # self-contained: figures inline, no network or script
    assert html.count('src="data:image/png;base64,') == len(list((out / "figures").glob("*.png")))
    assert "http://" not in html.replace("http://www.w3.org", "") and "<script" not in html
    assert "Partial results" not in html
    assert all("lower bounds" in n for n in notes(html)), notes(html)  # only the design caveat
    for heading in ("Suite at a glance", "Methods", "References", "Provenance",
                    "Seed-split check", "Tunability"):
        assert heading in html
    assert "percentile" in html and "worst successful score" in html
    assert "optimistic" in html  # seeds all have role "all"


def test_aggregate_table_has_ci_text(full_report: Path):
    md = (full_report.parent / "tables" / "aggregates.md").read_text()
    assert re.search(r"\| \d\.\d\d \[\d\.\d\d, \d\.\d\d\] \|", md)
    tex = (full_report.parent / "tables" / "aggregates.tex").read_text()
    assert r"\toprule" in tex


def test_hostile_names_partial_results_failed_algorithm_no_curves(tmp_path: Path):
    runs, _ = make_tables(algorithms=("ppo", HOSTILE_ALGO, "dead"), n_configs=4, seeds=2,
                          hp_values={"net_arch": HOSTILE_VALUE}, all_failed=("dead",))
    manifest = make_manifest(runs, planned=len(runs) + 7,
                             env_kwargs={"render_mode": HOSTILE_VALUE})
    index = build_report(runs, None, manifest, tmp_path / "report", options=FAST)
    html = index.read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Partial results" in html and "7 of" in html
    assert any("curves table is missing" in n for n in notes(html))
    assert "dead" in html  # listed in the status table with its failed runs
    status = pd.read_csv(tmp_path / "report" / "tables" / "run_status.csv")
    assert int(status.loc[status["algorithm"] == "dead", "ok"].iloc[0]) == 0
    tex = (tmp_path / "report" / "tables" / "aggregates.tex").read_text()
    assert r"\textless{}script\textgreater{}" in tex
    md = (tmp_path / "report" / "tables" / "aggregates.md").read_text()
    assert HOSTILE_ALGO in md  # Markdown keeps the name verbatim (it is data, not HTML here)


def test_single_env_single_seed(tmp_path: Path):
    runs, curves = make_tables(algorithms=("a2c", "ppo"), envs=("CartPole-v1",), n_configs=4,
                               seeds=1, fail_rate=0.0, diverge_rate=0.0, timeout_rate=0.0)
    index = build_report(runs, curves, make_manifest(runs), tmp_path / "r", options=FAST)
    html = index.read_text()
    text = " ".join(notes(html))
    assert "single environment" in text
    assert "single seed" in text.lower()
    assert "optimality gap" in text.lower()  # raw returns: no gap
    assert (tmp_path / "r" / "figures" / "aggregates.pdf").exists()
    assert not (tmp_path / "r" / "figures" / "sensitivity_plane.pdf").exists()


def test_constant_scores(tmp_path: Path):
    runs, curves = make_tables(algorithms=("a", "b"), n_configs=3, seeds=2, constant=True,
                               fail_rate=0.0, diverge_rate=0.0, timeout_rate=0.0)
    index = build_report(runs, curves, make_manifest(runs), tmp_path / "r", options=FAST)
    assert any("zero variance" in n for n in notes(index.read_text()))


def test_nothing_succeeded_and_empty_store(tmp_path: Path):
    runs, curves = make_tables(algorithms=("a",), n_configs=2, seeds=2, all_failed=("a",))
    index = build_report(runs, curves, make_manifest(runs), tmp_path / "r1", options=FAST)
    assert any("no successful run" in n for n in notes(index.read_text()))
    empty = runs.iloc[:0]
    index = build_report(empty, curves.iloc[:0], {"plan": {"runs": 5}}, tmp_path / "r2",
                         options=FAST)
    html = index.read_text()
    assert "Partial results" in html and "5 of 5" in html


def test_sensitivity_table_shows_each_in_sample_value_beside_its_estimate(full_report: Path):
    markdown = (full_report.parent / "tables" / "sensitivity.md").read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("|"))
    for name in ("Per-env tuned", "Cross-env tuned", "Φ"):
        assert f"{name}, in-sample (optimistic)" in header, header


def test_methods_say_how_pooled_comparisons_and_profiles_weigh_environments(full_report: Path):
    html = full_report.read_text()
    assert "stratified: every shared environment weighs the same" in html
    assert "average-score distribution counts environments" in html
    assert "imputed failed runs never form a point on their own" in html


def test_bca_report_names_its_definition_and_falls_back_on_ragged_runs(tmp_path: Path):
    runs, curves = make_tables(n_configs=2, seeds=3, fail_rate=0.0, diverge_rate=0.0,
                               timeout_rate=0.0)
    options = ReportOptions(reps=300, profile_reps=50, test_reps=50, ci_method="bca")
    html = build_report(runs, curves, make_manifest(runs), tmp_path / "even",
                        options=options).read_text()
    assert "jackknife that leaves out one run index on every environment" in html
    ragged = runs.drop(runs.index[0])  # one run fewer on one environment
    html = build_report(ragged, curves, make_manifest(ragged), tmp_path / "ragged",
                        options=options).read_text()
    assert "jackknife that leaves out one run of one environment at a time" in html
    assert any("Run counts differ between environments" in n for n in notes(html))
