"""The plan stage: a ``Suite`` -> the list of ``RunSpec`` it trains, and what they cost.

``build.py`` builds the plan and its indexes, ``designs.py`` draws each algorithm's
configurations, ``cost.py`` holds the fitted CPU-time model behind ``rlsens plan``,
``trainers.py`` chooses each run's trainer and ``groups.py`` forms the population groups.
"""

from rlsens.plan.build import Plan, build_plan, cell_index, config_id, seed_roles
from rlsens.plan.cost import (
    CLASS_DEFAULTS,
    EVAL_SECONDS_PER_STEP,
    OFF_POLICY_STEP_SECONDS,
    ON_POLICY_FORWARD_SECONDS,
    ON_POLICY_STEP_SECONDS,
    RUN_OVERHEAD_SECONDS,
    TRAIN_CALL_SECONDS,
    UPDATE_SECONDS,
    estimate_cpu_seconds,
    estimate_group_cpu_seconds,
    population_speedup,
)
from rlsens.plan.groups import MAX_MEMBERS, group_runs, member_bytes, member_cap, pending_groups
from rlsens.plan.trainers import choose_trainer

__all__ = [
    "CLASS_DEFAULTS",
    "EVAL_SECONDS_PER_STEP",
    "MAX_MEMBERS",
    "OFF_POLICY_STEP_SECONDS",
    "ON_POLICY_FORWARD_SECONDS",
    "ON_POLICY_STEP_SECONDS",
    "RUN_OVERHEAD_SECONDS",
    "TRAIN_CALL_SECONDS",
    "UPDATE_SECONDS",
    "Plan",
    "build_plan",
    "cell_index",
    "choose_trainer",
    "config_id",
    "estimate_cpu_seconds",
    "estimate_group_cpu_seconds",
    "group_runs",
    "member_bytes",
    "member_cap",
    "pending_groups",
    "population_speedup",
    "seed_roles",
]
