"""Fixtures shared by the population trainer's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rlsens.trainer.population.members import Member


@pytest.fixture
def built() -> Iterator[list[Member]]:
    """Members a test builds, closed (their envs and evaluators) when it ends."""
    made: list[Member] = []
    yield made
    for member in made:
        member.close()
