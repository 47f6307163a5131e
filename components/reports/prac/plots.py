"""The PrAC report's plots against weights remaining (one colour per variant, the report's
`plotting.label_colors`): accuracy bands, search cost, mask similarity; and class ratios per
round."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from components.reports import plotting as plotting  # noqa: E402


def _remaining_axis(ax, sparsity=None):
    plotting.remaining_axis(ax, None if sparsity is None else plotting.remaining_of(sparsity))


def _save(fig, path: Path):
    plotting.save(fig, path)


def plot_bands(summary: pd.DataFrame, variants, metric: str, path: Path, title: str, colors=None):
    """Mean over seeds with a ±1 std band per variant; dense as a horizontal line and band."""
    colors = colors or plotting.label_colors(summary.variant)
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
        line, = ax.plot(remaining, group["mean"], marker="o", markersize=3, label=variant, color=colors.get(variant))
        ax.fill_between(remaining, group["mean"] - group["std"], group["mean"] + group["std"],
                        color=line.get_color(), alpha=0.2)
    _remaining_axis(ax, summary.sparsity)
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_steps(summary: pd.DataFrame, path: Path, colors=None):
    colors = colors or plotting.label_colors(summary.variant)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for variant, group in summary[summary.level > 0].groupby("variant"):
        if variant.startswith(("snip", "grasp", "synflow", "random_ticket", "lt_imp_other_order")):
            continue  # no search, or the search of another variant (or the same as lt_imp's)
        group = group.sort_values("sparsity")
        ax.plot(100.0 * (1.0 - group["sparsity"]), group["search_steps"], marker="o", markersize=3, label=variant,
                color=colors.get(variant))
    _remaining_axis(ax, summary.sparsity)
    ax.set_ylabel("training steps to find the ticket")
    ax.set_title("Search cost per ticket (mean over seeds)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_similarity(table: pd.DataFrame, path: Path, colors=None):
    colors = colors or {}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for pair, group in table.groupby("pair"):
        mean = group.groupby("level").agg(sparsity=("sparsity", "mean"), similarity=("similarity", "mean"))
        ax.plot(100.0 * (1.0 - mean["sparsity"]), mean["similarity"], marker="o", markersize=3, label=pair,
                color=colors.get(pair.split(" vs ")[0]))
    ref = table.groupby("level")[["sparsity", "random_expectation"]].mean()
    ax.plot(100.0 * (1.0 - ref["sparsity"]), ref["random_expectation"], color="gray", linestyle=":",
            label="two random masks")
    _remaining_axis(ax, table.sparsity)
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
