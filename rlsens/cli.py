"""The `rlsens` command line: a thin layer over the pipeline stages.

Exit codes: 0 success, 1 some runs failed (or timed out), 2 usage or input error,
130 interrupted (Ctrl-C; everything finished is kept and the same command resumes).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rlsens.errors import RlsensError, UsageError
from rlsens.spec import TRAINER_CHOICES, TRAINERS
from rlsens.store import ResultStore, StoreTables, merge_tables, store_status

if TYPE_CHECKING:  # imported lazily at run time: the CLI should start fast
    from rlsens.report import ReportOptions

EXIT_OK, EXIT_RUNS_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
SUITES_DIR = Path("suites")
RESULTS_DIR = Path("results")


def resolve_suite(name: str) -> Path:
    """A suite given as a path, or as a name under ./suites (``ddpg`` -> suites/ddpg.yaml)."""
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (SUITES_DIR / f"{name}.yaml", SUITES_DIR / f"{name}.yml"):
        if candidate.is_file():
            return candidate
    available = sorted(p.stem for p in SUITES_DIR.glob("*.y*ml")) if SUITES_DIR.is_dir() else []
    raise UsageError(
        f"no suite {name!r}: not a file, and no {SUITES_DIR / (name + '.yaml')}."
        + (f" Available suites: {', '.join(available)}." if available else "")
    )


def resolve_results(arg: str) -> Path:
    """A results folder given as a path, or as a suite name (``ddpg`` -> results/ddpg)."""
    path = Path(arg)
    if path.is_dir():
        return path
    if path.exists():
        raise UsageError(f"{arg} is a file, not a results folder; pass the folder that "
                         "`rlsens run` wrote (e.g. results/<suite>).")
    if (RESULTS_DIR / arg).is_dir():
        return RESULTS_DIR / arg
    raise UsageError(
        f"no results folder {arg!r} (nor {RESULTS_DIR / arg}); run the suite first with "
        f"`rlsens run {arg}`."
    )


def run_folder(suite_name: str, results: str | None) -> Path:
    """Where `rlsens run` writes: ``--results`` as given, else results/<suite name>.

    The suite name comes from a file, so without ``--results`` the resolved folder must lie
    strictly inside the results root: ``name: ../elsewhere`` or an absolute name must not
    make a run write (and overwrite) anywhere else.
    """
    if results:
        return Path(results)
    root = RESULTS_DIR.resolve()
    folder = (RESULTS_DIR / suite_name).resolve()
    if folder == root or not folder.is_relative_to(root):
        raise UsageError(
            f"suite name {suite_name!r} would make `rlsens run` write to {folder}, which is not "
            f"a folder of its own inside {root}; name the suite with letters, digits, '-' and "
            "'_' only, or choose the folder explicitly with --results."
        )
    return RESULTS_DIR / suite_name


def writable_out(out: Path, what: str) -> Path:
    """``out`` as an output folder, or a usage error saying why it cannot be one."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{what} {out} is a file; pass --out with a folder path.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {what} {out} ({exc.strerror or exc}); pass --out "
                         "with a writable folder.") from exc
    if not os.access(out, os.W_OK):
        raise UsageError(f"{what} {out} is not writable; pass --out with a writable folder "
                         "(a read-only store can still be exported or reported elsewhere).")
    return out


def print_notes(tables: StoreTables, include_flag: str | None) -> None:
    """What a reader must know about the records behind an output: duplicates, left-outs."""
    for warning in tables.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    left_out = left_out_note(tables, include_flag)
    if left_out:
        print(f"note: {left_out}", file=sys.stderr)


def left_out_note(tables: StoreTables, include_flag: str | None) -> str | None:
    if not tables.unused or not include_flag:
        return None
    return (f"{tables.unused} stored runs are not in the current plan and were left out; "
            f"add {include_flag} to include them.")


# -- commands ------------------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    from rlsens.plan import build_plan
    from rlsens.suite import load_suite

    path = resolve_suite(args.suite)
    suite = load_suite(path, scale=args.scale)
    # Without --scale every scale is checked: `run --scale paper` must not be the first to
    # find that the paper scale's runs cannot start.
    others = [] if args.scale is not None else [s for s in suite.scales if s != suite.scale]
    for checked in [suite, *(load_suite(path, scale=scale) for scale in others)]:
        plan = build_plan(checked, trainer=args.trainer)
        print(
            f"{checked.path}: ok (scale {checked.scale!r}: {len(checked.algorithms)} "
            f"algorithms, {len(checked.environments)} environments, {len(plan.runs)} runs)"
        )
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from rlsens.plan import build_plan
    from rlsens.suite import load_suite

    suite = load_suite(resolve_suite(args.suite), scale=args.scale)
    plan = build_plan(suite, trainer=args.trainer)
    print(f"suite {suite.name} (scale {suite.scale}, hash {suite.hash})")
    print(plan.summary().to_string(index=False))
    print("\ntrainers (runs per trainer; groups: population groups, one process each):")
    print(plan.trainer_summary().to_string(index=False))
    reasons = plan.fallback_reasons()
    if reasons:
        print(f"\n{len(plan.fallbacks)} runs asked for the population trainer and use sb3:")
        for algorithm, env_id, reason, runs in reasons:
            print(f"  {algorithm} {env_id}: {runs} runs: {reason}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    with _token_auth_for_clusters(args.address):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from rlsens.plan import build_plan
    from rlsens.suite import load_suite
    from rlsens.sweep import run_plan

    suite_path = resolve_suite(args.suite)
    suite = load_suite(suite_path, scale=args.scale)
    plan = build_plan(suite, trainer=args.trainer)
    results = run_folder(suite.name, args.results)
    outcome = run_plan(
        plan,
        ResultStore(results),
        backend=args.backend,
        address=args.address,
        max_concurrent=args.max_concurrent,
        max_retries=args.max_retries,
        retry_failed=args.retry_failed,
        progress=not args.no_progress,
    )
    counts = ", ".join(f"{n} {status}" for status, n in sorted(outcome.statuses.items()))
    print(f"{results}: {counts or 'no runs stored'} (of {outcome.planned} planned)")
    if outcome.unsaved:
        folder = outcome.unsaved[0].parents[2]
        print(
            f"{len(outcome.unsaved)} finished runs could not be written to {results} and are "
            f"kept under {folder}; once {results} is writable, copy them back with "
            f"`cp -r {folder}/runs {results}/` (or run the same command again to redo them).",
            file=sys.stderr,
        )
        return EXIT_RUNS_FAILED
    if outcome.interrupted:
        again = " ".join(["rlsens", *sys.argv[1:]]) if sys.argv[1:] else "rlsens run ..."
        print(f"Interrupted. Finished runs are kept; resume with: {again}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if outcome.not_run:
        print(
            f"{outcome.not_run} runs were lost (their worker or node died on every attempt) "
            "and were not stored; run the same command again to retry them.",
            file=sys.stderr,
        )
        return EXIT_RUNS_FAILED
    if outcome.failed:
        print(
            f"{outcome.failed} runs failed or timed out; `rlsens status {results}` lists "
            "them, `--retry-failed` runs them again.",
            file=sys.stderr,
        )
        return EXIT_RUNS_FAILED
    return EXIT_OK


@contextmanager
def _token_auth_for_clusters(address: str | None) -> Iterator[None]:
    """Send Ray's auth token to an existing cluster that expects one, for this run only.

    Clusters started with `ray start` require token authentication when ~/.ray/auth_token
    exists, and a driver given an explicit address only sends the token if RAY_AUTH_MODE is
    set before Ray is imported, which happens later, inside the executor. The variable is
    removed afterwards, so a later local run in the same process (a notebook, a test) does not
    inherit a token mode meant for a cluster.
    """
    wanted = (address or os.environ.get("RAY_ADDRESS")) and (
        Path.home() / ".ray/auth_token").exists()
    if not wanted or "RAY_AUTH_MODE" in os.environ:
        yield
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    try:
        yield
    finally:
        os.environ.pop("RAY_AUTH_MODE", None)


def cmd_status(args: argparse.Namespace) -> int:
    status = store_status(ResultStore(resolve_results(args.results)))
    print(f"{'algorithm':<16} {'environment':<28} {'done':>6} {'failed':>6} {'remaining':>9}")
    for cell in status.cells:
        print(f"{cell.algorithm:<16} {cell.env_id:<28} {cell.done:>6} {cell.failed:>6} "
              f"{cell.remaining:>9}")
    total = status.totals
    print(f"{'total':<45} {total.done:>6} {total.failed:>6} {total.remaining:>9}")
    if status.failures:
        print("failed runs:")
        for run in status.failures[-20:]:
            print(f"  {run.run_id} {run.algorithm} {run.env_id} seed {run.seed}: "
                  f"{run.status} {run.error[:120]}")
    for warning in status.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if status.unused:
        print(f"note: {status.unused} stored runs are not in the current plan and are not "
              "counted above; `rlsens export --all` and `rlsens report --all` include them.",
              file=sys.stderr)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from rlsens.tables import parquet_safe, spreadsheet_safe

    store = ResultStore(resolve_results(args.results))
    tables = store.load(planned_only=not args.all)
    out = writable_out(Path(args.out) if args.out else store.root / "tables", "export folder")
    for name, frame in (("runs", tables.runs), ("curves", tables.curves)):
        if "parquet" in args.format:
            parquet_safe(frame).to_parquet(out / f"{name}.parquet", index=False)
        if "csv" in args.format:
            spreadsheet_safe(frame).to_csv(out / f"{name}.csv", index=False)
    print(f"wrote {len(tables.runs)} runs and {len(tables.curves)} evaluations to {out}/")
    print_notes(tables, None if args.all else "--all")
    return EXIT_OK


def _report_options(args: argparse.Namespace) -> ReportOptions:
    from rlsens.report import ReportOptions

    overrides = {
        key: value
        for key, value in (
            ("score", args.score),
            ("normalization", args.normalization),
            ("failed", args.failed),
            ("reps", args.reps),
            ("seed", args.seed),
            ("reference_algorithm", args.reference),
        )
        if value is not None
    }
    try:
        return ReportOptions(**overrides)
    except ValueError as exc:
        flag = str(exc).split(" ", 1)[0]
        raise UsageError(f"--{flag}: {exc}") from exc


def _build(tables: StoreTables, out: Path, options: ReportOptions, include_flag: str | None,
           ) -> Path:
    """Build a report; options the data cannot honour become a usage error, not a traceback.
    The page carries the same notes as the command line (duplicates, left-out runs)."""
    from rlsens.report import build_report

    left_out = left_out_note(tables, include_flag)
    notes = [*tables.warnings, *([left_out] if left_out else [])]
    try:
        return build_report(tables.runs, tables.curves, tables.manifest,
                            writable_out(out, "report folder"), options=options, notes=notes)
    except ValueError as exc:
        raise UsageError(f"cannot build the report with these options: {exc}") from exc


def one_trainer(tables: StoreTables, trainer: str | None, mix: bool) -> StoreTables:
    """The runs of one trainer: ``--trainer`` selects, ``--mix-trainers`` keeps a mix (the
    report then says so); a mix neither asked for is a usage error, never silently pooled."""
    runs = tables.runs
    present = sorted(runs["trainer"].unique()) if "trainer" in runs and len(runs) else []
    if trainer is not None:
        if trainer not in present:
            raise UsageError(f"--trainer {trainer}: no stored run was trained by {trainer!r}; "
                             f"the runs come from: {', '.join(present) or 'no trainer'}.")
        keep = runs["trainer"] == trainer
        ids = set(runs.loc[keep, "run_id"])
        curves = tables.curves
        if "run_id" in curves:
            curves = curves[curves["run_id"].isin(ids)].reset_index(drop=True)
        return dataclasses.replace(tables, runs=runs[keep].reset_index(drop=True), curves=curves)
    if len(present) > 1 and not mix:
        counts = ", ".join(f"{n} {name}"
                           for name, n in sorted(runs["trainer"].value_counts().items()))
        raise UsageError(
            f"the runs come from {len(present)} trainers ({counts}), whose numbers differ in "
            "their random streams; report one with --trainer NAME "
            f"({' or '.join(present)}), or pass --mix-trainers to pool them (the report's "
            "methods then say so).")
    return tables


def cmd_report(args: argparse.Namespace) -> int:
    options = _report_options(args)
    store = ResultStore(resolve_results(args.results))
    tables = one_trainer(store.load(planned_only=not args.all), args.trainer, args.mix_trainers)
    include_flag = None if args.all else "--all"
    index = _build(tables, Path(args.out) if args.out else store.root / "report", options,
                   include_flag)
    print(f"report: {index}")
    print_notes(tables, include_flag)
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    options = _report_options(args)
    tables = merge_tables([ResultStore(resolve_results(r)).load(planned_only=not args.all)
                           for r in args.results])
    tables = one_trainer(tables, args.trainer, args.mix_trainers)
    include_flag = None if args.all else "--all"
    index = _build(tables, Path(args.out), options, include_flag)
    print(f"comparison report: {index}")
    print_notes(tables, include_flag)
    return EXIT_OK


def cmd_reproduce(args: argparse.Namespace) -> int:
    from rlsens.reproduce import choose_runs, reproduce_run

    results = resolve_results(args.results)
    store = ResultStore(results)
    run_ids = choose_runs(store.stored_ids(), args.run_ids, args.random, args.seed, str(results))
    if args.random is not None:
        print(f"retraining {len(run_ids)} runs drawn with --seed {args.seed}: "
              f"{' '.join(run_ids)}")
    differing = 0
    for run_id in run_ids:
        stored = store.read(run_id)
        print(f"{run_id} {stored.spec.algorithm} {stored.spec.env_id} seed {stored.spec.seed}: "
              "retraining ...", flush=True)
        verdict = reproduce_run(stored)
        differing += not verdict.identical
        outcome = (f"IDENTICAL ({verdict.detail})" if verdict.identical
                   else f"DIFFERENT: {verdict.detail}")
        print(f"{run_id}: {outcome}", flush=True)
    print(f"{len(run_ids) - differing} of {len(run_ids)} runs reproduced exactly"
          + (f"; {differing} differ" if differing else ""))
    return EXIT_RUNS_FAILED if differing else EXIT_OK


# -- parser --------------------------------------------------------------------------------
def _command(sub, name: str, help_: str, example: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help_,
        description=help_,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--score", choices=["auc", "final"], help="per-run score (default auc)")
    parser.add_argument(
        "--normalization",
        choices=["none", "observed", "percentile", "cdf"],
        help="per-environment normalization (default: percentile with several environments; "
        "min-max against reference scores is available from Python: ReportOptions.reference)",
    )
    parser.add_argument("--failed", choices=["worst", "exclude"], help="failed-run policy")
    parser.add_argument("--reps", type=int, help="bootstrap replicates for aggregates")
    parser.add_argument("--seed", type=int, help="seed of every bootstrap (default 0)")
    parser.add_argument("--reference", help="reference algorithm of the sensitivity plane")
    parser.add_argument("--trainer", choices=TRAINERS,
                        help="report only the runs of this trainer (needed when the results "
                        "hold runs of several trainers, unless --mix-trainers)")
    parser.add_argument("--mix-trainers", action="store_true",
                        help="pool runs of several trainers; the report's methods say so")


def _trainer_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trainer", choices=TRAINER_CHOICES,
        help="who trains the runs, overriding the suite's trainer keys: sb3 (one SB3 process "
        "per run), population (groups of runs batched in one process; unsupported runs fall "
        "back to sb3) or auto (population wherever supported)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlsens",
        description="Benchmark how sensitive RL algorithms are to hyperparameters and seeds.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = _command(sub, "run", "Run a suite (resumes: stored runs are skipped).",
                 "rlsens run ddpg --scale quick")
    p.add_argument("suite", help="suite name (suites/<name>.yaml) or path")
    p.add_argument("--scale", help="budget scale defined in the suite (default: its default)")
    p.add_argument("--results", help="results folder (default results/<suite name>)")
    p.add_argument("--backend", choices=["ray", "serial"], default="ray",
                   help="ray (default) fans runs out; serial runs in-process, for debugging")
    p.add_argument("--address", help="address of an existing Ray cluster (or set RAY_ADDRESS)")
    p.add_argument("--max-concurrent", type=int,
                   help="cap on runs in parallel (a population group counts as one)")
    p.add_argument("--max-retries", type=int, default=3,
                   help="retries of a run whose worker or node died (default 3)")
    p.add_argument("--retry-failed", action="store_true",
                   help="run again the stored runs that failed or timed out")
    p.add_argument("--no-progress", action="store_true", help="no progress display")
    _trainer_argument(p)
    p.set_defaults(func=cmd_run)

    p = _command(sub, "validate", "Check a suite without running anything.",
                 "rlsens validate suites/ddpg.yaml --scale paper")
    p.add_argument("suite")
    p.add_argument("--scale", help="check this scale only (default: the default and every "
                   "scale the suite defines)")
    _trainer_argument(p)
    p.set_defaults(func=cmd_validate)

    p = _command(sub, "plan", "Show runs per algorithm x environment, steps and estimated cost.",
                 "rlsens plan ddpg --scale paper")
    p.add_argument("suite")
    p.add_argument("--scale")
    _trainer_argument(p)
    p.set_defaults(func=cmd_plan)

    p = _command(sub, "status", "Done / failed / remaining runs of a results folder.",
                 "rlsens status results/ddpg")
    p.add_argument("results", help="results folder or suite name")
    p.set_defaults(func=cmd_status)

    p = _command(sub, "export", "Write the runs and curves tables as Parquet and CSV.",
                 "rlsens export results/ddpg --out tables/")
    p.add_argument("results", help="results folder or suite name")
    p.add_argument("--out", help="output folder (default <results>/tables)")
    p.add_argument("--format", nargs="+", choices=["parquet", "csv"], default=["parquet", "csv"])
    p.add_argument("--all", action="store_true",
                   help="include stored runs that are no longer in the suite's plan")
    p.set_defaults(func=cmd_export)

    p = _command(sub, "report", "Write the HTML/Markdown/LaTeX report of a results folder.",
                 "rlsens report results/ddpg")
    p.add_argument("results", help="results folder or suite name")
    p.add_argument("--out", help="output folder (default <results>/report)")
    p.add_argument("--all", action="store_true",
                   help="include stored runs that are no longer in the suite's plan")
    _report_arguments(p)
    p.set_defaults(func=cmd_report)

    p = _command(sub, "compare", "One comparison report over several result sets.",
                 "rlsens compare results/ddpg results/sac --out results/ddpg-vs-sac")
    p.add_argument("results", nargs="+", help="results folders or suite names")
    p.add_argument("--out", required=True, help="output folder of the comparison report")
    p.add_argument("--all", action="store_true",
                   help="include stored runs that are no longer in their suite's plan")
    _report_arguments(p)
    p.set_defaults(func=cmd_compare)

    p = _command(sub, "reproduce",
                 "Retrain stored runs from their stored specs and check that every evaluation "
                 "return is identical (exit 0 if all are, 1 if any differs); writes nothing.",
                 "rlsens reproduce results/ddpg --random 3 --seed 1")
    p.add_argument("results", help="results folder or suite name")
    p.add_argument("run_ids", nargs="*", metavar="RUN_ID", help="stored runs to retrain")
    p.add_argument("--random", type=int, metavar="N", help="retrain N stored runs drawn at random")
    p.add_argument("--seed", type=int, default=0, help="seed of the --random draw (default 0)")
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except RlsensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `rlsens plan ddpg | head`: the reader left; what was printed is all it wanted. Point
        # stdout at /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
