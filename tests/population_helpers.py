"""Helpers shared by the population trainer's tests (members built, stacked weights compared)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rlsens.spec import RunSpec
from rlsens.trainer.population.members import Member, build_member
from rlsens.trainer.population.stacked import StackedMLP


def build(made: list[Member], specs: Sequence[RunSpec]) -> list[Member]:
    """Members for ``specs`` on CPU, recorded in ``made`` (the ``built`` fixture closes them)."""
    members = [build_member(s, "cpu") for s in specs]
    made.extend(members)
    return members


def assert_member_equals(
    net: StackedMLP, i: int, modules: torch.nn.Module, *, atol: float
) -> None:
    """Member ``i`` of a stacked network has the weights of an SB3 ``nn.Sequential``."""
    linears = [m for m in modules if isinstance(m, torch.nn.Linear)]
    assert len(linears) == len(net.weights)
    for layer, weight, bias in zip(linears, net.weights, net.biases, strict=True):
        torch.testing.assert_close(weight[i].t().detach(), layer.weight.detach(), rtol=0, atol=atol)
        torch.testing.assert_close(bias[i, 0].detach(), layer.bias.detach(), rtol=0, atol=atol)
