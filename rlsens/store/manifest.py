"""The manifest: what a results folder holds runs *of* (suite, plan, provenance), as a type.

It is the one record every later stage reads (status, export, report, compare) and it comes
from stores of every age, from interrupted runs and from merges, so ``from_dict`` accepts
missing keys (they take the defaults below) but refuses values of the wrong shape with a
message naming the key; ``to_dict`` writes the same JSON layout that older versions wrote, so
old manifests (``results/reference/ddpg/manifest.json``) and new ones read alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlsens.spec import canonical_json, stable_hash
from rlsens.suite.space import Dimension, distribution_from_dict


class ManifestFormatError(ValueError):
    """A manifest whose content has the wrong shape; the store adds the file and the way out."""


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ManifestFormatError(f"`{key}` is a {type(value).__name__}, not a mapping")
    return value


def _strings(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestFormatError(f"`{key}` must be a list of strings")
    return list(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class ManifestSuite:
    """The suite a store was run from. ``resolved`` is the suite's own serialisation (owned by
    ``rlsens.suite``); the properties below are the parts the later stages read."""

    name: str | None = None
    path: str | None = None
    scale: str | None = None
    hash: str | None = None
    resolved: Mapping[str, Any] = field(default_factory=dict)

    @property
    def algorithms(self) -> Mapping[str, Mapping[str, Any]]:
        return _mapping(self.resolved.get("algorithms"), "suite.resolved.algorithms")

    @property
    def environments(self) -> Mapping[str, Mapping[str, Any]]:
        return _mapping(self.resolved.get("environments"), "suite.resolved.environments")

    @property
    def design(self) -> Any:
        return self.resolved.get("design")

    @property
    def seeds(self) -> Any:
        return self.resolved.get("seeds")

    @property
    def evaluation(self) -> Mapping[str, Any]:
        return _mapping(self.resolved.get("evaluation"), "suite.resolved.evaluation")

    @property
    def description(self) -> str | None:
        return _optional_str(self.resolved.get("description"))

    def search_space(self, algorithm: str) -> dict[str, Dimension]:
        """The algorithm's dimensions, rebuilt by their own ``distribution_from_dict``.

        Dimensions a manifest describes in a form this version does not know are left out
        (the report then shows their raw text) rather than failing the whole report.
        """
        definition = self.algorithms.get(algorithm)
        space = definition.get("search_space") if isinstance(definition, Mapping) else None
        out: dict[str, Dimension] = {}
        for name, data in (space or {}).items() if isinstance(space, Mapping) else ():
            try:
                out[str(name)] = distribution_from_dict(str(name), data)
            except ValueError:
                continue
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "scale": self.scale, "hash": self.hash,
                "resolved": dict(self.resolved)}

    @classmethod
    def from_dict(cls, data: Any) -> ManifestSuite:
        data = _mapping(data, "suite")
        return cls(
            name=_optional_str(data.get("name")),
            path=_optional_str(data.get("path")),
            scale=_optional_str(data.get("scale")),
            hash=_optional_str(data.get("hash")),
            resolved=dict(_mapping(data.get("resolved"), "suite.resolved")),
        )


@dataclass(frozen=True)
class PlanCell:
    """The planned runs of one algorithm x environment (what `rlsens status` counts)."""

    algorithm: str
    env_id: str
    run_ids: list[str]


@dataclass(frozen=True)
class ManifestPlan:
    """The plan as the store needs it: ids, cells, seed roles. ``run_ids`` is ``None`` only
    for merged manifests of old stores that recorded a count but no ids."""

    runs: int
    run_ids: list[str] | None = None
    cells: list[PlanCell] = field(default_factory=list)
    seed_roles: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"runs": self.runs}
        if self.run_ids is not None:
            out["run_ids"] = list(self.run_ids)
        if self.cells:
            out["cells"] = [{"algorithm": c.algorithm, "env_id": c.env_id,
                             "run_ids": list(c.run_ids)} for c in self.cells]
        if self.seed_roles:
            out["seed_roles"] = {role: list(ids) for role, ids in self.seed_roles.items()}
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ManifestPlan:
        data = _mapping(data, "plan")
        run_ids = None if data.get("run_ids") is None else _strings(data["run_ids"],
                                                                     "plan.run_ids")
        runs = data.get("runs", len(run_ids or []))
        if isinstance(runs, bool) or not isinstance(runs, int) or runs < 0:
            raise ManifestFormatError("`plan.runs` must be a count (an integer >= 0)")
        cells_data = data.get("cells") or []
        if not isinstance(cells_data, list):
            raise ManifestFormatError("`plan.cells` must be a list")
        cells = []
        for index, cell in enumerate(cells_data):
            cell = _mapping(cell, f"plan.cells[{index}]")
            cells.append(PlanCell(str(cell.get("algorithm")), str(cell.get("env_id")),
                                  _strings(cell.get("run_ids"), f"plan.cells[{index}].run_ids")))
        roles = _mapping(data.get("seed_roles"), "plan.seed_roles")
        return cls(runs=runs, run_ids=run_ids, cells=cells,
                   seed_roles={str(r): _strings(ids, f"plan.seed_roles.{r}")
                               for r, ids in roles.items()})


@dataclass(frozen=True)
class Source:
    """One store of a merged (`rlsens compare`) manifest: a merged report is only
    reproducible from every one of them."""

    name: str
    path: str | None = None
    scale: str | None = None
    hash: str | None = None
    design: Any = None
    seeds: Any = None
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "scale": self.scale, "hash": self.hash,
                "design": self.design, "seeds": self.seeds, "provenance": dict(self.provenance)}

    @classmethod
    def from_dict(cls, data: Any, index: int) -> Source:
        data = _mapping(data, f"sources[{index}]")
        return cls(name=str(data.get("name") or f"store {index + 1}"),
                   path=_optional_str(data.get("path")), scale=_optional_str(data.get("scale")),
                   hash=_optional_str(data.get("hash")), design=data.get("design"),
                   seeds=data.get("seeds"),
                   provenance=dict(_mapping(data.get("provenance"), f"sources[{index}]."
                                                                    "provenance")))


@dataclass(frozen=True)
class Manifest:
    """``manifest.json`` of a results folder, or the merge of several (``sources`` set)."""

    suite: ManifestSuite = field(default_factory=ManifestSuite)
    searched: dict[str, list[str]] = field(default_factory=dict)
    plan: ManifestPlan | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    merge_warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "suite": self.suite.to_dict(),
            "searched": {alg: list(names) for alg, names in self.searched.items()},
            "provenance": dict(self.provenance),
            "history": [dict(h) for h in self.history],
        }
        if self.plan is not None:
            out["plan"] = self.plan.to_dict()
        if self.sources:
            out["sources"] = [s.to_dict() for s in self.sources]
            out["merge_warnings"] = list(self.merge_warnings)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Read a manifest of any rlsens version; ``ManifestFormatError`` names a bad key."""
        if not isinstance(data, Mapping):
            raise ManifestFormatError(
                f"the manifest is a JSON {type(data).__name__}, not an object")
        searched = _mapping(data.get("searched"), "searched")
        history = data.get("history") or []
        if not isinstance(history, list) or not all(isinstance(h, Mapping) for h in history):
            raise ManifestFormatError("`history` must be a list of objects")
        sources = data.get("sources") or []
        if not isinstance(sources, list):
            raise ManifestFormatError("`sources` must be a list")
        return cls(
            suite=ManifestSuite.from_dict(data.get("suite")),
            searched={str(a): _strings(n, f"searched.{a}") for a, n in searched.items()},
            plan=None if data.get("plan") is None else ManifestPlan.from_dict(data["plan"]),
            provenance=dict(_mapping(data.get("provenance"), "provenance")),
            history=[dict(h) for h in history],
            sources=[Source.from_dict(s, i) for i, s in enumerate(sources)],
            merge_warnings=[str(w) for w in (data.get("merge_warnings") or [])],
        )


def as_manifest(value: Manifest | Mapping[str, Any] | None) -> Manifest:
    """A ``Manifest`` from a ``Manifest``, its dict form (a notebook's ``json.load``) or None."""
    if isinstance(value, Manifest):
        return value
    return Manifest() if value is None else Manifest.from_dict(value)


def pooled_ids(manifests: Sequence[Manifest]) -> list[str]:
    """Planned run ids of several manifests, each once, in first-seen order."""
    seen: dict[str, None] = {}
    for manifest in manifests:
        if manifest.plan is not None:
            seen.update(dict.fromkeys(manifest.plan.run_ids or []))
    return list(seen)


def suite_conflict(stored: ManifestSuite, incoming: ManifestSuite) -> str | None:
    """Why a store of ``stored`` must not take runs of ``incoming``, else ``None``.

    A results folder belongs to one suite, identified by its ``name``: the name is what the
    user chose to call the study and what names its default folder, while the file's path and
    content may change (a suite is edited, copied to try a variant, moved). Same name: the
    same suite, edited or not (its hash tells; the previous manifest is kept under
    ``manifests/``). A manifest that records no name (hand-written) binds nothing.
    """
    if stored.name is None or stored.name == incoming.name:
        return None
    return f"it holds runs of suite {stored.name!r}, not {incoming.name!r}"


def _same(a: Any, b: Any) -> bool:
    try:
        return canonical_json(a) == canonical_json(b)
    except (TypeError, ValueError):
        return bool(a == b)


def _merge_named(target: dict[str, Any], source: Mapping[str, Any], kind: str, origin: str,
                 warnings: list[str]) -> None:
    """Union of name -> definition mappings; differing definitions of one name are reported."""
    for name, definition in source.items():
        if name not in target:
            target[name] = definition
        elif not _same(target[name], definition):
            warnings.append(
                f"{kind} {name!r} is defined differently in {origin}; the first definition is "
                "shown and the runs of all stores are pooled under that name."
            )


def merge_manifests(manifests: Sequence[Manifest | Mapping[str, Any]]) -> Manifest:
    """One manifest describing the union of several stores (``rlsens compare``).

    Algorithms and environments are matched by name/id; planned run ids are pooled (so
    "missing" stays planned minus stored); each store's suite identity and provenance are kept
    under ``sources`` because a merged report is only reproducible from all of them.
    Conflicting definitions do not stop the merge; they are listed under ``merge_warnings``
    and shown in the report.
    """
    typed = [as_manifest(m) for m in manifests]
    algorithms: dict[str, Any] = {}
    environments: dict[str, Any] = {}
    searched: dict[str, list[str]] = {}
    planned_without_ids = 0
    warnings: list[str] = []
    sources: list[Source] = []
    for index, manifest in enumerate(typed):
        suite = manifest.suite
        name = suite.name or f"store {index + 1}"
        _merge_named(algorithms, suite.algorithms, "algorithm", name, warnings)
        _merge_named(environments, suite.environments, "environment", name, warnings)
        for algorithm, names in manifest.searched.items():
            merged = searched.setdefault(algorithm, [])
            merged.extend(n for n in names if n not in merged)
        if manifest.plan is not None and manifest.plan.run_ids is None:
            planned_without_ids += manifest.plan.runs
        sources.append(Source(name=name, path=suite.path, scale=suite.scale, hash=suite.hash,
                              design=suite.design, seeds=suite.seeds,
                              provenance=dict(manifest.provenance)))
    run_ids = pooled_ids(typed)
    name = " + ".join(s.name for s in sources) or "comparison"
    resolved = {
        "name": name,
        "algorithms": algorithms,
        "environments": environments,
        "design": {"merged": [s.design for s in sources]},
        "seeds": {s.name: s.seeds for s in sources},
    }
    return Manifest(
        suite=ManifestSuite(
            name=name,
            scale=", ".join(sorted({s.scale for s in sources if s.scale})) or None,
            hash=stable_hash([s.hash for s in sources]),
            resolved=resolved,
        ),
        searched=searched,
        plan=ManifestPlan(runs=len(run_ids) + planned_without_ids, run_ids=run_ids),
        provenance=dict(sources[0].provenance) if len(sources) == 1 else {},
        sources=sources,
        merge_warnings=warnings,
    )
