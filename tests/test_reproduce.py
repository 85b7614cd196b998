"""`rlsens reproduce`: stored runs retrained from their specs give identical curves; a changed
record is caught; bad input is a usage error; the store is never written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlsens.cli import main
from rlsens.record import Evaluation, RunResult
from rlsens.reproduce import first_difference, reproduce_run
from rlsens.spec import RunSpec
from rlsens.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "suites" / "smoke.yaml"


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("reproduce") / "results"
    assert main(["run", str(SMOKE), "--scale", "tiny", "--backend", "serial", "--no-progress",
                 "--results", str(results)]) == 0
    return results


def snapshot(results: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(results)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(results.rglob("*")) if p.is_file()}


def test_retrained_runs_are_identical_and_nothing_is_written(
    tiny_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(tiny_store)
    by_algorithm = {r.spec.algorithm: r.run_id for r in ResultStore(tiny_store).results()}
    assert set(by_algorithm) == {"ppo", "sac"}
    capsys.readouterr()
    assert main(["reproduce", str(tiny_store), by_algorithm["ppo"], by_algorithm["sac"]]) == 0
    out = capsys.readouterr().out
    assert out.count("IDENTICAL (2 evaluations, 4 episode returns)") == 2
    assert "2 of 2 runs reproduced exactly" in out
    assert main(["reproduce", str(tiny_store), "--random", "1", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "drawn with --seed 4" in out and "1 of 1 runs reproduced exactly" in out
    assert snapshot(tiny_store) == before


def test_a_changed_return_is_caught(tiny_store: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in tiny_store.rglob("*"):
        if path.is_file():
            target = copy / path.relative_to(tiny_store)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    record = sorted(copy.glob("runs/*/*.json"))[0]
    data = json.loads(record.read_text())
    data["curve"][1]["returns"][0] += 0.5
    record.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["reproduce", str(copy), record.stem]) == 1
    out = capsys.readouterr().out
    assert f"{record.stem}: DIFFERENT: evaluation 2" in out and "episode 1" in out
    assert "0 of 1 runs reproduced exactly; 1 differ" in out


def test_bad_input_is_a_usage_error(tiny_store: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["reproduce", str(tiny_store), "0123456789abcdef"]) == 2
    err = capsys.readouterr().err
    assert "no stored run 0123456789abcdef" in err and f"rlsens export {tiny_store}" in err
    assert main(["reproduce", str(tiny_store)]) == 2
    assert "--random N" in capsys.readouterr().err
    stored = len(ResultStore(tiny_store).stored_ids())
    for n in ("0", str(stored + 1)):
        assert main(["reproduce", str(tiny_store), "--random", n]) == 2
        assert f"from 1 to {stored}" in capsys.readouterr().err
    some_id = sorted(ResultStore(tiny_store).stored_ids())[0]
    assert main(["reproduce", str(tiny_store), some_id, "--random", "1"]) == 2
    assert main(["reproduce", str(tmp_path / "missing"), "--random", "1"]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["reproduce", str(empty), "--random", "1"]) == 2
    assert "holds no stored run" in capsys.readouterr().err


def _result(status: str = "ok", steps: tuple[int, ...] = (10, 20),
            returns: tuple[float, ...] = (1.0, 2.0), lengths: int = 5) -> RunResult:
    spec = RunSpec(suite="s", algorithm="ppo", algo_class="PPO", env_id="Pendulum-v1",
                   hyperparameters={}, seed=0, budget=20)
    curve = [Evaluation(step=s, returns=[r], lengths=[lengths])
             for s, r in zip(steps, returns, strict=True)]
    return RunResult(spec=spec, status=status, curve=curve,
                     error="Traceback\nValueError: boom" if status == "failed" else None)


def test_first_difference_names_what_differs() -> None:
    base = _result()
    assert first_difference(base, _result()) is None
    assert first_difference(base, _result(status="failed")) == \
        "status ok stored, failed now: ValueError: boom"
    assert first_difference(base, _result(steps=(10,), returns=(1.0,))) == \
        "2 evaluations stored, 1 now"
    assert first_difference(base, _result(steps=(10, 30))) == \
        "evaluation 2: step 20 stored, 30 now"
    assert first_difference(base, _result(returns=(1.0, 2.0000001))) == \
        "evaluation 2 (step 20), episode 1: return 2.0 stored, 2.0000001 now"
    assert first_difference(base, _result(lengths=6)) == \
        "evaluation 1 (step 10): episode lengths [5] stored, [6] now"


def test_a_verdict_names_timeouts_and_changed_versions() -> None:
    stored = _result()
    stored.versions = {"torch": "2.1.0", "numpy": "2.0.0"}

    def timed_out(spec: RunSpec, device: str | None) -> RunResult:
        assert spec is stored.spec and device == "cpu"
        new = _result(status="timeout")
        new.versions = {"torch": "2.2.0", "numpy": "2.0.0"}
        return new

    verdict = reproduce_run(stored, trainer=timed_out)
    assert not verdict.identical and verdict.detail.startswith("status ok stored, timeout now")
    assert "wall-clock limit" in verdict.detail
    assert "library versions differ: torch 2.1.0 stored, 2.2.0 now" in verdict.detail
    assert "numpy" not in verdict.detail
    same = reproduce_run(stored, trainer=lambda spec, device: _result())
    assert same.identical and same.detail == "2 evaluations, 2 episode returns"


def test_population_member_is_retrained_by_its_own_trainer() -> None:
    from rlsens.spec import EvalProtocol
    from rlsens.trainer.population.run import train_group

    def member(seed: int) -> RunSpec:
        return RunSpec(suite="t", algorithm="ddpg", algo_class="DDPG", env_id="Pendulum-v1",
                       hyperparameters={"net_arch": [8, 8], "learning_starts": 100,
                                        "batch_size": 32, "buffer_size": 1000,
                                        "noise_type": "normal", "noise_std": 0.1},
                       seed=seed, budget=300, eval=EvalProtocol(every=150, episodes=2, final=1),
                       trainer="population")

    stored = train_group([member(0), member(1)])[1]
    assert stored.status == "ok" and stored.spec.trainer == "population"
    verdict = reproduce_run(stored)
    assert verdict.identical, verdict.detail
