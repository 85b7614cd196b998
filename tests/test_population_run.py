"""train_group: members are runs (records, statuses, evaluations), deterministic, isolated."""

from __future__ import annotations

import dataclasses
import json

import pytest

from rlsens.record import STATUSES, RunResult
from rlsens.reproduce import reproduce_run
from rlsens.spec import EvalProtocol, Resources, RunSpec, eval_episode_seeds
from rlsens.store import ResultStore
from rlsens.trainer.evaluation import Evaluator
from rlsens.trainer.population.group import group_key, replay_bytes, replay_slots, supports
from rlsens.trainer.population.members import build_member
from rlsens.trainer.population.offpolicy import OffPolicyLoop
from rlsens.trainer.population.progress import GroupProgress
from rlsens.trainer.population.run import train_group

EVAL = EvalProtocol(every=300, episodes=2, final=1)


def run_spec(algo_class: str, seed: int, budget: int = 600, **hps: object) -> RunSpec:
    return RunSpec(
        suite="t",
        algorithm=algo_class.lower(),
        algo_class=algo_class,
        env_id="Pendulum-v1",
        hyperparameters={"net_arch": [8, 8], **hps},
        seed=seed,
        budget=budget,
        eval=EVAL,
        trainer="population",
    )


DDPG = dict(
    learning_starts=100, batch_size=32, buffer_size=1000, noise_type="normal", noise_std=0.1
)


def curves(results: list[RunResult]) -> list[list[tuple[int, list[float], list[int]]]]:
    return [[(e.step, e.returns, e.lengths) for e in r.curve] for r in results]


def test_ddpg_group_is_deterministic_and_records_validate(tmp_path) -> None:
    specs = [
        run_spec("DDPG", 0, learning_rate=1e-3, tau=0.005, **DDPG),
        run_spec(
            "DDPG", 1, learning_rate=3e-3, tau=0.02, **dict(DDPG, noise_type="ornstein-uhlenbeck")
        ),
    ]
    first = train_group(specs)
    second = train_group(specs)
    assert [r.status for r in first] == ["ok", "ok"], [r.error for r in first]
    assert curves(first) == curves(second)
    assert curves(first)[0] != curves(first)[1]
    store = ResultStore(tmp_path)
    for spec, result in zip(specs, first, strict=True):
        assert result.spec is spec and result.trainer == "population"
        assert [e.step for e in result.curve] == [300, 600]
        assert result.steps == 600 and result.status in STATUSES
        assert all(len(e.returns) == EVAL.episodes for e in result.curve)
        store.write(result)
        back = store.read(spec.run_id)
        assert json.dumps(back.to_dict(), sort_keys=True) == json.dumps(
            result.to_dict(), sort_keys=True
        )


INDEPENDENCE = {
    "TD3": DDPG,
    "SAC": dict(learning_starts=100, batch_size=32, buffer_size=1000),
    "PPO": dict(n_steps=128, batch_size=32, n_epochs=2),
    "A2C": dict(n_steps=8),
    "DQN": dict(learning_starts=100, batch_size=32, buffer_size=1000),
}


@pytest.mark.parametrize("algo_class", sorted(INDEPENDENCE))
def test_member_is_independent_of_its_group(algo_class: str) -> None:
    """A member's curve is a function of its spec: the same alone and among others."""
    hps = INDEPENDENCE[algo_class]
    env = "CartPole-v1" if algo_class == "DQN" else "Pendulum-v1"
    spec = dataclasses.replace(run_spec(algo_class, 5, learning_rate=1e-3, **hps), env_id=env)
    others = [
        dataclasses.replace(run_spec(algo_class, s, learning_rate=2e-3, **hps), env_id=env)
        for s in (6, 7)
    ]
    alone = train_group([spec])
    among = train_group([others[0], spec, others[1]])
    assert [r.status for r in among] == ["ok"] * 3
    assert curves(alone)[0] == curves(among)[1]


# 64x64 networks and batches of 64 (A2C: rollouts of 8) put every output layer of width one
# (critics, values, Pendulum's one action) above torch's 400-multiply threshold, on MKL's
# matmul kernels: there a lone member once rounded differently from the same member in a group.
WIDE = {
    "DDPG": dict(DDPG, batch_size=64),
    "TD3": dict(DDPG, batch_size=64),
    "SAC": dict(learning_starts=100, batch_size=64, buffer_size=1000),
    "PPO": dict(n_steps=128, batch_size=64, n_epochs=2),
    "A2C": dict(n_steps=8),
    "DQN": dict(learning_starts=100, batch_size=64, buffer_size=1000),
}


def wide_spec(algo_class: str, seed: int, learning_rate: float) -> RunSpec:
    env = "CartPole-v1" if algo_class == "DQN" else "Pendulum-v1"
    spec = run_spec(algo_class, seed, learning_rate=learning_rate, **WIDE[algo_class])
    hps = dict(spec.hyperparameters, net_arch=[64, 64])
    return dataclasses.replace(spec, env_id=env, hyperparameters=hps)


@pytest.mark.parametrize("algo_class", sorted(WIDE))
def test_member_at_64x64_is_independent_of_group_size_and_position(algo_class: str) -> None:
    """Alone, second of two, first and last of five: the same curve, bit for bit."""
    spec = wide_spec(algo_class, 5, 1e-3)
    others = [wide_spec(algo_class, s, 2e-3) for s in (6, 7, 8, 9)]
    alone = curves(train_group([spec]))[0]
    pair = train_group([others[0], spec])
    first_of_five = train_group([spec, *others])
    last_of_five = train_group([*others, spec])
    assert all(r.status == "ok" for r in (*pair, *first_of_five, *last_of_five))
    assert curves(pair)[1] == alone
    assert curves(first_of_five)[0] == alone
    assert curves(last_of_five)[4] == alone
    assert curves(pair)[0] == curves(first_of_five)[1] == curves(last_of_five)[0]
    assert curves(pair)[0] != alone  # the neighbours are different runs


def test_member_of_a_64x64_group_reproduces_alone() -> None:
    """``rlsens reproduce`` retrains a member alone; trained among four it must be identical."""
    specs = [wide_spec("TD3", s, lr) for s, lr in ((1, 1e-3), (2, 3e-3), (3, 1e-3), (4, 2e-3))]
    results = train_group(specs)
    assert [r.status for r in results] == ["ok"] * 4
    for stored in (results[0], results[2]):
        verdict = reproduce_run(stored)
        assert verdict.identical, verdict.detail


def test_diverging_member_is_masked_without_touching_the_others() -> None:
    healthy = [run_spec("DDPG", s, learning_rate=1e-3, **DDPG) for s in (2, 3)]
    bad = run_spec("DDPG", 4, learning_rate=1e30, **DDPG)
    results = train_group([healthy[0], bad, healthy[1]])
    assert [r.status for r in results] == ["ok", "diverged", "ok"]
    diverged = results[1]
    assert diverged.diverged_step is not None and 100 < diverged.diverged_step <= 600
    assert f"at step {diverged.diverged_step}" in (diverged.error or "")
    assert diverged.steps == diverged.diverged_step
    assert len(diverged.curve) < 2
    reference = train_group(healthy)
    assert curves([results[0], results[2]]) == curves(reference)


@pytest.mark.parametrize("algo_class", ["SAC", "PPO", "A2C", "DQN"])
def test_sac_ppo_a2c_and_dqn_groups_train(algo_class: str) -> None:
    if algo_class == "SAC":
        hps = [
            dict(learning_starts=100, batch_size=32, buffer_size=1000, learning_rate=lr)
            for lr in (1e-3, 3e-3)
        ]
    elif algo_class == "PPO":
        hps = [
            dict(n_steps=128, batch_size=32, n_epochs=2, learning_rate=lr, clip_range="lin_0.2")
            for lr in (3e-4, 1e-3)
        ]
    elif algo_class == "A2C":
        hps = [dict(n_steps=8, learning_rate=lr, ent_coef=0.01) for lr in (7e-4, 1e-3)]
    else:
        hps = [
            dict(learning_starts=100, batch_size=32, buffer_size=1000, exploration_fraction=f)
            for f in (0.1, 0.5)
        ]
    specs = [run_spec(algo_class, j, **h) for j, h in enumerate(hps)]
    if algo_class == "DQN":
        specs = [dataclasses.replace(s, env_id="CartPole-v1") for s in specs]
    results = train_group(specs)
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    assert curves(results) == curves(train_group(specs))
    steps = 640 if algo_class == "PPO" else 600  # PPO finishes its last rollout, as SB3 does
    assert [r.steps for r in results] == [steps, steps]


def test_supports_names_what_falls_back_to_sb3() -> None:
    assert supports(run_spec("DDPG", 0, **DDPG)) is None
    assert supports(run_spec("PPO", 0, n_steps=64)) is None
    assert supports(run_spec("A2C", 0, n_steps=8, use_rms_prop=False)) is None
    assert "Discrete" in (supports(run_spec("DQN", 0)) or "")  # Pendulum's actions are a Box
    assert supports(dataclasses.replace(run_spec("DQN", 0), env_id="CartPole-v1")) is None
    assert "QRDQN" in (supports(run_spec("QRDQN", 0)) or "")
    assert "n_envs" in (supports(run_spec("PPO", 0, n_envs=4)) or "")
    assert "normalize" in (supports(run_spec("PPO", 0, normalize=True)) or "")
    assert "use_sde" in (supports(run_spec("SAC", 0, use_sde=True)) or "")
    assert "activation_fn" in (supports(run_spec("PPO", 0, activation_fn="elu")) or "")
    assert "episodes" in (supports(run_spec("TD3", 0, train_freq=[1, "episode"])) or "")
    cartpole = dataclasses.replace(run_spec("PPO", 0), env_id="CartPole-v1")
    assert "Box" in (supports(cartpole) or "")


def test_group_key_splits_on_structure_only() -> None:
    base = run_spec("DDPG", 0, learning_rate=1e-3, **DDPG)
    same = [
        dataclasses.replace(base, seed=9),
        run_spec("DDPG", 0, learning_rate=5e-3, tau=0.1, gamma=0.9, **dict(DDPG, noise_std=0.3)),
        dataclasses.replace(base, resources=Resources(cpus=2)),
    ]
    different = [
        run_spec("DDPG", 0, learning_rate=1e-3, **dict(DDPG, batch_size=64)),
        run_spec("DDPG", 0, learning_rate=1e-3, net_arch=[16, 16], **DDPG),
        run_spec("DDPG", 0, learning_rate=1e-3, budget=900, **DDPG),
        dataclasses.replace(base, env_id="MountainCarContinuous-v0"),
        run_spec("TD3", 0, learning_rate=1e-3, **DDPG),
    ]
    assert all(group_key(s) == group_key(base) for s in same)
    assert all(group_key(s) != group_key(base) for s in different)
    explicit_default = run_spec("PPO", 0, n_steps=2048)
    assert group_key(explicit_default) == group_key(run_spec("PPO", 0))


def test_train_group_refuses_a_badly_formed_group() -> None:
    ddpg = run_spec("DDPG", 0, **DDPG)
    with pytest.raises(ValueError, match="separate groups"):
        train_group([ddpg, run_spec("DDPG", 1, **dict(DDPG, batch_size=64))])
    with pytest.raises(ValueError, match="trainer 'sb3'"):
        train_group([dataclasses.replace(ddpg, trainer="sb3")])


def test_member_out_of_time_stops_alone() -> None:
    quick = run_spec("DDPG", 2, learning_rate=1e-3, **DDPG)
    slow = dataclasses.replace(quick, seed=3, resources=Resources(timeout_s=0.0))
    results = train_group([quick, slow])
    assert [r.status for r in results] == ["ok", "timeout"]
    assert results[1].error == "wall time exceeded timeout_s=0.0 at step 1"
    assert results[1].steps == 1 and results[1].curve == []
    assert curves([results[0]]) == curves(train_group([quick]))


def test_replay_bytes_is_the_stacked_buffer_per_member() -> None:
    specs = [run_spec("SAC", s, 6000, **dict(DDPG, buffer_size=5000)) for s in (0, 1, 2)]
    members = [build_member(s, "cpu") for s in specs]
    try:
        loop = OffPolicyLoop(members, GroupProgress(members, 0.0), "cpu")
        assert loop.buffers.nbytes == 3 * replay_bytes(specs[0]) == 3 * 5000 * 4 * (3 + 3 + 1 + 3)
    finally:
        for member in members:
            member.close()
    assert replay_bytes(run_spec("PPO", 0)) == 0


def test_replay_buffers_hold_only_what_a_run_can_fill() -> None:
    """A million-transition buffer_size (SB3's default) on a 600-step run allocates 600 plus
    one train_freq block, and the planner's memory bound counts the same; a run longer than
    its buffer keeps buffer_size (it wraps, as SB3's does)."""
    huge = run_spec("TD3", 0, **dict(DDPG, buffer_size=1_000_000, train_freq=4))
    assert replay_slots(huge) == 600 + 4
    assert replay_bytes(huge) == 604 * 4 * (3 + 3 + 1 + 3)
    members = [build_member(huge, "cpu")]
    try:
        loop = OffPolicyLoop(members, GroupProgress(members, 0.0), "cpu")
        assert loop.buffers.size == 604 and loop.buffers.nbytes == replay_bytes(huge)
    finally:
        members[0].close()
    assert replay_slots(run_spec("TD3", 0, budget=600, **DDPG)) == 601  # 1,000 > 600 + 1
    assert replay_slots(run_spec("TD3", 0, budget=5000, **DDPG)) == 1000


def test_member_whose_evaluation_breaks_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    specs = [run_spec("DDPG", s, learning_rate=1e-3, **DDPG) for s in (2, 3)]
    broken = eval_episode_seeds(3, EVAL.episodes)
    evaluate = Evaluator.evaluate

    def flaky(self: Evaluator, model: object, step: int, normalize_obs: object = None) -> object:
        if self.seeds == broken:
            raise RuntimeError("evaluation env crashed")
        return evaluate(self, model, step, normalize_obs)

    monkeypatch.setattr(Evaluator, "evaluate", flaky)
    results = train_group(specs)
    assert [r.status for r in results] == ["ok", "failed"]
    assert "evaluation env crashed" in (results[1].error or "")
    monkeypatch.undo()
    assert curves([results[0]]) == curves(train_group(specs[:1]))


def test_diverging_ppo_member_is_masked_without_touching_the_others() -> None:
    hps = dict(n_steps=128, batch_size=32, n_epochs=2)
    healthy = [run_spec("PPO", s, learning_rate=3e-4, **hps) for s in (2, 3)]
    bad = run_spec("PPO", 4, learning_rate=1e30, **hps)
    results = train_group([healthy[0], bad, healthy[1]])
    assert [r.status for r in results] == ["ok", "diverged", "ok"], [r.error for r in results]
    assert results[1].diverged_step is not None and results[1].diverged_step > 128
    assert curves([results[0], results[2]]) == curves(train_group(healthy))
