"""Fan-out efficiency of the Ray executor and overhead of the rlsens trainer (not a test).

(1) Fan-out efficiency = aggregate env steps/s of ``rlsens.execute`` (Ray backend) running
    N identical runs, divided by (workers x steps/s of one plain stable-baselines3 run of the
    same configuration in a sequential loop, one torch thread). Shown for 1 and 2 workers
    (``max_concurrent``), "steady" = ``execute`` on an already started Ray instance (what every
    run of a long sweep costs), "end-to-end" = including starting and stopping Ray.
(2) Trainer overhead = wall time of ``rlsens.trainer.run.train`` vs plain ``model.learn()`` with the
    same evaluation schedule (EvalCallback, same episodes, same seed), as a percentage; the
    two are interleaved and the median of the paired ratios is reported.

Usage: .venv/bin/python benchmarks/bench_fanout.py [--algo TD3] [--budget 3000] [--repeats 3]
Targets: efficiency >= 0.95, overhead <= 3 %. Other CPU load on the machine lowers both.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ray

from rlsens.execute import execute
from rlsens.spec import EvalProtocol, Resources, RunSpec

NET = [64, 64]


def make_spec(algo: str, budget: int, every: int, episodes: int, seed: int) -> RunSpec:
    return RunSpec(
        suite="bench",
        algorithm=algo.lower(),
        algo_class=algo,
        env_id="Pendulum-v1",
        hyperparameters={"net_arch": NET, "learning_starts": 100, "batch_size": 64},
        seed=seed,
        budget=budget,
        eval=EvalProtocol(every=every, episodes=episodes, final=1),
        resources=Resources(cpus=1),
    )


def plain_run(spec: RunSpec) -> float:
    """One plain SB3 run (model + learn + same evaluation schedule); returns its wall time."""
    import gymnasium as gym
    import stable_baselines3 as sb3
    import torch
    from stable_baselines3.common.callbacks import EvalCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    torch.set_num_threads(1)
    start = time.perf_counter()
    env = make_vec_env(spec.env_id, n_envs=1, seed=spec.seed, vec_env_cls=DummyVecEnv)
    eval_env = Monitor(gym.make(spec.env_id))
    eval_env.reset(seed=spec.seed + 10_000)
    cls = getattr(sb3, spec.algo_class)
    model = cls(
        "MlpPolicy",
        env,
        seed=spec.seed,
        verbose=0,
        learning_starts=100,
        batch_size=64,
        policy_kwargs={"net_arch": NET},
    )
    callback = EvalCallback(
        eval_env,
        eval_freq=spec.eval.every,
        n_eval_episodes=spec.eval.episodes,
        deterministic=True,
        verbose=0,
    )
    model.learn(total_timesteps=spec.budget, callback=callback)
    env.close()
    eval_env.close()
    return time.perf_counter() - start


def trainer_run(spec: RunSpec) -> float:
    from rlsens.trainer.run import train

    start = time.perf_counter()
    result = train(spec)
    elapsed = time.perf_counter() - start
    if result.status != "ok":
        raise RuntimeError(result.error)
    return elapsed


def fan_out(specs: list[RunSpec], max_concurrent: int, own_instance: bool) -> float:
    """Wall time of executing ``specs`` on Ray (own instance: including its start and stop)."""
    results = []
    start = time.perf_counter()
    summary = execute(
        specs, results.append, backend="ray", max_concurrent=max_concurrent, progress=False
    )
    elapsed = time.perf_counter() - start
    if summary.ok != len(specs):
        raise RuntimeError([r.error for r in results if r.status != "ok"])
    assert ray.is_initialized() != own_instance
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="TD3")
    parser.add_argument("--budget", type=int, default=3000)
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="trainer/plain pairs")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    n_runs = 2 * cores
    spec = make_spec(args.algo, args.budget, args.every, args.episodes, seed=0)
    print(
        f"{args.algo} Pendulum-v1, net {NET}, budget {args.budget}, eval every {args.every} "
        f"x {args.episodes} episodes; {cores} cores, {n_runs} runs per fan-out",
        flush=True,
    )

    # (2) trainer overhead, in this process, interleaved (the first pair also warms imports).
    plain_run(spec)
    ratios, plain_times, trainer_times = [], [], []
    for _ in range(args.repeats):
        p, t = plain_run(spec), trainer_run(spec)
        plain_times.append(p)
        trainer_times.append(t)
        ratios.append(t / p)
    overhead = 100 * (statistics.median(ratios) - 1)
    baseline = args.budget / statistics.median(plain_times)
    print(f"plain SB3 sequential, 1 thread: {baseline:.1f} steps/s", flush=True)

    rows = []
    specs = [make_spec(args.algo, args.budget, args.every, args.episodes, s) for s in range(n_runs)]
    temp_dir = tempfile.mkdtemp(prefix="rlsens-bench-", dir="/tmp")
    ray.init(
        address="local",
        num_cpus=cores,
        include_dashboard=False,
        object_store_memory=150 * 2**20,
        logging_level=logging.ERROR,
        log_to_driver=False,
        _temp_dir=temp_dir,
        runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}},
    )
    try:
        workers_all = sorted({1, 2, cores})
        execute(specs[:cores], lambda r: None, max_concurrent=cores, progress=False)  # warm
        for workers in workers_all:
            wall = fan_out(specs, workers, own_instance=False)
            rows.append(("steady", workers, wall))
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
    wall = fan_out(specs, cores, own_instance=True)
    rows.append(("end-to-end", cores, wall))

    print()
    print("| mode | workers | runs | wall s | steps/s | per worker | efficiency |")
    print("|---|---|---|---|---|---|---|")
    for mode, workers, wall in rows:
        rate = n_runs * args.budget / wall
        eff = rate / (workers * baseline)
        print(
            f"| {mode} | {workers} | {n_runs} | {wall:.1f} | {rate:.1f} | {rate / workers:.1f} "
            f"| {eff:.3f} |"
        )
    print()
    print(
        "| trainer vs plain SB3 | plain s (median) | trainer s (median) | overhead % (median) |"
    )
    print("|---|---|---|---|")
    print(
        f"| {args.algo} {args.budget} steps | {statistics.median(plain_times):.2f} | "
        f"{statistics.median(trainer_times):.2f} | {overhead:+.1f} |"
    )
    print(f"pairs (trainer/plain): {', '.join(f'{r:.3f}' for r in ratios)}")


if __name__ == "__main__":
    main()
