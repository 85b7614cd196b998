"""Import per-environment defaults from rl-baselines3-zoo hyperparameter files.

A zoo file (``hyperparams/sac.yml``) is keyed by environment id, optionally with a
``default`` entry, and uses YAML anchors/merges. Its values follow PyYAML conventions
(``!!float 1e6``; bare ``1e-3`` read as a string) and some are Python expressions in strings
(``policy_kwargs: "dict(net_arch=[64, 64], activation_fn=nn.ReLU)"``). Those are read by a
small literal parser: ``dict(...)`` calls, lists, tuples, mappings, numbers, strings and
``nn.<Activation>`` names; anything else is an error. Nothing from the file is evaluated.

``n_timesteps`` is ignored (the suite owns budgets, so a sensitivity study compares
configurations at equal budget). ``policy`` becomes the algorithm's default policy. Keys the
trainer cannot honour (``env_wrapper``, ``callback``, ``frame_stack``, ...) are errors.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from rlsens.suite.hyperparameters import (
    as_integer_if_whole,
    check_name,
    check_value,
    value_hint,
)
from rlsens.suite.loader import Source, numeric_string, read_yaml
from rlsens.suite.space import ExpressionError, parse_bounded
from rlsens.vocabulary import ACTIVATIONS, lookup

IGNORED = ("n_timesteps",)
EXPRESSION_KEYS = ("policy_kwargs", "replay_buffer_kwargs", "rollout_buffer_kwargs", "normalize")


class LiteralError(ValueError):
    """A zoo expression string that is not a plain literal."""


def parse_literal(text: str) -> Any:
    """Parse a zoo Python-literal string such as ``dict(a=1, b=[2, 3], f=nn.ReLU)``."""
    try:
        tree = parse_bounded(text)
    except ExpressionError as exc:
        raise LiteralError(str(exc)) from exc
    return _literal(tree.body)


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        if node.value is None or isinstance(node.value, (bool, int, float, str)):
            return node.value
        raise LiteralError(f"constant {node.value!r} is not supported")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LiteralError("a sign applies to numbers only")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(item) for item in node.elts]
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise LiteralError("** unpacking is not supported")
        keys = [_literal(key) for key in node.keys]  # type: ignore[arg-type]
        if not all(isinstance(key, str) for key in keys):
            raise LiteralError("mapping keys must be strings")
        return {key: _literal(value) for key, value in zip(keys, node.values, strict=True)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        if node.args or any(kw.arg is None for kw in node.keywords):
            raise LiteralError("dict(...) takes keyword arguments only")
        return {kw.arg: _literal(kw.value) for kw in node.keywords}
    if isinstance(node, ast.Attribute):
        dotted = _dotted(node)
        if dotted and dotted[-2:-1] == ["nn"] and dotted[-1] in ACTIVATIONS.values():
            return lookup(ACTIVATIONS, dotted[-1])
        raise LiteralError(
            f"{'.'.join(dotted) or 'attribute'} is not supported; only nn.<activation> "
            f"names ({', '.join(ACTIVATIONS.values())}) may be referenced")
    raise LiteralError(f"{type(node).__name__} is not supported in a zoo literal")


def _dotted(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return [*base, node.attr] if base else []
    return []


def zoo_value(key: str, value: Any) -> Any:
    """A zoo value in suite vocabulary: literals parsed, numeric strings made numbers."""
    if key in EXPRESSION_KEYS and isinstance(value, str):
        return parse_literal(value)
    number = numeric_string(value)
    if number is not None:
        return number
    if isinstance(value, list):
        return [zoo_value("", item) for item in value]
    return value


def load_zoo(path: Path, env_ids: list[str], algo_class: str,
             ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Per-environment defaults and policies for ``env_ids`` from the zoo file at ``path``.

    Returns ``(hyperparameters per env, policy per env where the zoo names one)``.
    """
    data, source = read_yaml(path)
    if not isinstance(data, dict):
        raise source.error((), "a zoo file must be a mapping of environment ids to settings",
                           hint="see rl-baselines3-zoo's hyperparams/*.yml")
    defaults: dict[str, dict[str, Any]] = {}
    policies: dict[str, str] = {}
    for env_id in env_ids:
        entry_key = env_id if env_id in data else "default" if "default" in data else None
        if entry_key is None:
            raise source.error(
                (), f"no entry for {env_id} and no `default` entry",
                hint=f"add `{env_id}:` or `default:` to the zoo file, or drop the zoo")
        defaults[env_id], policy = _entry(data[entry_key], (entry_key,), source, algo_class)
        if policy is not None:
            policies[env_id] = policy
    return defaults, policies


def _entry(entry: Any, path: tuple[str, ...], source: Source, algo_class: str,
           ) -> tuple[dict[str, Any], str | None]:
    if not isinstance(entry, dict):
        raise source.error(path, "a zoo entry must be a mapping of hyperparameters",
                           hint="e.g. `learning_rate: !!float 1e-3`")
    unsupported = [k for k in entry if k not in IGNORED and k != "policy"
                   and check_name(k, algo_class) is not None]
    if unsupported:
        raise source.error(
            (*path, unsupported[0]),
            f"zoo keys not supported for {algo_class}: {', '.join(unsupported)}",
            hint="rlsens supports SB3 constructor arguments plus n_envs, normalize, "
                 "noise_type/noise_std and policy_kwargs; remove these keys or use another entry")
    hyperparameters: dict[str, Any] = {}
    policy = None
    for key, value in entry.items():
        if key in IGNORED:
            continue
        if key == "policy":
            policy = str(value)
            continue
        try:
            hyperparameters[key] = as_integer_if_whole(key, zoo_value(key, value))
        except LiteralError as exc:
            raise source.error((*path, key), f"cannot read zoo value: {exc}",
                               hint="use dict(...), lists, numbers, strings and nn.<Activation>"
                               ) from exc
        problem = check_value(key, hyperparameters[key])
        if problem:
            raise source.error((*path, key), problem, hint=value_hint(key))
    return hyperparameters, policy

