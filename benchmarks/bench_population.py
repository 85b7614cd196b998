"""Population trainer vs one SB3 run per core: member-env-steps/s, side by side (not a test).

Each measurement trains through the trainers rlsens uses (``rlsens.trainer.run.train`` for sb3,
``train_group`` for the population) with one evaluation episode at the end, one torch thread,
and reads steps per second of training time (evaluations excluded, see ``RunResult``):
- DDPG, TD3 and SAC 64x64, batch 256, Pendulum-v1: one SB3 run vs populations of 4, 16 and
  64 members (TD3 with SB3's policy delay 2 and target smoothing, SAC with the tuned entropy
  coefficient);
- PPO 64x64, n_steps 2048, batch 64, 10 epochs, Pendulum-v1: SB3 (n_envs=1) vs 32 members.
Also the memory of a member: replay buffer bytes of a run that fills its 100k-transition
buffer and parameter bytes (networks, targets, Adam moments). ``--profile`` adds where the
time goes.

Usage: .venv/bin/python benchmarks/bench_population.py [--quick] [--profile]
       [--algos DDPG,TD3,SAC,PPO]
Targets (issue 12): DDPG / TD3 / SAC >= 2.5x, PPO >= 10x SB3 per core. Other load on the
machine moves both sides; the ratios are measured side by side in one run.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from rlsens.spec import EvalProtocol, RunSpec
from rlsens.trainer.population.members import build_member
from rlsens.trainer.population.offpolicy import OffPolicyLoop
from rlsens.trainer.population.progress import GroupProgress
from rlsens.trainer.population.run import train_group
from rlsens.trainer.run import train

OFF_POLICY_HPS = {
    "net_arch": [64, 64],
    "batch_size": 256,
    "learning_starts": 100,
    "buffer_size": 100_000,
}
NOISE = {"noise_type": "normal", "noise_std": 0.1}
DDPG_HPS = {**OFF_POLICY_HPS, **NOISE}
HPS = {"DDPG": DDPG_HPS, "TD3": DDPG_HPS, "SAC": OFF_POLICY_HPS}
PPO_HPS = {"net_arch": [64, 64], "n_steps": 2048, "batch_size": 64, "n_epochs": 10}


def spec(algo: str, hps: dict, budget: int, seed: int, trainer: str) -> RunSpec:
    return RunSpec(
        suite="bench",
        algorithm=algo.lower(),
        algo_class=algo,
        env_id="Pendulum-v1",
        hyperparameters=hps,
        seed=seed,
        budget=budget,
        eval=EvalProtocol(every=budget, episodes=1, final=1),
        trainer=trainer,
    )


def sb3_rate(algo: str, hps: dict, budget: int) -> float:
    result = train(spec(algo, hps, budget, 0, "sb3"))
    assert result.status == "ok", result.error
    return result.steps / result.train_time_s


def population_rate(algo: str, hps: dict, budget: int, members: int) -> float:
    specs = [dataclasses.replace(spec(algo, hps, budget, s, "population")) for s in range(members)]
    began = time.monotonic()
    results = train_group(specs)
    assert all(r.status == "ok" for r in results), results[0].error
    group_seconds = results[0].train_time_s * members
    print(f"    ({members} members, {budget} steps: {time.monotonic() - began:.1f} s with set-up)")
    return members * results[0].steps / group_seconds


def memory_per_member(members: int) -> tuple[float, float]:
    """(replay buffer MB, parameter + optimiser-state MB) per DDPG 64x64 member.

    The run's budget is the buffer's 100k transitions: a shorter run's buffer holds only what
    it can fill (``replay_slots``).
    """
    budget = DDPG_HPS["buffer_size"]
    specs = [spec("DDPG", DDPG_HPS, budget, s, "population") for s in range(members)]
    group = [build_member(s, "cpu") for s in specs]
    loop = OffPolicyLoop(group, GroupProgress(group, time.monotonic()), "cpu")
    params = loop.networks.parameters()
    targets = [*loop.networks.actor_target.parameters(), *loop.networks.critics.target_params]  # type: ignore[union-attr]
    param_bytes = sum(p.nbytes for p in params) * 3 + sum(p.nbytes for p in targets)  # + 2 moments
    for member in group:
        member.close()
    return loop.buffers.nbytes / members / 1e6, param_bytes / members / 1e6


def profile(algo: str, hps: dict, budget: int, members: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    population_rate(algo, hps, budget, members)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    return out.getvalue()


def algorithm_names(text: str) -> set[str]:
    names = {name.strip().upper() for name in text.split(",")}
    if not names <= {"DDPG", "TD3", "SAC", "PPO"}:
        raise argparse.ArgumentTypeError(f"{text!r}: a comma-separated subset of DDPG,TD3,SAC,PPO")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short budgets (about 2 minutes)")
    parser.add_argument("--profile", action="store_true", help="print a profile of each population")
    parser.add_argument(
        "--algos",
        type=algorithm_names,
        default={"DDPG", "TD3", "SAC", "PPO"},
        help="comma-separated subset of DDPG,TD3,SAC,PPO",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    ddpg_budget, ppo_budget = (400, 4096) if args.quick else (800, 8192)

    for algo in [a for a in ("DDPG", "TD3", "SAC") if a in args.algos]:
        print(f"{algo} 64x64 batch 256 Pendulum-v1, budget {ddpg_budget} (learning_starts 100)")
        base = sb3_rate(algo, HPS[algo], ddpg_budget)
        print(f"  sb3, one run:        {base:8.0f} steps/s")
        for members in (4, 16, 64):
            rate = population_rate(algo, HPS[algo], ddpg_budget, members)
            print(
                f"  population x{members:<3}:     {rate:8.0f} member-steps/s  ({rate / base:.2f}x)"
            )
        if algo == "DDPG":
            buffer_mb, param_mb = memory_per_member(4)
            print(
                f"  memory per member: replay buffer {buffer_mb:.1f} MB (100k transitions), "
                f"parameters + targets + Adam {param_mb:.2f} MB"
            )
    if "PPO" in args.algos:
        print(f"PPO 64x64 n_steps 2048 batch 64 10 epochs Pendulum-v1, budget {ppo_budget}")
        base = sb3_rate("PPO", PPO_HPS, ppo_budget)
        print(f"  sb3, n_envs=1:       {base:8.0f} steps/s")
        rate = population_rate("PPO", PPO_HPS, ppo_budget, 32)
        print(f"  population x32:      {rate:8.0f} member-steps/s  ({rate / base:.2f}x)")

    if args.profile:
        for algo in sorted(args.algos - {"PPO"}):
            print(profile(algo, HPS[algo], ddpg_budget, 64))
        if "PPO" in args.algos:
            print(profile("PPO", PPO_HPS, ppo_budget, 32))


if __name__ == "__main__":
    main()
