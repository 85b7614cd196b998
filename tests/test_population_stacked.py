"""Stacked building blocks against their torch/SB3 originals, member by member."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3.common.utils import polyak_update

from rlsens.trainer.population.adam import BatchedAdam
from rlsens.trainer.population.stacked import Polyak, StackedMLP, batched_linear, clip_grad_norm

LRS = [1e-3, 3e-4, 7.7e-3]


def stacked_and_members(seed: int) -> tuple[list[torch.Tensor], list[list[torch.nn.Parameter]]]:
    torch.manual_seed(seed)
    shapes = [(len(LRS), 5, 7), (len(LRS), 1, 7)]
    stacked = [torch.randn(s) for s in shapes]
    members = [[torch.nn.Parameter(p[m].clone()) for p in stacked] for m in range(len(LRS))]
    return [p.clone().requires_grad_(True) for p in stacked], members


def test_batched_adam_is_torch_adam_bit_for_bit() -> None:
    stacked, members = stacked_and_members(0)
    optimizers = [
        torch.optim.Adam(ps, lr=lr, eps=1e-5) for ps, lr in zip(members, LRS, strict=True)
    ]
    batched = BatchedAdam(stacked, LRS, eps=1e-5)
    for _ in range(20):
        grads = [torch.randn_like(p) for p in stacked]
        for m, optimizer in enumerate(optimizers):
            for p, g in zip(members[m], grads, strict=True):
                p.grad = g[m].clone()
            optimizer.step()
        for p, g in zip(stacked, grads, strict=True):
            p.grad = g.clone()
        batched.step()
    for m in range(len(LRS)):
        for ours, theirs in zip(stacked, members[m], strict=True):
            assert torch.equal(ours[m].detach(), theirs.detach())


def test_masked_members_keep_parameters_moments_and_step_count() -> None:
    stacked, members = stacked_and_members(1)
    batched = BatchedAdam(stacked, LRS)
    reference = [torch.optim.Adam(ps, lr=lr) for ps, lr in zip(members, LRS, strict=True)]
    masks = [
        np.array([True, True, True]),
        np.array([True, False, True]),
        np.array([True, False, True]),
    ]
    for mask in masks:
        grads = [torch.randn_like(p) for p in stacked]
        for p, g in zip(stacked, grads, strict=True):
            p.grad = g.clone()
        batched.step(mask)
        for m in np.flatnonzero(mask):
            for p, g in zip(members[m], grads, strict=True):
                p.grad = g[m].clone()
            reference[m].step()
    assert batched.steps.tolist() == [3, 1, 3]
    for m in range(len(LRS)):
        for ours, theirs in zip(stacked, members[m], strict=True):
            assert torch.equal(ours[m].detach(), theirs.detach())


def test_polyak_is_sb3_polyak_update_per_member() -> None:
    taus = [0.005, 0.3, 1.0]
    online, _ = stacked_and_members(2)
    target, _ = stacked_and_members(3)
    expected = [[t[m].clone() for t in target] for m in range(3)]
    for m, tau in enumerate(taus):
        polyak_update([p[m].detach() for p in online], expected[m], tau)
    Polyak(taus, "cpu")([p.detach() for p in online], target)
    for m in range(3):
        for ours, theirs in zip(target, expected[m], strict=True):
            assert torch.equal(ours[m], theirs)


def test_clip_grad_norm_per_member_matches_torch() -> None:
    stacked, members = stacked_and_members(4)
    max_norms = [0.5, 100.0, 0.01]
    for p in stacked:
        p.grad = torch.randn_like(p)
    for m, ps in enumerate(members):
        for p, s in zip(ps, stacked, strict=True):
            p.grad = s.grad[m].clone()
        torch.nn.utils.clip_grad_norm_(ps, max_norms[m])
    clip_grad_norm(stacked, torch.tensor(max_norms))
    for m in range(3):
        for ours, theirs in zip(stacked, members[m], strict=True):
            torch.testing.assert_close(ours.grad[m], theirs.grad, rtol=1e-6, atol=1e-7)
    assert not torch.allclose(stacked[0].grad[0], torch.zeros_like(stacked[0].grad[0]))


def test_stacked_mlp_forward_is_each_members_sequential() -> None:
    torch.manual_seed(5)
    nets = [
        torch.nn.Sequential(
            torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2), torch.nn.Tanh()
        )
        for _ in range(4)
    ]
    stacked = StackedMLP.from_members(nets, "cpu")
    x = torch.randn(4, 6, 3)
    out = stacked(x)
    for m, net in enumerate(nets):
        torch.testing.assert_close(out[m], net(x[m]), rtol=0, atol=1e-6)
    target = [
        torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        for _ in range(1)
    ]
    stacked.write_member(2, target[0])
    torch.testing.assert_close(target[0](x[2]), nets[2][:3](x[2]), rtol=0, atol=0)


def test_batched_rmsprop_is_torch_rmsprop_as_a2c_configures_it() -> None:
    from rlsens.trainer.population.rmsprop import BatchedRMSprop

    stacked, members = stacked_and_members(6)
    optimizers = [
        torch.optim.RMSprop(ps, lr=lr, alpha=0.99, eps=1e-5, weight_decay=0)
        for ps, lr in zip(members, LRS, strict=True)
    ]
    batched = BatchedRMSprop(stacked, LRS, alpha=0.99, eps=1e-5)
    for _ in range(20):
        grads = [torch.randn_like(p) for p in stacked]
        for m, optimizer in enumerate(optimizers):
            for p, g in zip(members[m], grads, strict=True):
                p.grad = g[m].clone()
            optimizer.step()
        for p, g in zip(stacked, grads, strict=True):
            p.grad = g.clone()
        batched.step()
    for m in range(len(LRS)):
        for ours, theirs in zip(stacked, members[m], strict=True):
            assert torch.equal(ours[m].detach(), theirs.detach())


@pytest.mark.parametrize(
    "batch,width_in,width_out",
    [(64, 64, 1), (8, 64, 1), (64, 1, 64), (2048, 1, 1), (64, 3, 64), (1, 64, 64), (256, 64, 2)],
)
def test_batched_linear_gives_each_member_the_same_bits_at_any_group_size(
    batch: int, width_in: int, width_out: int
) -> None:
    """Values and all three gradients of member k are the same whether the stack holds 1, 2,
    5 or 64 members; the first four shapes are ones where a lone ``baddbmm`` differs."""
    torch.manual_seed(3)
    largest = 64
    x = torch.randn(largest, batch, width_in)
    weight = torch.randn(largest, width_in, width_out)
    bias = torch.randn(largest, 1, width_out)
    upstream = torch.randn(largest, batch, width_out)

    def member_numbers(members: int) -> list[torch.Tensor]:
        leaves = [t[:members].clone().requires_grad_(True) for t in (bias, x, weight)]
        out = batched_linear(*leaves)
        return [out.detach(), *torch.autograd.grad(out, leaves, upstream[:members])]

    reference = member_numbers(largest)
    for members in (1, 2, 5):
        for got, want in zip(member_numbers(members), reference, strict=True):
            assert torch.equal(got, want[:members])
