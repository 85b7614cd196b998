"""Each environment of a suite, built once at load time: can its runs start at all?

A registered id may still fail every run: mujoco v2/v3 ids need mujoco-py, Box2D ids need
box2d, ``env_kwargs`` may name arguments the environment does not take, and SB3's off-policy
continuous-control classes refuse discrete actions (DQN the reverse). Building the environment
once (``gymnasium.make``, a reset and one step) answers all of these in milliseconds for the
environments rlsens targets; the result is cached per id and keyword arguments for the life
of the process, so ``validate``, ``plan`` and ``run`` in one process build it once.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from rlsens.spec import canonical_json
from rlsens.vocabulary import CONTINUOUS_ACTIONS_ONLY, DISCRETE_ACTIONS_ONLY

# Packages behind environment families that Gymnasium registers but does not install, by a
# pattern of their ids: ale-py registers the ALE/ namespace and the legacy Atari ids that
# rl-baselines3-zoo and older papers use (PongNoFrameskip-v4, Breakout-ramDeterministic-v4).
_ATARI_HINT = "Atari environments need ale-py: pip install ale-py (and gymnasium.register_envs)"
PACKAGE_HINTS = {
    r"ALE/": _ATARI_HINT,
    r"[A-Z][A-Za-z]*(-ram)?(NoFrameskip|Deterministic)-v[04]$": _ATARI_HINT,
    r"[A-Z][A-Za-z]*-ram-v[045]$": _ATARI_HINT,
}
MUJOCO_V2_V3_HINT = ("mujoco v2/v3 ids need the unmaintained mujoco-py; use the v5 id instead "
                     "(e.g. Hopper-v5, which needs `pip install mujoco`)")


@dataclass(frozen=True)
class EnvSpaces:
    """What the suite checks need to know about an environment's spaces."""

    action_space: str
    continuous_actions: bool
    discrete_actions: bool
    dict_observations: bool


class EnvProblem(Exception):
    """An environment that cannot be built or stepped; ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.message, self.hint = message, hint


def package_hint(env_id: str) -> str | None:
    """Which package an id of an uninstalled family needs, if rlsens knows it."""
    return next((hint for pattern, hint in PACKAGE_HINTS.items() if re.match(pattern, env_id)),
                None)


def probe(env_id: str, env_kwargs: Mapping[str, Any]) -> EnvSpaces:
    """Build ``env_id`` with ``env_kwargs``, reset and step it once; raise ``EnvProblem``."""
    outcome = _probe(env_id, canonical_json(dict(env_kwargs)))
    if isinstance(outcome, EnvProblem):
        raise outcome
    return outcome


@cache
def _probe(env_id: str, kwargs_json: str) -> EnvSpaces | EnvProblem:
    import gymnasium

    kwargs = json.loads(kwargs_json)
    env = None
    try:
        with warnings.catch_warnings(), _quiet_mujoco(env_id):
            warnings.simplefilter("ignore")
            env = gymnasium.make(env_id, **kwargs)
            env.reset(seed=0)
            env.step(env.action_space.sample())
    except ImportError as exc:
        text = str(exc)
        hint = MUJOCO_V2_V3_HINT if "mujoco" in text.lower() and "v2 and v3" in text else text
        return EnvProblem(f"{env_id} needs a package that is not installed", hint)
    except TypeError as exc:
        return EnvProblem(f"{env_id} cannot be built with env_kwargs {kwargs}: {_first(exc)}",
                          "env_kwargs must be arguments of the environment's constructor")
    except Exception as exc:  # an environment's own failure, whatever it raises
        return EnvProblem(f"{env_id} cannot be built and stepped"
                          f"{' with env_kwargs ' + str(kwargs) if kwargs else ''}: "
                          f"{type(exc).__name__}: {_first(exc)}",
                          "check env_kwargs and that the environment runs in this Python")
    finally:
        if env is not None:
            env.close()
    action, observation = env.action_space, env.observation_space
    return EnvSpaces(
        action_space=str(action),
        continuous_actions=isinstance(action, gymnasium.spaces.Box),
        discrete_actions=isinstance(action, gymnasium.spaces.Discrete),
        dict_observations=isinstance(observation, (gymnasium.spaces.Dict,
                                                   gymnasium.spaces.Tuple)),
    )


@contextmanager
def _quiet_mujoco(env_id: str) -> Iterator[None]:
    """Silence MuJoCo's compiler warnings while probing: about Gymnasium's own model files,
    they go to stderr and to MUJOCO_LOG.TXT in the working folder, and validating a suite must
    not leave files behind. The previous handler is restored afterwards."""
    import gymnasium

    try:
        entry_point = str(gymnasium.spec(env_id).entry_point)
    except gymnasium.error.Error:
        entry_point = ""
    if "mujoco" not in entry_point:
        yield
        return
    import mujoco

    previous = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(lambda message: None)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


def _first(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def compatibility(algo_class: str, policy: str, spaces: EnvSpaces) -> str | None:
    """Why ``algo_class`` with ``policy`` cannot train on these spaces, else ``None``."""
    if algo_class in CONTINUOUS_ACTIONS_ONLY and not spaces.continuous_actions:
        return (f"{algo_class} needs continuous (Box) actions; this environment has "
                f"{spaces.action_space}")
    if algo_class in DISCRETE_ACTIONS_ONLY and not spaces.discrete_actions:
        return (f"{algo_class} needs discrete actions; this environment has "
                f"{spaces.action_space}")
    if spaces.dict_observations and policy != "MultiInputPolicy":
        return f"dict or tuple observations need policy MultiInputPolicy, not {policy}"
    return None
