"""The headline: the report's first screen answers "which algorithm is more sensitive, and how
sure are we?" in a table and one paragraph written from the numbers.

Which claims the data support is decided in :mod:`rlsens.analysis.claims` (intervals of the
differences); this module only words them. Every number in the paragraph is formatted from an
analysis frame, and a claim of a difference appears only for a pair whose interval excludes the
value of no difference; otherwise the paragraph says the budget cannot separate them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rlsens import analysis
from rlsens.analysis.claims import IMPROVEMENT
from rlsens.analysis.protocol import HELD_OUT, IN_SAMPLE
from rlsens.report.latex import escape_latex
from rlsens.report.sections import (
    IMPORTANCE_UNDEFINED,
    Context,
    NotEnoughData,
    importance_frame,
    improvement_frame,
    require,
    require_hyperparameters,
    require_variance,
    sensitivity_frame,
)
from rlsens.report.tables import ReportTable, decimals_for, fmt_ci, fmt_num

QUANTITY_TITLES = {"sensitivity": "Φ", "per_env_tuned": "per-environment tuned score",
                   "cross_env_tuned": "cross-environment tuned score"}


@dataclass
class Headline:
    """The first section of the page: the reading (sentences) and the tables behind it."""

    sentences: list[tuple[str, str]] = field(default_factory=list)
    tables: list[ReportTable] = field(default_factory=list)

    @property
    def reading(self) -> str:
        """The paragraph as plain text, each sentence after its label."""
        return " ".join(f"{label}: {text}" for label, text in self.sentences)

    @property
    def markdown(self) -> str:
        return " ".join(f"**{label}:** {text}" for label, text in self.sentences)

    def write(self, directory: Path) -> None:
        """The tables, and the reading as Markdown and LaTeX beside them (tables/headline_*)."""
        directory.mkdir(parents=True, exist_ok=True)
        for table in self.tables:
            table.write(directory)
        (directory / "headline_reading.md").write_text(self.markdown + "\n", encoding="utf-8")
        latex = " ".join(rf"\textbf{{{escape_latex(label)}:}} {escape_latex(text)}"
                         for label, text in self.sentences)
        (directory / "headline_reading.tex").write_text(latex + "\n", encoding="utf-8")


def _optional(fn: Callable[[Context], pd.DataFrame | None], ctx: Context,
              missing: dict[str, str] | None = None, name: str = "") -> pd.DataFrame | None:
    """``fn(ctx)``, or None when the data cannot support it (a failed NotEnoughData check,
    whose message is kept in ``missing[name]`` for the reading)."""
    try:
        return fn(ctx)
    except NotEnoughData as exc:
        if missing is not None:
            missing[name] = str(exc)
        return None


def _sensitivity(ctx: Context) -> pd.DataFrame | None:
    require_hyperparameters(ctx)
    return sensitivity_frame(ctx)


def _dimensionality(ctx: Context) -> pd.DataFrame | None:
    if len(ctx.envs) < 2:
        return None
    require_hyperparameters(ctx)
    return analysis.effective_dimensionality(ctx.nscores)[1]


def _top_importance(ctx: Context) -> pd.DataFrame:
    """The most important single hyperparameter per algorithm (cross-environment share)."""
    require_hyperparameters(ctx)
    require_variance(ctx)
    overall = analysis.overall_importance(importance_frame(ctx))
    mains = overall[(overall["order"] == 1) & overall["importance"].notna()]
    require(not mains.empty, IMPORTANCE_UNDEFINED)
    return (mains.sort_values(["algorithm", "importance"], ascending=[True, False], kind="stable")
            .groupby("algorithm", sort=True).head(1).reset_index(drop=True))


def _improvement(ctx: Context) -> pd.DataFrame | None:
    if len(ctx.algorithms) < 2:
        return None
    return improvement_frame(ctx)


def build_headline(ctx: Context) -> Headline:
    """The headline of ``ctx``'s data; parts the data cannot support are said, not left out."""
    headline = Headline()
    if len(ctx.scores) == 0:
        headline.sentences.append(("Data", "no run has a usable score yet, so the data "
                                           "support no statement about any algorithm."))
        return headline
    opts = ctx.options
    sens = _optional(_sensitivity, ctx)
    errors = (analysis.tuned_score_errors(ctx.nscores, opts.sensitivity_reps, opts.seed)
              if sens is not None and opts.sensitivity_reps > 0 else {})
    poi = _optional(_improvement, ctx)
    missing: dict[str, str] = {}
    dims = _optional(_dimensionality, ctx, missing, "dimensionality")
    top = _optional(_top_importance, ctx, missing, "importance")
    comparisons = analysis.algorithm_comparisons(sens, errors, poi, opts.confidence)
    ctx.used["headline"] = True
    percent = round(opts.confidence * 100)
    headline.tables.append(algorithm_table(ctx.algorithms, sens, dims, top, percent))
    if len(comparisons):
        headline.tables.append(pairs_table(comparisons, percent))
    headline.sentences = reading(ctx, sens, comparisons, dims, top, missing)
    return headline


# --- tables ----------------------------------------------------------------------------------


def _lookup(frame: pd.DataFrame | None, algorithm: str) -> dict | None:
    if frame is None or frame.empty:
        return None
    match = frame[frame["algorithm"] == algorithm]
    return match.iloc[0].to_dict() if len(match) else None


def _importance_text(row: dict | None) -> str:
    if row is None:
        return "–"
    share = f"{row['term']} {fmt_num(row['importance'], 2)}"
    std = row.get("std")
    if std is None:
        return share
    if not np.isfinite(std):
        return f"{share} (SE not estimable)"
    return f"{share} ± {fmt_num(std, 2)} (SE)"


def algorithm_table(algorithms: list[str], sens: pd.DataFrame | None,
                    dims: pd.DataFrame | None, top: pd.DataFrame | None,
                    percent: int = 95) -> ReportTable:
    """One row per algorithm: Φ, both tuned scores with intervals, selection method, effective
    dimensionality and the most important hyperparameter."""
    metrics = list(QUANTITY_TITLES)
    decimals = 2
    if sens is not None and len(sens):
        decimals = decimals_for(sens[metrics].to_numpy(dtype=float).ravel())
    rows, records = [], []
    for algorithm in algorithms:
        s, d, t = _lookup(sens, algorithm), _lookup(dims, algorithm), _lookup(top, algorithm)
        cells = [algorithm]
        record: dict[str, object] = {"algorithm": algorithm}
        for metric in metrics:
            keys = (metric, f"{metric}_lower", f"{metric}_upper")
            value, lower, upper = (s.get(k) for k in keys) if s else (None, None, None)
            cells.append(fmt_ci(value, lower, upper, decimals))
            record.update({metric: value, f"{metric}_lower": lower, f"{metric}_upper": upper})
        cells.append(str(s["method"]) if s else "–")
        dimension = d.get("dimensionality") if d else None
        has_dimension = dimension is not None and not pd.isna(dimension)
        cells.append(f"{int(dimension)} of {int(d['n_params'])}" if has_dimension else "–")
        cells.append(_importance_text(t))
        record.update({
            "method": s["method"] if s else None,
            "dimensionality": int(dimension) if has_dimension else None,
            "n_params": int(d["n_params"]) if d else None,
            "top_hyperparameter": t["term"] if t else None,
            "importance": t["importance"] if t else None,
            "importance_se": t.get("std") if t else None,
        })
        rows.append(cells)
        records.append(record)
    ci = f"[{percent}% CI]"
    columns = ["Algorithm", f"Φ {ci}", f"Per-env tuned {ci}", f"Cross-env tuned {ci}",
               "Selection", "Eff. dim.", "Top hyperparameter (share ± SE)"]
    return ReportTable(
        "headline", "Headline per algorithm", pd.DataFrame(records), columns, rows,
        caption="Selection: held-out or cross-fit (selected and scored on different seeds); "
                "in-sample values are optimistic and have no interval. Eff. dim.: "
                "hyperparameters to tune per environment for 95% of the per-environment tuned "
                "score (in-sample, no interval).",
    )


def pairs_table(comparisons: pd.DataFrame, percent: int = 95) -> ReportTable:
    """One row per pair of algorithms: each difference with its interval; bold when the
    interval excludes the value of no difference."""
    quantities = [q for q in (*QUANTITY_TITLES, IMPROVEMENT) if q in set(comparisons["quantity"])]
    titles = {"sensitivity": "Φ A − Φ B", "per_env_tuned": "Per-env tuned A − B",
              "cross_env_tuned": "Cross-env tuned A − B", IMPROVEMENT: "P(A > B)"}
    keyed = comparisons.set_index(["algorithm_a", "algorithm_b", "quantity"])
    pairs = list(dict.fromkeys(zip(comparisons["algorithm_a"], comparisons["algorithm_b"],
                                   strict=True)))
    rows, bold = [], []
    for a, b in pairs:
        cells, marks = [a, b], [False, False]
        for quantity in quantities:
            if (a, b, quantity) not in keyed.index:
                cells.append("–")
                marks.append(False)
                continue
            r = keyed.loc[(a, b, quantity)]
            decimals = decimals_for([r["estimate"], r["lower"], r["upper"]])
            cells.append(fmt_ci(r["estimate"], r["lower"], r["upper"], decimals))
            marks.append(bool(r["separated"]))
        rows.append(cells)
        bold.append(marks)
    return ReportTable(
        "headline_pairs", "Headline: differences between algorithms", comparisons,
        ["A", "B", *(f"{titles[q]} [{percent}% CI]" for q in quantities)], rows, bold,
        caption="Direct bootstrap intervals of each difference (runs resampled within every "
                "environment × configuration, the selection repeated); bold: the interval "
                "excludes no difference (0, or 0.5 for P(A > B)). Per-comparison intervals, not "
                "adjusted for the number of pairs.",
    )


# --- the reading -----------------------------------------------------------------------------


def _ci(estimate: float, lower: float, upper: float) -> str:
    return fmt_ci(estimate, lower, upper, decimals_for([estimate, lower, upper]))


def _oriented(row: pd.Series) -> tuple[str, str, str]:
    """``(high, low, "d [l, u]")`` of a separated row, the difference taken high − low."""
    a, b = row["algorithm_a"], row["algorithm_b"]
    if row["higher"] == a:
        return a, b, _ci(row["estimate"], row["lower"], row["upper"])
    if row["quantity"] == IMPROVEMENT:  # P(b > a) = 1 − P(a > b)
        return b, a, _ci(1.0 - row["estimate"], 1.0 - row["upper"], 1.0 - row["lower"])
    return b, a, _ci(-row["estimate"], -row["upper"], -row["lower"])


def _tuned_sentence(rows: pd.DataFrame, percent: int) -> str:
    """Every pair on one tuned quantity: claims where the interval of the difference excludes
    0, "cannot separate" where it includes 0, and why where there is no interval."""
    name = QUANTITY_TITLES[str(rows["quantity"].iloc[0])]
    verb = "exceeds" if rows["quantity"].iloc[0] == "sensitivity" else "is higher than"
    parts = []
    claims_first = rows.sort_values("separated", ascending=False, kind="stable")
    for _, r in claims_first.iterrows():
        a, b = r["algorithm_a"], r["algorithm_b"]
        if not np.isfinite(r["lower"]):
            parts.append(f"{a} and {b} cannot be compared ({r['reason']})")
        elif r["separated"]:
            high, low, diff = _oriented(r)
            parts.append(f"{high}'s {name} {verb} {low}'s with {percent}% confidence "
                         f"({high} − {low}: {diff})")
        else:
            diff = _ci(r["estimate"], r["lower"], r["upper"])
            parts.append(f"the interval of {a} − {b} includes 0 ({diff}): this budget cannot "
                         "separate them")
    return "; ".join(parts) + "."


def _improvement_sentence(rows: pd.DataFrame, percent: int) -> str:
    parts, open_pairs = [], []
    for _, r in rows.iterrows():
        if r["separated"]:
            high, low, p = _oriented(r)
            parts.append(f"a run of {high} outscores a run of {low} on a shared environment "
                         f"with probability {p}, above 0.5 with {percent}% confidence")
        else:
            open_pairs.append(f"P({r['algorithm_a']} > {r['algorithm_b']}) = "
                              + _ci(r["estimate"], r["lower"], r["upper"]))
    if open_pairs:
        parts.append(" and ".join(open_pairs) + (" include" if len(open_pairs) > 1 else
                                                 " includes")
                     + " 0.5: neither algorithm's runs score reliably higher")
    return "; ".join(parts) + "."


def _methods_sentence(sens: pd.DataFrame) -> str:
    by_method: dict[str, list[str]] = {}
    for r in sens.itertuples(index=False):
        by_method.setdefault(str(r.method), []).append(str(r.algorithm))
    parts = []
    for method, names in sorted(by_method.items()):
        who = ", ".join(names)
        if method == IN_SAMPLE:
            parts.append(f"in-sample for {who} (one scored run per configuration, so the same "
                         "runs select and score: optimistic, and without interval)")
        else:
            how = ("selected on the tune seeds, scored on the disjoint report seeds"
                   if method == HELD_OUT else "selected on one half of the seeds and scored on "
                   "the other, both ways")
            parts.append(f"{method} estimates for {who} ({how}: not inflated by the "
                         "selection)")
    return ("Tuned scores and Φ are " + "; ".join(parts) + ". Optimistic: the in-sample values "
            "of the sensitivity section, effective dimensionality and importance (the same runs "
            "select and score).")


def reading(ctx: Context, sens: pd.DataFrame | None, comparisons: pd.DataFrame,
            dims: pd.DataFrame | None, top: pd.DataFrame | None,
            missing: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The paragraph as ``(label, sentence)`` pairs, from the analysis frames alone;
    ``missing`` holds why a part the data cannot support is absent."""
    missing = missing or {}
    percent = round(ctx.options.confidence * 100)
    envs = ctx.envs
    n_alg = len(ctx.algorithms)
    out = [("Data", f"{n_alg} algorithm{'s' if n_alg != 1 else ''} on {len(envs)} "
                    f"environment{'s' if len(envs) != 1 else ''} ({', '.join(envs)}); "
                    f"{ctx.score_label.lower()}; {percent}% intervals.")]
    if sens is None:
        out.append(("Sensitivity", "no hyperparameter varies, so the data support no "
                                   "statement about sensitivity."))
    elif len(envs) < 2:
        out.append(("Sensitivity", "Φ and the cross-environment tuned score need two or more "
                    f"environments; with one ({envs[0]}) the data support statements about "
                    "the per-environment tuned score only."))
    else:
        phis = [f"{r['algorithm']} " + _ci(r["sensitivity"], r.get("sensitivity_lower", np.nan),
                                          r.get("sensitivity_upper", np.nan))
                for r in sens.to_dict("records")]
        out.append(("Φ", "(per-environment minus cross-environment tuned score) "
                    + ", ".join(phis) + "."))
    labels = {"sensitivity": "Sensitivity", "per_env_tuned": "Tuned performance",
              IMPROVEMENT: "Probability of improvement"}
    for quantity, label in labels.items():
        rows = comparisons[comparisons["quantity"] == quantity]
        if len(rows) and not (quantity == "sensitivity" and len(envs) < 2):
            sentence = (_improvement_sentence(rows, percent) if quantity == IMPROVEMENT
                        else _tuned_sentence(rows, percent))
            out.append((label, sentence))
    if n_alg < 2:
        out.append(("Comparison", "with one algorithm there is nothing to compare it with."))
    caveats = []
    if len(comparisons) and int(comparisons["n_comparisons"].max()) > 1:
        caveats.append(f"Each interval is a per-comparison {percent}% interval, not adjusted "
                       f"for the {int(comparisons['n_comparisons'].max())} pairs compared.")
    if sens is not None:
        caveats.append(_methods_sentence(sens))
    if caveats:
        out.append(("Caveats", " ".join(caveats)))
    if dims is not None and dims["dimensionality"].notna().any():
        text = [f"{r.algorithm} {int(r.dimensionality)} of {int(r.n_params)}"
                for r in dims.itertuples(index=False) if not pd.isna(r.dimensionality)]
        out.append(("Effective dimensionality", "hyperparameters to tune per environment for "
                    f"95% of the per-environment tuned score (no interval): {', '.join(text)}."))
    if top is not None and len(top):
        text = [f"{r['algorithm']} {_importance_text(r)}" for r in top.to_dict("records")]
        out.append(("Most important hyperparameter", "share of variance: " + ", ".join(text)
                    + "."))
    elif "importance" in missing:
        out.append(("Most important hyperparameter", missing["importance"]))
    return out
