"""Orchestration: tables in, results/<suite>/report/ out (index.html, figures/, tables/)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

import rlsens
from rlsens import analysis
from rlsens.report.bibliography import Citations
from rlsens.report.figures import FigureStore, algorithm_palette, figure_style
from rlsens.report.headline import build_headline
from rlsens.report.html import render_index
from rlsens.report.manifest import log_scaled_hyperparameters
from rlsens.report.methods import methods_paragraphs
from rlsens.report.options import ReportOptions
from rlsens.report.overview import build_overview, provenance_rows
from rlsens.report.sections import Context, run_sections, write_tables
from rlsens.store import Manifest, as_manifest
from rlsens.timestamp import now_utc_minutes


def build_report(
    runs: pd.DataFrame,
    curves: pd.DataFrame | None,
    manifest: Manifest | Mapping[str, Any] | None,
    out_dir: Path,
    *,
    options: ReportOptions | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """Write the report of ``runs``/``curves`` to ``out_dir`` and return the index.html path.

    ``curves`` may be None (no curves table: the sample-efficiency section says so); the
    manifest (a ``Manifest`` or its dict form, as ``json.load`` gives it) may be partial or
    empty. Data conditions that make a section undefined (one
    environment, one seed, no successful run, constant scores) become notes on the page, and
    so do ``notes`` (what the store reported about the records: duplicates, left-out runs).
    """
    options = options or ReportOptions()
    manifest = as_manifest(manifest)
    known = sorted(str(a) for a in runs["algorithm"].unique()) if "algorithm" in runs else []
    if options.reference_algorithm is not None and options.reference_algorithm not in known:
        raise ValueError(
            f"reference algorithm {options.reference_algorithm!r} is not in the results; "
            f"algorithms: {', '.join(known) or 'none'}"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables_dir = out_dir / "tables"

    scores = analysis.run_scores(runs, score=options.score, failed=options.failed)
    normalization = options.resolved_normalization(scores["env_id"].nunique())
    nscores = analysis.normalize(scores, method=normalization, reference=options.reference,
                                 quantiles=options.quantiles)
    citations = Citations()
    ctx = Context(
        runs=runs,
        curves=curves,
        options=options,
        scores=scores,
        nscores=nscores,
        normalization=normalization,
        palette=algorithm_palette([str(a) for a in runs["algorithm"].unique()]),
        figure_store=FigureStore(out_dir / "figures"),
        citations=citations,
        log_scaled=log_scaled_hyperparameters(manifest),
    )
    with figure_style():
        sections = run_sections(ctx)
    headline = build_headline(ctx)
    overview = build_overview(runs, manifest, notes)
    write_tables(sections, tables_dir, overview.tables)
    headline.write(tables_dir)
    trainers = ({str(k): int(v) for k, v in runs["trainer"].value_counts().items()}
                if "trainer" in runs else {})
    methods = methods_paragraphs(options, normalization, scores, ctx.used, manifest, citations,
                                 trainers)
    (tables_dir / "references.bib").write_text(citations.bibtex(), encoding="utf-8")
    html = render_index(
        version=rlsens.__version__,
        generated_at=now_utc_minutes(),
        score_label=ctx.score_label,
        headline=headline,
        overview=overview,
        sections=sections,
        methods=methods,
        references=citations.used,
        provenance=provenance_rows(manifest),
    )
    index = out_dir / "index.html"
    index.write_text(html, encoding="utf-8")
    return index
