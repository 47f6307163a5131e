"""The PrAC report's sections, in report order: accuracy vs sparsity, matching and winning (with
the report's findings), savings at matched accuracy (and with / without early stop), training
iterations, example sets per round, class ratios, mask similarity, transfer, saliency
baselines, the papers' figures (001 Fig. 9, Fig. 2, 000 Fig. A16), the forgetting arms and the
table of every variant."""
import numpy as np
import pandas as pd

from components.reports import text as report_text
from components.reports.plateau import dense_runs, plateau_section
from components.reports.report import plot_accuracy
from components.reports.prac.gather import PracData
from components.reports.prac.plots import plot_bands, plot_class_ratios, plot_similarity, plot_steps
from components.reports.prac.tables import (highest_sparsity, cep_table, class_ratio_table, early_stop_pairs,
                                            mask_similarity_table, set_sizes)
from components.reports.section import Section, markdown, section
from lth_tf.io import write_csv
from lth_tf.metrics.verdicts import MIN_SEEDS, NO_NOISE

def findings(verdicts: pd.DataFrame, saved: pd.DataFrame, main: str) -> list:
    """The opening sentences: per variant, matching tickets (the dense network) with a clear gap
    over random pruning, up to which sparsity; the headline's match with vanilla IMP and its
    saving there."""
    if verdicts.empty:
        return []
    has_random = verdicts.clear_gap_over_random_pruning.notna()
    gap = verdicts.clear_gap_over_random_pruning.fillna(False).astype(bool)
    rows = verdicts.assign(name=verdicts.variant, matches=verdicts.matches_dense.astype(bool),
                           winning=verdicts.matches_dense.astype(bool) & (gap | ~has_random), value=verdicts["mean"],
                           reference=verdicts.dense_mean, baselines_beaten=np.where(gap, "random_pruning", ""))
    seeds = int(verdicts.seeds.min())
    words = [report_text.level_findings(rows, "tickets matching the dense network and clearing random pruning",
                                        None, seeds)]
    if seeds < MIN_SEEDS:  # matching vanilla IMP and the saving there are verdicts too
        return words
    imp = highest_sparsity(verdicts, main, "matches_lt_imp")
    if imp is not None:
        words.append(f"`{main}` matches vanilla IMP up to {report_text.remaining(imp.sparsity)}.")
    row = saved[saved.variant == main] if len(saved) else saved
    if len(row) and row.matched_level.iloc[0] != "none":
        r = row.iloc[0]
        words.append(f"At level {r.matched_level}, the highest where it matches vanilla IMP (001 Fig. 3's rule), it "
                     f"found its mask in {r.search_steps:.0f} training steps against vanilla IMP's "
                     f"{r.search_steps_imp:.0f}: {100 * r.search_saving:.0f}% fewer.")
    return words


def plateau(d: PracData) -> Section:
    """The plateau check of vanilla IMP's dense network (the recipe every variant trains its tickets
    with; PrAC's own first round stops early by design, so it is not judged)."""
    return plateau_section(dense_runs(d.inputs.get("vanilla") or [], lambda t: "vanilla IMP"), d.out, "recipe")


def stopping_rule(frame: pd.DataFrame, main: str) -> str:
    """The sentence naming the early-stopping rule the headline search's rounds ran (results
    without an `early_stop_rule` column predate the choice: they ran Early-Bird's)."""
    needed = {"early_stop", "early_stop_queue", "early_stop_threshold"}
    rows = frame[(frame.variant == main) & (frame.level > 0)] if needed <= set(frame) else frame.iloc[:0]
    if rows.empty:
        return ""
    row = rows.iloc[0]
    if not bool(row.early_stop):
        return f"Early stopping: `{main}`'s rounds ran without early stopping.\n"
    rule = row.get("early_stop_rule", "early_bird")
    rule = "early_bird" if pd.isna(rule) else rule
    queue, threshold = int(row.early_stop_queue), float(row.early_stop_threshold)
    if rule == "prac":
        return (f"Early stopping: `{main}`'s rounds ran the authors' rule (PrAC-LTH `main_PrAC_imp.py`): a round "
                f"ends once the last {queue} consecutive-epoch mask distances, recorded from the first one above "
                f"the threshold, are all below {threshold:g}.\n")
    return (f"Early stopping: `{main}`'s rounds ran Early-Bird's rule (You et al. 2020), not the authors' PrAC rule: "
            f"a round ends once the newest prospective mask is within {threshold:g} of each of the {queue - 1} "
            f"before it.\n")


def accuracy(d: PracData) -> Section:
    p, frame, summary, main_variant, out = d.p, d.frame, d.summary, d.main, d.out
    write_csv(out / "summary.csv", summary)
    main = [main_variant, "lt_imp", "random_pruning", "dense"]
    metric_name = p.metric.replace("_", " ")
    plot_bands(summary, main, metric_name, out / "accuracy_vs_sparsity.png", p.title, d.colors)
    plot_accuracy(summary, metric_name, out / "all_variants_vs_sparsity.png", f"{p.title}: all variants", d.colors)
    if p.metric == "best_val_test_accuracy":
        accuracy_sentence = ("Accuracy is the test accuracy of the best-validation model: the weights at the epoch of "
                             "highest validation accuracy (000 A1: \"we choose the model with the best validation "
                             "accuracy during the training process\"), not the last epoch's")
    else:
        accuracy_sentence = f"Accuracy is `{p.metric}`"
    accuracy_sentence += (f"; {d.fallbacks} of {len(frame)} networks lack it and report the last epoch's test "
                          f"accuracy instead.\n" if d.fallbacks else ".\n")
    return section(f"Study `{p.study}`: {len(frame)} networks, {report_text.seeds(frame.seed)}. "
                   f"Headline PrAC variant: `{main_variant}`.\n",
                   stopping_rule(frame, main_variant), accuracy_sentence,
                   f"## {metric_name} vs sparsity\n",
                   f"Mean over seeds, band ±1 std: {', '.join(main)}.\n", "![accuracy](accuracy_vs_sparsity.png)\n",
                   "![all variants](all_variants_vs_sparsity.png)\n")


def verdicts(d: PracData) -> Section:
    verdicts, main_variant = d.verdicts, d.main
    write_csv(d.out / "verdicts.csv", verdicts)
    parts = ["## Matching and winning\n", f"The rule (the same in every report): {d.rule.describe()}\n",
             markdown(verdicts)]
    one_seed = not verdicts.empty and int(verdicts.seeds.min()) < MIN_SEEDS
    for column, what in (("matches_dense", "matches the dense network"), ("matches_lt_imp", "matches vanilla IMP")):
        hit = highest_sparsity(verdicts, main_variant, column) if not verdicts.empty else None
        if one_seed:  # the table's columns apply the rule; a sentence would state them as a finding
            parts.append(f"Whether `{main_variant}` {what}: {NO_NOISE}.\n")
            continue
        parts.append(f"`{main_variant}` {what} up to {100 * hit.sparsity:.1f}% sparsity (level {int(hit.level)}).\n"
                     if hit is not None else f"`{main_variant}` {what} at no level.\n")
    return section(*parts, findings=findings(verdicts, d.saved, main_variant))


def savings(d: PracData) -> Section:
    saved = d.saved
    write_csv(d.out / "savings.csv", saved)
    pairs = early_stop_pairs(d.frame, d.main, saved)
    write_csv(d.out / "savings_early_stop.csv", pairs)
    parts = ["## Savings at matched accuracy\n",
             "Matched, as the paper defines it (001 Fig. 3 caption): a variant's mean accuracy over seeds is "
             "within one standard deviation *of vanilla IMP's* accuracy over seeds (`std_imp`; its own spread "
             "does not count; being above vanilla counts as matched; numerically this is VerdictRule's matching with "
             "vanilla IMP as the reference). At the highest sparsity where a variant "
             "matches, the training iterations it saved: `search_saving` counts the steps that found the mask, "
             "`train_steps_saving` adds the ticket's own training (the same for both).\n", markdown(saved)]
    if not pairs.empty:
        parts += ["### With and without early stopping (001 Fig. 8)\n",
                  "The headline PrAC search beside the same search with early-bird stop switched: iterations to "
                  "find the ticket at each one's highest matched sparsity, and vanilla IMP's at that sparsity.\n",
                  markdown(pairs, floatfmt=".4g")]
    headline = saved[saved.variant == d.main] if not saved.empty else saved
    return section(*parts, search_saving=None if headline.empty else headline["search_saving"].iloc[0])


def steps(d: PracData) -> Section:
    plot_steps(d.summary, d.out / "train_steps_vs_sparsity.png", d.colors)
    return section("## Training iterations per ticket\n", "![steps](train_steps_vs_sparsity.png)\n",
                   markdown(d.summary.pivot_table(index="level", columns="variant", values="search_steps").reset_index(),
                            floatfmt=".0f"))


def example_sets(d: PracData) -> Section:
    sizes = set_sizes(d.inputs)
    write_csv(d.out / "set_sizes.csv", sizes)
    ceps = cep_table(sizes, d.main)
    write_csv(d.out / "cep_table.csv", ceps)
    parts = []
    if not sizes.empty:
        parts += ["## Example sets per round\n",
                  "Sizes (numbers of examples). Round r trains on D, then: CET = examples forgotten more than E_F times; CEP = examples of "
                  "the full training set on which the full dense network and the subnetwork disagree (001 §3.1 "
                  "Approach II, Algorithm 1 line 10) — here, as in the authors' released code, the dense network "
                  "trained in round 1 against round r's trained subnetwork (mask m_{r-1}, of the 'CEP subnetwork "
                  "sparsity'), both at their best-validation epoch, so round 1's CEP is empty; next set = what "
                  "the variant keeps (PrAC: CET ∪ CEP); overlap rate = |CEP ∩ CET| / |CEP|.\n",
                  markdown(sizes, floatfmt=".3f")]
    if not ceps.empty:
        parts += [f"### CEP, CET and PrAC sizes of `{d.main}` (the layout of 001 Table A3)\n",
                  "The paper finds |CEP| growing with the subnetwork's sparsity and the overlap rate falling.\n",
                  markdown(ceps, floatfmt=".3f")]
    return section(*parts)


def class_ratios(d: PracData) -> Section:
    ratios = class_ratio_table(d.inputs, d.main)
    if ratios.empty:
        return Section()
    plot_class_ratios(ratios, d.out / "class_ratios.png", d.main)
    return section("## Class-wise ratios\n", "![class ratios](class_ratios.png)\n")


def similarity(d: PracData) -> Section:
    similarity = mask_similarity_table(d.inputs)
    write_csv(d.out / "mask_similarity.csv", similarity)
    if similarity.empty:
        return Section()
    plot_similarity(similarity, d.out / "mask_similarity.png", d.colors)
    table = similarity.groupby(["pair", "level"], as_index=False)[["sparsity", "similarity", "random_expectation"]].mean()
    return section("## Mask similarity\n", "![mask similarity](mask_similarity.png)\n", markdown(table))


def transfer(d: PracData) -> Section:
    transfer = d.summary[d.summary.variant.str.contains("@")]
    if transfer.empty:
        return Section()
    return section("## Transfer across architectures\n",
                   "`prac_transfer@M` trains architecture M on the example sets another architecture's PrAC search "
                   "chose, round by round; compare with M's own PrAC (`prac@M`) and vanilla IMP (`lt_imp@M`).\n",
                   markdown(transfer.pivot_table(index="level", columns="variant", values="mean").reset_index()))


def saliency(d: PracData) -> Section:
    if not any(v.split("_")[0] in ("snip", "grasp", "synflow") for v in d.summary.variant.unique()):
        return Section()
    return section("## Iterative SNIP / GraSP / SynFlow\n",
                   "Each is trained between pruning steps with the headline PrAC search's per-round iterations and "
                   "example sets (001 §4.3: \"with the training iterations and the number of training data "
                   "consistent with our approaches\"), scored at the round's trained weights, and its tickets "
                   "trained like PrAC's (variants ending in `_init`: scored at initialization only).\n")


def all_variants(d: PracData) -> Section:
    return section("## All variants (mean ± std over seeds)\n", markdown(d.summary))
