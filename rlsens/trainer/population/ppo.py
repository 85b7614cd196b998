"""PPO (and A2C) for M members at once, following SB3's ``train`` and ``collect_rollouts``.

Networks are the members' own ``ActorCriticPolicy`` weights (orthogonal init and
``log_std_init`` by SB3), optimised by Adam with the policy's ``eps=1e-5``. Per member:
learning-rate and clip-range schedules, ``clip_range_vf``, ``ent_coef``, ``vf_coef``,
``max_grad_norm`` (clipping by the member's own gradient norm), ``gamma``, ``gae_lambda`` and
``target_kl``: a member whose approximate KL passes ``1.5 * target_kl`` takes no step on that
minibatch and none for the rest of the update, as SB3 breaks out of its epochs; the others go
on. Each member gets its own minibatch permutation per epoch. Rollouts are SB3's: Gaussian
actions clipped to the action bounds for the environment but stored unclipped, the value of a
truncated episode's terminal observation bootstrapped into its last reward, GAE(λ) over the
member's own buffer. A2C shares the rollouts and networks; its update is SB3's ``A2C.train``
(one step on the whole permuted rollout, RMSprop with ``alpha=0.99``, ``eps=rms_prop_eps``
unless ``use_rms_prop`` is off).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from rlsens.trainer.population.adam import BatchedAdam
from rlsens.trainer.population.envs import LockstepEnvs
from rlsens.trainer.population.members import Member
from rlsens.trainer.population.offpolicy import gaussian_log_prob
from rlsens.trainer.population.progress import GroupProgress
from rlsens.trainer.population.rmsprop import BatchedRMSprop
from rlsens.trainer.population.stacked import StackedMLP, clip_grad_norm, member_shape, per_member
from rlsens.trainer.population.streams import MemberRandom

_ENTROPY_CONSTANT = 0.5 + 0.5 * math.log(2 * math.pi)
_ROLLOUT_FIELDS = ("observations", "actions", "values", "log_probs", "advantages", "returns")


@dataclass
class Rollouts:
    """Each member's rollout buffer as ``[M, N, ...]`` tensors (N = n_steps, one env)."""

    observations: torch.Tensor
    actions: torch.Tensor
    values: torch.Tensor
    log_probs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor


class ActorCriticNetworks(abc.ABC):
    """The members' ``ActorCriticPolicy`` stacked, with their optimiser (PPO and A2C)."""

    def __init__(self, models: Sequence[OnPolicyAlgorithm], device: str) -> None:
        m = len(models)
        self.models = models
        self.device = device
        policies = [x.policy for x in models]
        self.pi = StackedMLP.from_members([p.mlp_extractor.policy_net for p in policies], device)
        self.vf = StackedMLP.from_members([p.mlp_extractor.value_net for p in policies], device)
        self.action_net = StackedMLP.from_members([[p.action_net] for p in policies], device)
        self.value_net = StackedMLP.from_members([[p.value_net] for p in policies], device)
        log_std = torch.stack([p.log_std.detach() for p in policies]).to(device)
        self.log_std = log_std.unsqueeze(1).contiguous().requires_grad_(True)  # [M, 1, A]
        self.params = [
            *self.pi.parameters(),
            *self.vf.parameters(),
            *self.action_net.parameters(),
            *self.value_net.parameters(),
            self.log_std,
        ]
        optimizer = policies[0].optimizer
        defaults = optimizer.defaults
        lrs = [defaults["lr"]] * m
        self.optimizer: BatchedAdam | BatchedRMSprop
        if isinstance(optimizer, torch.optim.RMSprop):
            self.optimizer = BatchedRMSprop(self.params, lrs, defaults["alpha"], defaults["eps"])
        else:
            self.optimizer = BatchedAdam(
                self.params, lrs, betas=defaults["betas"], eps=defaults["eps"]
            )
        self.ent_coef = per_member([x.ent_coef for x in models], device)
        self.vf_coef = per_member([x.vf_coef for x in models], device)
        self.max_grad_norm = per_member([x.max_grad_norm for x in models], device)
        self.normalize_advantage = bool(models[0].normalize_advantage)  # type: ignore[attr-defined]
        # One pass over the whole rollout in one batch, unless PPO says otherwise.
        self.n_epochs = 1
        self.batch_size = int(models[0].n_steps)

    def distribution(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Gaussian mean, std ``[M, B, A]`` and values ``[M, B]`` (ActorCriticPolicy.forward)."""
        mean = self.action_net(self.pi(obs))
        values = self.value_net(self.vf(obs)).squeeze(-1)
        std = torch.ones_like(mean) * self.log_std.exp()
        return mean, std, values

    @torch.no_grad()
    def act(self, obs: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Sampled actions ``[M, A]``, values and log-probabilities ``[M]``."""
        mean, std, values = self.distribution(obs.unsqueeze(1))
        actions = mean + z.unsqueeze(1) * std
        log_prob = gaussian_log_prob(actions, mean, std).sum(dim=-1)
        return actions.squeeze(1), values.squeeze(1), log_prob.squeeze(1)

    @torch.no_grad()
    def values(self, obs: torch.Tensor) -> torch.Tensor:
        return self.value_net(self.vf(obs.unsqueeze(1))).reshape(-1)

    def evaluate(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``ActorCriticPolicy.evaluate_actions``: values, log-probabilities, entropies."""
        mean, std, values = self.distribution(obs)
        log_prob = gaussian_log_prob(actions, mean, std).sum(dim=-1)
        entropy = (_ENTROPY_CONSTANT + torch.log(std)).sum(dim=-1)
        return values, log_prob, entropy

    def step(self, loss: torch.Tensor, active: np.ndarray | None) -> None:
        """``zero_grad``, ``backward``, per-member ``clip_grad_norm_``, optimiser step."""
        grads = torch.autograd.grad(loss.sum(), self.params)
        for p, g in zip(self.params, grads, strict=True):
            p.grad = g
        clip_grad_norm(self.params, self.max_grad_norm)
        self.optimizer.step(active)

    @abc.abstractmethod
    def update(
        self,
        rollouts: Rollouts,
        permutations: Sequence[np.ndarray],
        progress_remaining: float,
        alive: np.ndarray,
    ) -> torch.Tensor:
        """The algorithm's ``train()``; returns per-member finite-loss flags."""

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params)

    def write_member(self, i: int) -> None:
        policy = self.models[i].policy
        self.pi.write_member(i, policy.mlp_extractor.policy_net)
        self.vf.write_member(i, policy.mlp_extractor.value_net)
        self.action_net.write_member(i, [policy.action_net])
        self.value_net.write_member(i, [policy.value_net])
        with torch.no_grad():
            policy.log_std.copy_(self.log_std[i, 0])


class PPONetworks(ActorCriticNetworks):
    def __init__(self, models: Sequence[PPO], device: str) -> None:
        super().__init__(models, device)
        self.kl_limit = np.array(
            [np.float32(np.inf if x.target_kl is None else 1.5 * x.target_kl) for x in models]
        )
        self.clip_vf = models[0].clip_range_vf is not None
        if any((x.clip_range_vf is not None) != self.clip_vf for x in models):
            raise ValueError("members mix clipped and unclipped value functions")
        self.n_epochs = int(models[0].n_epochs)
        self.batch_size = int(models[0].batch_size)

    def update(
        self,
        rollouts: Rollouts,
        permutations: Sequence[np.ndarray],
        progress_remaining: float,
        alive: np.ndarray,
    ) -> torch.Tensor:
        """SB3 ``PPO.train``: ``permutations[epoch]`` ([M, N]) orders each member's minibatches.

        Returns per-member finite-loss flags.
        """
        m = len(self.models)
        device = self.device
        self.optimizer.set_lr([x.lr_schedule(progress_remaining) for x in self.models])
        clip = [float(x.clip_range(progress_remaining)) for x in self.models]
        low = per_member([1 - c for c in clip], device)
        high = per_member([1 + c for c in clip], device)
        if self.clip_vf:
            clip_vf = per_member([x.clip_range_vf(progress_remaining) for x in self.models], device)
        active = alive.copy()
        finite = torch.ones(m, dtype=torch.bool, device=device)
        rows = torch.arange(m, device=device).unsqueeze(1)
        n = rollouts.actions.shape[1]
        for epoch in range(self.n_epochs):
            # Each member's buffer in its epoch order, gathered once; minibatches are slices.
            order = torch.as_tensor(permutations[epoch], device=device)
            shuffled = [getattr(rollouts, name)[rows, order] for name in _ROLLOUT_FIELDS]
            for start in range(0, n, self.batch_size):
                window = slice(start, start + self.batch_size)
                obs, actions, old_values, old_log_prob, advantages, returns = (
                    t[:, window] for t in shuffled
                )

                values, log_prob, entropy = self.evaluate(obs, actions)
                if self.normalize_advantage and advantages.shape[1] > 1:
                    mu = advantages.mean(dim=1, keepdim=True)
                    advantages = (advantages - mu) / (advantages.std(dim=1, keepdim=True) + 1e-8)
                ratio = torch.exp(log_prob - old_log_prob)
                loss_1 = advantages * ratio
                loss_2 = advantages * torch.clamp(
                    ratio, member_shape(low, ratio), member_shape(high, ratio)
                )
                policy_loss = -torch.min(loss_1, loss_2).mean(dim=1)
                if self.clip_vf:
                    bound = member_shape(clip_vf, values)
                    values = old_values + torch.clamp(values - old_values, -bound, bound)
                value_loss = ((returns - values) ** 2).mean(dim=1)
                entropy_loss = -torch.mean(entropy, dim=1)
                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
                with torch.no_grad():
                    log_ratio = log_prob - old_log_prob
                    approx_kl = torch.mean((torch.exp(log_ratio) - 1) - log_ratio, dim=1)
                active &= ~(approx_kl.cpu().numpy() > self.kl_limit)
                if not active.any():
                    return finite
                finite &= torch.isfinite(loss) | ~torch.as_tensor(active, device=device)
                self.step(loss, active)
        return finite


class A2CNetworks(ActorCriticNetworks):
    def update(
        self,
        rollouts: Rollouts,
        permutations: Sequence[np.ndarray],
        progress_remaining: float,
        alive: np.ndarray,
    ) -> torch.Tensor:
        """SB3 ``A2C.train``: one gradient step on each member's whole (permuted) rollout.

        Dead members are stepped too (RMSprop has no per-member mask); their numbers are
        never read again and no operation mixes members.
        """
        m = len(self.models)
        self.optimizer.set_lr([x.lr_schedule(progress_remaining) for x in self.models])
        rows = torch.arange(m, device=self.device).unsqueeze(1)
        order = torch.as_tensor(permutations[0], device=self.device)
        obs, actions, _, _, advantages, returns = (
            getattr(rollouts, name)[rows, order] for name in _ROLLOUT_FIELDS
        )
        values, log_prob, entropy = self.evaluate(obs, actions)
        if self.normalize_advantage:
            mu = advantages.mean(dim=1, keepdim=True)
            advantages = (advantages - mu) / (advantages.std(dim=1, keepdim=True) + 1e-8)
        policy_loss = -(advantages * log_prob).mean(dim=1)
        value_loss = ((returns - values) ** 2).mean(dim=1)
        entropy_loss = -torch.mean(entropy, dim=1)
        loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
        self.step(loss, None)
        return torch.isfinite(loss)


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    episode_starts: np.ndarray,
    last_values: np.ndarray,
    dones: np.ndarray,
    gamma: np.ndarray,
    gamma_lambda: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """SB3 ``RolloutBuffer.compute_returns_and_advantage`` per member (columns), float32.

    ``gamma`` and ``gamma_lambda`` are per-member float32 (``gamma * gae_lambda`` is taken in
    float64 before rounding, as SB3's Python floats are).
    """
    n = rewards.shape[0]
    advantages = np.zeros_like(rewards)
    last_gae = np.zeros_like(last_values)
    for step in reversed(range(n)):
        if step == n - 1:
            next_non_terminal = 1.0 - dones.astype(np.float32)
            next_values = last_values
        else:
            next_non_terminal = 1.0 - episode_starts[step + 1]
            next_values = values[step + 1]
        delta = rewards[step] + gamma * next_values * next_non_terminal - values[step]
        last_gae = delta + gamma_lambda * next_non_terminal * last_gae
        advantages[step] = last_gae
    return advantages, advantages + values


class OnPolicyLoop:
    """SB3's on-policy ``learn``: ``n_steps`` of rollout per member, then ``train``."""

    def __init__(self, members: Sequence[Member], progress: GroupProgress, device: str) -> None:
        self.members = list(members)
        self.models: list[OnPolicyAlgorithm] = [m.model for m in members]  # type: ignore[misc]
        self.progress = progress
        self.device = device
        self.networks: ActorCriticNetworks = (
            A2CNetworks(self.models, device)
            if isinstance(self.models[0], A2C)
            else PPONetworks(self.models, device)  # type: ignore[arg-type]
        )
        progress.networks = self.networks
        model = self.models[0]
        self.space = model.action_space
        self.obs_dim = int(np.prod(model.observation_space.shape))  # type: ignore[arg-type]
        self.act_dim = int(np.prod(model.action_space.shape))  # type: ignore[arg-type]
        self.n_steps = int(model.n_steps)
        self.gamma = np.array([np.float32(x.gamma) for x in self.models])
        self.gamma_t = per_member([x.gamma for x in self.models], device)
        self.gamma_lambda = np.array([np.float32(x.gamma * x.gae_lambda) for x in self.models])
        self.rng = MemberRandom([m.spec.seed for m in members])
        self.total = members[0].spec.budget

    def _tensor(self, values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(values, dtype=np.float32), device=self.device)

    def learn(self) -> None:
        m, n = len(self.members), self.n_steps
        envs = LockstepEnvs([model.env for model in self.models])  # type: ignore[misc]
        obs = envs.reset()
        starts = np.ones(m, dtype=np.float32)
        num_timesteps = 0
        progress = self.progress
        while num_timesteps < self.total and progress.any_alive:
            buf_obs = np.zeros((n, m, self.obs_dim), dtype=np.float32)
            buf_actions = np.zeros((n, m, self.act_dim), dtype=np.float32)
            buf_rewards = np.zeros((n, m), dtype=np.float32)
            buf_starts = np.zeros((n, m), dtype=np.float32)
            buf_values = np.zeros((n, m), dtype=np.float32)
            buf_log_probs = np.zeros((n, m), dtype=np.float32)
            dones = np.zeros(m, dtype=bool)
            for step in range(n):
                z = self._tensor(self.rng.normal("actions", (self.act_dim,)))
                actions_t, values_t, log_probs_t = self.networks.act(self._tensor(obs), z)
                actions = actions_t.cpu().numpy()
                clipped = np.clip(actions, self.space.low, self.space.high)  # type: ignore[attr-defined]
                step_out = envs.step(clipped, obs, progress.alive)
                new_obs, rewards, dones = step_out.observations, step_out.rewards, step_out.dones
                bootstrap = dones & step_out.timeouts
                num_timesteps += 1
                progress.after_env_step(num_timesteps, clipped, new_obs, rewards)
                if bootstrap.any():
                    terminal_values = self.networks.values(self._tensor(step_out.terminal))
                    added = self._tensor(rewards) + self.gamma_t * terminal_values
                    rewards = np.where(bootstrap, added.cpu().numpy(), rewards)
                buf_obs[step] = obs
                buf_actions[step] = np.nan_to_num(actions)
                buf_rewards[step] = np.nan_to_num(rewards)
                buf_starts[step] = starts
                buf_values[step] = np.nan_to_num(values_t.cpu().numpy())
                buf_log_probs[step] = np.nan_to_num(log_probs_t.cpu().numpy())
                obs = np.nan_to_num(new_obs)
                starts = dones.astype(np.float32)
            if not progress.any_alive:
                break
            last_values = self.networks.values(self._tensor(obs)).cpu().numpy()
            advantages, returns = gae(
                buf_rewards,
                buf_values,
                buf_starts,
                np.nan_to_num(last_values),
                dones,
                self.gamma,
                self.gamma_lambda,
            )

            def members_first(a: np.ndarray) -> torch.Tensor:
                return self._tensor(np.ascontiguousarray(np.swapaxes(a, 0, 1)))

            rollouts = Rollouts(
                members_first(buf_obs),
                members_first(buf_actions),
                members_first(buf_values),
                members_first(buf_log_probs),
                members_first(advantages),
                members_first(returns),
            )
            progress_remaining = 1.0 - float(num_timesteps) / float(self.total)
            permutations = [
                self.rng.permutations("minibatches", n) for _ in range(self.networks.n_epochs)
            ]
            finite = self.networks.update(
                rollouts, permutations, progress_remaining, progress.alive
            )
            progress.record_losses(finite)
