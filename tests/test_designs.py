"""Designs: sizes, balance, determinism, defaults, deduplication."""

from __future__ import annotations

import numpy as np
import pytest

from rlsens.plan.designs import algorithm_seed, deduplicate, generate, unit_points
from rlsens.suite.design import Design, sobol_n_problem
from rlsens.suite.space import Categorical, Derived, Fixed, Int, LogUniform, Uniform

DIMS = {
    "lr": LogUniform("lr", low=1e-5, high=1e-2),
    "tau": Uniform("tau", low=0.0, high=0.1),
    "batch": Int("batch", low=32, high=256, log=True),
    "net": Categorical("net", choices=([64], [256]), labels=("small", "big")),
    "x": Uniform("x", aux=True, low=0.1, high=0.2),
    "starts": Fixed("starts", value=100),
    "steps": Derived("steps", expression="batch // 32"),
}
DEFAULT = {"lr": 1e-3, "tau": 0.05, "batch": 64, "net": "small", "x": 0.15}
SEARCHED = ["lr", "tau", "batch", "net", "x"]


def test_grid_is_full_factorial():
    points = generate(Design("grid", levels=3), DIMS, DEFAULT, 0, "sac")
    assert len(points) == 3 * 3 * 3 * 2 * 3
    assert all(list(p) == SEARCHED for p in points)
    assert sorted({p["lr"] for p in points}) == [1e-5, 3.16228e-4, 1e-2]
    assert {p["batch"] for p in points} == {32, 91, 256}
    assert {p["net"] for p in points} == {"small", "big"}


def test_grid_deduplicates_int_levels():
    dims = {"n": Int("n", low=1, high=2), "act": Categorical("act", choices=("relu", "tanh"))}
    points = generate(Design("grid", levels=5), dims, {"n": 1, "act": "relu"}, 0, "a")
    assert len(points) == 2 * 2


def test_grid_with_default_adds_one():
    plain = generate(Design("grid", levels=2), DIMS, DEFAULT, 0, "sac")
    with_default = generate(Design("grid", levels=2, include_default=True), DIMS, DEFAULT, 0,
                            "sac")
    assert len(with_default) == len(plain) + 1
    assert with_default[0] == DEFAULT


def test_oat_count_and_structure():
    default = {"lr": 3.16228e-4, "tau": 0.05, "batch": 91, "net": "small", "x": 0.15}
    points = generate(Design("oat", levels=3), DIMS, default, 0, "sac")
    # default + per dim its levels minus the one equal to the default (centre of an odd grid)
    assert len(points) == 1 + 2 + 2 + 2 + 1 + 2
    assert points[0] == default
    for point in points[1:]:
        assert sum(point[k] != default[k] for k in SEARCHED) == 1
    off_centre = generate(Design("oat", levels=2), DIMS, DEFAULT, 0, "sac")
    assert len(off_centre) == 1 + 2 + 2 + 2 + 1 + 2


@pytest.mark.parametrize("kind", ["random", "sobol"])
def test_sampled_designs_size_bounds_and_determinism(kind):
    design = Design(kind, n=32)
    points = generate(design, DIMS, DEFAULT, 7, "sac")
    assert len(points) == 32
    for point in points:
        assert list(point) == SEARCHED
        assert 1e-5 <= point["lr"] <= 1e-2 and 0 <= point["tau"] <= 0.1
        assert 32 <= point["batch"] <= 256 and point["net"] in ("small", "big")
    assert points == generate(design, DIMS, DEFAULT, 7, "sac")
    assert points != generate(design, DIMS, DEFAULT, 8, "sac")
    assert points != generate(design, DIMS, DEFAULT, 7, "td3")
    with_default = generate(Design(kind, n=32, include_default=True), DIMS, DEFAULT, 7, "sac")
    assert with_default == [DEFAULT, *points]


def test_sobol_balance():
    for m in (1, 3, 6):
        n = 2**m
        cube = unit_points("sobol", n, 5, algorithm_seed(0, "sac"))
        assert cube.shape == (n, 5)
        assert ((cube >= 0) & (cube < 1)).all()
        assert ((cube < 0.5).sum(axis=0) == n // 2).all()
        if n >= 4:
            quarters = np.floor(cube * 4).astype(int)
            for dim in range(5):
                assert np.bincount(quarters[:, dim], minlength=4).tolist() == [n // 4] * 4


def test_sobol_needs_power_of_two():
    assert sobol_n_problem(16) is None and sobol_n_problem(1) is None
    assert "8 or 16" in sobol_n_problem(12)
    assert "2 or 4" in sobol_n_problem(3)
    with pytest.raises(ValueError, match="power of two"):
        unit_points("sobol", 12, 2, algorithm_seed(0, "a"))


def test_no_searched_dimensions_gives_one_config():
    dims = {"starts": Fixed("starts", value=1)}
    assert generate(Design("sobol", n=8), dims, {}, 0, "a") == [{}]
    assert generate(Design("grid"), dims, {}, 0, "a") == [{}]
    assert generate(Design("oat"), dims, {}, 0, "a") == [{}]


def test_deduplicate_keeps_first():
    assert deduplicate([{"a": 1}, {"a": 2}, {"a": 1}]) == [{"a": 1}, {"a": 2}]


def test_algorithm_seed_is_stable():
    state = algorithm_seed(0, "sac").generate_state(2).tolist()
    assert state == algorithm_seed(0, "sac").generate_state(2).tolist()
    assert state != algorithm_seed(0, "ppo").generate_state(2).tolist()
