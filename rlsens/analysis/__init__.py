"""Analysis: tidy DataFrames in, tidy DataFrames out.

Pure functions over the ``runs``/``curves`` tables (numpy, scipy and pandas only: no Ray, no
plotting, no file I/O), deterministic under an explicit ``seed``. Start from
:func:`run_scores` (one score per run, with an explicit failed-run policy), optionally
:func:`normalize` per environment, then aggregate, profile, compare, or measure sensitivity.
"""

from rlsens.analysis._frames import HP_PREFIX, config_means, hp_column, hp_columns
from rlsens.analysis.aggregates import (
    aggregate_estimates,
    interval_estimates,
    iqm,
    mean_of_task_means,
    median_of_task_means,
    optimality_gap,
    stratified_bootstrap,
)
from rlsens.analysis.claims import algorithm_comparisons
from rlsens.analysis.expected_max import expected_max_u, expected_max_v, tuning_curves
from rlsens.analysis.importance import importance, importance_variability
from rlsens.analysis.normalize import cdf_scale, normalize
from rlsens.analysis.pair_map import most_important_pairs, overall_importance, pair_grid
from rlsens.analysis.pairwise import holm, pairwise_tests
from rlsens.analysis.profiles import (
    average_score_profile,
    performance_profile,
    probability_of_improvement,
    sample_efficiency,
    spread,
)
from rlsens.analysis.protocol import select_and_report
from rlsens.analysis.scores import failed_policy_text, run_scores
from rlsens.analysis.sensitivity import (
    effective_dimensionality,
    hyperparameter_sensitivity,
    sensitivity_plane,
    tuned_score_errors,
)
from rlsens.analysis.sensitivity_curves import sensitivity_curves
from rlsens.analysis.tunability import tunability
from rlsens.analysis.variance import seed_split_consistency, variance_decomposition

__all__ = [
    "HP_PREFIX",
    "aggregate_estimates",
    "algorithm_comparisons",
    "average_score_profile",
    "cdf_scale",
    "config_means",
    "effective_dimensionality",
    "expected_max_u",
    "expected_max_v",
    "failed_policy_text",
    "holm",
    "hp_column",
    "hp_columns",
    "hyperparameter_sensitivity",
    "importance",
    "importance_variability",
    "interval_estimates",
    "iqm",
    "mean_of_task_means",
    "median_of_task_means",
    "most_important_pairs",
    "normalize",
    "optimality_gap",
    "overall_importance",
    "pair_grid",
    "pairwise_tests",
    "performance_profile",
    "probability_of_improvement",
    "run_scores",
    "sample_efficiency",
    "seed_split_consistency",
    "select_and_report",
    "sensitivity_curves",
    "sensitivity_plane",
    "spread",
    "stratified_bootstrap",
    "tunability",
    "tuned_score_errors",
    "tuning_curves",
    "variance_decomposition",
]
