"""Figures of the report: each function turns one analysis frame into a matplotlib figure.

Figures only draw what ``rlsens.analysis`` computed (the heatmap's binning of configuration
means is the one presentational aggregation, and is said so in its caption). Every algorithm
keeps one colour in every figure (``algorithm_palette``, built once from the sorted algorithm
list with seaborn's colour-blind-safe palette). Large point clouds are rasterized so PDFs stay
small and fast to write.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

Palette = dict[str, tuple[float, float, float]]

PNG_DPI = 110
PDF_RASTER_DPI = 200
_LINESTYLES = ["-", "--", ":", "-."]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
METRIC_TITLES = {
    "iqm": "IQM",
    "mean": "Mean",
    "median": "Median",
    "optimality_gap": "Optimality gap",
}


def algorithm_palette(algorithms: Sequence[str]) -> Palette:
    """One colour per algorithm, assigned in sorted order so it is stable across reports."""
    names = sorted(set(algorithms))
    colours = sns.color_palette("colorblind", n_colors=max(len(names), 1))
    return {name: tuple(colours[i % len(colours)]) for i, name in enumerate(names)}


@contextmanager
def figure_style() -> Iterator[None]:
    """The report's look; ``text.parse_math`` is off so ``$`` in a name is shown, not parsed."""
    rc = {"text.parse_math": False, "axes.titlesize": 10, "axes.labelsize": 9,
          "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8}
    with sns.axes_style("whitegrid"), plt.rc_context(rc):
        yield


@dataclass
class FigureRef:
    """A saved figure: files under figures/ and the PNG inline for the self-contained page."""

    name: str
    caption: str
    png_base64: str
    files: list[Path]

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + self.png_base64


class FigureStore:
    """Saves figures as PDF (vector) and PNG under ``directory`` and closes them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.saved: list[FigureRef] = []

    def save(self, fig: Figure, name: str, caption: str) -> FigureRef:
        try:
            pdf = self.directory / f"{name}.pdf"
            png = self.directory / f"{name}.png"
            fig.savefig(pdf, dpi=PDF_RASTER_DPI)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=PNG_DPI)
        finally:
            plt.close(fig)
        png.write_bytes(buffer.getvalue())
        ref = FigureRef(name, caption, base64.b64encode(buffer.getvalue()).decode("ascii"),
                        [pdf, png])
        self.saved.append(ref)
        return ref


def _log_x(ax: plt.Axes) -> None:
    """Log x axis with plain tick labels (``1e-05``): mathtext is off for user-given names."""
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.LogFormatter(labelOnlyBase=True))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _grid(n: int, *, max_cols: int = 4, width: float = 3.4, height: float = 2.8
          ) -> tuple[Figure, list[plt.Axes]]:
    cols = min(n, max_cols)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows),
                             squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _legend_below(fig: Figure, handles: list, labels: list[str]) -> None:
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5),
                   bbox_to_anchor=(0.5, 0.0), frameon=False)
        fig.tight_layout(rect=(0, 0.04 + 0.03 * math.ceil(len(labels) / 5), 1, 1))
    else:
        fig.tight_layout()


def interval_estimates(agg: pd.DataFrame, palette: Palette) -> Figure:
    """rliable-style interval plot: a panel per metric, a horizontal CI bar per algorithm."""
    metrics = list(dict.fromkeys(agg["metric"]))
    algorithms = sorted(agg["algorithm"].unique())
    fig, axes = _grid(len(metrics), width=2.9, height=0.45 * len(algorithms) + 1.1)
    for ax, metric in zip(axes, metrics, strict=True):
        part = agg[agg["metric"] == metric].set_index("algorithm")
        for i, algorithm in enumerate(algorithms):
            if algorithm not in part.index:
                continue
            row = part.loc[algorithm]
            colour = palette[algorithm]
            ax.barh(i, row["upper"] - row["lower"], left=row["lower"], height=0.6,
                    color=colour, alpha=0.75)
            ax.vlines(row["point"], i - 0.3, i + 0.3, color="black", linewidth=1.5)
        ax.set_yticks(range(len(algorithms)))
        ax.set_yticklabels(algorithms if ax is axes[0] else [])
        ax.set_ylim(-0.6, len(algorithms) - 0.4)
        ax.invert_yaxis()
        ax.set_title(METRIC_TITLES.get(metric, metric))
        ax.grid(axis="y", visible=False)
    fig.supxlabel("Normalized score", fontsize=9)
    fig.tight_layout()
    return fig


def performance_profiles(profile: pd.DataFrame, palette: Palette, xlabel: str,
                         ylabel: str = "Fraction of runs with score > τ") -> Figure:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for algorithm, part in profile.groupby("algorithm", sort=True):
        part = part.sort_values("tau")
        ax.plot(part["tau"], part["fraction"], color=palette[algorithm], label=algorithm)
        ax.fill_between(part["tau"], part["lower"], part["upper"], color=palette[algorithm],
                        alpha=0.2, linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="best", frameon=False)
    fig.tight_layout()
    return fig


def improvement_matrix(poi: pd.DataFrame) -> Figure:
    """P(X > Y) heatmap; each cell shows the estimate and its interval."""
    algorithms = sorted(set(poi["algorithm_x"]) | set(poi["algorithm_y"]))
    n = len(algorithms)
    prob = pd.DataFrame(np.nan, index=algorithms, columns=algorithms)
    text = pd.DataFrame("", index=algorithms, columns=algorithms)
    for row in poi.itertuples(index=False):
        prob.loc[row.algorithm_x, row.algorithm_y] = row.probability
        text.loc[row.algorithm_x, row.algorithm_y] = (
            f"{row.probability:.2f}\n[{row.lower:.2f}, {row.upper:.2f}]"
        )
    size = max(3.8, 1.1 * n + 1.6)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    sns.heatmap(prob, annot=text.to_numpy(), fmt="", cmap="vlag", vmin=0, vmax=1, center=0.5,
                square=True, linewidths=0.5, cbar_kws={"label": "P(X > Y)"}, ax=ax,
                annot_kws={"fontsize": 7 if n > 4 else 8})
    ax.grid(False)
    ax.set_xlabel("Algorithm Y")
    ax.set_ylabel("Algorithm X")
    ax.tick_params(axis="x", rotation=30)
    ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    return fig


def sample_efficiency(curve: pd.DataFrame, palette: Palette, xlabel: str, ylabel: str) -> Figure:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for algorithm, part in curve.groupby("algorithm", sort=True):
        part = part.sort_values("step")
        ax.plot(part["step"], part["iqm"], color=palette[algorithm], label=algorithm, marker="o",
                markersize=3)
        ax.fill_between(part["step"], part["lower"], part["upper"], color=palette[algorithm],
                        alpha=0.2, linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", frameon=False)
    fig.tight_layout()
    return fig


def score_distributions(scores: pd.DataFrame, palette: Palette, value: str) -> Figure:
    """Per environment: a box per algorithm with every run as a (rasterized, jittered) point.

    Runs that did not finish ok are drawn as crosses, so imputed or truncated scores are
    visible as such.
    """
    envs = sorted(scores["env_id"].unique())
    algorithms = sorted(scores["algorithm"].unique())
    fig, axes = _grid(len(envs), max_cols=3, width=0.55 * len(algorithms) + 2.6, height=3.2)
    rng = np.random.default_rng(0)
    for ax, env in zip(axes, envs, strict=True):
        part = scores[scores["env_id"] == env]
        for i, algorithm in enumerate(algorithms):
            sub = part[part["algorithm"] == algorithm]
            values = sub[value].to_numpy(dtype=float)
            finite = np.isfinite(values)
            colour = palette[algorithm]
            if finite.any():
                ax.boxplot(values[finite], positions=[i], widths=0.6, showfliers=False,
                           patch_artist=True, medianprops={"color": "black"},
                           boxprops={"facecolor": (*colour, 0.35), "edgecolor": colour},
                           whiskerprops={"color": colour}, capprops={"color": colour})
            jitter = rng.uniform(-0.22, 0.22, size=len(values))
            ok = (sub["status"] == "ok").to_numpy()
            ax.scatter(i + jitter[ok & finite], values[ok & finite], s=6, color=colour,
                       alpha=0.5, linewidths=0, rasterized=True)
            bad = ~ok & finite
            if bad.any():
                ax.scatter(i + jitter[bad], values[bad], s=14, color=colour, marker="x",
                           linewidths=0.8, rasterized=True)
        ax.set_xticks(range(len(algorithms)))
        ax.set_xticklabels(algorithms, rotation=30, ha="right")
        ax.set_xlim(-0.6, len(algorithms) - 0.4)
        ax.set_title(env)
        ax.set_ylabel("Score (return)" if ax is axes[0] else "")
    fig.tight_layout()
    return fig


def _is_numeric(values: pd.Series) -> bool:
    return bool(pd.to_numeric(values, errors="coerce").notna().all()) and len(values) > 0


def sensitivity_curves(curves: pd.DataFrame, colour: tuple[float, float, float],
                       algorithm: str, ylabel: str, log_scaled: set[str]) -> Figure:
    """One algorithm: a panel per hyperparameter, a line per environment (style, not colour).

    Hyperparameters sampled on a log scale (``log_scaled``) get a log x-axis, so the curve is
    drawn in the coordinates the design spread its points in.
    """
    params = sorted(curves["param"].unique())
    envs = sorted(curves["env_id"].unique())
    fig, axes = _grid(len(params), max_cols=4, width=3.2, height=2.7)
    handles: dict[str, object] = {}
    for ax, param in zip(axes, params, strict=True):
        part = curves[curves["param"] == param]
        numeric = _is_numeric(part["value"])
        categories = sorted(part["value"].astype(str).unique()) if not numeric else []
        for k, env in enumerate(envs):
            sub = part[part["env_id"] == env]
            if sub.empty:
                continue
            if numeric:
                x = pd.to_numeric(sub["value"]).to_numpy(dtype=float)
            else:
                x = np.array([categories.index(str(v)) for v in sub["value"]], dtype=float)
            order = np.argsort(x, kind="stable")
            x = x[order]
            mean = sub["mean"].to_numpy(dtype=float)[order]
            lo = sub["lower"].to_numpy(dtype=float)[order]
            hi = sub["upper"].to_numpy(dtype=float)[order]
            style = _LINESTYLES[k % len(_LINESTYLES)]
            marker = _MARKERS[k % len(_MARKERS)]
            if numeric:
                (line,) = ax.plot(x, mean, color=colour, linestyle=style, marker=marker,
                                  markersize=3)
                ax.fill_between(x, lo, hi, color=colour, alpha=0.12, linewidth=0)
            else:
                offset = (k - (len(envs) - 1) / 2) * 0.08
                line = ax.errorbar(x + offset, mean, yerr=[mean - lo, hi - mean], color=colour,
                                   linestyle="none", marker=marker, markersize=4, capsize=2)
            handles.setdefault(env, line)
        if numeric:
            values = pd.to_numeric(part["value"]).to_numpy(dtype=float)
            if param in log_scaled and values.min() > 0:
                _log_x(ax)
        else:
            ax.set_xticks(range(len(categories)))
            ax.set_xticklabels(categories, rotation=20, ha="right")
        ax.set_title(param)
        ax.set_ylabel(ylabel if ax is axes[0] else "")
    fig.suptitle(algorithm, fontsize=11)
    _legend_below(fig, list(handles.values()), list(handles.keys()))
    return fig


def pair_heatmap(table: pd.DataFrame, algorithm: str, param_a: str, param_b: str,
                 label: str) -> Figure:
    """Heatmap of a pre-binned pivot table (rows: ``param_b`` bins, columns: ``param_a`` bins)."""
    fig, ax = plt.subplots(figsize=(max(4.5, 0.75 * table.shape[1] + 2.5),
                                    max(3.4, 0.45 * table.shape[0] + 1.8)))
    sns.heatmap(table, annot=table.shape[0] * table.shape[1] <= 64, fmt=".2f", cmap="viridis",
                cbar_kws={"label": label}, ax=ax, linewidths=0.3)
    ax.grid(False)
    ax.set_xlabel(param_a)
    ax.set_ylabel(param_b)
    ax.tick_params(axis="x", rotation=30)
    ax.tick_params(axis="y", rotation=0)
    ax.set_title(f"{algorithm}: {param_a} × {param_b}")
    fig.tight_layout()
    return fig


def importance_bars(imp: pd.DataFrame, palette: Palette, top: int = 10) -> Figure:
    """A panel per algorithm: the ``top`` most important terms with their spread across envs."""
    algorithms = sorted(imp["algorithm"].unique())
    heights = [min(top, (imp["algorithm"] == a).sum()) for a in algorithms]
    fig, axes = _grid(len(algorithms), max_cols=3, width=3.6, height=0.3 * max(heights) + 1.3)
    for ax, algorithm in zip(axes, algorithms, strict=True):
        part = imp[imp["algorithm"] == algorithm].nlargest(top, "importance")
        y = np.arange(len(part))
        err = part["std"].to_numpy(dtype=float) if "std" in part else None
        ax.barh(y, part["importance"], xerr=err, color=palette[algorithm], alpha=0.85,
                error_kw={"elinewidth": 0.8, "capsize": 2})
        ax.set_yticks(y)
        ax.set_yticklabels(part["term"])
        ax.set_xlim(left=0)
        ax.invert_yaxis()
        ax.set_xlabel("Share of variance")
        ax.set_title(algorithm)
    fig.tight_layout()
    return fig


def sensitivity_plane(plane: pd.DataFrame, palette: Palette, reference: str) -> Figure:
    """Performance vs sensitivity relative to ``reference`` (Adkins et al., 2024, Fig. 3)."""
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    ref = plane[plane["algorithm"] == reference]
    if not ref.empty and ref[["sensitivity", "performance"]].notna().all(axis=None):
        phi_r, p_r = float(ref["sensitivity"].iloc[0]), float(ref["performance"].iloc[0])
        ax.axvline(phi_r, color="grey", linewidth=0.8, linestyle="--")
        ax.axhline(p_r, color="grey", linewidth=0.8, linestyle="--")
        ax.axline((phi_r, p_r), slope=1.0, color="grey", linewidth=0.8, linestyle=":")
    for row in plane.itertuples(index=False):
        ax.scatter(row.sensitivity, row.performance, s=60, color=palette[row.algorithm],
                   edgecolor="black", linewidth=0.5, label=row.algorithm, zorder=3)
        ax.annotate(f"{row.algorithm} ({int(row.region)})" if pd.notna(row.region)
                    else row.algorithm, (row.sensitivity, row.performance),
                    textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xlabel("Hyperparameter sensitivity (lower is better)")
    ax.set_ylabel("Performance (per-env tuned)")
    ax.margins(0.2)
    fig.tight_layout()
    return fig


def effective_dimensionality(curve: pd.DataFrame, summary: pd.DataFrame,
                             palette: Palette) -> Figure:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for algorithm, part in curve.groupby("algorithm", sort=True):
        part = part.sort_values("k")
        ax.plot(part["k"], part["score"], color=palette[algorithm], marker="o", markersize=4,
                label=algorithm)
        target = summary.loc[summary["algorithm"] == algorithm, "target"]
        if len(target) and pd.notna(target.iloc[0]):
            ax.axhline(float(target.iloc[0]), color=palette[algorithm], linewidth=0.8,
                       linestyle=":")
    ax.set_xlabel("Hyperparameters tuned per environment (k)")
    ax.set_ylabel("Score")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def tuning_curves(tc: pd.DataFrame, palette: Palette, estimator: str) -> Figure:
    """Expected best score vs number of configurations tried, a panel per environment."""
    envs = sorted(tc["env_id"].unique())
    fig, axes = _grid(len(envs), max_cols=3, width=3.6, height=2.9)
    std = "std_v" if estimator == "expected_max_v" else "std_u"
    handles: dict[str, object] = {}
    for ax, env in zip(axes, envs, strict=True):
        for algorithm, part in tc[tc["env_id"] == env].groupby("algorithm", sort=True):
            part = part.sort_values("trials")
            x = part["trials"].to_numpy(dtype=float)
            y = part[estimator].to_numpy(dtype=float)
            s = part[std].to_numpy(dtype=float) if std in part else np.zeros_like(y)
            (line,) = ax.plot(x, y, color=palette[algorithm])
            ax.fill_between(x, y - s, y + s, color=palette[algorithm], alpha=0.15, linewidth=0)
            handles.setdefault(algorithm, line)
        if tc["trials"].max() > 32:
            _log_x(ax)
        else:
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_title(env)
        ax.set_xlabel("Configurations tried")
        ax.set_ylabel("Expected best score" if ax is axes[0] else "")
    _legend_below(fig, list(handles.values()), list(handles.keys()))
    return fig


def variance_shares(decomposition: pd.DataFrame) -> Figure:
    """Stacked horizontal bars: share of score variance per component, per algorithm."""
    table = decomposition.pivot_table(index="algorithm", columns="component", values="share",
                                      aggfunc="first").fillna(0.0)
    order = [c for c in ("env", "config", "seed", "residual") if c in table.columns]
    order += [c for c in table.columns if c not in order]
    table = table[order].sort_index()
    colours = sns.color_palette("Greys", n_colors=len(order) + 1)[1:]
    fig, ax = plt.subplots(figsize=(6.0, 0.45 * len(table) + 1.4))
    left = np.zeros(len(table))
    for colour, component in zip(colours, order, strict=True):
        values = table[component].to_numpy(dtype=float)
        ax.barh(range(len(table)), values, left=left, color=colour, label=component,
                edgecolor="white")
        left += values
    ax.set_yticks(range(len(table)))
    ax.set_yticklabels(table.index)
    ax.invert_yaxis()
    ax.set_xlabel("Share of score variance")
    ax.set_xlim(0, max(1.0, float(left.max()) if len(left) else 1.0))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=len(order), frameon=False)
    fig.tight_layout()
    return fig
