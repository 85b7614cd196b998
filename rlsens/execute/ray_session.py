"""The Ray instance a sweep runs on: a private local one, or a connection to a cluster.

The local instance is started for one sweep and reachable from this machine only: every
listener on loopback (checked after the start, see ``rlsens.execute.exposure``) and a token of
its own. A cluster is reachable by design; connecting to one without token authentication is
warned about. See docs/running.md, "Network exposure and clusters".
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import ray
from ray._private import ray_constants
from ray._raylet import AuthenticationMode, AuthenticationTokenLoader, get_authentication_mode
from ray.exceptions import AuthenticationError

import rlsens
from rlsens.errors import ExposureError, UsageError
from rlsens.execute import exposure
from rlsens.execute.checks import cluster_target, host_port

OBJECT_STORE_BYTES = 150 * 2**20  # results are small dicts; Ray's default would take 30 % of RAM
PROBE_TIMEOUT_S = 5.0
TEMP_ROOT = "/tmp"
TEMP_PREFIX = "rlsens-ray-"
NETWORK_DOC = 'docs/running.md, "Network exposure and clusters"'
_QUIET: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}


@contextmanager
def ray_session(address: str | None, stream: TextIO | None = None) -> Iterator[str]:
    """Make sure this process is connected to Ray; yields a description of the cluster.

    Precedence: an existing connection of this process (used as is, left open) -> ``address``
    or ``RAY_ADDRESS`` (connect, disconnect at the end, never stop that cluster; a connection
    without token authentication is warned about on ``stream``, default stderr) -> a private
    local instance sized to this machine, reachable from this machine only (started here,
    shut down and its files removed at the end).
    """
    if ray.is_initialized():
        yield "existing connection"
        return
    target = cluster_target(address)
    if target:
        with _cluster_connection(target, stream if stream is not None else sys.stderr):
            yield target
    else:
        with _local_instance():
            yield "local"


@contextmanager
def _cluster_connection(target: str, stream: TextIO) -> Iterator[None]:
    gcs = host_port(target)  # before anything else: a malformed address is refused
    what = f"connecting to the Ray cluster at {target}"
    hint = "check the address (host:port of the head node's GCS) and that the cluster is up"
    if not token_auth_enabled():
        hint += (
            "; if the cluster uses token authentication, set RAY_AUTH_MODE=token and give "
            "its token (RAY_AUTH_TOKEN_PATH=<file> or ~/.ray/auth_token)"
        )
    if gcs:
        _probe(*gcs, what, hint)
    # Ship this rlsens to the cluster so workers run the driver's code, installed or not.
    code = {"py_modules": [os.path.dirname(os.path.abspath(rlsens.__file__))]}
    _init(lambda: ray.init(address=target, runtime_env=code, **_QUIET), what, hint)
    if not token_auth_enabled():
        print(
            f"rlsens: warning: connected to the Ray cluster at {target} without token "
            "authentication: anyone who can reach its ports can run code on it; start it "
            f"with RAY_AUTH_MODE=token and set RAY_AUTH_MODE=token here too ({NETWORK_DOC})",
            file=stream,
            flush=True,
        )
    try:
        yield
    finally:
        ray.shutdown()  # a driver's shutdown only disconnects from a cluster it did not start


@contextmanager
def _local_instance() -> Iterator[None]:
    _check_loopback()
    reap_orphaned_instances()
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(rlsens.__file__)))
    # Short (Ray puts sockets here) and named after this driver, for reap_orphaned_instances.
    temp_dir = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=TEMP_ROOT)
    before = set(exposure.listeners(exposure.process_tree(os.getpid())))
    try:
        with _private_token(temp_dir):
            with _loopback_node():
                _init(
                    lambda: ray.init(
                        address="local",
                        num_cpus=os.cpu_count(),
                        include_dashboard=False,
                        object_store_memory=OBJECT_STORE_BYTES,
                        _node_ip_address="127.0.0.1",
                        _temp_dir=temp_dir,
                        # Workers import the same rlsens as this process, even from a checkout.
                        runtime_env={"env_vars": {"PYTHONPATH": _pythonpath(package_dir)}},
                        **_QUIET,
                    ),
                    "starting a local Ray instance",
                    "use --backend serial to run without Ray",
                )
            try:
                _refuse_exposure(before)
                yield
            finally:
                ray.shutdown()
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


def token_auth_enabled() -> bool:
    """Whether this process talks to Ray with token authentication (``RAY_AUTH_MODE=token``).

    A cluster that requires a token refuses a driver without one, so a driver without token
    authentication that did connect is on a cluster that lets anyone in.
    """
    return get_authentication_mode() == AuthenticationMode.TOKEN


@contextmanager
def _private_token(temp_dir: str) -> Iterator[None]:
    """Give the local instance a token of its own, readable by this user only.

    Loopback ports are open to every user of the machine, so the instance's token is what
    keeps other users out. Ray 2.60 turns token authentication on for a local instance and
    would otherwise write a token to ``~/.ray/auth_token`` with the umask's permissions
    (often world-readable). A token the user configured (``RAY_AUTH_TOKEN`` or
    ``RAY_AUTH_TOKEN_PATH``) or ``RAY_AUTH_MODE=disabled`` is left as the user set it. The
    variable stays set while the instance runs, so every process it spawns reads the same file.
    """
    user_chose = {"RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"} & set(os.environ)
    if user_chose or os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        yield
        return
    path = os.path.join(temp_dir, "auth_token")
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(secrets.token_hex(32))
    os.environ["RAY_AUTH_TOKEN_PATH"] = path
    AuthenticationTokenLoader.instance().reset_cache()
    try:
        yield
    finally:
        os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
        AuthenticationTokenLoader.instance().reset_cache()


@contextmanager
def _loopback_node() -> Iterator[None]:
    """Start the local instance with 127.0.0.1 as its node address, which Ray binds to.

    Ray's servers listen on every interface unless the node address is loopback, and
    ``ray.init`` replaces a loopback ``_node_ip_address`` by the machine's network address so
    that other machines could join, except when cluster mode is off
    (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``). Ray reads that variable once, at import, so the
    constant it set is switched too; the variable reaches the processes the start spawns.
    Both are restored afterwards: a later ``--address`` connection needs cluster mode.
    """
    variable = ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR
    previous_env = os.environ.get(variable)
    previous = ray_constants.ENABLE_RAY_CLUSTER
    os.environ[variable] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = previous
        if previous_env is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = previous_env


def _refuse_exposure(before: set[exposure.Listener]) -> None:
    """Stop if the instance just started listens anywhere but on loopback.

    ``before`` are the sockets this process tree held before Ray started (a notebook kernel's
    own ports, say): those are not Ray's to answer for.
    """
    opened = set(exposure.listeners(exposure.process_tree(os.getpid()))) - before
    reachable = exposure.exposed(opened)
    if reachable:
        where = "; ".join(str(item) for item in reachable)
        raise ExposureError(
            f"the local Ray instance listens beyond this machine ({where}); nothing was run, "
            "since whoever reaches these ports can run code through Ray. Use --backend serial "
            f"and report this with the output of `ray --version` (see {NETWORK_DOC})"
        )


def reap_orphaned_instances(root: str = TEMP_ROOT) -> int:
    """Stop what the private Ray instance of a killed driver left running; returns how many.

    A driver killed with SIGKILL cannot shut its local instance down. Ray's core processes
    notice and exit, but some agents are orphaned and hold ~80 MB each, sweep after sweep.
    The instance's temp dir names its driver's pid; once that pid is gone, every process that
    still has a file open under the dir (or names it on its command line) belongs to the
    orphaned instance. Linux only (reads /proc); elsewhere nothing is done.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return 0
    stale = []
    for folder in Path(root).glob(f"{TEMP_PREFIX}*-*"):
        pid = folder.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not (proc / pid).exists():
            stale.append(str(folder))
    killed = 0
    if stale:
        for entry in proc.iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid() and _uses(entry, stale):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry.name), signal.SIGKILL)
                    killed += 1
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return killed


def _uses(process: Path, folders: list[str]) -> bool:
    try:
        cmdline = (process / "cmdline").read_bytes().decode(errors="replace")
        if any(folder in cmdline for folder in folders):
            return True
        for fd in (process / "fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd).startswith(tuple(folders)):
                    return True
    except OSError:
        return False
    return False


def _pythonpath(first: str) -> str:
    rest = os.environ.get("PYTHONPATH")
    return os.pathsep.join([first, rest]) if rest else first


def _init(init: Callable[[], Any], what: str, hint: str) -> None:
    try:
        init()
    except AuthenticationError as exc:
        raise UsageError(
            f"{what} failed: {exc.message}; give the cluster's token with "
            "RAY_AUTH_TOKEN_PATH=<file> (or ~/.ray/auth_token) and RAY_AUTH_MODE=token"
        ) from exc
    except ConnectionError as exc:
        raise UsageError(f"{what} failed: {exc}; {hint}") from exc
    except ValueError as exc:  # Ray's answer to an address or option it cannot use
        raise UsageError(f"{what} failed: {exc}") from exc


def _probe(host: str, port: int, what: str, hint: str) -> None:
    """Fail fast if ``host:port`` does not accept TCP connections.

    ``ray.init`` retries an unreachable GCS (or a down loopback interface) for minutes inside
    native code, where no Python timeout can interrupt it; a plain socket check catches those
    cases in seconds with a message that says what to fix.
    """
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            pass
    except OSError as exc:
        raise UsageError(f"{what}: cannot reach {host}:{port} ({exc}); {hint}") from exc


def _check_loopback() -> None:
    """Ray needs 127.0.0.1; without it ``ray.init`` hangs instead of failing."""
    hint = "bring the loopback interface up (ip link set lo up) or use --backend serial"
    try:
        with socket.create_server(("127.0.0.1", 0)) as server:
            _probe("127.0.0.1", server.getsockname()[1], "starting a local Ray instance", hint)
    except OSError as exc:
        raise UsageError(
            f"starting a local Ray instance: 127.0.0.1 is not usable ({exc}); {hint}"
        ) from exc
