"""SanityReport: the sanity-check study's report (paper 002, Appendices A, B, C, G).

Inputs by role (every row is labelled from the artifacts' own parameters, so nothing depends on
the order the pipeline passed them in):
- searches: MaskSearch artifacts of the sweep (LT-IMP, LT-OMP, WR-IMP, WR-OMP at every rate and
  seed; the learning rate is read from each search's TrainingHparams);
- baselines: SparseTraining artifacts on them (RR, SD);
- correlation: WeightCorrelation tables (R_p);
- well_trained / longer: the tuned recipe's dense network per seed, at T and at 2T epochs;
- tuning: the Tuning artifact (keras-tuner's trials), optional.

Outputs: results.csv (every evaluated network, with `lr`), verdicts.csv (the five conditions per
ticket and sparsity), correlation.csv, trials.csv, accuracy.csv (mean ± std per rate, variant and
level), report.md and its PNGs: accuracy_by_rate.png (Fig. A.1 / D.*: one panel per rate, all
variants), correlation_L<level>.png (Fig. G.1), findings.png (the ticket's advantage over RR and
R_p's distance from p along the sweep) and tuning.png (the tuner's trials).

Opens with a findings paragraph (jackpot tickets per mask method up to which sparsity, the
failing conditions, the edge over RR along the sweep) and ends with a glossary. Over 300 lines
because the verdict's five conditions and the sweep's findings are put in words here; the plots
are in sanity_plots.py.
"""
import dataclasses
from pathlib import Path
from typing import Tuple

import gin
import numpy as np
import pandas as pd

from components import mask_search  # noqa: E402
from components.artifacts import tickets as T  # noqa: E402
from components import report_text  # noqa: E402
from components.sanity_plots import (LABELS, STYLE, SWEEP_ORDER, label, plot_accuracy,  # noqa: E402,F401
                                     plot_correlation, plot_findings, plot_tuning)
from components.report import markdown  # noqa: E402
from components.spec import ComponentSpec  # noqa: E402
from lth_tf.data import load_dataset  # noqa: E402
from lth_tf.errors import ConfigError  # noqa: E402
from lth_tf.io import read_json, write_csv, write_text  # noqa: E402
from lth_tf.metrics import jackpot as J  # noqa: E402
from lth_tf.metrics.verdicts import Stats, VerdictRule  # noqa: E402
from lth_tf.sparsity import masks as M  # noqa: E402

@gin.configurable
@dataclasses.dataclass(frozen=True)
class SanityReportParams:
    study: str = "sanity"
    title: str = "sanity checks for lottery tickets"
    rule: VerdictRule = dataclasses.field(default_factory=VerdictRule)
    metric: str = "test_accuracy"  # judged per seed; or 'best_val_test_accuracy'
    min_sparsity: float = 0.5  # condition ①: the smallest sparsity called non-trivial
    rewind: str = "5%"  # as the pipeline was given it (for the words)
    correlation_levels: Tuple[int, ...] = (2, 5)  # levels whose R_p (ticket, RR) is plotted

    def __post_init__(self):
        J.check_min_sparsity(self.min_sparsity, "SanityReportParams.min_sparsity")
        if self.metric not in ("test_accuracy", "best_val_test_accuracy", "val_accuracy"):
            raise ConfigError(f"SanityReportParams.metric={self.metric!r}: judge 'test_accuracy' (the last epoch's), "
                              f"'best_val_test_accuracy' (the best-validation epoch's) or 'val_accuracy'.")
        object.__setattr__(self, "correlation_levels", tuple(int(l) for l in self.correlation_levels))


# ---------------------------------------------------------------------------------------------
# Gathering
# ---------------------------------------------------------------------------------------------

def _search_rows(artifact, **extra) -> pd.DataFrame:
    search = T.search_params(artifact)
    frame = pd.read_csv(artifact.path / "results.csv")
    frame["lr"] = search.training.lr
    frame["weight_decay"] = search.training.weight_decay
    frame["search"] = artifact.path.name
    for k, v in extra.items():
        frame[k] = v
    return frame


def _lr_of_tickets(path: str, known: dict):
    if path in known:
        return known[path]
    params = read_json(Path(path) / "artifact.json")["parameters"]["training"]
    return params["lr"], params["weight_decay"]


def gather(inputs) -> Tuple[pd.DataFrame, dict]:
    """(results frame of the sweep and the extra networks, checks): the dense network once per
    rate and seed (from the first init-rewound search), with the copies' agreement checked."""
    searches = inputs["searches"]
    rates_of = {}
    frames, dense_copies = [], []
    for artifact in searches:
        frame = _search_rows(artifact)
        rates_of[str(artifact.path)] = (float(frame.lr.iloc[0]), float(frame.weight_decay.iloc[0]))
        dense_copies.append(frame[frame.level == 0])
        frames.append(frame[frame.level > 0])
    dense = pd.concat(dense_copies, ignore_index=True)
    spread = dense.groupby(["lr", "seed"])["test_accuracy"].agg(lambda v: float(v.max() - v.min()))
    dense = dense.sort_values(["lr", "seed", "rewind_step", "method"]).drop_duplicates(["lr", "seed"], keep="first")
    frames.insert(0, dense)
    for artifact in inputs.get("baselines", []):
        frame = pd.read_csv(artifact.path / "results.csv")
        tickets = artifact.metadata["inputs"]["tickets"]  # resolved: artifact.json stores it relative
        frame["lr"], frame["weight_decay"] = _lr_of_tickets(tickets, rates_of)
        frames.append(frame)
    for role, variant in (("well_trained", "dense_well_trained"), ("longer", "dense_well_trained_2T")):
        for artifact in inputs.get(role, []):
            frame = _search_rows(artifact)
            frame["variant"] = variant
            frames.append(frame)
    if inputs.get("tuning") is not None and (inputs["tuning"].path / "results.csv").exists():
        trials = pd.read_csv(inputs["tuning"].path / "results.csv")
        if len(trials):
            trials["lr"] = trials["lr_tuned"]
            trials["weight_decay"] = trials.get("tuned_weight_decay", np.nan)
            frames.append(trials)
    results = pd.concat(frames, ignore_index=True)
    return results, {"dense_copies_max_spread": float(spread.max()) if len(spread) else 0.0}


def omp_masks_shared(searches) -> Tuple[bool, int]:
    """Whether the WR-OMP masks are the LT-OMP masks (same rate, seed, level): (all equal, pairs
    compared). One-shot masks come from the same dense θ_T, so they should be."""
    by_key = {}
    for artifact in searches:
        search = T.search_params(artifact)
        if search.pruning.method == "omp":
            by_key.setdefault((search.training.lr, search.seed), {})[search.pruning.rewind != "0it"] = artifact
    compared, equal = 0, True
    for pair in by_key.values():
        if False in pair and True in pair:
            for level in T.finished_levels(pair[False].path):
                if level == 0 or level not in T.finished_levels(pair[True].path):
                    continue
                a = M.load_masks(T.level_dir(pair[False].path, level) / "mask.npz")
                b = M.load_masks(T.level_dir(pair[True].path, level) / "mask.npz")
                equal &= all(np.array_equal(a[k], b[k]) for k in a)
                compared += 1
    return bool(equal), compared


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

def _ms(values) -> str:
    s = Stats.of(values)
    return "" if not s.n else f"{s.mean:.4f} ± {s.std:.4f}"


def accuracy_table(sweep: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per rate and level: mean ± std over seeds of every variant (columns in SWEEP_ORDER)."""
    rows = []
    for (rate, level), group in sweep.groupby(["lr", "level"]):
        row = {"lr": rate, "level": int(level), "weights remaining %": 100 * (1 - group.sparsity.mean())}
        for variant in ("dense",) + SWEEP_ORDER:
            values = group[group.variant == variant][metric]
            if len(values):
                row[label(variant)] = _ms(values)
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def verdict_markdown(verdicts: pd.DataFrame) -> pd.DataFrame:
    if verdicts.empty:
        return verdicts
    mark = {True: "✓", False: "✗"}
    return pd.DataFrame({
        "ticket": verdicts.ticket.map(label), "level": verdicts.level,
        "weights remaining %": [f"{100 * (1 - v):.1f}" for v in verdicts.sparsity],
        **{c: verdicts[c].map(mark) for c in J.CONDITIONS},
        "jackpot": verdicts.jackpot.map({True: "★ jackpot", False: "—"}),
        "but for epochs": verdicts.jackpot_but_epochs.map({True: "✓", False: "✗"}),
        "failing": verdicts.failing.replace("", "none"),
        "best lr": [f"{v:g}" for v in verdicts.best_lr], "A_LT": verdicts.A_LT, "RR": verdicts.rr.map(label),
        "A_RR (best lr)": verdicts.A_RR, "A_SD (best lr)": verdicts.A_SD,
        "A_dense (ticket's best lr)": verdicts.A_dense_at_best_lr, "A_well-trained": verdicts.A_well_trained,
        "③ at lr": verdicts.gap_rates, "④ at lr": verdicts.dense_match_rates, "⑤ at lr": verdicts.well_trained_rates})


def correlation_summary(corr: pd.DataFrame) -> pd.DataFrame:
    """Mean R_p over seeds per (network, variant, level, rate, p)."""
    if corr.empty:
        return corr
    keep = corr[(corr.network != "dense") | (corr.rewind_step == 0)]
    return keep.groupby(["network", "variant", "level", "lr", "p"], as_index=False).agg(
        sparsity=("sparsity", "mean"), R_p=("R_p", "mean"), seeds=("seed", "nunique"))


def correlation_table(summary: pd.DataFrame, levels) -> pd.DataFrame:
    """Rows: dense and, at each correlation level, the tickets and RR, per rate; columns: p."""
    if summary.empty:
        return summary
    picked = summary[(summary.network == "dense") | summary.level.isin(levels)]
    picked = picked[~picked.variant.str.endswith("_rewind") | (picked.network == "ticket")]
    table = picked.pivot_table(index=["network", "variant", "level", "lr"], columns="p", values="R_p").reset_index()
    order = {"dense": 0, "ticket": 1, "rr": 2}
    table = table.sort_values(["level", "network", "variant", "lr"], key=lambda c: c.map(order) if c.name == "network"
                              else c).reset_index(drop=True)
    names = {"dense": "R_p(θ_0, θ_T)", "ticket": "R_p(θ_0⊙m, θ_T⊙m)", "rr": "R_p(θ'_0⊙m, θ'_T⊙m)"}
    network = [("R_p(θ_t⊙m, θ_T⊙m)" if n == "ticket" and v.endswith("_rewind") else names[n])
               for n, v in zip(table.network, table.variant)]
    table.pop("network")
    table.insert(0, "network", network)
    table["variant"] = table.variant.map(label)
    table.columns = [f"p={c:g}" if isinstance(c, float) else c for c in table.columns]
    return table


def distance_from_p(summary: pd.DataFrame, network: str, variant: str = None, level: int = None) -> dict:
    """{rate: mean over p of |R_p − p|} (0: the large weights of the two collections look independent)."""
    rows = summary[summary.network == network]
    if variant is not None:
        rows = rows[rows.variant == variant]
    if level is not None:
        rows = rows[rows.level == level]
    return {float(r): float(np.mean(np.abs(g.R_p - g.p))) for r, g in rows.groupby("lr")}


# ---------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------

def _points(values) -> str:
    return ", ".join(f"{100 * v:+.1f}" if not np.isnan(v) else "n/a" for v in values)


def _rates(rates) -> str:
    return ", ".join(f"{r:g}" for r in rates)


def gap_finding(name: str, by_rate: dict, clear_counts: dict, per_level: dict, sparsity: dict) -> str:
    """Words for the ticket's advantage over RR along the sweep. `per_level`: {rate: {level: gap}};
    `clear_counts`: {rate: (levels with a clear gap, levels)}; `sparsity`: {level: sparsity}."""
    t = J.trend(by_rate)
    if len([v for v in t.values if not np.isnan(v)]) < 2:
        return f"{name}: not enough rates with both the ticket and RR to tell."
    rho = "" if np.isnan(t.spearman) else f", Spearman ρ(lr, gap) = {t.spearman:+.2f}"
    last_clear, levels_n = clear_counts[t.rates[-1]]
    still = ("at the largest rate it is gone" if t.last <= 0 or last_clear == 0 else
             f"at the largest rate it is still clear at {last_clear} of {levels_n} sparsities")
    if t.monotone_decreasing():
        verdict = f"shrinks steadily as the rate grows, as the paper reports; {still}"
    elif t.decreasing() and (np.isnan(t.spearman) or t.spearman <= -0.5):
        verdict = f"tends to shrink as the rate grows (not at every step), as the paper reports; {still}"
    elif t.last < t.first:
        verdict = f"is smaller at the largest rate than at the smallest but does not fall steadily; {still}"
    else:
        verdict = "does not shrink as the rate grows, unlike the paper's CIFAR-10 finding"
    clear = "; ".join(f"lr {r:g}: {clear_counts[r][0]} of {clear_counts[r][1]}" for r in t.rates)
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


def empty_layers(searches) -> pd.DataFrame:
    """(variant, lr, level, layer, seeds) of ticket layers that keep none of their weights (a
    global magnitude threshold can prune a whole layer), from each level's sparsity.csv."""
    rows = []
    for artifact in searches:
        search = T.search_params(artifact)
        variant = mask_search.variant_name(search.pruning.method, int(search.pruning.rewind != "0it"))
        for level in T.finished_levels(artifact.path):
            table = T.level_dir(artifact.path, level) / "sparsity.csv"
            if level and table.exists():
                layers = pd.read_csv(table)
                for layer in layers[(layers.layer != "total") & (layers.kept == 0)].layer:
                    rows.append({"variant": variant, "lr": search.training.lr, "level": level, "layer": layer,
                                 "seed": search.seed})
    frame = pd.DataFrame(rows, columns=["variant", "lr", "level", "layer", "seed"])
    return frame.groupby(["variant", "lr", "level", "layer"], as_index=False).agg(seeds=("seed", "nunique"))


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
        words += (" Tickets with a whole layer pruned away by the global magnitude threshold (its sparsity.csv keeps "
                  "0 weights; RR of such a mask cannot learn either): " + "; ".join(
                      f"{label(r.variant)} {r.layer} at level {r.level}, lr {r.lr:g} ({r.seeds} seed"
                      f"{'s' if r.seeds > 1 else ''})" for r in empty.itertuples()) + ".")
    return words


def opening_findings(verdicts: pd.DataFrame, gap_words: list) -> list:
    """The report's first paragraph: per ticket, up to which sparsity it wins the jackpot (all
    five conditions) and up to which it matches the dense network at some rate (④), with the
    numbers; then the first sentence on the edge over RR along the sweep."""
    if verdicts.empty:
        return []
    rows = verdicts.assign(name=verdicts.ticket.map(label), matches=verdicts["④"].astype(bool),
                           winning=verdicts.jackpot.astype(bool), value=verdicts.A_LT,
                           reference=verdicts.A_dense_at_best_lr, baselines_beaten="")
    words = [report_text.level_findings(rows, "jackpot tickets (all five conditions of 002 App. B/C)", None)]
    if not verdicts.jackpot.any():
        failing = {c: int((~verdicts[c].astype(bool)).sum()) for c in J.CONDITIONS}
        words.append(f"Conditions failing, out of {len(verdicts)} (ticket, sparsity) pairs: "
                     + ", ".join(f"{c} {n}" for c, n in failing.items() if n) + ".")
    words += [w.split(". Per sparsity")[0] + "." for w in gap_words]
    return words


def jackpot_finding(verdicts: pd.DataFrame, enough: bool) -> str:
    if verdicts.empty:
        return "No tickets were judged."
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


def definitions(p: SanityReportParams, rewind_words: str, fraction: float) -> str:
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
             "summed over the prunable layers; 1 = the same weights are large, ≈ p = unrelated, < p = anti-related.",
             "- **Verdict rule**: " + p.rule.describe(),
             f"- Accuracies are `{p.metric}` per seed; tables show mean ± std over seeds.\n"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Execute
# ---------------------------------------------------------------------------------------------

def execute(p: SanityReportParams, inputs, out: Path, ctx):
    results, checks = gather(inputs)
    ordered = T.results_frame(results)  # the contract's columns first, the rest sorted
    ordered.insert(0, "study", p.study)
    write_csv(out / "results.csv", ordered)
    metric = p.metric
    sweep = results[results.variant.isin(("dense",) + SWEEP_ORDER)].copy()
    rates = sorted(sweep.lr.unique())
    first = T.search_params(inputs["searches"][0])
    total_epochs = first.training.budget
    tuned = results[results.variant == "dense_well_trained"]
    longer = results[results.variant == "dense_well_trained_2T"]
    # The well-trained reference: the tuned recipe, or a stronger dense network of the sweep.
    dense_by_rate = J.by_rate(sweep, metric, "dense")
    best_sweep_rate, best_sweep = max(dense_by_rate.items(), key=lambda kv: kv[1].mean())
    recipe = "the tuned recipe" if inputs.get("tuning") is not None else "the base recipe (`sanity.tune = False`)"
    reference, reference_words = tuned[metric], recipe
    if tuned.empty or best_sweep.mean() > tuned[metric].mean():
        reference = best_sweep
        reference_words = (f"the sweep's dense network at lr {best_sweep_rate:g} (better on average than {recipe}, so "
                           f"the stricter reference)" if len(tuned) else
                           f"the sweep's best dense network (lr {best_sweep_rate:g})")
    enough = J.epochs_sufficient(tuned[metric], longer[metric], p.rule) if len(tuned) and len(longer) else True
    verdicts = J.jackpot_verdicts(sweep, metric, p.rule, reference, enough, p.min_sparsity,
                                  tickets=[v for v in SWEEP_ORDER if v.startswith("lt_")])
    write_csv(out / "verdicts.csv", verdicts)
    table = accuracy_table(sweep, metric)
    write_csv(out / "accuracy.csv", table)
    plot_accuracy(sweep, metric, reference, out / "accuracy_by_rate.png")

    corr = pd.concat([pd.read_csv(a.path / "correlation.csv") for a in inputs.get("correlation", [])
                      if (a.path / "correlation.csv").stat().st_size > 1], ignore_index=True) \
        if inputs.get("correlation") else pd.DataFrame()
    if len(corr):
        write_csv(out / "correlation.csv", corr)
    summary = correlation_summary(corr)
    corr_plots = [level for level in p.correlation_levels if len(summary)
                  and plot_correlation(summary, level, out / f"correlation_L{level:02d}.png")]

    # The paper's finding on this run.
    nontrivial = sorted(int(l) for l in sweep[(sweep.level > 0) & (sweep.sparsity >= p.min_sparsity)].level.unique())
    gaps, clear, per_level = {}, {}, {}
    level_sparsity = sweep[sweep.level > 0].groupby("level").sparsity.mean().to_dict()
    for ticket in ("lt_imp", "lt_omp", "lt_imp_rewind", "lt_omp_rewind"):
        if (sweep.variant == ticket).any():
            gaps[label(ticket)] = J.rr_gap_by_rate(sweep, metric, ticket, nontrivial)
            by_level = {l: J.rr_gap_by_rate(sweep, metric, ticket, [l]) for l in nontrivial}
            per_level[label(ticket)] = {r: {l: by_level[l].get(r, np.nan) for l in nontrivial} for r in rates}
            rr_name = J.rr_variant_for(ticket, sweep.variant.unique())
            clear[label(ticket)] = {r: (sum(p.rule.clear_gap(J._values(sweep, metric, variant=ticket, level=l, lr=r),
                                                             J._values(sweep, metric, variant=rr_name, level=l, lr=r))
                                            for l in nontrivial), len(nontrivial)) for r in rates}
    distances, halves = {}, {}
    if len(summary):
        distances["dense R_p(θ_0, θ_T)"] = distance_from_p(summary, "dense")
        halves["dense R_p(θ_0, θ_T)"] = {float(r): float(g.R_p.iloc[0]) for r, g in
                                         summary[(summary.network == "dense") & np.isclose(summary.p, 0.5)].groupby("lr")}
        level = p.correlation_levels[0] if p.correlation_levels else None
        for network, variant in (("ticket", "lt_imp"), ("rr", "rr_imp")):
            d = distance_from_p(summary, network, variant, level)
            if d:
                name = f"{label(variant)} at level {level}"
                distances[name] = d
                halves[name] = {float(r): float(g.R_p.iloc[0]) for r, g in summary[
                    (summary.network == network) & (summary.variant == variant) & (summary.level == level)
                    & np.isclose(summary.p, 0.5)].groupby("lr")}
    plot_findings(gaps, distances, out / "findings.png")

    trials = pd.DataFrame()
    if inputs.get("tuning") is not None:
        trials = pd.read_csv(inputs["tuning"].path / "trials.csv")
        write_csv(out / "trials.csv", trials)
        tuning_meta = read_json(inputs["tuning"].path / "best.json")
        plot_tuning(trials, rates, tuning_meta["objective_name"], out / "tuning.png")

    # --- report.md ---
    wr_step = int(results[results.variant == "lt_imp_rewind"].rewind_step.iloc[0]) \
        if (results.variant == "lt_imp_rewind").any() else None
    own_steps = results[(results.variant == "dense")].own_steps.iloc[0] if "own_steps" in results else float("nan")
    rewind_words = (f"`sanity.rewind = '{p.rewind}'`: t = {wr_step} of T = {int(own_steps)} steps" if wr_step else
                    f"`sanity.rewind = '{p.rewind}'`")
    seeds = sorted(sweep.seed.unique().tolist())
    levels = sorted(int(l) for l in sweep[sweep.level > 0].level.unique())
    shared, pairs = omp_masks_shared(inputs["searches"])
    setup = (f"**Setup.** {first.model.name} on {first.dataset.name}; the recipe {first.training.budget} "
             f"(batch {first.training.batch_size}, momentum {first.training.momentum:g}, weight decay "
             f"{first.training.weight_decay:g}, schedule {first.training.schedule}"
             + (f" at {', '.join(first.training.milestones)}" if first.training.milestones else "")
             + (f", warm-up {first.training.warmup}" if first.training.warmup not in ("0it", "0ep") else "")
             + f") at each learning rate of the sweep {_rates(rates)}; seeds {seeds}; "
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
                    + chance_words(sweep, metric, load_dataset(first.dataset).num_classes,
                                   empty_layers(inputs["searches"])) + "\n")
    sections = [f"# {p.title}\n",
                "Paper 002 (Ma et al., NeurIPS 2021, *Sanity Checks for Lottery Tickets*) asks whether a winning "
                "ticket *really* wins the jackpot: whether its edge over random reinitialization survives a properly "
                "tuned learning rate. This run repeats its sanity check (Appendices A, B, C, G) on the configuration "
                "below.\n", setup, checks_words, definitions(p, rewind_words, first.pruning.fraction)]
    # Verdicts
    n_jackpot = int(verdicts.jackpot.sum()) if len(verdicts) else 0
    fail_counts = {c: int((~verdicts[c]).sum()) for c in J.CONDITIONS} if len(verdicts) else {}
    reference_mean = Stats.of(reference).mean
    ep_words = (f"Sufficient epochs (①): the well-trained recipe at T = {total_epochs} reaches "
                f"{_ms(tuned[metric])}, at 2T {_ms(longer[metric])}: "
                + ("no clear gain, so T is sufficient." if enough else "a clear gain, so T is **not** sufficient "
                   "and condition ① fails at every sparsity.")) if len(tuned) and len(longer) else \
        "Sufficient epochs (①) was not checked (no tuned recipe): taken as met."
    sections += ["## The verdict, per sparsity and mask method (Appendix B/C)\n",
                 f"The well-trained dense reference is {reference_words}: {reference_mean:.4f}. {ep_words}\n",
                 (f"**{n_jackpot} of {len(verdicts)}** (ticket, sparsity) pairs win the jackpot"
                  + (": " + "; ".join(f"{label(r.ticket)} at {100 * (1 - r.sparsity):.1f}% remaining (best lr "
                                      f"{r.best_lr:g})" for r in verdicts[verdicts.jackpot].itertuples())
                     if n_jackpot else "") + ". Conditions failing, out of "
                  f"{len(verdicts)}: " + ", ".join(f"{c} {n}" for c, n in fail_counts.items()) + ". "
                  + but_epochs_words(verdicts, enough, longer[metric], p.rule) + "\n")
                 if len(verdicts) else "_(no tickets)_\n",
                 markdown(verdict_markdown(verdicts)),
                 "## Accuracy vs. sparsity at each learning rate (Fig. A.1 / D.*)\n",
                 "![accuracy by learning rate](accuracy_by_rate.png)\n",
                 "Solid: tickets (LT, WR); dotted: their random reinitializations (RR); dashed green: small-dense; "
                 "black dashed: the dense network at that rate; gray dash-dotted: the well-trained dense reference.\n",
                 markdown(table, floatfmt=".4g")]
    # R_p
    sections += ["## The correlation indicator R_p (Appendix G)\n"]
    if len(summary):
        sections += [f"![R_p at level {l}](correlation_L{l:02d}.png)\n" for l in corr_plots]
        sections += [markdown(correlation_table(summary, p.correlation_levels), floatfmt=".3f")]
    else:
        sections += ["_(no R_p measured)_\n"]
    # Tuner
    sections += ["## The well-trained dense network: keras-tuner\n"]
    if len(trials):
        values = ", ".join(f"{k} = {v:.4g}" for k, v in tuning_meta["values"].items())
        sections += [f"Search: {tuning_meta['description']}. Best trial {tuning_meta['trial']}: {values} "
                     f"({tuning_meta['objective_name'].replace('_', ' ')} {tuning_meta['objective']:.4f}); retrained "
                     f"per seed it reaches {_ms(tuned[metric])} ({metric.replace('_', ' ')}), against the best "
                     f"dense network of the sweep {best_sweep.mean():.4f} (lr {best_sweep_rate:g}).\n",
                     "![tuner trials](tuning.png)\n",
                     markdown(trials.drop(columns=["key"], errors="ignore"), floatfmt=".4g")]
    else:
        sections += ["_(the tuner was switched off: `sanity.tune = False`)_\n"]
    # Findings
    gap_words = [gap_finding(name, by_rate, clear[name], per_level[name], level_sparsity)
                 for name, by_rate in gaps.items()]
    distance_words = [distance_finding(name, d, halves.get(name, {})) for name, d in distances.items()]
    sections += ["## Findings on this run\n",
                 "![findings](findings.png)\n",
                 "**Does the ticket's advantage over random reinitialization shrink as the learning rate grows "
                 "(Appendix A)?** " + (" ".join(gap_words) or "No tickets with RR were trained.") + "\n",
                 "**Does R_p(θ_0, θ_T) move toward p as the rate grows (Appendix G)?** "
                 + (" ".join(distance_words) or "R_p was not measured.")
                 + (" The paper's reading: a small rate leaves the large weights of θ_T where they were in θ_0 (strong "
                    "correlation, an under-trained network), and that correlation is what an LT ticket inherits and "
                    "RR lacks." if distance_words else "") + "\n",
                 "**Jackpot.** " + jackpot_finding(verdicts, enough) + "\n"]
    sections.insert(1, report_text.findings_section(opening_findings(verdicts, gap_words)))
    text = "\n".join(sections)
    write_text(out / "report.md", text + "\n" + report_text.glossary(text))
    return {"rows": len(results), "jackpots": n_jackpot, "verdict_rows": len(verdicts),
            "epochs_sufficient": bool(enough)}


SPEC = ComponentSpec(name="SanityReport", inputs={"searches": "Tickets*", "baselines": "Trained*?",
                                                  "correlation": "Table*?", "well_trained": "Tickets*?",
                                                  "longer": "Tickets*?", "tuning": "Tuning?"},
                     output="Report", params=SanityReportParams, executor=execute,
                     version=2)  # 2: findings paragraph, glossary, shared colours
