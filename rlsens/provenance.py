"""Where and with what a result set was produced, so a reader can reproduce it.

Versions are read from package metadata rather than by importing the packages: the CLI
should not pay torch's or Ray's import time just to describe them, and mujoco or Box2D may
be absent.
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import socket
import subprocess
from importlib import metadata
from pathlib import Path

import rlsens

# record key -> distribution. A run's numbers depend on the first four (SB3 documents that
# results reproduce only with the same versions); the rest shape the execution and analysis.
# Required packages are always listed ("not installed" when missing); the optional
# environment packages only when present.
_REQUIRED = {
    "torch": "torch",
    "stable_baselines3": "stable-baselines3",
    "gymnasium": "gymnasium",
    "numpy": "numpy",
    "ray": "ray",
    "pandas": "pandas",
    "scipy": "scipy",
}
_OPTIONAL = {"mujoco": "mujoco", "box2d": "Box2D"}
NOT_INSTALLED = "not installed"


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    found = {"rlsens_version": rlsens.__version__, "python": platform.python_version()}
    for key, dist in {**_REQUIRED, **_OPTIONAL}.items():
        try:
            found[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            if key in _REQUIRED:
                found[key] = NOT_INSTALLED
    return tuple(found.items())


def library_versions() -> dict[str, str]:
    """Versions of rlsens, Python and the libraries, recorded with every run and manifest.

    The same keys in both places, so a record can be checked against its manifest.
    """
    return dict(_versions())


def git_commit() -> str | None:
    """The commit of the rlsens checkout in use, with ``-dirty`` when it has local changes."""
    root = Path(rlsens.__file__).resolve().parent.parent
    if not (root / ".git").exists() or shutil.which("git") is None:
        return None
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError):
        return None
    return f"{commit}-dirty" if dirty else commit


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_models() -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def collect() -> dict[str, object]:
    return {
        **library_versions(),
        "git_commit": git_commit(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": gpu_models(),
    }
