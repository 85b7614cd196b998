"""Network exposure of execution: the local Ray instance is reachable from this machine only,
and connecting to a cluster without token authentication is warned about.

The loopback test runs a real `rlsens run` on the Ray backend and watches the listening
sockets of its whole process tree (driver, GCS, raylet, agents, workers) while it runs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import execute_helpers as helpers
import pytest

from rlsens.errors import ExposureError
from rlsens.execute import execute, exposure

LINUX = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc (Linux)")
REPO = Path(__file__).resolve().parent.parent


def _ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@LINUX
def test_listeners_are_found_with_address_and_loopback_flag() -> None:
    with (
        socket.create_server(("0.0.0.0", 0)) as everywhere,
        socket.create_server(("127.0.0.1", 0)) as local,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
    ):
        udp.bind(("0.0.0.0", 0))
        found = {(item.protocol, item.port): item
                 for item in exposure.listeners(exposure.process_tree(os.getpid()))}
        wide = found[("tcp", everywhere.getsockname()[1])]
        near = found[("tcp", local.getsockname()[1])]
        datagram = found[("udp", udp.getsockname()[1])]
        assert (wide.address, wide.loopback, wide.pid) == ("0.0.0.0", False, os.getpid())
        assert (near.address, near.loopback) == ("127.0.0.1", True)
        assert not datagram.loopback
        assert set(exposure.exposed(found.values())) >= {wide, datagram}
        assert near not in exposure.exposed(found.values())
        assert f"0.0.0.0:{wide.port}" in str(wide)


@LINUX
@pytest.mark.skipif(not _ipv6_loopback_available(), reason="no IPv6 loopback")
def test_ipv6_and_ipv4_mapped_loopback_count_as_loopback() -> None:
    with (
        socket.create_server(("::1", 0), family=socket.AF_INET6) as v6,
        socket.create_server(("::", 0), family=socket.AF_INET6, dualstack_ipv6=True) as any6,
    ):
        found = {item.port: item
                 for item in exposure.listeners(exposure.process_tree(os.getpid()))}
        assert found[v6.getsockname()[1]].address == "::1"
        assert found[v6.getsockname()[1]].loopback
        assert found[any6.getsockname()[1]].address == "::"
        assert not found[any6.getsockname()[1]].loopback
    mapped = exposure.Listener("tcp", "::ffff:127.0.0.1", 1, 1, "x", 1)
    assert mapped.loopback
    assert not exposure.Listener("tcp", "::ffff:192.0.2.2", 1, 1, "x", 1).loopback


@LINUX
def test_process_tree_includes_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in exposure.process_tree(os.getpid())
        assert exposure.process_tree(child.pid) == [child.pid]
    finally:
        child.kill()
        child.wait()


@LINUX
def test_new_listener_beyond_loopback_is_refused_old_ones_are_not_ours() -> None:
    from rlsens.execute.ray_session import _refuse_exposure

    with socket.create_server(("0.0.0.0", 0)) as earlier:
        before = set(exposure.listeners(exposure.process_tree(os.getpid())))
        # Reachable, but opened before the instance started: not the instance's.
        assert earlier.getsockname()[1] in {item.port for item in exposure.exposed(before)}
        _refuse_exposure(before)
        with (
            socket.create_server(("0.0.0.0", 0)) as opened,
            pytest.raises(ExposureError, match=f"0.0.0.0:{opened.getsockname()[1]}"),
        ):
            _refuse_exposure(before)


SMALL_SUITE = """
name: exposure
seed: 0
environments:
  CartPole-v1: {budget: 256}
algorithms:
  ppo:
    class: PPO
    hyperparameters: {n_steps: 64, batch_size: 32, n_epochs: 1, net_arch: [16]}
    search_space:
      learning_rate: {dist: log_uniform, low: 1.0e-4, high: 1.0e-3}
design: {type: random, n: 1, include_default: true}
seeds: 2
evaluation: {every: 128, episodes: 2, final: 1}
resources: {cpus: 1, gpus: 0}
"""


@LINUX
@pytest.mark.slow
def test_local_ray_sweep_listens_on_loopback_only(tmp_path: Path) -> None:
    suite = tmp_path / "exposure.yaml"
    suite.write_text(SMALL_SUITE)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    run = subprocess.Popen(
        [sys.executable, "-m", "rlsens", "run", str(suite), "--results", str(tmp_path / "out"),
         "--backend", "ray", "--no-progress"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen: set[exposure.Listener] = set()
    deadline = time.monotonic() + 300
    while run.poll() is None:
        assert time.monotonic() < deadline, "the sweep did not finish"
        seen.update(exposure.listeners(exposure.process_tree(run.pid)))
        time.sleep(0.2)
    _, stderr = run.communicate()
    assert run.returncode == 0, stderr
    assert "Traceback" not in stderr
    names = {item.process for item in seen}
    # Not vacuous: the core servers and a worker were seen listening.
    assert {"gcs_server", "raylet"} <= names, sorted(map(str, seen))
    assert any(item.pid == run.pid for item in seen), "the driver's own server was not seen"
    assert any(name.startswith("ray::") for name in names), sorted(map(str, seen))
    assert exposure.exposed(seen) == [], "reachable from other machines: " + "; ".join(
        str(item) for item in exposure.exposed(seen))
    assert len(list((tmp_path / "out").rglob("*.json"))) >= 4  # the runs were stored


DRIVER = """
import sys
sys.path.insert(0, sys.argv[3])
import execute_helpers as helpers
import ray
from pathlib import Path
from rlsens.errors import RlsensError
from rlsens.execute import execute

ray.cloudpickle.register_pickle_by_value(helpers)
try:
    summary = execute(helpers.make_specs(2, Path(sys.argv[2])), lambda r: None,
                      address=sys.argv[1], run_fn=helpers.sleeping_run, progress=False)
except RlsensError as exc:
    print("error:", exc)
    sys.exit(2)
print("ok", summary.ok)
"""


def _drive(tmp_path: Path, address: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    calls = tmp_path / "calls"
    calls.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, str(script), address, str(calls), str(REPO / "tests")],
        env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=240,
        check=False,
    )


def _auth_env(mode: str, token_file: Path) -> dict[str, str]:
    # A token file of the test's own: nothing is read from or written to ~/.ray.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    return {**env, "RAY_AUTH_MODE": mode, "RAY_AUTH_TOKEN_PATH": str(token_file)}


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("rlsens: warning:")]


@pytest.mark.slow
def test_cluster_without_token_authentication_is_warned_about(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("a" * 32)
    env = _auth_env("disabled", token)
    with helpers.ray_head(env) as address:
        done = _drive(tmp_path, address, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["ok", "2"]
    warnings = _warnings(done.stderr)
    assert len(warnings) == 1, done.stderr
    assert address in warnings[0] and "without token authentication" in warnings[0]
    assert "RAY_AUTH_MODE=token" in warnings[0]


@pytest.mark.slow
def test_token_cluster_no_warning_and_clear_error_without_the_token(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("b" * 32)
    token.chmod(0o600)
    with helpers.ray_head(_auth_env("token", token)) as address:
        authed = _drive(tmp_path, address, _auth_env("token", token))
        anonymous = _drive(tmp_path, address, _auth_env("disabled", token))
    assert authed.returncode == 0, authed.stderr
    assert authed.stdout.split()[-2:] == ["ok", "2"]
    assert _warnings(authed.stderr) == []
    assert anonymous.returncode == 2, anonymous.stdout + anonymous.stderr
    assert "RAY_AUTH_MODE=token" in anonymous.stdout
    assert "Traceback" not in anonymous.stderr


LOCAL_DRIVER = """
import json, os, stat, subprocess, sys
import ray
from rlsens.execute.ray_session import ray_session, token_auth_enabled

INTRUDER = '''
import sys, ray
try:
    ray.init(address=sys.argv[1], logging_level=40, log_to_driver=False)
    print(ray.get(ray.remote(lambda: "ran").remote()))
except Exception as exc:
    print("refused", type(exc).__name__)
'''

def attempt(address, env):
    done = subprocess.run([sys.executable, "-c", INTRUDER, address], env=env,
                          capture_output=True, text=True, timeout=120)
    return done.stdout.strip().splitlines()[-1]

with ray_session(None):
    token_path = os.environ["RAY_AUTH_TOKEN_PATH"]
    address = ray._private.worker._global_node.gcs_address
    # Cluster mode off: a second driver on this machine then finds the loopback node.
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    base["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    out = {
        "auth": token_auth_enabled(),
        "mode": oct(stat.S_IMODE(os.stat(token_path).st_mode)),
        "private": token_path.startswith("/tmp/rlsens-ray-"),
        "intruder": attempt(address, {**base, "RAY_AUTH_MODE": "token",
                                      "RAY_AUTH_TOKEN": "0" * 64}),
        "owner": attempt(address, {**base, "RAY_AUTH_MODE": "token",
                                   "RAY_AUTH_TOKEN_PATH": token_path}),
    }
out["after"] = [os.environ.get("RAY_AUTH_TOKEN_PATH"), os.path.exists(token_path)]
print(json.dumps(out))
"""


@LINUX
@pytest.mark.slow
def test_local_instance_has_a_private_token_other_users_lack(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    done = subprocess.run(
        [sys.executable, "-c", LOCAL_DRIVER], env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=400, check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["auth"] and out["private"] and out["mode"] == "0o600"
    assert out["intruder"].startswith("refused"), out
    assert out["owner"] == "ran", out
    assert out["after"] == [None, False]  # variable restored, token gone with the instance


def token_path_run(spec):
    """Reports which token file the worker's Ray processes were given."""
    from rlsens.record import RunResult

    return RunResult(spec=spec, status="ok",
                     versions={"token_path": os.environ.get("RAY_AUTH_TOKEN_PATH", "")})


@pytest.mark.slow
def test_address_local_gets_the_protected_local_instance(tmp_path: Path, monkeypatch) -> None:
    """`RAY_ADDRESS=local` is Ray's word for a new local instance: rlsens starts its own."""
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setenv("RAY_ADDRESS", "local")
    for key in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        monkeypatch.delenv(key, raising=False)
    results, _, sink = helpers.collecting_sink()
    summary = execute(helpers.make_specs(1, tmp_path), sink, run_fn=token_path_run,
                      progress=False)
    assert summary.address == "local" and summary.ok == 1
    assert results[0].versions["token_path"].startswith("/tmp/rlsens-ray-")
