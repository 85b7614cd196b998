"""Reading (possibly partial) manifests, and merging several for ``rlsens compare``.

Manifests come from stores of different ages and from interrupted runs, so every accessor
here tolerates missing keys and returns ``None``/empty rather than raising.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rlsens.spec import canonical_json, stable_hash


def get(mapping: Any, *keys: str, default: Any = None) -> Any:
    """``mapping[k1][k2]...`` or ``default`` when any level is missing or not a mapping."""
    node = mapping
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def _same(a: Any, b: Any) -> bool:
    try:
        return canonical_json(a) == canonical_json(b)
    except (TypeError, ValueError):
        return a == b


def _merge_named(
    target: dict[str, Any], source: Mapping[str, Any], kind: str, origin: str,
    warnings: list[str],
) -> None:
    """Union of name -> definition mappings; differing definitions of one name are reported."""
    for name, definition in source.items():
        if name not in target:
            target[name] = definition
        elif not _same(target[name], definition):
            warnings.append(
                f"{kind} {name!r} is defined differently in {origin}; the first definition is "
                "shown and the runs of all stores are pooled under that name."
            )


def merge_manifests(manifests: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One manifest describing the union of several stores (``rlsens compare``).

    Algorithms and environments are matched by name/id; planned run ids are pooled (so
    "missing" stays planned minus stored); each store's suite identity and provenance are kept
    under ``sources`` because a merged report is only reproducible from all of them.
    Conflicting definitions do not stop the merge; they are listed under ``merge_warnings``
    and shown in the report.
    """
    algorithms: dict[str, Any] = {}
    environments: dict[str, Any] = {}
    searched: dict[str, list[str]] = {}
    run_ids: list[str] = []
    seen_ids: set[str] = set()
    planned_without_ids = 0
    warnings: list[str] = []
    sources = []
    for index, manifest in enumerate(manifests):
        suite = get(manifest, "suite", default={}) or {}
        name = str(suite.get("name") or f"store {index + 1}")
        resolved = suite.get("resolved") or {}
        _merge_named(algorithms, resolved.get("algorithms") or {}, "algorithm", name, warnings)
        _merge_named(environments, resolved.get("environments") or {}, "environment", name,
                     warnings)
        for algorithm, names in (get(manifest, "searched", default={}) or {}).items():
            merged = searched.setdefault(algorithm, [])
            merged.extend(n for n in names if n not in merged)
        ids = get(manifest, "plan", "run_ids")
        if isinstance(ids, list):
            for run_id in ids:
                if run_id not in seen_ids:
                    seen_ids.add(run_id)
                    run_ids.append(run_id)
        else:
            planned_without_ids += int(get(manifest, "plan", "runs", default=0) or 0)
        sources.append(
            {
                "name": name,
                "path": suite.get("path"),
                "scale": suite.get("scale"),
                "hash": suite.get("hash"),
                "design": resolved.get("design"),
                "seeds": resolved.get("seeds"),
                "provenance": get(manifest, "provenance", default={}) or {},
            }
        )
    name = " + ".join(s["name"] for s in sources) or "comparison"
    return {
        "suite": {
            "name": name,
            "path": None,
            "scale": ", ".join(sorted({str(s["scale"]) for s in sources if s["scale"]})) or None,
            "hash": stable_hash([s["hash"] for s in sources]),
            "resolved": {
                "name": name,
                "algorithms": algorithms,
                "environments": environments,
                "design": {"merged": [s["design"] for s in sources]},
                "seeds": {s["name"]: s["seeds"] for s in sources},
            },
        },
        "searched": searched,
        "plan": {"runs": len(run_ids) + planned_without_ids, "run_ids": run_ids},
        "provenance": sources[0]["provenance"] if len(sources) == 1 else {},
        "sources": sources,
        "merge_warnings": warnings,
    }


def log_scaled_hyperparameters(manifest: Mapping[str, Any]) -> dict[str, set[str]]:
    """Per algorithm, the searched hyperparameters the suite samples on a log scale."""
    algorithms = get(manifest, "suite", "resolved", "algorithms", default={})
    if not isinstance(algorithms, Mapping):
        return {}
    out: dict[str, set[str]] = {}
    for label, spec in algorithms.items():
        space = get(spec, "search_space", default={})
        if isinstance(space, Mapping):
            out[str(label)] = {str(name) for name, dim in space.items() if _is_log(dim)}
    return out


def _is_log(dim: Any) -> bool:
    if not isinstance(dim, Mapping):
        return False
    return dim.get("dist") == "log_uniform" or (dim.get("dist") == "int" and bool(dim.get("log")))
