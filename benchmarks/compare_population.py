"""Distribution-level faithfulness: final scores of the population and sb3 trainers (not a test).

For one algorithm and environment, two configurations x N seeds are trained on each trainer
(sb3: one run after another through ``rlsens.trainer.run.train``; population: one group per
configuration through ``train_group``), with the same evaluation protocol. Per configuration
it prints each trainer's mean final score with a 95 % percentile-bootstrap CI, the Welch
test of the difference (``rlsens.analysis.pairwise.compare``, whose CI of the mean difference
is the Welch-Satterthwaite interval) and the Mann-Whitney U test (for returns capped by the
environment, whose samples are skewed). The population draws its exploration noise from other
streams than SB3, so the two are different samples of the same algorithm; a faithful
population trainer shows no systematic difference.

Usage: .venv/bin/python benchmarks/compare_population.py --algo DDPG [--env Pendulum-v1]
       [--seeds 16] [--budget N] [--config I] [--trainers sb3,population] [--scores DIR]
       [--smoke]
Costs: --seeds 16 at the zoo-like default budgets is hours of CPU for the sb3 side;
--smoke (2 seeds, tiny budget) only checks that the comparison runs.

With ``--scores DIR`` every finished run's final score is kept in a JSON file per
configuration and trainer, so the hours of sb3 runs survive an interruption (rerun the same
command to go on) and the two trainers can run in separate processes: ``--trainers sb3`` in
one, ``--trainers population`` in another, then either command prints the table once both
files hold every seed. A file is named by algorithm, environment, budget (which fixes the
evaluation protocol), configuration and a hash of its hyperparameters, not by the code: after
changing a trainer, delete DIR (or its files of that trainer) before comparing again. A run
that ends without a final score (failed, diverged before its first evaluation) is kept as
``null`` and counted in the table's last column.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from rlsens.analysis.aggregates import batched_mean, percentile_interval, stratified_bootstrap
from rlsens.analysis.pairwise import compare
from rlsens.spec import EvalProtocol, RunSpec
from rlsens.trainer.population.run import train_group
from rlsens.trainer.run import train

# Two configurations per algorithm: a zoo-like default and a variant of its scalar
# hyperparameters (all of them population-supported, so one group per configuration).
CONFIGS: dict[str, list[dict]] = {
    "DDPG": [
        {"noise_type": "normal", "noise_std": 0.1, "learning_starts": 1000, "net_arch": [64, 64]},
        {
            "noise_type": "ornstein-uhlenbeck",
            "noise_std": 0.3,
            "learning_starts": 1000,
            "learning_rate": 3e-4,
            "tau": 0.02,
            "net_arch": [64, 64],
        },
    ],
    "TD3": [
        {"noise_type": "normal", "noise_std": 0.1, "learning_starts": 1000, "net_arch": [64, 64]},
        {
            "noise_type": "normal",
            "noise_std": 0.3,
            "learning_starts": 1000,
            "learning_rate": 3e-4,
            "target_policy_noise": 0.1,
            "net_arch": [64, 64],
        },
    ],
    "SAC": [
        {"learning_starts": 1000, "net_arch": [64, 64]},
        {"learning_starts": 1000, "learning_rate": 1e-3, "ent_coef": 0.1, "net_arch": [64, 64]},
    ],
    "PPO": [
        {
            "n_steps": 1024,
            "gae_lambda": 0.95,
            "gamma": 0.9,
            "n_epochs": 10,
            "ent_coef": 0.0,
            "learning_rate": 1e-3,
            "clip_range": 0.2,
            "net_arch": [64, 64],
        },
        {
            "n_steps": 1024,
            "gae_lambda": 0.8,
            "gamma": 0.95,
            "n_epochs": 10,
            "ent_coef": 0.01,
            "learning_rate": "lin_3e-4",
            "clip_range": 0.1,
            "net_arch": [64, 64],
        },
    ],
    # CartPole-v1 (the default --env for DQN): the zoo's values with 64x64 networks, and a
    # variant with a slower learning rate, longer exploration and rarer target updates.
    "DQN": [
        {
            "learning_rate": 2.3e-3,
            "batch_size": 64,
            "buffer_size": 100_000,
            "learning_starts": 1000,
            "target_update_interval": 10,
            "train_freq": 256,
            "gradient_steps": 128,
            "exploration_fraction": 0.16,
            "exploration_final_eps": 0.04,
            "net_arch": [64, 64],
        },
        {
            "learning_rate": 1e-3,
            "batch_size": 64,
            "buffer_size": 100_000,
            "learning_starts": 1000,
            "target_update_interval": 100,
            "train_freq": 256,
            "gradient_steps": 128,
            "exploration_fraction": 0.3,
            "exploration_final_eps": 0.04,
            "net_arch": [64, 64],
        },
    ],
}
BUDGETS = {"DDPG": 20_000, "TD3": 20_000, "SAC": 20_000, "PPO": 100_000, "DQN": 50_000}


def make_spec(algo: str, env: str, hps: dict, seed: int, budget: int, trainer: str) -> RunSpec:
    every = max(1, budget // 10)
    return RunSpec(
        suite="compare",
        algorithm=algo.lower(),
        algo_class=algo,
        env_id=env,
        hyperparameters=hps,
        seed=seed,
        budget=budget,
        eval=EvalProtocol(every=every, episodes=10, final=3),
        trainer=trainer,
    )


def read_scores(cache: Path | None) -> dict[int, float | None]:
    """Final score per seed kept in ``cache`` (none when there is no cache yet)."""
    if cache is None or not cache.exists():
        return {}
    return {int(k): v for k, v in json.loads(cache.read_text()).items()}


def trained_scores(
    algo: str, env: str, hps: dict, seeds: int, budget: int, trainer: str, cache: Path | None
) -> dict[int, float | None]:
    """Final score per seed, trained now or read back from ``cache`` (one JSON per trainer)."""
    done = read_scores(cache)

    def keep() -> None:
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.with_suffix(".tmp").write_text(json.dumps(done, indent=1, sort_keys=True))
            cache.with_suffix(".tmp").replace(cache)

    missing = [s for s in range(seeds) if s not in done]
    if not missing:
        return done
    specs = [make_spec(algo, env, hps, s, budget, trainer) for s in missing]
    if trainer == "population":
        results = train_group(specs)
    else:
        results = []
        for spec in specs:
            results.append(train(spec))
            done[spec.seed] = results[-1].score_final
            keep()
    bad = [r.status for r in results if r.status != "ok"]
    if bad:
        print(f"  {trainer}: {len(bad)} runs not ok ({sorted(set(bad))})", file=sys.stderr)
    done.update({spec.seed: r.score_final for spec, r in zip(specs, results, strict=True)})
    keep()
    return done


def mean_ci(scores: np.ndarray) -> tuple[float, float, float]:
    replicates = stratified_bootstrap([scores], batched_mean, reps=10_000, seed=0)
    low, high = percentile_interval(replicates)
    return float(scores.mean()), low, high


def trainer_names(text: str) -> set[str]:
    names = {name.strip() for name in text.split(",")}
    if not names or not names <= {"sb3", "population"}:
        raise argparse.ArgumentTypeError(f"{text!r}: a comma-separated subset of sb3,population")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", choices=sorted(CONFIGS), default="DDPG")
    parser.add_argument("--env", default=None, help="Pendulum-v1; CartPole-v1 for DQN")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--budget", type=int, default=None)
    parser.add_argument("--smoke", action="store_true", help="2 seeds, tiny budget")
    parser.add_argument(
        "--config", type=int, default=None, help="only this configuration (one process per core)"
    )
    parser.add_argument(
        "--trainers",
        type=trainer_names,
        default={"sb3", "population"},
        help="which trainers to train now, comma-separated (the others are read from --scores)",
    )
    parser.add_argument("--scores", type=Path, default=None, help="keep final scores here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.env = args.env or ("CartPole-v1" if args.algo == "DQN" else "Pendulum-v1")
    seeds = 2 if args.smoke else args.seeds
    budget = args.budget or (1200 if args.smoke else BUDGETS[args.algo])
    configs = CONFIGS[args.algo]
    if args.smoke:
        configs = [
            {**c, "learning_starts": 200} if "learning_starts" in c else {**c, "n_steps": 256}
            for c in configs
        ]

    print(
        f"{args.algo} on {args.env}, {seeds} seeds x {len(configs)} configurations, budget {budget}"
    )
    print(
        "| config | trainer | n | mean final | 95% CI | diff (pop - sb3) [95% CI] | Welch p "
        "| Mann-Whitney p | no final score |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for index, hps in enumerate(configs):
        if args.config is not None and index != args.config:
            continue
        scores: dict[str, np.ndarray] = {}
        unscored: dict[str, int] = {}
        done: dict[str, int] = {}
        began = time.monotonic()
        for trainer in ("population", "sb3"):
            cache = None
            if args.scores is not None:
                tag = hashlib.sha256(json.dumps(hps, sort_keys=True).encode()).hexdigest()[:8]
                name = f"{args.algo}-{args.env}-{budget}-c{index}-{tag}-{trainer}.json"
                cache = args.scores / name
            if trainer in args.trainers:
                per_seed = trained_scores(args.algo, args.env, hps, seeds, budget, trainer, cache)
            else:
                per_seed = read_scores(cache)
            finals = [per_seed[s] for s in range(seeds) if s in per_seed]
            unscored[trainer] = sum(f is None for f in finals)
            done[trainer] = len(finals)
            scores[trainer] = np.array([f for f in finals if f is not None], dtype=float)
        print(f"  (configuration {index}: {time.monotonic() - began:.0f} s)", file=sys.stderr)
        if min(done.values()) < seeds:
            progress = ", ".join(f"{t} {n} of {seeds} seeds" for t, n in done.items())
            print(f"| {index} | (waiting: {progress}) ||||||||")
            continue
        test = compare([scores["population"]], [scores["sb3"]], test="welch")
        # Returns capped by the environment (InvertedPendulum's 1000) make the samples skewed;
        # the rank test does not assume normal means.
        ranks = compare([scores["population"]], [scores["sb3"]], test="mannwhitney")
        for name in ("population", "sb3"):
            mean, low, high = mean_ci(scores[name])
            diff = ""
            if name == "population":
                diff = (
                    f"{test['mean_diff']:.1f} [{test['diff_lower']:.1f}, "
                    f"{test['diff_upper']:.1f}] | {test['p_value']:.3f} | {ranks['p_value']:.3f}"
                )
            else:
                diff = " |  | "
            print(
                f"| {index} | {name} | {scores[name].size} | {mean:.1f} | "
                f"[{low:.1f}, {high:.1f}] | {diff} | {unscored[name]} |"
            )


if __name__ == "__main__":
    main()
