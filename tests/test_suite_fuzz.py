"""Property: whatever is done to a shipped suite, ``validate`` and ``plan`` exit 0 or 2.

Hypothesis mutates the suites in suites/ (deletes, duplicates and retypes keys, injects huge
numbers, odd strings and YAML tags; adds alias bombs, very deep nesting, long or explosive
derived expressions and raised plan limits) and runs the CLI in-process on the result. An
exception escaping ``main`` is what a user would see as a traceback; each example must also
finish in bounded time and without a large jump of the process's peak memory. The address
space is capped while ``main`` runs, so input that would take all memory fails the test
with a MemoryError instead of the machine's OOM killer ending it.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import resource
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from rlsens.cli import main

ROOT = Path(__file__).resolve().parents[1]
SUITES = sorted((ROOT / "suites").glob("*.yaml"))
SECONDS_PER_EXAMPLE = 20.0
PEAK_GROWTH_MB = 500

ODD_VALUES = [
    None, True, False, 0, -1, 2**31, 2**40, 10**30, 1e308, -1e-308, 0.5, "", " ", "x" * 2000,
    "../../elsewhere", "/etc/passwd", "lin_", "lin_1e999", "auto_", "1e400", "nan", "-.inf",
    "\u00e9\u4e2d\U0001f600", "*ref", "&anchor", "{a: b}", "[1, 2", "- x", "%TAG", "\\x00",
    [], {}, [[[[[]]]]], {"a": {"b": {"c": None}}}, [1, "two", None], ["relu", "selu"],
]
TAGS = ["!!python/object/apply:os.system ", "!!binary ", "!!set ", "!!timestamp ", "!custom ",
        "!!float ", "!!int ", "!!str ", "!!map ", "!!seq ", "!!null ", "!<tag:x,2000:y> "]
# Derived expressions that are long, deep or explosive (the evaluator's limits).
EXPRESSIONS = ["2**2**2**2**2", "(9 ** 9) ** 9 ** 9", "1" + "+1" * 5000,
               "(" * 300 + "1" + ")" * 300, "-" * 400 + "1", "round(1, 10**9)", "1/0",
               "max()", "x" * 10000, "int(1e300)", "__import__('os')"]
# Plan limits a suite may raise: raised one by one, so that max_runs still bounds the plan.
RAISED = ["max_seeds", "max_configs", "max_evaluations", "max_episodes"]


def _alias_bomb(levels: int) -> str:
    """A flow-style YAML value whose aliases expand to 9**levels scalars."""
    parts = ["&b0 [x, x, x, x, x, x, x, x, x]"]
    parts += [f"&b{i} [{', '.join([f'*b{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


TEXT_VALUES = [lambda d: "[" * d + "]" * d, lambda d: "{a: " * d + "1" + "}" * d,
               lambda d: _alias_bomb(min(d, 12))]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _parent(data: Any, path: tuple) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


@st.composite
def mutated_suite(draw: st.DrawFn) -> str:
    path = draw(st.sampled_from(SUITES))
    data = _plain(YAML(typ="safe").load(path.read_text()))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(data) if p]
        target = draw(st.sampled_from(paths))
        parent = _parent(data, target)
        op = draw(st.sampled_from(["delete", "retype", "rename", "huge", "copy", "expression",
                                   "limits"]))
        if op == "expression" and isinstance(parent, dict):
            parent[target[-1]] = {"derived": draw(st.sampled_from(EXPRESSIONS))}
        elif op == "limits":
            data.setdefault("limits", {})[draw(st.sampled_from(RAISED))] = 10**12
        elif op == "delete":
            del parent[target[-1]]
        elif op == "retype":
            parent[target[-1]] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
        elif op == "huge":
            parent[target[-1]] = draw(st.sampled_from([10**18, 2**64, 1e18, -(10**17), 1e17]))
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["x", "../x", "", "class", "seeds", "n", "dist"]))] = (
                parent.pop(target[-1]))
        elif op == "copy":
            source = draw(st.sampled_from(paths))
            parent[target[-1]] = copy.deepcopy(_parent(data, source)[source[-1]])
    lines = json.dumps(data, indent=1).splitlines()  # JSON is YAML
    for _ in range(draw(st.integers(0, 2))):
        index = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["duplicate", "tag", "nest"]))
        if edit == "duplicate":
            lines.insert(index, lines[index])  # duplicated key (or a broken line)
        elif ": " in lines[index]:
            key, value = lines[index].split(": ", 1)
            if edit == "tag":
                lines[index] = f"{key}: {draw(st.sampled_from(TAGS))}{value}"
            else:  # very deep nesting or an alias bomb in place of a scalar
                make = draw(st.sampled_from(TEXT_VALUES))
                comma = "," if value.endswith(",") else ""
                lines[index] = f"{key}: {make(draw(st.sampled_from([40, 2000, 100_000])))}{comma}"
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _memory_cap(headroom_mb: int = 4 * PEAK_GROWTH_MB):
    """Cap the address space at its current size plus ``headroom_mb`` while the block runs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    cap = pages * resource.getpagesize() + headroom_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY
                                            else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_an_unmutated_suite_as_json_validates(tmp_path: Path) -> None:
    """The mutator's JSON rendering of a shipped suite is a valid suite: mutations start from
    a suite that exits 0, so exit 2 comes from the mutation."""
    assert SUITES
    for suite in SUITES:
        text = json.dumps(_plain(YAML(typ="safe").load(suite.read_text())))
        assert main(["validate", _write(tmp_path, text, suite.stem)]) == 0


def _write(folder: Path, text: str, stem: str) -> str:
    path = folder / f"{stem}.yaml"
    path.write_text(text)
    return str(path)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=mutated_suite())
def test_validate_and_plan_exit_0_or_2_on_any_mutation(tmp_path_factory, text: str) -> None:
    path = _write(tmp_path_factory.mktemp("fuzz"), text, "mutated")
    for command in ("validate", "plan"):
        before = _peak_mb()
        began = time.monotonic()
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _memory_cap():
            code = main([command, path])
        assert code in (0, 2), (command, code, err.getvalue())
        assert "Traceback" not in err.getvalue() + out.getvalue()
        assert code == 0 or err.getvalue().startswith("error: "), err.getvalue()
        assert time.monotonic() - began < SECONDS_PER_EXAMPLE, (command, text[:500])
        assert _peak_mb() - before < PEAK_GROWTH_MB, (command, text[:500])
