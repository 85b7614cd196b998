"""What the report reads from a manifest beyond its typed fields (``rlsens.store.Manifest``)."""

from __future__ import annotations

from rlsens.store import Manifest


def log_scaled_hyperparameters(manifest: Manifest) -> dict[str, set[str]]:
    """Per algorithm, the searched hyperparameters the suite samples on a log scale."""
    return {
        str(label): {name for name, dim in manifest.suite.search_space(str(label)).items()
                     if dim.log_scaled}
        for label in manifest.suite.algorithms
    }
