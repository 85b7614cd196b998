"""The trainer field of a run: in the run id only when it is not ``sb3``, and in the record."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from rlsens.record import RunResult
from rlsens.spec import RunSpec

# A record written by the sb3 trainer before the trainer entered the spec (from the first
# committed ddpg reference store): its run id must stay what it was.
SB3_RECORD = Path(__file__).resolve().parent / "data" / "sb3_record_b12f99a1bdc417b1.json"


def _reference_record() -> dict:
    return json.loads(SB3_RECORD.read_text())


def test_stored_sb3_run_ids_are_unchanged() -> None:
    data = _reference_record()
    spec = RunSpec.from_dict(data["spec"])
    assert spec.trainer == "sb3"
    assert spec.run_id == "b12f99a1bdc417b1" == data["run_id"]


def test_population_trainer_gets_its_own_run_id() -> None:
    spec = RunSpec.from_dict(_reference_record()["spec"])
    population = dataclasses.replace(spec, trainer="population")
    assert population.run_id != spec.run_id
    assert population.identity()["trainer"] == "population"
    assert "trainer" not in spec.identity()


def test_unknown_trainer_is_refused() -> None:
    spec = RunSpec.from_dict(_reference_record()["spec"])
    with pytest.raises(ValueError, match="unknown trainer 'jax'"):
        dataclasses.replace(spec, trainer="jax")


def test_record_carries_the_trainer_and_round_trips() -> None:
    result = RunResult.from_dict(_reference_record())
    assert result.to_dict()["trainer"] == "sb3"
    population = dataclasses.replace(
        result, spec=dataclasses.replace(result.spec, trainer="population")
    )
    data = json.loads(json.dumps(population.to_dict()))
    assert data["trainer"] == "population"
    back = RunResult.from_dict(data)
    assert back.trainer == "population"
    assert back.run_id == population.run_id
