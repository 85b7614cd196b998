"""Sanity check: population-trained agents learn (not a test, not a comparison with sb3).

Two seeds per algorithm trained by ``train_group`` with small networks (64x64) and short
budgets, evaluation curves printed (mean return of 10 deterministic episodes per evaluation).
A gross fault in the rollout loop (acting, noise, storage, schedules) that the update-level
tests cannot see would show as a flat curve here; whether the population and sb3 trainers
learn the *same* distribution is what ``compare_population.py`` measures.

Usage: .venv/bin/python benchmarks/sanity_population.py [--algo TD3 ...]
About 2.5 CPU-minutes for all five.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from rlsens.spec import EvalProtocol, RunSpec
from rlsens.trainer.population.run import train_group

NET = {"net_arch": [64, 64]}
PENDULUM_OFF_POLICY = {"learning_starts": 1000, "learning_rate": 1e-3}
CHECKS: dict[str, tuple[str, dict, int, int]] = {
    "DDPG": (
        "Pendulum-v1",
        {**PENDULUM_OFF_POLICY, "gamma": 0.98, "noise_type": "normal", "noise_std": 0.1},
        8000,
        2000,
    ),
    "TD3": (
        "Pendulum-v1",
        {
            **PENDULUM_OFF_POLICY,
            "gamma": 0.98,
            "noise_type": "normal",
            "noise_std": 0.1,
            "buffer_size": 200_000,
        },
        8000,
        2000,
    ),
    "SAC": ("Pendulum-v1", PENDULUM_OFF_POLICY, 8000, 2000),
    "DQN": (
        "CartPole-v1",
        {
            "learning_rate": 2.3e-3,
            "batch_size": 64,
            "buffer_size": 100_000,
            "learning_starts": 1000,
            "gamma": 0.99,
            "target_update_interval": 10,
            "train_freq": 256,
            "gradient_steps": 128,
            "exploration_fraction": 0.16,
            "exploration_final_eps": 0.04,
        },
        30_000,
        10_000,
    ),
    "PPO": (
        "Pendulum-v1",
        {
            "n_steps": 1024,
            "gamma": 0.9,
            "gae_lambda": 0.95,
            "n_epochs": 10,
            "learning_rate": 1e-3,
            "clip_range": 0.2,
            "ent_coef": 0.0,
            "batch_size": 64,
        },
        100_000,
        25_000,
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", nargs="*", choices=sorted(CHECKS), default=list(CHECKS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    for algo in args.algo:
        env, hps, budget, every = CHECKS[algo]
        specs = [
            RunSpec(
                suite="sanity",
                algorithm=algo.lower(),
                algo_class=algo,
                env_id=env,
                hyperparameters={**NET, **hps},
                seed=seed,
                budget=budget,
                eval=EvalProtocol(every=every, episodes=10, final=1),
                trainer="population",
            )
            for seed in (0, 1)
        ]
        began = time.monotonic()
        results = train_group(specs)
        for spec, result in zip(specs, results, strict=True):
            curve = ", ".join(f"{e.step}: {e.mean:.0f}" for e in result.curve)
            print(f"{algo} {env} seed {spec.seed}: {result.status}; {curve}")
        print(f"  ({time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
