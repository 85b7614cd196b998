"""Executor on real multi-node Ray clusters simulated on one machine (ray.cluster_utils.Cluster),
and on an external head node started with ``ray start``.

One Cluster (head + 2 worker nodes, 1 CPU each) is shared by the module; each test connects
through ``address=`` (so the connect/disconnect path is exercised) and the fixture removes the
nodes it added. Nothing here uses ``ray stop``: only processes these tests started are ended.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import execute_helpers as helpers
import pytest
import ray
from ray.cluster_utils import Cluster

from rlsens.execute import execute
from rlsens.record import RunResult

ray.cloudpickle.register_pickle_by_value(helpers)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    temp_dir = tempfile.mkdtemp(prefix="rlsens-cl-", dir="/tmp")
    # Cluster records its address under RAY_TMPDIR/ray; keep that private to this module.
    os.makedirs(os.path.join(temp_dir, "ray"))
    previous_tmpdir = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = temp_dir
    node_args = {"num_cpus": 1, "object_store_memory": 80 * 2**20}
    cl = Cluster(
        initialize_head=True,
        head_node_args={**node_args, "include_dashboard": False, "temp_dir": temp_dir},
    )
    workers = [cl.add_node(**node_args) for _ in range(2)]
    cl.wait_for_nodes()
    cl.extra_args = node_args
    cl.initial_workers = workers
    try:
        yield cl
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cl.shutdown()
        if previous_tmpdir is None:
            os.environ.pop("RAY_TMPDIR", None)
        else:
            os.environ["RAY_TMPDIR"] = previous_tmpdir
        shutil.rmtree(temp_dir, ignore_errors=True)


def info(result: RunResult, key: str):
    return json.loads(result.versions[key])


def test_every_run_once_on_three_nodes_sink_in_driver(cluster, tmp_path):
    specs = helpers.make_specs(6, tmp_path, sleep=0.5)
    results, pids, sink = helpers.collecting_sink()
    summary = execute(
        specs, sink, address=cluster.address, run_fn=helpers.sleeping_run, progress=False
    )
    assert summary.ok == 6 and summary.address == cluster.address
    assert sorted(r.run_id for r in results) == sorted(s.run_id for s in specs)
    assert set(pids) == {os.getpid()}
    assert helpers.calls(tmp_path) == {s.run_id: 1 for s in specs}
    assert all(info(r, "torch_threads") == 1 and r.device == "cpu" for r in results)
    assert len({info(r, "node") for r in results}) >= 2  # spread over nodes
    assert not ray.is_initialized()  # disconnected; the cluster itself is still up
    assert cluster.head_node.remaining_processes_alive()


def test_raising_run_fn_is_failed_and_not_retried(cluster, tmp_path):
    specs = helpers.make_specs(4, tmp_path)
    results, _, sink = helpers.collecting_sink()
    summary = execute(
        specs, sink, address=cluster.address, run_fn=helpers.raising_run, progress=False
    )
    assert (summary.ok, summary.failed) == (2, 2)
    assert helpers.calls(tmp_path) == {s.run_id: 1 for s in specs}
    for result in results:
        if result.spec.seed % 2:
            assert result.status == "failed"
            assert "run function raised" in result.error and "boom for seed" in result.error


def test_worker_node_dies_mid_sweep_runs_complete_once(cluster, tmp_path):
    victim = cluster.initial_workers[0]
    victim_id = victim.node_id
    specs = helpers.make_specs(6, tmp_path, sleep=3.0)
    results, _, sink = helpers.collecting_sink()

    def kill_when_victim_busy() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            nodes = [json.loads(p.read_text())["node"] for p in tmp_path.glob("*.json")]
            if victim_id in nodes:
                cluster.remove_node(victim, allow_graceful=False)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_when_victim_busy)
    killer.start()
    summary = execute(
        specs,
        sink,
        address=cluster.address,
        run_fn=helpers.sleeping_run,
        max_concurrent=3,
        progress=False,
    )
    killer.join()
    assert victim not in cluster.worker_nodes, "the victim node never ran a task"
    assert summary.ok == 6, [r.error for r in results]
    assert sorted(r.run_id for r in results) == sorted(s.run_id for s in specs)
    executions = helpers.calls(tmp_path)
    assert sum(executions.values()) > len(specs)  # at least one run was re-executed
    assert all(info(r, "node") != victim_id for r in results)
    cluster.initial_workers.remove(victim)


def test_fractional_logical_gpus(cluster, tmp_path):
    gpu_node = cluster.add_node(**{**cluster.extra_args, "num_cpus": 8, "num_gpus": 2})
    cluster.wait_for_nodes()
    try:
        specs = helpers.make_specs(8, tmp_path, sleep=2.0, gpus=0.5)
        results, _, sink = helpers.collecting_sink()
        summary = execute(
            specs,
            sink,
            address=cluster.address,
            run_fn=helpers.sleeping_run,
            max_concurrent=8,  # Ray, not the window, must hold it to 4 (2 GPUs / 0.5)
            progress=False,
        )
    finally:
        cluster.remove_node(gpu_node)
    assert summary.ok == 8, [r.error for r in results]
    spans = [
        (datetime.fromisoformat(r.started_at), datetime.fromisoformat(r.finished_at))
        for r in results
    ]
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running, peak = 0, 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert 2 <= peak <= 4
    for result in results:
        ids = info(result, "gpu_ids")
        assert len(ids) == 1 and ids[0] in ("0", "1")
        assert info(result, "cuda_visible_devices") == ids[0]
        assert info(result, "device_arg") == "cuda"
        assert result.device == f"cuda:{ids[0]}"


EXTERNAL_DRIVER = """
import json, os, sys
sys.path.insert(0, sys.argv[3])
import ray
import execute_helpers as helpers
from pathlib import Path
from rlsens.execute import execute

ray.cloudpickle.register_pickle_by_value(helpers)
pids = []
specs = helpers.make_specs(4, Path(sys.argv[2]), sleep=0.2)
summary = execute(specs, lambda r: pids.append(os.getpid()), address=sys.argv[1],
                  run_fn=helpers.sleeping_run, progress=False)
print(json.dumps({"ok": summary.ok, "address": summary.address, "sink_pids": sorted(set(pids)),
                  "pid": os.getpid(), "connected_after": ray.is_initialized()}))
"""


def test_external_head_started_with_ray_start(tmp_path):
    """A driver process connects to a head started by `ray start`, leaves it running."""
    with helpers.ray_head() as address:
        script = tmp_path / "driver.py"
        script.write_text(EXTERNAL_DRIVER)
        calls = tmp_path / "calls"
        calls.mkdir()
        repo = Path(__file__).resolve().parent.parent
        # `ray start` turns on token auth when ~/.ray/auth_token exists; a driver given an
        # explicit address sends the token only with RAY_AUTH_MODE=token (users set it too).
        env = {**os.environ, "RAY_AUTH_MODE": "token", "PYTHONPATH": str(repo)}
        done = subprocess.run(
            [sys.executable, str(script), address, str(calls), str(repo / "tests")],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out["ok"] == 4 and out["address"] == address
        assert out["sink_pids"] == [out["pid"]] and not out["connected_after"]
        assert sorted(helpers.calls(calls).values()) == [1, 1, 1, 1]
