"""The suites shipped in suites/: valid at every scale, sized as their headers promise.

Nothing is trained here: a shipped suite that does not load, whose quick scale would not finish
on a 2-core machine, or whose paper scale is too small to publish from, fails before anyone
spends CPU-hours on it. Benchmark suites (those with a ``paper`` scale) must also say where
each searched range comes from, as a comment on its line.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from rlsens.plan import build_plan, estimate_group_cpu_seconds
from rlsens.suite import load_suite

SUITES = sorted((Path(__file__).resolve().parents[1] / "suites").glob("*.yaml"))
BENCHMARKS = [p for p in SUITES if "paper" in load_suite(p, scale=None).scales]
# What `make bench SUITE=<name>` runs in minutes; a study (a default scale of its own, sized in
# its header and checked by its own tests) is a benchmark without a quick scale.
QUICK = [p for p in BENCHMARKS if "quick" in load_suite(p, scale=None).scales]
QUICK_CORES = 2
QUICK_MINUTES = 25  # of the 30 the quick scale promises; the rest is start-up and the report


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_suites_are_shipped():
    names = {p.stem for p in BENCHMARKS}
    assert {"ddpg", "td3", "sac", "ppo", "a2c", "dqn", "continuous-control"} <= names


@pytest.mark.parametrize("path", SUITES, ids=_ids(SUITES))
def test_valid_at_every_scale(path):
    scales = load_suite(path, scale=None).scales
    for scale in (None, *scales):
        plan = build_plan(load_suite(path, scale=scale))
        assert plan.runs, f"{path.stem} at scale {scale} plans no runs"


@pytest.mark.parametrize("path", QUICK, ids=_ids(QUICK))
def test_quick_scale(path):
    suite = load_suite(path, scale="quick")
    assert "quick" in suite.scales
    plan = build_plan(suite)
    for label, algorithm in suite.algorithms.items():
        assert len(algorithm.environments) >= 2, f"{label}: quick needs 2 environments"
    seeds_per_config = Counter((r.algorithm, r.env_id, r.config_id) for r in plan.runs)
    assert min(seeds_per_config.values()) >= 3
    # The plan's own estimate: population groups (trainer: auto) at their group cost.
    minutes = sum(estimate_group_cpu_seconds(g.specs) for g in plan.groups) / QUICK_CORES / 60
    assert minutes <= QUICK_MINUTES, f"quick scale estimated at {minutes:.1f} min on 2 cores"


def test_default_scale_is_quick():
    for path in QUICK:
        assert load_suite(path).scale == "quick", path.stem


@pytest.mark.parametrize("path", BENCHMARKS, ids=_ids(BENCHMARKS))
def test_paper_scale(path):
    plan = build_plan(load_suite(path, scale="paper"))
    assert len({r.seed for r in plan.runs}) >= 10
    for label, configs in plan.configs.items():
        assert len(configs) >= 64, f"{label}: {len(configs)} configurations at paper scale"
    seeds_per_config = Counter((r.algorithm, r.env_id, r.config_id) for r in plan.runs)
    assert min(seeds_per_config.values()) >= 10


def search_space_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of every entry directly under a ``search_space:`` key."""
    entries = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*)search_space:\s*(#.*)?$", lines[i])
        i += 1
        if not match:
            continue
        parent = len(match.group(1))
        child = None
        while i < len(lines):
            line = lines[i]
            if not line.strip() or line.lstrip().startswith("#"):
                i += 1
                continue
            indent = len(line) - len(line.lstrip())
            if indent <= parent:
                break
            child = indent if child is None else child
            if indent == child:
                entries.append((i + 1, line))
            i += 1
    return entries


def test_search_space_lines_parser():
    text = "a:\n  search_space:\n    x: {dist: uniform}  # src\n\n    # note\n    y:\n      " \
           "dist: int\nb: 1\n"
    assert search_space_lines(text) == [(3, "    x: {dist: uniform}  # src"), (6, "    y:")]


@pytest.mark.parametrize("path", BENCHMARKS, ids=_ids(BENCHMARKS))
def test_every_search_dimension_cites_its_source(path):
    entries = search_space_lines(path.read_text())
    assert entries
    missing = [f"line {n}: {line.strip()}" for n, line in entries if " #" not in line]
    assert not missing, f"{path.name}: search-space entries without a source comment: {missing}"
    suite = load_suite(path, scale=None)
    named = {re.match(r"\s*([\w.]+):", line).group(1) for _, line in entries}
    for algorithm in suite.algorithms.values():
        assert set(algorithm.search_space) <= named
