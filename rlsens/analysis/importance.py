"""Variance-based hyperparameter importance (functional ANOVA, Hutter, Hoos & Leyton-Brown 2014).

For a score function f of the hyperparameters under a product measure, ``V_U / V`` is the share
of Var f explained by the interaction term of the set U (main effects |U| = 1, pairs |U| = 2).

* ``method="anova"``: exact, on a **full factorial grid** of the listed hyperparameters (every
  combination of their observed values present). The cell means of the configuration scores
  (seed-averaged) are decomposed with uniform weights over each axis' levels: this is classical
  ANOVA of cell means and equals fANOVA under the uniform measure on the grid. ``std`` is NaN
  (no sampling model).
* ``method="forest"``: for random/Sobol (or incomplete) designs, at any number of
  hyperparameters. ``n_trees`` regression trees are fitted on bootstrap samples of (encoded
  hyperparameters -> configuration mean score), all features at every split (the random forest
  of ``RandomForestRegressor``, grown here so that the bootstrap counts are known). The
  functional ANOVA of the forest's **mean prediction** is computed exactly over the trees' own
  partitions (Hutter et al.; the ``fanova`` package's traversal): a tree is constant on each
  leaf's box, so its marginal over the dimensions outside U is a sum over leaves of the leaf
  value times the measure of the box in those dimensions, and the forest's marginal is the
  mean of the trees'. The measure is the product of the hyperparameters' observed (empirical)
  distributions, so the decomposition follows the design (log-uniform stays log-uniform) and
  every level of a categorical is kept. The total variance comes from ``2^14``
  scrambled-Sobol draws of that measure. ``fanova`` reports the mean of per-tree shares
  instead; a fully grown single tree carries spurious high-order variance (Ishigami, 1024
  random points, 5 designs: per-tree mean S2 = 0.34, forest mean 0.40, analytic 0.44; see
  ``benchmarks/bench_importance.py --per-tree``). ``std`` is the
  bias-corrected infinitesimal-jackknife standard error of the reported share over
  resampling the configurations (Wager, Hastie & Efron 2014): each tree's bootstrap counts
  against its delta-method contribution to the share; NaN where the forest's 32 trees are
  too few to estimate it (the Monte-Carlo correction exceeds the estimate). It does not
  include the surrogate's bias (docs/analysis.md gives the accuracy measured by
  ``benchmarks/bench_importance.py``).
* ``method="auto"``: ``anova`` when the configurations form a full grid, else ``forest``
  (decided per environment; a grid plus an off-grid default configuration is not a full grid).

Categorical (and boolean or mixed) hyperparameters are encoded as the index of their value in
sorted order; numeric ones keep their values (tree splits and empirical measures do not care
about monotone rescaling such as log learning rates). Importances are computed per environment and
cross-env (``env_id="all"``) on the mean over environments of configurations present on every
env: pass per-env normalized scores so that no environment dominates by scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import qmc
from sklearn.tree import DecisionTreeRegressor

from rlsens.analysis._frames import bare, config_means, cross_env_table, param_columns

COLUMNS = ["algorithm", "env_id", "term", "order", "importance", "std", "method"]
DENOMINATOR_LOG2 = 14  # 2^14 scrambled-Sobol points for the forest's total variance


def encode(frame: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
    """Numeric matrix of hyperparameter values: numbers as is, anything else as sorted codes."""
    out = np.empty((len(frame), len(cols)))
    for j, col in enumerate(cols):
        values = frame[col]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if numeric and values.notna().all():
            out[:, j] = values.to_numpy(dtype=float)
        else:
            text = values.astype(str)
            levels = sorted(text.unique())
            out[:, j] = text.map({v: i for i, v in enumerate(levels)}).to_numpy(dtype=float)
    return out


def _marginal(tensor: np.ndarray, weights: Sequence[np.ndarray], keep: Sequence[int]
              ) -> np.ndarray:
    """Weighted mean of ``tensor`` over every axis not in ``keep``."""
    out = tensor
    for axis in range(tensor.ndim - 1, -1, -1):
        if axis not in keep:
            out = np.tensordot(out, weights[axis], axes=([axis], [0]))
    return out


def anova_shares(tensor: np.ndarray, weights: Sequence[np.ndarray]
                 ) -> dict[tuple[int, ...], float]:
    """Exact ``V_U / V`` for every main effect and pair of a tensor under product weights.

    Each weight vector sums to 1. NaN shares when the tensor is constant (V = 0).
    """
    mean = float(_marginal(tensor, weights, ()))
    full = np.ones_like(tensor)
    for axis, w in enumerate(weights):
        shape = [1] * tensor.ndim
        shape[axis] = len(w)
        full = full * w.reshape(shape)
    total = float(np.sum(full * (tensor - mean) ** 2))
    mains = {i: _marginal(tensor, weights, (i,)) - mean for i in range(tensor.ndim)}
    shares: dict[tuple[int, ...], float] = {}
    for i, f_i in mains.items():
        shares[(i,)] = float(np.dot(weights[i], f_i ** 2))
    for i, j in combinations(range(tensor.ndim), 2):
        f_ij = _marginal(tensor, weights, (i, j)) - mean - mains[i][:, None] - mains[j][None, :]
        shares[(i, j)] = float(weights[i] @ (f_ij ** 2) @ weights[j])
    if total <= 1e-15 * max(1.0, mean ** 2):
        return {term: float("nan") for term in shares}
    return {term: v / total for term, v in shares.items()}


def full_grid(x: np.ndarray) -> bool:
    """Whether the rows of ``x`` cover every combination of each column's observed values."""
    levels = [np.unique(x[:, j]) for j in range(x.shape[1])]
    n_cells = int(np.prod([len(v) for v in levels], dtype=float))
    return n_cells == len(np.unique(x, axis=0))


def _grid_anova(x: np.ndarray, y: np.ndarray) -> dict[tuple[int, ...], tuple[float, float]]:
    levels = [np.unique(x[:, j]) for j in range(x.shape[1])]
    index = tuple(np.searchsorted(levels[j], x[:, j]) for j in range(x.shape[1]))
    shape = tuple(len(v) for v in levels)
    sums, counts = np.zeros(shape), np.zeros(shape)
    np.add.at(sums, index, y)
    np.add.at(counts, index, 1.0)
    weights = [np.full(len(v), 1.0 / len(v)) for v in levels]
    shares = anova_shares(sums / counts, weights)
    return {term: (v, float("nan")) for term, v in shares.items()}


def _leaf_boxes(tree: DecisionTreeRegressor, k: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each leaf's box ``(lo, hi]`` per dimension and its value (sklearn sends ``x <= t`` left)."""
    t = tree.tree_
    lo = np.full((t.node_count, k), -np.inf)
    hi = np.full((t.node_count, k), np.inf)
    leaves, stack = [], [0]
    while stack:
        node = stack.pop()
        left, right = t.children_left[node], t.children_right[node]
        if left == -1:
            leaves.append(node)
            continue
        dim, cut = t.feature[node], t.threshold[node]
        lo[left], hi[left], lo[right], hi[right] = lo[node], hi[node], lo[node], hi[node]
        hi[left, dim] = lo[right, dim] = cut
        stack += [left, right]
    index = np.array(leaves)
    return lo[index], hi[index], t.value[index, 0, 0]


class _Measure:
    """Product of the per-dimension empirical distributions of the configurations.

    The decomposition is defined under this measure (not the uniform one on the bounds), so it
    follows the design's own sampling (log-uniform learning rates stay log-uniform) and is
    invariant to the numeric encoding of a dimension.
    """

    def __init__(self, x: np.ndarray) -> None:
        self.atoms, self.probs, self.cdf = [], [], []
        for j in range(x.shape[1]):
            values, counts = np.unique(x[:, j], return_counts=True)
            self.atoms.append(values)
            self.probs.append(counts / counts.sum())
            self.cdf.append(np.r_[0.0, np.cumsum(counts) / counts.sum()])

    def mass(self, j: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Probability of ``lo < x_j <= hi``."""
        atoms, cdf = self.atoms[j], self.cdf[j]
        return (cdf[np.searchsorted(atoms, hi, side="right")]
                - cdf[np.searchsorted(atoms, lo, side="right")])

    def sample(self, n_log2: int, seed: int) -> np.ndarray:
        """Scrambled-Sobol draws from the measure (inverse CDF per dimension)."""
        k = len(self.atoms)
        u = qmc.Sobol(k, scramble=True, rng=np.random.default_rng(seed)).random_base2(n_log2)
        cols = [self.atoms[j][np.minimum(np.searchsorted(self.cdf[j][1:], u[:, j], side="right"),
                                         len(self.atoms[j]) - 1)] for j in range(k)]
        return np.column_stack(cols)


class _TreeMarginals:
    """Exact marginals of one regression tree under a product measure (Hutter et al. 2014).

    A tree is constant on each leaf's box, so its marginal over every dimension outside U is a
    sum over leaves of the leaf value times the measure of the box in those dimensions; on the
    cells that the tree's own thresholds cut in the dimensions of U it is constant. Values are
    returned at the measure's atoms so that the trees of a forest can be averaged.
    """

    def __init__(self, tree: DecisionTreeRegressor, measure: _Measure) -> None:
        k = len(measure.atoms)
        lo, hi, self.value = _leaf_boxes(tree, k)
        self.frac = np.column_stack([measure.mass(j, lo[:, j], hi[:, j]) for j in range(k)])
        self.mean = float(self.frac.prod(axis=1) @ self.value)
        self.start: list[np.ndarray] = []  # first cell of each leaf, per dimension
        self.stop: list[np.ndarray] = []  # one past its last cell
        self.cell_of_atom: list[np.ndarray] = []
        self.bounds: list[np.ndarray] = []
        for j in range(k):
            cuts = np.unique(np.r_[lo[:, j], hi[:, j]])
            edges = np.r_[-np.inf, cuts[np.isfinite(cuts)], np.inf]  # cell c is (e_c, e_c+1]
            self.start.append(np.searchsorted(edges, lo[:, j], side="left"))
            self.stop.append(np.searchsorted(edges, hi[:, j], side="left"))
            cell_of_atom = np.searchsorted(edges[1:-1], measure.atoms[j], side="left")
            self.cell_of_atom.append(cell_of_atom)
            # Atoms are sorted, so cell c holds atoms bounds[c] .. bounds[c + 1] - 1.
            self.bounds.append(np.searchsorted(cell_of_atom, np.arange(len(edges))))

    def _others(self, dims: tuple[int, ...]) -> np.ndarray:
        return self.value * np.prod(np.delete(self.frac, list(dims), axis=1), axis=1)

    def main(self, i: int) -> np.ndarray:
        """``a_i`` at the atoms of dimension i."""
        steps = np.zeros(len(self.bounds[i]))
        weight = self._others((i,))
        np.add.at(steps, self.start[i], weight)
        np.add.at(steps, self.stop[i], -weight)
        return np.cumsum(steps)[:-1][self.cell_of_atom[i]]

    def pair(self, i: int, j: int) -> np.ndarray:
        """``a_ij`` on the tree's own cells of dimensions i x j (each leaf adds its weighted
        value on its rectangle of cells: 2-D differences, then cumulative sums)."""
        steps = np.zeros((len(self.bounds[i]), len(self.bounds[j])))
        weight = self._others((i, j))
        for rows, cols, sign in ((self.start[i], self.start[j], 1.0),
                                 (self.start[i], self.stop[j], -1.0),
                                 (self.stop[i], self.start[j], -1.0),
                                 (self.stop[i], self.stop[j], 1.0)):
            np.add.at(steps, (rows, cols), sign * weight)
        return steps.cumsum(axis=0).cumsum(axis=1)[:-1, :-1]

    def add_pair_steps(self, i: int, j: int, pair: np.ndarray, steps: np.ndarray) -> None:
        """Add the 2-D differences of ``pair`` (``a_ij`` on the cells) at the cells' first atoms:
        the double cumulative sum of ``steps`` is then ``a_ij`` on the atoms grid (summed over
        the trees added)."""
        cells = np.pad(pair, ((1, 0), (1, 0)))
        delta = cells[1:, 1:] - cells[:-1, 1:] - cells[1:, :-1] + cells[:-1, :-1]
        np.add.at(steps, (self.bounds[i][:-1, None], self.bounds[j][None, :-1]), delta)

    def pair_inner(self, i: int, j: int, pair: np.ndarray, prefix: np.ndarray) -> float:
        """``sum_ab g(a, b) a_ij(a, b)`` from ``pair`` (``a_ij`` on the cells) and the 2-D
        prefix sums ``prefix`` of g."""
        bi, bj = self.bounds[i], self.bounds[j]
        block = (prefix[bi[1:, None], bj[None, 1:]] - prefix[bi[:-1, None], bj[None, 1:]]
                 - prefix[bi[1:, None], bj[None, :-1]] + prefix[bi[:-1, None], bj[None, :-1]])
        return float(np.sum(block * pair))


def _bagged_trees(x: np.ndarray, y: np.ndarray, seed: int, n_trees: int,
                  max_depth: int | None) -> tuple[list[DecisionTreeRegressor], np.ndarray]:
    """Regression trees on bootstrap samples of the configurations, and each sample's counts.

    This is the random forest that ``RandomForestRegressor`` grows (all features at every
    split, bootstrap weights), built here so that the inclusion counts are known: the
    infinitesimal jackknife needs them.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x1A7A]))
    n = len(y)
    counts = np.empty((n_trees, n))
    trees = []
    for b in range(n_trees):
        counts[b] = np.bincount(rng.integers(0, n, n), minlength=n)
        tree = DecisionTreeRegressor(max_depth=max_depth,
                                     random_state=int(rng.integers(2 ** 31 - 1)))
        trees.append(tree.fit(x, y, sample_weight=counts[b]))
    return trees, counts


def _ij_std(counts: np.ndarray, influence: np.ndarray) -> np.ndarray:
    """Bias-corrected infinitesimal-jackknife std of a bagged statistic (Wager et al. 2014).

    ``influence`` is trees x statistics: each tree's (linearized) contribution to the
    statistics. ``V_IJ-U = sum_i Cov_b(N_bi, t_b)^2 - n/B^2 sum_b (t_b - mean t)^2``. The
    correction removes the Monte-Carlo noise of B trees; when it exceeds the first term (few
    trees for the number of configurations) the variance is not estimable from this forest and
    the std is NaN: clipping it to 0 would claim an exact share, and the uncorrected term
    overstates the spread several-fold.
    """
    n_trees, n = counts.shape
    centred = influence - influence.mean(axis=0)
    cov = (counts - counts.mean(axis=0)).T @ centred / n_trees
    variance = (cov ** 2).sum(axis=0) - n / n_trees ** 2 * (centred ** 2).sum(axis=0)
    return np.sqrt(np.where(variance > 0, variance, np.nan))


def _forest_anova(x: np.ndarray, y: np.ndarray, seed: int, n_trees: int,
                  max_depth: int | None) -> dict[tuple[int, ...], tuple[float, float]]:
    """Exact fANOVA of the forest's mean prediction, with an infinitesimal-jackknife std.

    Each share ``S_U = V_U / V`` is linearized in the trees (delta method): tree b contributes
    ``(dV_U_b - S_U dV_b) / V`` where ``dV_U_b = 2 <F_U, f_U_b - F_U>`` is the change in V_U
    when tree b's component ``f_U_b`` moves the forest's ``F_U``; those contributions and the
    bootstrap counts give the std of the share over resampled configurations.
    """
    trees, counts = _bagged_trees(x, y, seed, n_trees, max_depth)
    measure = _Measure(x)
    parts = [_TreeMarginals(tree, measure) for tree in trees]
    tree_means = np.array([part.mean for part in parts])
    mean = float(tree_means.mean())
    predictions = np.array([tree.predict(measure.sample(DENOMINATOR_LOG2, seed))
                            for tree in trees])
    centred = predictions.mean(axis=0) - predictions.mean()
    total = float(np.mean(centred ** 2))
    if total <= 1e-15 * max(1.0, mean ** 2):
        k = x.shape[1]
        terms = [(i,) for i in range(k)] + list(combinations(range(k), 2))
        return {term: (float("nan"), float("nan")) for term in terms}
    d_total = 2 * (predictions - predictions.mean(axis=1, keepdims=True)) @ centred / len(centred)
    d_total -= 2 * total
    variances, d_variances = {}, {}
    mains = {}
    for i in range(x.shape[1]):
        per_tree = np.array([part.main(i) for part in parts]) - tree_means[:, None]
        mains[i] = per_tree.mean(axis=0)
        weighted = mains[i] * measure.probs[i]
        variances[(i,)] = float(weighted @ mains[i])
        d_variances[(i,)] = 2 * (per_tree @ weighted - variances[(i,)])
    for i, j in combinations(range(x.shape[1]), 2):
        steps = np.zeros((len(measure.atoms[i]) + 1, len(measure.atoms[j]) + 1))
        pairs = [part.pair(i, j) for part in parts]
        for part, pair in zip(parts, pairs, strict=True):
            part.add_pair_steps(i, j, pair, steps)
        joint = steps.cumsum(axis=0).cumsum(axis=1)[:-1, :-1] / len(parts)
        component = joint - mean - mains[i][:, None] - mains[j][None, :]
        weighted = component * np.outer(measure.probs[i], measure.probs[j])
        variances[(i, j)] = float(np.sum(weighted * component))
        # <F_ij, f_ij_b> = <F_ij, a_ij_b>: F_ij is orthogonal to every lower-order function.
        prefix = np.pad(weighted.cumsum(axis=0).cumsum(axis=1), ((1, 0), (1, 0)))
        inner = np.array([part.pair_inner(i, j, pair, prefix)
                          for part, pair in zip(parts, pairs, strict=True)])
        d_variances[(i, j)] = 2 * (inner - variances[(i, j)])
    terms = list(variances)
    shares = np.array([variances[t] / total for t in terms])
    influence = np.column_stack([(d_variances[t] - s * d_total) / total
                                 for t, s in zip(terms, shares, strict=True)])
    stds = _ij_std(counts, influence)
    return {t: (float(s), float(e)) for t, s, e in zip(terms, shares, stds, strict=True)}


def _target_rows(alg: str, env: str, frame: pd.DataFrame, cols: Sequence[str], method: str,
                 seed: int, n_trees: int, max_depth: int | None) -> list[dict]:
    x = encode(frame, cols)
    y = frame["score"].to_numpy(dtype=float)
    is_grid = full_grid(x)
    chosen = method if method != "auto" else ("anova" if is_grid else "forest")
    if chosen == "anova":
        if not is_grid:
            raise ValueError(f"{alg} on {env}: configurations are not a full grid of {cols}; "
                             "use method='forest' (or 'auto')")
        shares = _grid_anova(x, y)
    else:
        shares = _forest_anova(x, y, seed, n_trees, max_depth)
    return [{"algorithm": alg, "env_id": env,
             "term": " × ".join(bare(cols[i]) for i in term), "order": len(term),
             "importance": value, "std": std, "method": chosen}
            for term, (value, std) in shares.items()]


def importance(
    scores: pd.DataFrame,
    params: Sequence[str] | None = None,
    method: Literal["auto", "anova", "forest"] = "auto",
    seed: int = 0,
    n_trees: int = 32,
    max_depth: int | None = None,
) -> pd.DataFrame:
    """Main-effect and pairwise importances per algorithm x env and cross-env (``"all"``).

    Returns ``[algorithm, env_id, term, order, importance, std, method]``; ``term`` is ``"a"``
    or ``"a × b"``. Targets with fewer than 3 configurations are skipped (nothing to
    decompose). Deterministic under ``seed`` (bootstrap samples, tree randomness and the
    Sobol draws of the total variance).
    """
    if method not in ("auto", "anova", "forest"):
        raise ValueError(f"method must be 'auto', 'anova' or 'forest', not {method!r}")
    rows: list[dict] = []
    for alg, sub in scores.groupby("algorithm", sort=True):
        cm = config_means(sub)
        cols = param_columns(cm, params)
        if not cols:
            continue
        targets = [(env, part) for env, part in cm.groupby("env_id", sort=True)]
        if cm["env_id"].nunique() > 1:
            table = cross_env_table(cm)
            hps = cm.drop_duplicates("config_id").set_index("config_id")[cols]
            mean = hps.loc[table.index].assign(score=table.mean(axis=1)).reset_index()
            targets.append(("all", mean))
        for env, frame in targets:
            if len(frame) >= 3:
                rows.extend(_target_rows(str(alg), str(env), frame, cols, method, seed,
                                         n_trees, max_depth))
    return pd.DataFrame(rows, columns=COLUMNS)


def importance_variability(imp: pd.DataFrame) -> pd.DataFrame:
    """How much each term's importance changes across environments (``env_id != "all"``).

    Returns ``[algorithm, term, order, mean, std, min, max, n_envs]``; ``std`` is the population
    std over the environments studied (0 with one environment).
    """
    per_env = imp.loc[imp["env_id"] != "all"]
    grouped = per_env.groupby(["algorithm", "term", "order"], sort=True)["importance"]
    out = grouped.agg(mean="mean", std=lambda v: float(np.nanstd(v)) if v.notna().any()
                      else np.nan, min="min", max="max", n_envs="count")
    return out.reset_index()
