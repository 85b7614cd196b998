"""Adkins, Bowling & White (NeurIPS 2024) sensitivity analysis, recomputed by rlsens.

Reads the released per-configuration data (../shared/data/adkins2024/ beside the repository,
or the CSV path given as the first argument) and prints, per PPO variant: per-environment tuned
score P_env, cross-environment tuned score P_cross, sensitivity Φ, effective hyperparameter
dimensionality (integer and interpolated, target 0.95·P_env), the best single hyperparameter to
tune, and the performance-sensitivity region relative to PPO (lambda_ac).

Usage (repo root, rlsens importable): python benchmarks/adkins2024_compare.py [CSV]
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from rlsens.analysis.sensitivity import (
    effective_dimensionality,
    hyperparameter_sensitivity,
    sensitivity_plane,
)

DEFAULT = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "adkins2024"
    / "data_expected_over_seeds.csv"
)
HPS = ["gae_lambda", "ent_coef", "actor_lr", "critic_lr"]


def load(path: Path) -> pd.DataFrame:
    """The released CSV as an rlsens scores frame (one 'seed' = one seed-averaged config)."""
    raw = pd.read_csv(path, index_col=0)
    out = pd.DataFrame(
        {
            "algorithm": raw["alg_type"],
            "env_id": raw["env_name"],
            "config_id": [f"{a}|{b}|{c}|{d}" for a, b, c, d in raw[HPS].itertuples(index=False)],
            "seed": 0,
            "seed_role": "all",
            "run_id": [f"adkins-{i}" for i in range(len(raw))],
            "status": "ok",
            "score": raw["percentile_normalized_return"],
            "raw_score": raw["mean_return"],
        }
    )
    for name in HPS:
        out[f"hp.{name}"] = raw[name].to_numpy()
    return out.reset_index(drop=True)


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT
    if not path.exists():
        print(f"Adkins et al. 2024 data not found at {path}", file=sys.stderr)
        return 1
    scores = load(path)
    sens = hyperparameter_sensitivity(scores)
    curve, dims = effective_dimensionality(scores)
    plane = sensitivity_plane(sens, "lambda_ac")
    best1 = curve.loc[curve["k"] == 1].set_index("algorithm")["subset"]
    table = sens.set_index("algorithm")[
        ["per_env_tuned", "cross_env_tuned", "sensitivity", "n_common_configs"]
    ]
    table = table.join(dims.set_index("algorithm")[["dimensionality", "interpolated"]])
    table["best_1_subset"] = best1
    table["region_vs_ppo"] = plane.set_index("algorithm")["region"]
    table = table.rename(
        columns={
            "per_env_tuned": "P_env",
            "cross_env_tuned": "P_cross",
            "sensitivity": "Phi",
            "n_common_configs": "configs_on_all_envs",
            "dimensionality": "d",
            "interpolated": "d_interp",
        }
    )
    with pd.option_context("display.width", 200, "display.float_format", "{:.4f}".format):
        print(f"Adkins et al. 2024 released data: {path}")
        print(
            f"{len(scores)} rows, {scores['algorithm'].nunique()} variants, "
            f"{scores['env_id'].nunique()} environments\n"
        )
        print(table.sort_values("P_env", ascending=False).to_string())
        print("\nP_k (best k-subset tuned per env, others at the cross-env default h*):")
        wide = curve.pivot(index="algorithm", columns="k", values="score")
        print(wide.to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
