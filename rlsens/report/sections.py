"""The report's sections: each calls ``rlsens.analysis`` and turns its frames into figures/tables.

A section that cannot be computed because of the *data* (one environment, one algorithm, no
successful run, no curves, zero variance) raises :class:`NotEnoughData` from an upfront check;
the page then shows its message in place of the figure. Anything else is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlsens import analysis
from rlsens.report import figures
from rlsens.report.bibliography import Citations
from rlsens.report.figures import FigureRef, FigureStore, Palette
from rlsens.report.options import ReportOptions
from rlsens.report.tables import (
    ReportTable,
    decimals_for,
    fmt_ci,
    fmt_num,
    fmt_p,
    separated_best,
    simple_table,
)
from rlsens.spec import stable_hash

IMPORTANCE_UNDEFINED = "Importance is undefined: configuration scores do not vary."


class NotEnoughData(Exception):
    """The data cannot support this part of the report; the message says why."""


@dataclass
class Section:
    id: str
    title: str
    intro: str = ""
    figures: list[FigureRef] = field(default_factory=list)
    tables: list[ReportTable] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    """Everything a section needs; ``used`` records the methods that produced output."""

    runs: pd.DataFrame
    curves: pd.DataFrame | None
    options: ReportOptions
    scores: pd.DataFrame
    nscores: pd.DataFrame
    normalization: str
    palette: Palette
    figure_store: FigureStore
    citations: Citations
    log_scaled: dict[str, set[str]] = field(default_factory=dict)
    used: dict[str, Any] = field(default_factory=dict)

    @property
    def algorithms(self) -> list[str]:
        return sorted(self.scores["algorithm"].unique())

    @property
    def envs(self) -> list[str]:
        return sorted(self.scores["env_id"].unique())

    @property
    def score_label(self) -> str:
        kind = "AUC" if self.options.score == "auc" else "final"
        if self.normalization == "none":
            return f"Score ({kind}, raw return)"
        return f"Normalized score ({kind}, {self.normalization})"

    def figure(self, fig: Any, name: str, caption: str) -> FigureRef:
        return self.figure_store.save(fig, name, caption)


SectionFn = Callable[[Context, Section], None]


def require(condition: bool, message: str) -> None:
    if not condition:
        raise NotEnoughData(message)


def require_scores(ctx: Context) -> None:
    require(len(ctx.scores) > 0, "No run has a usable score yet (no successful run).")


def require_variance(ctx: Context, frame: pd.DataFrame | None = None) -> None:
    frame = ctx.nscores if frame is None else frame
    values = frame["score"].to_numpy(dtype=float)
    require(values.size > 1 and float(np.nanstd(values)) > 0,
            "Every run has the same score (zero variance): nothing to compare or explain.")


def require_multi_env(ctx: Context, what: str) -> None:
    require(len(ctx.envs) > 1,
            f"{what} is a cross-environment quantity and is undefined with a single "
            f"environment ({ctx.envs[0] if ctx.envs else 'none'}).")


def require_hyperparameters(ctx: Context) -> None:
    hp = analysis.hp_columns(ctx.nscores)
    require(bool(hp), "No hyperparameter was searched (no hp.* columns).")
    require(int(ctx.nscores.groupby("algorithm")["config_id"].nunique().max()) > 1,
            "Every algorithm has a single configuration: no hyperparameter varies.")


def missing_algorithms_note(ctx: Context, frame: pd.DataFrame) -> str | None:
    """Which algorithms of the runs table are absent from an analysis result, if any."""
    absent = sorted(set(ctx.runs["algorithm"]) - set(frame["algorithm"]))
    if not absent:
        return None
    return "Not shown (no usable score): " + ", ".join(absent) + "."


# --- aggregate performance ---------------------------------------------------------------


def aggregate_table(agg: pd.DataFrame) -> ReportTable:
    """Algorithms x metrics with ``point [lower, upper]``; bold only a separated best."""
    metrics = list(dict.fromkeys(agg["metric"]))
    algorithms = sorted(agg["algorithm"].unique())
    wide = agg.set_index(["algorithm", "metric"])
    decimals = decimals_for(agg["point"].to_numpy(dtype=float))
    rows = [[a] for a in algorithms]
    bold = [[False] for _ in algorithms]
    for metric in metrics:
        points, lowers, uppers = [], [], []
        for algorithm in algorithms:
            key = (algorithm, metric)
            has = key in wide.index
            points.append(wide.loc[key, "point"] if has else np.nan)
            lowers.append(wide.loc[key, "lower"] if has else np.nan)
            uppers.append(wide.loc[key, "upper"] if has else np.nan)
        best = separated_best(points, lowers, uppers,
                              higher_is_better=metric != "optimality_gap")
        for i in range(len(algorithms)):
            rows[i].append(fmt_ci(points[i], lowers[i], uppers[i], decimals))
            bold[i].append(i == best)
    counts = agg.groupby("algorithm")[["n_runs", "n_envs"]].first()
    for i, algorithm in enumerate(algorithms):
        rows[i] += [str(int(counts.loc[algorithm, "n_runs"])),
                    str(int(counts.loc[algorithm, "n_envs"]))]
        bold[i] += [False, False]
    columns = ["Algorithm", *(figures.METRIC_TITLES.get(m, m) for m in metrics), "Runs", "Envs"]
    return ReportTable("aggregates", "Aggregate performance", agg, columns, rows, bold,
                       caption="Point estimate [95% CI]; bold: best, when its interval does "
                               "not overlap the runner-up's.")


def section_aggregates(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    opts = ctx.options
    metrics = tuple(opts.metrics)
    if ctx.normalization == "none" and "optimality_gap" in metrics:
        metrics = tuple(m for m in metrics if m != "optimality_gap")
        section.notes.append("The optimality gap (distance below a normalized score of 1) is "
                             "left out: scores are raw returns, which have no target of 1.")
    method = opts.ci_method
    counts = ctx.nscores.groupby(["algorithm", "env_id"]).size().groupby("algorithm").nunique()
    if method == "bca" and (counts > 1).any():
        method = "bca_scipy"
        section.notes.append("Run counts differ between environments, which rliable's BCa "
                             "(a jackknife over run indices) cannot handle: the intervals use "
                             "the per-run jackknife of scipy's multi-sample BCa instead.")
    agg = analysis.aggregate_estimates(ctx.nscores, metrics=metrics, reps=opts.reps,
                                       confidence=opts.confidence, method=method,
                                       seed=opts.seed)
    ctx.used["aggregates"] = metrics
    ctx.used["aggregates_ci"] = method
    section.figures.append(ctx.figure(
        figures.interval_estimates(agg, ctx.palette), "aggregates",
        f"Aggregate {ctx.score_label.lower()} with {int(opts.confidence * 100)}% stratified-"
        f"bootstrap intervals ({opts.reps:,} replicates); black tick: point estimate.",
    ))
    section.tables.append(aggregate_table(agg))
    if (note := missing_algorithms_note(ctx, agg)) is not None:
        section.notes.append(note)


def section_profiles(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    require_variance(ctx)
    profile = analysis.performance_profile(ctx.nscores, reps=ctx.options.profile_reps,
                                           seed=ctx.options.seed)
    average = analysis.average_score_profile(ctx.nscores, reps=ctx.options.profile_reps,
                                             seed=ctx.options.seed)
    ctx.used["profiles"] = True
    section.figures.append(ctx.figure(
        figures.performance_profiles(profile, ctx.palette, ctx.score_label + " τ"),
        "performance_profiles",
        "Performance profiles: fraction of runs scoring above τ (runs pooled over "
        f"environments), with {ctx.options.profile_reps:,}-replicate bootstrap bands. A curve "
        "that lies above another everywhere dominates it stochastically.",
    ))
    section.figures.append(ctx.figure(
        figures.performance_profiles(average, ctx.palette, ctx.score_label + " τ",
                                     ylabel="Fraction of environments with mean > τ"),
        "average_score_distributions",
        "Average-score distributions: fraction of environments whose mean score over runs "
        "exceeds τ (every environment weighs the same whatever its run count; steps of "
        f"1/{len(ctx.envs)}), with {ctx.options.profile_reps:,}-replicate bootstrap bands.",
    ))


def improvement_frame(ctx: Context) -> pd.DataFrame:
    """P(X > Y) for every pair of algorithms; computed once, shared with the headline."""
    if "improvement_frame" not in ctx.used:
        ctx.used["improvement_frame"] = analysis.probability_of_improvement(
            ctx.nscores, reps=ctx.options.profile_reps, seed=ctx.options.seed)
    return ctx.used["improvement_frame"]


def section_improvement(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    require(len(ctx.algorithms) > 1, "Probability of improvement needs two or more algorithms.")
    poi = improvement_frame(ctx)
    require(len(poi) > 0, "No pair of algorithms shares an environment.")
    ctx.used["improvement"] = True
    section.figures.append(ctx.figure(
        figures.improvement_matrix(poi), "probability_of_improvement",
        "P(X > Y): probability that a run of algorithm X (row) scores higher than a run of Y "
        "(column) on a randomly chosen shared environment, with bootstrap intervals.",
    ))
    rows = [[r.algorithm_x, r.algorithm_y, fmt_ci(r.probability, r.lower, r.upper)]
            for r in poi.itertuples(index=False)]
    section.tables.append(ReportTable("probability_of_improvement", "Probability of improvement",
                                      poi, ["X", "Y", "P(X > Y) [95% CI]"], rows))


def section_sample_efficiency(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    require(ctx.curves is not None and len(ctx.curves) > 0,
            "No learning curves were stored (the curves table is missing or empty).")
    curve = analysis.sample_efficiency(ctx.curves, ctx.nscores, reps=ctx.options.profile_reps,
                                       seed=ctx.options.seed)
    require(len(curve) > 0, "No evaluation step is shared by the runs of an algorithm.")
    ctx.used["sample_efficiency"] = True
    section.figures.append(ctx.figure(
        figures.sample_efficiency(curve, ctx.palette, "Environment steps",
                                  "IQM " + ctx.score_label.lower()),
        "sample_efficiency",
        "IQM of evaluation returns (on the scores' normalization) at each evaluation step, "
        "with stratified-bootstrap bands.",
    ))


def section_distributions(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    section.figures.append(ctx.figure(
        figures.score_distributions(ctx.scores, ctx.palette, "raw_score"),
        "score_distributions",
        "Raw scores of every run per environment and algorithm (box: quartiles, whiskers: "
        "1.5 IQR; dots: ok runs; crosses: runs that did not finish ok, at the score the "
        "failed-run policy gave them).",
    ))
    spread = analysis.spread(ctx.scores)
    section.tables.append(simple_table(
        "score_spread", "Score spread per environment", spread,
        {"algorithm": "Algorithm", "env_id": "Environment", "n": "Runs", "mean": "Mean",
         "min": "Min", "p5": "P5", "p25": "P25", "median": "Median", "p75": "P75",
         "p95": "P95", "max": "Max"},
        formats={"algorithm": "text", "env_id": "text"},
    ))


# --- hyperparameter sensitivity ------------------------------------------------------------


def section_sensitivity_curves(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    require_hyperparameters(ctx)
    curves = analysis.sensitivity_curves(ctx.nscores, mode="marginal",
                                         reps=ctx.options.profile_reps, seed=ctx.options.seed)
    require(len(curves) > 0, "No hyperparameter has two or more values with a score.")
    ctx.used["sensitivity_curves"] = True
    for algorithm, part in curves.groupby("algorithm", sort=True):
        section.figures.append(ctx.figure(
            figures.sensitivity_curves(part, ctx.palette[algorithm], str(algorithm),
                                       ctx.score_label, ctx.log_scaled.get(str(algorithm), set())),
            f"sensitivity_curves_{figure_slug(algorithm)}",
            f"{algorithm}: mean configuration score (over seeds, then over the configurations "
            "in each value bin) against each hyperparameter, per environment (line style; "
            "'all' = mean over environments), with bootstrap bands. Other hyperparameters vary "
            "too, so these are marginal, not conditional, effects.",
        ))


def figure_slug(name: object) -> str:
    """A file-name-safe slug of a user-given name (with a hash suffix so slugs stay unique)."""
    text = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in str(name))[:40]
    return f"{text.strip('-') or 'x'}-{stable_hash(str(name), 6)}"


def importance_frame(ctx: Context) -> pd.DataFrame:
    """Importance per algorithm x env and cross-env; computed once, shared by two sections."""
    if "importance_frame" not in ctx.used:
        imp = analysis.importance(ctx.nscores, method=ctx.options.importance_method,
                                  seed=ctx.options.seed)
        ctx.used["importance_frame"] = imp
    return ctx.used["importance_frame"]


def sensitivity_frame(ctx: Context) -> pd.DataFrame:
    """Tuned scores and Φ per algorithm; computed once, shared with the headline."""
    if "sensitivity_frame" not in ctx.used:
        ctx.used["sensitivity_frame"] = analysis.hyperparameter_sensitivity(
            ctx.nscores, reps=ctx.options.sensitivity_reps, seed=ctx.options.seed,
            confidence=ctx.options.confidence)
    return ctx.used["sensitivity_frame"]


def section_importance(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    require_hyperparameters(ctx)
    require_variance(ctx)
    imp = importance_frame(ctx)
    overall = analysis.overall_importance(imp).dropna(subset=["importance"])
    require(len(overall) > 0, IMPORTANCE_UNDEFINED)
    ctx.used["importance"] = sorted(set(imp["method"].dropna()))
    section.figures.append(ctx.figure(
        figures.importance_bars(overall, ctx.palette), "importance",
        "Share of the variance of configuration scores explained by each hyperparameter and "
        "pair (functional ANOVA of each configuration's mean score over environments, on "
        "configurations run on every environment; error bars: infinitesimal-jackknife standard "
        "error over configurations when a forest surrogate was used; per-environment values "
        "are in the table below).",
    ))
    ranked = overall.sort_values(["order", "algorithm", "importance"],
                                 ascending=[True, True, False])
    section.tables.append(simple_table(
        "importance", "Hyperparameter importance", ranked,
        {"algorithm": "Algorithm", "term": "Term", "order": "Order",
         "importance": "Importance", "std": "Std", "method": "Method"},
        formats={"algorithm": "text", "term": "text", "method": "text"},
        shown=int((ranked["order"] == 1).sum()),
    ))
    if len(ctx.envs) > 1:
        variability = analysis.importance_variability(imp).sort_values(
            ["order", "algorithm", "mean"], ascending=[True, True, False])
        section.tables.append(simple_table(
            "importance_variability", "Importance across environments", variability,
            {"algorithm": "Algorithm", "term": "Term", "mean": "Mean", "std": "Std",
             "min": "Min", "max": "Max"},
            formats={"algorithm": "text", "term": "text"},
            shown=int((variability["order"] == 1).sum()),
        ))


def section_pair_heatmap(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    require_hyperparameters(ctx)
    require_variance(ctx)
    pairs = analysis.most_important_pairs(importance_frame(ctx))
    require(len(pairs) > 0, "No pair of hyperparameters was searched together.")
    means = analysis.config_means(ctx.nscores)
    for algorithm, param_a, param_b, explained in pairs.itertuples(index=False):
        grid = analysis.pair_grid(means[means["algorithm"] == algorithm], param_a, param_b)
        section.figures.append(ctx.figure(
            figures.pair_heatmap(grid, str(algorithm), param_a, param_b, ctx.score_label),
            f"pair_heatmap_{figure_slug(algorithm)}",
            f"{algorithm}: the most important pair ({param_a} × {param_b}: together they "
            f"explain {explained:.2f} of the variance, main effects and interaction). Cells: "
            "mean of configuration scores (over seeds and environments) whose values fall in "
            "the bin; numeric axes are binned at quantiles for display.",
        ))


def section_sensitivity(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    require_hyperparameters(ctx)
    sens = sensitivity_frame(ctx)
    ctx.used["sensitivity"] = True
    ctx.used["sensitivity_methods"] = sorted(set(sens["method"]))
    columns = {"algorithm": "Algorithm", "per_env_tuned": "Per-env tuned",
               "cross_env_tuned": "Cross-env tuned", "sensitivity": "Sensitivity Φ",
               "method": "Selection", "per_env_tuned_in_sample": "Per-env tuned, in-sample "
               "(optimistic)", "cross_env_tuned_in_sample": "Cross-env tuned, in-sample "
               "(optimistic)", "sensitivity_in_sample": "Φ, in-sample (optimistic)",
               "n_envs": "Envs", "note": "Note"}
    section.tables.append(_ci_table("sensitivity", "Hyperparameter sensitivity", sens, columns))
    require_multi_env(ctx, "The performance–sensitivity plane")
    reference = ctx.options.reference_algorithm or ctx.algorithms[0]
    require(reference in set(sens["algorithm"]),
            f"Reference algorithm {reference!r} has no usable score.")
    plane = analysis.sensitivity_plane(sens, reference)
    require(plane["sensitivity"].notna().any(),
            "Sensitivity is undefined: no configuration has a score on every environment.")
    section.figures.append(ctx.figure(
        figures.sensitivity_plane(plane, ctx.palette, reference), "sensitivity_plane",
        f"Performance (per-environment tuned score) against sensitivity Φ, relative to "
        f"{reference} (dashed cross-hair; dotted: unit-slope line through it). Region in "
        "parentheses: 1 better and less sensitive; 2 more sensitive but gains more than it "
        "adds; 3 less sensitive, loses less than it saves; 4 gains less than the sensitivity "
        "it adds; 5 worse.",
    ))
    section.tables.append(simple_table(
        "sensitivity_plane", "Performance–sensitivity plane", plane,
        {"algorithm": "Algorithm", "performance": "Performance", "sensitivity": "Sensitivity",
         "region": "Region"}, formats={"algorithm": "text"},
    ))


def _ci_table(name: str, title: str, frame: pd.DataFrame,
              columns: dict[str, str]) -> ReportTable:
    """A table whose metric columns show ``x [lo, hi]`` when ``x_lower``/``x_upper`` exist."""
    decimals = {c: decimals_for(frame[c].to_numpy(dtype=float)) for c in columns
                if c in frame and pd.api.types.is_float_dtype(frame[c])}
    rows = []
    for record in frame.to_dict("records"):
        row = []
        for c in columns:
            value = record.get(c)
            if c in decimals:
                row.append(fmt_ci(value, record.get(f"{c}_lower"), record.get(f"{c}_upper"),
                                  decimals[c]))
            else:
                row.append(fmt_num(value) if value is not None and value == value else "–")
        rows.append(row)
    return ReportTable(name, title, frame, list(columns.values()), rows)


def section_dimensionality(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    require_hyperparameters(ctx)
    require_multi_env(ctx, "Effective hyperparameter dimensionality")
    curve, summary = analysis.effective_dimensionality(ctx.nscores)
    require(len(curve) > 0, "No configuration has a score on every environment.")
    ctx.used["dimensionality"] = True
    section.figures.append(ctx.figure(
        figures.effective_dimensionality(curve, summary, ctx.palette),
        "effective_dimensionality",
        "Best score reachable by tuning k hyperparameters per environment (the rest at the "
        "cross-environment default); dotted: the 95% target. k = 0 is the cross-environment "
        "tuned score, the last point the per-environment tuned score.",
    ))
    section.tables.append(simple_table(
        "effective_dimensionality", "Effective dimensionality", summary,
        {"algorithm": "Algorithm", "dimensionality": "Dimensionality",
         "interpolated": "Interpolated", "target": "Target", "n_params": "Hyperparameters",
         "note": "Note"},
        formats={"algorithm": "text", "note": "text"},
    ))
    section.tables.append(simple_table(
        "effective_dimensionality_curve", "Best subsets per k", curve,
        {"algorithm": "Algorithm", "k": "k", "score": "Score", "subset": "Tuned per env"},
        formats={"algorithm": "text", "subset": "text"},
    ))


def section_tuning(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    require_hyperparameters(ctx)
    tc = analysis.tuning_curves(ctx.nscores)
    require(len(tc) > 0, "No configuration has a score.")
    ctx.used["tuning"] = True
    section.figures.append(ctx.figure(
        figures.tuning_curves(tc, ctx.palette, "expected_max_v"), "tuning_curves",
        "Expected best configuration score after trying n configurations drawn from the "
        "design (with replacement; band: ± one standard deviation). Panel 'all': mean over "
        "environments of configurations run on every environment.",
    ))
    last = (tc.sort_values("trials").groupby(["algorithm", "env_id"], sort=True).tail(1)
            .sort_values(["algorithm", "env_id"]))
    section.tables.append(simple_table(
        "tuning_budget", "Expected best score at the full budget", last,
        {"algorithm": "Algorithm", "env_id": "Environment", "trials": "Configurations",
         "expected_max_v": "E[max] (V)", "std_v": "Std (V)", "expected_max_u": "E[max] (U)",
         "std_u": "Std (U)"},
        formats={"algorithm": "text", "env_id": "text"},
    ))


def section_tunability(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    require_hyperparameters(ctx)
    result = analysis.tunability(ctx.nscores)
    ctx.used["tunability"] = True
    overall = result.get("overall")
    if overall is not None and len(overall):
        section.tables.append(simple_table(
            "tunability", "Tunability d (best − default)", overall,
            {"algorithm": "Algorithm", "env_id": "Environment", "d": "d", "note": "Note"},
            formats={"algorithm": "text", "env_id": "text", "note": "text"},
        ))
    per_param = result.get("per_param")
    if per_param is not None and len(per_param):
        section.tables.append(simple_table(
            "tunability_per_param", "Tunability per hyperparameter", per_param,
            {"algorithm": "Algorithm", "param": "Hyperparameter", "d": "d_i",
             "relative": "d_i / d", "n_configs": "Configurations"},
            formats={"algorithm": "text", "param": "text"},
        ))
    pairs = result.get("pairs")
    if pairs is not None and len(pairs):
        section.tables.append(simple_table(
            "tunability_pairs", "Joint tunability of pairs", pairs,
            {"algorithm": "Algorithm", "param_a": "A", "param_b": "B", "d_joint": "d_AB",
             "joint_gain": "Joint gain", "n_configs": "Configurations"},
            formats={"algorithm": "text", "param_a": "text", "param_b": "text"},
        ))
    require(bool(section.tables), "Tunability is undefined for these data.")
    if per_param is not None and len(per_param) and int(per_param["n_configs"].max()) <= 1:
        section.notes.append(
            "No configuration differs from the default in only one hyperparameter (a random or "
            "Sobol design), so per-hyperparameter and pair tunability are lower bounds (often "
            "0); see the importance section for these designs.")


# --- seeds and protocol ----------------------------------------------------------------------


def section_variance(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    require(int(ctx.nscores.groupby(["algorithm", "env_id", "config_id"]).size().max()) > 1,
            "A single seed per configuration: seed variance cannot be separated.")
    require_variance(ctx)
    decomposition = analysis.variance_decomposition(ctx.nscores)
    ctx.used["variance"] = True
    section.figures.append(ctx.figure(
        figures.variance_shares(decomposition), "variance_decomposition",
        "Share of score variance explained by environment, configuration and seed.",
    ))
    section.tables.append(simple_table(
        "variance_decomposition", "Variance decomposition", decomposition,
        {"algorithm": "Algorithm", "component": "Component", "share": "Share"},
        formats={"algorithm": "text", "component": "text"},
    ))
    split = analysis.seed_split_consistency(ctx.nscores, seed=ctx.options.seed)
    if len(split):
        ctx.used["seed_split"] = True
        section.tables.append(simple_table(
            "seed_split", "Seed-split check: configuration rankings on disjoint seed halves",
            split, {"algorithm": "Algorithm", "env_id": "Environment",
                    "kendall_tau": "Kendall τ", "spearman_rho": "Spearman ρ",
                    "n_configs": "Configurations"},
            formats={"algorithm": "text", "env_id": "text"},
        ))


def section_protocol(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    result = analysis.select_and_report(ctx.scores)
    require(len(result) > 0, "No configuration could be selected.")
    ctx.used["protocol"] = sorted(set(result["method"]))
    section.tables.append(simple_table(
        "best_configurations", "Selected configurations", result,
        {"algorithm": "Algorithm", "env_id": "Environment", "config_id": "Configuration",
         "selection_score": "Selection score", "reported_score": "Reported score",
         "n_selection": "Selection runs", "n_report": "Report runs", "method": "Method",
         "optimistic": "Optimistic"},
        formats={"algorithm": "text", "env_id": "text", "config_id": "text", "method": "text"},
    ))


def section_pairwise(ctx: Context, section: Section) -> None:
    require_scores(ctx)
    require(len(ctx.algorithms) > 1, "Pairwise tests need two or more algorithms.")
    opts = ctx.options
    tests = analysis.pairwise_tests(ctx.nscores, test=opts.test, alpha=opts.alpha,
                                    reps=opts.test_reps, seed=opts.seed)
    require(len(tests) > 0, "No pair of algorithms shares an environment.")
    ctx.used["pairwise"] = opts.test
    rows, bold = [], []
    for r in tests.to_dict("records"):
        decimals = decimals_for([r["mean_diff"], r["diff_lower"], r["diff_upper"]])
        rows.append([str(r["env_id"]), str(r["algorithm_a"]), str(r["algorithm_b"]),
                     f"{r['n_a']}/{r['n_b']}",
                     fmt_ci(r["mean_diff"], r["diff_lower"], r["diff_upper"], decimals),
                     fmt_num(r["prob_improvement"], 2), fmt_p(r["p_value"]), fmt_p(r["p_holm"]),
                     "yes" if r["significant"] else "no"])
        bold.append([False] * 8 + [bool(r["significant"])])
    section.tables.append(ReportTable(
        "pairwise_tests", "Pairwise tests", tests,
        ["Environment", "A", "B", "Runs A/B", "Mean diff A − B [CI]", "P(A > B)", "p",
         "p (Holm)", f"Significant (α={opts.alpha})"], rows, bold,
        caption="Differences on the scores' normalized scale; 'all' compares the shared "
                "environments stratified by environment, each weighing the same whatever its "
                "run counts. Holm correction over every test in the table.",
    ))


SECTIONS: list[tuple[str, str, SectionFn, str]] = [
    ("aggregates", "Aggregate performance", section_aggregates,
     "Interval estimates across environments (rliable): IQM, mean, median and optimality gap."),
    ("profiles", "Performance profiles", section_profiles, ""),
    ("improvement", "Probability of improvement", section_improvement, ""),
    ("sample-efficiency", "Sample efficiency", section_sample_efficiency, ""),
    ("distributions", "Score distributions", section_distributions,
     "Every run, per environment: look here before trusting any aggregate."),
    ("sensitivity-curves", "Sensitivity curves", section_sensitivity_curves, ""),
    ("pair-heatmap", "Most important pair", section_pair_heatmap, ""),
    ("importance", "Hyperparameter importance", section_importance, ""),
    ("sensitivity", "Hyperparameter sensitivity", section_sensitivity,
     "Per-environment tuned vs cross-environment tuned score (Adkins et al., 2024)."),
    ("dimensionality", "Effective hyperparameter dimensionality", section_dimensionality, ""),
    ("tuning", "Expected best score vs tuning budget", section_tuning, ""),
    ("tunability", "Tunability", section_tunability,
     "Gain from tuning over the data-based default configuration (Probst et al., 2019)."),
    ("variance", "Variance decomposition and seed-split check", section_variance, ""),
    ("protocol", "Best configurations: selection and reporting", section_protocol, ""),
    ("pairwise", "Pairwise tests", section_pairwise, ""),
]


def run_sections(ctx: Context) -> list[Section]:
    """Every section in page order; data conditions become notes, bugs propagate."""
    out = []
    for section_id, title, fn, intro in SECTIONS:
        section = Section(section_id, title, intro)
        try:
            fn(ctx, section)
        except NotEnoughData as exc:
            section.notes.append(str(exc))
        out.append(section)
    return out


def write_tables(sections: list[Section], directory: Path, extra: list[ReportTable]) -> None:
    for table in [*extra, *(t for s in sections for t in s.tables)]:
        table.write(directory)
