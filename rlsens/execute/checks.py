"""What an execution request must satisfy before anything starts: options and resources.

The suite stage validates what a user writes, but specs also come from scripts, notebooks
and older manifests. A bad value that reached Ray would end in a traceback from inside Ray
or, for a run larger than the machine, in a sweep that waits forever; here it is a message
that names the run and the key. Callers that write state first (the sweep writes the
manifest) call ``check_request`` before doing so.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from rlsens.errors import UsageError
from rlsens.execute.progress import run_label
from rlsens.spec import RunSpec

BACKENDS = ("ray", "serial")


def check_request(
    specs: Sequence[RunSpec], *, backend: str, max_concurrent: int | None, max_retries: int,
    address: str | None = None,
) -> None:
    """Raise ``UsageError`` for the first option or run resource that cannot be executed
    (``address``: the Ray cluster asked for, checked with ``RAY_ADDRESS`` as Ray would)."""
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    target = cluster_target(address) if backend == "ray" else None
    if target:
        host_port(target)
    if max_concurrent is not None and (not _is_int(max_concurrent) or max_concurrent < 1):
        raise UsageError(f"max_concurrent must be at least 1, got {max_concurrent!r}")
    if not _is_int(max_retries) or max_retries < 0:
        raise UsageError(f"max_retries must be 0 or more, got {max_retries!r}")
    for spec in specs:
        check_resources(spec)


def check_resources(spec: RunSpec) -> None:
    """CPUs and GPUs: finite and not negative (fractions share a device); memory and timeout:
    absent or positive."""
    res = spec.resources
    _quantity(spec, "cpus", res.cpus, optional=False, zero_ok=True)
    _quantity(spec, "gpus", res.gpus, optional=False, zero_ok=True)
    _quantity(spec, "memory_mb", res.memory_mb, optional=True, zero_ok=False)
    _quantity(spec, "timeout_s", res.timeout_s, optional=True, zero_ok=False)


def check_fits(specs: Sequence[RunSpec], available: dict[str, float]) -> None:
    """Every run fits the machine (``available``: Ray's totals of ``CPU``, ``GPU`` and
    ``memory`` in bytes).

    Ray keeps a task that no node can hold waiting forever, so a run asking for more than
    the local instance has would hang the sweep; say so before submitting anything.
    """
    for spec in specs:
        res = spec.resources
        asks = [("cpus", res.cpus, available.get("CPU", 0.0), "CPU")]
        asks.append(("gpus", res.gpus, available.get("GPU", 0.0), "GPU"))
        if res.memory_mb:
            memory_mb = available.get("memory", 0.0) / 2**20
            asks.append(("memory_mb", res.memory_mb, round(memory_mb), "MB of memory for runs"))
        for key, asked, have, unit in asks:
            if asked > have:
                raise UsageError(
                    f"run {spec.run_id} ({run_label(spec)}): resources.{key}={asked} but this "
                    f"machine offers {have:g} {unit}; lower `resources: {{{key}: ...}}` in the "
                    "suite or run on a cluster that has them (--address)"
                )


def _quantity(spec: RunSpec, key: str, value: Any, *, optional: bool, zero_ok: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(spec, key, value, "must be a finite number" + (" or null" if optional else ""))
    if value < 0 or (value == 0 and not zero_ok):
        _fail(spec, key, value, "must be " + ("0 or more" if zero_ok else "more than 0"))


def _fail(spec: RunSpec, key: str, value: Any, why: str) -> None:
    raise UsageError(
        f"run {spec.run_id} ({run_label(spec)}): resources.{key}={value!r} {why}; "
        f"fix `resources: {{{key}: ...}}` in the suite"
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def cluster_target(address: str | None) -> str | None:
    """The cluster a Ray sweep connects to: ``address``, else ``RAY_ADDRESS``; ``None`` for a
    private local instance (no address, or ``local``, Ray's word for a new local one)."""
    target = address or os.environ.get("RAY_ADDRESS")
    return target if target and target != "local" else None


ADDRESS_FORMS = (
    "host:port of the head node's GCS (e.g. 10.0.0.5:6379, [fd00::5]:6379), auto, or a Ray "
    "Client address ray://host:port"
)


def host_port(address: str) -> tuple[str, int] | None:
    """``host:port`` of a GCS address; None for forms Ray resolves itself (auto, ray://).

    Anything else is refused here: Ray answers a malformed address with a ValueError from
    deep inside ``ray.init``.
    """
    if address == "auto" or address.startswith("ray://"):
        return None
    host, sep, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if "://" in address or not (sep and host and port.isdigit() and 0 < int(port) < 65536):
        raise UsageError(
            f"the Ray address {address!r} (--address or RAY_ADDRESS) is not one rlsens can "
            f"use; give {ADDRESS_FORMS}"
        )
    return host, int(port)
