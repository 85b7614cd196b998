"""The single-run trainer: ``train(spec) -> RunResult``.

``train`` and the translation helpers import torch and stable-baselines3 (about 4 s in a
fresh process), so they are loaded on first use; ``library_versions`` stays cheap for
callers that only want to record what would run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rlsens.trainer.versions import library_versions

if TYPE_CHECKING:
    from rlsens.trainer.build import translate
    from rlsens.trainer.evaluation import evaluation_steps
    from rlsens.trainer.run import train

__all__ = ["evaluation_steps", "library_versions", "train", "translate"]

_LAZY = {
    "train": "rlsens.trainer.run",
    "translate": "rlsens.trainer.build",
    "evaluation_steps": "rlsens.trainer.evaluation",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
