"""YAML -> plain Python data plus a map of where every key came from.

Suites are parsed with ruamel.yaml because it reports line numbers for every key and refuses
duplicate keys; PyYAML silently keeps the last duplicate, which hides typos in long suites.
The rest of the suite stage works on plain ``dict``/``list``/scalars (easy to merge, compare
and hash) and asks a ``Source`` where a key path lives when it has to report an error.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from rlsens.errors import SuiteError
from rlsens.suite.limits import (
    FIXED_HINT,
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_MAGNITUDE,
    MAX_VALUES,
)

KeyPath = tuple[str | int, ...]

MAX_MESSAGE_CHARS = 500
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
        """A located error; messages that quote a huge value are shortened to stay readable."""
        line, written = self.locate(path)
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + " ... (shortened)"
        key = key_text(written) or None
        if key is not None and len(key) > MAX_MESSAGE_CHARS:
            key = key[:MAX_MESSAGE_CHARS] + " ..."
        return SuiteError(message, file=self.file, line=line, key=key, hint=hint)


class _Budget:
    """Values left to convert: aliases copy subtrees, and the copies count (``MAX_VALUES``)."""

    def __init__(self, source: Source) -> None:
        self.left = MAX_VALUES
        self.source = source

    def spend(self, path: KeyPath) -> None:
        self.left -= 1
        if self.left < 0:
            raise self.source.error(
                path, f"the file expands to more than {MAX_VALUES} values (YAML aliases "
                "copying large subtrees?)", hint=FIXED_HINT)


def _plain(node: Any, path: KeyPath, source: Source, budget: _Budget | None = None) -> Any:
    """Convert ruamel's round-trip nodes to plain Python, recording key lines on the way."""
    budget = budget or _Budget(source)
    budget.spend(path)
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
            result[str(key)] = _plain(value, child, source, budget)
        return result
    if isinstance(node, list):
        items = []
        for index, value in enumerate(node):
            child = (*path, index)
            with contextlib.suppress(AttributeError, KeyError, TypeError, IndexError):
                source.lines[child] = (node.lc.item(index)[0] + 1, child)
            items.append(_plain(value, child, source, budget))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, (int, float)):
        number = int(node) if isinstance(node, int) else float(node)
        if not math.isfinite(number) or abs(number) > MAX_MAGNITUDE:
            raise source.error(path, f"number {number:.6g} is not finite or exceeds "
                               f"{MAX_MAGNITUDE:.0e}", hint="write a finite number of "
                               "sensible size (suites are hashed as JSON, which has no inf)")
        return number
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
        _check_structure(yaml, text, file)
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
    except RecursionError:
        return _raise(SuiteError("the YAML is nested too deeply to read", file=file,
                                 hint=FIXED_HINT))
    except ValueError as exc:  # e.g. an integer literal of more than 4300 digits
        return _raise(SuiteError(f"unreadable value: {exc}", file=file,
                                 hint="write numbers of sensible size"))
    except SuiteError:
        raise
    except Exception as exc:  # the parser's own failure on input it should refuse
        return _raise(SuiteError(f"the YAML parser cannot read this file "
                                 f"({type(exc).__name__}: {exc})", file=file,
                                 hint="use plain scalars, lists and mappings"))
    source.lines[()] = (1, ())
    return _plain(node, (), source), source


def _raise(error: SuiteError) -> Any:
    raise error


# Tags a suite or zoo file may write (zoo files use !!float); others build Python objects
# rlsens cannot hash (sets, timestamps, binary) or trip the parser itself.
_TAGS = {"!", *(f"tag:yaml.org,2002:{t}" for t in
                ("str", "int", "float", "bool", "null", "map", "seq"))}


def _check_structure(yaml: YAML, text: str, file: str) -> None:
    """Refuse alias bombs, deep nesting and unsupported tags from the event stream, before
    anything is built.

    Events are produced without recursion and without expanding aliases, so this is cheap
    even for the input it refuses.
    """
    aliases = depth = 0
    for event in yaml.parse(text):
        tag = getattr(event, "tag", None)
        if tag is not None and str(tag) not in _TAGS:
            shown = str(tag).replace("tag:yaml.org,2002:", "!!")
            raise SuiteError(f"YAML tag {shown} is not supported", file=file, line=_line(event),
                             hint="use plain scalars, lists and mappings; the only tags read "
                                  "are !!str, !!int, !!float, !!bool, !!null, !!map and !!seq")
        if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise SuiteError(f"mappings and lists nested more than {MAX_DEPTH} deep",
                                 file=file, line=_line(event), hint=FIXED_HINT)
        elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise SuiteError(f"more than {MAX_ALIASES} YAML aliases (*name)", file=file,
                                 line=_line(event), hint=FIXED_HINT)


def _line(event: Any) -> int | None:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else None


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
    """Read and parse a UTF-8 YAML file of at most ``MAX_FILE_BYTES``."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SuiteError(f"cannot read file: {exc.strerror or exc}", file=str(path),
                         hint="check the path") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise SuiteError(f"file is larger than {MAX_FILE_BYTES // 1024} KiB", file=str(path),
                         hint=FIXED_HINT)
    return parse_yaml(decode(raw, str(path)), str(path))


def decode(raw: bytes, file: str) -> str:
    """UTF-8 text (a BOM is allowed); anything else is refused, naming what it looks like."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in raw:
        raise SuiteError("the file is not UTF-8 (it looks like UTF-16)", file=file,
                         hint="save the file as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8`)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SuiteError(f"the file is not UTF-8 (byte {exc.start} cannot be decoded; it "
                         "looks like Latin-1 or another 8-bit encoding)", file=file, line=line,
                         hint="save the file as UTF-8 (e.g. `iconv -f LATIN1 -t UTF-8`)"
                         ) from None


def numeric_string(value: Any) -> int | float | None:
    """The number a string spells (``"1e-3"``, ``"50000"``), else None.

    PyYAML (YAML 1.1) reads ``1e-3`` as a string; files written for it, rl-baselines3-zoo's
    among them, depend on tags or on the consumer converting. rlsens converts everywhere a
    number is expected, so both spellings work. Numbers beyond ``MAX_MAGNITUDE`` stay text.
    """
    if not isinstance(value, str) or len(value) > 64 or not _NUMBER.fullmatch(value.strip()):
        return None
    text = value.strip()
    number = int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)
    # beyond the limit (or inf) the text stays text, and is refused where a number is needed
    return number if abs(number) <= MAX_MAGNITUDE else None


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
