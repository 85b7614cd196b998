"""Unit tests of the report's formatting: CI text, the bold rule, LaTeX/Markdown, manifests."""

from __future__ import annotations

import math

import pandas as pd

from rlsens.report import merge_manifests
from rlsens.report.bibliography import Citations
from rlsens.report.latex import booktabs, escape_latex
from rlsens.report.overview import describe_dimension
from rlsens.report.tables import ReportTable, fmt_ci, fmt_num, fmt_p, separated_best


def test_fmt_ci_formats_point_and_interval():
    assert fmt_ci(0.7149, 0.6501, 0.7711) == "0.71 [0.65, 0.77]"
    assert fmt_ci(-153.26, -170.0, -140.04, 1) == "-153.3 [-170.0, -140.0]"
    assert fmt_ci(0.5, math.nan, math.nan) == "0.50"
    assert fmt_ci(math.nan, 0.1, 0.2) == "–"


def test_fmt_num_and_p():
    assert fmt_num(None) == "–"
    assert fmt_num(3) == "3"
    assert fmt_num(True) == "yes"
    assert fmt_num("1e-3") == "1e-3"  # text stays text
    assert fmt_p(0.0004) == "<0.001"
    assert fmt_p(0.0421) == "0.042"


def test_bold_only_when_best_interval_is_separated():
    # best (index 1) has lower 0.8 > runner-up upper 0.7 -> bold
    assert separated_best([0.5, 0.9, 0.6], [0.4, 0.8, 0.5], [0.6, 1.0, 0.7],
                          higher_is_better=True) == 1
    # overlapping intervals -> no bold
    assert separated_best([0.5, 0.9, 0.6], [0.4, 0.65, 0.5], [0.6, 1.0, 0.7],
                          higher_is_better=True) is None
    # lower is better (optimality gap)
    assert separated_best([0.1, 0.5], [0.05, 0.4], [0.15, 0.6], higher_is_better=False) == 0
    # a single entry has no runner-up
    assert separated_best([0.5], [0.4], [0.6], higher_is_better=True) is None
    # ties are never bold
    assert separated_best([0.5, 0.5], [0.5, 0.5], [0.5, 0.5], higher_is_better=True) is None


def test_escape_latex_specials():
    assert escape_latex("a_b & 50% $x$ #1 {y} ~^\\") == (
        r"a\_b \& 50\% \$x\$ \#1 \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{}"
    )
    assert "<" not in escape_latex("<script>")


def test_booktabs_bold_and_escaping():
    tex = booktabs(["Algorithm", "IQM"], [["sac_v2", "0.71 [0.65, 0.77]"], ["ppo", "0.5"]],
                   [[False, True], [False, False]], caption="Aggregate 95%", label="tab:x y")
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"sac\_v2 & \textbf{0.71 [0.65, 0.77]} \\" in tex
    assert r"\caption{Aggregate 95\%}" in tex
    assert r"\label{tab:x-y}" in tex
    assert r"\begin{tabular}{lr}" in tex


def test_markdown_table_bold_and_pipes():
    table = ReportTable("t", "Title", pd.DataFrame(), ["A", "B"], [["x|y", "1"], ["z", "2"]],
                        [[False, True], [False, False]])
    md = table.markdown()
    assert "| x\\|y | **1** |" in md
    assert "|:---|---:|" in md


def test_table_write_all_formats(tmp_path):
    table = ReportTable("demo", "Demo", pd.DataFrame({"a": [1.5]}), ["A"], [["1.50"]])
    paths = table.write(tmp_path)
    assert [p.suffix for p in paths] == [".csv", ".md", ".tex"]
    assert pd.read_csv(paths[0])["a"].tolist() == [1.5]


def test_citations_only_used():
    cite = Citations()
    assert cite.cite("agarwal2021") == "(Agarwal et al., 2021)"
    cite.cite("agarwal2021", "holm1979")
    bib = cite.bibtex()
    assert bib.count("@") == 2 and "agarwal2021" in bib and "probst2019" not in bib
    assert Citations().bibtex() == ""


def test_describe_dimension():
    assert describe_dimension({"dist": "log_uniform", "low": 1e-5, "high": 2e-3}) == (
        "log_uniform(1e-05, 0.002)")
    assert describe_dimension({"dist": "categorical", "choices": {"s": [64], "m": [256]}}) == (
        "categorical{s, m}")
    assert describe_dimension({"derived": "1 - x"}) == "derived: 1 - x"


def test_merge_manifests_pools_plans_and_reports_conflicts():
    a = {"suite": {"name": "a", "hash": "h1", "resolved": {
            "algorithms": {"sac": {"class": "SAC"}},
            "environments": {"Pendulum-v1": {"budget": 100}}}},
         "searched": {"sac": ["learning_rate"]},
         "plan": {"runs": 2, "run_ids": ["r1", "r2"]},
         "provenance": {"git_commit": "abc"}}
    b = {"suite": {"name": "b", "hash": "h2", "resolved": {
            "algorithms": {"sac": {"class": "SAC"}, "ppo": {"class": "PPO"}},
            "environments": {"Pendulum-v1": {"budget": 200}}}},
         "searched": {"sac": ["tau"], "ppo": ["gamma"]},
         "plan": {"runs": 2, "run_ids": ["r2", "r3"]}}
    merged = merge_manifests([a, b, {}]).to_dict()
    assert merged["suite"]["name"] == "a + b + store 3"
    assert merged["plan"]["run_ids"] == ["r1", "r2", "r3"]
    assert merged["plan"]["runs"] == 3
    assert set(merged["suite"]["resolved"]["algorithms"]) == {"sac", "ppo"}
    assert merged["searched"]["sac"] == ["learning_rate", "tau"]
    assert any("Pendulum-v1" in w for w in merged["merge_warnings"])
    assert [s["name"] for s in merged["sources"]] == ["a", "b", "store 3"]
    assert merged["sources"][0]["provenance"]["git_commit"] == "abc"


def test_log_scaled_hyperparameters_follow_the_suite() -> None:
    from rlsens.report.manifest import log_scaled_hyperparameters
    from rlsens.store import Manifest

    manifest = {"suite": {"resolved": {"algorithms": {"ddpg": {"search_space": {
        "learning_rate": {"dist": "log_uniform", "low": 1e-5, "high": 1e-3},
        "batch_size": {"dist": "int", "low": 32, "high": 512, "log": True},
        "train_freq": {"dist": "int", "low": 1, "high": 10, "log": False},
        "noise_std": {"dist": "uniform", "low": 0.0, "high": 0.5},
        "gamma": {"derived": "1 - one_minus_gamma"},
    }}}}}}
    assert log_scaled_hyperparameters(Manifest.from_dict(manifest)) == {
        "ddpg": {"learning_rate", "batch_size"}}
    assert log_scaled_hyperparameters(Manifest()) == {}
