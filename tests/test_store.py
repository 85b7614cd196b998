"""The result store: atomic records under SIGKILL, single-writer lock, tables."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rlsens.errors import StoreError
from rlsens.record import Evaluation, RunResult
from rlsens.spec import RunSpec
from rlsens.store import Manifest, ResultStore


def make_result(seed: int, status: str = "ok", evals: int = 3) -> RunResult:
    spec = RunSpec(
        suite="t", algorithm="sac", algo_class="SAC", env_id="Pendulum-v1",
        hyperparameters={"learning_rate": 1e-3, "net_arch": [64, 64]}, seed=seed, budget=1000,
        point={"learning_rate": 1e-3}, config_id="c0",
    )
    curve = [Evaluation(step=100 * (i + 1), returns=[-100.0 * i, -50.0], lengths=[200, 200])
             for i in range(evals)]
    return RunResult(spec=spec, status=status, curve=curve, steps=1000, train_time_s=2.0)


def test_round_trip_and_tables(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s")
    results = [make_result(seed) for seed in range(3)] + [make_result(9, status="diverged")]
    for result in results:
        store.write(result)
    assert store.stored_ids() == {r.run_id for r in results}
    back = store.read(results[0].run_id)
    assert back.to_dict() == results[0].to_dict()

    tables = store.load()
    assert len(tables.runs) == 4
    assert len(tables.curves) == 12
    assert set(tables.runs["status"]) == {"ok", "diverged"}
    assert "hp.learning_rate" in tables.runs.columns
    assert tables.runs["cfg.net_arch"].iloc[0] == "[64,64]"
    assert tables.runs["score_auc"].iloc[0] == pytest.approx(-75.0)


def test_unreadable_record_is_reported_with_its_path(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    path = store.write(make_result(0))
    path.write_text("{not json")
    with pytest.raises(StoreError, match=str(path)):
        store.load()


def test_only_planned_runs_are_used(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    kept, dropped = make_result(0), make_result(1)
    store.write(kept)
    store.write(dropped)
    store.write_manifest(Manifest.from_dict({"plan": {"runs": 1, "run_ids": [kept.run_id]}}))
    tables = store.load()
    assert list(tables.runs["run_id"]) == [kept.run_id]
    assert tables.unused == 1
    assert len(store.load(planned_only=False).runs) == 2


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_store import make_result
    from rlsens.store import ResultStore
    store = ResultStore({root!r})
    for seed in range(100000):
        result = make_result(seed, evals=400)   # large records widen the write window
        store.write(result)
        print(result.run_id, flush=True)
    """
)


def test_records_survive_sigkill_mid_write(tmp_path: Path) -> None:
    """Kill a writer at arbitrary instants: records present are whole, none acknowledged is lost."""
    root = tmp_path / "store"
    for delay in (0.7, 1.1, 1.6):
        code = WRITER.format(tests=str(Path(__file__).parent), root=str(root))
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        acknowledged = set(proc.communicate()[0].split())
        store = ResultStore(root)
        stored = store.stored_ids()
        assert acknowledged <= stored
        for path in (root / "runs").glob("*/*.json"):
            json.loads(path.read_text())  # whole, parseable
        assert len(store.results()) == len(stored)
    assert stored, "the writer never got to write a record"


HOLDER = textwrap.dedent(
    """
    import time
    from rlsens.store import ResultStore
    with ResultStore({root!r}).lock():
        print("locked", flush=True)
        time.sleep(60)
    """
)


def test_second_writer_is_refused_and_lock_dies_with_holder(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(root=str(tmp_path))],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError, match=f"pid {proc.pid}"), ResultStore(tmp_path).lock():
            pass
    finally:
        proc.kill()
        proc.wait()
    with ResultStore(tmp_path).lock():  # SIGKILLed holder leaves no stale lock
        pass
