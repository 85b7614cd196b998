"""YAML -> plain Python data plus a map of where every key came from.

Suites are parsed with ruamel.yaml because it reports line numbers for every key and refuses
duplicate keys; PyYAML silently keeps the last duplicate, which hides typos in long suites.
The rest of the suite stage works on plain ``dict``/``list``/scalars (easy to merge, compare
and hash) and asks a ``Source`` where a key path lives when it has to report an error.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from rlsens.errors import SuiteError

KeyPath = tuple[str | int, ...]

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def key_text(path: Iterable[str | int]) -> str:
    """``("algorithms", "sac", "environments", 1)`` -> ``algorithms.sac.environments[1]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


@dataclass
class Source:
    """Where the keys of one parsed YAML file (possibly overlaid by a scale) were written.

    ``lines`` maps a key path of the *effective* data to ``(line, written_path)``: the 1-based
    line and the path as written in the file. They differ when a scale overrides a value: the
    effective ``design.n`` was written at ``scales.quick.design.n``, and errors point there.
    """

    file: str
    lines: dict[KeyPath, tuple[int, KeyPath]] = field(default_factory=dict)

    def locate(self, path: KeyPath) -> tuple[int | None, KeyPath]:
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                line, written = self.lines[probe]
                return line, written + tuple(path[len(probe) :])
            probe = probe[:-1]
        return self.lines.get((), (None, ()))[0], tuple(path)

    def error(self, path: KeyPath, message: str, hint: str | None = None) -> SuiteError:
        line, written = self.locate(path)
        return SuiteError(message, file=self.file, line=line, key=key_text(written) or None,
                          hint=hint)


def _plain(node: Any, path: KeyPath, source: Source) -> Any:
    """Convert ruamel's round-trip nodes to plain Python, recording key lines on the way."""
    if isinstance(node, Mapping):
        result: dict[str, Any] = {}
        for key, value in node.items():
            child = (*path, str(key))
            try:
                line = node.lc.key(key)[0] + 1
            except (AttributeError, KeyError, TypeError):
                # keys brought in by a YAML merge (<<: *anchor) have no position of their own
                line = source.locate(path)[0]
            if line is not None:
                source.lines[child] = (line, child)
            result[str(key)] = _plain(value, child, source)
        return result
    if isinstance(node, list):
        items = []
        for index, value in enumerate(node):
            child = (*path, index)
            with contextlib.suppress(AttributeError, KeyError, TypeError, IndexError):
                source.lines[child] = (node.lc.item(index)[0] + 1, child)
            items.append(_plain(value, child, source))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    raise SuiteError(f"unsupported YAML value of type {type(node).__name__}", file=source.file,
                     line=source.locate(path)[0], key=key_text(path) or None,
                     hint="use plain scalars, lists and mappings")


def parse_yaml(text: str, file: str) -> tuple[Any, Source]:
    """Parse YAML text; syntax errors and duplicate keys become ``SuiteError`` with lines."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    source = Source(file=file)
    try:
        node = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or "invalid YAML"
        if "duplicate key" in problem:
            first = exc.context_mark.line + 1 if exc.context_mark is not None else None
            name = re.search(r'duplicate key "([^"]*)"', problem)
            key = _duplicate_path(text, file, name.group(1) if name else None, first)
            return _raise(SuiteError(
                f"duplicate key {key!r} (first at line {first}, again at line {line})",
                file=file, line=line, key=key,
                hint="each key may appear once per mapping; remove or merge one of them"))
        context = f" {exc.context}" if exc.context else ""
        return _raise(SuiteError(f"YAML syntax error: {problem}{context}", file=file, line=line,
                                 hint="check indentation, colons and brackets near this line"))
    except YAMLError as exc:
        return _raise(SuiteError(f"YAML error: {exc}", file=file,
                                 hint="the file must be valid YAML"))
    source.lines[()] = (1, ())
    return _plain(node, (), source), source


def _raise(error: SuiteError) -> Any:
    raise error


def _duplicate_path(text: str, file: str, key: str | None, line: int | None) -> str | None:
    """The full key path of a duplicated key, found by re-reading with duplicates allowed."""
    if key is None:
        return None
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True
    source = Source(file=file)
    try:
        _plain(yaml.load(text), (), source)
    except (YAMLError, SuiteError):
        return key
    for path, (at, _) in source.lines.items():
        if at == line and path and path[-1] == key:
            return key_text(path)
    return key


def read_yaml(path: Path) -> tuple[Any, Source]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"cannot read file: {exc.strerror or exc}", file=str(path),
                         hint="check the path") from exc
    return parse_yaml(text, str(path))


def numeric_string(value: Any) -> int | float | None:
    """The number a string spells (``"1e-3"``, ``"50000"``), else None.

    PyYAML (YAML 1.1) reads ``1e-3`` as a string; files written for it, rl-baselines3-zoo's
    among them, depend on tags or on the consumer converting. rlsens converts everywhere a
    number is expected, so both spellings work.
    """
    if not isinstance(value, str) or not _NUMBER.fullmatch(value.strip()):
        return None
    text = value.strip()
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    return float(text)


def deep_merge(base: Any, overlay: Any, source: Source | None = None, at: KeyPath = (),
               written: KeyPath = ()) -> Any:
    """Mappings merge key by key (recursively); anything else in ``overlay`` replaces.

    With a ``source``, key lines follow the merge: a replaced subtree forgets the base's lines
    and takes the overlay's (written under ``written``), so errors point at the scale.
    """
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            if key in base and isinstance(base[key], dict) and isinstance(value, dict):
                if source is not None and (*written, key) in source.lines:
                    source.lines[(*at, key)] = source.lines[(*written, key)]
                merged[key] = deep_merge(base[key], value, source, (*at, key), (*written, key))
            else:
                if source is not None:
                    _replace_lines(source, (*at, key), (*written, key))
                merged[key] = value
        return merged
    return overlay


def _replace_lines(source: Source, at: KeyPath, written: KeyPath) -> None:
    for path in [p for p in source.lines if p[: len(at)] == at]:
        del source.lines[path]
    for path, located in list(source.lines.items()):
        if path[: len(written)] == written:
            source.lines[at + path[len(written) :]] = located
