"""RMSprop over stacked parameters with a learning rate per member (A2C's optimiser).

Reproduces ``torch.optim.RMSprop``'s single-tensor arithmetic for SB3's A2C settings
(``alpha=0.99``, ``eps=rms_prop_eps``, no momentum, not centred, no weight decay).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from rlsens.trainer.population.stacked import member_shape, per_member


class BatchedRMSprop:
    def __init__(
        self, params: Sequence[torch.Tensor], lr: Sequence[float], alpha: float, eps: float
    ) -> None:
        self.params = list(params)
        self.alpha = float(alpha)
        self.eps = float(eps)
        self.square_avg = [torch.zeros_like(p) for p in self.params]
        self.lr = np.asarray(lr, dtype=np.float64).copy()

    def set_lr(self, lr: Sequence[float]) -> None:
        self.lr[:] = np.asarray(lr, dtype=np.float64)

    @torch.no_grad()
    def step(self, active: np.ndarray | None = None) -> None:
        """One step for every member (A2C never masks: ``active`` must be all True or None)."""
        if active is not None and not active.all():
            raise ValueError("RMSprop members are stepped together")
        neg_lr = per_member(-self.lr, self.params[0].device)
        for param, square_avg in zip(self.params, self.square_avg, strict=True):
            grad = param.grad
            if grad is None:
                continue
            square_avg.mul_(self.alpha).addcmul_(grad, grad, value=1 - self.alpha)
            avg = square_avg.sqrt().add_(self.eps)
            param.add_(member_shape(neg_lr, param) * grad / avg)
