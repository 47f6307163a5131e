"""The sanity report's sections, in report order: the study and its definitions, the verdict per
sparsity and mask method (002 App. B/C), accuracy at each learning rate (Fig. A.1 / D.*), R_p
(App. G), the tuner, and the findings on this run (App. A, G), which also give the report's
opening findings paragraph."""
import numpy as np

from components.reports import text as report_text
from components.artifacts.tickets import Tickets
from components.reports.names import sanity_label as label
from components.reports.plateau import dense_runs, plateau_section
from components.reports.sanity import words as W
from components.reports.sanity.gather import SanityData, empty_layers, omp_masks_shared
from components.reports.sanity.plots import plot_accuracy, plot_correlation, plot_findings, plot_tuning
from components.reports.sanity.tables import (mean_std_text, accuracy_table, correlation_table, distance_from_p,
                                              verdict_markdown)
from components.reports.section import Section, markdown, section
from lth_tf.io import write_csv
from lth_tf.metrics import jackpot as J
from lth_tf.metrics.verdicts import MIN_SEEDS, NO_NOISE, Stats


def _rewind_words(d: SanityData) -> str:
    results, p = d.results, d.p
    wr_step = int(results[results.variant == "lt_imp_rewind"].rewind_step.iloc[0]) \
        if (results.variant == "lt_imp_rewind").any() else None
    own_steps = results[(results.variant == "dense")].own_steps.iloc[0] if "own_steps" in results else float("nan")
    return (f"`sanity.rewind = '{p.rewind}'`: t = {wr_step} of T = {int(own_steps)} steps" if wr_step else
            f"`sanity.rewind = '{p.rewind}'`")


def intro(d: SanityData) -> Section:
    results, sweep, first, checks, rates = d.results, d.sweep, d.first, d.checks, d.rates
    rewind_words = _rewind_words(d)
    levels = sorted(int(l) for l in sweep[sweep.level > 0].level.unique())
    shared, pairs = omp_masks_shared(d.inputs["searches"])
    setup = (f"**Setup.** {first.model.name} on {first.dataset.name}; the recipe {first.training.budget} "
             f"(batch {first.training.batch_size}, momentum {first.training.momentum:g}, weight decay "
             f"{first.training.weight_decay:g}, schedule {first.training.schedule}"
             + (f" at {', '.join(first.training.milestones)}" if first.training.milestones else "")
             + (f", warm-up {first.training.warmup}" if first.training.warmup not in ("0it", "0ep") else "")
             + f") at each learning rate of the sweep {W._rates(rates)}; {report_text.seeds(sweep.seed)}; "
             f"{first.pruning.scope} pruning of {100 * first.pruning.fraction:g}% of the remaining weights per level, "
             f"levels {levels[0]}–{levels[-1]} ({100 * (1 - sweep[sweep.level == levels[0]].sparsity.mean()):.1f}% … "
             f"{100 * (1 - sweep[sweep.level == levels[-1]].sparsity.mean()):.1f}% of the weights remaining); weight "
             f"rewinding to {rewind_words}. {len(results)} networks in results.csv.\n")
    checks_words = (f"**Checks.** The dense network is trained once per search (four copies per rate and seed); the "
                    f"copies agree to {checks['dense_copies_max_spread']:.4f} in test accuracy (0 = bit for bit). "
                    + (f"WR-OMP masks are identical to LT-OMP's in all {pairs} (rate, seed, level) pairs compared "
                       f"(one-shot masks of the same θ_T), so RR-OMP is the RR of both." if shared and pairs else
                       f"WR-OMP masks differ from LT-OMP's in some of {pairs} pairs: RR-OMP is only an approximate RR "
                       f"for WR-OMP." if pairs else "")
                    + (" WR-IMP's masks come from a different IMP trajectory, so WR-IMP has its own RR (RR-WR-IMP)."
                       if (sweep.variant == "rr_imp_rewind").any() else
                       " WR-IMP's masks come from a different IMP trajectory; without their own RR (`sanity.rewind_rr` "
                       "lacks 'imp') WR-IMP is judged against RR-IMP, the LT-IMP mask of the same sparsity on a fresh "
                       "draw (an approximation)." if (sweep.variant == "lt_imp_rewind").any() else "")
                    + W.chance_words(sweep, d.p.metric, Tickets.at(d.inputs["searches"][0].path).num_classes,
                                     empty_layers(d.inputs["searches"])) + "\n")
    return section("Paper 002 (Ma et al., NeurIPS 2021, *Sanity Checks for Lottery Tickets*) asks whether a winning "
                   "ticket *really* wins the jackpot: whether its edge over random reinitialization survives a properly "
                   "tuned learning rate. This run repeats its sanity check (Appendices A, B, C, G) on the configuration "
                   "below.\n", setup, checks_words, W.definitions(d.p, rewind_words, first.pruning.fraction))


def verdicts(d: SanityData) -> Section:
    p, verdicts, tuned, longer, metric, enough = d.p, d.verdicts, d.tuned, d.longer, d.p.metric, d.enough
    write_csv(d.out / "verdicts.csv", verdicts)
    n_jackpot = int(verdicts.jackpot.sum()) if len(verdicts) else 0
    fail_counts = {c: int((~verdicts[c]).sum()) for c in J.CONDITIONS} if len(verdicts) else {}
    reference_mean = Stats.of(d.reference).mean
    one_seed = d.sweep.seed.nunique() < MIN_SEEDS  # the table applies the rule; the prose states no verdict
    ep_words = (f"Sufficient epochs (①): the well-trained recipe at T = {d.first.training.budget} reaches "
                f"{mean_std_text(tuned[metric])}, at 2T {mean_std_text(longer[metric])}: "
                + (f"{NO_NOISE}." if one_seed else "no clear gain, so T is sufficient." if enough else
                   "a clear gain, so T is **not** sufficient and condition ① fails at every sparsity.")) \
        if len(tuned) and len(longer) else "Sufficient epochs (①) was not checked (no tuned recipe): taken as met."
    return section("## The verdict, per sparsity and mask method (Appendix B/C)\n",
                   f"The well-trained dense reference is {d.reference_words}: {reference_mean:.4f}. {ep_words}\n",
                   f"Jackpot verdicts: {NO_NOISE}.\n" if one_seed and len(verdicts) else
                   (f"**{n_jackpot} of {len(verdicts)}** (ticket, sparsity) pairs win the jackpot"
                    + (": " + "; ".join(f"{label(r.ticket)} at {100 * (1 - r.sparsity):.1f}% remaining (best lr "
                                        f"{r.best_lr:g})" for r in verdicts[verdicts.jackpot].itertuples())
                       if n_jackpot else "") + ". Conditions failing, out of "
                    f"{len(verdicts)}: " + ", ".join(f"{c} {n}" for c, n in fail_counts.items()) + ". "
                    + W.but_epochs_words(verdicts, enough, longer[metric], p.rule) + "\n")
                   if len(verdicts) else "_(no tickets)_\n",
                   markdown(verdict_markdown(verdicts)),
                   jackpots=n_jackpot, verdict_rows=len(verdicts), epochs_sufficient=bool(enough))


def accuracy(d: SanityData) -> Section:
    table = accuracy_table(d.sweep, d.p.metric)
    write_csv(d.out / "accuracy.csv", table)
    plot_accuracy(d.sweep, d.p.metric, d.reference, d.out / "accuracy_by_rate.png")
    return section("## Accuracy vs. sparsity at each learning rate (Fig. A.1 / D.*)\n",
                   "![accuracy by learning rate](accuracy_by_rate.png)\n",
                   "Solid: tickets (LT, WR); dotted: their random reinitializations (RR); dashed green: small-dense; "
                   "black dashed: the dense network at that rate; gray dash-dotted: the well-trained dense reference.\n",
                   markdown(table, floatfmt=".4g"))


def correlation(d: SanityData) -> Section:
    p, summary = d.p, d.corr_summary
    if len(d.corr):
        write_csv(d.out / "correlation.csv", d.corr)
    corr_plots = [level for level in p.correlation_levels if len(summary)
                  and plot_correlation(summary, level, d.out / f"correlation_L{level:02d}.png")]
    parts = ["## The correlation indicator R_p (Appendix G)\n"]
    if len(summary):
        parts += [f"![R_p at level {l}](correlation_L{l:02d}.png)\n" for l in corr_plots]
        parts += [markdown(correlation_table(summary, p.correlation_levels), floatfmt=".3f")]
    else:
        parts += ["_(no R_p measured)_\n"]
    return section(*parts)


def tuner(d: SanityData) -> Section:
    metric = d.p.metric
    parts = ["## The well-trained dense network: keras-tuner\n"]
    if d.inputs.get("tuning") is None:
        return section(*parts, "_(the tuner was switched off: `sanity.tune = False`)_\n")
    trials = d.inputs["tuning"].trials()
    write_csv(d.out / "trials.csv", trials)
    meta = d.inputs["tuning"].best()
    plot_tuning(trials, d.rates, meta["objective_name"], d.out / "tuning.png")
    if not len(trials):
        return section(*parts, "_(the tuner was switched off: `sanity.tune = False`)_\n")
    values = ", ".join(f"{k} = {v:.4g}" for k, v in meta["values"].items())
    return section(*parts,
                   f"Search: {meta['description']}. Best trial {meta['trial']}: {values} "
                   f"({meta['objective_name'].replace('_', ' ')} {meta['objective']:.4f}); retrained "
                   f"per seed it reaches {mean_std_text(d.tuned[metric])} ({metric.replace('_', ' ')}), against the best "
                   f"dense network of the sweep {d.best_sweep.mean():.4f} (lr {d.best_sweep_rate:g}).\n",
                   "![tuner trials](tuning.png)\n",
                   markdown(trials.drop(columns=["key"], errors="ignore"), floatfmt=".4g"))


def _gaps(d: SanityData):
    """The ticket's advantage over RR per rate (non-trivial sparsities), per level, and the
    number of levels with a clear gap, per ticket."""
    p, sweep, metric, rates = d.p, d.sweep, d.p.metric, d.rates
    nontrivial = sorted(int(l) for l in sweep[(sweep.level > 0) & (sweep.sparsity >= p.min_sparsity)].level.unique())
    gaps, clear, per_level = {}, {}, {}
    for ticket in ("lt_imp", "lt_omp", "lt_imp_rewind", "lt_omp_rewind"):
        if (sweep.variant == ticket).any():
            gaps[label(ticket)] = J.rr_gap_by_rate(sweep, metric, ticket, nontrivial)
            by_level = {l: J.rr_gap_by_rate(sweep, metric, ticket, [l]) for l in nontrivial}
            per_level[label(ticket)] = {r: {l: by_level[l].get(r, np.nan) for l in nontrivial} for r in rates}
            rr_name = J.rr_variant_for(ticket, sweep.variant.unique())
            clear[label(ticket)] = {r: (sum(p.rule.clear_gap(J._values(sweep, metric, variant=ticket, level=l, lr=r),
                                                             J._values(sweep, metric, variant=rr_name, level=l, lr=r))
                                            for l in nontrivial), len(nontrivial)) for r in rates}
    return gaps, clear, per_level


def _distances(d: SanityData):
    """Mean |R_p − p| per rate, and R_0.5 per rate, for the dense network and the level's tickets."""
    summary, distances, halves = d.corr_summary, {}, {}
    if len(summary):
        distances["dense R_p(θ_0, θ_T)"] = distance_from_p(summary, "dense")
        halves["dense R_p(θ_0, θ_T)"] = {float(r): float(g.R_p.iloc[0]) for r, g in
                                         summary[(summary.network == "dense") & np.isclose(summary.p, 0.5)].groupby("lr")}
        level = d.p.correlation_levels[0] if d.p.correlation_levels else None
        for network, variant in (("ticket", "lt_imp"), ("rr", "rr_imp")):
            dist = distance_from_p(summary, network, variant, level)
            if dist:
                name = f"{label(variant)} at level {level}"
                distances[name] = dist
                halves[name] = {float(r): float(g.R_p.iloc[0]) for r, g in summary[
                    (summary.network == network) & (summary.variant == variant) & (summary.level == level)
                    & np.isclose(summary.p, 0.5)].groupby("lr")}
    return distances, halves


def findings(d: SanityData) -> Section:
    """The paper's findings on this run; its sentences also open the report."""
    gaps, clear, per_level = _gaps(d)
    distances, halves = _distances(d)
    plot_findings(gaps, distances, d.out / "findings.png")
    level_sparsity = d.sweep[d.sweep.level > 0].groupby("level").sparsity.mean().to_dict()
    seeds = d.sweep.seed.nunique()
    gap_words = [W.gap_finding(name, by_rate, clear[name], per_level[name], level_sparsity, seeds)
                 for name, by_rate in gaps.items()]
    distance_words = [W.distance_finding(name, dist, halves.get(name, {})) for name, dist in distances.items()]
    return section("## Findings on this run\n",
                   "![findings](findings.png)\n",
                   "**Does the ticket's advantage over random reinitialization shrink as the learning rate grows "
                   "(Appendix A)?** " + (" ".join(gap_words) or "No tickets with RR were trained.") + "\n",
                   "**Does R_p(θ_0, θ_T) move toward p as the rate grows (Appendix G)?** "
                   + (" ".join(distance_words) or "R_p was not measured.")
                   + (" The paper's reading: a small rate leaves the large weights of θ_T where they were in θ_0 (strong "
                      "correlation, an under-trained network), and that correlation is what an LT ticket inherits and "
                      "RR lacks." if distance_words else "") + "\n",
                   "**Jackpot.** " + W.jackpot_finding(d.verdicts, d.enough, seeds) + "\n",
                   findings=W.opening_findings(d.verdicts, gap_words, seeds))


def plateau(data: SanityData) -> Section:
    """The plateau check of the dense network at each learning rate of the sweep."""
    return plateau_section(dense_runs(data.inputs["searches"], lambda t: f"lr {t.params.training.lr:g}"), data.out,
                           "learning rate")


SECTIONS = (intro, plateau, verdicts, accuracy, correlation, tuner, findings)
