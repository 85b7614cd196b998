"""Execution requests that cannot run are refused before anything starts, with a message."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import execute_helpers as helpers
import pytest

from rlsens.cli import main
from rlsens.errors import UsageError
from rlsens.execute import check_request, execute
from rlsens.execute.checks import check_fits
from rlsens.spec import Resources

REPO = Path(__file__).resolve().parent.parent


def with_resources(tmp_path: Path, **changes) -> list:
    specs = helpers.make_specs(2, tmp_path)
    bad = dataclasses.replace(specs[1], resources=dataclasses.replace(Resources(), **changes))
    return [specs[0], bad]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("cpus", None), ("cpus", "2"), ("cpus", math.nan), ("cpus", math.inf), ("cpus", -1),
        ("cpus", True), ("gpus", -0.5), ("gpus", None), ("memory_mb", 0), ("memory_mb", -5),
        ("memory_mb", "big"), ("timeout_s", 0), ("timeout_s", math.nan),
    ],
)
@pytest.mark.parametrize("backend", ["serial", "ray"])
def test_bad_resources_stop_before_any_run(tmp_path: Path, key: str, value, backend: str):
    specs = with_resources(tmp_path, **{key: value})
    sunk = []
    with pytest.raises(UsageError) as caught:
        execute(specs, sunk.append, backend=backend, run_fn=helpers.sleeping_run,
                progress=False)
    message = str(caught.value)
    assert specs[1].run_id in message and f"resources.{key}={value!r}" in message
    assert f"resources: {{{key}: ...}}" in message  # says how to fix it
    assert sunk == [] and helpers.calls(tmp_path) == {}  # the good run did not start either


def test_good_resources_pass() -> None:
    specs = helpers.make_specs(1, Path("."))
    specs.append(dataclasses.replace(
        specs[0], seed=9, resources=Resources(cpus=0.5, gpus=0.25, memory_mb=512, timeout_s=1)))
    check_request(specs, backend="serial", max_concurrent=None, max_retries=0)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"backend": "dask"}, "unknown backend"),
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"max_concurrent": "2"}, "max_concurrent"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
    ],
)
def test_bad_options(options: dict, match: str) -> None:
    request = {"backend": "serial", "max_concurrent": None, "max_retries": 3, **options}
    with pytest.raises(UsageError, match=match):
        check_request(helpers.make_specs(1, Path(".")), **request)


def test_runs_larger_than_the_machine_are_refused() -> None:
    specs = helpers.make_specs(1, Path("."))
    big = dataclasses.replace(specs[0], resources=Resources(cpus=64))
    gpu = dataclasses.replace(specs[0], resources=Resources(cpus=1, gpus=0.5))
    check_fits(specs, {"CPU": 2.0})
    check_fits([gpu], {"CPU": 2.0, "GPU": 1.0})
    with pytest.raises(UsageError, match=r"resources.cpus=64 but this machine offers 2 CPU"):
        check_fits([big], {"CPU": 2.0})
    with pytest.raises(UsageError, match=r"resources.gpus=0.5 but this machine offers 0 GPU"):
        check_fits([gpu], {"CPU": 2.0})
    hungry = dataclasses.replace(specs[0], resources=Resources(cpus=1, memory_mb=4096))
    check_fits([hungry], {"CPU": 2.0, "memory": 8 * 2.0**30})
    with pytest.raises(UsageError, match=r"memory_mb=4096 but this machine offers 1024 MB"):
        check_fits([hungry], {"CPU": 2.0, "memory": 2.0**30})


@pytest.mark.slow
def test_local_ray_refuses_a_run_it_could_never_schedule(tmp_path: Path) -> None:
    """Ray would keep such a task pending forever; the sweep fails in seconds instead."""
    specs = with_resources(tmp_path, cpus=10_000)
    began = time.monotonic()
    with pytest.raises(UsageError, match=r"resources\.cpus=10000 but this machine offers"):
        execute(specs, print, backend="ray", run_fn=helpers.sleeping_run, progress=False)
    assert time.monotonic() - began < 120
    assert helpers.calls(tmp_path) == {}


def test_bad_option_leaves_the_results_folder_untouched(tmp_path: Path, capsys) -> None:
    results = tmp_path / "results"
    code = main(["run", str(REPO / "suites" / "smoke.yaml"), "--scale", "tiny",
                 "--results", str(results), "--backend", "serial", "--max-retries", "-1"])
    assert code == 2
    assert "max_retries" in capsys.readouterr().err
    assert not results.exists() or not any(results.iterdir())


@pytest.mark.parametrize(
    "address", ["foo", "http://h:1", "127.0.0.1:abc", "127.0.0.1:99999", ":6379", "h:0"]
)
def test_malformed_cluster_addresses_are_refused_before_ray(tmp_path: Path, address: str):
    with pytest.raises(UsageError, match="is not one rlsens can use; give host:port"):
        execute(helpers.make_specs(1, tmp_path), print, address=address, progress=False)
    assert helpers.calls(tmp_path) == {}


def test_ray_client_address_without_its_package_is_a_usage_error(tmp_path: Path):
    from ray._private.utils import get_ray_client_dependency_error

    if get_ray_client_dependency_error() is None:
        pytest.skip("ray[client] is installed: a ray:// address would try to connect")
    with pytest.raises(UsageError, match=r"ray\[client\]"):
        execute(helpers.make_specs(1, tmp_path), print, address="ray://127.0.0.1:1",
                progress=False)
