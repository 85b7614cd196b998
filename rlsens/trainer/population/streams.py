"""Each member's own random streams, so a member is a pure function of its spec.

SB3 draws exploration noise, minibatch indices and target-policy noise from the process-wide
generators (numpy's, torch's). M members sharing one process cannot share those without making
every member's numbers depend on who else is in its group, so every member gets its own numpy
generators, one per kind of draw, seeded from the run seed and the kind's name. Draws are made
a chunk at a time per member (one generator call per member per chunk instead of per step),
which keeps the per-step cost independent of the number of members' Python calls; the values a
stream yields do not depend on the chunk size's interplay with other streams, because every
kind has its own generator.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

# Tag of the population trainer's streams, distinct from the evaluation's (see trainer.evaluation).
_STREAM_TAG = 0x90_9_A7
# Floats drawn per member per refill of a stream.
_CHUNK_FLOATS = 1 << 14


class _Stream:
    def __init__(self, generators: list[np.random.Generator], kind: str, shape: tuple[int, ...]):
        self.generators = generators
        self.kind = kind
        self.shape = shape
        self.chunk = max(1, _CHUNK_FLOATS // max(1, int(np.prod(shape))))
        self.cache: np.ndarray | None = None
        self.next = 0

    def draw(self) -> np.ndarray:
        if self.cache is None or self.next == self.chunk:
            size = (self.chunk, *self.shape)
            if self.kind == "normal":
                parts = [g.standard_normal(size) for g in self.generators]
            else:
                parts = [g.random(size) for g in self.generators]
            self.cache = np.stack(parts, axis=1)  # [chunk, M, *shape]
            self.next = 0
        value = self.cache[self.next]
        self.next += 1
        return value


class MemberRandom:
    """Named random streams, one numpy generator per member and name."""

    def __init__(self, seeds: Sequence[int]) -> None:
        self.seeds = [int(s) for s in seeds]
        self._streams: dict[str, _Stream] = {}
        self._permuters: dict[str, list[np.random.Generator]] = {}

    def _generators(self, name: str) -> list[np.random.Generator]:
        key = zlib.crc32(name.encode())
        return [np.random.default_rng([seed, _STREAM_TAG, key]) for seed in self.seeds]

    def _stream(self, name: str, kind: str, shape: tuple[int, ...]) -> _Stream:
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = _Stream(self._generators(name), kind, shape)
        if stream.kind != kind or stream.shape != shape:
            raise ValueError(
                f"stream {name!r} drawn as {kind}{shape}, was {stream.kind}{stream.shape}"
            )
        return stream

    def normal(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Standard normal draws, ``[M, *shape]`` float64."""
        return self._stream(name, "normal", tuple(shape)).draw()

    def uniform(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Uniform draws on [0, 1), ``[M, *shape]`` float64."""
        return self._stream(name, "uniform", tuple(shape)).draw()

    def permutations(self, name: str, n: int) -> np.ndarray:
        """One independent permutation of ``range(n)`` per member, ``[M, n]``."""
        generators = self._permuters.get(name)
        if generators is None:
            generators = self._permuters[name] = self._generators(name)
        return np.stack([g.permutation(n) for g in generators])


def uniform_indices(uniforms: np.ndarray, upper: int) -> np.ndarray:
    """Indices uniform on ``range(upper)`` from uniforms on [0, 1) (as ``randint(0, upper)``)."""
    return np.minimum((uniforms * upper).astype(np.int64), upper - 1)
