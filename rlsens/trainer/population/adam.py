"""Adam over stacked parameters with a learning rate (and step count) per member.

Reproduces ``torch.optim.Adam``'s single-tensor arithmetic (the path torch takes on CPU) op
for op: ``lerp_`` for the first moment, ``mul_``/``addcmul_`` for the second, bias
corrections in float64 from the member's own step count, then ``addcdiv_``. Members that are
masked (PPO's target_kl early stop) keep their parameters, moments and step count, exactly as
SB3 skips their optimiser steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from rlsens.trainer.population.stacked import member_shape, per_member


class BatchedAdam:
    def __init__(
        self,
        params: Sequence[torch.Tensor],
        lr: Sequence[float],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.eps = float(eps)
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        members = int(self.params[0].shape[0])
        self.steps = np.zeros(members, dtype=np.int64)
        self.lr = np.asarray(lr, dtype=np.float64).copy()
        if self.lr.shape != (members,):
            raise ValueError(f"need one learning rate per member ({members}), got {self.lr.shape}")

    def set_lr(self, lr: Sequence[float]) -> None:
        self.lr[:] = np.asarray(lr, dtype=np.float64)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, active: np.ndarray | None = None) -> None:
        """One Adam step for every member, or only for those where ``active`` is True."""
        steps = self.steps + (1 if active is None else active.astype(np.int64))
        # Members not stepped get any valid value here; their updates are discarded below.
        safe = np.maximum(steps, 1)
        bias_correction1 = 1 - self.beta1**safe
        bias_correction2 = 1 - self.beta2**safe
        device = self.params[0].device
        neg_step_size = per_member(-(self.lr / bias_correction1), device)
        bias_correction2_sqrt = per_member(bias_correction2**0.5, device)
        mask = None
        if active is not None and not active.all():
            mask = torch.as_tensor(active, device=device)
        for param, exp_avg, exp_avg_sq in zip(
            self.params, self.exp_avg, self.exp_avg_sq, strict=True
        ):
            grad = param.grad
            if grad is None:
                continue
            if mask is not None:
                keep = member_shape(mask, param)
                old = (param.clone(), exp_avg.clone(), exp_avg_sq.clone())
            exp_avg.lerp_(grad, 1 - self.beta1)
            exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
            denom = (exp_avg_sq.sqrt() / member_shape(bias_correction2_sqrt, param)).add_(self.eps)
            param.add_(member_shape(neg_step_size, param) * exp_avg / denom)
            if mask is not None:
                for tensor, previous in zip((param, exp_avg, exp_avg_sq), old, strict=True):
                    torch.where(keep, tensor, previous, out=tensor)
        self.steps = steps
