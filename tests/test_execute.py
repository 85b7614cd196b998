"""Executor: serial backend, progress, a private local Ray instance, Ctrl-C/SIGTERM handling.

Ray starts take ~5 s on the 2-core box, so this module starts exactly two local instances (one
in-process, one in the Ctrl-C driver subprocess); cluster topologies are in
test_execute_cluster.py.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import execute_helpers as helpers
import pytest
import ray
import torch

from rlsens.errors import UsageError
from rlsens.execute import execute
from rlsens.execute.progress import ProgressState, failure_reason
from rlsens.record import RunResult
from rlsens.spec import EvalProtocol, RunSpec

ray.cloudpickle.register_pickle_by_value(helpers)
TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def trainer_specs(n: int) -> list[RunSpec]:
    return [
        RunSpec(
            suite="test",
            algorithm="ppo",
            algo_class="PPO",
            env_id="CartPole-v1",
            hyperparameters={"n_steps": 64, "batch_size": 32, "n_epochs": 1},
            seed=seed,
            budget=128,
            eval=EvalProtocol(every=64, episodes=2, final=1),
        )
        for seed in range(n)
    ]


# --- serial backend ----------------------------------------------------------------------


def test_serial_runs_each_spec_once_and_pins_threads(tmp_path):
    specs = helpers.make_specs(3, tmp_path)
    results, pids, sink = helpers.collecting_sink()
    before = torch.get_num_threads()
    summary = execute(
        [*specs, specs[0]], sink, backend="serial", run_fn=helpers.sleeping_run, progress=False
    )
    assert [r.run_id for r in results] == [s.run_id for s in specs]
    assert set(pids) == {os.getpid()}
    assert helpers.calls(tmp_path) == {s.run_id: 1 for s in specs}
    assert (summary.total, summary.ok, summary.failed, summary.interrupted) == (3, 3, 0, False)
    assert summary.counts == {"ok": 3, "diverged": 0, "failed": 0, "timeout": 0}
    assert all(json.loads(r.versions["torch_threads"]) == 1 for r in results)
    assert all(json.loads(r.versions["device_arg"]) == "cpu" for r in results)
    assert torch.get_num_threads() == before


def test_serial_raising_run_fn_is_recorded_as_failed_once(tmp_path):
    specs = helpers.make_specs(4, tmp_path)
    results, _, sink = helpers.collecting_sink()
    stream = io.StringIO()
    summary = execute(specs, sink, backend="serial", run_fn=helpers.raising_run, stream=stream)
    assert (summary.ok, summary.failed) == (2, 2)
    failed = [r for r in results if r.status == "failed"]
    assert all("ValueError: boom for seed" in r.error and "Traceback" in r.error for r in failed)
    assert helpers.calls(tmp_path) == {s.run_id: 1 for s in specs}
    log = stream.getvalue()
    assert "failed: ValueError: boom for seed 1" in log
    assert "4/4 done (ok 2, diverged 0, failed 2, timeout 0)" in log


def test_sink_error_stops_and_propagates(tmp_path):
    specs = helpers.make_specs(3, tmp_path)

    def sink(result: RunResult) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        execute(specs, sink, backend="serial", run_fn=helpers.sleeping_run, progress=False)
    assert sum(helpers.calls(tmp_path).values()) == 1


def test_bad_arguments_are_usage_errors(tmp_path):
    specs = helpers.make_specs(1, tmp_path)
    with pytest.raises(UsageError, match="unknown backend"):
        execute(specs, print, backend="dask")
    with pytest.raises(UsageError, match="max_concurrent"):
        execute(specs, print, max_concurrent=0)


def test_unreachable_cluster_fails_fast_with_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    start = time.monotonic()
    with pytest.raises(UsageError, match=f"cannot reach 127.0.0.1:{port}"):
        execute(helpers.make_specs(1, tmp_path), print, address=f"127.0.0.1:{port}")
    assert time.monotonic() - start < 10
    assert not ray.is_initialized()


def test_empty_plan_does_not_start_ray():
    summary = execute([], print, backend="ray", progress=False)
    assert summary.total == 0 and not summary.interrupted
    assert not ray.is_initialized()


@pytest.mark.slow
def test_serial_with_real_trainer():
    results, _, sink = helpers.collecting_sink()
    summary = execute(trainer_specs(1), sink, backend="serial", progress=False)
    assert summary.ok == 1, results[0].error
    assert results[0].device == "cpu" and results[0].curve


# --- progress ----------------------------------------------------------------------------


def test_eta_uses_finished_durations_budgets_and_concurrency(tmp_path):
    now = [0.0]
    specs = helpers.make_specs(5, tmp_path)  # budget 100 each
    state = ProgressState(specs, concurrency=2, clock=lambda: now[0])
    assert state.eta() is None
    state.started(specs[0])
    now[0] = 10.0
    state.finished(RunResult(spec=specs[0], status="ok", wall_time_s=10.0))
    # 0.1 s/step, 400 steps left, 2 at a time -> 20 s.
    assert state.eta() == pytest.approx(20.0)
    state.started(specs[1])
    now[0] = 14.0  # the running one already spent 4 s of its 10
    assert state.eta() == pytest.approx(18.0)
    state.finished(RunResult(spec=specs[1], status="failed", error="Traceback\nKeyError: 'x'"))
    assert state.failures[-1].endswith("failed: KeyError: 'x'")
    assert state.counts["failed"] == 1 and state.remaining == 3


def test_failure_reason_without_error():
    spec = RunSpec("s", "a", "PPO", "CartPole-v1", {}, 0, 10)
    assert failure_reason(RunResult(spec=spec, status="timeout")) == "timeout"


def test_rich_display_on_a_terminal(tmp_path):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    specs = helpers.make_specs(2, tmp_path)
    execute(specs, lambda r: None, backend="serial", run_fn=helpers.raising_run, stream=stream)
    text = stream.getvalue()
    assert "2/2 done" in text and "last failures" in text and "boom for seed 1" in text


# --- local Ray instance --------------------------------------------------------------------


@pytest.mark.slow
def test_ray_local_instance_with_real_trainer():
    assert not ray.is_initialized()
    specs = trainer_specs(2)
    results, pids, sink = helpers.collecting_sink()
    summary = execute(specs, sink, backend="ray", progress=False)
    assert sorted(r.run_id for r in results) == sorted(s.run_id for s in specs)
    assert set(pids) == {os.getpid()}  # the sink ran in the driver only
    assert summary.ok == 2, [r.error for r in results]
    assert summary.address == "local"
    assert all(r.device == "cpu" and r.curve for r in results)
    assert not ray.is_initialized()  # the instance it started is gone


DRIVER = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    # A test run started as a background job (`make test &`, nohup) passes SIGINT down ignored,
    # and Python then installs no KeyboardInterrupt handler; a terminal's Ctrl-C reaches a
    # foreground driver with it installed, which is what this driver stands for.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import ray
    import execute_helpers as helpers
    from rlsens.execute import execute

    ray.cloudpickle.register_pickle_by_value(helpers)
    out = Path(sys.argv[2])

    def sink(result):
        tmp = out / (result.run_id + ".tmp")
        tmp.write_text(json.dumps(result.to_dict()))
        os.replace(tmp, out / (result.run_id + ".json"))

    specs = helpers.make_specs(12, Path(sys.argv[3]), sleep=1.5)
    summary = execute(specs, sink, backend=sys.argv[1], run_fn=helpers.sleeping_run,
                      max_concurrent=2, stream=sys.stderr)
    print(json.dumps({{"interrupted": summary.interrupted, "finished": summary.finished,
                      "not_run": summary.not_run, "total": summary.total}}))
    """
)


def interrupt_driver(tmp_path: Path, backend: str, sig: int) -> tuple[dict, str, Path]:
    """Start a driver, signal it once two results are stored, return its summary and stderr."""
    out, calls = tmp_path / "out", tmp_path / "calls"
    out.mkdir()
    calls.mkdir()
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(tests=str(TESTS)))
    proc = subprocess.Popen(
        [sys.executable, str(script), backend, str(out), str(calls)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        },
    )
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("*.json"))) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "driver made no progress"
            time.sleep(0.1)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    return json.loads(stdout.strip().splitlines()[-1]), stderr, out


def check_interrupted(summary: dict, stderr: str, out: Path) -> None:
    stored = sorted(out.glob("*.json"))
    assert summary["interrupted"] is True
    assert 2 <= summary["finished"] < summary["total"] == 12
    assert len(stored) == summary["finished"]
    assert not list(out.glob("*.tmp"))
    for path in stored:
        assert RunResult.from_dict(json.loads(path.read_text())).status == "ok"
    assert {p.stem for p in stored}.isdisjoint(summary["not_run"])
    assert len(summary["not_run"]) == 12 - len(stored)
    assert "Run the same command again to resume" in stderr


@pytest.mark.slow
def test_ctrl_c_stops_a_ray_sweep_cleanly(tmp_path):
    summary, stderr, out = interrupt_driver(tmp_path, "ray", signal.SIGINT)
    check_interrupted(summary, stderr, out)


@pytest.mark.slow
def test_sigterm_stops_a_serial_sweep_cleanly(tmp_path):
    summary, stderr, out = interrupt_driver(tmp_path, "serial", signal.SIGTERM)
    check_interrupted(summary, stderr, out)


def test_orphans_of_a_killed_driver_are_reaped(tmp_path) -> None:
    """Processes holding files in a dead driver's Ray temp dir are stopped, the dir removed."""
    import subprocess
    import sys

    from rlsens.execute.ray_session import TEMP_PREFIX, reap_orphaned_instances

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{TEMP_PREFIX}{dead.pid}-abc"
    stale.mkdir()
    live = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-def"  # this process: a running driver
    live.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import time; f = open({str(stale / 'log')!r}, 'w'); print('open', flush=True); "
         "time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
    try:
        assert reap_orphaned_instances(str(tmp_path)) == 1
        assert holder.wait(timeout=10) == -9
        assert not stale.exists() and live.exists()
    finally:
        holder.kill()
