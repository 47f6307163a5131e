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
The dense network appears once per seed (vanilla's level 0 when there is one).

Writes: results.csv; summary.csv; savings.csv (for each variant, the saving of training
iterations at the highest sparsity where it matches vanilla IMP within one standard deviation
over seeds); set_sizes.csv (per round |D|, |CET|, |CEP|, |PrAC|, overlap rate); mask_similarity.csv;
plots accuracy_vs_sparsity.png (PrAC / vanilla / random pruning / dense with std bands),
all_variants_vs_sparsity.png, train_steps_vs_sparsity.png, mask_similarity.png,
class_ratios.png; report.md linking them.
"""
import dataclasses
from pathlib import Path

import gin
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components.report import markdown, plot_accuracy, summary_table  # noqa: E402
from components.spec import ComponentSpec  # noqa: E402
from lth_tf.io import save_png, write_csv, write_text  # noqa: E402
from lth_tf.metrics import prac as P  # noqa: E402
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
    metric: str = "test_accuracy"
    main_variant: str = "prac"  # the PrAC variant of the headline plot, set sizes and class ratios


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


def savings(summary: pd.DataFrame) -> pd.DataFrame:
    """For each variant other than the baselines: the highest-sparsity level where its mean
    matches vanilla IMP's (not lower by more than the larger of their standard deviations over
    seeds), and the iterations saved there."""
    imp = summary[summary.variant == "lt_imp"].set_index("level")
    rows = []
    for variant in sorted(set(summary.variant) - set(BASELINES)):
        if "@" in variant:
            continue
        ours = summary[summary.variant == variant].set_index("level")
        levels = sorted(set(ours.index) & set(imp.index))
        matched = [l for l in levels if ours.at[l, "mean"] >= imp.at[l, "mean"] - max(ours.at[l, "std"], imp.at[l, "std"])]
        if not levels:
            continue
        if not matched:
            rows.append({"variant": variant, "matched_level": "none", "sparsity": np.nan, "accuracy": np.nan,
                         "accuracy_imp": np.nan, "search_steps": np.nan, "search_steps_imp": np.nan,
                         "search_saving": np.nan, "train_steps_saving": np.nan,
                         "note": f"below vanilla IMP at every level {levels[0]}..{levels[-1]}"})
            continue
        l = max(matched, key=lambda level: ours.at[level, "sparsity"])
        rows.append({"variant": variant, "matched_level": int(l), "sparsity": ours.at[l, "sparsity"],
                     "accuracy": ours.at[l, "mean"], "accuracy_imp": imp.at[l, "mean"],
                     "search_steps": ours.at[l, "search_steps"], "search_steps_imp": imp.at[l, "search_steps"],
                     "search_saving": 1.0 - ours.at[l, "search_steps"] / imp.at[l, "search_steps"],
                     "train_steps_saving": 1.0 - ours.at[l, "train_steps"] / imp.at[l, "train_steps"],
                     "note": f"matches at {len(matched)} of {len(levels)} levels"})
    return pd.DataFrame(rows)


def set_sizes(inputs) -> pd.DataFrame:
    frames = [pd.read_csv(a.path / "rounds.csv") for a in inputs.get("prac") or [] if (a.path / "rounds.csv").exists()]
    if not frames:
        return pd.DataFrame()
    rounds = pd.concat(frames, ignore_index=True)
    rounds["early_stopped"] = rounds["early_stopped"].astype(float)
    columns = ["trained_on", "steps", "budget_steps", "early_stopped", "cet", "cep", "selected", "selected_fraction",
               "overlap_rate", "sparsity"]
    table = rounds.groupby(["variant", "round"], as_index=False)[columns].mean()
    return table.rename(columns={"trained_on": "|D| trained on", "cet": "|CET|", "cep": "|CEP|",
                                 "selected": "|next set|", "selected_fraction": "next set / |D0|",
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


def _remaining_axis(ax):
    """x axis: weights remaining (%), log scale from dense to sparse, plain numbers."""
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator([100, 50, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1]))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("weights remaining (%)")


def _save(fig, path: Path):
    fig.tight_layout()
    save_png(fig, path, dpi=120)


def plot_bands(summary: pd.DataFrame, variants, metric: str, path: Path, title: str):
    """Mean over seeds with a ±1 std band per variant; dense as a horizontal line and band."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for variant in variants:
        group = summary[summary.variant == variant].sort_values("sparsity")
        if group.empty:
            continue
        if variant == "dense":
            mean, std = group["mean"].mean(), group["std"].mean()
            ax.axhline(mean, color="black", linestyle="--", label="dense")
            ax.axhspan(mean - std, mean + std, color="black", alpha=0.1)
            continue
        remaining = 100.0 * (1.0 - group["sparsity"].to_numpy())
        line, = ax.plot(remaining, group["mean"], marker="o", markersize=3, label=variant)
        ax.fill_between(remaining, group["mean"] - group["std"], group["mean"] + group["std"],
                        color=line.get_color(), alpha=0.2)
    _remaining_axis(ax)
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_steps(summary: pd.DataFrame, path: Path):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for variant, group in summary[summary.level > 0].groupby("variant"):
        if variant.startswith(("snip", "grasp", "synflow", "random_ticket", "lt_imp_other_order")):
            continue  # no search, or the search of another variant (or the same as lt_imp's)
        group = group.sort_values("sparsity")
        ax.plot(100.0 * (1.0 - group["sparsity"]), group["search_steps"], marker="o", markersize=3, label=variant)
    _remaining_axis(ax)
    ax.set_ylabel("training steps to find the ticket")
    ax.set_title("Search cost per ticket (mean over seeds)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_similarity(table: pd.DataFrame, path: Path):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for pair, group in table.groupby("pair"):
        mean = group.groupby("level").agg(sparsity=("sparsity", "mean"), similarity=("similarity", "mean"))
        ax.plot(100.0 * (1.0 - mean["sparsity"]), mean["similarity"], marker="o", markersize=3, label=pair)
    ref = table.groupby("level")[["sparsity", "random_expectation"]].mean()
    ax.plot(100.0 * (1.0 - ref["sparsity"]), ref["random_expectation"], color="gray", linestyle=":",
            label="two random masks")
    _remaining_axis(ax)
    ax.set_ylabel(r"$|m_i \cap m_j|\ /\ |m_i \cup m_j|$")
    ax.set_title("Mask similarity with vanilla IMP tickets (same init)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_class_ratios(table: pd.DataFrame, path: Path, variant: str):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for column in [c for c in table.columns if c.startswith("class_")]:
        ax.plot(table["round"], table[column], marker="o", markersize=3, label=column.replace("_", " "))
    ax.set_xlabel("round (the set chosen after it)")
    ax.set_ylabel("fraction of the class in the set")
    ax.set_title(f"Class-wise ratios of the {variant} set (mean over seeds)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    _save(fig, path)


def execute(p: PracReportParams, inputs, out: Path, ctx):
    frame = gather(inputs)
    frame.insert(0, "study", p.study)
    frame = frame[[c for c in FIRST_COLUMNS if c in frame] + [c for c in frame if c not in FIRST_COLUMNS]]
    write_csv(out / "results.csv", frame)
    summary = summary_table(frame, p.metric)
    summary = summary.merge(frame.groupby(["variant", "level"], as_index=False)["search_steps"].mean(),
                            on=["variant", "level"])
    write_csv(out / "summary.csv", summary)
    main = [p.main_variant, "lt_imp", "random_pruning", "dense"]
    plot_bands(summary, main, p.metric, out / "accuracy_vs_sparsity.png", p.title)
    plot_accuracy(summary, p.metric, out / "all_variants_vs_sparsity.png", f"{p.title}: all variants")
    plot_steps(summary, out / "train_steps_vs_sparsity.png")
    saved = savings(summary)
    write_csv(out / "savings.csv", saved)
    sizes = set_sizes(inputs)
    write_csv(out / "set_sizes.csv", sizes)
    similarity = mask_similarity_table(inputs)
    write_csv(out / "mask_similarity.csv", similarity)
    ratios = class_ratio_table(inputs, p.main_variant)
    sections = [f"# {p.title}\n",
                f"Study `{p.study}`: {len(frame)} networks, seeds {sorted(frame.seed.unique().tolist())}.\n",
                f"## {p.metric.replace('_', ' ')} vs sparsity\n",
                f"Mean over seeds, band ±1 std: {', '.join(main)}.\n", "![accuracy](accuracy_vs_sparsity.png)\n",
                "![all variants](all_variants_vs_sparsity.png)\n",
                "## Savings\n",
                "At the highest sparsity where a variant's mean accuracy is not below vanilla IMP's by more than one "
                "standard deviation over seeds (the larger of the two), the training iterations it saved: "
                "`search_saving` counts the steps that found the mask, `train_steps_saving` adds the ticket's own "
                "training (the same for both).\n", markdown(saved),
                "## Training iterations per ticket\n", "![steps](train_steps_vs_sparsity.png)\n",
                markdown(summary.pivot_table(index="level", columns="variant", values="search_steps").reset_index(),
                         floatfmt=".0f")]
    if not sizes.empty:
        sections += ["## Example sets per round\n",
                     "Round r trains on |D|, then: CET = examples forgotten more than E_F times, CEP = examples of "
                     "the full set on which the networks before and after pruning disagree, next set = what the "
                     "variant keeps (PrAC: CET ∪ CEP); overlap rate = |CEP ∩ CET| / |CEP|.\n",
                     markdown(sizes, floatfmt=".3f")]
    if not ratios.empty:
        plot_class_ratios(ratios, out / "class_ratios.png", p.main_variant)
        sections += ["## Class-wise ratios\n", "![class ratios](class_ratios.png)\n"]
    if not similarity.empty:
        plot_similarity(similarity, out / "mask_similarity.png")
        table = similarity.groupby(["pair", "level"], as_index=False)[["sparsity", "similarity",
                                                                        "random_expectation"]].mean()
        sections += ["## Mask similarity\n", "![mask similarity](mask_similarity.png)\n", markdown(table)]
    transfer = summary[summary.variant.str.contains("@")]
    if not transfer.empty:
        sections += ["## Transfer across architectures\n",
                     "`prac_transfer@M` trains architecture M on the example sets another architecture's PrAC search "
                     "chose, round by round; compare with M's own PrAC (`prac@M`) and vanilla IMP (`lt_imp@M`).\n",
                     markdown(transfer.pivot_table(index="level", columns="variant", values="mean").reset_index())]
    sections += ["## All variants (mean ± std over seeds)\n", markdown(summary)]
    write_text(out / "report.md", "\n".join(sections))
    headline = saved[saved.variant == p.main_variant] if not saved.empty else saved
    return {"rows": len(frame), "search_saving": None if headline.empty else headline["search_saving"].iloc[0]}


SPEC = ComponentSpec(name="PracReport", inputs={"prac": "Tickets*", "vanilla": "Tickets*?",
                                                "random_pruning": "Tickets*?", "random_tickets": "Trained*?",
                                                "saliency": "Tickets*?", "vanilla_reference": "Tickets*?",
                                                "transfer": "*?"},
                     output="Report", params=PracReportParams, executor=execute)
