"""The methods paragraph: exactly what was computed, in words, with citations.

Written from what the sections actually ran (``Context.used``) so the text never describes a
statistic the page does not show, and ``references.bib`` lists only the methods used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from rlsens import analysis
from rlsens.analysis.protocol import IN_SAMPLE
from rlsens.report.bibliography import Citations
from rlsens.report.options import ReportOptions
from rlsens.store import Manifest

NORMALIZATION_TEXT = {
    "none": "Scores are raw returns (no normalization).",
    "reference": "Scores are min-max normalized per environment against the given reference "
                 "scores (low → 0, high → 1).",
    "observed": "Scores are min-max normalized per environment over all observed runs of all "
                "algorithms.",
    "percentile": "Scores are normalized per environment by the affine map sending the "
                  "{q0:g}th and {q1:g}th percentiles of all runs of all algorithms on it to 0 "
                  "and 1 {cite_adkins}.",
    "cdf": "Scores are mapped per environment to their percentile in the pooled distribution "
           "of all algorithms' runs {cite_jordan}.",
}


def _score_text(options: ReportOptions, manifest: Manifest) -> str:
    evaluation = manifest.suite.evaluation
    every, episodes, final = (evaluation.get(k) for k in ("every", "episodes", "final"))
    protocol = ""
    if every and episodes:
        protocol = (f" Policies were evaluated every {every} environment steps on {episodes} "
                    "episodes of a separate environment.")
    if options.score == "auc":
        what = ("the mean evaluation return over all scheduled evaluations (area under the "
                "learning curve)")
    else:
        last = f"the last {final}" if final else "the last"
        what = f"the mean evaluation return over {last} evaluations (final performance)"
    return f"Each run is scored by {what}.{protocol}"


TRAINER_TEXT = {
    "sb3": "the sb3 trainer (one stable-baselines3 process per run)",
    "population": "rlsens's population trainer (groups of runs trained as one batched "
                  "computation, SB3's update rules per member, each member drawing its "
                  "exploration and minibatch randomness from its own seeded streams)",
}


def trainer_text(trainers: Mapping[str, int]) -> str:
    """Which trainer produced the runs; a mix is said out loud, since the trainers draw
    different random streams and a difference between them can be the trainer's."""
    if not trainers:
        return ""
    if len(trainers) == 1:
        (name,) = trainers
        return f"Runs were trained by {TRAINER_TEXT.get(name, repr(name))}."
    counts = ", ".join(f"{n} by {TRAINER_TEXT.get(name, repr(name))}"
                       for name, n in sorted(trainers.items()))
    return (f"Runs come from {len(trainers)} trainers, mixed on request (--mix-trainers): "
            f"{counts}. Each run is one sample of its algorithm whichever trainer produced "
            "it, but the trainers differ in their random streams, so differences between "
            "runs of different trainers may be the trainer's.")


def _seed_text(scores: pd.DataFrame, used: Mapping[str, Any], cite: Citations, reps: int
               ) -> str:
    roles = sorted(scores["seed_role"].dropna().unique()) if len(scores) else []
    methods = set(used.get("sensitivity_methods", [])) | set(used.get("protocol", []))
    if set(roles) >= {"tune", "report"}:
        text = ("Seeds have roles: every best-configuration number (per-environment and "
                "cross-environment tuned scores, Φ, selected configurations) selects on the "
                "'tune' seeds and is scored on the disjoint 'report' seeds (held-out), so it "
                "is not inflated by the selection.")
    else:
        text = ("All seeds have the role 'all', so best-configuration numbers (per-environment "
                "and cross-environment tuned scores, Φ, selected configurations) are "
                "cross-fitted: each configuration's runs are split into two halves by seed, "
                "configurations are selected on one half and scored on the other, in both "
                "directions, and the two estimates are averaged.")
    if reps > 0:
        text += (f" Their intervals ({reps:,} replicates) resample runs within each environment "
                 "× configuration, repeat the whole select-then-score procedure on every "
                 "replicate and are basic bootstrap intervals of its error (the replicate's "
                 "estimate minus the resampled world's true score of the configurations that "
                 "replicate selected).")
    text += (" The estimates target the true score of the configuration "
             "the procedure picks, which is never above the best true score (conservative when "
             "configurations are hard to tell apart). The in-sample values beside them (the "
             "same runs select and score, as Adkins et al. define them) are optimistic: the "
             f"winner's curse {cite.cite('henderson2018')}.")
    if IN_SAMPLE in methods:
        text += (" Where the selection method says 'in-sample', a configuration had a single "
                 "scored run, no split was possible, and the value shown is the optimistic "
                 "in-sample one.")
    in_sample = [name for key, name in (("tuning", "expected best scores after n "
                                                   "configurations"),
                                        ("dimensionality", "effective dimensionality"),
                                        ("tunability", "tunability"))
                 if key in used]
    if in_sample:
        listed = (in_sample[0] if len(in_sample) == 1
                  else ", ".join(in_sample[:-1]) + " and " + in_sample[-1])
        verb = "is" if len(in_sample) == 1 else "are"
        text += f" {listed[0].upper()}{listed[1:]} {verb} in-sample and optimistic."
    if used.get("variance"):
        text += (" The variance decomposition splits score variance into environment, "
                 "configuration, environment × configuration and seed shares (law of total "
                 "variance, every environment × configuration cell weighing the same); these "
                 "are observed shares, not variance components: the configuration and "
                 "interaction shares include the seed noise left in the cell means (about the "
                 "seed variance over the number of seeds), so they overstate what "
                 "configurations explain when seeds are few.")
    if used.get("seed_split"):
        text += (" The seed-split check ranks configurations on two disjoint halves of the "
                 "seeds and reports the rank correlation (Kendall τ, Spearman ρ): low values mean "
                 "configuration rankings are dominated by seed noise.")
    return text


def methods_paragraphs(
    options: ReportOptions,
    normalization: str,
    scores: pd.DataFrame,
    used: Mapping[str, Any],
    manifest: Manifest,
    cite: Citations,
    trainers: Mapping[str, int] | None = None,
) -> list[str]:
    """Paragraphs of the methods section, citing (and so registering) each method used.

    ``trainers``: runs per trainer (``runs["trainer"]``), named in the first paragraph."""
    failed_text = scores.attrs.get("failed_policy_text") or analysis.failed_policy_text(
        options.failed)
    q0, q1 = (100 * q for q in options.quantiles)
    norm = NORMALIZATION_TEXT.get(normalization, f"Scores are normalized with '{normalization}'.")
    if "{cite_adkins}" in norm:
        norm = norm.format(q0=q0, q1=q1, cite_adkins=cite.cite("adkins2024"))
    elif "{cite_jordan}" in norm:
        norm = norm.format(cite_jordan=cite.cite("jordan2020"))
    first = f"{_score_text(options, manifest)} {failed_text} {norm}"
    paragraphs = [f"{trainer_text(trainers or {})} {first}".strip()]

    stats = []
    ci = f"{int(options.confidence * 100)}%"
    chosen = str(used.get("aggregates_ci", options.ci_method))
    ci_method = ("bias-corrected and accelerated (BCa) " + cite.cite("efron1987")
                 if chosen.startswith("bca") else "percentile")
    bca_text = {
        "bca": " BCa follows rliable's definition: its acceleration comes from a jackknife that "
               "leaves out one run index on every environment at once.",
        "bca_scipy": " BCa follows scipy's multi-sample definition: its acceleration comes "
                     "from a jackknife that leaves out one run of one environment at a time.",
    }.get(chosen, "")
    if "aggregates" in used:
        names = {"iqm": "interquartile mean (IQM)", "mean": "mean", "median": "median",
                 "optimality_gap": "optimality gap (γ = 1)"}
        metrics = ", ".join(names.get(m, m) for m in used["aggregates"])
        stats.append(
            f"Aggregate metrics ({metrics}) follow rliable {cite.cite('agarwal2021')}: "
            f"{ci} {ci_method} intervals from a stratified bootstrap over runs within each "
            f"environment with {options.reps:,} replicates (seed {options.seed}).{bca_text}"
        )
    if "profiles" in used or "improvement" in used or "sample_efficiency" in used:
        parts = [name for key, name in (("profiles", "performance profiles"),
                                        ("improvement", "probability of improvement"),
                                        ("sample_efficiency", "sample-efficiency curves"))
                 if key in used]
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        stats.append(f"{listed[0].upper()}{listed[1:]} use {options.profile_reps:,} bootstrap "
                     f"replicates {cite.cite('agarwal2021')}.")
    if "profiles" in used:
        stats.append("The performance profile pools runs over environments (an environment "
                     "with more runs weighs more); the average-score distribution counts "
                     "environments whose mean score exceeds τ (each weighs the same).")
    if "sample_efficiency" in used:
        stats.append("A sample-efficiency point pools the runs evaluated at that step and is "
                     "shown only where every environment has a successful run of the "
                     "algorithm there: imputed failed runs never form a point on their own.")
    if "pairwise" in used:
        kind = used["pairwise"]
        if kind == "welch":
            test = (f"Welch's t-test {cite.cite('welch1947')} (pooled: the mean over "
                    "environments of the per-environment differences, with its "
                    "Welch–Satterthwaite degrees of freedom)")
        elif kind == "mannwhitney":
            test = (f"the Mann–Whitney U test {cite.cite('mann1947')} (pooled: the mean over "
                    "environments of U/(n_A n_B) against its exact null variance, normal "
                    "reference)")
        else:
            test = (f"a permutation test of the mean difference ({options.test_reps:,} "
                    "permutations of the labels within each environment; p ≥ 1/(B + 1)) with "
                    "a stratified percentile-bootstrap interval")
        stats.append(
            f"Pairwise comparisons use {test} on per-run scores, with mean differences, their "
            f"intervals and P(A > B) as effect sizes. The pooled rows are stratified: every "
            f"shared environment weighs the same whatever its run counts. p-values are "
            f"Holm-corrected {cite.cite('holm1979')} at α = {options.alpha}."
        )
    if stats:
        paragraphs.append(" ".join(stats))

    hp = []
    if "sensitivity" in used or "dimensionality" in used:
        hp.append(
            "Hyperparameter sensitivity is the per-environment tuned score (mean over "
            "environments of the score of the configuration selected on each) minus the "
            "cross-environment tuned score (score of the one configuration selected on the "
            "mean over environments); selection and score use different runs (see the seeds "
            "paragraph below); effective dimensionality is the number of hyperparameters that "
            "must be tuned per environment to reach 95% of the in-sample per-environment tuned "
            f"score {cite.cite('adkins2024')}."
        )
    if "tunability" in used:
        hp.append("Tunability is the gain of the best configuration over the data-based "
                  "default (the cross-environment best configuration), overall, per "
                  f"hyperparameter and per pair {cite.cite('probst2019')}.")
    if "importance" in used:
        methods = used["importance"]
        text = ("Importance is the share of variance of configuration scores (seed means: "
                "seed noise left in them counts as configuration variance) explained by each "
                f"hyperparameter and pair (functional ANOVA {cite.cite('hutter2014')}")
        if "anova" in methods:
            text += "; exact ANOVA of the cell means on full grids"
        if "forest" in methods:
            text += ("; on designs that are not full grids, exact functional ANOVA of the mean "
                     f"prediction of a random forest {cite.cite('breiman2001')} fitted to the "
                     "configuration "
                     "scores, over the trees' own partitions, under the product of the "
                     "hyperparameters' observed distributions, with the infinitesimal-jackknife "
                     f"standard error over configurations {cite.cite('wager2014')} as its std "
                     "(not estimable, and left empty, where the forest's trees are too few for "
                     "the number of configurations); the std does not include the surrogate's "
                     "bias, which dominates with few configurations per hyperparameter")
        hp.append(text + ").")
    if "tuning" in used:
        hp.append("Expected best score after n configurations uses the expected-maximum "
                  f"estimator of {cite.cite('dodge2019')}, with the unbiased U-statistic of "
                  f"{cite.cite('tang2020')} in the tables.")
    if "sensitivity_curves" in used:
        hp.append(f"Sensitivity curves average configuration means within value bins, with "
                  f"{options.profile_reps:,}-replicate bootstrap bands over seeds.")
    if hp:
        paragraphs.append(" ".join(hp))

    paragraphs.append(_seed_text(scores, used, cite, options.sensitivity_reps))
    if "headline" in used:
        paragraphs.append(
            "The headline claims a difference between two algorithms only when an interval of "
            "the difference itself excludes no difference, never from the overlap of their "
            "separate intervals. For Φ and the tuned scores, the two algorithms' bootstrap "
            f"replicates ({options.sensitivity_reps:,} each, independent because their runs and "
            "random streams are) are subtracted replicate by replicate, giving the basic "
            "bootstrap interval of the difference; for P(A > B) its own bootstrap interval must "
            f"exclude 0.5. Intervals are per comparison at {options.confidence:.0%}, not "
            "adjusted for the number of pairs.")
    return paragraphs
