"""Versions of everything that can change a run's numbers, recorded with every result.

SB3 documents that results are reproducible only for the same library versions and
platform, so a result that cannot be reproduced later must at least say what produced it.
Versions are read from package metadata, without importing the packages (mujoco and Box2D
cost seconds to import and may be absent).
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform

import rlsens

# record key -> distribution name. The optional ones are left out when not installed.
_REQUIRED = {
    "torch": "torch",
    "stable_baselines3": "stable-baselines3",
    "gymnasium": "gymnasium",
    "numpy": "numpy",
}
_OPTIONAL = {"mujoco": "mujoco", "box2d": "Box2D"}


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    found = {"python": platform.python_version(), "rlsens": rlsens.__version__}
    for key, dist in {**_REQUIRED, **_OPTIONAL}.items():
        try:
            found[key] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            if key in _REQUIRED:
                found[key] = "not installed"
    return tuple(found.items())


def library_versions() -> dict[str, str]:
    """python, rlsens, torch, stable_baselines3, gymnasium, numpy (+ mujoco, box2d if present)."""
    return dict(_versions())
