"""What a report computes: the knobs passed through to ``rlsens.analysis``."""

from __future__ import annotations

from dataclasses import dataclass, field

# Bootstrap replicates are held in memory (replicates x runs), and past 200 000 (4x the
# default) the Monte Carlo error of a 95 % interval is far below the digits a report prints;
# larger counts only exhaust memory. Raise it here if a study really needs more.
MAX_REPS = 200_000


@dataclass(frozen=True)
class ReportOptions:
    """Choices a reader must know to interpret the report; all of them appear in its methods text.

    Defaults:
    - ``score="auc"``: mean evaluation return over training (rewards learning speed and final
      level, and is less noisy than the last evaluations alone).
    - ``normalization=None`` resolves to ``"percentile"`` (per-environment 5th-95th percentile of
      observed scores mapped to [0, 1]) when there is more than one environment, so scores on
      different return scales can be aggregated, and to ``"none"`` (raw returns) with a single
      environment, where raw returns are the most readable unit. The optimality gap needs a
      normalized scale and is left out with raw returns.
    - ``failed="worst"``: failed/diverged/timeout runs count as the worst score observed in their
      environment rather than disappearing (dropping them flatters fragile algorithms).
    - ``reps=50_000`` stratified-bootstrap replicates for aggregate intervals (rliable's default);
      ``profile_reps=2_000`` for profiles, probability of improvement, sample-efficiency and
      sensitivity curves; ``test_reps=10_000`` for bootstrap pairwise tests;
      ``sensitivity_reps=2_000`` for the tuned scores, Φ and the headline's intervals of their
      differences between algorithms (0 turns those intervals off, and with them every claim
      of a difference in Φ or tuned score).
    - ``reference_algorithm=None``: the first algorithm in sorted order anchors the
      performance-sensitivity plane.
    """

    score: str = "auc"
    normalization: str | None = None
    reference: dict[str, tuple[float, float]] | None = None
    quantiles: tuple[float, float] = (0.05, 0.95)
    failed: str = "worst"
    reps: int = 50_000
    profile_reps: int = 2_000
    test_reps: int = 10_000
    sensitivity_reps: int = 2_000
    confidence: float = 0.95
    ci_method: str = "percentile"
    test: str = "welch"
    alpha: float = 0.05
    importance_method: str = "auto"
    seed: int = 0
    reference_algorithm: str | None = None
    metrics: tuple[str, ...] = field(default=("iqm", "mean", "median", "optimality_gap"))

    def __post_init__(self) -> None:
        for name in ("reps", "profile_reps", "test_reps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not (
                    1 <= value <= MAX_REPS):
                raise ValueError(
                    f"{name} must be an integer from 1 to {MAX_REPS:,} (bootstrap replicates "
                    f"are held in memory; {ReportOptions.reps:,} is the default), got {value!r}"
                )
        value = self.sensitivity_reps
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_REPS:
            raise ValueError(
                f"sensitivity_reps must be an integer from 0 (no intervals) to {MAX_REPS:,}, "
                f"got {value!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            # NumPy refuses a negative seed, but only once the report is half written
            raise ValueError(f"seed must be an integer >= 0 (a NumPy seed), got {self.seed!r}")

    def resolved_normalization(self, n_envs: int) -> str:
        if self.normalization is not None:
            return self.normalization
        return "percentile" if n_envs > 1 else "none"
