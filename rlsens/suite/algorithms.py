"""One ``algorithms:`` entry -> an ``Algorithm``: class, policy, zoo defaults, hyperparameters,
budgets and the search space, each checked against what the trainer and SB3 accept.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlsens.spec import TRAINER_CHOICES
from rlsens.suite import hyperparameters
from rlsens.suite.loader import KeyPath, Source
from rlsens.suite.model import Algorithm, Environment, derived_order
from rlsens.suite.reader import Reader, coerce
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
from rlsens.vocabulary import ALGORITHM_CLASSES

ZOO_DIRS_VARIABLE = "RLSENS_ZOO_DIRS"
ALGO_KEYS = ("class", "policy", "environments", "zoo", "hyperparameters", "per_env", "budget",
             "search_space", "trainer")
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



def parse_algorithm(label: str, value: Any, environments: Mapping[str, Environment],
                    suite_path: Path, r: Reader) -> Algorithm:
    path: KeyPath = ("algorithms", label)
    spec = r.mapping(value, path, f"algorithm {label}")
    r.keys(spec, path, ALGO_KEYS, ("class",), f" in algorithm {label}")
    r.path_component(label, path, "algorithm label")
    algo_class = _algo_class(spec["class"], (*path, "class"), r)

    env_ids = list(environments)
    if spec.get("environments") is not None:
        listed = spec["environments"]
        if not isinstance(listed, list) or not listed:
            raise r.fail((*path, "environments"), "environments must be a non-empty list",
                         hint=f"suite environments: {', '.join(environments)}")
        for i, env_id in enumerate(listed):
            if not isinstance(env_id, str) or env_id not in environments:
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
        zoo_path = zoo_location(zoo_file, suite_path, (*path, "zoo"), r)
        zoo_defaults, zoo_policies = load_zoo(zoo_path, env_ids, algo_class)
        if policy is None:
            zoo_reader = Reader(Source(str(zoo_path)))
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
    trainer = trainer_choice(spec.get("trainer"), (*path, "trainer"), r)
    algorithm = Algorithm(
        label=label, algo_class=algo_class, environments=tuple(env_ids), budget=budget,
        hyperparameters=hyper, per_env=per_env, zoo=zoo_file, zoo_defaults=zoo_defaults,
        policy=policy, zoo_policies=zoo_policies, search_space=space,
        default_point=default_point, trainer=trainer, source=r.source,
    )
    _check_derived(algorithm, path, r)
    return algorithm


def trainer_choice(value: Any, path: KeyPath, r: Reader) -> str | None:
    """A ``trainer:`` key (top level or per algorithm); ``None`` where the suite leaves it out."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in TRAINER_CHOICES:
        raise r.fail(path, f"unknown trainer {value!r}",
                     hint=f"trainer is one of {', '.join(TRAINER_CHOICES)} (default sb3)")
    return value


def zoo_location(zoo_file: str, suite_path: Path, path: KeyPath, r: Reader) -> Path:
    """The zoo file, which must lie in the suite's folder (symlinks followed) or a folder of
    ``RLSENS_ZOO_DIRS``: a suite must not make rlsens read, and quote in its errors, files
    such as /etc/passwd or /proc/self/environ."""
    zoo_path = suite_path.parent / zoo_file
    allowed = [suite_path.parent.resolve()]
    allowed += [Path(p).resolve() for p in os.environ.get(ZOO_DIRS_VARIABLE, "").split(
        os.pathsep) if p]
    try:
        resolved = zoo_path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        resolved = None
    # Containment first: "not found" for a path outside would tell whether it exists.
    if resolved is not None and not any(resolved.is_relative_to(folder) for folder in allowed):
        raise r.fail(path, f"zoo file {zoo_file!r} lies outside the suite's folder",
                     hint="copy the zoo file next to the suite, or list its folder in the "
                          f"{ZOO_DIRS_VARIABLE} environment variable (separated by "
                          f"{os.pathsep!r})")
    if resolved is None or not resolved.is_file():
        raise r.fail(path, f"zoo file {zoo_file!r} not found ({zoo_path})",
                     hint="zoo paths are relative to the suite file")
    return resolved


def _algo_class(value: Any, path: KeyPath, r: Reader) -> str:
    allowed = ALGORITHM_CLASSES
    if isinstance(value, str) and value.upper() in allowed:
        return value.upper()
    raise r.fail(path, f"unknown algorithm class {value!r}", hint=f"allowed: {', '.join(allowed)}")


def _policy(value: Any, path: KeyPath, algo_class: str, r: Reader) -> str:
    allowed = hyperparameters.policies(algo_class)
    if value not in allowed:
        raise r.fail(path, f"unknown policy {value!r} for {algo_class}",
                     hint=f"allowed: {', '.join(allowed)}")
    return value


def _hyperparameters(value: Any, path: KeyPath, algo_class: str, r: Reader) -> dict[str, Any]:
    spec = r.mapping(value, path, "hyperparameters", allow_none=True)
    out = {}
    for name, raw in spec.items():
        _check_name(name, (*path, name), algo_class, r)
        value = hyperparameters.as_integer_if_whole(name, coerce(raw))
        problem = hyperparameters.check_value(name, value)
        if problem:
            raise r.fail((*path, name), problem, hint=hyperparameters.value_hint(name))
        out[name] = value
    return out


def _check_name(name: str, path: KeyPath, algo_class: str, r: Reader) -> None:
    problem = hyperparameters.check_name(name, algo_class)
    if problem:
        raise r.fail(path, problem[0], hint=problem[1])


def _budget(value: Any, path: KeyPath, env_ids: list[str],
            environments: Mapping[str, Environment], label: str, r: Reader) -> dict[str, int]:
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


def _search_space(value: Any, path: KeyPath, algo_class: str, r: Reader,
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


def _dimension(name: str, value: Any, path: KeyPath, algo_class: str, r: Reader) -> Dimension:
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
    if not isinstance(dist, str) or dist not in DISTRIBUTIONS:
        raise r.fail((*path, "dist"), f"unknown distribution {dist!r}",
                     hint=f"allowed: {', '.join(DISTRIBUTIONS)}, or `derived: <expression>`")
    r.keys(spec, path, ("dist", "aux", *DISTRIBUTIONS[dist]), REQUIRED_DIST_KEYS[dist],
           f" for dist {dist}")
    if dist == "fixed":
        fixed = hyperparameters.as_integer_if_whole(name, coerce(spec["value"]))
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
    if not aux:
        if dist != "int" and hyperparameters.is_integer_valued(name):
            raise r.fail((*path, "dist"), f"{name} takes integers, and dist {dist} samples "
                         "real numbers", hint="use dist: int (log: true for a log scale)")
        _check_dim_value(name, low, aux, low_path, r)
        _check_dim_value(name, high, aux, high_path, r)
    if dist == "int":
        return Int(name, aux, int(low), int(high), log)
    cls = LogUniform if log else Uniform
    return cls(name, aux, float(low), float(high))


def _categorical(name: str, spec: dict[str, Any], path: KeyPath, aux: bool, r: Reader,
                 ) -> Categorical:
    raw = spec["choices"]
    if isinstance(raw, dict):
        labels: tuple[str, ...] | None = tuple(raw)
        choices = tuple(hyperparameters.as_integer_if_whole(name, coerce(v))
                        for v in raw.values())
    elif isinstance(raw, list):
        labels = None
        choices = tuple(hyperparameters.as_integer_if_whole(name, coerce(v)) for v in raw)
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


def _check_dim_value(name: str, value: Any, aux: bool, path: KeyPath, r: Reader) -> None:
    problem = None if aux else hyperparameters.check_value(name, value)
    if problem:
        raise r.fail(path, problem, hint=hyperparameters.value_hint(name))


def _default_point(space: Mapping[str, Dimension], defaults: Mapping[str, Any],
                   hyper: Mapping[str, Any], path: KeyPath, r: Reader) -> dict[str, Any]:
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


def _point_value(dim: Dimension, value: Any, path: KeyPath, r: Reader) -> Any:
    if isinstance(dim, Categorical):
        point_value = dim.point_value(coerce(value))
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



def _check_derived(algorithm: Algorithm, path: KeyPath, r: Reader) -> None:
    """Fail at load if derived expressions are cyclic or unevaluable at the default point, or
    if the default configuration holds values SB3 refuses together (the planner checks every
    other point)."""
    try:
        derived_order(algorithm)
    except ExpressionError as exc:
        raise r.fail((*path, "search_space"), str(exc),
                     hint="derived values must form a chain without cycles") from exc
    derived = [n for n, d in algorithm.search_space.items() if isinstance(d, Derived)]
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

