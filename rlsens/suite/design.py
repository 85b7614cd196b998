"""How a suite describes its experimental design: the part of a design the suite file holds.

The suite checks a design (its type, its Sobol sample size) while loading, before any plan
exists; drawing the design's points is planning and lives in ``rlsens.plan.designs``.
"""

from __future__ import annotations

from dataclasses import dataclass

DESIGN_TYPES = ("grid", "random", "sobol", "oat")


@dataclass(frozen=True)
class Design:
    """``type`` grid | random | sobol | oat; ``n`` samples (random/sobol); ``levels`` points per
    continuous dimension (grid/oat); ``include_default`` adds the default configuration."""

    type: str
    n: int | None = None
    levels: int = 3
    include_default: bool = False


def sobol_n_problem(n: int) -> str | None:
    """Why ``n`` is not a valid Sobol sample size (a power of two), else ``None``."""
    if n >= 1 and n & (n - 1) == 0:
        return None
    lower = 1 << max(n.bit_length() - 1, 0)
    upper = 1 << n.bit_length()
    return (f"a Sobol design needs n to be a power of two (balance properties hold only "
            f"then); nearest: {lower} or {upper}")
