"""How many configurations and runs a suite asks for, counted before anything is expanded.

A grid over ten dimensions of ten levels is 10^10 configurations: expanding it to find out
would take all memory, so the counts here multiply axis sizes instead (exact integers, upper
bounds: the planner later drops repeated points) and the suite is refused against
``PlanLimits`` while loading.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from rlsens.spec import EvalProtocol
from rlsens.suite.design import Design
from rlsens.suite.limits import PlanLimits, raise_hint
from rlsens.suite.model import Algorithm, Seeds
from rlsens.suite.reader import Reader
from rlsens.suite.space import Categorical, Dimension, Int


def axis_size(dim: Dimension, levels: int) -> int:
    """Values a grid or one-at-a-time design visits on ``dim`` (at most)."""
    if isinstance(dim, Categorical):
        return len(dim.choices)
    if isinstance(dim, Int):
        return min(levels, dim.high - dim.low + 1)
    return 1 if levels == 1 else levels


def design_size(design: Design, dims: Mapping[str, Dimension]) -> int:
    """Configurations ``design`` yields over ``dims`` before deduplication (an upper bound)."""
    sizes = [axis_size(dim, design.levels) for dim in dims.values() if dim.searched]
    default = 1 if design.include_default else 0
    if design.type == "grid":
        return math.prod(sizes) + default
    if design.type == "oat":
        return 1 + sum(sizes)
    return (design.n or 0) + default


def shown(count: int) -> str:
    """``1234`` as is; ``10**20`` as ``about 10^20`` (never converted to float: may be huge)."""
    return str(count) if count < 10**7 else f"about 10^{len(str(count)) - 1}"


def check_size(algorithms: Mapping[str, Algorithm], design: Design, seeds: Seeds,
               evaluation: EvalProtocol, limits: PlanLimits, r: Reader) -> None:
    """Refuse a suite whose design, run count or learning curves exceed ``limits``."""
    runs = 0
    for label, algorithm in algorithms.items():
        configs = design_size(design, algorithm.search_space)
        if configs > limits.max_configs:
            alternative = ("; use design type random or sobol with an `n`, or fewer levels"
                           if design.type == "grid" else "; use fewer levels")
            raise r.fail(("algorithms", label, "search_space"),
                         f"this {design.type} design is {shown(configs)} configurations of "
                         f"{label} (limit {limits.max_configs}){alternative}",
                         hint=raise_hint("max_configs", limits.max_configs))
        runs += configs * len(algorithm.environments) * len(seeds.roles())
        for env_id, budget in algorithm.budget.items():
            evaluations = budget // evaluation.every
            if evaluations > limits.max_evaluations:
                raise r.fail(("evaluation", "every"),
                             f"{label} on {env_id} would be evaluated {shown(evaluations)} "
                             f"times (budget {budget} / every {evaluation.every}; limit "
                             f"{limits.max_evaluations})",
                             hint="evaluate less often (a larger `every`), or "
                                  + raise_hint("max_evaluations", limits.max_evaluations))
    if runs > limits.max_runs:
        raise r.fail(("design",), f"this suite plans up to {shown(runs)} runs (configurations "
                     f"x environments x seeds; limit {limits.max_runs})",
                     hint="fewer configurations or seeds, or "
                          + raise_hint("max_runs", limits.max_runs))
