"""Bad suites fail at load with file, line, key path, message and a hint saying what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsens.errors import SuiteError
from rlsens.suite import load_suite

BASE = """\
name: bad
environments:
  Pendulum-v1: {budget: 1000}
  MountainCarContinuous-v0: {budget: 1000}
algorithms:
  sac:
    class: SAC
    hyperparameters:
      learning_rate: 1.0e-3
      net_arch: [64, 64]
    per_env:
      Pendulum-v1: {gamma: 0.98}
    search_space:
      tau: {dist: uniform, low: 0.001, high: 0.08}
      batch_size: {dist: int, low: 32, high: 512, log: true}
      net_arch: {dist: categorical, choices: {small: [64, 64], big: [256, 256]}}
      x: {dist: log_uniform, low: 1.0e-4, high: 0.03, aux: true}
      gradient_steps: {derived: "max(1, batch_size // 64)"}
design: {type: sobol, n: 4}
seeds: 2
scales:
  quick: {design: {n: 2}}
"""


def load_text(tmp_path: Path, text: str, scale: str | None = None) -> SuiteError:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SuiteError) as info:
        load_suite(path, scale=scale)
    assert info.value.file == str(path)
    return info.value


def line_of(text: str, fragment: str) -> int:
    matches = [i + 1 for i, line in enumerate(text.splitlines()) if fragment in line]
    assert len(matches) == 1, (fragment, matches)
    return matches[0]


def replace(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


CASES = [
    # (id, suite text, line fragment, key, message fragment, hint fragment)
    ("unknown class", replace("class: SAC", "class: SACC"), "class: SACC",
     "algorithms.sac.class", "unknown algorithm class", "DDPG"),
    ("unknown env", replace("  Pendulum-v1: {budget", "  Pendulum-v9: {budget"),
     "Pendulum-v9", "environments.Pendulum-v9", "unknown Gymnasium environment", "Pendulum-v1"),
    ("misspelt hyperparameter", replace("learning_rate: 1.0e-3", "lerning_rate: 1.0e-3"),
     "lerning_rate", "algorithms.sac.hyperparameters.lerning_rate", "unknown hyperparameter",
     "did you mean 'learning_rate'"),
    ("argument of another class", replace("learning_rate: 1.0e-3", "n_epochs: 10"),
     "n_epochs: 10", "algorithms.sac.hyperparameters.n_epochs", "SAC does not accept 'n_epochs'",
     "SAC accepts:"),
    ("not a hyperparameter", replace("learning_rate: 1.0e-3", "seed: 3"), "seed: 3",
     "algorithms.sac.hyperparameters.seed", "not a hyperparameter", "seeds:"),
    ("searched name unknown", replace("tau: {dist", "taw: {dist"), "taw:",
     "algorithms.sac.search_space.taw", "unknown hyperparameter 'taw'", "did you mean 'tau'"),
    ("empty range", replace("low: 0.001, high: 0.08", "low: 0.08, high: 0.08"), "tau:",
     "algorithms.sac.search_space.tau.high", "empty range", "dist: fixed"),
    ("inverted range", replace("low: 32, high: 512", "low: 512, high: 32"), "batch_size:",
     "algorithms.sac.search_space.batch_size.high", "inverted range", "smaller"),
    ("log non-positive", replace("low: 1.0e-4, high: 0.03", "low: 0, high: 0.03"), "x: {dist",
     "algorithms.sac.search_space.x.low", "needs low > 0", "positive"),
    ("wrong type", replace("low: 0.001, high: 0.08", 'low: "abc", high: 0.08'), "tau:",
     "algorithms.sac.search_space.tau.low", "must be a number", "number"),
    ("int bound not integer", replace("low: 32, high: 512", "low: 32.5, high: 512"),
     "batch_size:", "algorithms.sac.search_space.batch_size.low", "must be an integer", "whole"),
    ("unknown dist", replace("{dist: uniform,", "{dist: normal,"), "tau:",
     "algorithms.sac.search_space.tau.dist", "unknown distribution", "log_uniform"),
    ("misspelt dim key", replace("low: 0.001, high: 0.08", "low: 0.001, hgh: 0.08"), "tau:",
     "algorithms.sac.search_space.tau.hgh", "unknown key 'hgh'", "did you mean 'high'"),
    ("unknown top-level key", BASE + "extra: 1\n", "extra: 1", "extra", "unknown key",
     "allowed: name"),
    ("missing required key", BASE.replace("seeds: 2\n", ""), "name: bad", "seeds",
     "missing required key 'seeds'", "required"),
    ("missing class", replace("    class: SAC\n", ""), "  sac:", "algorithms.sac.class",
     "missing required key 'class'", "class"),
    ("sobol n", replace("n: 4}", "n: 10}"), "design: {type", "design.n", "not a power of two",
     "8 or 16"),
    ("seed overlap", replace("seeds: 2", "seeds: {tune: [0, 1], report: [1, 2]}"), "seeds:",
     "seeds.report", "both tune and report", "fresh"),
    ("searched in per_env", replace("{gamma: 0.98}", "{tau: 0.01}"), "{tau: 0.01}",
     "algorithms.sac.per_env.Pendulum-v1.tau", "in the search space", "same on every"),
    ("per_env unknown env", replace("Pendulum-v1: {gamma", "CartPole-v1: {gamma"),
     "CartPole-v1: {gamma", "algorithms.sac.per_env.CartPole-v1", "not an environment",
     "Pendulum-v1"),
    ("derived code", replace('"max(1, batch_size // 64)"', '"__import__(\'os\').getcwd()"'),
     "gradient_steps:", "algorithms.sac.search_space.gradient_steps.derived",
     "invalid derived expression", "min()"),
    ("derived attribute", replace('"max(1, batch_size // 64)"', '"batch_size.real"'),
     "gradient_steps:", "algorithms.sac.search_space.gradient_steps.derived",
     "Attribute is not allowed", "parentheses"),
    ("derived unknown name", replace('"max(1, batch_size // 64)"', '"max(1, bach_size)"'),
     "gradient_steps:", "algorithms.sac.search_space.gradient_steps.derived",
     "unknown name 'bach_size'", "did you mean 'batch_size'"),
    ("derived cycle",
     replace('gradient_steps: {derived: "max(1, batch_size // 64)"}',
             'gradient_steps: {derived: "train_freq"}\n'
             '      train_freq: {derived: "gradient_steps"}'),
     "search_space:", "algorithms.sac.search_space", "depend on each other", "cycles"),
    ("derived division by zero", replace('"max(1, batch_size // 64)"', '"batch_size // 0"'),
     "gradient_steps:", "algorithms.sac.search_space.gradient_steps.derived", "division by zero",
     "numbers"),
    ("categorical default", replace("net_arch: [64, 64]", "net_arch: [32, 32]"),
     "net_arch: [32, 32]", "algorithms.sac.hyperparameters.net_arch", "not one of its choices",
     "small"),
    ("bad activation",
     replace("net_arch: [64, 64]\n", "net_arch: [64, 64]\n      activation_fn: relu6\n"),
     "relu6", "algorithms.sac.hyperparameters.activation_fn", "not one of", "tanh"),
    ("bad schedule", replace("learning_rate: 1.0e-3", "learning_rate: linear_3e-4"),
     "linear_3e-4", "algorithms.sac.hyperparameters.learning_rate", "lin_<number>", "lin_"),
    ("unknown policy", replace("class: SAC", "class: SAC\n    policy: MLPPolicy"),
     "MLPPolicy", "algorithms.sac.policy", "unknown policy", "MlpPolicy"),
    ("design type", replace("type: sobol, n: 4", "type: latin"), "design: {type", "design.type",
     "unknown design type", "grid, random, sobol, oat"),
    ("missing budget", replace("  Pendulum-v1: {budget: 1000}", "  Pendulum-v1: {}"),
     "Pendulum-v1: {}", "environments.Pendulum-v1", "no budget", "budget"),
    ("algorithm env not in suite",
     replace("class: SAC", "class: SAC\n    environments: [Acrobot-v1]"),
     "environments: [Acrobot-v1]", "algorithms.sac.environments[0]", "not an environment",
     "Pendulum-v1"),
    ("duplicate key", replace("      learning_rate: 1.0e-3\n",
                              "      learning_rate: 1.0e-3\n      learning_rate: 1.0e-4\n"),
     "learning_rate: 1.0e-4", "algorithms.sac.hyperparameters.learning_rate", "duplicate key",
     "once"),
    ("yaml syntax", replace("seeds: 2", "seeds: [1, 2"), "scales:", None, "YAML syntax error",
     "indentation"),
    ("tab indentation", replace("seeds: 2", "seeds:\n\t- 1"), "\t- 1", None, "YAML syntax error",
     "indentation"),
]


@pytest.mark.parametrize(("text", "fragment", "key", "message", "hint"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_suite(tmp_path, text, fragment, key, message, hint):
    err = load_text(tmp_path, text)
    assert err.line == line_of(text, fragment), str(err)
    assert err.key == key, str(err)
    assert message in err.message, str(err)
    assert err.hint and hint in err.hint, str(err)
    assert str(err).startswith(f"{err.file}:{err.line}")


def test_duplicate_key_names_both_lines(tmp_path):
    text = replace("      learning_rate: 1.0e-3\n",
                   "      learning_rate: 1.0e-3\n      learning_rate: 1.0e-4\n")
    err = load_text(tmp_path, text)
    first = line_of(text, "learning_rate: 1.0e-3")
    assert f"first at line {first}" in err.message
    assert f"again at line {first + 1}" in err.message


def test_error_in_scale_points_at_the_scale(tmp_path):
    text = replace("quick: {design: {n: 2}}", "quick: {design: {n: 3}}")
    err = load_text(tmp_path, text, scale="quick")
    assert err.key == "scales.quick.design.n"
    assert err.line == line_of(text, "quick:")
    assert "2 or 4" in err.hint


def test_unknown_key_in_scale(tmp_path):
    text = replace("quick: {design: {n: 2}}", "quick:\n    desing: {n: 2}")
    err = load_text(tmp_path, text, scale="quick")
    assert err.key == "scales.quick.desing"
    assert err.line == line_of(text, "desing")
    assert "did you mean 'design'" in err.hint


def test_unknown_default_scale(tmp_path):
    err = load_text(tmp_path, "default_scale: big\n" + BASE)
    assert err.key == "default_scale" and err.line == 1
    assert "quick" in err.hint


def test_missing_file(tmp_path):
    with pytest.raises(SuiteError) as info:
        load_suite(tmp_path / "absent.yaml")
    assert "cannot read" in info.value.message


@pytest.mark.parametrize("seeds", ["0", "-1", "[]", "[1, 1]", "{tune: 2}", "abc", "true"])
def test_bad_seeds(tmp_path, seeds):
    err = load_text(tmp_path, replace("seeds: 2", f"seeds: {seeds}"))
    assert err.key is not None and err.key.startswith("seeds")
    assert err.hint


@pytest.mark.parametrize("bound", [".inf", ".nan", "1e400"])
def test_non_finite_bounds(tmp_path, bound):
    err = load_text(tmp_path, replace("low: 0.001, high: 0.08", f"low: 0.001, high: {bound}"))
    assert err.key == "algorithms.sac.search_space.tau.high"
    assert "finite" in err.message
