"""Is a population member's curve the same bits at every group size? And what does that cost?

rlsens's determinism rule makes a run a function of its spec, and a population group's size is
not in it. This trains one member (64x64 networks, batch 64, Pendulum-v1; DQN on CartPole-v1)
in the middle of groups of 1, 2, 3, 5, 8, 16 and 64 other-seeded, other-learning-rate members and
prints, per algorithm, whether its curve equals the curve it has alone. ``--cost`` instead times
stacks trained with plain ``torch.baddbmm`` against ``stacked.batched_linear`` (which computes a
lone member as a batch of two, docs/population.md), interleaved in one process, best of two.

Usage: PYTHONPATH=. .venv/bin/python benchmarks/bench_independence.py [--algos DDPG,TD3] [--cost]
Not a test; tests/test_population_run.py checks sizes 1, 2 and 5 at several positions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from bench_population import DDPG_HPS, PPO_HPS, spec

from rlsens.spec import EvalProtocol, RunSpec
from rlsens.trainer.population import stacked
from rlsens.trainer.population.run import train_group

EVAL = EvalProtocol(every=300, episodes=2, final=1)
OFF = {"learning_starts": 100, "batch_size": 64, "buffer_size": 1000}
NOISE = {"noise_type": "normal", "noise_std": 0.1}
HPS: dict[str, dict[str, object]] = {
    "DDPG": {**OFF, **NOISE},
    "TD3": {**OFF, **NOISE},
    "SAC": OFF,
    "DQN": OFF,
    "PPO": {"n_steps": 128, "batch_size": 32, "n_epochs": 2},
    "A2C": {"n_steps": 8},
}
SIZES = (1, 2, 3, 5, 8, 16, 64)


def member(algo: str, seed: int, learning_rate: float) -> RunSpec:
    return RunSpec(
        suite="bench",
        algorithm=algo.lower(),
        algo_class=algo,
        env_id="CartPole-v1" if algo == "DQN" else "Pendulum-v1",
        hyperparameters={"net_arch": [64, 64], "learning_rate": learning_rate, **HPS[algo]},
        seed=seed,
        budget=600,
        eval=EVAL,
        trainer="population",
    )


def independence(algo: str) -> str:
    target = member(algo, 5, 1e-3)
    alone: object = None
    cells = []
    for size in SIZES:
        others = [member(algo, 100 + i, 2e-3) for i in range(size - 1)]
        position = (size - 1) // 2
        result = train_group([*others[:position], target, *others[position:]])[position]
        if result.status != "ok":
            return f"{algo}: member {result.status} in a group of {size}: {result.error}"
        curve = [(e.step, e.returns, e.lengths) for e in result.curve]
        alone = curve if alone is None else alone
        cells.append(f"{size}: {'same' if curve == alone else 'DIFFERS'}")
    return f"{algo} (vs alone) " + ", ".join(cells)


def member_steps_per_s(algo: str, hps: dict, budget: int, members: int) -> float:
    results = train_group([spec(algo, hps, budget, s, "population") for s in range(members)])
    return sum(r.steps for r in results) / sum(r.train_time_s for r in results)


def cost() -> None:
    kernels = {"baddbmm": torch.baddbmm, "batched_linear": stacked.batched_linear}
    cases = [("DDPG", DDPG_HPS, 1500), ("PPO", PPO_HPS, 4096)]
    try:
        for algo, hps, budget in cases:
            for members in (1, 16):
                best = dict.fromkeys(kernels, 0.0)
                for _ in range(2):
                    for name, kernel in kernels.items():
                        stacked.batched_linear = kernel
                        rate = member_steps_per_s(algo, hps, budget, members)
                        best[name] = max(best[name], rate)
                print(
                    f"{algo} 64x64, {members} members: baddbmm {best['baddbmm']:,.0f}, "
                    f"batched_linear {best['batched_linear']:,.0f} member-steps/s "
                    f"({best['batched_linear'] / best['baddbmm']:.2f}x)",
                    flush=True,
                )
    finally:
        stacked.batched_linear = kernels["batched_linear"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", default=",".join(HPS), help="comma-separated classes")
    parser.add_argument("--cost", action="store_true", help="time the kernels instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.cost:
        cost()
        return
    for algo in args.algos.split(","):
        print(independence(algo), flush=True)


if __name__ == "__main__":
    main()
