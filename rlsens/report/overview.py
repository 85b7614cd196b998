"""The suite at a glance and provenance: what was run, how much of it, and on what.

Built from the manifest (what was planned) and the runs table (what exists), so a partial
store is described honestly: ``missing`` is planned minus stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rlsens.record import STATUSES
from rlsens.report.tables import ReportTable
from rlsens.spec import canonical_json
from rlsens.store import Manifest, Source
from rlsens.suite.space import (
    Categorical,
    Derived,
    Dimension,
    Fixed,
    Int,
    LogUniform,
    Uniform,
    distribution_from_dict,
)


def describe_value(value: Any) -> str:
    """Compact text for a hyperparameter value or setting (JSON for containers)."""
    if isinstance(value, str):
        return value
    try:
        return canonical_json(value)
    except (TypeError, ValueError):
        return str(value)


def describe_dimension(spec: Dimension | Mapping[str, Any] | Any) -> str:
    """One search-space dimension as text, e.g. ``log_uniform(1e-05, 0.002)``.

    Takes a ``Dimension`` or its stored dict; a form this version cannot read is shown as
    its JSON rather than hidden.
    """
    dim = spec
    if isinstance(spec, Mapping):
        try:
            dim = distribution_from_dict("?", spec)
        except ValueError:
            return describe_value(dict(spec))
    if isinstance(dim, Derived):
        return f"derived: {dim.expression}"
    if isinstance(dim, Int):
        return f"int({dim.low}, {dim.high})" + (" log" if dim.log else "")
    if isinstance(dim, LogUniform):
        return f"log_uniform({dim.low}, {dim.high})"
    if isinstance(dim, Uniform):
        return f"uniform({dim.low}, {dim.high})"
    if isinstance(dim, Categorical):
        if dim.labels is not None:
            return "categorical{" + ", ".join(dim.labels) + "}"
        return "categorical" + describe_value(list(dim.choices))
    if isinstance(dim, Fixed):
        return f"fixed = {describe_value(dim.value)}"
    return describe_value(spec)


def describe_setting(value: Any) -> str:
    """A settings mapping as ``key: value, ...`` (reads better than JSON in the facts list)."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {describe_value(v)}" for k, v in value.items())
    return describe_value(value)


@dataclass
class Overview:
    """Template data for the "suite at a glance" section."""

    name: str
    facts: list[tuple[str, str]]
    tables: list[ReportTable]
    counts: dict[str, int]
    partial_reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _algorithm_table(runs: pd.DataFrame, manifest: Manifest) -> ReportTable:
    resolved = manifest.suite.algorithms
    searched = manifest.searched
    names = sorted(set(resolved) | set(runs["algorithm"].unique() if len(runs) else []))
    rows, data = [], []
    for name in names:
        definition = resolved.get(name) or {}
        space = definition.get("search_space") or {}
        hps = searched.get(name) or sorted(space)
        part = runs[runs["algorithm"] == name] if len(runs) else runs
        envs = sorted(part["env_id"].unique()) if len(part) else definition.get("environments")
        record = {
            "algorithm": name,
            "class": definition.get("class") or (part["algo_class"].iloc[0] if len(part) else ""),
            "environments": ", ".join(map(str, envs or [])),
            "searched": "; ".join(f"{h}: {describe_dimension(space.get(h, '?'))}" for h in hps),
            "configurations": int(part["config_id"].nunique()) if len(part) else 0,
        }
        data.append(record)
        rows.append([str(record[k]) for k in record])
    return ReportTable(
        "suite_algorithms", "Algorithms and search spaces", pd.DataFrame(data),
        ["Algorithm", "Class", "Environments", "Searched hyperparameters", "Configurations"], rows,
        align=["l", "l", "l", "l", "r"],
    )


def _environment_table(runs: pd.DataFrame, manifest: Manifest) -> ReportTable:
    resolved = manifest.suite.environments
    names = sorted(set(resolved) | set(runs["env_id"].unique() if len(runs) else []))
    rows, data = [], []
    for env in names:
        definition = resolved.get(env) or {}
        part = runs[runs["env_id"] == env] if len(runs) else runs
        budgets = sorted(part["budget"].dropna().unique().tolist()) if len(part) else []
        budget = definition.get("budget")
        if budgets and (budget is None or budgets != [budget]):
            budget = ", ".join(str(int(b)) for b in budgets)
        record = {
            "env_id": env,
            "budget": "–" if budget is None else str(budget),
            "env_kwargs": describe_value(definition.get("env_kwargs") or {}),
            "runs": len(part),
        }
        data.append(record)
        rows.append([str(v) for v in record.values()])
    return ReportTable(
        "suite_environments", "Environments", pd.DataFrame(data),
        ["Environment", "Budget (steps)", "env_kwargs", "Stored runs"], rows,
        align=["l", "r", "l", "r"],
    )


def _status_table(runs: pd.DataFrame) -> tuple[ReportTable, dict[str, int]]:
    statuses = list(STATUSES)
    if len(runs):
        table = pd.crosstab(runs["algorithm"], runs["status"]).reindex(columns=statuses,
                                                                       fill_value=0)
    else:
        table = pd.DataFrame(columns=statuses, dtype=int)
    table["stored"] = table.sum(axis=1)
    totals = {s: int(table[s].sum()) for s in [*statuses, "stored"]}
    data = table.reset_index().rename(columns={"index": "algorithm"})
    rows = [[str(r["algorithm"]), *(str(int(r[s])) for s in [*statuses, "stored"])]
            for r in data.to_dict("records")]
    rows.append(["total", *(str(totals[s]) for s in [*statuses, "stored"])])
    return (
        ReportTable("run_status", "Runs by status", data,
                    ["Algorithm", *statuses, "stored"], rows),
        totals,
    )


def _seeds_text(runs: pd.DataFrame, manifest: Manifest) -> str:
    if len(runs):
        parts = []
        for role, group in runs.groupby("seed_role", sort=True):
            seeds = sorted(int(s) for s in group["seed"].unique())
            shown = ", ".join(map(str, seeds[:12])) + (", …" if len(seeds) > 12 else "")
            parts.append(f"{role}: {len(seeds)} seed(s) [{shown}]")
        return "; ".join(parts)
    spec = manifest.suite.seeds
    return describe_value(spec) if spec is not None else "–"


def build_overview(runs: pd.DataFrame, manifest: Manifest,
                   notes: Sequence[str] = ()) -> Overview:
    """``notes``: what the store said about the records behind ``runs`` (duplicates, runs left
    out of the plan), shown as banners so the page says what the command line said."""
    suite = manifest.suite
    status_table, counts = _status_table(runs)
    planned = manifest.plan.runs if manifest.plan is not None else None
    run_ids = manifest.plan.run_ids if manifest.plan is not None else None
    if isinstance(run_ids, list) and run_ids:
        stored_ids = set(runs["run_id"]) if len(runs) else set()
        missing = len(set(run_ids) - stored_ids)
        planned = len(set(run_ids)) if planned is None else planned
    elif planned is not None:
        missing = max(0, int(planned) - counts["stored"])
    else:
        missing = 0
    counts["planned"] = int(planned) if planned is not None else counts["stored"]
    counts["missing"] = missing
    partial = []
    if missing:
        partial.append(f"{missing} of {counts['planned']} planned runs have no result yet.")
    if planned is None:
        partial.append("The manifest records no plan, so missing runs cannot be counted.")
    design = suite.design
    evaluation = suite.evaluation
    facts = [
        ("Suite", str(suite.name or suite.resolved.get("name") or "unnamed suite")),
        ("Scale", str(suite.scale or "–")),
        ("Suite file", str(suite.path or "–")),
        ("Design", describe_setting(design) if design else "–"),
        ("Seeds and roles", _seeds_text(runs, manifest)),
        ("Evaluation", describe_setting(evaluation) if evaluation else "–"),
        ("Runs", f"{counts['stored']} stored of {counts['planned']} planned "
                 f"({counts.get('ok', 0)} ok, {counts.get('diverged', 0)} diverged, "
                 f"{counts.get('failed', 0)} failed, {counts.get('timeout', 0)} timeout, "
                 f"{missing} missing)"),
    ]
    if suite.description:
        facts.insert(1, ("Description", suite.description))
    return Overview(
        name=facts[0][1],
        facts=facts,
        tables=[_algorithm_table(runs, manifest), _environment_table(runs, manifest),
                status_table],
        counts=counts,
        partial_reasons=partial,
        warnings=[*manifest.merge_warnings, *notes],
    )


PROVENANCE_LABELS = [
    ("rlsens_version", "rlsens"), ("git_commit", "Git commit"), ("python", "Python"),
    ("torch", "PyTorch"), ("stable_baselines3", "Stable-Baselines3"), ("gymnasium", "Gymnasium"),
    ("ray", "Ray"), ("numpy", "NumPy"), ("host", "Host"), ("cpu", "CPU"), ("gpu", "GPU"),
    ("started_at", "Started"), ("finished_at", "Finished"),
]


def provenance_rows(manifest: Manifest) -> list[tuple[str, list[tuple[str, str]]]]:
    """(source name, [(label, value)]) per store: one for a suite, several for a comparison."""
    sources = manifest.sources or [
        Source(name=manifest.suite.name or "suite", path=manifest.suite.path,
               scale=manifest.suite.scale, hash=manifest.suite.hash,
               provenance=manifest.provenance)]
    out = []
    for source in sources:
        prov = source.provenance
        rows = [("Suite hash", str(source.hash or "–")),
                ("Suite file", str(source.path or "–")),
                ("Scale", str(source.scale or "–"))]
        rows += [(label, "–" if prov.get(key) in (None, "") else str(prov[key]))
                 for key, label in PROVENANCE_LABELS]
        known = {k for k, _ in PROVENANCE_LABELS}
        rows += [(str(k), describe_value(v)) for k, v in sorted(prov.items()) if k not in known]
        out.append((source.name or "suite", rows))
    return out
