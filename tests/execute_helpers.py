"""Run functions and specs for the executor tests (not a test module).

The run functions leave a file per call in the directory named by the spec's ``calls_dir``
hyperparameter (plain data, so it reaches any Ray worker on this machine) and record
timings/ids in the result, so tests can count executions and check concurrency from plain
data instead of mocks. Test modules register this module with cloudpickle by value, so Ray
workers need not import it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path

from rlsens.record import RunResult
from rlsens.spec import EvalProtocol, Resources, RunSpec


def make_specs(
    n: int, calls_dir: Path, *, sleep: float = 0.0, cpus: float = 1.0, gpus: float = 0.0
) -> list[RunSpec]:
    """``n`` distinct specs; ``sleep`` and ``calls_dir`` ride in the hyperparameters."""
    return [
        RunSpec(
            suite="test",
            algorithm="fake",
            algo_class="PPO",
            env_id="CartPole-v1",
            hyperparameters={"sleep": sleep, "calls_dir": str(calls_dir)},
            seed=seed,
            budget=100,
            eval=EvalProtocol(every=50, episodes=1, final=1),
            config_id="c0",
            resources=Resources(cpus=cpus, gpus=gpus),
        )
        for seed in range(n)
    ]


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def _log_call(spec: RunSpec, info: dict) -> None:
    path = Path(spec.hyperparameters["calls_dir"]) / f"{spec.run_id}-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(info))


def sleeping_run(spec: RunSpec, device: str | None = None) -> RunResult:
    """Sleeps ``hyperparameters['sleep']`` s and reports what the executor gave it."""
    import ray
    import torch

    start = time.time()
    info = {
        "pid": os.getpid(),
        "node": ray.get_runtime_context().get_node_id() if ray.is_initialized() else "",
        "gpu_ids": [str(i) for i in ray.get_gpu_ids()] if ray.is_initialized() else [],
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        "torch_threads": torch.get_num_threads(),
        "device_arg": device,
    }
    _log_call(spec, info)
    time.sleep(float(spec.hyperparameters["sleep"]))
    return RunResult(
        spec=spec,
        status="ok",
        steps=spec.budget,
        wall_time_s=time.time() - start,
        host=socket.gethostname(),
        started_at=_stamp(start),
        finished_at=_stamp(time.time()),
        versions={k: json.dumps(v) for k, v in info.items()},
    )


def raising_run(spec: RunSpec) -> RunResult:
    """Raises for odd seeds (after logging the call), succeeds for even ones."""
    _log_call(spec, {"pid": os.getpid()})
    if spec.seed % 2:
        raise ValueError(f"boom for seed {spec.seed}")
    return RunResult(spec=spec, status="ok", steps=spec.budget, wall_time_s=0.01)


def calls(directory: Path) -> dict[str, int]:
    """How often each run id was executed, from the call files."""
    counts: dict[str, int] = {}
    for path in directory.glob("*.json"):
        run_id = path.name.split("-")[0]
        counts[run_id] = counts.get(run_id, 0) + 1
    return counts


def collecting_sink() -> tuple[list[RunResult], list[int], Callable[[RunResult], None]]:
    """A sink that keeps every result and the pid of the process that received it."""
    results: list[RunResult] = []
    pids: list[int] = []

    def sink(result: RunResult) -> None:
        results.append(result)
        pids.append(os.getpid())

    return results, pids, sink


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def ray_head(env: Mapping[str, str] | None = None, num_cpus: int = 2) -> Iterator[str]:
    """A Ray head started by `ray start --head` in its own process group; yields its address.

    Only that process group is ended afterwards (never `ray stop`, which would end every Ray
    instance of the machine). ``env`` is the environment of `ray start` (default: this one).
    """
    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="rlsens-ext-", dir="/tmp")
    ray_cli = Path(sys.executable).with_name("ray")
    head = subprocess.Popen(
        [
            str(ray_cli),
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            f"--num-cpus={num_cpus}",
            "--include-dashboard=false",
            f"--temp-dir={temp_dir}",
            "--object-store-memory=100000000",
        ],
        env=dict(env) if env is not None else None,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: we end exactly what it started
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # the head takes a few seconds to accept drivers
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline and head.poll() is None, "head did not start"
                time.sleep(0.5)
        yield f"127.0.0.1:{port}"
        assert head.poll() is None  # a cluster rlsens only connected to is still running
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        time.sleep(1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)  # stragglers of that group, if any
        shutil.rmtree(temp_dir, ignore_errors=True)


def sigkill_driver_once_stored(command: list[str], cwd: Path, results: Path, stored: int,
                               poll_s: float = 0.1) -> list[str]:
    """Start an ``rlsens run`` driver in its own session and SIGKILL its whole process group
    (driver, Ray, workers) once ``results`` holds ``stored`` records, or after 240 s; return
    the ids stored at that instant. A driver killed mid-sweep is what resume must survive."""
    from rlsens.store import ResultStore

    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while len(ResultStore(results).stored_ids()) < stored and time.time() < deadline:
        time.sleep(poll_s)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return ResultStore(results).stored_ids()
