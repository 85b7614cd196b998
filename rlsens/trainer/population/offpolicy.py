"""DDPG, TD3, SAC and DQN for M members at once, following SB3's ``train()`` line by line.

The update functions take everything random as arguments (the sampled minibatch, standard
normal draws for target smoothing or reparameterisation), which is what lets the update-level
tests feed a member and an SB3 model the very same numbers. ``OffPolicyLoop`` is SB3's
``OffPolicyAlgorithm.learn`` / ``collect_rollouts`` / ``_sample_action`` / ``_store_transition``
for lockstep members: warm-up actions from each member's seeded action space before
``learning_starts``, action noise added in the scaled space (also during warm-up) and reset at
episode ends, terminal observations of truncated episodes stored as next observations with
``done`` masked by the timeout (``handle_timeout_termination``), ``train_freq`` steps then
``gradient_steps`` updates once ``num_timesteps > learning_starts``, learning rates from each
member's schedule at the current progress.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3 import DQN, SAC, TD3
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.type_aliases import TrainFrequencyUnit
from stable_baselines3.sac.policies import LOG_STD_MAX, LOG_STD_MIN

from rlsens.trainer.population.adam import BatchedAdam
from rlsens.trainer.population.envs import LockstepEnvs
from rlsens.trainer.population.group import replay_slots
from rlsens.trainer.population.members import Member
from rlsens.trainer.population.progress import GroupProgress
from rlsens.trainer.population.stacked import (
    Polyak,
    StackedMLP,
    clip_grad_norm,
    member_shape,
    per_member,
)
from rlsens.trainer.population.streams import MemberRandom, uniform_indices

# SquashedDiagGaussianDistribution's epsilon in the tanh log-det correction.
_SQUASH_EPS = 1e-6
_HALF_LOG_2PI = math.log(math.sqrt(2 * math.pi))


@dataclass
class Batch:
    """A minibatch per member, ``[M, B, ...]``; ``dones`` already masked by timeouts."""

    observations: torch.Tensor
    actions: torch.Tensor
    next_observations: torch.Tensor
    dones: torch.Tensor
    rewards: torch.Tensor


class ReplayBuffers:
    """M replay buffers as SB3's ``ReplayBuffer`` (one env, ``handle_timeout_termination``)."""

    def __init__(self, members: int, size: int, obs_dim: int, act_dim: int, device: str) -> None:
        def zeros(*shape: int) -> torch.Tensor:
            return torch.zeros((members, size, *shape), dtype=torch.float32, device=device)

        self.size = size
        self.observations = zeros(obs_dim)
        self.next_observations = zeros(obs_dim)
        self.actions = zeros(act_dim)
        self.rewards = zeros()
        self.dones = zeros()
        self.timeouts = zeros()
        self.pos = 0
        self.full = False
        self._members = torch.arange(members, device=device).unsqueeze(1)

    @property
    def nbytes(self) -> int:
        tensors = (self.observations, self.next_observations, self.actions)
        return sum(t.nbytes for t in (*tensors, self.rewards, self.dones, self.timeouts))

    def add(
        self,
        obs: np.ndarray,
        next_obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        dones: np.ndarray,
        timeouts: np.ndarray,
    ) -> None:
        device = self.observations.device
        for target, value in (
            (self.observations, obs),
            (self.next_observations, next_obs),
            (self.actions, actions),
            (self.rewards, rewards),
            (self.dones, dones),
            (self.timeouts, timeouts),
        ):
            target[:, self.pos] = torch.as_tensor(
                np.asarray(value, dtype=np.float32), device=device
            )
        self.pos += 1
        if self.pos == self.size:
            self.full = True
            self.pos = 0

    @property
    def filled(self) -> int:
        return self.size if self.full else self.pos

    def sample(self, uniforms: np.ndarray) -> Batch:
        """Indices uniform over each member's filled slots, from ``uniforms`` ([M, B])."""
        index = torch.as_tensor(uniform_indices(uniforms, self.filled), device=self._members.device)
        rows = self._members

        def column(t: torch.Tensor) -> torch.Tensor:
            return t[rows, index].unsqueeze(-1)

        dones = column(self.dones) * (1 - column(self.timeouts))
        return Batch(
            self.observations[rows, index],
            self.actions[rows, index],
            self.next_observations[rows, index],
            dones,
            column(self.rewards),
        )


class ActionNoises:
    """Each member's ``NormalActionNoise`` / ``OrnsteinUhlenbeckActionNoise`` (or none)."""

    def __init__(self, members: Sequence[Member], act_dim: int) -> None:
        m = len(members)
        self.sigma = np.zeros((m, act_dim))
        self.normal = np.zeros(m, dtype=bool)
        self.ou = np.zeros(m, dtype=bool)
        self.theta = np.zeros((m, 1))
        self.dt = np.ones((m, 1))
        self.prev = np.zeros((m, act_dim))
        for i, member in enumerate(members):
            noise = member.model.action_noise  # type: ignore[attr-defined]
            if noise is None:
                continue
            if np.any(noise._mu != 0):
                raise ValueError("action noise with a non-zero mean is not supported")
            self.sigma[i] = noise._sigma
            if isinstance(noise, OrnsteinUhlenbeckActionNoise):
                if noise.initial_noise is not None:
                    raise ValueError("OU noise with initial_noise is not supported")
                self.ou[i] = True
                self.theta[i], self.dt[i] = noise._theta, noise._dt
            elif isinstance(noise, NormalActionNoise):
                self.normal[i] = True
            else:
                raise ValueError(f"unsupported action noise {type(noise).__name__}")
        self.any = bool(self.normal.any() or self.ou.any())

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Noise for one step from standard normals ``z`` ([M, A]), SB3's formulas.

        Computed in float64 and returned as float32, as SB3's noise classes do (their
        ``dtype``), so the noisy action stays float32 as in ``_sample_action``.
        """
        noise = np.zeros_like(z)
        noise[self.normal] = (self.sigma * z)[self.normal]
        if self.ou.any():
            ou = (
                self.prev
                + self.theta * (0.0 - self.prev) * self.dt
                + self.sigma * np.sqrt(self.dt) * z
            )
            self.prev = np.where(self.ou[:, None], ou, self.prev)
            noise[self.ou] = ou[self.ou]
        return noise.astype(np.float32)

    def reset(self, done: np.ndarray) -> None:
        self.prev[done] = 0.0


def _flat_params(nets: Sequence[StackedMLP]) -> list[torch.Tensor]:
    return [p for net in nets for p in net.parameters()]


def _optimizer(
    model_optimizer: torch.optim.Optimizer, params: list[torch.Tensor], m: int
) -> BatchedAdam:
    defaults = model_optimizer.defaults
    return BatchedAdam(params, [defaults["lr"]] * m, betas=defaults["betas"], eps=defaults["eps"])


def _assign(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor]) -> None:
    for p, g in zip(params, grads, strict=True):
        p.grad = g


class _Critics:
    """The ``n_critics`` Q-networks of a ``ContinuousCritic`` and their targets."""

    def __init__(self, models: Sequence[OffPolicyAlgorithm], device: str) -> None:
        n = len(models[0].policy.critic.q_networks)  # type: ignore[union-attr]
        self.online = [
            StackedMLP.from_members([m.critic.q_networks[i] for m in models], device)  # type: ignore[attr-defined]
            for i in range(n)
        ]
        self.target = [
            StackedMLP.from_members([m.critic_target.q_networks[i] for m in models], device)  # type: ignore[attr-defined]
            for i in range(n)
        ]
        self.params = _flat_params(self.online)
        self.target_params = _flat_params(self.target)

    @staticmethod
    def values(
        nets: Sequence[StackedMLP], obs: torch.Tensor, actions: torch.Tensor
    ) -> list[torch.Tensor]:
        x = torch.cat([obs, actions], dim=-1)
        return [net(x) for net in nets]

    @staticmethod
    def mse(current: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``F.mse_loss`` per member: ``[M, B, 1]`` -> ``[M]``."""
        return ((current - target) ** 2).mean(dim=(1, 2))


class TD3Networks:
    """Actor, critics and their targets of M TD3/DDPG members, and TD3's ``train()``."""

    def __init__(self, models: Sequence[TD3], device: str) -> None:
        m = len(models)
        self.models = models
        self.actor = StackedMLP.from_members([x.actor.mu for x in models], device)
        self.actor_target = StackedMLP.from_members([x.actor_target.mu for x in models], device)
        self.critics = _Critics(models, device)
        self.actor_optimizer = _optimizer(models[0].actor.optimizer, self.actor.parameters(), m)
        self.critic_optimizer = _optimizer(models[0].critic.optimizer, self.critics.params, m)
        self.polyak = Polyak([x.tau for x in models], device)
        self.gamma = per_member([x.gamma for x in models], device)
        self.noise_std = per_member([x.target_policy_noise for x in models], device)
        self.noise_clip = per_member([x.target_noise_clip for x in models], device)
        self.policy_delay = int(models[0].policy_delay)
        self.n_updates = 0

    def set_learning_rates(self, lrs: Sequence[float]) -> None:
        self.actor_optimizer.set_lr(lrs)
        self.critic_optimizer.set_lr(lrs)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic scaled actions ``[M, A]`` for observations ``[M, obs]``."""
        return self.actor(obs.unsqueeze(1)).squeeze(1)

    def update(self, batch: Batch, target_z: torch.Tensor) -> torch.Tensor:
        """One gradient step (SB3 ``TD3.train`` loop body); returns per-member finite-loss flags.

        ``target_z`` ([M, B, A]) are the standard normal draws of the target smoothing noise.
        """
        self.n_updates += 1
        with torch.no_grad():
            noise = target_z * member_shape(self.noise_std, target_z)
            clip = member_shape(self.noise_clip, noise)
            noise = torch.clamp(noise, -clip, clip)
            next_actions = (self.actor_target(batch.next_observations) + noise).clamp(-1, 1)
            next_q = torch.cat(
                _Critics.values(self.critics.target, batch.next_observations, next_actions), dim=-1
            )
            next_q, _ = torch.min(next_q, dim=-1, keepdim=True)
            target_q = batch.rewards + (1 - batch.dones) * member_shape(self.gamma, next_q) * next_q
        current = _Critics.values(self.critics.online, batch.observations, batch.actions)
        critic_loss = sum(_Critics.mse(q, target_q) for q in current)
        assert isinstance(critic_loss, torch.Tensor)
        finite = torch.isfinite(critic_loss)
        _assign(self.critics.params, torch.autograd.grad(critic_loss.sum(), self.critics.params))
        self.critic_optimizer.step()

        if self.n_updates % self.policy_delay == 0:
            q1 = self.critics.online[0]
            actions = self.actor(batch.observations)
            actor_loss = -q1(torch.cat([batch.observations, actions], dim=-1)).mean(dim=(1, 2))
            finite &= torch.isfinite(actor_loss)
            params = self.actor.parameters()
            _assign(params, torch.autograd.grad(actor_loss.sum(), params))
            self.actor_optimizer.step()
            self.polyak(self.critics.params, self.critics.target_params)
            self.polyak(self.actor.parameters(), self.actor_target.parameters())
        return finite

    def parameters(self) -> list[torch.Tensor]:
        return [*self.actor.parameters(), *self.critics.params]

    def write_member(self, i: int) -> None:
        self.actor.write_member(i, self.models[i].actor.mu)


def gaussian_log_prob(value: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``torch.distributions.Normal(mean, std).log_prob(value)``, element-wise."""
    var = std**2
    return -((value - mean) ** 2) / (2 * var) - std.log() - _HALF_LOG_2PI


class SACNetworks:
    """Squashed Gaussian actor, twin critics, entropy coefficient of M SAC members."""

    def __init__(self, models: Sequence[SAC], device: str) -> None:
        m = len(models)
        self.models = models
        self.latent = StackedMLP.from_members([x.actor.latent_pi for x in models], device)
        self.mu = StackedMLP.from_members([[x.actor.mu] for x in models], device)
        self.log_std = StackedMLP.from_members([[x.actor.log_std] for x in models], device)
        self.actor_params = [
            *self.latent.parameters(),
            *self.mu.parameters(),
            *self.log_std.parameters(),
        ]
        self.critics = _Critics(models, device)
        self.actor_optimizer = _optimizer(models[0].actor.optimizer, self.actor_params, m)
        self.critic_optimizer = _optimizer(models[0].critic.optimizer, self.critics.params, m)
        self.polyak = Polyak([x.tau for x in models], device)
        self.gamma = per_member([x.gamma for x in models], device)
        self.auto_entropy = models[0].ent_coef_optimizer is not None
        if any((x.ent_coef_optimizer is not None) != self.auto_entropy for x in models):
            raise ValueError("members mix a tuned ('auto') and a fixed ent_coef")
        if self.auto_entropy:
            log_ent = torch.stack([x.log_ent_coef.detach() for x in models]).to(device)
            self.log_ent_coef = log_ent.view(m, 1, 1).contiguous().requires_grad_(True)
            self.target_entropy = per_member([x.target_entropy for x in models], device)
            self.ent_optimizer = _optimizer(models[0].ent_coef_optimizer, [self.log_ent_coef], m)
        else:
            self.fixed_ent_coef = per_member([float(x.ent_coef_tensor) for x in models], device)
        self.target_update_interval = int(models[0].target_update_interval)

    def set_learning_rates(self, lrs: Sequence[float]) -> None:
        self.actor_optimizer.set_lr(lrs)
        self.critic_optimizer.set_lr(lrs)
        if self.auto_entropy:
            self.ent_optimizer.set_lr(lrs)

    def action_log_prob(
        self, obs: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """SB3 ``Actor.action_log_prob`` with reparameterisation draws ``z``.

        Returns squashed actions ``[M, B, A]`` and their log-probabilities ``[M, B]``.
        """
        latent = self.latent(obs)
        mean = self.mu(latent)
        log_std = torch.clamp(self.log_std(latent), LOG_STD_MIN, LOG_STD_MAX)
        std = torch.ones_like(mean) * log_std.exp()
        gaussian = mean + z * std
        actions = torch.tanh(gaussian)
        log_prob = gaussian_log_prob(gaussian, mean, std).sum(dim=-1)
        log_prob = log_prob - torch.sum(torch.log(1 - actions**2 + _SQUASH_EPS), dim=-1)
        return actions, log_prob

    @torch.no_grad()
    def act(self, obs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Stochastic scaled actions ``[M, A]`` (SB3 ``predict(deterministic=False)``)."""
        actions, _ = self.action_log_prob(obs.unsqueeze(1), z.unsqueeze(1))
        return actions.squeeze(1)

    def update(
        self, batch: Batch, z_pi: torch.Tensor, z_next: torch.Tensor, gradient_step: int
    ) -> torch.Tensor:
        """One gradient step (SB3 ``SAC.train`` loop body); returns per-member finite-loss flags."""
        actions_pi, log_prob = self.action_log_prob(batch.observations, z_pi)
        log_prob = log_prob.unsqueeze(-1)  # [M, B, 1]
        finite = torch.ones(log_prob.shape[0], dtype=torch.bool, device=log_prob.device)
        if self.auto_entropy:
            ent_coef = torch.exp(self.log_ent_coef.detach())
            target = member_shape(self.target_entropy, log_prob)
            ent_loss = -(self.log_ent_coef * (log_prob + target).detach()).mean(dim=(1, 2))
            finite &= torch.isfinite(ent_loss)
            (grad,) = torch.autograd.grad(ent_loss.sum(), [self.log_ent_coef])
            self.log_ent_coef.grad = grad
            self.ent_optimizer.step()
        else:
            ent_coef = member_shape(self.fixed_ent_coef, log_prob)

        with torch.no_grad():
            next_actions, next_log_prob = self.action_log_prob(batch.next_observations, z_next)
            next_q = torch.cat(
                _Critics.values(self.critics.target, batch.next_observations, next_actions), dim=-1
            )
            next_q, _ = torch.min(next_q, dim=-1, keepdim=True)
            next_q = next_q - ent_coef * next_log_prob.unsqueeze(-1)
            target_q = batch.rewards + (1 - batch.dones) * member_shape(self.gamma, next_q) * next_q

        current = _Critics.values(self.critics.online, batch.observations, batch.actions)
        critic_loss = 0.5 * sum(_Critics.mse(q, target_q) for q in current)
        assert isinstance(critic_loss, torch.Tensor)
        finite &= torch.isfinite(critic_loss)
        _assign(self.critics.params, torch.autograd.grad(critic_loss.sum(), self.critics.params))
        self.critic_optimizer.step()

        q_pi = torch.cat(
            _Critics.values(self.critics.online, batch.observations, actions_pi), dim=-1
        )
        min_q_pi, _ = torch.min(q_pi, dim=-1, keepdim=True)
        actor_loss = (ent_coef * log_prob - min_q_pi).mean(dim=(1, 2))
        finite &= torch.isfinite(actor_loss)
        _assign(self.actor_params, torch.autograd.grad(actor_loss.sum(), self.actor_params))
        self.actor_optimizer.step()

        if gradient_step % self.target_update_interval == 0:
            self.polyak(self.critics.params, self.critics.target_params)
        return finite

    def parameters(self) -> list[torch.Tensor]:
        extra = [self.log_ent_coef] if self.auto_entropy else []
        return [*self.actor_params, *self.critics.params, *extra]

    def write_member(self, i: int) -> None:
        actor = self.models[i].actor
        self.latent.write_member(i, actor.latent_pi)
        self.mu.write_member(i, [actor.mu])
        self.log_std.write_member(i, [actor.log_std])


class DQNNetworks:
    """Q-networks and targets of M DQN members, SB3's ``DQN.train`` and ``DQN._on_step``."""

    def __init__(self, models: Sequence[DQN], device: str) -> None:
        m = len(models)
        self.models = models
        self.q = StackedMLP.from_members([x.q_net.q_net for x in models], device)
        self.q_target = StackedMLP.from_members([x.q_net_target.q_net for x in models], device)
        self.optimizer = _optimizer(models[0].policy.optimizer, self.q.parameters(), m)
        self.polyak = Polyak([x.tau for x in models], device)
        self.gamma = per_member([x.gamma for x in models], device)
        self.max_grad_norm = per_member([x.max_grad_norm for x in models], device)
        self.target_update_interval = int(models[0].target_update_interval)
        self.n_calls = 0

    def set_learning_rates(self, lrs: Sequence[float]) -> None:
        self.optimizer.set_lr(lrs)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Greedy actions ``[M]`` (``QNetwork._predict``)."""
        return self.q(obs.unsqueeze(1)).squeeze(1).argmax(dim=-1)

    def update(self, batch: Batch) -> torch.Tensor:
        """One gradient step (SB3 ``DQN.train`` loop body); returns per-member finite-loss flags."""
        with torch.no_grad():
            next_q, _ = self.q_target(batch.next_observations).max(dim=-1, keepdim=True)
            target_q = batch.rewards + (1 - batch.dones) * member_shape(self.gamma, next_q) * next_q
        current = torch.gather(self.q(batch.observations), dim=-1, index=batch.actions.long())
        loss = F.smooth_l1_loss(current, target_q, reduction="none").mean(dim=(1, 2))
        params = self.q.parameters()
        _assign(params, torch.autograd.grad(loss.sum(), params))
        clip_grad_norm(params, self.max_grad_norm)
        self.optimizer.step()
        return torch.isfinite(loss)

    def on_step(self) -> None:
        """``DQN._on_step``'s target update (one env per member, so every interval steps)."""
        self.n_calls += 1
        if self.n_calls % max(self.target_update_interval, 1) == 0:
            self.polyak(self.q.parameters(), self.q_target.parameters())

    def parameters(self) -> list[torch.Tensor]:
        return self.q.parameters()

    def write_member(self, i: int) -> None:
        self.q.write_member(i, self.models[i].q_net.q_net)


def train_frequency(model: OffPolicyAlgorithm) -> int:
    """``train_freq`` in steps; episodic training frequencies are rejected by ``supports``."""
    if model.train_freq.unit != TrainFrequencyUnit.STEP:  # type: ignore[union-attr]
        raise ValueError("train_freq in episodes is not supported by the population trainer")
    return int(model.train_freq.frequency)  # type: ignore[union-attr]


class OffPolicyLoop:
    """SB3's off-policy ``learn`` for M lockstep members (see the module docstring)."""

    def __init__(self, members: Sequence[Member], progress: GroupProgress, device: str) -> None:
        self.members = list(members)
        self.models: list[OffPolicyAlgorithm] = [m.model for m in members]  # type: ignore[misc]
        self.progress = progress
        self.device = device
        model = self.models[0]
        self.policy = model.policy
        self.obs_dim = int(np.prod(model.observation_space.shape))  # type: ignore[arg-type]
        self.discrete = isinstance(model.action_space, spaces.Discrete)
        self.act_dim = 1 if self.discrete else int(np.prod(model.action_space.shape))  # type: ignore[arg-type]
        self.networks: TD3Networks | SACNetworks | DQNNetworks
        if isinstance(model, DQN):
            self.networks = DQNNetworks(self.models, device)  # type: ignore[arg-type]
        elif isinstance(model, SAC):
            self.networks = SACNetworks(self.models, device)  # type: ignore[arg-type]
        else:
            self.networks = TD3Networks(self.models, device)  # type: ignore[arg-type]
        # DQN's epsilon, updated after every env step as ``DQN._on_step`` does (0 at first).
        self.exploration_rate = np.zeros(len(members))
        progress.networks = self.networks
        self.buffers = ReplayBuffers(
            len(members), replay_slots(members[0].spec), self.obs_dim, self.act_dim, device
        )
        self.noise = ActionNoises(members, self.act_dim)
        self.has_noise = self.noise.normal | self.noise.ou
        self.rng = MemberRandom([m.spec.seed for m in members])
        self.learning_starts = int(model.learning_starts)
        self.train_freq = train_frequency(model)
        self.gradient_steps = int(model.gradient_steps)
        self.batch_size = int(model.batch_size)
        self.total = members[0].spec.budget
        self.progress_remaining = 1.0

    def _tensor(self, values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(values, dtype=np.float32), device=self.device)

    def _sample_action(self, obs: np.ndarray, num_timesteps: int) -> tuple[np.ndarray, np.ndarray]:
        """SB3 ``_sample_action``: (env actions, buffer actions), ``[M, A]`` each."""
        if self.discrete:
            return self._sample_discrete(obs, num_timesteps)
        shape = (self.act_dim,)
        if num_timesteps < self.learning_starts:
            unscaled = np.stack([m.action_space.sample().reshape(shape) for m in self.models])
        else:
            obs_t = self._tensor(obs)
            if isinstance(self.networks, SACNetworks):
                z = self._tensor(self.rng.normal("explore", shape))
                scaled_t = self.networks.act(obs_t, z)
            else:
                scaled_t = self.networks.act(obs_t)
            unscaled = self.policy.unscale_action(scaled_t.cpu().numpy())
        scaled = self.policy.scale_action(unscaled)
        if self.noise.any:
            noisy = np.clip(scaled + self.noise(self.rng.normal("action_noise", shape)), -1, 1)
            scaled = np.where(self.has_noise[:, None], noisy, scaled)
        return self.policy.unscale_action(scaled), scaled

    def _sample_discrete(
        self, obs: np.ndarray, num_timesteps: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Uniform warm-up actions, then ``DQN.predict``'s epsilon-greedy choice per member."""
        if num_timesteps < self.learning_starts:
            actions = np.array([m.action_space.sample() for m in self.models])
        else:
            assert isinstance(self.networks, DQNNetworks)
            actions = self.networks.act(self._tensor(obs)).cpu().numpy()
            explore = self.rng.uniform("epsilon", ()) < self.exploration_rate
            for i in np.flatnonzero(explore):
                actions[i] = self.models[i].action_space.sample()
        return actions, actions.reshape(-1, 1)

    def _train(self, gradient_steps: int) -> None:
        lrs = [m.lr_schedule(self.progress_remaining) for m in self.models]
        self.networks.set_learning_rates(lrs)
        batch_shape = (self.batch_size,)
        noise_shape = (self.batch_size, self.act_dim)
        for gradient_step in range(gradient_steps):
            batch = self.buffers.sample(self.rng.uniform("replay", batch_shape))
            if isinstance(self.networks, DQNNetworks):
                finite = self.networks.update(batch)
            elif isinstance(self.networks, SACNetworks):
                z_pi = self._tensor(self.rng.normal("actor", noise_shape))
                z_next = self._tensor(self.rng.normal("next_actor", noise_shape))
                finite = self.networks.update(batch, z_pi, z_next, gradient_step)
            else:
                z = self._tensor(self.rng.normal("target_noise", noise_shape))
                finite = self.networks.update(batch, z)
            self.progress.record_losses(finite)

    def learn(self) -> None:
        envs = LockstepEnvs([model.env for model in self.models])  # type: ignore[misc]
        obs = envs.reset()
        num_timesteps = 0
        progress = self.progress
        while num_timesteps < self.total and progress.any_alive:
            for _ in range(self.train_freq):
                actions, buffer_actions = self._sample_action(obs, num_timesteps)
                step = envs.step(actions, obs, progress.alive)
                new_obs, rewards, dones, timeouts = (
                    step.observations,
                    step.rewards,
                    step.dones,
                    step.timeouts,
                )
                next_obs = np.where(dones[:, None], step.terminal, new_obs)
                num_timesteps += 1
                progress.after_env_step(num_timesteps, actions, new_obs, rewards)
                self.buffers.add(
                    np.nan_to_num(obs),
                    np.nan_to_num(next_obs),
                    np.nan_to_num(buffer_actions),
                    np.nan_to_num(rewards),
                    dones,
                    timeouts,
                )
                self.progress_remaining = 1.0 - float(num_timesteps) / float(self.total)
                if isinstance(self.networks, DQNNetworks):
                    self.networks.on_step()
                    remaining = self.progress_remaining
                    self.exploration_rate = np.array(
                        [x.exploration_schedule(remaining) for x in self.models]  # type: ignore[attr-defined]
                    )
                self.noise.reset(dones)
                obs = np.nan_to_num(new_obs)
            if num_timesteps > self.learning_starts and progress.any_alive:
                steps = self.gradient_steps if self.gradient_steps >= 0 else self.train_freq
                if steps > 0:
                    self._train(steps)
