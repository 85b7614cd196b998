"""Resource exhaustion: a few bytes of suite input must fail in seconds, naming the limit.

One test per class of input from issue 10: YAML alias bombs, deep nesting, huge files, other
encodings, astronomically large designs, seed counts, Sobol n, one-at-a-time levels, long or
explosive derived expressions, planned runs and evaluations; plus raising a plan limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlsens.errors import SuiteError
from rlsens.suite import load_suite
from rlsens.suite.limits import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_VALUES,
    PlanLimits,
)

# Every refusal below takes well under a CPU-second; expanding the bombs would take minutes and
# gigabytes. CPU time, not wall time: the bound guards against expansion, and must not measure
# how loaded the machine is.
SECONDS = 5.0

BASE = """\
name: limits
environments:
  Pendulum-v1: {budget: 1000}
algorithms:
  ppo:
    class: PPO
    hyperparameters: {n_steps: 64, batch_size: 32}
    search_space:
      learning_rate: {dist: log_uniform, low: 1.0e-4, high: 1.0e-3}
      one_minus_gamma: {dist: log_uniform, low: 1.0e-3, high: 0.1, aux: true}
      gamma: {derived: "1 - one_minus_gamma"}
design: {type: sobol, n: 4}
seeds: 2
"""


def replace(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


@pytest.fixture
def refused(tmp_path: Path) -> Iterator:
    """Load text (or bytes) as a suite; return the error, asserting it took little CPU time."""

    def load(content: str | bytes) -> SuiteError:
        path = tmp_path / "limits.yaml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        began = time.process_time()
        with pytest.raises(SuiteError) as info:
            load_suite(path)
        assert time.process_time() - began < SECONDS
        assert info.value.file == str(path)
        return info.value

    yield load


def test_the_base_suite_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(BASE)
    assert load_suite(path).name == "limits"


def test_yaml_alias_bomb(refused) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    err = refused("\n".join(levels) + "\n" + BASE)  # 9^9 values from 72 aliases
    assert f"more than {MAX_VALUES} values" in err.message and "aliases" in err.message
    many = "x: &x 1\ny: [" + ", ".join(["*x"] * (MAX_ALIASES + 1)) + "]\n"
    err = refused(many + BASE)
    assert f"more than {MAX_ALIASES} YAML aliases" in err.message and err.line == 2
    assert "limits.py" in err.hint


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_very_deep_nesting(refused, depth: int) -> None:
    err = refused(BASE + "extra: " + "[" * depth + "]" * depth + "\n")
    assert f"nested more than {MAX_DEPTH} deep" in err.message


def test_huge_file(refused) -> None:
    err = refused(BASE + "# " + "x" * (60 << 20) + "\n")  # 60 MB
    assert f"larger than {MAX_FILE_BYTES // 1024} KiB" in err.message


@pytest.mark.parametrize(("encoding", "looks"), [("utf-16", "UTF-16"), ("latin-1", "Latin-1")])
def test_files_not_in_utf8(refused, encoding: str, looks: str) -> None:
    err = refused(replace("name: limits", "name: limits  # café").encode(encoding))
    assert "not UTF-8" in err.message and looks in err.message
    assert "UTF-8" in err.hint
    if encoding == "latin-1":
        assert err.line == 1


def test_astronomically_large_grid(refused) -> None:
    dims = "".join(f"      x{i}: {{dist: uniform, low: 0.0, high: 1.0, aux: true}}\n"
                   for i in range(20))  # plus learning_rate and one_minus_gamma
    text = replace("design: {type: sobol, n: 4}", "design: {type: grid, levels: 10}")
    text = text.replace("    search_space:\n", "    search_space:\n" + dims)
    err = refused(text)
    assert "about 10^22 configurations" in err.message  # 22 searched dimensions
    assert "use design type random or sobol" in err.message
    assert err.key == "algorithms.ppo.search_space"
    assert "limits: {max_configs" in err.hint


@pytest.mark.parametrize("seeds", ["1e9", "{tune: 2, report: 1e9}", "[" + "1, " * 1001 + "]"])
def test_seed_counts(refused, seeds: str) -> None:
    text = replace("seeds: 2", f"seeds: {seeds}")
    err = refused(text)
    assert err.key is not None and err.key.startswith("seeds")
    assert str(PlanLimits().max_seeds) in err.message
    assert "limits: {max_seeds" in err.hint


def test_sobol_n_of_two_to_the_forty(refused) -> None:
    err = refused(replace("n: 4", f"n: {2**40}"))
    assert err.key == "design.n" and f"at most {PlanLimits().max_configs}" in err.message


def test_oat_levels_of_a_billion(refused) -> None:
    err = refused(replace("design: {type: sobol, n: 4}", "design: {type: oat, levels: 1e9}"))
    assert err.key == "design.levels" and "at most" in err.message


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("1 + " * 200 + "1", "longer than 500 characters"),
        ("max(" + ", ".join(["-1"] * 80) + ")", "more than 200 parts"),
        ("-" * 400 + "1", "nested more than 24 deep"),
        ("(" * 30 + "1" + " + 1)" * 30, "nested more than 24 deep"),
        ("2 ** 64 ** 64 ** 64", "exceeds the limit"),
        ("((n_steps ** 8) ** 8) ** 8", "exceeds the limit"),
        ("n_steps * 1e17", "exceeds the limit"),
        ("round(n_steps, -1000000000)", "digits between -20 and 20"),
    ],
)
def test_explosive_derived_expressions(refused, expression: str, fragment: str) -> None:
    err = refused(replace('gamma: {derived: "1 - one_minus_gamma"}',
                          f'gamma: {{derived: "{expression}"}}'))
    assert err.key == "algorithms.ppo.search_space.gamma.derived"
    assert fragment in err.message, err.message


def test_planned_runs_in_total(refused) -> None:
    err = refused(replace("design: {type: sobol, n: 4}", "design: {type: sobol, n: 8192}")
                  .replace("seeds: 2", "seeds: 1000"))
    assert "plans up to 8192000 runs" in err.message and err.key == "design"
    assert "limits: {max_runs" in err.hint


def test_evaluations_per_run(refused) -> None:
    err = refused(replace("{budget: 1000}", "{budget: 1e8}") + "evaluation: {every: 1}\n")
    assert err.key == "evaluation.every" and "about 10^8 times" in err.message


@pytest.mark.parametrize("key", ["episodes", "final"])
def test_evaluation_episodes(refused, key: str) -> None:
    err = refused(BASE + f"evaluation: {{{key}: 1e9}}\n")
    assert err.key == f"evaluation.{key}" and "limits: {max_episodes" in err.hint


def test_plan_limits_are_raised_by_the_suite_and_leave_the_hash(tmp_path: Path) -> None:
    big = replace("design: {type: sobol, n: 4}", "design: {type: sobol, n: 8192}")
    big = big.replace("seeds: 2", "seeds: 1000")
    path = tmp_path / "big.yaml"
    path.write_text(big + "limits: {max_runs: 10000000}\n")
    assert len(load_suite(path).seeds.all) == 1000
    small = tmp_path / "small.yaml"
    small.write_text(BASE)
    raised = tmp_path / "raised.yaml"
    raised.write_text(BASE + "limits: {max_seeds: 5000, max_runs: 1e7}\n")
    assert load_suite(small).hash == load_suite(raised).hash


def test_unknown_limit(refused) -> None:
    err = refused(BASE + "limits: {max_memory: 3}\n")
    assert err.key == "limits.max_memory" and "max_runs" in err.hint


def test_raised_seed_limit_is_still_bounded_by_the_run_limit(refused) -> None:
    """Raising max_seeds alone must not make rlsens build a billion seeds before max_runs
    refuses the plan: the count is checked against max_runs before any seed is generated
    (a million here, so that the check failing costs megabytes, not all memory)."""
    text = replace("seeds: 2", "seeds: 1e6") + "limits: {max_seeds: 1000000000000}\n"
    err = refused(text)
    assert err.key == "seeds" and str(PlanLimits().max_runs) in err.message
    assert "limits: {max_runs" in err.hint


@pytest.mark.parametrize("literal", ["-" * 100_000 + "1", "[" * 150 + "]" * 150,
                                     "dict(a=" * 3000 + "1" + ")" * 3000])
def test_zoo_literal_within_the_expression_limits(tmp_path: Path, literal: str) -> None:
    """A zoo file's Python-literal strings are parsed like derived expressions: 100 000 unary
    minuses made Python's parser raise MemoryError (a traceback) before the limits applied."""
    (tmp_path / "zoo.yml").write_text(f'Pendulum-v1:\n  policy_kwargs: "{literal}"\n')
    path = tmp_path / "zoo-suite.yaml"
    path.write_text(replace("    class: PPO\n", "    class: PPO\n    zoo: zoo.yml\n"))
    began = time.process_time()
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert time.process_time() - began < SECONDS
    assert info.value.file == str(tmp_path / "zoo.yml") and "policy_kwargs" in str(info.value)
    assert "longer than" in info.value.message or "nested more than" in info.value.message
