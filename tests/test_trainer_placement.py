"""Device and torch threads of a run: one rule for the trainer and both backends."""

from __future__ import annotations

import pytest
import torch

from rlsens.spec import Resources, RunSpec
from rlsens.trainer import placement
from rlsens.trainer.placement import resolve_device, set_torch_threads


def spec_with(gpus: float) -> RunSpec:
    return RunSpec("s", "a", "PPO", "CartPole-v1", {}, seed=0, budget=10,
                   resources=Resources(cpus=1, gpus=gpus))


def test_requested_device_wins() -> None:
    assert resolve_device(spec_with(1), "cpu") == "cpu"
    assert resolve_device(spec_with(0), "cuda:1", assigned_gpus=[]) == "cuda:1"


def test_ray_assignment_decides_inside_a_task() -> None:
    # Ray restricts CUDA_VISIBLE_DEVICES to the assigned ids, even for logical GPUs.
    assert resolve_device(spec_with(0.5), assigned_gpus=["3"]) == "cuda"
    assert resolve_device(spec_with(0.5), assigned_gpus=[]) == "cpu"


def test_outside_ray_cuda_only_when_asked_for_and_visible(monkeypatch) -> None:
    assert resolve_device(spec_with(0)) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(spec_with(1)) == "cuda"
    assert resolve_device(spec_with(0)) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(spec_with(1)) == "cpu"


@pytest.mark.parametrize(("cpus", "threads"), [(1, 1), (2, 2), (0.5, 1), (2.7, 2)])
def test_one_torch_thread_per_requested_cpu(cpus: float, threads: int) -> None:
    before = torch.get_num_threads()
    try:
        set_torch_threads(cpus)
        assert torch.get_num_threads() == threads
        assert placement._interop_threads_set
    finally:
        torch.set_num_threads(before)
