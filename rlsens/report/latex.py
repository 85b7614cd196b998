"""Hand-written booktabs LaTeX: small, dependency-free, and safe for arbitrary names."""

from __future__ import annotations

import re
from collections.abc import Sequence

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_LATEX_PATTERN = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIALS))


def escape_latex(text: object) -> str:
    """``text`` with every LaTeX special character made literal (names come from user files)."""
    return _LATEX_PATTERN.sub(lambda m: _LATEX_SPECIALS[m.group(0)], str(text))


def booktabs(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    bold: Sequence[Sequence[bool]] | None = None,
    *,
    align: str = "",
    caption: str = "",
    label: str = "",
) -> str:
    """A ``table`` float with a booktabs ``tabular``; first column left-aligned, others right.

    Cells are escaped here; ``bold`` marks cells wrapped in ``\\textbf``; ``align`` is one
    ``l``/``r`` per column (default: first left, others right).
    """
    align = align or "l" + "r" * (len(columns) - 1)
    lines = [
        r"% requires \usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
    ]
    if caption:
        lines.append(r"\caption{" + escape_latex(caption) + "}")
    if label:
        lines.append(r"\label{" + re.sub(r"[^A-Za-z0-9:_-]", "-", label) + "}")
    lines += [
        r"\begin{tabular}{" + align + "}",
        r"\toprule",
        " & ".join(escape_latex(c) for c in columns) + r" \\",
        r"\midrule",
    ]
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            text = escape_latex(cell)
            if bold is not None and bold[i][j]:
                text = r"\textbf{" + text + "}"
            cells.append(text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)
