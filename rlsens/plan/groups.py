"""Population runs -> groups that one process trains together, sized by memory.

Runs share a group when the population trainer can batch them (equal ``group_key``) and they
ask for the same resources. A group is one process with the resources of one run (one run's
CPUs and GPU share; several groups can share a GPU as sb3 runs do), so what grows with its
size is memory: each member holds its replay buffer (``replay_bytes``) and its networks. The
rule: at most ``MAX_MEMBERS`` members, and when ``resources.memory_mb`` is set, members x
``member_bytes`` within it (at least one member, which is then as large as its sb3 run would
be). A group requests that same ``memory_mb`` from Ray; it does not multiply it by its members.
"""

from __future__ import annotations

from collections.abc import Sequence

from rlsens.plan.cost import network_weights
from rlsens.spec import Resources, RunGroup, RunSpec
from rlsens.vocabulary import OFF_POLICY

# Beyond 64 members the batched update is compute-bound on a CPU core and gains little more
# (docs/performance.md), while a larger group takes longer to finish and to retry.
MAX_MEMBERS = 64
# Copies of each network a member holds, float32: the stacked parameters, two Adam moments and
# the member's own SB3 model (kept for evaluation); off-policy classes add the targets of both.
NETWORK_COPIES = {"off": 6, "on": 4}
# Networks per class (actor, critics; PPO/A2C policy and value networks).
NETWORKS = {"DDPG": 2, "TD3": 3, "SAC": 3, "DQN": 1, "PPO": 2, "A2C": 2}


def member_bytes(spec: RunSpec) -> int:
    """Estimated memory of one member: its replay buffer plus its networks' copies."""
    from rlsens.trainer.population.group import replay_bytes

    copies = NETWORK_COPIES["off" if spec.algo_class in OFF_POLICY else "on"]
    networks = NETWORKS.get(spec.algo_class, 2)
    return replay_bytes(spec) + int(4 * copies * networks * network_weights(spec))


def member_cap(spec: RunSpec) -> int:
    """How many members like ``spec`` one group may hold (see the module docstring)."""
    cap = MAX_MEMBERS
    if spec.resources.memory_mb:
        cap = min(cap, max(1, spec.resources.memory_mb * 2**20 // member_bytes(spec)))
    return cap


def group_runs(runs: Sequence[RunSpec]) -> list[RunGroup]:
    """Every run in one group: sb3 runs alone, population runs batched by ``group_key``.

    Groups are ordered by their first run's place in ``runs`` and keep the runs' order, so
    the same plan always forms the same groups.
    """
    groups: list[list[RunSpec]] = []
    open_groups: dict[tuple[str, Resources], int] = {}
    caps: dict[tuple[str, Resources], int] = {}
    for spec in runs:
        if spec.trainer != "population":
            groups.append([spec])
            continue
        from rlsens.trainer.population.group import group_key

        key = (group_key(spec), spec.resources)
        if key not in caps:
            caps[key] = member_cap(spec)
        index = open_groups.get(key)
        if index is None or len(groups[index]) >= caps[key]:
            open_groups[key] = len(groups)
            groups.append([])
        groups[open_groups[key]].append(spec)
    return [RunGroup(tuple(specs), specs[0].resources) for specs in groups]


def pending_groups(groups: Sequence[RunGroup], todo: set[str]) -> list[RunGroup]:
    """The groups with a run in ``todo``, reduced to those runs, in plan order.

    A resumed group trains only its missing members: a member's numbers depend only on its
    spec, not on which or how many members share its group (``batched_linear``; tested for
    every algorithm alone and in groups of two and five), so they equal the uninterrupted run's.
    """
    out = []
    for group in groups:
        missing = tuple(spec for spec in group.specs if spec.run_id in todo)
        if missing:
            out.append(RunGroup(missing, group.resources))
    return out
