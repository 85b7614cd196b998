"""Distributions: unit-cube mapping, bounds, log scaling, rounding, grids; safe derived values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlsens.suite.space import (
    Categorical,
    Derived,
    ExpressionError,
    Fixed,
    Int,
    LogUniform,
    Uniform,
    evaluate_expression,
    expression_names,
    round_sig,
)

UNIT = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


def sig_digits_ok(value: float) -> bool:
    return value == round_sig(value)


@given(u=UNIT, low=st.floats(-1e6, 1e6), width=st.floats(1e-6, 1e6))
def test_uniform_in_bounds_and_rounded(u, low, width):
    dim = Uniform("x", low=low, high=low + width)
    value = dim.from_unit(u)
    assert dim.low <= value <= dim.high
    assert sig_digits_ok(value) or value in (dim.low, dim.high)


@given(u=UNIT, low_exp=st.floats(-8, 2), decades=st.floats(0.01, 6))
def test_log_uniform_in_bounds(u, low_exp, decades):
    dim = LogUniform("x", low=10**low_exp, high=10 ** (low_exp + decades))
    value = dim.from_unit(u)
    assert dim.low <= value <= dim.high


def test_log_uniform_is_uniform_in_log_space():
    dim = LogUniform("lr", low=1e-5, high=1e-1)
    assert dim.from_unit(0.0) == 1e-5
    assert dim.from_unit(0.25) == pytest.approx(1e-4)
    assert dim.from_unit(0.5) == pytest.approx(1e-3)
    assert dim.center() == pytest.approx(1e-3)
    assert dim.grid(5) == pytest.approx([1e-5, 1e-4, 1e-3, 1e-2, 1e-1])


def test_uniform_rounds_to_six_significant_digits():
    dim = Uniform("tau", low=0.0, high=1.0)
    assert dim.from_unit(1 / 3) == 0.333333
    assert dim.grid(3) == [0.0, 0.5, 1.0]
    assert dim.grid(1) == [0.5]


@given(u=UNIT, low=st.integers(1, 1000), width=st.integers(1, 10000), log=st.booleans())
def test_int_in_bounds(u, low, width, log):
    dim = Int("n", low=low, high=low + width, log=log)
    value = dim.from_unit(u)
    assert isinstance(value, int)
    assert dim.low <= value <= dim.high


def test_int_covers_every_value_evenly():
    dim = Int("n", low=1, high=4)
    values = [dim.from_unit((i + 0.5) / 400) for i in range(400)]
    assert {v: values.count(v) for v in set(values)} == {1: 100, 2: 100, 3: 100, 4: 100}
    assert dim.grid(10) == [1, 2, 3, 4]  # deduplicated after rounding


def test_int_log_favours_small_values_per_octave():
    dim = Int("batch", low=32, high=511, log=True)
    values = [dim.from_unit((i + 0.5) / 1000) for i in range(1000)]
    octaves = [sum(lo <= v < 2 * lo for v in values) for lo in (32, 64, 128, 256)]
    assert all(240 <= count <= 260 for count in octaves)
    assert dim.grid(5) == [32, 64, 128, 256, 511]


@given(u=UNIT)
def test_categorical_returns_a_choice(u):
    labelled = Categorical("net", choices=([64], [256]), labels=("small", "big"))
    assert labelled.from_unit(u) in ("small", "big")
    plain = Categorical("act", choices=("relu", "tanh", "elu"))
    assert plain.from_unit(u) in ("relu", "tanh", "elu")


def test_categorical_coverage_and_labels():
    dim = Categorical("net", choices=([64, 64], [256, 256], {"pi": [8]}),
                      labels=("small", "big", "odd"))
    values = [dim.from_unit((i + 0.5) / 300) for i in range(300)]
    assert [values.count(label) for label in ("small", "big", "odd")] == [100, 100, 100]
    assert dim.grid(2) == ["small", "big", "odd"]  # levels do not apply
    assert dim.center() == "small"
    assert dim.value_of("big") == [256, 256]
    assert dim.point_value([256, 256]) == "big"
    assert dim.point_value([1]) is None
    flags = Categorical("sde", choices=(True, 1))
    assert flags.point_value(1) == 1 and flags.point_value(True) is True


def test_fixed_is_not_searched():
    dim = Fixed("learning_starts", value=1000)
    assert not dim.searched
    assert dim.from_unit(0.7) == 1000 and dim.grid(3) == [1000] and dim.center() == 1000


def test_derived_arithmetic():
    gamma = Derived("gamma", expression="1 - one_minus_gamma")
    assert not gamma.searched
    assert gamma.names == ("one_minus_gamma",)
    assert gamma.evaluate({"one_minus_gamma": 1.23457e-05}) == 0.99998765430
    assert Derived("a", expression="0.1 + 0.2").evaluate({}) == 0.3
    steps = Derived("g", expression="max(1, int(round(train_freq / 2)))")
    assert steps.evaluate({"train_freq": 8}) == 4
    assert evaluate_expression("2 ** k // 3 - -1", {"k": 5}) == 11
    assert evaluate_expression("min(a, b, 3)", {"a": 7, "b": 5}) == 3
    assert expression_names("min(a, b) + a * c") == ("a", "b", "c")


@pytest.mark.parametrize(
    "expression",
    ["__import__('os')", "a.b", "a[0]", "lambda: 1", "open('x')", "'text'", "a if b else c",
     "a % 2", "a < b", "[1, 2]", "True + 1", "abs(-1)", "max(a, key=b)", "a; b", "f'{a}'"],
)
def test_derived_refuses_anything_else(expression):
    with pytest.raises(ExpressionError):
        evaluate_expression(expression, {"a": 1, "b": 2, "c": 3})


@pytest.mark.parametrize(
    ("expression", "values"),
    [("a / 0", {"a": 1}), ("2 ** 1000000", {}), ("x + 1", {}), ("x + 1", {"x": "y"}),
     ("x + 1", {"x": [1]}), ("(-1) ** 0.5", {}), ("10.0 ** 400", {}), ("min()", {})],
)
def test_derived_evaluation_errors(expression, values):
    with pytest.raises(ExpressionError):
        evaluate_expression(expression, values)


def test_round_sig():
    assert round_sig(math.pi) == 3.14159
    assert round_sig(0.0) == 0.0
    assert round_sig(-123456789.0) == -123457000.0
    assert round_sig(1 / 3, 12) == 0.333333333333
