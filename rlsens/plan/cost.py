"""The fitted cost model of a run: a rough CPU-time estimate for sizing a suite.

Kept apart from building the plan because it is data (fitted constants) rather than logic, and
changes when the model is refitted on new measurements, never when the suite format changes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from rlsens.spec import RunSpec
from rlsens.vocabulary import OFF_POLICY

# The cost model of ``estimate_cpu_seconds``: CPU-seconds fitted (least squares) to SB3 2.x
# runs timed with ``time.process_time`` on the 2-core development machine, one torch thread per
# run, next to other jobs: 16 off-policy runs (DDPG/TD3/SAC on Pendulum-v1 and
# InvertedPendulum-v5: networks [64, 64] to [400, 300], batch 32/256, train_freq 1/8), 7 DQN
# runs (CartPole-v1, Acrobot-v1: [64, 64]/[256, 256], batch 32-512, train_freq 1-8) and 10
# PPO/A2C runs (1-8 envs, rollouts 5-2048 steps, batch 32-256, 1-10 epochs, [64, 64] and
# [256, 256]). Every fitted run is reproduced within 20 %; the published anchors (DDPG/TD3 about
# 60 env steps per CPU-second at [400, 300] with 10k warm-up steps, SAC about 55 at [256, 256])
# within 25 %.
#
# A gradient update (off-policy gradient step, PPO/A2C minibatch) costs
# ``a + b * batch * weights`` seconds (``UPDATE_SECONDS``), ``weights`` being the size of one
# hidden network (``_weights``).
UPDATE_SECONDS = {  # class -> (a, b)
    "DDPG": (2.7e-3, 3.3e-10),
    "TD3": (2.7e-3, 3.3e-10),
    "SAC": (5.0e-3, 5.7e-10),
    "DQN": (1.45e-3, 1.5e-10),
    "PPO": (2.3e-3, 2.6e-10),
    "A2C": (2.2e-3, 2.6e-10),
}
# Off-policy: each ``train()`` call (once per ``train_freq`` env steps) costs this much on top of
# its gradient steps; it is why train_freq 8 with 8 gradient steps is cheaper than 1 with 1.
TRAIN_CALL_SECONDS = {"DDPG": 5.0e-4, "TD3": 5.0e-4, "SAC": 2.2e-4, "DQN": 2.5e-4}
# Per env step outside the updates (environment, action selection, buffer writes). Off-policy
# classes use one env; on-policy classes step ``n_envs`` envs with one batched forward pass:
# ``ON_POLICY_STEP_SECONDS + ON_POLICY_FORWARD_SECONDS / n_envs``.
OFF_POLICY_STEP_SECONDS = {"DDPG": 3.0e-4, "TD3": 3.0e-4, "SAC": 3.0e-4, "DQN": 1.5e-4}
ON_POLICY_STEP_SECONDS = 3.5e-5
ON_POLICY_FORWARD_SECONDS = 4.7e-4
# SB3 constructor defaults the estimate needs when a run does not set them.
CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
    "DDPG": {"net_arch": [400, 300], "batch_size": 256, "learning_starts": 100},
    "TD3": {"net_arch": [400, 300], "batch_size": 256, "learning_starts": 100},
    "SAC": {"net_arch": [256, 256], "batch_size": 256, "learning_starts": 100},
    "DQN": {"net_arch": [64, 64], "batch_size": 32, "learning_starts": 100, "train_freq": 4,
            "gradient_steps": 1},
    "PPO": {"net_arch": [64, 64], "batch_size": 64, "n_steps": 2048, "n_epochs": 10},
    "A2C": {"net_arch": [64, 64], "n_steps": 5},
}
# Input and output width assumed by ``_weights`` (the estimate does not build environments).
IO_WIDTH = 16
# Evaluation: seconds per evaluation env step (deterministic action + env step: 0.07-0.09 s per
# 200-step Pendulum-v1 episode measured), the episode length assumed when an environment's
# registration gives no time limit, and the fraction of the time limit assumed for
# environments whose episodes end when the agent fails (early policies fail fast; good ones
# last the whole limit).
EVAL_SECONDS_PER_STEP = 4.5e-4
DEFAULT_EPISODE_STEPS = 1000
EARLY_TERMINATION_FRACTION = {"CartPole": 0.5, "InvertedPendulum": 0.5,
                              "InvertedDoublePendulum": 0.5, "LunarLander": 0.5,
                              "LunarLanderContinuous": 0.5}
# Per run: building the environment and the model, writing the result.
RUN_OVERHEAD_SECONDS = 2.0
# Population trainer: training speed-up per core against one sb3 run, as (members, ratio),
# measured with benchmarks/bench_population.py on the 2-core development machine under load
# (docs/performance.md, population section): DDPG 64x64 batch 256 for the off-policy classes,
# PPO 64x64 n_steps 2048 for the on-policy ones. Beyond the last point the ratio stays flat.
POPULATION_SPEEDUP = {
    "off": ((1, 1.0), (4, 3.3), (16, 4.9), (64, 5.4)),
    "on": ((1, 1.0), (32, 15.2)),
}


@cache
def _episode_steps(env_id: str) -> int:
    import gymnasium

    spec = gymnasium.envs.registry.get(env_id)
    steps = getattr(spec, "max_episode_steps", None)
    return int(steps) if steps else DEFAULT_EPISODE_STEPS


def estimate_cpu_seconds(spec: RunSpec) -> float:
    """A rough CPU-time estimate of one run: training, evaluation episodes and a fixed overhead.

    Training (constants above, fitted to measured runs): every env step costs a fixed amount
    (on-policy: less per step with more ``n_envs``), every gradient update
    ``a + b * batch * weights``. Off-policy classes make ``(budget - learning_starts) /
    train_freq`` ``train()`` calls of ``gradient_steps`` updates each (``gradient_steps: -1``
    means one per env step; ``[n, "episode"]`` frequencies count as one call per env step); PPO
    makes ``n_epochs * ceil(rollout / batch_size)`` minibatch updates per rollout of
    ``n_steps * n_envs`` steps; A2C one update of the whole rollout. Evaluation assumes
    ``ceil(budget / every)`` evaluations (the trainer also evaluates at the end) of ``episodes``
    episodes as long as the time limit (times ``EARLY_TERMINATION_FRACTION`` for environments
    that end episodes on failure).

    Not modelled: observation and action sizes, ``use_sde``, normalisation, off-policy
    ``n_envs``, the hardware (expect a factor of two across machines and under load). Use it to
    size a suite ("minutes or days?"), not to plan a deadline.
    """
    return RUN_OVERHEAD_SECONDS + _train_seconds(spec) + _evaluation_seconds(spec)


def _train_seconds(spec: RunSpec) -> float:
    hp = {**CLASS_DEFAULTS[spec.algo_class], **spec.hyperparameters}
    a, b = UPDATE_SECONDS[spec.algo_class]
    weights = network_weights(spec)
    if spec.algo_class in OFF_POLICY:
        calls, per_call = _train_calls(hp, spec.budget)
        update = a + b * _positive_int(hp.get("batch_size"), 1) * weights
        train = (spec.budget * OFF_POLICY_STEP_SECONDS[spec.algo_class]
                 + calls * (TRAIN_CALL_SECONDS[spec.algo_class] + per_call * update))
    else:
        n_envs = _positive_int(hp.get("n_envs"), 1)
        rollout = _positive_int(hp.get("n_steps"), 1) * n_envs
        if spec.algo_class == "PPO":
            batch = min(_positive_int(hp.get("batch_size"), 1), rollout)
            per_rollout = _positive_int(hp.get("n_epochs"), 1) * math.ceil(rollout / batch)
        else:
            batch, per_rollout = rollout, 1
        step = ON_POLICY_STEP_SECONDS + ON_POLICY_FORWARD_SECONDS / n_envs
        train = spec.budget * step + spec.budget / rollout * per_rollout * (
            a + b * batch * weights)
    return train


def population_speedup(spec: RunSpec, members: int) -> float:
    """The training speed-up per core of ``members`` runs trained as one population group.

    Not fitted, measured: the ratios of ``POPULATION_SPEEDUP`` (DDPG 64x64 for off-policy
    classes, PPO 64x64 for on-policy ones, docs/performance.md), interpolated in log(members).
    Batching gains less with larger networks (at 256x256 a CPU is compute-bound already), so
    the gain above 1 is scaled down by the network's size relative to 64x64.
    """
    points = POPULATION_SPEEDUP["off" if spec.algo_class in OFF_POLICY else "on"]
    k = max(1, members)
    ratio = points[-1][1]
    for (k0, r0), (k1, r1) in itertools.pairwise(points):
        if k <= k1:
            ratio = r0 + (r1 - r0) * (math.log(k) - math.log(k0)) / (math.log(k1) - math.log(k0))
            break
    size = min(1.0, _weights([64, 64]) / network_weights(spec))
    return 1.0 + (ratio - 1.0) * size


# Measured / modelled CPU time of population groups: the 84 groups of the two committed
# reference stores (results/reference/ddpg: 1,832 s against 5,047 s modelled; ddpg-td3-sac:
# 7,369 s against 16,718 s; per group 0.25-0.74, per algorithm 0.41-0.44). The model's parts
# are sb3 costs divided by training-only speed-ups of 4-member DDPG groups; it misses what a
# group shares (one process, one evaluation env pool, one import), which this factor restores.
POPULATION_MEASURED_RATIO = 0.42


def estimate_group_cpu_seconds(specs: Sequence[RunSpec]) -> float:
    """A rough CPU-time estimate of one population group (one process) training ``specs``.

    One run's overhead for the whole group, each member's training at its sb3 cost divided by
    ``population_speedup`` (environment stepping per member plus the batched update), and each
    member's evaluations as in an sb3 run (members are evaluated one after another), scaled by
    ``POPULATION_MEASURED_RATIO``, fitted to measured groups.
    """
    if len(specs) == 1 and specs[0].trainer != "population":
        return estimate_cpu_seconds(specs[0])
    return POPULATION_MEASURED_RATIO * (RUN_OVERHEAD_SECONDS + sum(
        _train_seconds(s) / population_speedup(s, len(specs)) + _evaluation_seconds(s)
        for s in specs
    ))


def _evaluation_seconds(spec: RunSpec) -> float:
    limit = int(spec.env_kwargs.get("max_episode_steps") or _episode_steps(spec.env_id))
    fraction = EARLY_TERMINATION_FRACTION.get(spec.env_id.split("-v")[0], 1.0)
    evaluations = math.ceil(spec.budget / spec.eval.every)
    return evaluations * spec.eval.episodes * limit * fraction * EVAL_SECONDS_PER_STEP


def _train_calls(hyperparameters: Mapping[str, Any], budget: int) -> tuple[float, float]:
    """Off-policy ``(train() calls, gradient steps per call)`` over a run of ``budget`` steps."""
    learning_starts = hyperparameters.get("learning_starts", 0)
    if not isinstance(learning_starts, int | float) or learning_starts < 0:
        learning_starts = 0
    steps = max(0.0, budget - learning_starts)
    train_freq = hyperparameters.get("train_freq", 1)
    if isinstance(train_freq, list):
        train_freq = train_freq[0] if train_freq[1:] in ([], ["step"]) else 1
    train_freq = train_freq if isinstance(train_freq, int) and train_freq >= 1 else 1
    gradient_steps = hyperparameters.get("gradient_steps", 1)
    if not isinstance(gradient_steps, int) or gradient_steps < 0:
        gradient_steps = train_freq  # -1: as many gradient steps as env steps collected
    return steps / train_freq, float(gradient_steps)


def _positive_int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int | float) and value >= 1 else default


def network_weights(spec: RunSpec) -> float:
    """Weights of one hidden network of the run (``_weights`` of its net_arch or the default)."""
    hp = {**CLASS_DEFAULTS[spec.algo_class], **spec.hyperparameters}
    return _weights(_net_arch(spec.hyperparameters) or hp["net_arch"])


def _net_arch(hyperparameters: Mapping[str, Any]) -> Any:
    """The run's network: ``net_arch`` shorthand, else ``policy_kwargs.net_arch``."""
    kwargs = hyperparameters.get("policy_kwargs")
    if "net_arch" in hyperparameters and hyperparameters["net_arch"] is not None:
        return hyperparameters["net_arch"]
    if isinstance(kwargs, Mapping) and kwargs.get("net_arch") is not None:
        return kwargs["net_arch"]
    return None


def _weights(net_arch: Any) -> float:
    """Weights of one hidden MLP of ``net_arch`` with ``IO_WIDTH`` inputs and outputs.

    A mapping (``pi``/``vf``/``qf``) averages its networks, because the fitted update costs
    already count the class's actor and critic(s) as networks of the same size.
    """
    if isinstance(net_arch, Mapping):
        nets = [_weights(v) for v in net_arch.values() if isinstance(v, list)]
        return sum(nets) / len(nets) if nets else _weights([64, 64])
    if not isinstance(net_arch, list) or not all(isinstance(w, int) for w in net_arch):
        return _weights([64, 64])
    widths = [IO_WIDTH, *net_arch, IO_WIDTH]
    return float(sum(x * y for x, y in itertools.pairwise(widths)))
