"""The store never loses or double-counts a result and never crashes on a bad file."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from pathlib import Path

import pandas as pd
import pytest
from test_store import make_result

from rlsens.errors import StoreError
from rlsens.plan import build_plan
from rlsens.store import (
    MANIFESTS_DIR,
    Manifest,
    ResultStore,
    fallback_root,
    probe_writable,
    store_status,
)
from rlsens.suite import load_suite
from rlsens.suite.space import (
    Categorical,
    Derived,
    Fixed,
    Int,
    LogUniform,
    Uniform,
    distribution_from_dict,
)
from rlsens.sweep import build_manifest, claim_store
from rlsens.tables import spreadsheet_safe

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "results" / "reference" / "ddpg" / "manifest.json"
SMOKE = ROOT / "suites" / "smoke.yaml"


def _planned_store(root: Path, seeds: range) -> tuple[ResultStore, list[str]]:
    store = ResultStore(root)
    ids = [store.write(make_result(seed)).stem for seed in seeds]
    store.write_manifest(Manifest.from_dict({
        "suite": {"name": "t"},
        "plan": {"runs": len(ids), "run_ids": ids,
                 "cells": [{"algorithm": "sac", "env_id": "Pendulum-v1", "run_ids": ids}]},
    }))
    return store, ids


# -- the typed manifest -------------------------------------------------------------------
def test_reference_manifest_round_trips_unchanged() -> None:
    data = json.loads(REFERENCE.read_text())
    manifest = Manifest.from_dict(data)
    assert manifest.suite.name == "ddpg" and manifest.plan is not None
    assert manifest.plan.runs == len(manifest.plan.run_ids or []) == 136
    assert sum(len(c.run_ids) for c in manifest.plan.cells) == 136
    assert manifest.to_dict() == data
    space = manifest.suite.search_space("ddpg")
    assert space["learning_rate"].log_scaled and isinstance(space["learning_rate"], LogUniform)


@pytest.mark.parametrize("dim", [
    Fixed("a", value=[1, 2]), Uniform("b", low=0.1, high=0.5, aux=True),
    LogUniform("c", low=1e-5, high=1e-2), Int("d", low=1, high=9, log=True),
    Categorical("e", choices=([64], [256]), labels=("s", "m")),
    Categorical("f", choices=(0.0, 0.01)), Derived("g", expression="1 - b"),
])
def test_every_distribution_round_trips(dim) -> None:
    assert distribution_from_dict(dim.name, json.loads(json.dumps(dim.to_dict()))) == dim


def test_unknown_distribution_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown dist 'beta'"):
        distribution_from_dict("x", {"dist": "beta"})


@pytest.mark.parametrize("content", ["[1, 2]", "null", '"text"', '{"plan": {"run_ids": 5}}',
                                     '{"plan": [1]}', "{broken"])
def test_bad_manifest_names_the_file_and_the_way_out(tmp_path: Path, content: str) -> None:
    store, _ = _planned_store(tmp_path, range(2))
    store.manifest_path.write_text(content)
    with pytest.raises(StoreError) as error:
        store.load()
    text = str(error.value)
    assert str(store.manifest_path) in text and "mv " in text and "rlsens run" in text


# -- records ------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [
    "[1, 2]", "null", "7",
    lambda d: {**d, "steps": "many"},
    lambda d: {**d, "curve": [{**d["curve"][0], "returns": ["-1.0"]}]},
    lambda d: {**d, "curve": [{**d["curve"][0], "step": "100"}]},
])
def test_bad_record_is_refused_with_its_path(tmp_path: Path, content) -> None:
    store = ResultStore(tmp_path)
    path = store.write(make_result(0))
    if callable(content):
        content = json.dumps(content(json.loads(path.read_text())))
    path.write_text(content)
    with pytest.raises(StoreError, match=str(path)):
        store.load()


def _set(path: tuple, value):
    def mutate(data: dict) -> dict:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return data
    return mutate


@pytest.mark.parametrize(("path", "value", "named"), [
    (("spec", "hyperparameters"), [1], "spec.hyperparameters"),
    (("spec", "hyperparameters"), "x", "spec.hyperparameters"),
    (("spec", "env_kwargs"), [1], "spec.env_kwargs"),
    (("spec", "point"), [1], "spec.point"),
    (("spec", "suite"), [1], "spec.suite"),
    (("spec", "config_id"), [1], "spec.config_id"),
    (("spec", "seed"), "0", "spec.seed"),
    (("spec", "eval", "every"), None, "spec.eval.every"),
    (("spec", "resources", "cpus"), "one", "spec.resources.cpus"),
    (("diverged_step",), {}, "diverged_step"),
    (("error",), [1], "error"),
    (("versions",), "2.0", "versions"),
    (("curve", 0, "lengths"), [200.5], "curve[0].lengths"),
    (("spec", "hyperparameters", "learning_rate"), float("nan"), "cannot be hashed"),
])
def test_record_field_of_the_wrong_type_is_refused_by_name(
    tmp_path: Path, path: tuple, value, named: str
) -> None:
    """Every field of a record and its spec has its declared type: a hand-edited one is a
    StoreError naming the file and the field, never a TypeError or pyarrow error later."""
    store, ids = _planned_store(tmp_path, range(2))
    record = store.record_path(ids[0])
    record.write_text(json.dumps(_set(path, value)(json.loads(record.read_text()))))
    with pytest.raises(StoreError) as error:
        store.load()
    assert str(record) in str(error.value) and named in str(error.value)
    with pytest.raises(StoreError, match=re.escape(named)):
        store_status(store)


def test_record_found_twice_is_counted_once_and_reported(tmp_path: Path) -> None:
    store, ids = _planned_store(tmp_path, range(3))
    copy = tmp_path / "runs" / "zz" / f"{ids[0]}.json"
    copy.parent.mkdir()
    shutil.copy(store.record_path(ids[0]), copy)
    tables = store.load()
    assert len(tables.runs) == 3 and tables.runs["run_id"].is_unique
    assert len(tables.curves) == 9
    assert len(tables.warnings) == 1 and str(copy) in tables.warnings[0]
    status = store_status(store)
    assert status.totals.done == 3 and status.warnings == tables.warnings


def test_record_in_another_shard_is_still_found(tmp_path: Path) -> None:
    store, ids = _planned_store(tmp_path, range(2))
    moved = tmp_path / "runs" / "zz" / f"{ids[0]}.json"
    moved.parent.mkdir()
    store.record_path(ids[0]).rename(moved)
    assert store.read(ids[0]).run_id == ids[0]
    assert store_status(store).totals.done == 2 and len(store.load().runs) == 2


def test_status_counts_runs_left_out_of_the_plan(tmp_path: Path) -> None:
    store, _ = _planned_store(tmp_path, range(2))
    store.write(make_result(7))
    status = store_status(store)
    assert (status.totals.done, status.unused) == (2, 1)
    assert store.load().unused == 1


# -- writes -------------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o002, 0o022, 0o077])
def test_records_and_manifests_respect_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        store, ids = _planned_store(tmp_path, range(1))
    finally:
        os.umask(old)
    for path in (store.record_path(ids[0]), store.manifest_path):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_unwritable_folder_is_found_by_the_probe(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for root in (blocker, blocker / "results"):
        with pytest.raises(StoreError, match="results folder"):
            probe_writable(root)
    with pytest.raises(StoreError), ResultStore(blocker / "results").lock():
        pytest.fail("the lock must not be taken on an unwritable folder")


def test_failed_record_write_is_kept_in_the_fallback_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RLSENS_FALLBACK_DIR", str(tmp_path / "safe"))
    store = ResultStore(tmp_path / "store")
    result = make_result(0)
    shard = store.record_path(result.run_id).parent
    shard.parent.mkdir(parents=True)
    shard.write_text("a file where the shard folder belongs: every write into it fails")
    kept = store.write(result)
    assert kept == fallback_root(store.root) / "runs" / shard.name / f"{result.run_id}.json"
    assert kept.is_relative_to(tmp_path / "safe")
    assert json.loads(kept.read_text()) == json.loads(json.dumps(result.to_dict()))
    assert store.unsaved == [kept]
    assert str(kept) in capsys.readouterr().err


def test_fallback_defaults_to_the_users_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("RLSENS_FALLBACK_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert fallback_root(Path("results/ddpg")) == tmp_path / "cache/rlsens/unsaved/ddpg"


# -- one suite per folder, manifest history ------------------------------------------------
def test_another_suite_is_refused_and_an_edited_one_archived(tmp_path: Path) -> None:
    plan = build_plan(load_suite(SMOKE, scale="tiny"))
    store = ResultStore(tmp_path)
    store.write_manifest(Manifest.from_dict({"suite": {"name": "other", "hash": "h0"}}))
    with pytest.raises(StoreError, match="'other'"):
        claim_store(plan, store)
    assert not (tmp_path / MANIFESTS_DIR).exists()

    old = {"suite": {"name": "smoke", "hash": "old-hash"}, "history": [{"executed": 3}]}
    store.write_manifest(Manifest.from_dict(old))
    previous = claim_store(plan, store)
    archived = list((tmp_path / MANIFESTS_DIR).glob("*-old-hash.json"))
    assert len(archived) == 1 and json.loads(archived[0].read_text())["suite"]["hash"] == \
        "old-hash"
    assert build_manifest(plan, previous).history == [{"executed": 3}]

    store.write_manifest(build_manifest(plan, previous))
    claim_store(plan, store)  # unchanged suite: nothing more archived
    assert len(list((tmp_path / MANIFESTS_DIR).iterdir())) == 1


# -- CSV ----------------------------------------------------------------------------------
def test_spreadsheet_safe_neutralises_text_and_keeps_numbers() -> None:
    frame = pd.DataFrame({"error": ["=HYPERLINK(\"x\")", "+1", "-cmd", "@SUM(A1)", "ok", None],
                          "score": [-1.5, 2.0, -3.0, 0.0, 1.0, -7.0]})
    safe = spreadsheet_safe(frame)
    assert safe["error"].tolist()[:5] == ["'=HYPERLINK(\"x\")", "'+1", "'-cmd", "'@SUM(A1)",
                                          "ok"]
    assert pd.isna(safe["error"].iloc[5])  # missing stays missing
    assert safe["score"].tolist() == frame["score"].tolist()
    assert frame["error"].iloc[0].startswith("=")  # the input is not modified


def test_report_csv_tables_are_spreadsheet_safe(tmp_path: Path) -> None:
    from rlsens.report.tables import ReportTable

    data = pd.DataFrame({"algorithm": ["=evil", "ok"], "iqm": [-0.5, 0.25]})
    table = ReportTable("t", "T", data, ["Algorithm", "IQM"], [["=evil", "-0.5"],
                                                               ["ok", "0.25"]])
    csv = pd.read_csv(table.write(tmp_path)[0])
    assert csv["algorithm"].tolist() == ["'=evil", "ok"]
    assert csv["iqm"].tolist() == [-0.5, 0.25]


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_record_or_manifest_that_is_not_a_regular_file_is_refused_at_once(
    tmp_path: Path, kind: str
) -> None:
    """A FIFO would block the reader forever and a device such as /dev/zero fill its memory
    (/dev/null stands for it here, safely): both are refused at once, naming the file. An
    alarm turns a blocking read into a failure instead of a hung test."""
    store, ids = _planned_store(tmp_path / "a", range(2))

    def plant(path: Path) -> None:
        path.unlink()
        if kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to("/dev/null")

    def hung(signum, frame):
        raise TimeoutError("reading the store blocked")

    plant(store.record_path(ids[0]))
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(5)
    try:
        with pytest.raises(StoreError, match="not a regular file") as error:
            store.load()
        assert str(store.record_path(ids[0])) in str(error.value)
        plant(store.manifest_path)
        with pytest.raises(StoreError, match="not a regular file"):
            store.read_manifest()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
