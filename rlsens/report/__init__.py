"""The report stage: presents what ``rlsens.analysis`` computes as one self-contained page.

``build_report(runs, curves, manifest, out_dir)`` writes ``index.html`` (figures embedded, no
network needed), ``figures/`` (PDF + PNG of every figure) and ``tables/`` (CSV, Markdown,
LaTeX, references.bib). ``merge_manifests`` combines the manifests of several stores for
``rlsens compare``.
"""

from rlsens.report.build import build_report
from rlsens.report.options import ReportOptions
from rlsens.store import merge_manifests

__all__ = ["ReportOptions", "build_report", "merge_manifests"]
