"""Whole-run faithfulness: a member trained in a population is SB3's own ``learn()`` of its run.

The update-level tests pin one gradient step; these pin the loop around them (warm-up, when
training starts, how often and how many updates, learning-rate schedules against progress,
noise draws and resets at episode ends, timeouts, terminal observations, target updates and
policy delays over many calls, the last ``train_freq`` block passing the budget, evaluations
in the middle of training) by training a member for hundreds of steps beside a member with
other hyperparameters, then running SB3's ``learn()`` for the same run with SB3's
process-wide random draws (action noise, replay indices, target-policy noise, SAC's
reparameterisation, DQN's epsilon test; PPO's and A2C's action samples and minibatch orders)
answered from the member's own streams. Both then hold the same replay buffer, the same
weights, and act alike once the member's weights are written back for evaluation.

Off-policy runs are compared twice: tightly over the first ``ONSET`` steps, where a loop
detail gone wrong shows at once (the first update, the first episode end) and float rounding
has not grown yet, and loosely over the whole run, where rounding of batched against plain
matmuls, compounded over hundreds of updates and the trajectories they steer, reaches ~1e-4.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import population_helpers as helpers
import pytest
import torch
from stable_baselines3.common.buffers import ReplayBuffer

from rlsens.spec import EvalProtocol, RunSpec
from rlsens.trainer.population.group import OFF_POLICY
from rlsens.trainer.population.members import Member
from rlsens.trainer.population.offpolicy import (
    DQNNetworks,
    OffPolicyLoop,
    SACNetworks,
    TD3Networks,
)
from rlsens.trainer.population.ppo import ActorCriticNetworks, OnPolicyLoop
from rlsens.trainer.population.progress import GroupProgress
from rlsens.trainer.population.streams import MemberRandom, uniform_indices

BUDGET = 460  # two Pendulum-v1 time limits, nine of Reacher-v5; ~360 steps of training
EVERY = 230  # one evaluation in the middle of training (the population's GroupProgress)
BATCH = 16
# Bounds: off-policy over the first ONSET steps, and over the whole run; on-policy (a few
# dozen updates, agreement ~1e-7, while a lost detail such as a timeout's bootstrapped value
# moves weights by ~1e-4).
ONSET, ONSET_ATOL = 250, 1e-4
ATOL = 1e-3
ON_POLICY_ATOL = 1e-5


@dataclass(frozen=True)
class Case:
    algo_class: str
    members: tuple[dict, ...]  # each member's own hyperparameters
    env_id: str = "Pendulum-v1"
    shared: dict = field(default_factory=dict)  # structural: the same for the whole group


OFF_POLICY_BASE = {"batch_size": BATCH, "buffer_size": 1000, "learning_starts": 100}
# 8 rollouts of 64 steps (past BUDGET, as SB3 rounds up to whole rollouts), 4 minibatches each.
ON_POLICY_BASE = {
    "PPO": {"n_steps": 64, "batch_size": BATCH, "n_epochs": 3},
    "A2C": {"n_steps": 64},
}

CASES = {
    # DDPG: Gaussian noise beside OU noise (stateful, reset at each episode end) with a linear
    # learning-rate schedule; one update per step.
    "ddpg": Case(
        "DDPG",
        (
            dict(noise_type="normal", noise_std=0.1, learning_rate=1e-3, tau=0.005),
            dict(
                noise_type="ornstein-uhlenbeck",
                noise_std=0.3,
                learning_rate="lin_3e-3",
                tau=0.02,
                gamma=0.95,
            ),
        ),
    ),
    # TD3 with SB3's schedule (one update per train() call): the policy delay counts updates
    # across calls, which a counter reset per call would break.
    "td3": Case(
        "TD3",
        (
            dict(noise_type="normal", noise_std=0.1, target_policy_noise=0.2),
            dict(noise_type="normal", noise_std=0.3, target_policy_noise=0.1, learning_rate=3e-3),
        ),
        shared=dict(policy_delay=2),
    ),
    # TD3 on Reacher-v5 (2-D actions, 50-step episodes): blocks of 3 steps (460 is not a
    # multiple: the last block ends at 462), gradient_steps -1 (as many as steps collected).
    "td3-reacher": Case(
        "TD3",
        (
            dict(noise_type="normal", noise_std=0.1),
            dict(noise_type="ornstein-uhlenbeck", noise_std=0.2, learning_rate="lin_1e-3"),
        ),
        env_id="Reacher-v5",
        shared=dict(train_freq=3, gradient_steps=-1, policy_delay=2),
    ),
    # SAC: tuned entropy coefficient, two gradient steps per env step, target updates on every
    # second one (SB3's ``gradient_step % target_update_interval`` within a call).
    "sac": Case(
        "SAC",
        (
            dict(learning_rate=1e-3),
            dict(learning_rate="lin_3e-3", tau=0.02, target_entropy=-0.5),
        ),
        shared=dict(gradient_steps=2, target_update_interval=2),
    ),
    # SAC with a fixed entropy coefficient on Reacher-v5 (2-D squashed Gaussian).
    "sac-fixed-reacher": Case(
        "SAC",
        (dict(ent_coef=0.1), dict(ent_coef=0.02, learning_rate=1e-3, gamma=0.9)),
        env_id="Reacher-v5",
    ),
    # DQN on CartPole-v1 (episodes end by termination): epsilon-greedy over a decaying
    # exploration rate, updates every 4 steps, target updates every 50 env steps.
    "dqn": Case(
        "DQN",
        (
            dict(learning_rate=1e-3, exploration_fraction=0.5),
            dict(
                learning_rate="lin_3e-3",
                exploration_fraction=0.8,
                exploration_final_eps=0.1,
                gamma=0.95,
            ),
        ),
        env_id="CartPole-v1",
        shared=dict(target_update_interval=50),
    ),
}
ON_POLICY_CASES = {
    # PPO: schedules of the learning rate and clip range, value clipping, entropy bonus.
    "ppo": Case(
        "PPO",
        (
            dict(learning_rate=1e-3, clip_range=0.2, clip_range_vf=0.5, gae_lambda=0.95, gamma=0.9),
            dict(
                learning_rate="lin_3e-3",
                clip_range="lin_0.1",
                clip_range_vf=0.2,
                ent_coef=0.01,
                gae_lambda=0.8,
            ),
        ),
    ),
    # PPO on Reacher-v5: 2-D Gaussian actions clipped to the bounds, many truncations.
    "ppo-reacher": Case(
        "PPO",
        (dict(learning_rate=1e-3), dict(learning_rate=3e-4, ent_coef=0.01, gamma=0.95)),
        env_id="Reacher-v5",
    ),
    # A2C: RMSprop, one update per rollout on the whole (permuted) rollout.
    "a2c": Case(
        "A2C",
        (
            dict(learning_rate=7e-4, ent_coef=0.0),
            dict(learning_rate="lin_2e-3", ent_coef=0.01, vf_coef=0.25, max_grad_norm=0.1),
        ),
    ),
}


def specs_of(case: Case, first_seed: int) -> list[RunSpec]:
    base = ON_POLICY_BASE.get(case.algo_class, OFF_POLICY_BASE)
    return [
        RunSpec(
            suite="t",
            algorithm=case.algo_class.lower(),
            algo_class=case.algo_class,
            env_id=case.env_id,
            hyperparameters={"net_arch": [16, 16], **base, **case.shared, **hps},
            seed=first_seed + j,
            budget=BUDGET,
            eval=EvalProtocol(every=EVERY, episodes=1, final=1),
        )
        for j, hps in enumerate(case.members)
    ]


def population(built: list[Member], specs: list[RunSpec]) -> OffPolicyLoop | OnPolicyLoop:
    """Train the group as ``train_group`` does, evaluations in the middle included."""
    members = helpers.build(built, specs)
    progress = GroupProgress(members, start=0.0)
    loop_class = OffPolicyLoop if specs[0].algo_class in OFF_POLICY else OnPolicyLoop
    loop = loop_class(members, progress, "cpu")
    loop.learn()
    assert [len(o.curve) for o in progress.outcomes] == [1] * len(specs)  # evaluated at EVERY
    return loop


def sb3_learn(
    built: list[Member], run: RunSpec, monkeypatch: pytest.MonkeyPatch
) -> tuple[object, ReplayBuffer | None]:
    """SB3's ``learn()`` of ``run`` with its random draws taken from the member's streams."""
    (member,) = helpers.build(built, [run])
    model = member.model
    streams = MemberRandom([run.seed])
    act = (int(np.prod(model.action_space.shape)),)
    if run.algo_class not in OFF_POLICY:
        # The rollout's Gaussian actions, and RolloutBuffer.get's minibatch order per epoch.
        monkeypatch.setattr(
            torch.distributions.Normal,
            "rsample",
            lambda dist, sample_shape=(): (
                dist.loc
                + torch.as_tensor(streams.normal("actions", act), dtype=dist.loc.dtype) * dist.scale
            ),
        )
        monkeypatch.setattr(
            np.random, "permutation", lambda n: streams.permutations("minibatches", n)[0]
        )
        model.learn(total_timesteps=run.budget)
        monkeypatch.undo()
        return model, None
    buffer = ReplayBuffer(1000, model.observation_space, model.action_space, device="cpu")
    model.replay_buffer = buffer  # type: ignore[attr-defined]

    def sample(batch_size: int, env: object = None) -> object:
        upper = buffer.buffer_size if buffer.full else buffer.pos
        indices = uniform_indices(streams.uniform("replay", (batch_size,))[0], upper)
        return buffer._get_samples(indices, env=env)

    monkeypatch.setattr(buffer, "sample", sample)
    # DQN.predict's epsilon-greedy test, ``np.random.rand() < exploration_rate``.
    monkeypatch.setattr(np.random, "rand", lambda: streams.uniform("epsilon", ())[0])
    # SB3's noise classes call ``np.random.normal(mu, sigma)`` / ``np.random.normal(size=)``.
    monkeypatch.setattr(
        np.random,
        "normal",
        lambda loc=0.0, scale=1.0, size=None: loc + scale * streams.normal("action_noise", act)[0],
    )

    def normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, **_: object) -> object:
        z = torch.as_tensor(streams.normal("target_noise", (BATCH, *act))[0], dtype=torch.float32)
        return tensor.copy_(z * std + mean)

    # TD3's target smoothing: ``actions.clone().data.normal_(0, target_policy_noise)``.
    monkeypatch.setattr(torch.Tensor, "normal_", normal_)
    training_draws = itertools.cycle(["actor", "next_actor"])

    def rsample(dist: torch.distributions.Normal, sample_shape: object = ()) -> torch.Tensor:
        if dist.loc.shape[0] == 1:  # one observation: the exploration action
            z = streams.normal("explore", act)[0][None]
        else:  # SAC.train: the actor's actions, then the next actions
            z = streams.normal(next(training_draws), (BATCH, *act))[0]
        return dist.loc + torch.as_tensor(z, dtype=dist.loc.dtype) * dist.scale

    monkeypatch.setattr(torch.distributions.Normal, "rsample", rsample)
    model.learn(total_timesteps=run.budget)
    monkeypatch.undo()
    return model, buffer


assert_member_equals = functools.partial(helpers.assert_member_equals, atol=ATOL)


def assert_buffers_equal(loop: OffPolicyLoop, i: int, buffer: ReplayBuffer) -> None:
    steps = math.ceil(BUDGET / loop.train_freq) * loop.train_freq  # whole blocks, as SB3
    assert buffer.pos == loop.buffers.pos == steps
    for name in ("observations", "next_observations", "actions", "rewards", "dones", "timeouts"):
        ours = getattr(loop.buffers, name)[i, :steps].numpy()
        theirs = getattr(buffer, name)[:steps, 0].reshape(ours.shape)
        np.testing.assert_allclose(
            ours[:ONSET], theirs[:ONSET], rtol=0, atol=ONSET_ATOL, err_msg=name
        )
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=ATOL, err_msg=name)
    ended = buffer.dones[:steps, 0].sum()
    if loop.discrete:
        assert ended > 3 and buffer.timeouts[:steps, 0].sum() == 0
    else:
        assert ended >= 2 and buffer.timeouts[:steps, 0].sum() == ended


def assert_acts_alike(
    loop: OffPolicyLoop | OnPolicyLoop, i: int, model: object, atol: float
) -> None:
    """What evaluation sees: the member's weights written back into its SB3 policy act as the
    SB3-trained policy does (deterministic actions on observations across the space)."""
    loop.networks.write_member(i)
    dims = loop.members[i].model.observation_space.shape
    obs = np.random.default_rng(0).uniform(-1, 1, (64, *dims)).astype(np.float32)
    ours, _ = loop.members[i].model.predict(obs, deterministic=True)
    theirs, _ = model.predict(obs, deterministic=True)  # type: ignore[attr-defined]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)


def policy_net(model: object) -> torch.nn.Module:
    """The network that acts: DQN's Q-network, SAC's actor body, DDPG's / TD3's actor."""
    if hasattr(model, "q_net"):
        return model.q_net.q_net
    actor = model.actor  # type: ignore[attr-defined]
    return actor.latent_pi if hasattr(actor, "latent_pi") else actor.mu


def first_linear(modules: torch.nn.Module) -> torch.Tensor:
    return next(m for m in modules if isinstance(m, torch.nn.Linear)).weight.detach().clone()


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_member_trains_as_sb3_learn_does(
    built: list[Member], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    specs = specs_of(CASES[name], 30)
    loop = population(built, specs)
    networks = loop.networks
    for i, run in enumerate(specs):
        model, buffer = sb3_learn(built, run, monkeypatch)
        assert_buffers_equal(loop, i, buffer)
        (untrained,) = helpers.build(built, [run])
        # Guard against a vacuous comparison: training moved the weights past ATOL.
        moved = first_linear(policy_net(model)) - first_linear(policy_net(untrained.model))
        assert moved.abs().max() > 10 * ATOL
        assert_acts_alike(loop, i, model, ATOL)
        if isinstance(networks, DQNNetworks):
            assert_member_equals(networks.q, i, model.q_net.q_net)  # type: ignore[attr-defined]
            assert_member_equals(networks.q_target, i, model.q_net_target.q_net)  # type: ignore[attr-defined]
            continue
        if isinstance(networks, TD3Networks):
            assert_member_equals(networks.actor, i, model.actor.mu)  # type: ignore[attr-defined]
            assert_member_equals(networks.actor_target, i, model.actor_target.mu)  # type: ignore[attr-defined]
        else:
            assert isinstance(networks, SACNetworks)
            assert_member_equals(networks.latent, i, model.actor.latent_pi)  # type: ignore[attr-defined]
            assert_member_equals(networks.mu, i, [model.actor.mu])  # type: ignore[attr-defined]
            if networks.auto_entropy:
                ent = networks.log_ent_coef[i].reshape(())
                torch.testing.assert_close(ent, model.log_ent_coef.reshape(()), rtol=0, atol=ATOL)  # type: ignore[attr-defined]
        for k, q in enumerate(model.critic.q_networks):  # type: ignore[attr-defined]
            assert_member_equals(networks.critics.online[k], i, q)
            assert_member_equals(networks.critics.target[k], i, model.critic_target.q_networks[k])  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(ON_POLICY_CASES))
def test_a_member_trains_as_sb3_on_policy_learn_does(
    built: list[Member], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    specs = specs_of(ON_POLICY_CASES[name], 40)
    loop = population(built, specs)
    networks = loop.networks
    assert isinstance(networks, ActorCriticNetworks)
    atol = ON_POLICY_ATOL
    for i, run in enumerate(specs):
        model, _ = sb3_learn(built, run, monkeypatch)
        policy = model.policy  # type: ignore[attr-defined]
        (untrained,) = helpers.build(built, [run])
        moved = first_linear(policy.mlp_extractor.policy_net) - first_linear(
            untrained.model.policy.mlp_extractor.policy_net
        )
        assert moved.abs().max() > 1000 * atol
        assert_member_equals(networks.pi, i, policy.mlp_extractor.policy_net, atol=atol)
        assert_member_equals(networks.vf, i, policy.mlp_extractor.value_net, atol=atol)
        assert_member_equals(networks.action_net, i, [policy.action_net], atol=atol)
        assert_member_equals(networks.value_net, i, [policy.value_net], atol=atol)
        torch.testing.assert_close(
            networks.log_std[i, 0].detach(), policy.log_std.detach(), rtol=0, atol=atol
        )
        assert_acts_alike(loop, i, model, atol)
