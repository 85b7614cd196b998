"""``validate`` means "these runs can start": each class of suite that used to validate and then
fail every run (issue 10) is refused at load, with file, line, key and a fix; and names that
become paths, zoo paths and null or mistyped values are refused without a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rlsens.cli import main
from rlsens.errors import SuiteError
from rlsens.suite import load_suite
from rlsens.suite.algorithms import ZOO_DIRS_VARIABLE
from rlsens.suite.environments import _probe

BASE = """\
name: checks
environments:
  Pendulum-v1: {budget: 1000}
algorithms:
  sac:
    class: SAC
    hyperparameters: {learning_starts: 100, batch_size: 64}
    search_space:
      learning_rate: {dist: log_uniform, low: 1.0e-4, high: 1.0e-3}
      one_minus_gamma: {dist: log_uniform, low: 1.0e-3, high: 0.1, aux: true}
      gamma: {derived: "1 - one_minus_gamma"}
design: {type: sobol, n: 4}
seeds: 2
"""


def replace(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def refused(tmp_path: Path, text: str, name: str = "checks.yaml") -> SuiteError:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert info.value.file is not None and info.value.hint
    return info.value


def line_of(text: str, fragment: str) -> int:
    return next(i + 1 for i, line in enumerate(text.splitlines()) if fragment in line)


@pytest.mark.parametrize(("algo_class", "env_id", "needs"), [
    ("SAC", "CartPole-v1", "continuous"), ("DDPG", "Acrobot-v1", "continuous"),
    ("TD3", "CartPole-v1", "continuous"), ("DQN", "Pendulum-v1", "discrete"),
])
def test_action_space_the_class_cannot_use(tmp_path, algo_class, env_id, needs) -> None:
    text = replace("class: SAC", f"class: {algo_class}").replace("Pendulum-v1", env_id)
    if algo_class == "DQN":
        text = text.replace("learning_starts: 100, batch_size: 64", "learning_starts: 100")
    err = refused(tmp_path, text)
    assert err.key == "algorithms.sac.class" and err.line == line_of(text, "class:")
    assert f"needs {needs}" in err.message and env_id in err.message


def test_registered_id_that_needs_a_missing_package(tmp_path) -> None:
    err = refused(tmp_path, BASE.replace("Pendulum-v1", "Hopper-v3"))
    assert err.key == "environments.Hopper-v3"
    assert "needs a package that is not installed" in err.message and "Hopper-v5" in err.hint
    err = refused(tmp_path, BASE.replace("Pendulum-v1", "ALE/Pong-v5"))
    assert "pip install ale-py" in err.hint


@pytest.mark.parametrize("kwargs", ["{foo: 1}", "{g: fast}"])
def test_env_kwargs_the_environment_does_not_take(tmp_path, kwargs) -> None:
    text = replace("{budget: 1000}", f"{{budget: 1000, env_kwargs: {kwargs}}}")
    err = refused(tmp_path, text)
    assert err.key == "environments.Pendulum-v1.env_kwargs"
    assert "cannot be built" in err.message


def test_probing_a_mujoco_environment_leaves_no_log_behind(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _probe.cache_clear()
    path = tmp_path / "mujoco.yaml"
    path.write_text(BASE.replace("Pendulum-v1", "InvertedPendulum-v5"))
    load_suite(path)
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()


def test_each_environment_is_built_once_per_process(tmp_path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(replace("{budget: 1000}", "{budget: 1000, env_kwargs: {g: 9.0}}"))
    load_suite(path)
    before = _probe.cache_info()
    load_suite(path)
    after = _probe.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 1


@pytest.mark.parametrize(("old", "new", "key"), [
    ("seeds: 2", "seeds: [0, 4294967296]", "seeds[1]"),
    ("seeds: 2", "seeds: {tune: [4294967295], report: 2}", "seeds.report"),
    ("name: checks", "name: checks\nseed: 4294967296", "seed"),
])
def test_seeds_outside_numpy_range(tmp_path, old, new, key) -> None:
    err = refused(tmp_path, replace(old, new))
    assert err.key == key and "4294967295" in err.message + err.hint


@pytest.mark.parametrize(("old", "new", "key", "fragment"), [
    ("batch_size: 64", "batch_size: big", "hyperparameters.batch_size", "must be an integer"),
    ("batch_size: 64", "batch_size: 64.5", "hyperparameters.batch_size", "must be an integer"),
    ("batch_size: 64", "batch_size: 0", "hyperparameters.batch_size", ">= 1"),
    ("batch_size: 64", "gamma: 7", "hyperparameters.gamma", "<= 1"),
    ("learning_starts: 100", "learning_starts: -1", "hyperparameters.learning_starts", ">= 0"),
    ("batch_size: 64", "train_freq: [1, epoch]", "hyperparameters.train_freq", "step"),
    ("batch_size: 64", "learning_rate: lin_-1", "hyperparameters.learning_rate", "> 0"),
    ("batch_size: 64", "ent_coef: auto_x", "hyperparameters.ent_coef", "auto_<x>"),
    ("batch_size: 64", "use_sde: 1", "hyperparameters.use_sde", "true or false"),
    ("batch_size: 64", "n_envs: 1e9", "hyperparameters.n_envs", "<= 1024, got 1000000000"),
    ("batch_size: 64", "policy_kwargs: {optimizer_class: lbfgs}", "hyperparameters.policy_kwargs",
     "optimizer_class"),
    ("low: 1.0e-4, high: 1.0e-3}", "low: 1.0e-4, high: 1.0e-3}\n      tau: {dist: uniform, "
     "low: 0.5, high: 1.5}", "search_space.tau.high", "<= 1"),
    ("low: 1.0e-4, high: 1.0e-3}", "low: 1.0e-4, high: 1.0e-3}\n      batch_size: {dist: "
     "uniform, low: 32, high: 256}", "search_space.batch_size.dist", "takes integers"),
    ("low: 1.0e-4, high: 1.0e-3}", "low: 1.0e-4, high: 1.0e-3}\n      batch_size: {dist: "
     "categorical, choices: [64, many]}", "search_space.batch_size.choices[1]", "integer"),
    ("low: 1.0e-4, high: 1.0e-3}", "low: 1.0e-4, high: 1.0e-3}\n      learning_starts: {dist: "
     "fixed, value: -5}", "search_space.learning_starts.value", ">= 0"),
])
def test_hyperparameter_values_sb3_refuses(tmp_path, old, new, key, fragment) -> None:
    err = refused(tmp_path, replace(old, new))
    assert err.key == f"algorithms.sac.{key}", str(err)
    assert fragment in err.message, str(err)


def test_whole_floats_become_integers_where_sb3_needs_integers(tmp_path) -> None:
    text = replace("learning_starts: 100, batch_size: 64",
                   "learning_starts: 1e2, batch_size: 64.0, buffer_size: 1.0e6, tau: 1.0")
    text = replace('"1 - one_minus_gamma"}', '"1 - one_minus_gamma"}\n      gradient_steps: '
                   '{derived: "2.0 * 4"}', text)
    path = tmp_path / "ints.yaml"
    path.write_text(text)
    algorithm = load_suite(path).algorithms["sac"]
    config = algorithm.resolve(algorithm.default_point, "Pendulum-v1")
    assert {k: (v, type(v)) for k, v in config.items() if k != "learning_rate"} == {
        "learning_starts": (100, int), "batch_size": (64, int), "buffer_size": (10**6, int),
        "tau": (1.0, float), "gamma": (config["gamma"], float), "gradient_steps": (8, int)}


@pytest.mark.parametrize(("expression", "fragment"), [
    ("1 + one_minus_gamma", "gamma must be <= 1"),
    ("10 ** 17 * 100", "exceeds the limit"),
])
def test_derived_value_out_of_range_or_too_large_to_hash(tmp_path, expression, fragment) -> None:
    err = refused(tmp_path, replace('"1 - one_minus_gamma"', f'"{expression}"'))
    assert err.key == "algorithms.sac.search_space.gamma.derived"
    assert fragment in err.message


@pytest.mark.parametrize(("old", "new", "key"), [
    ("name: checks", "name: ../../elsewhere", "name"),
    ("name: checks", "name: /tmp/abs", "name"),
    ("name: checks", "name: a/b", "name"),
    ("name: checks", "name: ..", "name"),
    ("name: checks", "name: .hidden", "name"),
    ("name: checks", "name: [1]", "name"),
    ("  sac:\n", "  ../sac:\n", "algorithms.../sac"),
    ("seeds: 2", "seeds: 2\nscales:\n  ../up: {seeds: 1}", "scales.../up"),
])
def test_names_that_become_paths(tmp_path, old, new, key) -> None:
    err = refused(tmp_path, replace(old, new))
    assert err.key == key and "cannot be used as a file name" in err.message


def test_file_name_is_checked_when_the_suite_has_no_name(tmp_path) -> None:
    err = refused(tmp_path, replace("name: checks\n", ""), name="my suite.yaml")
    assert err.key == "name"


ZOO = "Pendulum-v1:\n  learning_starts: 50\n"


def _with_zoo(zoo: str) -> str:
    return replace("    class: SAC\n", f"    class: SAC\n    zoo: {zoo}\n")


def test_zoo_outside_the_suite_folder_is_refused_without_quoting_it(tmp_path) -> None:
    err = refused(tmp_path, _with_zoo("/etc/passwd"))
    assert err.key == "algorithms.sac.zoo" and "outside the suite's folder" in err.message
    assert "root:" not in str(err) and ZOO_DIRS_VARIABLE in err.hint
    (tmp_path / "outside.yml").write_text(ZOO)
    suites = tmp_path / "suites"
    suites.mkdir()
    assert "outside" in refused(suites, _with_zoo("../outside.yml")).message
    os.symlink(tmp_path / "outside.yml", suites / "link.yml")
    assert "outside" in refused(suites, _with_zoo("link.yml")).message


def test_zoo_in_the_suite_folder_or_an_allowed_folder_loads(tmp_path, monkeypatch) -> None:
    (tmp_path / "zoo.yml").write_text(ZOO)
    path = tmp_path / "ok.yaml"
    path.write_text(_with_zoo("zoo.yml"))
    assert load_suite(path).algorithms["sac"].zoo_defaults["Pendulum-v1"] == {
        "learning_starts": 50}
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "zoo.yml").write_text(ZOO)
    suites = tmp_path / "suites"
    suites.mkdir()
    path = suites / "ok.yaml"
    path.write_text(_with_zoo("../shared/zoo.yml"))
    monkeypatch.setenv(ZOO_DIRS_VARIABLE, str(shared))
    assert load_suite(path).algorithms["sac"].zoo == "../shared/zoo.yml"


def test_zoo_values_are_checked_in_the_zoo_file(tmp_path) -> None:
    zoo = tmp_path / "zoo.yml"
    zoo.write_text(ZOO + "  gamma: 7\n")
    err = refused(tmp_path, _with_zoo("zoo.yml"))
    assert err.file == str(zoo) and err.key == "Pendulum-v1.gamma" and err.line == 3
    assert "<= 1" in err.message


@pytest.mark.parametrize(("old", "new", "key"), [
    ("seeds: 2", "seeds: 2\nresources: {cpus: null}", "resources.cpus"),
    ("seeds: 2", "seeds: 2\nresources: {gpus: null}", "resources.gpus"),
    ("seeds: 2", "seeds: 2\nresources: {cpus: many}", "resources.cpus"),
    ("seeds: 2", "seeds: 2\nevaluation: {every: null}", "evaluation.every"),
    ("seeds: 2", "seeds: null", "seeds"),
    ("{budget: 1000}", "{budget: 1000, env_kwargs: 3}", "environments.Pendulum-v1.env_kwargs"),
    ("design: {type: sobol, n: 4}", "design: {type: [sobol], n: 4}", "design.type"),
    ("{dist: log_uniform, low: 1.0e-4", "{dist: {a: 1}, low: 1.0e-4",
     "algorithms.sac.search_space.learning_rate.dist"),
    ("    class: SAC\n", "    class: SAC\n    environments: [{a: 1}]\n",
     "algorithms.sac.environments[0]"),
    ("batch_size: 64", "noise_type: [normal]", "algorithms.sac.hyperparameters.noise_type"),
])
def test_null_and_wrong_types(tmp_path, old, new, key) -> None:
    assert refused(tmp_path, replace(old, new)).key == key


def test_errors_quoting_huge_values_are_shortened(tmp_path) -> None:
    err = refused(tmp_path, replace("batch_size: 64", "batch_size: " + "x" * 100_000))
    assert err.key == "algorithms.sac.hyperparameters.batch_size"
    assert len(err.message) < 600 and err.message.endswith("(shortened)")


@pytest.mark.parametrize("tag", ["!!binary", "!!set", "!!timestamp", "!!python/object:os.system",
                                 "!custom", "!!omap"])
def test_yaml_tags_that_build_other_objects(tmp_path, tag) -> None:
    text = replace("learning_starts: 100", f"learning_starts: {tag} {{a: 1}}")
    err = refused(tmp_path, text)
    assert f"YAML tag {tag.split()[0]} is not supported" in err.message
    assert err.line == line_of(text, "learning_starts")
    assert "!!float" in err.hint


@pytest.mark.parametrize("content", [
    BASE.replace("seeds: 2", "seeds: 2\nresources: {cpus: null}").encode(),
    BASE.encode("utf-16"),
    ("description: '" + "x" * 100 + "'\n" + BASE.replace('"1 - one_minus_gamma"',
                                                        '"' + "-" * 450 + '1"')).encode(),
])
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_cli_exits_2_with_a_message_not_a_traceback(tmp_path, capsys, content, command) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    assert main([command, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}") and "Traceback" not in err and "hint:" in err


@pytest.mark.parametrize(("noise", "fragment"), [
    ("noise_std: 0.1", "noise_std is set but noise_type is not"),
    ("noise_type: normal", "needs noise_std"),
])
def test_action_noise_needs_its_type_and_its_scale(tmp_path, noise, fragment) -> None:
    err = refused(tmp_path, replace("batch_size: 64}", f"batch_size: 64, {noise}}}"))
    assert err.key == "algorithms.sac.hyperparameters" and fragment in err.message, str(err)


def test_action_noise_pair_loads_when_complete_or_none(tmp_path) -> None:
    for noise in ("noise_type: normal, noise_std: 0.1", "noise_type: none"):
        path = tmp_path / "noise.yaml"
        path.write_text(replace("batch_size: 64}", f"batch_size: 64, {noise}}}"))
        assert load_suite(path).algorithms["sac"].hyperparameters["noise_type"] in (
            "normal", "none")


def test_zoo_outside_the_folder_is_refused_whether_or_not_it_exists(tmp_path) -> None:
    """Containment is checked before existence: otherwise "not found" versus "outside" would
    tell a suite which files exist elsewhere on the machine."""
    for missing in ("/etc/no-such-file.yml", "../no-such-file.yml", "/dev/zero"):
        err = refused(tmp_path, _with_zoo(missing))
        assert "outside the suite's folder" in err.message, missing
    assert "not found" in refused(tmp_path, _with_zoo("no-such-file.yml")).message


PPO = """\
name: combos
environments:
  CartPole-v1: {budget: 1000}
algorithms:
  ppo:
    class: PPO
    hyperparameters: {n_steps: 64, batch_size: 32}
design: {type: random, n: 1}
seeds: 1
"""


@pytest.mark.parametrize(("old", "new", "key", "fragment"), [
    ("batch_size: 32", "batch_size: 1", "algorithms.ppo.hyperparameters", "batch_size > 1"),
    ("n_steps: 64", "n_steps: 1", "algorithms.ppo.hyperparameters", "n_steps x n_envs > 1"),
    ("hyperparameters: {n_steps: 64, batch_size: 32}",
     "hyperparameters: {n_steps: 64}\n    search_space:\n"
     "      batch_size: {dist: categorical, choices: [1]}",
     "algorithms.ppo.search_space.batch_size", "batch_size > 1"),
    ("batch_size: 32", "batch_size: 32, use_sde: true", "algorithms.ppo.hyperparameters.use_sde",
     "needs continuous (Box) actions"),
    ("batch_size: 32", "batch_size: 32}\n    search_space:\n"
     "      use_sde: {dist: categorical, choices: [false, true]", "algorithms.ppo.search_space"
     ".use_sde", "needs continuous (Box) actions"),
])
def test_values_sb3_refuses_together(tmp_path, old, new, key, fragment) -> None:
    """Each value is fine alone; SB3 asserts on the combination when every run starts (PPO's
    advantage normalisation needs a batch of two, state-dependent exploration a Box)."""
    text = replace(old, new, PPO)
    err = refused(tmp_path, text)
    assert err.key == key and fragment in err.message, err


def test_values_sb3_takes_together_still_load(tmp_path) -> None:
    for old, new in [("n_steps: 64", "n_steps: 1, normalize_advantage: false"),
                     ("batch_size: 32", "batch_size: 32, use_sde: false")]:
        path = tmp_path / "ok.yaml"
        path.write_text(replace(old, new, PPO))
        assert load_suite(path).name == "combos"
    path.write_text(replace("CartPole-v1", "Pendulum-v1", replace(
        "batch_size: 32", "batch_size: 32, use_sde: true", PPO)))
    assert load_suite(path).name == "combos"


def test_memory_optimised_buffer_needs_timeouts_off(tmp_path) -> None:
    text = replace("batch_size: 64}", "batch_size: 64, optimize_memory_usage: true}")
    err = refused(tmp_path, text)
    assert err.key == "algorithms.sac.hyperparameters"
    assert "handle_timeout_termination: false" in err.message
    path = tmp_path / "ok.yaml"
    path.write_text(replace("batch_size: 64}", "batch_size: 64, optimize_memory_usage: true, "
                            "replay_buffer_kwargs: {handle_timeout_termination: false}}"))
    assert load_suite(path).name == "checks"


def test_episodic_train_freq_needs_one_environment(tmp_path) -> None:
    text = replace("hyperparameters: {learning_starts: 100, batch_size: 64}",
                   "hyperparameters: {learning_starts: 100, n_envs: 2, train_freq: [1, episode]}")
    err = refused(tmp_path, text)
    assert err.key == "algorithms.sac.hyperparameters" and "one environment only" in err.message


@pytest.mark.parametrize("env_id", ["PongNoFrameskip-v4", "BreakoutDeterministic-v4",
                                    "Pong-ram-v4", "SpaceInvaders-ramNoFrameskip-v4"])
def test_legacy_atari_ids_name_ale_py(tmp_path, env_id) -> None:
    err = refused(tmp_path, BASE.replace("Pendulum-v1", env_id))
    assert err.key == f"environments.{env_id}" and "pip install ale-py" in err.hint


def test_values_refused_together_at_a_planned_point_fail_validate(tmp_path, capsys) -> None:
    """The default configuration is fine, one grid point is not: `rlsens validate` plans
    every point, so it still exits 2 and names the dimension."""
    path = tmp_path / "grid.yaml"
    path.write_text(replace(
        "hyperparameters: {n_steps: 64, batch_size: 32}\ndesign: {type: random, n: 1}",
        "hyperparameters: {n_steps: 64}\n    search_space:\n"
        "      batch_size: {dist: categorical, choices: [32, 1]}\ndesign: {type: grid}", PPO))
    assert load_suite(path).name == "combos"
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "algorithms.ppo.search_space.batch_size" in err and "batch_size > 1" in err
    assert "Traceback" not in err


def test_validate_without_scale_checks_every_scale(tmp_path, capsys) -> None:
    """A scale whose runs cannot start fails `rlsens validate` without --scale; with --scale
    only that scale is checked, and each checked scale gets its ok line."""
    path = tmp_path / "scaled.yaml"
    path.write_text(BASE + "scales:\n  big:\n    seeds: 1e9\n  small:\n    seeds: 1\n")
    assert main(["validate", str(path)]) == 2
    assert "scales.big.seeds" in capsys.readouterr().err
    assert main(["validate", str(path), "--scale", "small"]) == 0
    assert capsys.readouterr().out.count(": ok (scale") == 1
    path.write_text(BASE + "scales:\n  small:\n    seeds: 1\n")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "scale None" in out and "scale 'small'" in out
