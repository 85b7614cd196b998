"""Search-space dimensions and the safe arithmetic of derived hyperparameters.

Every searched dimension maps a coordinate ``u`` of the unit cube [0, 1) to a value (an
inverse CDF), so one sampler (random, Sobol) serves every distribution and a design is just a
set of unit-cube points. Float values are rounded to 6 significant digits: configurations stay
readable in tables, and hashes do not depend on the last bits of a platform's ``exp``/``log``.

A point holds, per searched dimension, its *point value*: the value itself, or the label of a
labelled categorical choice (``small`` rather than ``[64, 64]``), which is what tables show and
``config_id`` hashes. ``value_of`` turns a point value back into the hyperparameter value.
"""

from __future__ import annotations

import ast
import math
import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlsens.suite.limits import (
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_NODES,
    MAX_MAGNITUDE,
)

FLOAT_DIGITS = 6
DERIVED_DIGITS = 12


def round_sig(value: float, digits: int = FLOAT_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant digits (0 stays 0)."""
    return float(f"{value:.{digits}g}")


class ExpressionError(ValueError):
    """A derived expression that is not allowed or cannot be evaluated; the caller locates it."""


@dataclass(frozen=True)
class Dimension(ABC):
    """One entry of an algorithm's ``search_space``.

    ``aux`` dimensions are sampled (and appear in the point, so the analysis can treat them
    as the real axes, e.g. ``one_minus_gamma``) but are not passed to the algorithm.
    """

    name: str
    aux: bool = False

    @property
    def searched(self) -> bool:
        """Whether the design varies this dimension (fixed and derived ones it does not)."""
        return True

    @abstractmethod
    def from_unit(self, u: float) -> Any:
        """The value at unit-cube coordinate ``u`` in [0, 1) (inverse CDF of the design)."""

    @abstractmethod
    def grid(self, levels: int) -> list[Any]:
        """The values a grid or one-at-a-time design visits."""

    def center(self) -> Any:
        """The default when neither ``hyperparameters`` nor ``default:`` give one."""
        return self.from_unit(0.5)

    def value_of(self, point_value: Any) -> Any:
        return point_value

    @property
    def log_scaled(self) -> bool:
        """Whether the design samples this dimension uniformly in log space."""
        return False

    def to_dict(self) -> dict[str, Any]:
        """The dimension as the suite file writes it (the manifest and the suite hash use it)."""
        return {**self._fields(), "aux": self.aux}

    @abstractmethod
    def _fields(self) -> dict[str, Any]:
        """The suite-file keys of this distribution, ``dist`` first."""


@dataclass(frozen=True)
class Fixed(Dimension):
    value: Any = None

    @property
    def searched(self) -> bool:
        return False

    def from_unit(self, u: float) -> Any:
        return self.value

    def grid(self, levels: int) -> list[Any]:
        return [self.value]

    def center(self) -> Any:
        return self.value

    def _fields(self) -> dict[str, Any]:
        return {"dist": "fixed", "value": self.value}


@dataclass(frozen=True)
class Uniform(Dimension):
    low: float = 0.0
    high: float = 1.0

    def _clip(self, value: float) -> float:
        return min(max(round_sig(value), self.low), self.high)

    def from_unit(self, u: float) -> float:
        return self._clip(self.low + u * (self.high - self.low))

    def grid(self, levels: int) -> list[float]:
        if levels == 1:
            return [self.center()]
        return _unique([self._clip(v) for v in np.linspace(self.low, self.high, levels)])

    def _fields(self) -> dict[str, Any]:
        return {"dist": "uniform", "low": self.low, "high": self.high}


@dataclass(frozen=True)
class LogUniform(Uniform):
    """Uniform in log space: every decade of the range is equally likely."""

    def from_unit(self, u: float) -> float:
        lo, hi = math.log(self.low), math.log(self.high)
        return self._clip(math.exp(lo + u * (hi - lo)))

    def grid(self, levels: int) -> list[float]:
        if levels == 1:
            return [self.center()]
        return _unique([self._clip(v) for v in np.geomspace(self.low, self.high, levels)])

    @property
    def log_scaled(self) -> bool:
        return True

    def _fields(self) -> dict[str, Any]:
        return {"dist": "log_uniform", "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Int(Dimension):
    """Integers ``low..high`` inclusive, uniform or (``log``) uniform in log space.

    The log variant draws ``exp(U(log low, log(high + 1)))`` and floors it, so each integer
    ``k`` gets probability proportional to ``log((k + 1) / k)``: small values are as likely per
    octave as large ones (batch sizes 32-64 as often as 256-512).
    """

    low: int = 0
    high: int = 1
    log: bool = False

    def from_unit(self, u: float) -> int:
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high + 1)
            value = math.floor(math.exp(lo + u * (hi - lo)))
        else:
            value = math.floor(self.low + u * (self.high - self.low + 1))
        return int(min(max(value, self.low), self.high))

    def grid(self, levels: int) -> list[int]:
        if levels == 1:
            return [self.center()]
        space = np.geomspace if self.log else np.linspace
        points = [round(float(v)) for v in space(self.low, self.high, levels)]
        return _unique([min(max(p, self.low), self.high) for p in points])

    def center(self) -> int:
        if self.log:
            return round(math.sqrt(self.low * self.high))
        return round((self.low + self.high) / 2)

    @property
    def log_scaled(self) -> bool:
        return self.log

    def _fields(self) -> dict[str, Any]:
        return {"dist": "int", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Categorical(Dimension):
    """A finite set of choices; ``labels`` is set when choices were written as a mapping.

    The default centre is the first choice: categorical choices have no natural middle, and
    listing the usual choice first is the convention in suites.
    """

    choices: tuple[Any, ...] = ()
    labels: tuple[str, ...] | None = None

    def _point_values(self) -> list[Any]:
        return list(self.labels) if self.labels is not None else list(self.choices)

    def from_unit(self, u: float) -> Any:
        k = len(self.choices)
        return self._point_values()[min(math.floor(u * k), k - 1)]

    def grid(self, levels: int) -> list[Any]:
        return self._point_values()

    def center(self) -> Any:
        return self._point_values()[0]

    def value_of(self, point_value: Any) -> Any:
        if self.labels is None:
            return point_value
        return self.choices[self.labels.index(point_value)]

    def _fields(self) -> dict[str, Any]:
        choices = (dict(zip(self.labels, self.choices, strict=True)) if self.labels is not None
                   else list(self.choices))
        return {"dist": "categorical", "choices": choices}

    def point_value(self, value: Any) -> Any:
        """The point value of a hyperparameter value, or ``None`` when it is no choice."""
        for index, choice in enumerate(self.choices):
            if _same(choice, value):
                return self.labels[index] if self.labels is not None else choice
        return None


@dataclass(frozen=True)
class Derived(Dimension):
    """A value computed from other dimensions and hyperparameters (``gamma = 1 - x``).

    Results are rounded to 12 significant digits: enough to keep ``1 - 1.23457e-05`` exact,
    while removing binary noise such as ``0.30000000000000004``.
    """

    expression: str = ""

    @property
    def searched(self) -> bool:
        return False

    @property
    def names(self) -> tuple[str, ...]:
        return expression_names(self.expression)

    def evaluate(self, values: Mapping[str, Any]) -> int | float:
        result = evaluate_expression(self.expression, values)
        if isinstance(result, float):
            return round_sig(result, DERIVED_DIGITS)
        return result

    def from_unit(self, u: float) -> Any:
        raise TypeError("derived dimensions are computed, not sampled")

    def grid(self, levels: int) -> list[Any]:
        raise TypeError("derived dimensions are computed, not sampled")

    def center(self) -> Any:
        raise TypeError("derived dimensions are computed, not sampled")

    def _fields(self) -> dict[str, Any]:
        return {"derived": self.expression}


DISTRIBUTIONS: dict[str, type[Dimension]] = {
    "fixed": Fixed, "uniform": Uniform, "log_uniform": LogUniform, "int": Int,
    "categorical": Categorical,
}


def distribution_from_dict(name: str, data: Mapping[str, Any]) -> Dimension:
    """The dimension ``name`` from its ``to_dict`` form (a manifest, a stored suite).

    Keys a stored form lacks take the class defaults, so manifests written by older versions
    still load; an unknown ``dist`` or a value of the wrong shape raises ``ValueError``.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"dimension {name!r} is {type(data).__name__}, not a mapping")
    aux = bool(data.get("aux", False))
    if "derived" in data:
        return Derived(name, aux=aux, expression=str(data["derived"]))
    kind = DISTRIBUTIONS.get(str(data.get("dist")))
    if kind is None:
        raise ValueError(f"dimension {name!r} has unknown dist {data.get('dist')!r}; "
                         f"known: {', '.join(DISTRIBUTIONS)}")
    fields = {k: v for k, v in data.items() if k not in ("dist", "aux")}
    if kind is Categorical:
        choices = fields.get("choices", ())
        if isinstance(choices, Mapping):
            return Categorical(name, aux=aux, choices=tuple(choices.values()),
                               labels=tuple(str(k) for k in choices))
        if not isinstance(choices, list | tuple):
            raise ValueError(f"dimension {name!r}: choices must be a list or a mapping")
        return Categorical(name, aux=aux, choices=tuple(choices))
    try:
        return kind(name, aux=aux, **fields)
    except TypeError as exc:
        raise ValueError(f"dimension {name!r}: {exc}") from exc


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _unique(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if not any(_same(value, seen) for seen in out):
            out.append(value)
    return out


# --- safe arithmetic -------------------------------------------------------------------------

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
}
def _round(value: Any, digits: Any = None) -> Any:
    """``round`` with at most 20 digits: ``round(5, -10**9)`` would compute ``10**(10**9)``."""
    if digits is not None and (not isinstance(digits, int) or abs(digits) > 20):
        raise ValueError("round() takes an integer number of digits between -20 and 20")
    return round(value, digits)


_FUNCTIONS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "round": _round,
                                             "int": int}
ALLOWED_SYNTAX = ("numbers, names of other dimensions or hyperparameters, + - * / ** //, "
                  "unary -, parentheses, min(), max(), round(), int()")


def parse_bounded(expression: str) -> ast.Expression:
    """``expression`` parsed in ``eval`` mode within the expression limits (length, parts,
    nesting): Python's parser answers 100 000 unary minuses with a MemoryError, and walking
    a deep tree recursively hits the recursion limit. Also used for zoo literals."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse {expression!r}: {exc.msg}") from exc
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError(f"cannot parse the expression ({type(exc).__name__})") from exc
    _check_size(tree)
    return tree


def _parse(expression: str) -> ast.Expression:
    tree = parse_bounded(expression)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
                raise ExpressionError("only min, max, round and int may be called")
            if node.keywords:
                raise ExpressionError("function calls take positional arguments only")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ExpressionError(f"constant {node.value!r} is not a number")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
        elif not isinstance(node, (ast.Expression, ast.Name, ast.Load, *_OPERATOR_NODES)):
            raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")
    return tree


_OPERATOR_NODES = (*_BINARY, ast.USub, ast.UAdd)


def _check_size(tree: ast.AST) -> None:
    """Bound node count and nesting (iteratively: deep trees must not recurse here)."""
    count = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_EXPRESSION_NODES:
            raise ExpressionError(f"expression has more than {MAX_EXPRESSION_NODES} parts")
        if depth > MAX_EXPRESSION_DEPTH:
            raise ExpressionError(f"expression is nested more than {MAX_EXPRESSION_DEPTH} deep")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _bounded(value: int | float) -> int | float:
    """``value`` if within ``MAX_MAGNITUDE`` (no hyperparameter comes near it)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError("result is not finite")
    if abs(value) > MAX_MAGNITUDE:
        raise ExpressionError(f"value {value:.3g} exceeds the limit of "
                              f"{MAX_MAGNITUDE:.0e} on computed values")
    return value


def _power_too_large(base: int | float, exponent: int | float) -> bool:
    """Whether ``base ** exponent`` would exceed the magnitude limit (checked before computing
    it: an integer power with a large exponent takes unbounded time and memory)."""
    if abs(base) <= 1 or exponent <= 0:
        return False
    return exponent * math.log10(abs(base)) > math.log10(MAX_MAGNITUDE)


def expression_names(expression: str) -> tuple[str, ...]:
    """The variable names an expression reads, in order of first use (validates syntax)."""
    tree = _parse(expression)
    names: list[str] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Name) and node.id not in _FUNCTIONS
                and node.id not in names):
            names.append(node.id)
    return tuple(names)


def evaluate_expression(expression: str, values: Mapping[str, Any]) -> int | float:
    """Evaluate a whitelisted arithmetic expression over ``values``; never calls ``eval``."""
    return _eval(_parse(expression).body, values)


def _number(value: Any, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExpressionError(f"{what} is {value!r}, not a number")
    return value


def _eval(node: ast.AST, values: Mapping[str, Any]) -> int | float:
    if isinstance(node, ast.Constant):
        return _bounded(_number(node.value, "constant"))
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise ExpressionError(f"unknown name {node.id!r}")
        return _bounded(_number(values[node.id], repr(node.id)))
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, values)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, values), _eval(node.right, values)
        if isinstance(node.op, ast.Pow) and _power_too_large(left, right):
            raise ExpressionError(f"{left:.3g} ** {right:.3g} exceeds the limit of "
                                  f"{MAX_MAGNITUDE:.0e} on computed values")
        try:
            result = _BINARY[type(node.op)](left, right)
        except ZeroDivisionError as exc:
            raise ExpressionError("division by zero") from exc
        except OverflowError as exc:
            raise ExpressionError("numeric overflow") from exc
        if isinstance(result, complex):
            raise ExpressionError("result is a complex number")
        return _bounded(result)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [_eval(arg, values) for arg in node.args]
        try:
            return _bounded(_FUNCTIONS[node.func.id](*args))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ExpressionError(f"{node.func.id}(): {exc}") from exc
    raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")
