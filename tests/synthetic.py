"""Synthetic ``runs``/``curves`` tables and manifests for tests and benchmarks.

Real runs take minutes; the analysis and report stages only need tables with the documented
columns (see ``rlsens.tables``). The generator builds algorithms x environments x configurations
x seeds with ``hp.*`` columns drawn from a small search space, a smooth score function of the
hyperparameters (so sensitivity and importance have something to find), per-seed noise, and a
share of failed/diverged/timeout runs, all deterministic under ``seed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from rlsens.spec import stable_hash
from rlsens.tables import CURVE_COLUMNS, RUN_COLUMNS

# Per-environment return scale (low, high): mimics envs whose returns live on different scales.
ENV_SCALES = {
    "CartPole-v1": (10.0, 500.0),
    "Pendulum-v1": (-1500.0, -150.0),
    "Acrobot-v1": (-500.0, -70.0),
    "MountainCarContinuous-v0": (-50.0, 95.0),
}

SEARCH_SPACE = {
    "learning_rate": {"dist": "log_uniform", "low": 1.0e-5, "high": 1.0e-2},
    "gamma": {"dist": "uniform", "low": 0.9, "high": 0.999},
    "batch_size": {"dist": "int", "low": 32, "high": 512, "log": True},
    "net_arch": {"dist": "categorical", "choices": {"small": [64, 64], "medium": [256, 256]}},
}


def _sample_configs(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    configs = []
    for _ in range(n):
        configs.append(
            {
                "learning_rate": float(10 ** rng.uniform(-5, -2)),
                "gamma": float(rng.uniform(0.9, 0.999)),
                "batch_size": round(2 ** rng.uniform(5, 9)),
                "net_arch": str(rng.choice(["small", "medium"])),
            }
        )
    return configs


def _quality(point: Mapping[str, Any], algo_index: int, env_index: int) -> float:
    """Quality in [0, 1]: peaked in log learning rate, env-specific gamma, a net_arch x lr
    interaction."""
    log_lr = np.log10(point["learning_rate"])
    best_lr = -4.0 + 0.9 * env_index - 0.2 * algo_index
    q = np.exp(-((log_lr - best_lr) ** 2) / (0.8 + 0.6 * algo_index))
    best_gamma = 0.99 if env_index % 2 else 0.93
    q *= 1.0 - (4 + 2 * algo_index) * abs(point["gamma"] - best_gamma)
    if point["net_arch"] == "medium":
        q *= 1.0 + 0.1 * (log_lr < best_lr)
    q *= 0.9 + 0.1 * np.log2(point["batch_size"]) / 9
    return float(np.clip(q, 0.0, 1.0))


def make_tables(
    algorithms: Sequence[str] = ("ppo", "sac", "td3"),
    envs: Sequence[str] = ("CartPole-v1", "Pendulum-v1"),
    n_configs: int = 6,
    seeds: int | Mapping[str, int] = 3,
    *,
    fail_rate: float = 0.05,
    diverge_rate: float = 0.03,
    timeout_rate: float = 0.01,
    noise: float = 0.08,
    eval_points: int = 5,
    budget: int = 10_000,
    constant: bool = False,
    all_failed: Sequence[str] = (),
    hp_values: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs and curves tables shaped like ``rlsens.tables.build_tables`` output.

    ``seeds``: an int (seeds 0..n-1, role "all") or ``{"tune": a, "report": b}``.
    ``constant``: every successful run scores the same (zero variance).
    ``all_failed``: algorithms whose every run failed.
    ``hp_values``: overrides of hyperparameter values (e.g. hostile strings for escaping tests).
    """
    rng = np.random.default_rng(seed)
    configs = _sample_configs(rng, n_configs)
    if hp_values:
        configs = [{**c, **hp_values} for c in configs]
    if isinstance(seeds, int):
        seed_roles = [(s, "all") for s in range(seeds)]
    else:
        n_tune, n_report = int(seeds.get("tune", 0)), int(seeds.get("report", 0))
        seed_roles = [(s, "tune") for s in range(n_tune)]
        seed_roles += [(n_tune + s, "report") for s in range(n_report)]
    steps = np.linspace(budget / eval_points, budget, eval_points).astype(int)

    run_rows: list[dict[str, Any]] = []
    curve_frames: list[pd.DataFrame] = []
    for a_index, algorithm in enumerate(algorithms):
        for e_index, env_id in enumerate(envs):
            low, high = ENV_SCALES.get(env_id, (0.0, 100.0))
            for point in configs:
                config_id = stable_hash({k: point[k] for k in sorted(point)})
                quality = 0.5 if constant else _quality(point, a_index, e_index)
                for s, role in seed_roles:
                    run_id = stable_hash([algorithm, env_id, config_id, s])
                    u = rng.uniform()
                    if algorithm in all_failed or u < fail_rate:
                        status = "failed"
                    elif u < fail_rate + diverge_rate:
                        status = "diverged"
                    elif u < fail_rate + diverge_rate + timeout_rate:
                        status = "timeout"
                    else:
                        status = "ok"
                    if not constant:
                        q = float(np.clip(quality + rng.normal(0, noise), 0, 1))
                    else:
                        q = quality
                    n_points = eval_points if status == "ok" else 0 if status == "failed" else max(
                        1, eval_points // 2)
                    progress = 1.0 - np.exp(-3.0 * np.arange(1, n_points + 1) / eval_points)
                    if constant:
                        progress = np.ones(n_points)
                    curve = low + (high - low) * q * progress
                    if status == "diverged":
                        curve = np.full(n_points, low)
                    score_auc = float(curve.mean()) if n_points else np.nan
                    score_final = float(curve[-3:].mean()) if n_points else np.nan
                    run_rows.append(
                        {
                            "run_id": run_id,
                            "suite": "synthetic",
                            "algorithm": algorithm,
                            "algo_class": algorithm.upper()[:8],
                            "env_id": env_id,
                            "config_id": config_id,
                            "seed": s,
                            "seed_role": role,
                            "status": status,
                            "score_auc": score_auc,
                            "score_final": score_final,
                            "steps": int(steps[n_points - 1]) if n_points else 0,
                            "budget": budget,
                            "wall_time_s": float(rng.uniform(5, 50)),
                            "steps_per_s": float(rng.uniform(200, 2000)),
                            "diverged_step": (
                                int(steps[n_points - 1]) if status == "diverged" else None
                            ),
                            "error": "RuntimeError: synthetic" if status == "failed" else None,
                            "device": "cpu",
                            **{f"hp.{k}": v for k, v in point.items()},
                            "cfg.policy_kwargs": "{}",
                        }
                    )
                    if n_points:
                        curve_frames.append(
                            pd.DataFrame(
                                {
                                    "run_id": run_id,
                                    "algorithm": algorithm,
                                    "env_id": env_id,
                                    "config_id": config_id,
                                    "seed": s,
                                    "seed_role": role,
                                    "status": status,
                                    "step": steps[:n_points],
                                    "return_mean": curve,
                                    "return_std": abs(high - low) * 0.05,
                                    "return_min": curve - abs(high - low) * 0.1,
                                    "return_max": curve + abs(high - low) * 0.1,
                                    "length_mean": 200.0,
                                    "episodes": 10,
                                }
                            )
                        )
    runs = pd.DataFrame(run_rows)
    extra = sorted(c for c in runs.columns if c not in RUN_COLUMNS)
    runs = runs.reindex(columns=RUN_COLUMNS + extra)
    runs["diverged_step"] = runs["diverged_step"].astype("Int64")
    curves = (
        pd.concat(curve_frames, ignore_index=True)
        if curve_frames
        else pd.DataFrame(columns=CURVE_COLUMNS)
    )
    return runs.reset_index(drop=True), curves[CURVE_COLUMNS]


def make_manifest(
    runs: pd.DataFrame,
    *,
    name: str = "synthetic",
    planned: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A manifest like the store writes, describing ``runs`` (``planned`` > stored = partial)."""
    algorithms = sorted(runs["algorithm"].unique())
    envs = sorted(runs["env_id"].unique())
    hps = sorted(c[3:] for c in runs.columns if c.startswith("hp."))
    seeds = sorted(runs["seed"].unique().tolist())
    roles = sorted(runs["seed_role"].unique().tolist())
    seed_spec: Any = len(seeds)
    if roles != ["all"]:
        seed_spec = {
            role: sorted(runs.loc[runs["seed_role"] == role, "seed"].unique().tolist())
            for role in roles
        }
    run_ids = runs["run_id"].tolist()
    total = len(run_ids) if planned is None else planned
    run_ids += [stable_hash(["missing", i]) for i in range(max(0, total - len(run_ids)))]
    return {
        "suite": {
            "name": name,
            "path": f"suites/{name}.yaml",
            "scale": "quick",
            "hash": stable_hash([name, algorithms, envs]),
            "resolved": {
                "name": name,
                "algorithms": {
                    a: {
                        "class": a.upper()[:8],
                        "policy": "MlpPolicy",
                        "hyperparameters": {"learning_rate": 3e-4, "net_arch": [64, 64]},
                        "search_space": {k: SEARCH_SPACE.get(k, {"dist": "fixed"}) for k in hps},
                    }
                    for a in algorithms
                },
                "environments": {
                    e: {"budget": int(runs["budget"].iloc[0]), "env_kwargs": dict(env_kwargs or {})}
                    for e in envs
                },
                "design": {"type": "sobol", "n": int(runs["config_id"].nunique())},
                "seeds": seed_spec,
                "evaluation": {"every": 2000, "episodes": 10, "final": 3},
                "resources": {"cpus": 1, "gpus": 0},
            },
        },
        "searched": {a: hps for a in algorithms},
        "plan": {"runs": total, "run_ids": run_ids},
        "provenance": {
            "rlsens_version": "0.1.0",
            "git_commit": "0123456789abcdef",
            "python": "3.11.2",
            "torch": "2.13.0",
            "stable_baselines3": "2.9.2",
            "gymnasium": "1.4.0",
            "ray": "2.60.0",
            "numpy": "2.4.6",
            "host": "synthetic-host",
            "cpu": "synthetic CPU x2",
            "gpu": None,
            "started_at": "2025-01-01T00:00:00+00:00",
            "finished_at": "2025-01-01T01:00:00+00:00",
        },
    }
