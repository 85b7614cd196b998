"""Update-level faithfulness: one member of a population and an SB3 model, same weights, same
minibatch, same random draws; after SB3's own ``train()`` and the population's update, every
parameter (actor, critics, targets, entropy coefficient) agrees to float tolerance, for a member
whose hyperparameters differ from its neighbours' in a population of three.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from stable_baselines3 import TD3
from stable_baselines3.common.type_aliases import ReplayBufferSamples

from rlsens.spec import EvalProtocol, RunSpec
from rlsens.trainer.population.members import Member, build_member
from rlsens.trainer.population.offpolicy import Batch, SACNetworks, TD3Networks
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


@pytest.fixture
def built() -> Iterator[list[Member]]:
    made: list[Member] = []
    yield made
    for member in made:
        member.close()


def build(made: list[Member], specs: list[RunSpec]) -> list[Member]:
    members = [build_member(s, "cpu") for s in specs]
    made.extend(members)
    return members


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


def assert_member_equals(net: StackedMLP, i: int, modules: torch.nn.Module) -> None:
    linears = [m for m in modules if isinstance(m, torch.nn.Linear)]
    assert len(linears) == len(net.weights)
    for layer, weight, bias in zip(linears, net.weights, net.biases, strict=True):
        torch.testing.assert_close(weight[i].t().detach(), layer.weight.detach(), rtol=0, atol=ATOL)
        torch.testing.assert_close(bias[i, 0].detach(), layer.bias.detach(), rtol=0, atol=ATOL)


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
