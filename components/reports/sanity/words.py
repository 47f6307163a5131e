"""The sanity report's words: the findings along the sweep (the ticket's edge over RR, R_p's
distance from p), the jackpot verdict, the epochs condition, networks stuck at chance, the
opening findings paragraph and the definitions (002 Appendices A, B, C, G)."""
import numpy as np
import pandas as pd

from components.reports import text as report_text
from components.reports.names import sanity_label as label
from lth_tf.metrics import jackpot as J
from lth_tf.metrics.verdicts import MIN_SEEDS, NO_NOISE, Stats, VerdictRule


def _points(values) -> str:
    return ", ".join(f"{100 * v:+.1f}" if not np.isnan(v) else "n/a" for v in values)


def _rates(rates) -> str:
    return ", ".join(f"{r:g}" for r in rates)


def gap_finding(name: str, by_rate: dict, clear_counts: dict, per_level: dict, sparsity: dict,
                seeds: int = MIN_SEEDS) -> str:
    """Words for the ticket's advantage over RR along the sweep. `per_level`: {rate: {level: gap}};
    `clear_counts`: {rate: (levels with a clear gap, levels)}; `sparsity`: {level: sparsity};
    `seeds`: with fewer than MIN_SEEDS the clear gaps are no verdict."""
    t = J.trend(by_rate)
    if len([v for v in t.values if not np.isnan(v)]) < 2:
        return f"{name}: not enough rates with both the ticket and RR to tell."
    rho = "" if np.isnan(t.spearman) else f", Spearman ρ(lr, gap) = {t.spearman:+.2f}"
    last_clear, levels_n = clear_counts[t.rates[-1]]
    still = ("at the largest rate it is gone" if t.last <= 0 else f"whether it is still clear at the largest rate: "
             f"{NO_NOISE}" if seeds < MIN_SEEDS else "at the largest rate it is gone" if last_clear == 0 else
             f"at the largest rate it is still clear at {last_clear} of {levels_n} sparsities")
    if t.monotone_decreasing():
        verdict = f"shrinks steadily as the rate grows, as the paper reports; {still}"
    elif t.decreasing() and (np.isnan(t.spearman) or t.spearman <= -0.5):
        verdict = f"tends to shrink as the rate grows (not at every step), as the paper reports; {still}"
    elif t.last < t.first:
        verdict = f"is smaller at the largest rate than at the smallest but does not fall steadily; {still}"
    else:
        verdict = "does not shrink as the rate grows, unlike the paper's CIFAR-10 finding"
    clear = (NO_NOISE if seeds < MIN_SEEDS else
             "; ".join(f"lr {r:g}: {clear_counts[r][0]} of {clear_counts[r][1]}" for r in t.rates))
    levels = sorted(per_level.get(t.rates[0], {}))
    ends = " and ".join(f"at lr {r:g} {_points([per_level.get(r, {}).get(l, np.nan) for l in levels])}"
                        for r in (t.rates[0], t.rates[-1]))
    where = ", ".join(f"{100 * sparsity[l]:.1f}%" for l in levels)
    return (f"{name}: its mean advantage over RR trained at the same rate is {_points(t.values)} points at lr "
            f"{_rates(t.rates)}{rho}; it {verdict}. Per sparsity ({where}): {ends}. Sparsities with a clear gap "
            f"(VerdictRule): {clear}.")


def distance_finding(name: str, by_rate: dict, r_half: dict) -> str:
    t = J.trend(by_rate)
    if len(t.values) < 2:
        return f"{name}: R_p was measured at fewer than two rates."
    halves = ", ".join(f"{r_half[r]:.3f}" for r in t.rates if r in r_half)
    move = ("moves toward p as the rate grows" + (" at every step" if t.monotone_decreasing() else "")
            if t.decreasing() else "does not move toward p as the rate grows")
    return (f"{name}: mean |R_p − p| over p = 0.1 … 0.9 is {', '.join(f'{v:.3f}' for v in t.values)} at lr "
            f"{_rates(t.rates)} (R_0.5 = {halves}): R_p {move}.")


def _pairs(rows) -> str:
    return "; ".join(f"{label(r.ticket)} at {100 * (1 - r.sparsity):.1f}% remaining" for r in rows.itertuples())


def but_epochs_words(verdicts: pd.DataFrame, enough: bool, longer, rule: VerdictRule) -> str:
    """When T is not sufficient: the verdict with only the sparsity half of ①, and whether those
    tickets would also match the dense network trained 2T."""
    if enough or verdicts.empty:
        return ""
    near = verdicts[verdicts.jackpot_but_epochs]
    words = (f"Setting the epochs half of ① aside (were T sufficient), {len(near)} of {len(verdicts)} pairs would "
             f"satisfy every other condition" + (f": {_pairs(near)}." if len(near) else "."))
    if len(near) and len(longer):
        reach = near[[rule.matches(Stats(r.A_LT, 0.0, 1), longer) for r in near.itertuples()]]
        words += (f" Against the dense network trained 2T ({Stats.of(longer).mean:.4f}) "
                  + (f"{len(reach)} of them still match at their best rate ({_pairs(reach)})." if len(reach) else
                     "none of them matches at its best rate: the tickets' T is likely too short as well."))
    return words


def chance_words(sweep: pd.DataFrame, metric: str, num_classes: int, empty: pd.DataFrame) -> str:
    """Networks stuck at chance (below 1.5 / number of classes), and tickets with a layer pruned away."""
    means = sweep[sweep.level > 0].groupby(["variant", "lr", "level"], as_index=False).agg(
        m=(metric, "mean"), s=("sparsity", "mean"))
    stuck = means[means.m < 1.5 / num_classes]
    if stuck.empty:
        return ""
    where = "; ".join(f"{label(r.variant)} at {100 * (1 - r.s):.1f}% remaining, lr {r.lr:g}" for r in stuck.itertuples())
    words = (f" {len(stuck)} (variant, rate, sparsity) cells are at chance (mean {metric.replace('_', ' ')} below "
             f"{1.5 / num_classes:.2f}): {where}.")
    if len(empty):
        words += (" Tickets with a whole layer pruned away by the global magnitude threshold (its mask keeps "
                  "0 weights; RR of such a mask cannot learn either): " + "; ".join(
                      f"{label(r.variant)} {r.layer} at level {r.level}, lr {r.lr:g} ({r.seeds} seed"
                      f"{'s' if r.seeds > 1 else ''})" for r in empty.itertuples()) + ".")
    return words


def opening_findings(verdicts: pd.DataFrame, gap_words: list, seeds: int = MIN_SEEDS) -> list:
    """The report's first paragraph: per ticket, up to which sparsity it wins the jackpot (all
    five conditions) and up to which it matches the dense network at some rate (④), with the
    numbers; then the first sentence on the edge over RR along the sweep."""
    if verdicts.empty:
        return []
    rows = verdicts.assign(name=verdicts.ticket.map(label), matches=verdicts["④"].astype(bool),
                           winning=verdicts.jackpot.astype(bool), value=verdicts.A_LT,
                           reference=verdicts.A_dense_at_best_lr, baselines_beaten="")
    words = [report_text.level_findings(rows, "jackpot tickets (all five conditions of 002 App. B/C)", None, seeds)]
    if not verdicts.jackpot.any() and seeds >= MIN_SEEDS:
        failing = {c: int((~verdicts[c].astype(bool)).sum()) for c in J.CONDITIONS}
        words.append(f"Conditions failing, out of {len(verdicts)} (ticket, sparsity) pairs: "
                     + ", ".join(f"{c} {n}" for c, n in failing.items() if n) + ".")
    words += [w.split(". Per sparsity")[0] + "." for w in gap_words]
    return words


def jackpot_finding(verdicts: pd.DataFrame, enough: bool, seeds: int = MIN_SEEDS) -> str:
    if verdicts.empty:
        return "No tickets were judged."
    if seeds < MIN_SEEDS:
        return f"{NO_NOISE[0].upper() + NO_NOISE[1:]}."
    n = int(verdicts.jackpot.sum())
    words = [f"{n} of {len(verdicts)} (ticket, sparsity) pairs satisfy all five conditions"
             + (f" ({_pairs(verdicts[verdicts.jackpot])})." if n else ".")]
    if not enough:
        words.append(f"T is not sufficient on this run (training twice as long clearly helps the well-trained dense "
                     f"network), so ① fails throughout; {int(verdicts.jackpot_but_epochs.sum())} pairs satisfy the "
                     f"rest.")
    others = {c: int((~verdicts[c]).sum()) for c in J.CONDITIONS[1:]}
    if any(others.values()):
        words.append("Beyond ①, the conditions that fail: " + ", ".join(
            f"{c} ({J.FAILURES[c][2:]}) at {k}" for c, k in others.items() if k) + ".")
        for c in J.CONDITIONS[1:]:
            failed = verdicts[~verdicts[c]]
            if len(failed) and len(failed) < len(verdicts):
                levels = sorted({f"{100 * (1 - s):.1f}%" for s in failed.sparsity}, key=lambda t: -float(t[:-1]))
                words.append(f"{c} fails at {', '.join(levels)} remaining.")
    return " ".join(words)


def definitions(p, rewind_words: str, fraction: float) -> str:
    lines = ["## Definitions\n",
             "- **Ticket**: the pruning mask m with the weights it is rewound to, trained in isolation: LT-IMP / "
             "LT-OMP rewind to θ_0 and train T; WR-IMP / WR-OMP rewind to θ_t (weight rewinding, " + rewind_words +
             f") and train T − t. IMP prunes {100 * fraction:g}% of the remaining weights per level, retraining in "
             "between; OMP prunes the dense θ_T once to each level's sparsity (so IMP's first level is OMP's).",
             "- **RR** (random reinitialization): the same mask on a fresh draw θ'_0, trained the full T from step 0 "
             "(for WR tickets too: θ'_0 ⊙ m has no step-t state).",
             "- **SD** (small-dense): a dense network of the same architecture, its width scaled to the ticket's "
             "parameter count, trained from scratch.",
             "- **Well-trained dense network**: the dense network trained with the recipe the tuner found (the "
             "best validation accuracy over its trials), once per seed; if a dense network of the sweep is better "
             "on average, that stronger one is the reference (the stricter test).",
             *(f"- **{c}** {J.DEFINITIONS[c].format(min_sparsity=p.min_sparsity)}." for c in J.CONDITIONS),
             "- **Jackpot**: all five conditions hold for the ticket at that sparsity (002 Appendix B/C).",
             "- **R_p(θ, θ')** (002 Appendix G, eq. 1): the fraction of the top-p·100% largest-magnitude weights of "
             "each layer (p relative to the layer's remaining weights) that are in the top p·100% of both θ and θ', "
             "summed over the prunable layers; 1 = the same weights are large, ≈ p = unrelated, < p = anti-related. "
             "Layer l's top set has k_l = round(p·N_l) weights (Python's round, half to even) and the sum is divided "
             "by Σ_l k_l, not eq. 1's p·Σ_l N_l (at most half a weight per layer apart), so identical weights give "
             "exactly 1.",
             "- **Verdict rule**: " + p.rule.describe(),
             f"- Accuracies are `{p.metric}` per seed; tables show mean ± std over seeds.\n"]
    return "\n".join(lines)
