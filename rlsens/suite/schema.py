"""The suite file's schema: parsing and validation into frozen dataclasses.

Everything that can be checked without training is checked here, so a suite that loads
is a suite whose runs can all start: algorithm classes, Gymnasium ids, hyperparameter names
(against the SB3 signature), value types, ranges, derived expressions (evaluated once per
environment at the default configuration), seeds and the design. Each problem is reported as
a ``SuiteError`` with file, line, key path and a hint saying what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from rlsens.errors import SuiteError
from rlsens.spec import EvalProtocol, Resources, stable_hash
from rlsens.suite import vocabulary
from rlsens.suite.design import DESIGN_TYPES, Design, sobol_n_problem
from rlsens.suite.loader import KeyPath, Source, deep_merge, numeric_string, read_yaml
from rlsens.suite.space import (
    ALLOWED_SYNTAX,
    Categorical,
    Derived,
    Dimension,
    ExpressionError,
    Fixed,
    Int,
    LogUniform,
    Uniform,
    expression_names,
)
from rlsens.suite.zoo import load_zoo

TOP_KEYS = ("name", "description", "seed", "default_scale", "environments", "algorithms",
            "design", "seeds", "evaluation", "resources", "scales")
REQUIRED_TOP = ("environments", "algorithms", "design", "seeds")
ENV_KEYS = ("budget", "env_kwargs")
ALGO_KEYS = ("class", "policy", "environments", "zoo", "hyperparameters", "per_env", "budget",
             "search_space")
DESIGN_KEYS = ("type", "n", "levels", "include_default")
EVAL_KEYS = ("every", "episodes", "final", "deterministic")
RESOURCE_KEYS = ("cpus", "gpus", "memory_mb", "timeout_s")
DISTRIBUTIONS = {
    "fixed": ("value",),
    "uniform": ("low", "high", "default"),
    "log_uniform": ("low", "high", "default"),
    "int": ("low", "high", "log", "default"),
    "categorical": ("choices", "default"),
}
REQUIRED_DIST_KEYS = {"fixed": ("value",), "uniform": ("low", "high"),
                      "log_uniform": ("low", "high"), "int": ("low", "high"),
                      "categorical": ("choices",)}


@dataclass(frozen=True)
class Environment:
    env_id: str
    budget: int | None = None
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Seeds:
    """Training seeds by role. ``all`` when the suite gives one list; ``tune``/``report`` when
    configurations are selected on some seeds and reported on fresh ones (no optimistic bias).
    """

    all: tuple[int, ...] = ()
    tune: tuple[int, ...] = ()
    report: tuple[int, ...] = ()

    def roles(self) -> list[tuple[int, str]]:
        """``(seed, role)`` in plan order: all seeds, or tune seeds then report seeds."""
        if self.all:
            return [(s, "all") for s in self.all]
        return [(s, "tune") for s in self.tune] + [(s, "report") for s in self.report]

    def to_dict(self) -> dict[str, list[int]]:
        if self.all:
            return {"all": list(self.all)}
        return {"tune": list(self.tune), "report": list(self.report)}


@dataclass(frozen=True)
class Algorithm:
    """One algorithm entry, with its per-environment defaults already resolved."""

    label: str
    algo_class: str
    environments: tuple[str, ...]
    budget: Mapping[str, int]
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    per_env: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    zoo: str | None = None
    zoo_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    policy: str | None = None
    zoo_policies: Mapping[str, str] = field(default_factory=dict)
    search_space: Mapping[str, Dimension] = field(default_factory=dict)
    default_point: Mapping[str, Any] = field(default_factory=dict)
    source: Source | None = field(default=None, repr=False, compare=False)

    @property
    def searched(self) -> list[str]:
        """Names of the dimensions the design varies (aux included; fixed/derived not)."""
        return [name for name, dim in self.search_space.items() if dim.searched]

    def policy_for(self, env_id: str) -> str:
        """The suite's ``policy:``, else the zoo's for this environment, else MlpPolicy."""
        return self.policy or self.zoo_policies.get(env_id) or "MlpPolicy"

    def base_config(self, env_id: str) -> dict[str, Any]:
        """zoo[env] < hyperparameters < per_env[env]: everything but the searched point."""
        config = dict(self.zoo_defaults.get(env_id, {}))
        config.update(self.hyperparameters)
        config.update(self.per_env.get(env_id, {}))
        return copy.deepcopy(config)

    def resolve(self, point: Mapping[str, Any], env_id: str) -> dict[str, Any]:
        """The full hyperparameters of ``point`` on ``env_id`` (derived computed, aux dropped).

        Raises ``SuiteError`` when a derived expression cannot be evaluated at this point.
        """
        config = self.base_config(env_id)
        values: dict[str, Any] = dict(config)
        for name, dim in self.search_space.items():
            if isinstance(dim, Fixed):
                values[name] = copy.deepcopy(dim.value)
            elif dim.searched:
                values[name] = copy.deepcopy(dim.value_of(point[name]))
        for name in _derived_order(self):
            dim = self.search_space[name]
            assert isinstance(dim, Derived)
            try:
                values[name] = dim.evaluate(values)
            except ExpressionError as exc:
                path = ("algorithms", self.label, "search_space", name, "derived")
                where = f" (on {env_id}, at {dict(point)})"
                message = f"cannot evaluate derived {dim.expression!r}: {exc}{where}"
                if self.source is None:
                    raise SuiteError(message, key=".".join(map(str, path)),
                                     hint=ALLOWED_SYNTAX) from exc
                raise self.source.error(path, message, hint=ALLOWED_SYNTAX) from exc
        for name, dim in self.search_space.items():
            if not dim.aux:
                config[name] = values[name]
        return config


@dataclass(frozen=True)
class Suite:
    """A loaded, validated suite after its scale overlay: the input of ``build_plan``."""

    name: str
    path: Path
    scale: str | None
    scales: tuple[str, ...]
    seed: int
    environments: Mapping[str, Environment]
    algorithms: Mapping[str, Algorithm]
    design: Design
    seeds: Seeds
    evaluation: EvalProtocol
    resources: Resources
    resolved: Mapping[str, Any]
    hash: str
    searched: Mapping[str, list[str]]
    description: str = ""


# --- helpers ---------------------------------------------------------------------------------

class _Reader:
    """Typed accessors that raise located errors; one per source file."""

    def __init__(self, source: Source):
        self.source = source

    def fail(self, path: KeyPath, message: str, hint: str | None = None) -> SuiteError:
        return self.source.error(path, message, hint)

    def mapping(self, value: Any, path: KeyPath, what: str, *, allow_none: bool = False,
                ) -> dict[str, Any]:
        if value is None and allow_none:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"{what} must be a mapping, got {_kind(value)}",
                            hint="write `key: value` pairs indented under this key")
        return value

    def keys(self, mapping: Mapping[str, Any], path: KeyPath, allowed: tuple[str, ...],
             required: tuple[str, ...] = (), what: str = "") -> None:
        for key in mapping:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.fail((*path, key), f"unknown key {key!r}{what}",
                                hint=f"{hint}allowed: {', '.join(allowed)}")
        for key in required:
            if key not in mapping:  # located at the enclosing mapping's line
                raise self.fail((*path, key), f"missing required key {key!r}{what}",
                                hint=f"required: {', '.join(required)}")

    def number(self, value: Any, path: KeyPath, what: str = "value") -> float | int:
        number = numeric_string(value) if isinstance(value, str) else value
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise self.fail(path, f"{what} must be a number, got {value!r}",
                            hint="write a number such as 0.001, 1e-3 or 256")
        if isinstance(number, float) and not math.isfinite(number):
            raise self.fail(path, f"{what} must be finite, got {value!r}",
                            hint="write a finite number")
        return number

    def integer(self, value: Any, path: KeyPath, what: str = "value", minimum: int | None = None,
                ) -> int:
        number = self.number(value, path, what)
        if isinstance(number, float):
            if not number.is_integer():
                raise self.fail(path, f"{what} must be an integer, got {value!r}",
                                hint="write a whole number such as 1000 or 1e4")
            number = int(number)
        if minimum is not None and number < minimum:
            raise self.fail(path, f"{what} must be at least {minimum}, got {number}",
                            hint=f"use an integer >= {minimum}")
        return number

    def boolean(self, value: Any, path: KeyPath, what: str = "value") -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"{what} must be true or false, got {value!r}",
                            hint="write true or false")
        return value

    def string(self, value: Any, path: KeyPath, what: str = "value") -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"{what} must be a non-empty string, got {_kind(value)}",
                            hint="write a plain text value")
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _coerce(value: Any) -> Any:
    """Numeric strings -> numbers, recursively (``"1e-3"`` works wherever 1e-3 does)."""
    if isinstance(value, dict):
        return {k: _coerce(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_coerce(v) for v in value]
    number = numeric_string(value)
    return value if number is None else number


@cache
def _gym_ids() -> tuple[str, ...]:
    import gymnasium

    return tuple(gymnasium.envs.registry)


# --- sections --------------------------------------------------------------------------------

def load_suite(path: str | Path, scale: str | None = None) -> Suite:
    """Load, overlay the chosen scale on, and validate the suite at ``path``.

    ``scale`` defaults to the file's ``default_scale`` (none: the base suite). Raises
    ``SuiteError`` for anything wrong in the file; nothing is trained or built.
    """
    path = Path(path)
    data, source = read_yaml(path)
    r = _Reader(source)
    data = r.mapping(data, (), "a suite file")
    r.keys(data, (), TOP_KEYS, REQUIRED_TOP)
    scales = r.mapping(data.get("scales"), ("scales",), "scales", allow_none=True)
    for name, partial in scales.items():
        r.mapping(partial, ("scales", name), f"scale {name!r}", allow_none=True)
        for key in ("scales", "default_scale"):
            if isinstance(partial, dict) and key in partial:
                raise r.fail(("scales", name, key), f"a scale cannot set {key!r}",
                             hint="scales are partial suites merged over the base suite")
    chosen = scale
    if chosen is None and data.get("default_scale") is not None:
        chosen = r.string(data["default_scale"], ("default_scale",), "default_scale")
        if chosen not in scales:
            raise r.fail(("default_scale",), f"default_scale {chosen!r} is not a scale",
                         hint=f"available scales: {', '.join(scales) or 'none'}")
    if chosen is not None and chosen not in scales:
        raise SuiteError(f"unknown scale {chosen!r}", file=str(path),
                         line=source.locate(("scales",))[0] if scales else None, key="scales",
                         hint=f"available scales: {', '.join(scales) or 'none (no scales:)'}")
    base = {k: v for k, v in data.items() if k not in ("scales", "default_scale")}
    if chosen is not None:
        base = deep_merge(base, scales[chosen] or {}, source, (), ("scales", chosen))
        r.keys(base, (), TOP_KEYS, REQUIRED_TOP)
    return _build(base, r, path, chosen, tuple(scales))


def _build(data: dict[str, Any], r: _Reader, path: Path, scale: str | None,
           scales: tuple[str, ...]) -> Suite:
    name = r.string(data.get("name", path.stem), ("name",), "name")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise r.fail(("description",), "description must be text", hint="write a string")
    seed = r.integer(data.get("seed", 0), ("seed",), "seed", minimum=0)
    environments = _environments(data["environments"], r)
    design = _design(data["design"], r)
    seeds = _seeds(data["seeds"], r)
    evaluation = _evaluation(data.get("evaluation"), r)
    resources = _resources(data.get("resources"), r)
    algos = r.mapping(data["algorithms"], ("algorithms",), "algorithms")
    if not algos:
        raise r.fail(("algorithms",), "no algorithms", hint="add at least one algorithm")
    algorithms = {label: _algorithm(label, spec, environments, path, r)
                  for label, spec in algos.items()}
    resolved = {
        "name": name,
        "description": description,
        "seed": seed,
        "scale": scale,
        "environments": {e.env_id: {"budget": e.budget, "env_kwargs": dict(e.env_kwargs)}
                         for e in environments.values()},
        "algorithms": {label: _algorithm_dict(a) for label, a in algorithms.items()},
        "design": {"type": design.type, "n": design.n, "levels": design.levels,
                   "include_default": design.include_default},
        "seeds": seeds.to_dict(),
        "evaluation": {"every": evaluation.every, "episodes": evaluation.episodes,
                       "final": evaluation.final, "deterministic": evaluation.deterministic},
        "resources": {"cpus": resources.cpus, "gpus": resources.gpus,
                      "memory_mb": resources.memory_mb, "timeout_s": resources.timeout_s},
    }
    return Suite(
        name=name, path=path, scale=scale, scales=scales, seed=seed, environments=environments,
        algorithms=algorithms, design=design, seeds=seeds, evaluation=evaluation,
        resources=resources, resolved=resolved, hash=stable_hash(resolved),
        searched={label: a.searched for label, a in algorithms.items()},
        description=description,
    )


def _environments(value: Any, r: _Reader) -> dict[str, Environment]:
    envs = r.mapping(value, ("environments",), "environments")
    if not envs:
        raise r.fail(("environments",), "no environments",
                     hint="add Gymnasium ids, e.g. `Pendulum-v1: {budget: 20000}`")
    known = _gym_ids()
    out = {}
    for env_id, spec in envs.items():
        path = ("environments", env_id)
        if env_id not in known:
            close = difflib.get_close_matches(env_id, known, n=3)
            hint = f"did you mean {' or '.join(close)}?" if close else (
                "use a Gymnasium id from gymnasium.envs.registry (e.g. Pendulum-v1)")
            raise r.fail(path, f"unknown Gymnasium environment {env_id!r}", hint=hint)
        spec = r.mapping(spec, path, f"environment {env_id}", allow_none=True)
        r.keys(spec, path, ENV_KEYS, what=f" in environment {env_id}")
        budget = (r.integer(spec["budget"], (*path, "budget"), "budget", minimum=1)
                  if spec.get("budget") is not None else None)
        kwargs = r.mapping(spec.get("env_kwargs"), (*path, "env_kwargs"), "env_kwargs",
                           allow_none=True)
        out[env_id] = Environment(env_id, budget, copy.deepcopy(kwargs))
    return out


def _design(value: Any, r: _Reader) -> Design:
    path: KeyPath = ("design",)
    spec = r.mapping(value, path, "design")
    r.keys(spec, path, DESIGN_KEYS, ("type",), " in design")
    kind = spec["type"]
    if kind not in DESIGN_TYPES:
        raise r.fail((*path, "type"), f"unknown design type {kind!r}",
                     hint=f"allowed: {', '.join(DESIGN_TYPES)}")
    n = None
    if kind in ("random", "sobol"):
        if "n" not in spec:
            raise r.fail(path, f"a {kind} design needs `n` (configurations per algorithm)",
                         hint="e.g. n: 16")
        n = r.integer(spec["n"], (*path, "n"), "design.n", minimum=1)
        problem = sobol_n_problem(n) if kind == "sobol" else None
        if problem:
            raise r.fail((*path, "n"), f"n = {n} is not a power of two",
                         hint=problem.replace("a Sobol design needs", "Sobol needs"))
    elif "n" in spec:
        raise r.fail((*path, "n"), f"a {kind} design does not take `n`",
                     hint="grid and oat designs are sized by `levels` and the search space")
    levels = r.integer(spec.get("levels", 3), (*path, "levels"), "design.levels", minimum=1)
    include = r.boolean(spec.get("include_default", False), (*path, "include_default"),
                        "include_default")
    return Design(kind, n, levels, include)


def _seed_list(value: Any, path: KeyPath, r: _Reader, start: int) -> tuple[int, ...]:
    if isinstance(value, list):
        seeds = tuple(r.integer(v, (*path, i), "seed", minimum=0) for i, v in enumerate(value))
        if not seeds:
            raise r.fail(path, "empty seed list", hint="give at least one seed")
        if len(set(seeds)) != len(seeds):
            raise r.fail(path, "repeated seed in list", hint="each seed may appear once")
        return seeds
    count = r.integer(value, path, "number of seeds", minimum=1)
    return tuple(range(start, start + count))


def _seeds(value: Any, r: _Reader) -> Seeds:
    path: KeyPath = ("seeds",)
    if not isinstance(value, dict):
        if isinstance(value, bool) or not isinstance(value, (int, float, str, list)):
            raise r.fail(path, f"seeds must be a count, a list or tune/report, got {_kind(value)}",
                         hint="e.g. `seeds: 5` or `seeds: {tune: 3, report: 5}`")
        return Seeds(all=_seed_list(value, path, r, 0))
    r.keys(value, path, ("tune", "report"), ("tune", "report"), " in seeds")
    tune = _seed_list(value["tune"], (*path, "tune"), r, 0)
    report = _seed_list(value["report"], (*path, "report"), r, max(tune) + 1)
    overlap = sorted(set(tune) & set(report))
    if overlap:
        raise r.fail((*path, "report"), f"seeds {overlap} are both tune and report seeds",
                     hint="report seeds must be fresh, or selection bias enters the results")
    return Seeds(tune=tune, report=report)


def _evaluation(value: Any, r: _Reader) -> EvalProtocol:
    path: KeyPath = ("evaluation",)
    spec = r.mapping(value, path, "evaluation", allow_none=True)
    r.keys(spec, path, EVAL_KEYS, what=" in evaluation")
    default = EvalProtocol()
    return EvalProtocol(
        every=r.integer(spec.get("every", default.every), (*path, "every"), "every", minimum=1),
        episodes=r.integer(spec.get("episodes", default.episodes), (*path, "episodes"),
                           "episodes", minimum=1),
        final=r.integer(spec.get("final", default.final), (*path, "final"), "final", minimum=1),
        deterministic=r.boolean(spec.get("deterministic", default.deterministic),
                                (*path, "deterministic"), "deterministic"),
    )


def _resources(value: Any, r: _Reader) -> Resources:
    path: KeyPath = ("resources",)
    spec = r.mapping(value, path, "resources", allow_none=True)
    r.keys(spec, path, RESOURCE_KEYS, what=" in resources")
    default = Resources()

    def positive(key: str, fallback: Any, zero_ok: bool = False) -> Any:
        raw = spec.get(key, fallback)
        if raw is None:
            return None
        number = r.number(raw, (*path, key), key)
        if number < 0 or (number == 0 and not zero_ok):
            raise r.fail((*path, key), f"{key} must be {'>= 0' if zero_ok else '> 0'}",
                         hint="resources are per run")
        return number

    memory = positive("memory_mb", default.memory_mb)
    return Resources(
        cpus=float(positive("cpus", default.cpus)),
        gpus=float(positive("gpus", default.gpus, zero_ok=True)),
        memory_mb=None if memory is None else r.integer(memory, (*path, "memory_mb"),
                                                        "memory_mb", minimum=1),
        timeout_s=positive("timeout_s", default.timeout_s),
    )


# --- algorithms ------------------------------------------------------------------------------

def _algorithm(label: str, value: Any, environments: Mapping[str, Environment], suite_path: Path,
               r: _Reader) -> Algorithm:
    path: KeyPath = ("algorithms", label)
    spec = r.mapping(value, path, f"algorithm {label}")
    r.keys(spec, path, ALGO_KEYS, ("class",), f" in algorithm {label}")
    if not label.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise r.fail(path, f"algorithm label {label!r} has unusual characters",
                     hint="use letters, digits, '_', '-' and '.' (labels name files)")
    algo_class = _algo_class(spec["class"], (*path, "class"), r)

    env_ids = list(environments)
    if spec.get("environments") is not None:
        listed = spec["environments"]
        if not isinstance(listed, list) or not listed:
            raise r.fail((*path, "environments"), "environments must be a non-empty list",
                         hint=f"suite environments: {', '.join(environments)}")
        for i, env_id in enumerate(listed):
            if env_id not in environments:
                raise r.fail((*path, "environments", i),
                             f"{env_id!r} is not an environment of this suite",
                             hint=f"suite environments: {', '.join(environments)}")
        if len(set(listed)) != len(listed):
            raise r.fail((*path, "environments"), "repeated environment",
                         hint="list each environment once")
        env_ids = list(listed)

    policy = None
    if spec.get("policy") is not None:
        policy = _policy(spec["policy"], (*path, "policy"), algo_class, r)

    zoo_file, zoo_defaults, zoo_policies = None, {}, {}
    if spec.get("zoo") is not None:
        zoo_file = r.string(spec["zoo"], (*path, "zoo"), "zoo")
        zoo_path = (suite_path.parent / zoo_file)
        if not zoo_path.is_file():
            raise r.fail((*path, "zoo"), f"zoo file {zoo_file!r} not found ({zoo_path})",
                         hint="zoo paths are relative to the suite file")
        zoo_defaults, zoo_policies = load_zoo(zoo_path, env_ids, algo_class)
        if policy is None:
            zoo_reader = _Reader(Source(str(zoo_path)))
            for env_id, name in zoo_policies.items():
                _policy(name, (env_id, "policy"), algo_class, zoo_reader)

    hyper = _hyperparameters(spec.get("hyperparameters"), (*path, "hyperparameters"),
                             algo_class, r)
    per_env_spec = r.mapping(spec.get("per_env"), (*path, "per_env"), "per_env", allow_none=True)
    per_env = {}
    for env_id, values in per_env_spec.items():
        if env_id not in env_ids:
            raise r.fail((*path, "per_env", env_id),
                         f"{env_id!r} is not an environment of algorithm {label}",
                         hint=f"its environments: {', '.join(env_ids)}")
        per_env[env_id] = _hyperparameters(values, (*path, "per_env", env_id), algo_class, r)

    budget = _budget(spec.get("budget"), (*path, "budget"), env_ids, environments, label, r)
    space, defaults = _search_space(spec.get("search_space"), (*path, "search_space"),
                                    algo_class, r)
    for env_id, values in per_env.items():
        for name in values:
            if name in space and not space[name].aux:
                raise r.fail((*path, "per_env", env_id, name),
                             f"{name!r} is in the search space and cannot be set per environment",
                             hint="a configuration must be the same on every environment; "
                                  "remove it from per_env or from search_space")
    default_point = _default_point(space, defaults, hyper, path, r)
    algorithm = Algorithm(
        label=label, algo_class=algo_class, environments=tuple(env_ids), budget=budget,
        hyperparameters=hyper, per_env=per_env, zoo=zoo_file, zoo_defaults=zoo_defaults,
        policy=policy, zoo_policies=zoo_policies, search_space=space,
        default_point=default_point, source=r.source,
    )
    _check_derived(algorithm, path, r)
    return algorithm


def _algo_class(value: Any, path: KeyPath, r: _Reader) -> str:
    allowed = vocabulary.ALGORITHM_CLASSES
    if isinstance(value, str) and value.upper() in allowed:
        return value.upper()
    raise r.fail(path, f"unknown algorithm class {value!r}", hint=f"allowed: {', '.join(allowed)}")


def _policy(value: Any, path: KeyPath, algo_class: str, r: _Reader) -> str:
    allowed = vocabulary.policies(algo_class)
    if value not in allowed:
        raise r.fail(path, f"unknown policy {value!r} for {algo_class}",
                     hint=f"allowed: {', '.join(allowed)}")
    return value


def _hyperparameters(value: Any, path: KeyPath, algo_class: str, r: _Reader) -> dict[str, Any]:
    spec = r.mapping(value, path, "hyperparameters", allow_none=True)
    out = {}
    for name, raw in spec.items():
        _check_name(name, (*path, name), algo_class, r)
        value = _coerce(raw)
        problem = vocabulary.check_value(name, value)
        if problem:
            raise r.fail((*path, name), problem, hint=_value_hint(name))
        out[name] = value
    return out


def _check_name(name: str, path: KeyPath, algo_class: str, r: _Reader) -> None:
    problem = vocabulary.check_name(name, algo_class)
    if problem:
        raise r.fail(path, problem[0], hint=problem[1])


def _value_hint(name: str) -> str:
    hints = {
        "activation_fn": "one of " + ", ".join(vocabulary.ACTIVATIONS.values()),
        "net_arch": "e.g. [64, 64] or {pi: [64, 64], vf: [64, 64]}",
        "noise_type": "normal, ornstein-uhlenbeck or none",
    }
    return hints.get(name, "a number, or lin_<number> for a linear schedule")


def _budget(value: Any, path: KeyPath, env_ids: list[str],
            environments: Mapping[str, Environment], label: str, r: _Reader) -> dict[str, int]:
    overrides: dict[str, int] = {}
    if isinstance(value, dict):
        for env_id, raw in value.items():
            if env_id not in env_ids:
                raise r.fail((*path, env_id), f"{env_id!r} is not an environment of {label}",
                             hint=f"its environments: {', '.join(env_ids)}")
            overrides[env_id] = r.integer(raw, (*path, env_id), "budget", minimum=1)
    elif value is not None:
        overrides = dict.fromkeys(env_ids, r.integer(value, path, "budget", minimum=1))
    out = {}
    for env_id in env_ids:
        budget = overrides.get(env_id, environments[env_id].budget)
        if budget is None:
            raise r.fail(("environments", env_id),
                         f"no budget for {label} on {env_id}",
                         hint=f"set environments.{env_id}.budget or algorithms.{label}.budget")
        out[env_id] = budget
    return out


def _search_space(value: Any, path: KeyPath, algo_class: str, r: _Reader,
                  ) -> tuple[dict[str, Dimension], dict[str, Any]]:
    """The dimensions, and the ``default:`` values written in their specs."""
    spec = r.mapping(value, path, "search_space", allow_none=True)
    space: dict[str, Dimension] = {}
    defaults: dict[str, Any] = {}
    for name, dim_spec in spec.items():
        space[name] = _dimension(name, dim_spec, (*path, name), algo_class, r)
        if isinstance(dim_spec, dict) and "default" in dim_spec:
            defaults[name] = dim_spec["default"]
    return space, defaults


def _dimension(name: str, value: Any, path: KeyPath, algo_class: str, r: _Reader) -> Dimension:
    spec = r.mapping(value, path, f"search dimension {name}")
    aux = r.boolean(spec.get("aux", False), (*path, "aux"), "aux")
    if not aux:
        _check_name(name, path, algo_class, r)
    if "derived" in spec:
        r.keys(spec, path, ("derived", "aux"), what=" in a derived dimension")
        expression = spec["derived"]
        if not isinstance(expression, str | int | float) or isinstance(expression, bool):
            raise r.fail((*path, "derived"), "derived must be an arithmetic expression",
                         hint=ALLOWED_SYNTAX)
        dim = Derived(name, aux, str(expression))
        try:
            expression_names(dim.expression)
        except ExpressionError as exc:
            raise r.fail((*path, "derived"), f"invalid derived expression: {exc}",
                         hint=f"allowed: {ALLOWED_SYNTAX}") from exc
        return dim
    if "dist" not in spec:
        raise r.fail(path, f"dimension {name!r} needs `dist` (or `derived`)",
                     hint=f"dist is one of {', '.join(DISTRIBUTIONS)}")
    dist = spec["dist"]
    if dist not in DISTRIBUTIONS:
        raise r.fail((*path, "dist"), f"unknown distribution {dist!r}",
                     hint=f"allowed: {', '.join(DISTRIBUTIONS)}, or `derived: <expression>`")
    r.keys(spec, path, ("dist", "aux", *DISTRIBUTIONS[dist]), REQUIRED_DIST_KEYS[dist],
           f" for dist {dist}")
    if dist == "fixed":
        fixed = _coerce(spec["value"])
        _check_dim_value(name, fixed, aux, (*path, "value"), r)
        return Fixed(name, aux, fixed)
    if dist == "categorical":
        return _categorical(name, spec, path, aux, r)
    low_path, high_path = (*path, "low"), (*path, "high")
    if dist == "int":
        low = r.integer(spec["low"], low_path, "low")
        high = r.integer(spec["high"], high_path, "high")
        log = r.boolean(spec.get("log", False), (*path, "log"), "log")
    else:
        low, high = r.number(spec["low"], low_path, "low"), r.number(spec["high"], high_path,
                                                                     "high")
        log = dist == "log_uniform"
    if low == high:
        raise r.fail(high_path, f"empty range: low = high = {low}",
                     hint="use `dist: fixed, value: ...` for a constant, or widen the range")
    if low > high:
        raise r.fail(high_path, f"inverted range: low {low} > high {high}",
                     hint="low must be smaller than high")
    if log and low <= 0:
        raise r.fail(low_path, f"a log-scaled range needs low > 0, got {low}",
                     hint="log scaling is defined for positive values; use dist: uniform, or "
                          "sample 1 - x as an aux dimension and derive the value")
    if dist == "int":
        return Int(name, aux, int(low), int(high), log)
    cls = LogUniform if log else Uniform
    return cls(name, aux, float(low), float(high))


def _categorical(name: str, spec: dict[str, Any], path: KeyPath, aux: bool, r: _Reader,
                 ) -> Categorical:
    raw = spec["choices"]
    if isinstance(raw, dict):
        labels: tuple[str, ...] | None = tuple(raw)
        choices = tuple(_coerce(v) for v in raw.values())
    elif isinstance(raw, list):
        labels, choices = None, tuple(_coerce(v) for v in raw)
    else:
        raise r.fail((*path, "choices"), "choices must be a list or a mapping of labels",
                     hint="e.g. [relu, tanh] or {small: [64, 64], large: [256, 256]}")
    if not choices:
        raise r.fail((*path, "choices"), "no choices", hint="give at least one choice")
    for i, choice in enumerate(choices):
        key = labels[i] if labels is not None else i
        _check_dim_value(name, choice, aux, (*path, "choices", key), r)
        if any(_equal(choice, other) for other in choices[:i]):
            raise r.fail((*path, "choices", key), f"repeated choice {choice!r}",
                         hint="list each choice once (repeats would bias the design)")
    return Categorical(name, aux, choices, labels)


def _equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _check_dim_value(name: str, value: Any, aux: bool, path: KeyPath, r: _Reader) -> None:
    problem = None if aux else vocabulary.check_value(name, value)
    if problem:
        raise r.fail(path, problem, hint=_value_hint(name))


def _default_point(space: Mapping[str, Dimension], defaults: Mapping[str, Any],
                   hyper: Mapping[str, Any], path: KeyPath, r: _Reader) -> dict[str, Any]:
    """Per searched dimension: ``hyperparameters`` value, else ``default:``, else the centre."""
    point = {}
    for name, dim in space.items():
        if not dim.searched:
            continue
        if name in hyper and not dim.aux:
            point[name] = _point_value(dim, hyper[name], (*path, "hyperparameters", name), r)
        elif name in defaults:
            point[name] = _point_value(dim, defaults[name],
                                       (*path, "search_space", name, "default"), r)
        else:
            point[name] = dim.center()
    return point


def _point_value(dim: Dimension, value: Any, path: KeyPath, r: _Reader) -> Any:
    if isinstance(dim, Categorical):
        point_value = dim.point_value(_coerce(value))
        if point_value is None and dim.labels is not None and value in dim.labels:
            point_value = value
        if point_value is None:
            shown = list(dim.labels) if dim.labels is not None else list(dim.choices)
            raise r.fail(path, f"default {value!r} of {dim.name!r} is not one of its choices",
                         hint=f"choices: {shown}")
        return point_value
    if isinstance(dim, Int):
        return r.integer(value, path, f"default of {dim.name}")
    return float(r.number(value, path, f"default of {dim.name}"))


def _derived_order(algorithm: Algorithm) -> list[str]:
    """Derived dimensions in dependency order (validated acyclic at load)."""
    derived = {n: d for n, d in algorithm.search_space.items() if isinstance(d, Derived)}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in visiting:
            raise ExpressionError(f"derived dimensions depend on each other: "
                                  f"{' -> '.join((*chain, name))}")
        visiting.add(name)
        for dep in derived[name].names:
            if dep in derived:
                visit(dep, (*chain, name))
        visiting.discard(name)
        order.append(name)

    for name in derived:
        visit(name, ())
    return order


def _check_derived(algorithm: Algorithm, path: KeyPath, r: _Reader) -> None:
    """Fail at load if derived expressions are cyclic or unevaluable at the default point."""
    try:
        _derived_order(algorithm)
    except ExpressionError as exc:
        raise r.fail((*path, "search_space"), str(exc),
                     hint="derived values must form a chain without cycles") from exc
    derived = [n for n, d in algorithm.search_space.items() if isinstance(d, Derived)]
    if not derived:
        return
    for env_id in algorithm.environments:
        known = set(algorithm.base_config(env_id)) | set(algorithm.search_space)
        for name in derived:
            dim = algorithm.search_space[name]
            assert isinstance(dim, Derived)
            for dep in dim.names:
                if dep not in known:
                    close = difflib.get_close_matches(dep, sorted(known), n=1)
                    hint = f"did you mean {close[0]!r}? " if close else ""
                    raise r.fail((*path, "search_space", name, "derived"),
                                 f"unknown name {dep!r} in derived expression (on {env_id})",
                                 hint=f"{hint}names: search-space dimensions and "
                                      f"hyperparameters: {', '.join(sorted(known))}")
        algorithm.resolve(algorithm.default_point, env_id)


def _algorithm_dict(algorithm: Algorithm) -> dict[str, Any]:
    return {
        "class": algorithm.algo_class,
        "policy": algorithm.policy,
        "environments": list(algorithm.environments),
        "budget": dict(algorithm.budget),
        "zoo": algorithm.zoo,
        "zoo_defaults": {k: dict(v) for k, v in algorithm.zoo_defaults.items()},
        "zoo_policies": dict(algorithm.zoo_policies),
        "hyperparameters": dict(algorithm.hyperparameters),
        "per_env": {k: dict(v) for k, v in algorithm.per_env.items()},
        "search_space": {name: dim.to_dict() for name, dim in algorithm.search_space.items()},
        "default_point": dict(algorithm.default_point),
    }
