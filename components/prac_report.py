"""PracReport: the PrAC study's report -> results.csv, report.md and plots.

Inputs are grouped by role, and rows are labelled by their group, so baselines produced by the
generic components get the study's names:
  prac (PracMaskSearch artifacts; their own variant names: prac, prac_es, cet_only, ...),
  vanilla (MaskSearch, IMP on all data -> lt_imp, and the dense network at level 0),
  random_pruning (MaskSearch, method random -> random_pruning),
  random_tickets (SparseTraining rr on PrAC tickets -> random_ticket),
  saliency (SaliencyTickets -> snip / grasp / synflow),
  vanilla_reference (IMP from the same init with another data order -> lt_imp_other_order,
  the reference for mask similarity), transfer (another architecture's searches -> variant@model).
forgetting_arms (ForgettingBySparsity on vanilla IMP's tickets: 000 Fig. A16's own section).
The dense network appears once per seed (vanilla's level 0 when there is one).

Accuracy: `metric` (default `best_val_test_accuracy`, the test accuracy of the weights at the
epoch of best validation accuracy: 000 A1, "we choose the model with the best validation
accuracy during the training process"); rows without it fall back to the last epoch's
`test_accuracy`, and the report counts them. results.csv gets the value used as
`reported_accuracy`.

Writes: results.csv; summary.csv; savings.csv (for each PrAC-family variant, the saving of
training iterations at the highest sparsity where it matches vanilla IMP by the paper's rule,
`lth_tf.metrics.prac.matches_vanilla`: mean within one standard deviation *of vanilla IMP* over
seeds, 001 Fig. 3); savings_early_stop.csv (the headline PrAC and its counterpart with / without
early stop side by side, 001 Fig. 8); verdicts.csv (matching / clear gap by
`lth_tf.metrics.verdicts.VerdictRule`, the one rule for every such judgement here);
set_sizes.csv (per round |D|, |CET|, |CEP|, |PrAC|, overlap rate, the sparsity of the
subnetwork CEP compared); cep_table.csv (001 Table A3's layout); mask_similarity.csv; plots
accuracy_vs_sparsity.png (PrAC / vanilla / random pruning / dense with std bands),
all_variants_vs_sparsity.png, train_steps_vs_sparsity.png, mask_similarity.png,
class_ratios.png; report.md linking them.

Opens with a findings paragraph (matching tickets per variant up to which sparsity, with a clear
gap over random pruning; the headline's match with vanilla IMP and its saving) and ends with a
glossary. Over 300 lines because it gathers and tabulates eight analyses; the plots, including
001 Fig. 2 / Fig. 9 and 000 Fig. A16, are in prac_figures.py.
"""
import dataclasses
import shutil
from pathlib import Path

import gin
import numpy as np
import pandas as pd

from components import plotting, prac_figures, report_text  # noqa: E402
from components.prac_figures import plot_bands, plot_class_ratios, plot_similarity, plot_steps  # noqa: E402
from components.report import markdown, plot_accuracy, summary_table  # noqa: E402
from components.spec import ComponentSpec  # noqa: E402
from lth_tf.io import load_npz, write_csv, write_text  # noqa: E402
from lth_tf.metrics import prac as P  # noqa: E402
from lth_tf.metrics.verdicts import VerdictRule  # noqa: E402
from lth_tf.sparsity.masks import load_masks  # noqa: E402

FIRST_COLUMNS = ["study", "variant", "seed", "level", "sparsity", "val_accuracy", "test_accuracy", "train_steps",
                 "search_steps"]
BASELINES = ("dense", "lt_imp", "random_pruning", "random_ticket", "snip", "grasp", "synflow", "lt_imp_other_order",
             "dense_other_order")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class PracReportParams:
    study: str = "prac"
    title: str = "PrAC lottery tickets"
    metric: str = "best_val_test_accuracy"  # 000 A1: the best-validation model (fallback: test_accuracy)
    main_variant: str = ""  # the headline PrAC variant ('' = the first `prac` input's)


def _label(group: str, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    dense = frame["level"] == 0
    if group == "vanilla":
        frame["variant"] = np.where(dense, "dense", "lt_imp")
    elif group == "random_pruning":
        frame["variant"] = np.where(dense, "dense", "random_pruning")
    elif group == "random_tickets":
        frame["variant"] = "random_ticket"
    elif group == "vanilla_reference":
        frame["variant"] = np.where(dense, "dense_other_order", "lt_imp_other_order")
    elif group == "transfer":
        base = np.where(frame["variant"].astype(str).str.startswith("lt_"), "lt_imp", frame["variant"].astype(str))
        frame["variant"] = [f"{v}@{m}" for v, m in zip(base, frame["model"])]
    frame["group"] = group
    return frame


def gather(inputs) -> pd.DataFrame:
    frames = []
    for group in ("vanilla", "prac", "random_pruning", "random_tickets", "saliency", "vanilla_reference", "transfer"):
        for artifact in inputs.get(group) or []:
            if (artifact.path / "results.csv").exists():
                frames.append(_label(group, pd.read_csv(artifact.path / "results.csv")))
    if not frames:
        return pd.DataFrame(columns=FIRST_COLUMNS)
    frame = pd.concat(frames, ignore_index=True)
    # One dense network per seed (and architecture): every search trains the same one first.
    dense = frame["variant"].astype(str).str.startswith("dense")
    keep = ~dense | ~frame.duplicated(subset=["variant", "seed", "model"], keep="first")
    frame = frame[keep].reset_index(drop=True)
    if "search_steps" not in frame:
        frame["search_steps"] = np.nan
    frame["search_steps"] = frame["search_steps"].fillna(frame["train_steps"] - frame["own_steps"])
    return frame


def savings(summary: pd.DataFrame, variants=None) -> pd.DataFrame:
    """For each variant (default: all but the baselines): the highest-sparsity level where it
    matches vanilla IMP by the paper's rule (`P.matches_vanilla`, 001 Fig. 3 caption: "within one
    standard deviation of the performance of vanilla lottery tickets", vanilla IMP's standard
    deviation over seeds), and the iterations saved there."""
    imp = summary[summary.variant == "lt_imp"].set_index("level")
    if variants is None:
        variants = [v for v in set(summary.variant) - set(BASELINES) if "@" not in v]
    rows = []
    for variant in sorted(variants):
        ours = summary[summary.variant == variant].set_index("level")
        levels = sorted(set(ours.index) & set(imp.index) - {0})
        if not levels:
            continue
        matched = [l for l in levels if P.matches_vanilla(ours.at[l, "mean"], imp.at[l, "mean"], imp.at[l, "std"])]
        if not matched:
            rows.append({"variant": variant, "matched_level": "none", "sparsity": np.nan, "accuracy": np.nan,
                         "accuracy_imp": np.nan, "std_imp": np.nan, "search_steps": np.nan,
                         "search_steps_imp": np.nan, "search_saving": np.nan, "train_steps_saving": np.nan,
                         "note": f"below vanilla IMP at every level {levels[0]}..{levels[-1]}"})
            continue
        l = max(matched, key=lambda level: ours.at[level, "sparsity"])
        rows.append({"variant": variant, "matched_level": int(l), "sparsity": ours.at[l, "sparsity"],
                     "accuracy": ours.at[l, "mean"], "accuracy_imp": imp.at[l, "mean"], "std_imp": imp.at[l, "std"],
                     "search_steps": ours.at[l, "search_steps"], "search_steps_imp": imp.at[l, "search_steps"],
                     "search_saving": 1.0 - ours.at[l, "search_steps"] / imp.at[l, "search_steps"],
                     "train_steps_saving": 1.0 - ours.at[l, "train_steps"] / imp.at[l, "train_steps"],
                     "note": f"matches at {len(matched)} of {len(levels)} levels"})
    return pd.DataFrame(rows)


def early_stop_pairs(frame: pd.DataFrame, main: str, saved: pd.DataFrame) -> pd.DataFrame:
    """The headline variant's savings beside those of the searches that differ from it only in
    early stopping (001 Fig. 8: PrAC, PrAC w/o early stop, vanilla IMP)."""
    prac = frame[(frame.get("group") == "prac") & (frame.level > 0)] if "group" in frame else frame.iloc[:0]
    if saved.empty or prac.empty or main not in set(prac.variant):
        return pd.DataFrame()
    keys = [k for k in ("selection", "forgetting_threshold", "dynamic_iterations") if k in prac]
    settings = prac.groupby("variant")[keys + ["early_stop"]].first() if "early_stop" in prac else None
    if settings is None:
        return pd.DataFrame()
    ours = settings.loc[main, keys]
    same = [v for v in settings.index if all(settings.at[v, k] == ours[k] for k in keys)]
    table = saved[saved.variant.isin(same)].copy()
    table.insert(1, "early_stop", [bool(settings.at[v, "early_stop"]) for v in table.variant])
    return table[["variant", "early_stop", "matched_level", "sparsity", "accuracy", "accuracy_imp", "std_imp",
                  "search_steps", "search_steps_imp", "search_saving"]].sort_values("early_stop", ascending=False)


def verdict_table(frame: pd.DataFrame, rule: VerdictRule) -> pd.DataFrame:
    """Per (variant, level): does the ticket *match* the dense network / vanilla IMP, and does it
    beat random pruning by a *clear gap*, by `rule` (VerdictRule) on the per-seed accuracies."""
    def values(variant, level=None, model=None):
        rows = frame[frame.variant == variant]
        if level is not None:
            rows = rows[rows.level == level]
        if model is not None and "model" in rows:
            rows = rows[rows.model == model]
        return rows["reported_accuracy"].to_numpy(np.float64)

    out = []
    for (variant, level), group in frame[frame.level > 0].groupby(["variant", "level"]):
        if "@" in variant or variant.startswith("dense"):
            continue
        model = group["model"].iloc[0] if "model" in group else None
        ticket = group["reported_accuracy"].to_numpy(np.float64)
        dense, imp, rand = values("dense", model=model), values("lt_imp", level, model), \
            values("random_pruning", level, model)
        out.append({"variant": variant, "level": int(level), "sparsity": float(group["sparsity"].mean()),
                    "mean": float(np.nanmean(ticket)), "seeds": int(np.isfinite(ticket).sum()),
                    "dense_mean": float(np.nanmean(dense)) if len(dense) else np.nan,
                    "matches_dense": rule.matches(ticket, dense),
                    "matches_lt_imp": rule.matches(ticket, imp) if variant != "lt_imp" and len(imp) else np.nan,
                    "clear_gap_over_random_pruning": rule.clear_gap(ticket, rand)
                    if variant != "random_pruning" and len(rand) else np.nan})
    return pd.DataFrame(out)


def _highest(verdicts: pd.DataFrame, variant: str, column: str):
    hits = verdicts[(verdicts.variant == variant) & (verdicts[column] == True)]  # noqa: E712
    return None if hits.empty else hits.loc[hits.sparsity.idxmax()]


def set_sizes(inputs) -> pd.DataFrame:
    frames = [pd.read_csv(a.path / "rounds.csv") for a in inputs.get("prac") or [] if (a.path / "rounds.csv").exists()]
    if not frames:
        return pd.DataFrame()
    rounds = pd.concat(frames, ignore_index=True)
    rounds["early_stopped"] = rounds["early_stopped"].astype(float)
    columns = ["trained_on", "steps", "budget_steps", "early_stopped", "cet", "cep", "selected", "selected_fraction",
               "overlap_rate", "sparsity"]
    if "cep_subnetwork_sparsity" in rounds:  # artifacts of PracMaskSearch version >= 2
        columns.insert(columns.index("cep"), "cep_subnetwork_sparsity")
    table = rounds.groupby(["variant", "round"], as_index=False)[columns].mean()
    # (no '|' in the names: they would split the markdown table's cells)
    return table.rename(columns={"trained_on": "D trained on", "cet": "CET", "cep": "CEP",
                                 "cep_subnetwork_sparsity": "CEP subnetwork sparsity",
                                 "selected": "next set", "selected_fraction": "next set / D0",
                                 "early_stopped": "early stopped (share of seeds)"})


def class_ratio_table(inputs, variant: str) -> pd.DataFrame:
    frames = [pd.read_csv(a.path / "rounds.csv") for a in inputs.get("prac") or [] if (a.path / "rounds.csv").exists()]
    rounds = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if rounds.empty or variant not in set(rounds.variant):
        return pd.DataFrame()
    rounds = rounds[rounds.variant == variant]
    columns = [c for c in rounds.columns if c.startswith("class_")]
    return rounds.groupby("round", as_index=False)[columns].mean()


def _identity(artifact):
    params = artifact.metadata["parameters"]
    return params["seed"], params["model"]["name"], params["training"].get("data_seed_offset", 0)


def _level_masks(artifact):
    out = {}
    for path in sorted(artifact.path.glob("level_[0-9][0-9]/mask.npz")):
        out[int(path.parent.name[6:])] = path
    return out


def mask_similarity_table(inputs) -> pd.DataFrame:
    """|m_i ∩ m_j| / |m_i ∪ m_j| per level between each PrAC-family ticket (and the vanilla
    reference run) and the vanilla ticket of the same seed and architecture."""
    vanilla = {}
    for a in inputs.get("vanilla") or []:
        seed, model, _ = _identity(a)
        vanilla[(seed, model)] = _level_masks(a)
    rows = []
    others = [("prac", a) for a in inputs.get("prac") or []] + \
             [("vanilla_reference", a) for a in inputs.get("vanilla_reference") or []]
    for group, artifact in others:
        seed, model, _ = _identity(artifact)
        theirs = vanilla.get((seed, model))
        if theirs is None:
            continue
        label = "lt_imp vs lt_imp (other data order)" if group == "vanilla_reference" else None
        if label is None:
            results = pd.read_csv(artifact.path / "results.csv")
            named = results.loc[results.level > 0, "variant"]
            if named.empty:
                continue
            label = f"{named.iloc[0]} vs lt_imp"
        for level, path in _level_masks(artifact).items():
            if level == 0 or level not in theirs:
                continue
            a, b = load_masks(path), load_masks(theirs[level])
            density = sum(float(m.sum()) for m in a.values()) / sum(m.size for m in a.values())
            rows.append({"pair": label, "seed": seed, "level": level, "sparsity": 1.0 - density,
                         "similarity": P.mask_similarity(a, b), "random_expectation": P.random_mask_similarity(density)})
    return pd.DataFrame(rows)


def reported_accuracy(frame: pd.DataFrame, metric: str):
    """(values, number of rows that fell back to `test_accuracy`): `metric` where a row has it,
    else the last epoch's test accuracy."""
    if metric in frame:
        chosen = pd.to_numeric(frame[metric], errors="coerce")
    else:
        chosen = pd.Series(np.nan, index=frame.index)
    if metric == "test_accuracy" or "test_accuracy" not in frame:
        return chosen, 0
    return chosen.fillna(frame["test_accuracy"]), int(chosen.isna().sum())


def cep_table(sizes: pd.DataFrame, variant: str) -> pd.DataFrame:
    """001 Table A3's layout for one variant: per round, the sparsity of the subnetwork CEP
    compared with the dense network, |CEP|, |CET|, |PrAC| and the overlap rate."""
    if sizes.empty or "CEP subnetwork sparsity" not in sizes or variant not in set(sizes.variant):
        return pd.DataFrame()
    rows = sizes[sizes.variant == variant]
    return rows[["round", "CEP subnetwork sparsity", "CEP", "CET", "next set", "overlap_rate"]].rename(
        columns={"CEP subnetwork sparsity": "sparsity of the subnetwork", "next set": "PrAC"})


def _main_variant(p: PracReportParams, frame: pd.DataFrame, inputs) -> str:
    if p.main_variant:
        return p.main_variant
    for artifact in inputs.get("prac") or []:
        if (artifact.path / "results.csv").exists():
            named = pd.read_csv(artifact.path / "results.csv")
            named = named.loc[named.level > 0, "variant"]
            if not named.empty:
                return str(named.iloc[0])
    return "prac"


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
    words = [report_text.level_findings(rows, "tickets matching the dense network and clearing random pruning",
                                        None)]
    imp = _highest(verdicts, main, "matches_lt_imp")
    if imp is not None:
        words.append(f"`{main}` matches vanilla IMP up to {report_text.remaining(imp.sparsity)}.")
    row = saved[saved.variant == main] if len(saved) else saved
    if len(row) and row.matched_level.iloc[0] != "none":
        r = row.iloc[0]
        words.append(f"At level {r.matched_level}, the highest where it matches vanilla IMP (001 Fig. 3's rule), it "
                     f"found its mask in {r.search_steps:.0f} training steps against vanilla IMP's "
                     f"{r.search_steps_imp:.0f}: {100 * r.search_saving:.0f}% fewer.")
    return words


def paper_figures(inputs, main: str, out: Path) -> list:
    """001 Fig. 9 (examples in / out of the final PrAC set), 001 Fig. 2 (Hamming distances
    between round masks) and 000 Fig. A16 (forgetting per sparsity), for the headline search of
    the first seed (Fig. A16: every PrAC-family search of that seed)."""
    searches = [a for a in inputs.get("prac") or [] if prac_figures.rounds_of(a.path)]
    if not searches:
        return []
    def variant_of(a):
        named = pd.read_csv(a.path / "results.csv") if (a.path / "results.csv").exists() else pd.DataFrame()
        named = named.loc[named.level > 0, "variant"] if len(named) else named
        return str(named.iloc[0]) if len(named) else a.path.name
    seed = min(a.metadata["parameters"]["seed"] for a in searches)
    first = [a for a in searches if a.metadata["parameters"]["seed"] == seed]
    headline = next((a for a in first if variant_of(a) == main), first[0])
    rounds = prac_figures.rounds_of(headline.path)
    last = rounds[-1]
    selected = load_npz(prac_figures._round(headline.path, last) / "sets.npz")["selected"]
    ds = prac_figures.dataset_of(headline)
    examples = prac_figures.final_set_examples(ds.train, selected, count=6, seed=seed)
    prac_figures.plot_examples(examples, out / "prac_examples.png",
                               f"`{variant_of(headline)}` seed {seed}: outside (upper) and inside (bottom) the final "
                               f"PrAC set (after round {last}: {len(selected)} of {len(ds.train)} examples)")
    prac_figures.plot_hamming(prac_figures.round_masks(headline.path), prac_figures.epoch_distances(headline.path),
                              out / "mask_hamming.png", f"`{variant_of(headline)}` seed {seed}: Hamming distances "
                              "between masks")
    panels = {f"{variant_of(a)} (seed {seed})": prac_figures.forgetting_by_round(a.path) for a in first}
    prac_figures.plot_forgetting(panels, out / "forgetting_by_sparsity.png",
                                 "Forgetting events per example, per sparsity of the network trained")
    return ["## Examples outside and inside the final PrAC set (001 Fig. 9)\n",
            f"Six examples drawn at random (seed {seed}) from outside (upper row) and inside (bottom row) the set the "
            f"last round chose; titles give the class and the example's index. The paper finds the examples outside "
            f"the set simpler (objects centred, easily told apart) and those inside ambiguous.\n",
            "![examples in and out of the PrAC set](prac_examples.png)\n",
            "## Hamming distances between masks (001 Fig. 2)\n",
            "Left: the Hamming distance (001 §3.2: \"the number of different elements in two masks\") between the "
            "masks of every pair of rounds (m_0 = dense), divided by the number of prunable weights. IMP masks are "
            "nested (a round prunes only weights the previous mask kept), so the distance between m_i and m_j is the "
            "difference of their densities. Right: within each round, the early-bird distance between the prospective "
            "masks of successive epochs (divided by the weights the round keeps; the round stops early once the newest "
            "of five is within 0.07 of the others); the paper reads from Fig. 2 that the masks converge about half way "
            "through training.\n",
            "![Hamming distances](mask_hamming.png)\n",
            "## Forgetting per sparsity (000 Fig. A16)\n",
            "The distribution of forgetting events per example while each round trains (one curve per sparsity of the "
            "mask the round trains; round 1 is the dense network on all data, later rounds train on their PrAC / "
            "subset). 000 Fig. A16 plots the same statistic for IMP with fine-tuning, vanilla lottery tickets and "
            "random tickets trained on all data (the 'forgetting_arms' analysis, its own section when run); here "
            "only the PrAC-family searches are shown. The paper finds the number of unforgettable examples first rising then "
            "falling with sparsity for IMP and LT, and the largest forgetting count growing with sparsity.\n",
            "![forgetting by sparsity](forgetting_by_sparsity.png)\n"]


def forgetting_arms_section(inputs, out: Path) -> list:
    """000 Fig. A16 itself, from a ForgettingBySparsity input: its figure, csv and findings."""
    artifacts = inputs.get("forgetting_arms") or []
    if not artifacts:
        return []
    source = Path(artifacts[0].path)
    shutil.copy(source / "forgetting_by_sparsity_arms.png", out / "forgetting_by_sparsity_arms.png")
    frame = pd.read_csv(source / "forgetting_by_sparsity.csv")
    write_csv(out / "forgetting_by_sparsity_arms.csv", frame)
    columns = ["arm", "level", "sparsity", "test_accuracy", "forgotten_0", "forgotten_1", "forgotten_2",
               "forgotten_3_plus", "never_learned"]
    return ["## Forgetting per sparsity: IMP fine-tune, lottery tickets, random tickets (000 Fig. A16)\n",
            "Each arm trains on all training data with the vanilla IMP search's masks: IMP fine-tunes the pruned "
            "trained network, LT rewinds to the search's rewind point, RT re-initializes; fractions of the training "
            "examples forgotten 0, 1, 2, ≥3 times (of those ever learned) and never learned "
            "(`forgetting_by_sparsity_arms.csv`). The paper finds the unforgettable share first rising then falling "
            "with sparsity for IMP and LT, and falling throughout for RT.\n",
            (source / "findings.txt").read_text().strip() + "\n",
            "![forgetting by sparsity per arm](forgetting_by_sparsity_arms.png)\n",
            markdown(frame[columns], floatfmt=".3f")]


def execute(p: PracReportParams, inputs, out: Path, ctx):
    rule = VerdictRule()
    frame = gather(inputs)
    frame.insert(0, "study", p.study)
    frame["reported_accuracy"], fallbacks = reported_accuracy(frame, p.metric) if len(frame) else (np.nan, 0)
    frame = frame[[c for c in FIRST_COLUMNS if c in frame] + [c for c in frame if c not in FIRST_COLUMNS]]
    write_csv(out / "results.csv", frame)
    main_variant = _main_variant(p, frame, inputs)
    summary = summary_table(frame, "reported_accuracy")
    summary = summary.merge(frame.groupby(["variant", "level"], as_index=False)["search_steps"].mean(),
                            on=["variant", "level"])
    write_csv(out / "summary.csv", summary)
    main = [main_variant, "lt_imp", "random_pruning", "dense"]
    metric_name = p.metric.replace("_", " ")
    colors = plotting.label_colors(summary.variant)
    plot_bands(summary, main, metric_name, out / "accuracy_vs_sparsity.png", p.title, colors)
    plot_accuracy(summary, metric_name, out / "all_variants_vs_sparsity.png", f"{p.title}: all variants", colors)
    plot_steps(summary, out / "train_steps_vs_sparsity.png", colors)
    prac_variants = sorted(set(frame.loc[frame.get("group") == "prac", "variant"])) if "group" in frame else []
    saved = savings(summary, prac_variants)
    write_csv(out / "savings.csv", saved)
    pairs = early_stop_pairs(frame, main_variant, saved)
    write_csv(out / "savings_early_stop.csv", pairs)
    verdicts = verdict_table(frame, rule)
    write_csv(out / "verdicts.csv", verdicts)
    sizes = set_sizes(inputs)
    write_csv(out / "set_sizes.csv", sizes)
    ceps = cep_table(sizes, main_variant)
    write_csv(out / "cep_table.csv", ceps)
    similarity = mask_similarity_table(inputs)
    write_csv(out / "mask_similarity.csv", similarity)
    ratios = class_ratio_table(inputs, main_variant)
    if p.metric == "best_val_test_accuracy":
        accuracy_sentence = ("Accuracy is the test accuracy of the best-validation model: the weights at the epoch of "
                             "highest validation accuracy (000 A1: \"we choose the model with the best validation "
                             "accuracy during the training process\"), not the last epoch's")
    else:
        accuracy_sentence = f"Accuracy is `{p.metric}`"
    accuracy_sentence += (f"; {fallbacks} of {len(frame)} networks lack it and report the last epoch's test accuracy "
                          f"instead.\n" if fallbacks else ".\n")
    sections = [f"# {p.title}\n",
                f"Study `{p.study}`: {len(frame)} networks, seeds {sorted(frame.seed.unique().tolist())}. "
                f"Headline PrAC variant: `{main_variant}`.\n",
                accuracy_sentence,
                f"## {metric_name} vs sparsity\n",
                f"Mean over seeds, band ±1 std: {', '.join(main)}.\n", "![accuracy](accuracy_vs_sparsity.png)\n",
                "![all variants](all_variants_vs_sparsity.png)\n",
                "## Matching and winning\n",
                f"The rule (the same in every report): {rule.describe()}\n",
                markdown(verdicts)]
    for column, what in (("matches_dense", "matches the dense network"), ("matches_lt_imp", "matches vanilla IMP")):
        hit = _highest(verdicts, main_variant, column) if not verdicts.empty else None
        sections.append(f"`{main_variant}` {what} up to {100 * hit.sparsity:.1f}% sparsity (level {int(hit.level)}).\n"
                        if hit is not None else f"`{main_variant}` {what} at no level.\n")
    sections += ["## Savings at matched accuracy\n",
                 "Matched, as the paper defines it (001 Fig. 3 caption): a variant's mean accuracy over seeds is "
                 "within one standard deviation *of vanilla IMP's* accuracy over seeds (`std_imp`; its own spread "
                 "does not count; being above vanilla counts as matched; numerically this is VerdictRule's matching with "
                 "vanilla IMP as the reference). At the highest sparsity where a variant "
                 "matches, the training iterations it saved: `search_saving` counts the steps that found the mask, "
                 "`train_steps_saving` adds the ticket's own training (the same for both).\n", markdown(saved)]
    if not pairs.empty:
        sections += ["### With and without early stopping (001 Fig. 8)\n",
                     "The headline PrAC search beside the same search with early-bird stop switched: iterations to "
                     "find the ticket at each one's highest matched sparsity, and vanilla IMP's at that sparsity.\n",
                     markdown(pairs, floatfmt=".4g")]
    sections += ["## Training iterations per ticket\n", "![steps](train_steps_vs_sparsity.png)\n",
                 markdown(summary.pivot_table(index="level", columns="variant", values="search_steps").reset_index(),
                          floatfmt=".0f")]
    if not sizes.empty:
        sections += ["## Example sets per round\n",
                     "Sizes (numbers of examples). Round r trains on D, then: CET = examples forgotten more than E_F times; CEP = examples of "
                     "the full training set on which the full dense network and the subnetwork disagree (001 §3.1 "
                     "Approach II, Algorithm 1 line 10) — here, as in the authors' released code, the dense network "
                     "trained in round 1 against round r's trained subnetwork (mask m_{r-1}, of the 'CEP subnetwork "
                     "sparsity'), both at their best-validation epoch, so round 1's CEP is empty; next set = what "
                     "the variant keeps (PrAC: CET ∪ CEP); overlap rate = |CEP ∩ CET| / |CEP|.\n",
                     markdown(sizes, floatfmt=".3f")]
    if not ceps.empty:
        sections += [f"### CEP, CET and PrAC sizes of `{main_variant}` (the layout of 001 Table A3)\n",
                     "The paper finds |CEP| growing with the subnetwork's sparsity and the overlap rate falling.\n",
                     markdown(ceps, floatfmt=".3f")]
    if not ratios.empty:
        plot_class_ratios(ratios, out / "class_ratios.png", main_variant)
        sections += ["## Class-wise ratios\n", "![class ratios](class_ratios.png)\n"]
    if not similarity.empty:
        plot_similarity(similarity, out / "mask_similarity.png", colors)
        table = similarity.groupby(["pair", "level"], as_index=False)[["sparsity", "similarity",
                                                                        "random_expectation"]].mean()
        sections += ["## Mask similarity\n", "![mask similarity](mask_similarity.png)\n", markdown(table)]
    transfer = summary[summary.variant.str.contains("@")]
    if not transfer.empty:
        sections += ["## Transfer across architectures\n",
                     "`prac_transfer@M` trains architecture M on the example sets another architecture's PrAC search "
                     "chose, round by round; compare with M's own PrAC (`prac@M`) and vanilla IMP (`lt_imp@M`).\n",
                     markdown(transfer.pivot_table(index="level", columns="variant", values="mean").reset_index())]
    saliency = sorted(v for v in summary.variant.unique() if v.split("_")[0] in ("snip", "grasp", "synflow"))
    if saliency:
        sections += ["## Iterative SNIP / GraSP / SynFlow\n",
                     "Each is trained between pruning steps with the headline PrAC search's per-round iterations and "
                     "example sets (001 §4.3: \"with the training iterations and the number of training data "
                     "consistent with our approaches\"), scored at the round's trained weights, and its tickets "
                     "trained like PrAC's (variants ending in `_init`: scored at initialization only).\n"]
    sections += paper_figures(inputs, main_variant, out)
    sections += forgetting_arms_section(inputs, out)
    sections += ["## All variants (mean ± std over seeds)\n", markdown(summary)]
    sections.insert(1, report_text.findings_section(findings(verdicts, saved, main_variant)))
    text = "\n".join(sections)
    write_text(out / "report.md", text + "\n" + report_text.glossary(text))
    headline = saved[saved.variant == main_variant] if not saved.empty else saved
    return {"rows": len(frame), "search_saving": None if headline.empty else headline["search_saving"].iloc[0]}


# version 2: the paper's savings rule, best-validation accuracy, VerdictRule verdicts, CEP table.
# version 3: findings paragraph, glossary, one colour per variant, 001 Fig. 2 / Fig. 9, 000 Fig. A16.
# version 4: the 'forgetting_arms' section (ForgettingBySparsity: IMP fine-tune / LT / RT on all data).
SPEC = ComponentSpec(name="PracReport", inputs={"prac": "Tickets*", "vanilla": "Tickets*?",
                                                "random_pruning": "Tickets*?", "random_tickets": "Trained*?",
                                                "saliency": "Tickets*?", "vanilla_reference": "Tickets*?",
                                                "transfer": "*?", "forgetting_arms": "Analysis*?"},
                     output="Report", params=PracReportParams, executor=execute, version=4)
