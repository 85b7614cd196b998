"""The suite file -> a validated ``Suite``: the top-level sections and the scale overlay.

Everything that can be checked without training is checked here and in
``rlsens.suite.algorithms``, so a suite that loads is a suite whose runs can all start. Each
problem is a ``SuiteError`` with file, line, key path and a hint saying what is allowed.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from rlsens.errors import SuiteError
from rlsens.spec import EvalProtocol, Resources, stable_hash
from rlsens.suite.algorithms import parse_algorithm, trainer_choice
from rlsens.suite.design import DESIGN_TYPES, Design, sobol_n_problem
from rlsens.suite.environments import EnvProblem, compatibility, package_hint, probe
from rlsens.suite.limits import MAX_SEED, PlanLimits, raise_hint
from rlsens.suite.loader import KeyPath, deep_merge, read_yaml
from rlsens.suite.model import Algorithm, Environment, Seeds, Suite
from rlsens.suite.reader import Reader, kind
from rlsens.suite.serialize import suite_dict
from rlsens.suite.size import check_size
from rlsens.suite.space import Categorical, Fixed

TOP_KEYS = ("name", "description", "seed", "default_scale", "environments", "algorithms",
            "design", "seeds", "evaluation", "resources", "scales", "limits", "trainer")
REQUIRED_TOP = ("environments", "algorithms", "design", "seeds")
ENV_KEYS = ("budget", "env_kwargs")
DESIGN_KEYS = ("type", "n", "levels", "include_default")
EVAL_KEYS = ("every", "episodes", "final", "deterministic")
RESOURCE_KEYS = ("cpus", "gpus", "memory_mb", "timeout_s")
SEED_HINT = f"seeds are NumPy seeds: integers from 0 to {MAX_SEED} (2**32 - 1)"


@cache
def _gym_ids() -> tuple[str, ...]:
    import gymnasium

    return tuple(gymnasium.envs.registry)


def load_suite(path: str | Path, scale: str | None = None) -> Suite:
    """Load, overlay the chosen scale on, and validate the suite at ``path``.

    ``scale`` defaults to the file's ``default_scale`` (none: the base suite). Raises
    ``SuiteError`` for anything wrong in the file; nothing is trained or built.
    """
    path = Path(path)
    data, source = read_yaml(path)
    r = Reader(source)
    data = r.mapping(data, (), "a suite file")
    r.keys(data, (), TOP_KEYS, REQUIRED_TOP)
    scales = r.mapping(data.get("scales"), ("scales",), "scales", allow_none=True)
    for name, partial in scales.items():
        r.path_component(name, ("scales", name), "scale name")
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


def _build(data: dict[str, Any], r: Reader, path: Path, scale: str | None,
           scales: tuple[str, ...]) -> Suite:
    limits = _limits(data.get("limits"), r)
    name = r.path_component(data.get("name", path.stem), ("name",), "suite name")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise r.fail(("description",), "description must be text", hint="write a string")
    seed = r.integer(data.get("seed", 0), ("seed",), "seed", minimum=0, maximum=MAX_SEED)
    environments = _environments(data["environments"], r)
    design = _design(data["design"], r, limits)
    seeds = _seeds(data["seeds"], r, limits)
    evaluation = _evaluation(data.get("evaluation"), r, limits)
    resources = _resources(data.get("resources"), r)
    trainer = trainer_choice(data.get("trainer"), ("trainer",), r)
    algos = r.mapping(data["algorithms"], ("algorithms",), "algorithms")
    if not algos:
        raise r.fail(("algorithms",), "no algorithms", hint="add at least one algorithm")
    algorithms = {label: parse_algorithm(label, spec, environments, path, r)
                  for label, spec in algos.items()}
    check_size(algorithms, design, seeds, evaluation, limits, r)
    _check_environments(environments, algorithms, r)
    resolved = suite_dict(name, description, seed, scale, environments, algorithms, design,
                          seeds, evaluation, resources, trainer)
    return Suite(
        name=name, path=path, scale=scale, scales=scales, seed=seed, environments=environments,
        algorithms=algorithms, design=design, seeds=seeds, evaluation=evaluation,
        resources=resources, resolved=resolved, hash=stable_hash(resolved),
        searched={label: a.searched for label, a in algorithms.items()},
        description=description, trainer=trainer,
    )


def _environments(value: Any, r: Reader) -> dict[str, Environment]:
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
            hint = package_hint(env_id) or (f"did you mean {' or '.join(close)}?" if close else
                                            "use a Gymnasium id from gymnasium.envs.registry "
                                            "(e.g. Pendulum-v1)")
            raise r.fail(path, f"unknown Gymnasium environment {env_id!r}", hint=hint)
        spec = r.mapping(spec, path, f"environment {env_id}", allow_none=True)
        r.keys(spec, path, ENV_KEYS, what=f" in environment {env_id}")
        budget = (r.integer(spec["budget"], (*path, "budget"), "budget", minimum=1)
                  if spec.get("budget") is not None else None)
        kwargs = r.mapping(spec.get("env_kwargs"), (*path, "env_kwargs"), "env_kwargs",
                           allow_none=True)
        out[env_id] = Environment(env_id, budget, copy.deepcopy(kwargs))
    return out


def _check_environments(environments: Mapping[str, Environment],
                        algorithms: Mapping[str, Algorithm], r: Reader) -> None:
    """Build each environment once and check that every algorithm can train on it."""
    spaces = {}
    for env_id, env in environments.items():
        path: KeyPath = ("environments", env_id)
        try:
            spaces[env_id] = probe(env_id, env.env_kwargs)
        except EnvProblem as exc:
            raise r.fail((*path, "env_kwargs") if env.env_kwargs else path, exc.message,
                         hint=exc.hint) from None
    for label, algorithm in algorithms.items():
        for env_id in algorithm.environments:
            problem = compatibility(algorithm.algo_class, algorithm.policy_for(env_id),
                                    spaces[env_id])
            if problem:
                raise r.fail(("algorithms", label, "class"), f"{label} on {env_id}: {problem}",
                             hint="pair continuous-action classes (DDPG, TD3, SAC) with Box "
                                  "action spaces and DQN with Discrete ones; PPO and A2C "
                                  "take both")
            if not spaces[env_id].continuous_actions and _may_use_sde(algorithm, env_id):
                where = "search_space" if "use_sde" in algorithm.search_space else (
                    "hyperparameters")
                raise r.fail(("algorithms", label, where, "use_sde"),
                             f"{label} on {env_id}: use_sde (state-dependent exploration) "
                             f"needs continuous (Box) actions; this environment has "
                             f"{spaces[env_id].action_space}",
                             hint="set use_sde: false for discrete-action environments")


def _may_use_sde(algorithm: Algorithm, env_id: str) -> bool:
    """Whether some run of ``algorithm`` on ``env_id`` has ``use_sde: true``."""
    dim = algorithm.search_space.get("use_sde")
    if isinstance(dim, Fixed):
        return dim.value is True
    if isinstance(dim, Categorical):
        return any(choice is True for choice in dim.choices)
    return algorithm.base_config(env_id).get("use_sde") is True


def _design(value: Any, r: Reader, limits: PlanLimits) -> Design:
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
        n = r.integer(spec["n"], (*path, "n"), "design.n", minimum=1,
                      maximum=limits.max_configs,
                      hint=raise_hint("max_configs", limits.max_configs))
        problem = sobol_n_problem(n) if kind == "sobol" else None
        if problem:
            raise r.fail((*path, "n"), f"n = {n} is not a power of two",
                         hint=problem.replace("a Sobol design needs", "Sobol needs"))
    elif "n" in spec:
        raise r.fail((*path, "n"), f"a {kind} design does not take `n`",
                     hint="grid and oat designs are sized by `levels` and the search space")
    levels = r.integer(spec.get("levels", 3), (*path, "levels"), "design.levels", minimum=1,
                       maximum=limits.max_configs,
                       hint=raise_hint("max_configs", limits.max_configs))
    include = r.boolean(spec.get("include_default", False), (*path, "include_default"),
                        "include_default")
    return Design(kind, n, levels, include)


def _seed_list(value: Any, path: KeyPath, r: Reader, start: int, limits: PlanLimits,
               ) -> tuple[int, ...]:
    """Seeds as listed, or ``count`` seeds from ``start``; checked before any is generated."""
    if isinstance(value, list):
        if len(value) > limits.max_seeds:
            raise r.fail(path, f"{len(value)} seeds exceed the limit of {limits.max_seeds}",
                         hint=raise_hint("max_seeds", limits.max_seeds))
        seeds = tuple(r.integer(v, (*path, i), "seed", minimum=0, maximum=MAX_SEED,
                                hint=SEED_HINT) for i, v in enumerate(value))
        if not seeds:
            raise r.fail(path, "empty seed list", hint="give at least one seed")
        if len(set(seeds)) != len(seeds):
            raise r.fail(path, "repeated seed in list", hint="each seed may appear once")
        return seeds
    count = r.integer(value, path, "number of seeds", minimum=1, maximum=limits.max_seeds,
                      hint=raise_hint("max_seeds", limits.max_seeds))
    if count > limits.max_runs:  # a raised max_seeds must not build a billion seeds first
        raise r.fail(path, f"{count} seeds alone plan more than the limit of "
                           f"{limits.max_runs} runs", hint=raise_hint("max_runs", limits.max_runs))
    if start + count - 1 > MAX_SEED:
        raise r.fail(path, f"seeds {start}..{start + count - 1} go beyond {MAX_SEED}",
                     hint=SEED_HINT)
    return tuple(range(start, start + count))


def _seeds(value: Any, r: Reader, limits: PlanLimits) -> Seeds:
    path: KeyPath = ("seeds",)
    if not isinstance(value, dict):
        if isinstance(value, bool) or not isinstance(value, (int, float, str, list)):
            raise r.fail(path, f"seeds must be a count, a list or tune/report, got {kind(value)}",
                         hint="e.g. `seeds: 5` or `seeds: {tune: 3, report: 5}`")
        return Seeds(all=_seed_list(value, path, r, 0, limits))
    r.keys(value, path, ("tune", "report"), ("tune", "report"), " in seeds")
    tune = _seed_list(value["tune"], (*path, "tune"), r, 0, limits)
    report = _seed_list(value["report"], (*path, "report"), r, max(tune) + 1, limits)
    overlap = sorted(set(tune) & set(report))
    if overlap:
        raise r.fail((*path, "report"), f"seeds {overlap} are both tune and report seeds",
                     hint="report seeds must be fresh, or selection bias enters the results")
    return Seeds(tune=tune, report=report)


def _evaluation(value: Any, r: Reader, limits: PlanLimits) -> EvalProtocol:
    path: KeyPath = ("evaluation",)
    spec = r.mapping(value, path, "evaluation", allow_none=True)
    r.keys(spec, path, EVAL_KEYS, what=" in evaluation")
    default = EvalProtocol()
    return EvalProtocol(
        every=r.integer(spec.get("every", default.every), (*path, "every"), "every", minimum=1),
        episodes=r.integer(spec.get("episodes", default.episodes), (*path, "episodes"),
                           "episodes", minimum=1, maximum=limits.max_episodes,
                           hint=raise_hint("max_episodes", limits.max_episodes)),
        final=r.integer(spec.get("final", default.final), (*path, "final"), "final", minimum=1,
                        maximum=limits.max_episodes,
                        hint=raise_hint("max_episodes", limits.max_episodes)),
        deterministic=r.boolean(spec.get("deterministic", default.deterministic),
                                (*path, "deterministic"), "deterministic"),
    )


def _resources(value: Any, r: Reader) -> Resources:
    path: KeyPath = ("resources",)
    spec = r.mapping(value, path, "resources", allow_none=True)
    r.keys(spec, path, RESOURCE_KEYS, what=" in resources")
    default = Resources()

    def positive(key: str, fallback: Any, zero_ok: bool = False, null_ok: bool = True) -> Any:
        raw = spec.get(key, fallback)
        if raw is None and null_ok:
            return None
        number = r.number(raw, (*path, key), key)
        if number < 0 or (number == 0 and not zero_ok):
            raise r.fail((*path, key), f"{key} must be {'>= 0' if zero_ok else '> 0'}",
                         hint="resources are per run")
        return number

    memory = positive("memory_mb", default.memory_mb)
    return Resources(
        cpus=float(positive("cpus", default.cpus, null_ok=False)),
        gpus=float(positive("gpus", default.gpus, zero_ok=True, null_ok=False)),
        memory_mb=None if memory is None else r.integer(memory, (*path, "memory_mb"),
                                                        "memory_mb", minimum=1),
        timeout_s=positive("timeout_s", default.timeout_s),
    )



def _limits(value: Any, r: Reader) -> PlanLimits:
    path: KeyPath = ("limits",)
    spec = r.mapping(value, path, "limits", allow_none=True)
    r.keys(spec, path, PlanLimits.keys(), what=" in limits")
    return PlanLimits(**{key: r.integer(raw, (*path, key), key, minimum=1)
                         for key, raw in spec.items()})
