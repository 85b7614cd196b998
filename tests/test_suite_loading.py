"""Loading valid suites: schema, scales, seeds, zoo import, derived values, the smoke suite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rlsens.errors import SuiteError
from rlsens.spec import EvalProtocol, Resources, stable_hash
from rlsens.suite import Seeds, load_suite
from rlsens.suite.space import Categorical, Derived, Fixed, Int, LogUniform, Uniform
from rlsens.suite.zoo import LiteralError, parse_literal

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

SUITE = """\
name: demo
description: a test suite
seed: 3
default_scale: quick
environments:
  Pendulum-v1:
    budget: 20000
    env_kwargs: {g: 9.81}
  MountainCarContinuous-v0: {budget: 1e4}
algorithms:
  sac:
    class: SAC
    policy: MlpPolicy
    hyperparameters:
      learning_rate: 1.0e-3
      net_arch: [64, 64]
      batch_size: "256"
    per_env:
      Pendulum-v1: {buffer_size: 5000}
    budget: {Pendulum-v1: 10000}
    search_space:
      learning_rate: {dist: log_uniform, low: 1.0e-5, high: "2e-3"}
      tau: {dist: uniform, low: 0.001, high: 0.08}
      batch_size: {dist: int, low: 32, high: 512, log: true}
      net_arch: {dist: categorical, choices: {small: [64, 64], medium: [256, 256]}}
      one_minus_gamma: {dist: log_uniform, low: 1.0e-4, high: 0.03, aux: true}
      gamma: {derived: "1 - one_minus_gamma"}
      gradient_steps: {derived: "max(1, batch_size // 64)"}
      learning_starts: {dist: fixed, value: 1000}
  ppo:
    class: ppo
    environments: [Pendulum-v1]
    search_space:
      n_epochs: {dist: int, low: 1, high: 10}
design: {type: sobol, n: 16, include_default: true}
seeds: {tune: 2, report: 3}
evaluation: {every: 2000, episodes: 10, final: 2}
resources: {cpus: 2, gpus: 0, memory_mb: 2048, timeout_s: 3600}
scales:
  quick: {design: {n: 8}, seeds: 3}
  paper:
    environments: {Pendulum-v1: {budget: 50000}}
    design: {n: 64}
    seeds: {tune: 5, report: 10}
"""


def write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_valid_suite_parses(tmp_path):
    suite = load_suite(write(tmp_path, SUITE), scale="paper")
    assert suite.name == "demo"
    assert suite.description == "a test suite"
    assert suite.seed == 3
    assert suite.scale == "paper"
    assert suite.scales == ("quick", "paper")
    assert list(suite.environments) == ["Pendulum-v1", "MountainCarContinuous-v0"]
    assert suite.environments["Pendulum-v1"].env_kwargs == {"g": 9.81}
    assert suite.environments["MountainCarContinuous-v0"].budget == 10000
    sac = suite.algorithms["sac"]
    assert sac.algo_class == "SAC"
    assert sac.hyperparameters["batch_size"] == 256  # numeric string accepted
    assert sac.budget == {"Pendulum-v1": 10000, "MountainCarContinuous-v0": 10000}
    assert isinstance(sac.search_space["learning_rate"], LogUniform)
    assert sac.search_space["learning_rate"].high == 2e-3
    assert isinstance(sac.search_space["tau"], Uniform)
    assert isinstance(sac.search_space["batch_size"], Int)
    assert sac.search_space["batch_size"].log
    assert isinstance(sac.search_space["net_arch"], Categorical)
    assert isinstance(sac.search_space["gamma"], Derived)
    assert isinstance(sac.search_space["learning_starts"], Fixed)
    ppo = suite.algorithms["ppo"]
    assert ppo.algo_class == "PPO" and ppo.environments == ("Pendulum-v1",)
    assert ppo.budget == {"Pendulum-v1": 50000}
    assert suite.design.type == "sobol" and suite.design.n == 64
    assert suite.design.include_default
    assert suite.evaluation == EvalProtocol(every=2000, episodes=10, final=2)
    assert suite.resources == Resources(cpus=2.0, gpus=0.0, memory_mb=2048, timeout_s=3600)
    assert suite.searched == {
        "sac": ["learning_rate", "tau", "batch_size", "net_arch", "one_minus_gamma"],
        "ppo": ["n_epochs"],
    }


def test_resolved_is_json_and_hash_matches(tmp_path):
    suite = load_suite(write(tmp_path, SUITE))
    text = json.dumps(suite.resolved, sort_keys=True)
    assert json.loads(text) == suite.resolved
    assert suite.hash == stable_hash(suite.resolved)
    assert suite.resolved["scale"] == "quick"
    assert "scales" not in suite.resolved
    assert suite.resolved["algorithms"]["sac"]["search_space"]["net_arch"]["choices"] == {
        "small": [64, 64], "medium": [256, 256]}


def test_hash_ignores_file_location_but_not_content(tmp_path):
    a = load_suite(write(tmp_path, SUITE, "a.yaml"))
    (tmp_path / "elsewhere").mkdir()
    b = load_suite(write(tmp_path / "elsewhere", SUITE, "a.yaml"))
    c = load_suite(write(tmp_path, SUITE.replace("seed: 3", "seed: 4"), "a.yaml"))
    assert a.hash == b.hash
    assert a.hash != c.hash


def test_scales_default_explicit_and_base(tmp_path):
    path = write(tmp_path, SUITE)
    quick = load_suite(path)
    assert quick.scale == "quick" and quick.design.n == 8
    assert quick.seeds == Seeds(all=(0, 1, 2))
    paper = load_suite(path, scale="paper")
    assert paper.environments["Pendulum-v1"].budget == 50000
    assert paper.environments["Pendulum-v1"].env_kwargs == {"g": 9.81}  # deep merge keeps it
    base = load_suite(write(tmp_path, SUITE.replace("default_scale: quick\n", ""), "b.yaml"))
    assert base.scale is None and base.design.n == 16
    assert base.scales == ("quick", "paper")


def test_unknown_scale_lists_available(tmp_path):
    with pytest.raises(SuiteError) as info:
        load_suite(write(tmp_path, SUITE), scale="huge")
    assert "huge" in info.value.message
    assert "quick" in info.value.hint and "paper" in info.value.hint
    assert info.value.file == str(tmp_path / "suite.yaml")


def test_seed_roles(tmp_path):
    suite = load_suite(write(tmp_path, SUITE), scale="paper")
    assert suite.seeds.tune == (0, 1, 2, 3, 4)
    assert suite.seeds.report == tuple(range(5, 15))
    roles = suite.seeds.roles()
    assert roles[0] == (0, "tune") and roles[5] == (5, "report") and len(roles) == 15
    base = SUITE.replace("default_scale: quick\n", "")
    explicit = base.replace("seeds: {tune: 2, report: 3}",
                            "seeds: {tune: [0, 1], report: [10, 11]}")
    suite = load_suite(write(tmp_path, explicit, "e.yaml"))
    assert suite.seeds == Seeds(tune=(0, 1), report=(10, 11))
    listed = base.replace("seeds: {tune: 2, report: 3}", "seeds: [4, 7]")
    suite = load_suite(write(tmp_path, listed, "l.yaml"))
    assert suite.seeds.roles() == [(4, "all"), (7, "all")]
    counted = base.replace("seeds: {tune: 2, report: 3}", "seeds: 4")
    assert load_suite(write(tmp_path, counted, "c.yaml")).seeds.all == (0, 1, 2, 3)


def test_default_point_precedence(tmp_path):
    text = SUITE.replace(
        "tau: {dist: uniform, low: 0.001, high: 0.08}",
        "tau: {dist: uniform, low: 0.001, high: 0.08, default: 0.005}")
    sac = load_suite(write(tmp_path, text)).algorithms["sac"]
    point = sac.default_point
    assert point["learning_rate"] == 1e-3  # from hyperparameters
    assert point["tau"] == 0.005  # from `default:`
    assert point["net_arch"] == "small"  # hyperparameters value mapped to its label
    assert point["batch_size"] == 256
    assert point["one_minus_gamma"] == pytest.approx((1e-4 * 0.03) ** 0.5, rel=1e-5)  # centre
    assert "gamma" not in point and "learning_starts" not in point


def test_resolve_applies_precedence_and_derived(tmp_path):
    sac = load_suite(write(tmp_path, SUITE)).algorithms["sac"]
    point = {"learning_rate": 3e-4, "tau": 0.01, "batch_size": 128, "net_arch": "medium",
             "one_minus_gamma": 0.02}
    config = sac.resolve(point, "Pendulum-v1")
    assert config["learning_rate"] == 3e-4
    assert config["net_arch"] == [256, 256]
    assert config["gamma"] == 0.98
    assert config["gradient_steps"] == 2
    assert config["learning_starts"] == 1000  # fixed dimension
    assert config["buffer_size"] == 5000  # per_env
    assert "one_minus_gamma" not in config
    other = sac.resolve(point, "MountainCarContinuous-v0")
    assert "buffer_size" not in other


def test_zoo_import(tmp_path):
    shutil.copy(DATA / "zoo_sac.yml", tmp_path / "zoo_sac.yml")
    text = """\
environments:
  Pendulum-v1: {budget: 1000}
  MountainCarContinuous-v0: {budget: 1000}
  CartPole-v1: {budget: 1000}
algorithms:
  sac:
    class: SAC
    zoo: zoo_sac.yml
    environments: [Pendulum-v1, MountainCarContinuous-v0]
    hyperparameters: {buffer_size: 1000}
    per_env:
      MountainCarContinuous-v0: {batch_size: 64}
design: {type: grid}
seeds: 1
"""
    suite = load_suite(write(tmp_path, text))
    assert suite.name == "suite"  # defaults to the file stem
    sac = suite.algorithms["sac"]
    pend = sac.base_config("Pendulum-v1")
    assert pend["learning_rate"] == 1e-3  # bare 1e-3 (a PyYAML string) read as a number
    assert pend["learning_starts"] == 10000  # merged from the anchor
    assert pend["gamma"] == 0.98
    assert pend["train_freq"] == [1, "episode"]
    assert pend["buffer_size"] == 1000  # suite hyperparameters beat the zoo
    assert "n_timesteps" not in pend and "policy" not in pend
    assert pend["policy_kwargs"] == {"log_std_init": -3, "net_arch": [400, 300],
                                     "activation_fn": "relu"}
    car = sac.base_config("MountainCarContinuous-v0")
    assert car["learning_rate"] == 3e-4 and car["use_sde"] is True
    assert car["batch_size"] == 64  # per_env beats the zoo
    assert car["policy_kwargs"]["net_arch"] == {"pi": [64, 64], "qf": [64, 64]}
    assert sac.policy_for("Pendulum-v1") == "MlpPolicy"
    assert suite.resolved["algorithms"]["sac"]["zoo_defaults"]["Pendulum-v1"]["gamma"] == 0.98


def test_zoo_unsupported_keys_are_named(tmp_path):
    shutil.copy(DATA / "zoo_sac.yml", tmp_path / "zoo_sac.yml")
    text = """\
environments:
  LunarLanderContinuous-v3: {budget: 1000}
algorithms:
  sac: {class: SAC, zoo: zoo_sac.yml}
design: {type: grid}
seeds: 1
"""
    with pytest.raises(SuiteError) as info:
        load_suite(write(tmp_path, text))
    err = info.value
    assert err.file == str(tmp_path / "zoo_sac.yml")
    assert "env_wrapper" in err.message and "callback" in err.message
    assert err.key == "LunarLanderContinuous-v3.env_wrapper"
    zoo_lines = (DATA / "zoo_sac.yml").read_text().splitlines()
    assert zoo_lines[err.line - 1].strip() == "env_wrapper:"
    assert "remove" in err.hint


def test_zoo_missing_file_and_entry(tmp_path):
    text = """\
environments:
  CartPole-v1: {budget: 1000}
algorithms:
  dqn: {class: DQN, zoo: nowhere.yml}
design: {type: grid}
seeds: 1
"""
    with pytest.raises(SuiteError) as info:
        load_suite(write(tmp_path, text))
    assert info.value.key == "algorithms.dqn.zoo" and info.value.line == 4
    assert "relative to the suite file" in info.value.hint
    (tmp_path / "nowhere.yml").write_text("Pendulum-v1: {gamma: 0.9}\n")
    with pytest.raises(SuiteError) as info:
        load_suite(write(tmp_path, text))
    assert "CartPole-v1" in info.value.message and "default" in info.value.hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dict(a=1, b=[2, 3.5], c='x', d=None, e=True)",
         {"a": 1, "b": [2, 3.5], "c": "x", "d": None, "e": True}),
        ("dict(activation_fn=nn.Tanh, net_arch=dict(pi=[64], vf=[64]))",
         {"activation_fn": "tanh", "net_arch": {"pi": [64], "vf": [64]}}),
        ("{'norm_obs': True, 'norm_reward': False}", {"norm_obs": True, "norm_reward": False}),
        ("dict(activation_fn=th.nn.LeakyReLU, log_std_init=-2)",
         {"activation_fn": "leaky_relu", "log_std_init": -2}),
    ],
)
def test_parse_literal(text, expected):
    assert parse_literal(text) == expected


@pytest.mark.parametrize(
    "text",
    ["__import__('os').system('true')", "dict(optimizer_class=th.optim.Adam)",
     "dict(**other)", "[x for x in range(3)]", "dict(a=1 + 2)", "os.getcwd()"],
)
def test_parse_literal_refuses_code(text):
    with pytest.raises(LiteralError):
        parse_literal(text)


def test_smoke_suite_loads():
    suite = load_suite(ROOT / "suites" / "smoke.yaml")
    assert suite.name == "smoke"
    assert len(suite.algorithms) == 2
    for algorithm in suite.algorithms.values():
        assert set(algorithm.environments) == set(suite.environments)
    assert suite.evaluation.episodes == 5
    tiny = load_suite(ROOT / "suites" / "smoke.yaml", scale="tiny")
    assert all(b <= 500 for a in tiny.algorithms.values() for b in a.budget.values())
    assert len(tiny.seeds.roles()) == 2


def test_yaml_merge_keys_in_suites(tmp_path):
    text = """\
common: &common {budget: 1000}
environments:
  Pendulum-v1: {<<: *common}
algorithms:
  ppo: {class: PPO}
design: {type: grid}
seeds: 1
"""
    with pytest.raises(SuiteError) as info:
        load_suite(write(tmp_path, text))
    assert info.value.key == "common" and info.value.line == 1  # unknown top-level key
    fixed = text.replace("common: &common {budget: 1000}\n", "").replace(
        "Pendulum-v1: {<<: *common}", "Pendulum-v1: &p {budget: 1000}\n  CartPole-v1: {<<: *p}")
    suite = load_suite(write(tmp_path, fixed))
    assert suite.environments["CartPole-v1"].budget == 1000
