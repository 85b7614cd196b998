"""The result of one run: what the trainer returns and the store keeps.

A ``RunResult`` is plain data (JSON-serialisable), so it crosses process and machine
boundaries (Ray workers return it to the driver) and is stored as one JSON file per run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rlsens.spec import RunSpec

OK = "ok"  # the one status whose score every analysis trusts as measured
STATUSES = (OK, "diverged", "failed", "timeout")
# Runs that ended on an error or on the time limit: `rlsens run --retry-failed` reruns them and
# status and progress list them as failures. A diverged run is not among them: divergence is
# an outcome of its configuration, which reruns would only reproduce.
FAILED_STATUSES = ("failed", "timeout")
RECORD_VERSION = 1


@dataclass
class Evaluation:
    """One scheduled evaluation: ``step`` environment steps into training."""

    step: int
    returns: list[float]
    lengths: list[int]

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))


@dataclass
class RunResult:
    spec: RunSpec
    status: str
    curve: list[Evaluation] = field(default_factory=list)
    steps: int = 0
    wall_time_s: float = 0.0
    train_time_s: float = 0.0
    diverged_step: int | None = None
    error: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"
    host: str = ""
    started_at: str = ""
    finished_at: str = ""
    attempt: int = 1

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown run status {self.status!r}; expected one of {STATUSES}")

    @property
    def run_id(self) -> str:
        return self.spec.run_id

    @property
    def trainer(self) -> str:
        return self.spec.trainer

    @property
    def score_final(self) -> float | None:
        """Mean evaluation return over the last ``spec.eval.final`` evaluations."""
        if not self.curve:
            return None
        last = self.curve[-self.spec.eval.final :]
        return float(np.mean([e.mean for e in last]))

    @property
    def score_auc(self) -> float | None:
        """Mean evaluation return over all evaluations: area under the learning curve."""
        if not self.curve:
            return None
        return float(np.mean([e.mean for e in self.curve]))

    @property
    def steps_per_s(self) -> float | None:
        return self.steps / self.train_time_s if self.train_time_s > 0 else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["spec"] = self.spec.to_dict()
        data["record_version"] = RECORD_VERSION
        data["run_id"] = self.run_id
        data["trainer"] = self.trainer
        data["score_final"] = self.score_final
        data["score_auc"] = self.score_auc
        data["steps_per_s"] = self.steps_per_s
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResult:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["spec"] = RunSpec.from_dict(data["spec"])
        fields["curve"] = [Evaluation(**e) for e in data.get("curve", [])]
        return cls(**fields)



def error_summary(error: str | None) -> str | None:
    """The last non-blank line of an error: for a traceback, the exception and its message,
    which is what a user scans a list of failures for. None when there is no error text."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    return lines[-1] if lines else None
