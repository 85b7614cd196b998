"""The one way analysis functions derive random streams.

Every bootstrap or permutation in ``rlsens.analysis`` draws from a generator keyed on the
user's ``seed`` *and* the labels of the cell it serves (algorithm, environment, pair, step),
never on iteration order: adding an algorithm to a table must not move another algorithm's
interval.
"""

from __future__ import annotations

import zlib

import numpy as np


def derive_rng(seed: int | np.random.Generator, *labels: object) -> np.random.Generator:
    """An independent generator per ``(seed, labels)``; a generator passes through unchanged.

    Labels are hashed with CRC32 of their ``str`` (stable across processes and Python
    versions, unlike ``hash``), so the stream is ``SeedSequence([seed, crc(label), ...])``.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng([int(seed), *(zlib.crc32(str(k).encode()) for k in labels)])
