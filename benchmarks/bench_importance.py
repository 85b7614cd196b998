"""Accuracy of the forest fANOVA importances against analytic Sobol indices.

Each case is a test function with known first-order and pairwise indices, evaluated on a
scrambled Sobol design (``scipy.stats.qmc.Sobol``, as the suites' ``sobol`` designs draw them)
of n configurations in K dimensions; dimensions beyond the function's own are inert (their
true importance is 0). The script prints, per case, the estimated and analytic main effects of
the active dimensions, the largest absolute error over every main effect and pair reported, the
largest importance given to an inert term, and the mean reported ``std`` (jackknife over
trees), over several design seeds.

``--total-variance`` instead measures the one Monte-Carlo part of the estimator: the forest's
total variance ``V`` from ``2^14`` scrambled-Sobol draws of the measure (``DENOMINATOR_LOG2``),
against ``2^18`` draws, over ten scramblings, for the quadratic case at K = 3 and K = 11.

``--per-tree`` compares the two ways of turning a forest into importances on Ishigami (512
and 1024 uniform random points, 5 designs each): the decomposition of the forest's mean
prediction (what rlsens reports) against the mean of the single trees' shares (what the
``fanova`` package reports), from the same trees.

Run from the repository root:
    PYTHONPATH=. .venv/bin/python benchmarks/bench_importance.py [--seeds 5] [--total-variance]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_importance.py --per-tree
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import qmc

from rlsens.analysis.importance import (
    DENOMINATOR_LOG2,
    _bagged_trees,
    _forest_anova,
    _Measure,
    _TreeMarginals,
    importance,
)

LEVEL_EFFECTS = np.array([0.0, 3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0])


def ishigami(u: np.ndarray) -> np.ndarray:
    x = -np.pi + 2 * np.pi * u[:, :3]
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def quadratic(u: np.ndarray) -> np.ndarray:
    return 4 * (u[:, 0] - 0.5) ** 2 + u[:, 1]


def product(u: np.ndarray) -> np.ndarray:
    return u[:, 0] * u[:, 1]


def categorical(u: np.ndarray) -> np.ndarray:
    return LEVEL_EFFECTS[np.floor(8 * u[:, 0]).astype(int)] + 6 * u[:, 1]


_V_QUAD = 16 / 180 + 1 / 12
_V_CAT = float(np.var(LEVEL_EFFECTS)) + 3.0
CASES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], dict[tuple[int, ...], float]]] = {
    "ishigami": (ishigami, {(0,): 0.3139, (1,): 0.4424, (2,): 0.0, (0, 2): 0.2437}),
    "quadratic (mid-range optimum) + linear": (
        quadratic, {(0,): 16 / 180 / _V_QUAD, (1,): (1 / 12) / _V_QUAD}),
    "product x1*x2": (product, {(0,): 3 / 7, (1,): 3 / 7, (0, 1): 1 / 7}),
    "8-level categorical + linear": (
        categorical, {(0,): float(np.var(LEVEL_EFFECTS)) / _V_CAT, (1,): 3.0 / _V_CAT}),
}


def frame(u: np.ndarray, y: np.ndarray, categorical_first: bool) -> pd.DataFrame:
    n, k = u.shape
    out = pd.DataFrame({"algorithm": "a", "env_id": "e", "config_id": [f"c{i}" for i in range(n)],
                        "seed": 0, "seed_role": "all", "status": "ok", "score": y})
    for j in range(k):
        out[f"hp.x{j}"] = u[:, j]
    if categorical_first:
        out["hp.x0"] = [f"level{int(c)}" for c in np.floor(8 * u[:, 0])]
    return out


def errors(name: str, k: int, n: int, seed: int
           ) -> tuple[float, float, float, dict, tuple[float, float]]:
    """Max abs error, max inert importance, mean std, active main effects, (S_x0, std_x0)."""
    fn, truth = CASES[name]
    u = qmc.Sobol(k, scramble=True, rng=np.random.default_rng(seed)).random_base2(
        int(np.log2(n)))
    imp = importance(frame(u, fn(u), name.startswith("8-level")), method="forest", seed=seed)
    terms = imp.set_index("term")
    value = {}
    for term, row in terms.iterrows():
        dims = tuple(int(part.strip()[1:]) for part in str(term).split("×"))
        value[dims] = float(row["importance"])
    err = max(abs(v - truth.get(d, 0.0)) for d, v in value.items())
    inert = max((v for d, v in value.items() if d not in truth), default=0.0)
    active = {d: value[d] for d in truth if len(d) == 1}
    first = (float(terms.loc["x0", "importance"]), float(terms.loc["x0", "std"]))
    return err, inert, float(terms["std"].mean()), active, first


def total_variance_errors(k: int, n: int = 256, scramblings: int = 10,
                          reference_log2: int = 18) -> np.ndarray:
    """Relative errors of the forest's ``V`` at ``2^DENOMINATOR_LOG2`` draws (one per
    scrambling) against ``2^reference_log2`` draws, on one quadratic design."""
    u = qmc.Sobol(k, scramble=True, rng=np.random.default_rng(0)).random_base2(int(np.log2(n)))
    trees, _ = _bagged_trees(u, quadratic(u), 0, 32, None)
    measure = _Measure(u)

    def variance(log2: int, seed: int) -> float:
        points = measure.sample(log2, seed)
        return float(np.var(np.mean([tree.predict(points) for tree in trees], axis=0)))

    reference = variance(reference_log2, 10_000)
    return np.array([abs(variance(DENOMINATOR_LOG2, s) / reference - 1)
                     for s in range(scramblings)])


def per_tree_against_forest(n: int = 512, seeds: int = 5) -> list[tuple[float, float]]:
    """Ishigami's main effects ``(per-tree mean S_i, forest-mean S_i)`` for i = 1, 2, 3 (the
    second dimension is the "S2" of the docs) from the same trees, averaged over ``seeds``
    random designs."""
    per_tree, forest = [], []
    for seed in range(seeds):
        u = np.random.default_rng(seed).uniform(size=(n, 3))
        y = ishigami(u)
        trees, _ = _bagged_trees(u, y, seed, 32, None)
        measure = _Measure(u)
        points = measure.sample(DENOMINATOR_LOG2, seed)
        shares = []
        for tree in trees:
            part = _TreeMarginals(tree, measure)
            total = float(np.var(tree.predict(points)))
            shares.append([float(measure.probs[i] @ (part.main(i) - part.mean) ** 2) / total
                           for i in range(3)])
        per_tree.append(np.mean(shares, axis=0))
        decomposition = _forest_anova(u, y, seed, 32, None)  # the same 32 trees
        forest.append([decomposition[(i,)][0] for i in range(3)])
    return list(zip(np.mean(per_tree, axis=0), np.mean(forest, axis=0), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--total-variance", action="store_true")
    parser.add_argument("--per-tree", action="store_true")
    args = parser.parse_args()
    if args.per_tree:
        truth = (0.3139, 0.4424, 0.0)
        for n in (512, 1024):
            for i, (tree_mean, forest_mean) in enumerate(per_tree_against_forest(n)):
                print(f"Ishigami S{i + 1} ({n} random points, mean of 5 designs): per-tree "
                      f"mean {tree_mean:.3f}, forest mean {forest_mean:.3f}, "
                      f"analytic {truth[i]:.4f}")
        return
    if args.total_variance:
        for k in (3, 11):
            err = total_variance_errors(k)
            print(f"K={k:2d} n=256: relative error of V at 2^{DENOMINATOR_LOG2} vs 2^18 draws "
                  f"over {err.size} scramblings: max {err.max():.5f}, mean {err.mean():.5f}")
        return
    print(f"{'case':40s} {'K':>3s} {'n':>4s} {'max|err|':>9s} {'worst':>7s} {'inert':>7s} "
          f"{'sd(x0)':>7s} {'std(x0)':>7s} {'s/fit':>6s}  mains (first seed) vs truth")
    for name, (_, truth) in CASES.items():
        for k in (3, 11, 20):
            for n in (64, 128, 256):
                start = time.perf_counter()
                runs = [errors(name, k, n, seed) for seed in range(args.seeds)]
                took = (time.perf_counter() - start) / args.seeds
                err = np.array([r[0] for r in runs])
                mains = ", ".join(f"{runs[0][3][d]:.3f}/{truth[d]:.3f}" for d in runs[0][3])
                print(f"{name:40s} {k:3d} {n:4d} {err.mean():9.3f} {err.max():7.3f} "
                      f"{max(r[1] for r in runs):7.3f} "
                      f"{np.std([r[4][0] for r in runs], ddof=1):7.3f} "
                      f"{np.mean([r[4][1] for r in runs]):7.3f} {took:6.2f}  {mains}")


if __name__ == "__main__":
    main()
