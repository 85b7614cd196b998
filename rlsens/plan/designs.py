"""Experimental designs: which configurations of an algorithm a suite trains (planning side).

A design yields *points* (searched dimension -> point value) and never looks at environments,
so an algorithm gets the same configurations on every environment: cross-environment
sensitivity compares a configuration's score across environments, which needs that.

Randomness comes from a ``SeedSequence`` of the suite seed and a digest of the algorithm label
(never Python's salted ``hash``), so a suite file gives the same plan in every process and on
every machine, and two algorithms of one suite get independent samples.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.stats import qmc

from rlsens.spec import canonical_json
from rlsens.suite.design import Design, sobol_n_problem
from rlsens.suite.space import Dimension


def algorithm_seed(suite_seed: int, label: str) -> np.random.SeedSequence:
    """The seed of an algorithm's design: the suite seed plus a stable digest of its label."""
    digest = int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "little")
    return np.random.SeedSequence([suite_seed, digest])


def unit_points(kind: str, n: int, d: int, seed: np.random.SeedSequence) -> np.ndarray:
    """``n`` points of the unit cube [0, 1)^d from a random or scrambled Sobol sampler."""
    if d == 0:
        return np.zeros((n, 0))
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.random((n, d))
    if kind == "sobol":
        problem = sobol_n_problem(n)
        if problem:
            raise ValueError(problem)
        return qmc.Sobol(d, scramble=True, rng=rng).random_base2(int(n).bit_length() - 1)
    raise ValueError(f"unknown sampler {kind!r}")


def generate(design: Design, dims: Mapping[str, Dimension], default: Mapping[str, Any],
             suite_seed: int, label: str) -> list[dict[str, Any]]:
    """The distinct points of ``design`` over the searched ``dims``, default first if included.

    ``default`` maps every searched dimension to its default point value; it anchors the
    one-at-a-time sweeps and is the configuration ``include_default`` adds.
    """
    searched = {name: dim for name, dim in dims.items() if dim.searched}
    names = list(searched)
    points: list[dict[str, Any]] = []
    if design.include_default or design.type == "oat":
        points.append({name: default[name] for name in names})
    if design.type == "grid":
        axes = [searched[name].grid(design.levels) for name in names]
        points += [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]
    elif design.type == "oat":
        for name in names:
            for value in searched[name].grid(design.levels):
                points.append({**{k: default[k] for k in names}, name: value})
    else:
        n = design.n or 0
        cube = unit_points(design.type, n, len(names), algorithm_seed(suite_seed, label))
        points += [
            {name: searched[name].from_unit(float(u)) for name, u in zip(names, row, strict=True)}
            for row in cube
        ]
    return deduplicate(points)


def deduplicate(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop repeated points (int and categorical dims repeat), keeping first occurrences."""
    seen: set[str] = set()
    unique = []
    for point in points:
        key = canonical_json(point)
        if key not in seen:
            seen.add(key)
            unique.append(point)
    return unique
