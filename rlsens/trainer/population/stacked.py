"""Many members' MLPs as one batched computation: weights stacked along a member axis.

A member's network is taken from the SB3 policy built for its run (same seed, same
constructor path), so its initialisation is SB3's by construction; ``StackedMLP`` only
re-arranges those weights so that M members' forward passes are one ``torch.baddbmm`` per
layer instead of M small matmuls. Member ``m`` of every stacked tensor is independent of
every other member: no operation here mixes members, so a member whose numbers go non-finite
cannot contaminate its neighbours.

A member's numbers must not depend on how many members share its stack (a run is a
function of its spec, and a group's size is not in it), so every linear layer goes through
``batched_linear``, which keeps torch on its batched matmul kernel even for a single member.

Measured in this torch build (2.13, CPU, one thread, [32, 64, 64] activations):
``torch.tanh`` is not slower than ``torch.sigmoid`` (32 µs vs 42 µs forward, and the
``2·sigmoid(2x) − 1`` rewrite is 2.5x slower with its backward), so activations are torch's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

# In-place: an activation always follows a linear layer here, whose output nothing else holds,
# and neither ``baddbmm``'s backward nor the activations' (which use their outputs) need it
# afterwards. Measured: ``relu_`` on [64, 256, 64] costs 0.44 ms against 1.18 ms for ``relu``.
ACTIVATIONS: dict[type[nn.Module], Callable[[torch.Tensor], torch.Tensor]] = {
    nn.ReLU: torch.relu_,
    nn.Tanh: torch.tanh_,
}


def supported_activation(module: type[nn.Module]) -> bool:
    return module in ACTIVATIONS


def batched_linear(bias: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``torch.baddbmm(bias, x, weight)`` whose per-member result does not depend on M.

    torch 2.13 (CPU, MKL) runs ``baddbmm`` and the ``bmm`` of its backward as one batched
    MKL gemm for M >= 2 but hands a batch of one to plain ``gemm``, which MKL runs as
    ``gemv`` (or a rank-1 update) when a side of a product is 1: a critic's or value head's
    output, Pendulum's one action, a one-dimensional observation. That rounds differently
    (3.8e-6 apart on [64, 64] @ [64, 1]): measured over 384 shapes (batch, in, out), the
    forward or a gradient of a lone member differed from the same member in a stack of two
    in 52, every one of them with ``in`` or ``out`` 1 (a batch of one row never differed),
    and never otherwise; members of stacks of 2 to 128 agree bit for bit. So a lone member's
    layer of width 1 is computed as a batch of two (a zero-stride copy of itself, the second
    result dropped, its gradient exactly zero): it gets the numbers it has in any larger
    group. Other layers and larger groups are untouched.
    """
    if x.shape[0] != 1 or 1 not in (x.shape[2], weight.shape[2]):
        return torch.baddbmm(bias, x, weight)
    pair = (2, -1, -1)
    return torch.baddbmm(bias.expand(pair), x.expand(pair), weight.expand(pair))[:1]


class StackedMLP:
    """Linear layers and element-wise activations of M members, as in an ``nn.Sequential``.

    ``weights[i]`` is ``[M, in, out]`` (the transpose of ``nn.Linear.weight``, the layout
    ``baddbmm`` wants) and ``biases[i]`` is ``[M, 1, out]``; ``ops`` is the module order:
    an int is a linear layer's index, a callable an activation.
    """

    def __init__(
        self,
        weights: list[torch.Tensor],
        biases: list[torch.Tensor],
        ops: list[int | Callable[[torch.Tensor], torch.Tensor]],
    ) -> None:
        self.weights = weights
        self.biases = biases
        self.ops = ops

    @classmethod
    def from_members(cls, members: Sequence[Sequence[nn.Module]], device: str) -> StackedMLP:
        """Stack the same-shaped module sequences of M members (``nn.Sequential`` or lists)."""
        first = list(members[0])
        ops: list[int | Callable[[torch.Tensor], torch.Tensor]] = []
        linear_positions: list[int] = []
        for position, module in enumerate(first):
            if isinstance(module, nn.Linear):
                ops.append(len(linear_positions))
                linear_positions.append(position)
            elif (
                type(module) in ACTIVATIONS
                and position > 0
                and isinstance(first[position - 1], nn.Linear)
            ):
                ops.append(ACTIVATIONS[type(module)])
            else:
                raise ValueError(f"cannot stack module {module!r} at position {position}")
        weights, biases = [], []
        for position in linear_positions:
            layers = [list(member)[position] for member in members]
            weight = torch.stack([layer.weight.detach().t() for layer in layers])
            bias = torch.stack([layer.bias.detach().unsqueeze(0) for layer in layers])
            weights.append(weight.to(device).contiguous().requires_grad_(True))
            biases.append(bias.to(device).contiguous().requires_grad_(True))
        return cls(weights, biases, ops)

    def parameters(self) -> list[torch.Tensor]:
        return [t for pair in zip(self.weights, self.biases, strict=True) for t in pair]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[M, B, in]`` -> ``[M, B, out]``."""
        for op in self.ops:
            if isinstance(op, int):
                x = batched_linear(self.biases[op], x, self.weights[op])
            else:
                x = op(x)
        return x

    def write_member(self, member: int, modules: Sequence[nn.Module]) -> None:
        """Copy member ``member``'s weights back into its SB3 modules (for evaluation)."""
        linears = [m for m in modules if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for layer, weight, bias in zip(linears, self.weights, self.biases, strict=True):
                layer.weight.copy_(weight[member].t())
                layer.bias.copy_(bias[member, 0])


def member_shape(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``values`` ([M]) viewed so it broadcasts against ``like`` ([M, ...])."""
    return values.view(-1, *([1] * (like.dim() - 1)))


def per_member(values: Sequence[float], device: str | torch.device) -> torch.Tensor:
    """Per-member float32 scalars ([M]), each rounded once from float64 as SB3 rounds them."""
    return torch.tensor([float(v) for v in values], dtype=torch.float32, device=device)


class Polyak:
    """SB3's ``polyak_update`` with a per-member ``tau``.

    SB3 computes ``target * (1 - tau)`` then ``+ tau * param`` in the parameters' dtype, with
    ``1 - tau`` taken in float64; both factors are rounded from float64 here the same way, and
    the result is bit-identical to SB3's (tested).
    """

    def __init__(self, tau: Sequence[float], device: str | torch.device) -> None:
        self.take = per_member(tau, device)
        self.keep = per_member([1.0 - float(t) for t in tau], device)

    @torch.no_grad()
    def __call__(self, online: Sequence[torch.Tensor], target: Sequence[torch.Tensor]) -> None:
        for param, target_param in zip(online, target, strict=True):
            # ``addcmul_`` rounds like SB3's ``add(alpha=tau)`` (fused multiply-add); a separate
            # product would not (measured: 1 ulp off).
            target_param.mul_(member_shape(self.keep, param))
            target_param.addcmul_(param, member_shape(self.take, param))


def clip_grad_norm(
    parameters: Sequence[torch.Tensor], max_norm: torch.Tensor, active: torch.Tensor | None = None
) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_`` per member: each member's own total norm and clip.

    Returns the per-member total norms ([M]). ``max_norm`` is per member ([M], float32).
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    norms = torch.stack(
        [torch.linalg.vector_norm(g.flatten(1), 2, dim=1) for g in grads], dim=1
    )  # [M, P]
    total = torch.linalg.vector_norm(norms, 2, dim=1)  # [M]
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(member_shape(coef, g))
    return total
