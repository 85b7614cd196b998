"""Which hyperparameters each algorithm accepts, and checks of their values.

The accepted names are the SB3 constructor signature of the class (read with ``inspect``, so
they follow the installed SB3 version) plus the rl-baselines3-zoo conventions the trainer
translates (``rlsens.vocabulary``): ``noise_type``/``noise_std`` (classes taking
``action_noise``), ``n_envs``, ``normalize``, the ``net_arch``/``activation_fn`` shorthands and
``lin_<x>`` schedules. Values are checked against what SB3 accepts (``RANGES``). Checking at
load time turns a typo that would crash run 37 of 200 into an error before anything runs.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from rlsens.suite.limits import MAX_ENVS_PER_RUN
from rlsens.vocabulary import (
    ACTIVATIONS,
    ALGORITHM_CLASSES,
    LINEAR_PREFIX,
    NOISE_TYPES,
    OPTIMIZERS,
    SCHEDULED,
    algorithm_class,
    lookup,
)

# Constructor arguments that are not hyperparameters, and what to write instead.
NOT_HYPERPARAMETERS = {
    "policy": "set the algorithm's `policy:` key",
    "env": "environments are listed under `environments:`",
    "seed": "seeds are set by the top-level `seeds:` key",
    "device": "rlsens picks the device from `resources.gpus`",
    "verbose": "rlsens controls logging",
    "tensorboard_log": "rlsens records learning curves itself",
    "_init_setup_model": "this is an SB3 internal",
    "action_noise": "use `noise_type` (normal, ornstein-uhlenbeck, none) and `noise_std`",
    "replay_buffer_class": "custom buffer classes cannot be named in a suite",
    "rollout_buffer_class": "custom buffer classes cannot be named in a suite",
}
EXTRAS = ("n_envs", "normalize", "net_arch", "activation_fn")
NOISE_EXTRAS = ("noise_type", "noise_std")
_SCHEDULE = re.compile(re.escape(LINEAR_PREFIX) + r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


@dataclass(frozen=True)
class Range:
    """The values SB3 accepts for one hyperparameter.

    ``kind`` is ``int``, ``number`` or ``bool``; ``low``/``high`` bound numbers (``open_low``
    excludes ``low``); ``also`` lists other values taken as they are (``-1`` for "as many
    gradient steps as env steps", ``None`` for "off", SAC's ``auto``).
    """

    kind: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    also: tuple[Any, ...] = ()

    def problem(self, name: str, value: Any) -> str | None:
        if any(type(value) is type(other) and value == other for other in self.also):
            return None
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"{name} must be true or false"
        if not _plain_number(value):
            return f"{name} must be {'an integer' if self.kind == 'int' else 'a number'}, " \
                   f"got {value!r}"
        if self.kind == "int" and not isinstance(value, int):
            return f"{name} must be an integer, got {value!r}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{name} must be finite, got {value!r}"
        if self.low is not None and (value < self.low or (self.open_low and value == self.low)):
            return f"{name} must be {'>' if self.open_low else '>='} {self.low:g}, got {value!r}"
        if self.high is not None and value > self.high:
            return f"{name} must be <= {self.high:g}, got {value!r}"
        return None

    def describe(self) -> str:
        text = {"int": "an integer", "number": "a number", "bool": "true or false"}[self.kind]
        if self.low is not None:
            text += f" {'>' if self.open_low else '>='} {self.low:g}"
        if self.high is not None:
            text += f" and <= {self.high:g}"
        shown = [("null" if v is None else repr(v)) for v in self.also]
        return text + (f" (or {', '.join(shown)})" if shown else "")


def _plain_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_FRACTION = Range("number", 0.0, 1.0)
_POSITIVE = Range("number", 0.0, open_low=True)
_NON_NEGATIVE = Range("number", 0.0)
_COUNT = Range("int", 1)
_FLAG = Range("bool")
# What SB3 2.x accepts (or what makes sense at all: a discount above 1 trains, then diverges).
RANGES: dict[str, Range] = {
    "gamma": _FRACTION, "gae_lambda": _FRACTION, "tau": _FRACTION,
    "exploration_fraction": _FRACTION, "exploration_initial_eps": _FRACTION,
    "exploration_final_eps": _FRACTION,
    "learning_rate": _POSITIVE, "clip_range": _POSITIVE, "max_grad_norm": _POSITIVE,
    "rms_prop_eps": _POSITIVE,
    "clip_range_vf": Range("number", 0.0, open_low=True, also=(None,)),
    "target_kl": Range("number", 0.0, open_low=True, also=(None,)),
    "vf_coef": _NON_NEGATIVE, "noise_std": _NON_NEGATIVE, "target_policy_noise": _NON_NEGATIVE,
    "target_noise_clip": _NON_NEGATIVE,
    "ent_coef": Range("number", 0.0, also=("auto",)),
    "batch_size": _COUNT, "buffer_size": _COUNT, "n_steps": _COUNT, "n_epochs": _COUNT,
    "target_update_interval": _COUNT, "policy_delay": _COUNT, "stats_window_size": _COUNT,
    # copies of the environment stepped in one process; thousands would exhaust its memory
    "n_envs": Range("int", 1, MAX_ENVS_PER_RUN),
    "learning_starts": Range("int", 0),
    "gradient_steps": Range("int", 1, also=(-1,)),
    "sde_sample_freq": Range("int", -1),
    "use_sde": _FLAG, "use_sde_at_warmup": _FLAG, "normalize_advantage": _FLAG,
    "use_rms_prop": _FLAG, "optimize_memory_usage": _FLAG,
}
_TRAIN_FREQ_UNITS = ("step", "episode")


@cache
def accepted(name: str) -> tuple[str, ...]:
    """Hyperparameter names the suite may set for algorithm class ``name``."""
    params = inspect.signature(algorithm_class(name).__init__).parameters
    names = [p for p in params if p != "self" and p not in NOT_HYPERPARAMETERS]
    names += EXTRAS
    if "action_noise" in params:
        names += NOISE_EXTRAS
    return tuple(names)


@cache
def policies(name: str) -> tuple[str, ...]:
    return tuple(algorithm_class(name).policy_aliases)


def check_name(name: str, algo_class: str) -> tuple[str, str] | None:
    """``None`` if ``name`` is a hyperparameter of ``algo_class``, else ``(message, hint)``."""
    names = accepted(algo_class)
    if name in names:
        return None
    if name in NOT_HYPERPARAMETERS:
        return f"{name!r} is not a hyperparameter", NOT_HYPERPARAMETERS[name]
    owners = [c for c in ALGORITHM_CLASSES if c != algo_class and name in accepted(c)]
    if owners:
        return (f"{algo_class} does not accept {name!r} (an argument of {', '.join(owners)})",
                f"{algo_class} accepts: {', '.join(sorted(names))}")
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (f"unknown hyperparameter {name!r} for {algo_class}",
            f"{hint}{algo_class} accepts: {', '.join(sorted(names))}")


def check_value(name: str, value: Any) -> str | None:
    """A problem with a hyperparameter's value that is certain to fail its runs, else ``None``.

    Checked: rlsens's own conventions (schedules, activation and optimizer names, network
    shapes, noise types) and the types and ranges of ``RANGES``; SB3 checks anything else
    when the run starts.
    """
    if name in SCHEDULED and isinstance(value, str):
        if not _SCHEDULE.fullmatch(value):
            return f"schedule {value!r} is not of the form lin_<number> (e.g. lin_3e-4)"
        start = float(value[len(LINEAR_PREFIX):])
        return RANGES[name].problem(f"{name} (start of the schedule)", start)
    if name == "ent_coef" and isinstance(value, str) and value.startswith("auto_"):
        return _POSITIVE.problem("ent_coef (initial value of auto_<x>)",
                                 _number_or_none(value[len("auto_"):]))
    if name in RANGES:
        return RANGES[name].problem(name, value)
    if name == "train_freq":
        return _train_freq(value)
    if name == "activation_fn" and lookup(ACTIVATIONS, value) is None:
        return f"activation {value!r} is not one of {', '.join(ACTIVATIONS)}"
    if name == "noise_type" and value is not None and (
            not isinstance(value, str) or value not in NOISE_TYPES):
        return f"noise_type {value!r} is not one of {', '.join(NOISE_TYPES)}"
    if name == "net_arch" and not _net_arch(value):
        return ("net_arch must be a list of positive layer widths, or a mapping of "
                "pi/vf/qf to such lists")
    if name == "normalize" and not isinstance(value, (bool, dict)):
        return "normalize must be true, false or a mapping of VecNormalize arguments"
    if name in ("policy_kwargs", "replay_buffer_kwargs", "rollout_buffer_kwargs") and not (
        isinstance(value, dict)
    ):
        return f"{name} must be a mapping"
    if name == "policy_kwargs" and isinstance(value, dict):
        return _policy_kwargs(value)
    return None


@cache
def sb3_default(algo_class: str, name: str) -> Any:
    """SB3's default for ``name`` in the installed version (``None`` if it has none)."""
    parameter = inspect.signature(algorithm_class(algo_class).__init__).parameters.get(name)
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return None
    return parameter.default


def combination_problem(algo_class: str, config: dict[str, Any]) -> tuple[str, str] | None:
    """Values that SB3 refuses together, each fine alone, as ``(key, message)``; else None.

    SB3 asserts these when the model is built or training starts, so a suite holding them
    validates and then every run of it fails. ``config`` is a run's full hyperparameters;
    what it leaves out takes SB3's default.
    """
    def value(name: str) -> Any:
        return config[name] if name in config else sb3_default(algo_class, name)

    n_envs = config.get("n_envs", 1)
    if algo_class == "PPO" and value("normalize_advantage"):
        if value("batch_size") <= 1:
            return "batch_size", (f"PPO with normalize_advantage (on by default) needs "
                                  f"batch_size > 1, got {value('batch_size')}")
        if value("n_steps") * n_envs <= 1:
            return "n_steps", (f"PPO with normalize_advantage (on by default) needs "
                               f"n_steps x n_envs > 1, got {value('n_steps')} x {n_envs}")
    buffer_kwargs = config.get("replay_buffer_kwargs") or {}
    if config.get("optimize_memory_usage") and buffer_kwargs.get(
            "handle_timeout_termination", True):
        return "optimize_memory_usage", (
            "optimize_memory_usage: true needs replay_buffer_kwargs: "
            "{handle_timeout_termination: false} (SB3's replay buffer supports only one)")
    train_freq = config.get("train_freq")
    if isinstance(train_freq, list) and train_freq[1] == "episode" and n_envs > 1:
        return "train_freq", (f"train_freq {train_freq} counts episodes, which SB3 allows "
                              f"with one environment only, got n_envs {n_envs}")
    return None


def value_hint(name: str) -> str:
    """What ``name`` accepts, for error hints."""
    if name in RANGES:
        hint = RANGES[name].describe()
        return hint + (", or lin_<number> for a linear schedule" if name in SCHEDULED else "")
    hints = {
        "activation_fn": "one of " + ", ".join(ACTIVATIONS),
        "net_arch": "e.g. [64, 64] or {pi: [64, 64], vf: [64, 64]}",
        "noise_type": ", ".join(NOISE_TYPES),
        "train_freq": "a positive integer, or [n, step] / [n, episode]",
        "policy_kwargs": "a mapping, e.g. {net_arch: [64, 64], activation_fn: tanh}",
    }
    return hints.get(name, "see the SB3 documentation of this argument")


def as_integer_if_whole(name: str, value: Any) -> Any:
    """``1e6`` -> ``1000000`` for arguments SB3 needs as integers (YAML reads ``1e6`` as a
    float, and ``buffer_size: 1e6`` means a million); any other value is returned as is."""
    if is_integer_valued(name) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def is_integer_valued(name: str) -> bool:
    """Whether SB3 needs an integer for ``name`` (so only ``dist: int`` may search it)."""
    return name in RANGES and RANGES[name].kind == "int"


def _number_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _train_freq(value: Any) -> str | None:
    if isinstance(value, list):
        if (len(value) == 2 and _COUNT.problem("train_freq", value[0]) is None
                and value[1] in _TRAIN_FREQ_UNITS):
            return None
        return f"train_freq {value!r} is not [n, step] or [n, episode] with n >= 1"
    return _COUNT.problem("train_freq", value)


def _policy_kwargs(value: dict[str, Any]) -> str | None:
    if "net_arch" in value and not _net_arch(value["net_arch"]):
        return "policy_kwargs.net_arch must be a list of positive widths or a pi/vf/qf map"
    act = value.get("activation_fn")
    if act is not None and lookup(ACTIVATIONS, act) is None:
        return f"policy_kwargs.activation_fn {act!r} is not one of {', '.join(ACTIVATIONS)}"
    optimizer = value.get("optimizer_class")
    if optimizer is not None and lookup(OPTIMIZERS, optimizer) is None:
        return (f"policy_kwargs.optimizer_class {optimizer!r} is not one of "
                f"{', '.join(OPTIMIZERS)}")
    return None


def _widths(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in value)


def _net_arch(value: Any) -> bool:
    if isinstance(value, dict):
        return bool(value) and set(value) <= {"pi", "vf", "qf"} and all(
            _widths(v) for v in value.values())
    return _widths(value)
