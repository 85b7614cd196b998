"""Bad paths, options and stores end in exit 2 with a message, never a traceback or lost data."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_cli import SMOKE, _store_with

from rlsens.cli import RESULTS_DIR, main, run_folder
from rlsens.errors import UsageError
from rlsens.record import RunResult
from rlsens.store import Manifest, ResultStore

TINY = ["--scale", "tiny", "--backend", "serial", "--no-progress"]


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


# -- where `rlsens run` writes -------------------------------------------------------------
@pytest.mark.parametrize("name", ["../elsewhere", "../../x", "/tmp/abs", ".", "a/../.."])
def test_suite_name_cannot_leave_the_results_root(name: str) -> None:
    with pytest.raises(UsageError, match="--results"):
        run_folder(name, None)


def test_suite_name_inside_the_results_root_and_explicit_results() -> None:
    assert run_folder("ddpg", None) == RESULTS_DIR / "ddpg"
    assert run_folder("../anything", "/data/mine") == Path("/data/mine")


def test_run_with_an_escaping_name_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    evil = work / "evil.yaml"
    evil.write_text(SMOKE.read_text().replace("name: smoke", "name: ../../outside"))
    monkeypatch.chdir(work)
    assert main(["run", str(evil), *TINY]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["evil.yaml", "work"]


# -- options are checked before the store is touched ----------------------------------------
@pytest.mark.parametrize("option", [["--max-concurrent", "0"], ["--max-retries", "-1"]])
def test_run_options_are_checked_before_the_store(
    tmp_path: Path, option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    assert main(["run", str(SMOKE), *TINY, "--results", str(results), *option]) == 2
    assert option[0].lstrip("-").replace("-", "_") in capsys.readouterr().err
    assert not results.exists()


@pytest.mark.parametrize("how", ["option", "environment"])
def test_malformed_ray_address_is_refused_before_the_store(
    tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bad --address (or RAY_ADDRESS) used to be found only after the manifest was
    written; like every other option it is now checked before the store is touched."""
    results = tmp_path / "results"
    address = ["--address", "garbage:99999"] if how == "option" else []
    if how == "environment":
        monkeypatch.setenv("RAY_ADDRESS", "http://head:6379")
    command = ["run", str(SMOKE), "--scale", "tiny", "--no-progress", "--results", str(results)]
    assert main([*command, *address]) == 2
    err = capsys.readouterr().err
    assert "is not one rlsens can use" in err and "Traceback" not in err
    assert not results.exists()


def test_cluster_token_mode_does_not_outlive_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """`rlsens run --address` turns on Ray's token mode when ~/.ray/auth_token exists; a later
    local run in the same process (a notebook, the test suite) must not inherit it, or its own
    instance refuses it ("Authentication token is missing or incorrect")."""
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("0" * 64)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    command = ["run", str(SMOKE), "--scale", "tiny", "--no-progress", "--results",
               str(tmp_path / "results"), "--address", "garbage:99999"]
    assert main(command) == 2
    capsys.readouterr()
    assert "RAY_AUTH_MODE" not in os.environ


def test_report_reps_are_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _store_with(tmp_path / "a", "alpha", 0.0)
    assert main(["report", str(tmp_path / "a"), "--reps", "1000000000"]) == 2
    err = capsys.readouterr().err
    assert "--reps" in err and "200,000" in err
    assert not (tmp_path / "a" / "report").exists()


def test_report_seed_is_checked_before_the_report_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _store_with(tmp_path / "a", "alpha", 0.0)
    assert main(["report", str(tmp_path / "a"), "--seed", "-1", "--reps", "10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --seed:") and ">= 0" in err
    assert not (tmp_path / "a" / "report").exists()


# -- paths that are files, stores that are read-only ----------------------------------------
def test_results_and_out_naming_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _store_with(tmp_path / "a", "alpha", 0.0)
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me")
    for argv in (["run", str(SMOKE), *TINY, "--results", str(a_file)],
                 ["status", str(a_file)], ["export", str(a_file)], ["report", str(a_file)],
                 ["report", str(tmp_path / "a"), "--out", str(a_file), "--reps", "100"],
                 ["export", str(tmp_path / "a"), "--out", str(a_file)]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert str(a_file) in err and "Traceback" not in err
    assert a_file.read_text() == "keep me"


def test_read_only_store_exports_and_reports_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "a"
    _store_with(store, "alpha", 0.0)
    before = _tree(store)
    real_mkdir = pathlib.Path.mkdir

    def refuse_in_store(self: Path, *args, **kwargs) -> None:
        if Path(self).resolve().is_relative_to(store.resolve()):
            raise PermissionError(13, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", refuse_in_store)  # a read-only store, as root
    assert main(["export", str(store), "--out", str(tmp_path / "t")]) == 0
    assert main(["report", str(store), "--out", str(tmp_path / "r"), "--reps", "100"]) == 0
    assert (tmp_path / "r" / "index.html").is_file()
    assert main(["report", str(store), "--reps", "100"]) == 2  # default out is in the store
    assert main(["export", str(store)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "Traceback" not in err
    assert _tree(store) == before


# -- never double-count, never silently leave out ------------------------------------------
def test_duplicates_and_left_out_runs_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_root = tmp_path / "a"
    _store_with(store_root, "alpha", 0.0)
    store = ResultStore(store_root)
    first = sorted(store.stored_ids())[0]
    copy = store_root / "runs" / "zz" / f"{first}.json"
    copy.parent.mkdir()
    shutil.copy(store.record_path(first), copy)
    data = json.loads(copy.read_text())
    store.write(RunResult.from_dict({**data, "status": "failed",
                                     "spec": {**data["spec"], "seed": 99}}))
    planned = len(store.planned_ids() or [])

    assert main(["export", str(store_root), "--out", str(tmp_path / "t")]) == 0
    err = capsys.readouterr().err
    assert len(pd.read_csv(tmp_path / "t" / "runs.csv")) == planned
    assert "stored 2 times" in err and str(copy) in err
    assert "1 stored runs are not in the current plan" in err and "--all" in err
    assert main(["export", str(store_root), "--out", str(tmp_path / "t"), "--all"]) == 0
    assert len(pd.read_csv(tmp_path / "t" / "runs.csv")) == planned + 1

    assert main(["status", str(store_root)]) == 2  # written without plan cells
    capsys.readouterr()
    manifest = store.read_manifest()
    assert manifest is not None
    store.write_manifest(Manifest.from_dict({**manifest.to_dict(), "plan": {
        "runs": planned, "run_ids": store.planned_ids(),
        "cells": [{"algorithm": "alpha", "env_id": "all", "run_ids": store.planned_ids()}]}}))
    assert main(["status", str(store_root)]) == 0
    captured = capsys.readouterr()
    assert f"{planned:>6}" in captured.out.splitlines()[-1]
    assert "1 stored runs are not in the current plan" in captured.err
    assert "stored 2 times" in captured.err

    assert main(["report", str(store_root), "--out", str(tmp_path / "r"), "--reps", "100"]) == 0
    assert "--all" in capsys.readouterr().err
    # The page says it too: a report read later must not hide what the command printed.
    page = (tmp_path / "r" / "index.html").read_text()
    assert "1 stored runs are not in the current plan" in page and "stored 2 times" in page
    assert main(["report", str(store_root), "--out", str(tmp_path / "r2"), "--reps", "100",
                 "--all"]) == 0
    page = (tmp_path / "r2" / "index.html").read_text()
    assert "not in the current plan" not in page and "stored 2 times" in page


def test_exported_csv_cannot_run_formulas(tmp_path: Path) -> None:
    store_root = tmp_path / "a"
    _store_with(store_root, "alpha", -50.0)
    store = ResultStore(store_root)
    rid = sorted(store.stored_ids())[0]
    data = json.loads(store.record_path(rid).read_text())
    store.write(RunResult.from_dict({**data, "status": "failed",
                                     "error": "Traceback\n=HYPERLINK(\"http://x\",\"y\")"}))
    assert main(["export", str(store_root), "--out", str(tmp_path / "t")]) == 0
    runs = pd.read_csv(tmp_path / "t" / "runs.csv")
    assert runs.loc[runs["run_id"] == rid, "error"].item() == "'=HYPERLINK(\"http://x\",\"y\")"
    assert pd.api.types.is_float_dtype(runs["score_auc"]) and (runs["score_auc"] < 0).any()


def test_export_writes_a_categorical_that_mixes_text_and_numbers(tmp_path: Path) -> None:
    """A categorical such as learning_rate: [0.0007, lin_0.0007] gives a column of floats
    and strings, which pyarrow refuses; Parquet gets it as text, numbers elsewhere stay."""
    store_root = tmp_path / "a"
    _store_with(store_root, "alpha", -50.0)
    store = ResultStore(store_root)
    rid = sorted(store.stored_ids())[0]
    data = json.loads(store.record_path(rid).read_text())
    spec = data["spec"]
    name = next(iter(spec["point"]))
    mixed = {**spec, "point": {**spec["point"], name: "lin_0.0007"},
             "hyperparameters": {**spec["hyperparameters"], name: "lin_0.0007"}}
    store.write(RunResult.from_dict({**data, "spec": mixed}))
    assert main(["export", str(store_root), "--out", str(tmp_path / "t"), "--all"]) == 0
    runs = pd.read_parquet(tmp_path / "t" / "runs.parquet")
    column = runs[f"hp.{name}"]
    assert "lin_0.0007" in set(column) and all(isinstance(v, str) for v in column)
    assert pd.api.types.is_float_dtype(runs["score_auc"])
    assert len(runs) == len(pd.read_csv(tmp_path / "t" / "runs.csv"))


# -- a different suite, a corrupt manifest: refused with a way out that works ---------------
def test_another_suite_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    ResultStore(results).write_manifest(Manifest.from_dict({"suite": {"name": "ddpg"}}))
    before = (results / "manifest.json").read_text()
    assert main(["run", str(SMOKE), *TINY, "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert "'ddpg'" in err and "--results" in err
    assert (results / "manifest.json").read_text() == before
    assert not (results / "runs").exists()


def test_another_suite_is_refused_when_the_manifest_was_moved_aside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The way out of a corrupt manifest moves it aside; the folder still holds runs of one
    suite, named in every record, so another suite is refused as it would be with it."""
    results = tmp_path / "results"
    _store_with(results, "alpha", 0.0)
    (results / "manifest.json").rename(results / "manifest.json.broken")
    before = _tree(results)
    assert main(["run", str(SMOKE), *TINY, "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert "'alpha'" in err and "'smoke'" in err and "--results" in err
    after = _tree(results)
    after.pop(".lock")  # the write lock is taken before the folder's suite is read
    assert after == before


@pytest.mark.slow
def test_corrupt_manifest_way_out_works_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    args = ["run", str(SMOKE), *TINY, "--results", str(results)]
    assert main(args) == 0
    stored = ResultStore(results).stored_ids()
    (results / "manifest.json").write_text("[]")
    capsys.readouterr()
    for argv in (args, ["status", str(results)], ["report", str(results)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "manifest.json" in err and "mv " in err and "Traceback" not in err
    (results / "manifest.json").rename(results / "manifest.json.broken")
    assert main(args) == 0
    assert "0 to run" in capsys.readouterr().err
    assert ResultStore(results).stored_ids() == stored
    assert main(["status", str(results)]) == 0


@pytest.mark.slow
def test_records_the_store_refuses_at_run_time_are_kept_and_can_be_copied_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import rlsens.store.results as results_module

    results = tmp_path / "results"
    safe = tmp_path / "safe"
    monkeypatch.setenv("RLSENS_FALLBACK_DIR", str(safe))
    real_write = results_module.atomic_write_text

    def disk_full_for_records(path: Path, text: str) -> None:
        if path.is_relative_to(results / "runs"):
            raise OSError(28, "No space left on device", str(path))
        real_write(path, text)

    monkeypatch.setattr(results_module, "atomic_write_text", disk_full_for_records)
    args = ["run", str(SMOKE), *TINY, "--results", str(results)]
    assert main(args) == 1
    err = capsys.readouterr().err
    kept = sorted(safe.rglob("*.json"))
    planned = ResultStore(results).planned_ids() or []
    assert {p.stem for p in kept} == set(planned) and planned
    assert str(safe / "results") in err and "cp -r" in err
    assert not (results / "runs").exists()

    monkeypatch.setattr(results_module, "atomic_write_text", real_write)
    shutil.copytree(safe / "results" / "runs", results / "runs")  # what the message says
    capsys.readouterr()
    assert main(args) == 0
    assert "0 to run" in capsys.readouterr().err
