"""Report tables: one data structure, written as CSV, Markdown, LaTeX and HTML.

A ``ReportTable`` carries the analysis output unchanged (``data``, written to CSV so numbers
stay machine-readable) and a display form (``columns``/``rows`` of strings, with bold marks)
shared by Markdown, LaTeX and the HTML page, so every format shows the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rlsens.report.latex import booktabs
from rlsens.tables import spreadsheet_safe

MISSING = "–"


def decimals_for(values: Sequence[float] | np.ndarray) -> int:
    """Decimals that suit the magnitude of a column: 2 for [0, 1]-like scores, fewer for returns."""
    finite = np.abs(np.asarray(values, dtype=float))
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 2
    top = float(np.max(finite))
    if top >= 1000:
        return 0
    if top >= 100:
        return 1
    return 2


def fmt_num(value: object, decimals: int = 2) -> str:
    """A number for display; missing values (None/NaN) as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return MISSING
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    return f"{number:.{decimals}f}"


def fmt_ci(point: object, lower: object, upper: object, decimals: int = 2) -> str:
    """``0.71 [0.65, 0.77]``; just the point when the interval is missing."""
    text = fmt_num(point, decimals)
    if text == MISSING:
        return text
    lo, hi = fmt_num(lower, decimals), fmt_num(upper, decimals)
    if lo == MISSING or hi == MISSING:
        return text
    return f"{text} [{lo}, {hi}]"


def fmt_p(value: object) -> str:
    """p-values: three decimals, ``<0.001`` below that."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MISSING
    if math.isnan(number):
        return MISSING
    return "<0.001" if number < 0.001 else f"{number:.3f}"


def separated_best(
    point: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    *,
    higher_is_better: bool,
) -> int | None:
    """Index of the best entry if its interval does not overlap the runner-up's, else None.

    Bolding a "winner" whose interval overlaps the next one's would claim a difference the data
    do not support; with fewer than two finite entries there is nothing to separate.
    """
    p = np.asarray(point, dtype=float)
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    valid = np.flatnonzero(np.isfinite(p) & np.isfinite(lo) & np.isfinite(hi))
    if valid.size < 2:
        return None
    order = valid[np.argsort(-p[valid] if higher_is_better else p[valid], kind="stable")]
    best, runner = int(order[0]), int(order[1])
    if p[best] == p[runner]:
        return None
    if higher_is_better:
        return best if lo[best] > hi[runner] else None
    return best if hi[best] < lo[runner] else None


@dataclass
class ReportTable:
    """A table of the report. ``name`` is its file stem under tables/."""

    name: str
    title: str
    data: pd.DataFrame
    columns: list[str]
    rows: list[list[str]]
    bold: list[list[bool]] = field(default_factory=list)
    caption: str = ""
    align: list[str] = field(default_factory=list)
    shown: int | None = None

    def __post_init__(self) -> None:
        if not self.bold:
            self.bold = [[False] * len(self.columns) for _ in self.rows]
        if not self.align:
            self.align = ["l"] + ["r"] * (len(self.columns) - 1)

    @property
    def page_rows(self) -> list[tuple[list[str], list[bool]]]:
        """The rows the HTML page shows (the first ``shown``; files always get every row)."""
        pairs = list(zip(self.rows, self.bold, strict=True))
        return pairs if self.shown is None else pairs[: self.shown]

    def markdown(self) -> str:
        def cell(text: str, strong: bool) -> str:
            text = text.replace("|", "\\|").replace("\n", " ")
            return f"**{text}**" if strong and text else text

        header = "| " + " | ".join(cell(c, False) for c in self.columns) + " |"
        rule = "|" + "|".join(":---" if a == "l" else "---:" for a in self.align) + "|"
        body = [
            "| " + " | ".join(cell(c, b) for c, b in zip(row, bold, strict=True)) + " |"
            for row, bold in zip(self.rows, self.bold, strict=True)
        ]
        title = f"**{cell(self.title, False)}**\n\n" if self.title else ""
        return title + "\n".join([header, rule, *body]) + "\n"

    def latex(self) -> str:
        return booktabs(
            self.columns,
            self.rows,
            self.bold,
            align="".join(self.align),
            caption=f"{self.title}. {self.caption}" if self.caption else self.title,
            label=f"tab:{self.name}",
        )

    def write(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        paths = [directory / f"{self.name}.{ext}" for ext in ("csv", "md", "tex")]
        spreadsheet_safe(self.data).to_csv(paths[0], index=False)
        paths[1].write_text(self.markdown(), encoding="utf-8")
        paths[2].write_text(self.latex(), encoding="utf-8")
        return paths


def simple_table(
    name: str,
    title: str,
    data: pd.DataFrame,
    columns: dict[str, str],
    *,
    formats: dict[str, str] | None = None,
    caption: str = "",
    shown: int | None = None,
) -> ReportTable:
    """A table showing ``columns`` (data column -> header) of ``data`` with per-column formatting.

    ``formats`` maps a column to ``"p"`` (p-value) or ``"text"`` (shown as is); other numeric
    columns get decimals suited to their magnitude.
    """
    formats = formats or {}
    decimals = {
        c: decimals_for(pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float))
        for c in columns
        if c in data and formats.get(c) is None and pd.api.types.is_numeric_dtype(data[c])
    }
    rows = []
    for record in data.to_dict("records"):
        row = []
        for c in columns:
            value = record.get(c)
            kind = formats.get(c)
            if kind == "p":
                row.append(fmt_p(value))
            elif c in decimals:
                row.append(fmt_num(value, decimals[c]))
            elif value is None or value is pd.NA:
                row.append(MISSING)
            else:
                row.append(fmt_num(value))
        rows.append(row)
    align = ["l" if formats.get(c) == "text" else "r" for c in columns]
    return ReportTable(name, title, data, list(columns.values()), rows, caption=caption,
                       align=align, shown=shown)
