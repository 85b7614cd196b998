"""Typed reading of parsed YAML values, with errors located at file, line and key.

A ``Reader`` wraps the ``Source`` of one file; each accessor returns the value in the type the
suite needs or raises a ``SuiteError`` saying what was found, where and what to write instead.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from typing import Any

from rlsens.errors import SuiteError
from rlsens.suite.loader import KeyPath, Source, numeric_string


class Reader:
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
            raise self.fail(path, f"{what} must be a mapping, got {kind(value)}",
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
                maximum: int | None = None, hint: str | None = None) -> int:
        number = self.number(value, path, what)
        if isinstance(number, float):
            if not number.is_integer():
                raise self.fail(path, f"{what} must be an integer, got {value!r}",
                                hint="write a whole number such as 1000 or 1e4")
            number = int(number)
        if minimum is not None and number < minimum:
            raise self.fail(path, f"{what} must be at least {minimum}, got {number}",
                            hint=f"use an integer >= {minimum}")
        if maximum is not None and number > maximum:
            raise self.fail(path, f"{what} must be at most {maximum}, got {number}",
                            hint=hint or f"use an integer <= {maximum}")
        return number

    def boolean(self, value: Any, path: KeyPath, what: str = "value") -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"{what} must be true or false, got {value!r}",
                            hint="write true or false")
        return value

    def string(self, value: Any, path: KeyPath, what: str = "value") -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"{what} must be a non-empty string, got {kind(value)}",
                            hint="write a plain text value")
        return value


    def path_component(self, value: Any, path: KeyPath, what: str) -> str:
        """A name that becomes part of a file path (suite name, labels, scales): checked, so a
        suite cannot make rlsens write outside its results folder."""
        text = value if isinstance(value, str) else None
        if text is None or not SAFE_NAME.fullmatch(text) or ".." in text:
            raise self.fail(path, f"{what} {kind(value)} cannot be used as a file name",
                            hint="use 1-100 ASCII letters, digits, '_', '-' and '.', starting "
                                 "with a letter or digit, without '..' (it names files)")
        return text


# Names used as path components: no separators, no leading dot, no "..", no spaces.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def coerce(value: Any) -> Any:
    """Numeric strings -> numbers, recursively (``"1e-3"`` works wherever 1e-3 does)."""
    if isinstance(value, dict):
        return {k: coerce(v) for k, v in value.items()}
    if isinstance(value, list):
        return [coerce(v) for v in value]
    number = numeric_string(value)
    return value if number is None else number

