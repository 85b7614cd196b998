"""Update-level faithfulness: one member of a population and an SB3 model, same weights, same
minibatch, same random draws; after SB3's own ``train()`` and the population's update, every
parameter (actor, critics, targets, entropy coefficient) agrees to float tolerance, for a member
whose hyperparameters differ from its neighbours' in a population of three.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import population_helpers as helpers
import pytest
import torch
from gymnasium import spaces
from population_helpers import build
from stable_baselines3 import TD3
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples

from rlsens.spec import EvalProtocol, RunSpec
from rlsens.trainer.population.members import Member
from rlsens.trainer.population.offpolicy import (
    ActionNoises,
    Batch,
    DQNNetworks,
    OffPolicyLoop,
    SACNetworks,
    TD3Networks,
)
from rlsens.trainer.population.ppo import A2CNetworks, PPONetworks, Rollouts, gae
from rlsens.trainer.population.progress import GroupProgress
from rlsens.trainer.population.stacked import StackedMLP

ATOL = 1e-6
BATCH = 16
OBS, ACT = 3, 1


def run_spec(algo_class: str, seed: int, **hps: object) -> RunSpec:
    return RunSpec(
        suite="t",
        algorithm=algo_class.lower(),
        algo_class=algo_class,
        env_id="Pendulum-v1",
        hyperparameters={"net_arch": [8, 8], **hps},
        seed=seed,
        budget=1000,
        eval=EvalProtocol(every=500, episodes=2, final=1),
    )


def random_batch(generator: torch.Generator, members: int) -> Batch:
    def r(*shape: int) -> torch.Tensor:
        return torch.randn((members, BATCH, *shape), generator=generator)

    dones = (torch.rand((members, BATCH, 1), generator=generator) < 0.2).float()
    actions = torch.rand((members, BATCH, ACT), generator=generator) * 2 - 1
    return Batch(r(OBS), actions, r(OBS), dones, r(1))


def member_samples(batch: Batch, i: int) -> ReplayBufferSamples:
    return ReplayBufferSamples(
        batch.observations[i],
        batch.actions[i],
        batch.next_observations[i],
        batch.dones[i],
        batch.rewards[i],
    )


def feed(model: object, samples: list[ReplayBufferSamples]) -> None:
    queue = iter(samples)
    model.replay_buffer.sample = lambda *args, **kwargs: next(queue)  # type: ignore[attr-defined]


assert_member_equals = functools.partial(helpers.assert_member_equals, atol=ATOL)


def assert_differs(net: StackedMLP, i: int, modules: torch.nn.Module) -> None:
    """Guard against a vacuous comparison: the update did move the parameters."""
    first = next(m for m in modules if isinstance(m, torch.nn.Linear))
    assert not torch.allclose(net.weights[0][i].t().detach(), first.weight.detach(), atol=1e-5)


TD3_MEMBERS = [
    dict(learning_rate=1e-3, tau=0.005, gamma=0.99, target_policy_noise=0.2, target_noise_clip=0.5),
    dict(learning_rate=3e-3, tau=0.05, gamma=0.9, target_policy_noise=0.4, target_noise_clip=0.3),
    dict(learning_rate=5e-4, tau=0.02, gamma=0.98, target_policy_noise=0.1, target_noise_clip=0.1),
]


@pytest.mark.parametrize("algo_class", ["TD3", "DDPG"])
def test_td3_and_ddpg_updates_match_sb3(built: list[Member], algo_class: str) -> None:
    delay = 2 if algo_class == "TD3" else 1
    configs = [
        {k: v for k, v in c.items() if algo_class == "TD3" or "target_" not in k}
        for c in TD3_MEMBERS
    ]
    extra = {"policy_delay": delay} if algo_class == "TD3" else {}
    specs = [run_spec(algo_class, 10 + j, **c, **extra) for j, c in enumerate(configs)]
    members = build(built, specs)
    nets = TD3Networks([m.model for m in members], "cpu")
    i = 1
    reference = build(built, [specs[i]])[0].model
    generator = torch.Generator().manual_seed(0)
    steps = 3
    batches = [random_batch(generator, len(members)) for _ in range(steps)]

    torch.manual_seed(123)
    draws = [torch.empty(BATCH, ACT).normal_() for _ in range(steps)]
    feed(reference, [member_samples(b, i) for b in batches])
    torch.manual_seed(123)
    reference.train(gradient_steps=steps, batch_size=BATCH)

    nets.set_learning_rates([m.model.lr_schedule(1.0) for m in members])
    for batch, draw in zip(batches, draws, strict=True):
        z = torch.randn((len(members), BATCH, ACT), generator=generator)
        z[i] = draw
        assert bool(nets.update(batch, z).all())

    assert_differs(nets.actor, i, members[i].model.actor.mu)
    assert_member_equals(nets.actor, i, reference.actor.mu)
    assert_member_equals(nets.actor_target, i, reference.actor_target.mu)
    for k, q in enumerate(reference.critic.q_networks):
        assert_member_equals(nets.critics.online[k], i, q)
        assert_member_equals(nets.critics.target[k], i, reference.critic_target.q_networks[k])


SAC_MEMBERS = [
    dict(learning_rate=1e-3, tau=0.005, gamma=0.99),
    dict(learning_rate=3e-3, tau=0.05, gamma=0.9, target_entropy=-0.5),
    dict(learning_rate=5e-4, tau=0.02, gamma=0.98),
]


@pytest.mark.parametrize("ent_coef", ["auto", "auto_0.3", 0.2])
def test_sac_update_matches_sb3(built: list[Member], ent_coef: object) -> None:
    interval = 2
    specs = [
        run_spec("SAC", 20 + j, ent_coef=ent_coef, target_update_interval=interval, **c)
        for j, c in enumerate(SAC_MEMBERS)
    ]
    members = build(built, specs)
    nets = SACNetworks([m.model for m in members], "cpu")
    i = 1
    reference = build(built, [specs[i]])[0].model
    generator = torch.Generator().manual_seed(1)
    steps = 3
    batches = [random_batch(generator, len(members)) for _ in range(steps)]

    torch.manual_seed(321)
    draws = [[torch.empty(BATCH, ACT).normal_() for _ in range(2)] for _ in range(steps)]
    feed(reference, [member_samples(b, i) for b in batches])
    torch.manual_seed(321)
    reference.train(gradient_steps=steps, batch_size=BATCH)

    nets.set_learning_rates([m.model.lr_schedule(1.0) for m in members])
    for step, (batch, (d_pi, d_next)) in enumerate(zip(batches, draws, strict=True)):
        z_pi = torch.randn((len(members), BATCH, ACT), generator=generator)
        z_next = torch.randn((len(members), BATCH, ACT), generator=generator)
        z_pi[i], z_next[i] = d_pi, d_next
        assert bool(nets.update(batch, z_pi, z_next, step).all())

    actor = reference.actor
    assert_differs(nets.latent, i, members[i].model.actor.latent_pi)
    assert_member_equals(nets.latent, i, actor.latent_pi)
    assert_member_equals(nets.mu, i, [actor.mu])
    assert_member_equals(nets.log_std, i, [actor.log_std])
    for k, q in enumerate(reference.critic.q_networks):
        assert_member_equals(nets.critics.online[k], i, q)
        assert_member_equals(nets.critics.target[k], i, reference.critic_target.q_networks[k])
    if isinstance(ent_coef, str):
        log_ent = reference.log_ent_coef.detach()
        torch.testing.assert_close(
            nets.log_ent_coef[i].reshape(1).detach(), log_ent, rtol=0, atol=ATOL
        )
        assert not np.isclose(float(log_ent), np.log(float(ent_coef.partition("_")[2] or 1.0)))


def test_members_start_from_sb3_initialisation(built: list[Member]) -> None:
    """The stacked weights are SB3's own initialisation under each run's seed."""
    specs = [run_spec("TD3", 10 + j) for j in range(3)]
    members = build(built, specs)
    nets = TD3Networks([m.model for m in members], "cpu")
    for i, spec in enumerate(specs):
        fresh = TD3("MlpPolicy", "Pendulum-v1", seed=spec.seed, policy_kwargs={"net_arch": [8, 8]})
        assert_member_equals(nets.actor, i, fresh.actor.mu)
        assert_member_equals(nets.critics.online[1], i, fresh.critic.q_networks[1])
    assert not torch.equal(nets.actor.weights[0][0], nets.actor.weights[0][1])


PPO_STEPS, PPO_BATCH, PPO_EPOCHS = 32, 8, 3
PPO_MEMBERS = [
    dict(learning_rate=3e-4, clip_range=0.2, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5),
    dict(learning_rate=2e-3, clip_range=0.1, ent_coef=0.01, vf_coef=0.8, max_grad_norm=0.05),
    dict(learning_rate=1e-3, clip_range=0.3, ent_coef=0.02, vf_coef=0.3, max_grad_norm=1.0),
]


def ppo_rollouts(members: list[Member], generator: torch.Generator) -> Rollouts:
    m, n = len(members), PPO_STEPS
    obs = torch.randn((m, n, OBS), generator=generator)
    actions = torch.randn((m, n, ACT), generator=generator)
    values, log_probs = [], []
    with torch.no_grad():
        for j, member in enumerate(members):
            v, lp, _ = member.model.policy.evaluate_actions(obs[j], actions[j])
            values.append(v.flatten())
            log_probs.append(lp)
    advantages = torch.randn((m, n), generator=generator)
    returns = torch.randn((m, n), generator=generator)
    return Rollouts(obs, actions, torch.stack(values), torch.stack(log_probs), advantages, returns)


def fill_rollout_buffer(model: object, rollouts: Rollouts, i: int) -> None:
    buffer = model.rollout_buffer  # type: ignore[attr-defined]
    for name in ("observations", "actions", "values", "log_probs", "advantages", "returns"):
        values = getattr(rollouts, name)[i].numpy()
        getattr(buffer, name)[:] = values.reshape(getattr(buffer, name).shape)
    buffer.full = True
    buffer.generator_ready = False


@pytest.mark.parametrize(
    ("clip_range_vf", "target_kl", "progress"),
    [(None, None, 1.0), (0.15, None, 1.0), (None, 2e-5, 1.0), (0.15, None, 0.4)],
)
def test_ppo_update_matches_sb3(
    built: list[Member],
    monkeypatch: pytest.MonkeyPatch,
    clip_range_vf: object,
    target_kl: object,
    progress: float,
) -> None:
    """``progress`` < 1 runs linear schedules of lr, clip range and value clip range."""
    structure = dict(n_steps=PPO_STEPS, batch_size=PPO_BATCH, n_epochs=PPO_EPOCHS)
    configs = [dict(c, clip_range_vf=clip_range_vf) for c in PPO_MEMBERS]
    if progress < 1.0:
        for c in configs:
            for key in ("learning_rate", "clip_range", "clip_range_vf"):
                c[key] = f"lin_{c[key]}"
    i = 1
    configs[i]["target_kl"] = target_kl
    specs = [run_spec("PPO", 30 + j, **structure, **c) for j, c in enumerate(configs)]
    members = build(built, specs)
    reference = build(built, [specs[i]])[0].model
    nets = PPONetworks([m.model for m in members], "cpu")
    generator = torch.Generator().manual_seed(2)
    rollouts = ppo_rollouts(members, generator)
    orders = np.random.default_rng(3)
    permutations = [np.stack([orders.permutation(PPO_STEPS) for _ in members]) for _ in range(3)]

    fill_rollout_buffer(reference, rollouts, i)
    queue = iter(p[i] for p in permutations)
    monkeypatch.setattr(np.random, "permutation", lambda n: next(queue))
    reference._current_progress_remaining = progress
    reference.train()
    monkeypatch.undo()

    alive = np.ones(len(members), dtype=bool)
    assert bool(nets.update(rollouts, permutations, progress, alive).all())

    minibatches = PPO_EPOCHS * PPO_STEPS // PPO_BATCH
    if target_kl is None:
        assert nets.optimizer.steps.tolist() == [minibatches] * 3
    else:
        assert 0 < nets.optimizer.steps[i] < minibatches
        assert (
            nets.optimizer.steps[i] == reference.policy.optimizer.state_dict()["state"][0]["step"]
        )
    policy = reference.policy
    assert_differs(nets.pi, i, members[i].model.policy.mlp_extractor.policy_net)
    assert_member_equals(nets.pi, i, policy.mlp_extractor.policy_net)
    assert_member_equals(nets.vf, i, policy.mlp_extractor.value_net)
    assert_member_equals(nets.action_net, i, [policy.action_net])
    assert_member_equals(nets.value_net, i, [policy.value_net])
    torch.testing.assert_close(
        nets.log_std[i, 0].detach(), policy.log_std.detach(), rtol=0, atol=ATOL
    )


def test_gae_matches_sb3_rollout_buffer() -> None:
    rng = np.random.default_rng(4)
    n, gammas, lambdas = 20, [0.99, 0.9, 0.95], [0.95, 0.8, 1.0]
    rewards = rng.normal(size=(n, 3)).astype(np.float32)
    values = rng.normal(size=(n, 3)).astype(np.float32)
    starts = (rng.random((n, 3)) < 0.2).astype(np.float32)
    last_values = rng.normal(size=3).astype(np.float32)
    dones = np.array([True, False, True])
    gamma = np.array([np.float32(g) for g in gammas])
    gamma_lambda = np.array([np.float32(g * lam) for g, lam in zip(gammas, lambdas, strict=True)])
    advantages, returns = gae(rewards, values, starts, last_values, dones, gamma, gamma_lambda)
    box = spaces.Box(-1, 1, (1,))
    for j in range(3):
        buffer = RolloutBuffer(n, box, box, gamma=gammas[j], gae_lambda=lambdas[j], n_envs=1)
        buffer.rewards[:, 0], buffer.values[:, 0], buffer.episode_starts[:, 0] = (
            rewards[:, j],
            values[:, j],
            starts[:, j],
        )
        buffer.compute_returns_and_advantage(torch.tensor(last_values[j : j + 1]), dones[j : j + 1])
        np.testing.assert_array_equal(advantages[:, j], buffer.advantages[:, 0])
        np.testing.assert_array_equal(returns[:, j], buffer.returns[:, 0])


@pytest.mark.parametrize(("algo_class", "env_id"), [("TD3", "Pendulum-v1"), ("DQN", "CartPole-v1")])
def test_warm_up_transitions_are_sb3s(built: list[Member], algo_class: str, env_id: str) -> None:
    """Before learning_starts, a member's replay buffer holds exactly what SB3's would: uniform
    actions from the run's seeded action space, the run's env seeds, the terminal observation
    and timeout flag of a truncated episode (Pendulum), terminations (CartPole)."""
    warm_up = 252  # past Pendulum's time limit; several CartPole episodes; DQN trains every 4
    specs = [
        dataclasses.replace(
            run_spec(algo_class, seed, learning_starts=warm_up, buffer_size=400),
            budget=warm_up,
            env_id=env_id,
        )
        for seed in (4, 5)
    ]
    members = build(built, specs)
    progress = GroupProgress(members, start=0.0)
    loop = OffPolicyLoop(members, progress, "cpu")
    loop.learn()
    for i, spec in enumerate(specs):
        model = build(built, [spec])[0].model
        model.replay_buffer = type(model.replay_buffer)(
            400, model.observation_space, model.action_space, device="cpu"
        )
        model.learn(total_timesteps=warm_up)
        buffer = model.replay_buffer
        assert buffer.pos == warm_up
        for name in (
            "observations",
            "next_observations",
            "actions",
            "rewards",
            "dones",
            "timeouts",
        ):
            ours = getattr(loop.buffers, name)[i, :warm_up].numpy()
            theirs = getattr(buffer, name)[:warm_up, 0]
            np.testing.assert_array_equal(ours, theirs.reshape(ours.shape), err_msg=name)
        if env_id == "Pendulum-v1":
            assert buffer.timeouts[:warm_up, 0].sum() == 1
        else:
            assert buffer.dones[:warm_up, 0].sum() > 3 and buffer.timeouts[:warm_up, 0].sum() == 0


def test_action_noise_is_sb3s_given_the_same_draws(
    built: list[Member], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Normal and Ornstein-Uhlenbeck noise (with resets at episode ends) per member, as SB3's
    noise objects produce them from the same standard normal draws."""
    kinds = [
        ("normal", 0.1),
        ("ornstein-uhlenbeck", 0.3),
        (None, None),
        ("ornstein-uhlenbeck", 0.05),
    ]
    specs = [
        run_spec("DDPG", j, **({"noise_type": k, "noise_std": s} if k else {}))
        for j, (k, s) in enumerate(kinds)
    ]
    members = build(built, specs)
    noises = ActionNoises(members, ACT)
    rng = np.random.default_rng(5)
    for step in range(30):
        z = rng.standard_normal((len(members), ACT))
        ours = noises(z)
        for j, member in enumerate(members):
            noise = member.model.action_noise
            if noise is None:
                assert ours[j] == 0
                continue
            # SB3's classes draw ``np.random.normal(mu, sigma)`` / ``np.random.normal(size=)``.
            monkeypatch.setattr(
                np.random,
                "normal",
                lambda loc=0.0, scale=1.0, size=None, z=z[j]: loc + scale * z,
            )
            theirs = noise()
            monkeypatch.undo()
            assert ours.dtype == theirs.dtype == np.float32
            np.testing.assert_array_equal(ours[j], theirs)
        if step % 7 == 6:
            done = np.array([True, True, False, step % 14 == 13])
            noises.reset(done)
            for j in np.flatnonzero(done):
                if members[j].model.action_noise is not None:
                    members[j].model.action_noise.reset()


A2C_MEMBERS = [
    dict(learning_rate=7e-4, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5),
    dict(learning_rate=2e-3, ent_coef=0.01, vf_coef=0.25, max_grad_norm=0.05),
    dict(learning_rate=1e-4, ent_coef=0.05, vf_coef=1.0, max_grad_norm=2.0),
]


@pytest.mark.parametrize(("normalize_advantage", "use_rms_prop"), [(False, True), (True, False)])
def test_a2c_update_matches_sb3(
    built: list[Member],
    monkeypatch: pytest.MonkeyPatch,
    normalize_advantage: bool,
    use_rms_prop: bool,
) -> None:
    structure = dict(
        n_steps=PPO_STEPS, normalize_advantage=normalize_advantage, use_rms_prop=use_rms_prop
    )
    specs = [run_spec("A2C", 40 + j, **structure, **c) for j, c in enumerate(A2C_MEMBERS)]
    members = build(built, specs)
    i = 1
    reference = build(built, [specs[i]])[0].model
    nets = A2CNetworks([m.model for m in members], "cpu")
    rollouts = ppo_rollouts(members, torch.Generator().manual_seed(7))
    orders = np.random.default_rng(8)
    updates = 3
    permutations = [
        [np.stack([orders.permutation(PPO_STEPS) for _ in members])] for _ in range(updates)
    ]

    queue = iter(p[0][i] for p in permutations)
    monkeypatch.setattr(np.random, "permutation", lambda n: next(queue))
    for _ in range(updates):
        reference.rollout_buffer.reset()
        fill_rollout_buffer(reference, rollouts, i)
        reference.train()
    monkeypatch.undo()

    alive = np.ones(len(members), dtype=bool)
    for p in permutations:
        assert bool(nets.update(rollouts, p, 1.0, alive).all())

    policy = reference.policy
    assert_differs(nets.pi, i, members[i].model.policy.mlp_extractor.policy_net)
    assert_member_equals(nets.pi, i, policy.mlp_extractor.policy_net)
    assert_member_equals(nets.vf, i, policy.mlp_extractor.value_net)
    assert_member_equals(nets.action_net, i, [policy.action_net])
    assert_member_equals(nets.value_net, i, [policy.value_net])
    torch.testing.assert_close(
        nets.log_std[i, 0].detach(), policy.log_std.detach(), rtol=0, atol=ATOL
    )


DQN_MEMBERS = [
    dict(learning_rate=1e-3, gamma=0.99, max_grad_norm=10.0, tau=1.0),
    dict(learning_rate=4e-3, gamma=0.9, max_grad_norm=0.05, tau=0.5),
    dict(learning_rate=2e-4, gamma=0.95, max_grad_norm=1.0, tau=0.1),
]


def test_dqn_update_and_target_updates_match_sb3(built: list[Member]) -> None:
    interval = 2
    specs = [
        dataclasses.replace(
            run_spec("DQN", 50 + j, target_update_interval=interval, **c), env_id="CartPole-v1"
        )
        for j, c in enumerate(DQN_MEMBERS)
    ]
    members = build(built, specs)
    nets = DQNNetworks([m.model for m in members], "cpu")
    i = 1
    reference = build(built, [specs[i]])[0].model
    generator = torch.Generator().manual_seed(9)
    n_actions = 2

    def batch() -> Batch:
        b = random_batch(generator, len(members))
        obs = torch.randn((len(members), BATCH, 4), generator=generator)
        next_obs = torch.randn((len(members), BATCH, 4), generator=generator)
        actions = torch.randint(0, n_actions, (len(members), BATCH, 1), generator=generator)
        return Batch(obs, actions.float(), next_obs, b.dones, b.rewards)

    nets.set_learning_rates([m.model.lr_schedule(1.0) for m in members])
    for call in range(3):  # train(), then env steps with their target updates, three times
        batches = [batch() for _ in range(2)]
        samples = [
            member_samples(dataclasses.replace(b, actions=b.actions.long()), i) for b in batches
        ]
        feed(reference, samples)
        reference.train(gradient_steps=2, batch_size=BATCH)
        for b in batches:
            assert bool(nets.update(b).all())
        for _ in range(call + 1):
            reference._on_step()
            nets.on_step()

    assert_differs(nets.q, i, members[i].model.q_net.q_net)
    assert_member_equals(nets.q, i, reference.q_net.q_net)
    assert_member_equals(nets.q_target, i, reference.q_net_target.q_net)
    assert not torch.allclose(nets.q_target.weights[0][i], nets.q.weights[0][i])
