"""Every limit on suite input, in one place, with the reason for its value.

A few hundred bytes of YAML can describe 10^20 runs or an alias bomb; each limit below makes
such input fail in well under a second with a message that names the limit. Values sit far
above any suite that could be run on a cluster in a year (the largest shipped suite, ddpg at
paper scale, plans 4 875 runs), so they stop only mistakes and hostile input.

Two kinds:

* The ``MAX_*`` constants guard the reading of the file itself (size, YAML aliases, nesting, derived
  expressions). They are checked before the file's content is trusted and cannot be raised
  from the file; a suite that needs more is better split (and the constants here documented).
* ``PlanLimits`` bound how much a suite may ask for (seeds, configurations per algorithm,
  runs in total). A suite that really wants more raises them with a top-level
  ``limits:`` mapping (e.g. ``limits: {max_runs: 500000}``), which is not part of the suite
  hash: it changes no run.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

# Size of a suite or zoo file. Shipped suites are 3-12 KB and rl-baselines3-zoo's largest
# hyperparams file about 30 KB; 1 MiB reads in milliseconds.
MAX_FILE_BYTES = 1 << 20
# YAML aliases (``*name``) per file. Suites and zoo files use a handful for shared defaults;
# each alias can copy a whole subtree, which is how a 1 KB "billion laughs" file expands.
MAX_ALIASES = 200
# Values (mappings, lists, scalars) after aliases are expanded: a 1 MiB file of plain YAML
# holds at most ~200 000 values; more can only come from aliases multiplying subtrees.
MAX_VALUES = 200_000
# Nesting of mappings and lists. A suite nests 6 deep (scales.x.algorithms.y.search_space.z);
# deeper nesting only serves to exhaust the parser's recursion.
MAX_DEPTH = 32
# Derived expressions: characters, syntax-tree nodes and nesting. ``1 - one_minus_gamma`` has
# 6 nodes; the most complex shipped expression 25. Bounded so that evaluating one,
# once per planned run, stays in microseconds and never recurses deeply.
MAX_EXPRESSION_CHARS = 500
MAX_EXPRESSION_NODES = 200
MAX_EXPRESSION_DEPTH = 24
# Magnitude of every number in a suite and of every value an expression computes,
# intermediate results included. No hyperparameter is anywhere near 1e18 (buffer sizes are
# ~1e6, budgets ~1e7); numbers must also be finite, because the suite is hashed as strict JSON.
# Bounding intermediates keeps ``(x ** 64) ** 64`` from building a number with millions of
# digits.
MAX_MAGNITUDE = 1e18
# ``n_envs``: copies of the environment one run steps in its process (DummyVecEnv); the zoo
# uses up to 64, and thousands would exhaust the worker's memory before training starts.
MAX_ENVS_PER_RUN = 1024
# Seeds: ``np.random.seed`` (which SB3's set_random_seed calls) takes 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1

FIXED_HINT = ("this safety limit is fixed (rlsens/suite/limits.py, documented in docs/suites.md "
              "under Limits); split the file or simplify it")


@dataclass(frozen=True)
class PlanLimits:
    """How much one suite may plan; raised by the suite's ``limits:`` mapping.

    ``max_seeds``: seeds per role; 1 000 is ten times more than sensitivity studies use
    (5 to 100). ``max_configs``: design points of
    one algorithm before deduplication (grid cross product, Sobol/random ``n``, one-at-a-time
    levels); 10 000 configurations x 5 seeds x 5 environments is already 250 000 runs.
    ``max_runs``: planned runs of the whole suite; 100 000 short runs is months of CPU time,
    and the plan itself (specs, manifest) stays in the tens of megabytes.
    ``max_evaluations``: evaluations of one run (budget / evaluation.every), and
    ``max_episodes``: episodes per evaluation; a learning curve of 10 000 points is already
    finer than any figure shows, and both are allocated up front by the trainer.
    """

    max_seeds: int = 1_000
    max_configs: int = 10_000
    max_runs: int = 100_000
    max_evaluations: int = 10_000
    max_episodes: int = 10_000

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def raise_hint(key: str, current: int) -> str:
    """How to raise plan limit ``key``: the suite key to write."""
    return f"if this is intended, raise it with `limits: {{{key}: <n>}}` (now {current})"
