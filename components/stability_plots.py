"""The stability report's plots: accuracy and barriers against weights remaining, the
interpolation curves, linear probes and few-shot accuracy. Colours come from the report
(`plotting.label_colors` over its configurations), so a configuration is one colour in every
plot; where colour means level (interpolation, probes) it says so in the plot.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components import plotting  # noqa: E402



def _save(fig, path: Path):
    plotting.save(fig, path)


def _colors(labels):
    """Configuration labels -> the report's fixed colours (plotting.label_colors)."""
    return plotting.label_colors(labels)


def _level_colors(levels):
    """Levels (ints) -> a sequential colour, densest dark (viridis, not the configurations'
    palette, so a level is never mistaken for a configuration)."""
    levels = sorted(levels)
    cmap = plt.get_cmap("viridis")
    return {level: cmap(0.85 * i / max(1, len(levels) - 1)) for i, level in enumerate(levels)}


def plot_accuracy(grid: pd.DataFrame, path: Path, colors=None):
    """One panel per rewind point; one colour per configuration (`colors`, the report's)."""
    rewinds = sorted(grid.rewind.unique(), key=lambda r: (r != "0it", r))
    colors = colors or _colors(grid.config)
    fig, axes = plt.subplots(1, len(rewinds), figsize=(6 * len(rewinds), 4.5), squeeze=False, sharey=True)
    for ax, rewind in zip(axes[0], rewinds):
        for config, group in grid[grid.rewind == rewind].groupby("config"):
            stats = group.groupby("level").agg(s=("sparsity", "mean"), m=("test_accuracy", "mean"), d=("test_accuracy", "std"))
            stats = stats.fillna(0.0)
            remaining = plotting.remaining_of(stats.s)
            ax.plot(remaining, stats.m, marker="o", markersize=3, color=colors[config], label=config)
            ax.fill_between(remaining, stats.m - stats.d, stats.m + stats.d, color=colors[config], alpha=0.15)
            ax.axhline(stats.m.iloc[0], color=colors[config], linestyle="--", linewidth=0.8)
        plotting.remaining_axis(ax, plotting.remaining_of(grid.sparsity))
        ax.set_title(f"rewind to {rewind} (dashed: dense)")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("test accuracy")
    _save(fig, path)


def plot_interpolation(curves: pd.DataFrame, path: Path, configs, split: str = "validation"):
    """One panel per configuration (`configs`, in the report's order); colour: level."""
    noise = curves[curves.kind == "noise"]
    cols = min(4, len(configs))
    rows = int(np.ceil(len(configs) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(max(3.6 * cols, 6.0), 3 * rows + 0.6), squeeze=False, sharey=True)
    for ax, config in zip(axes.flat, configs):
        group = noise[noise.config == config]
        colors = _level_colors(group.level.unique())
        for level, at in group.groupby("level"):
            mean = at.groupby("alpha")["error"].mean()
            ax.plot(mean.index, mean.to_numpy(), marker=".", color=colors[level], label=f"L{level}")
        ax.set_title(config, fontsize=9)
        ax.set_xlabel("α")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes.flat[len(configs):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{split} error")
    fig.suptitle("Error along αW1 + (1−α)W2\nbetween two copies trained with different SGD noise", fontsize=10)
    _save(fig, path)


def plot_barriers(barriers: pd.DataFrame, threshold: float, path: Path, colors=None):
    kinds = [k for k in ("noise", "successive") if k in set(barriers.kind)]
    fig, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 4.5), squeeze=False)
    colors = colors or _colors(barriers.config)
    titles = {"noise": "instability: copies with different SGD noise", "successive": "successive IMP tickets (L, L+1)"}
    for ax, kind in zip(axes[0], kinds):
        for config, group in barriers[barriers.kind == kind].groupby("config"):
            stats = group.groupby("level").agg(s=("sparsity", "mean"), b=("barrier", "mean"))
            style = "-" if group.rewind.iloc[0] == "0it" else ":"
            ax.plot(plotting.remaining_of(stats.s), stats.b, style, marker="o", markersize=3, color=colors[config],
                    label=config)
        ax.axhline(threshold, color="black", linestyle="--", linewidth=0.8, label=f"stable < {threshold}")
        plotting.remaining_axis(ax, plotting.remaining_of(barriers.sparsity))
        ax.set_ylabel("error barrier")
        ax.set_title(titles[kind], fontsize=10)
        ax.legend(fontsize=7)
    _save(fig, path)


PROBE_STYLES = {"ticket": "-", "permuted_mask": "--", "random_dense": ":", "trained_ticket": "-."}


def plot_probes(probes: pd.DataFrame, path: Path, configs):
    """Probe accuracy vs block: colour = level (sparsity), line style = network; one panel per
    configuration (`configs`, in the report's order)."""
    colors = _level_colors(probes.level.unique())
    fig, axes = plt.subplots(1, len(configs), figsize=(5.5 * len(configs) + 2.5, 4.5), squeeze=False, sharey=True)
    for ax, config in zip(axes[0], configs):
        group = probes[probes.config == config]
        for (network, level), at in group.groupby(["network", "level"]):
            mean = at.groupby("block_index")["test_accuracy"].mean()
            ax.plot(mean.index, mean.to_numpy(), PROBE_STYLES.get(network, "-"), marker="o", markersize=3,
                    color=colors[level], label=f"{network} L{level} ({100 * at.sparsity.iloc[0]:.1f}%)")
        ax.set_xticks(sorted(group.block_index.unique()))
        ax.set_xlabel("block")
        ax.set_title(f"{config}\n(colour: level; — ticket, -- permuted mask, ·· random dense, -. trained)", fontsize=9)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("linear probe test accuracy")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    _save(fig, path)


def plot_few_shot(few: pd.DataFrame, path: Path, colors=None):
    """Colour: configuration (the report's colours); line style: level."""
    colors = colors or _colors(few.config)
    # Line style and marker: level (a single fraction draws points only, so the marker must tell).
    styles = {level: ("-", "--", ":", "-.")[i % 4] for i, level in enumerate(sorted(few.level.unique()))}
    markers = {level: "os^Dv"[i % 5] for i, level in enumerate(sorted(few.level.unique()))}
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for (config, level), group in few.groupby(["config", "level"]):
        mean = group.groupby("fraction")["test_accuracy"].mean()
        ax.plot(100 * mean.index, mean.to_numpy(), styles[level], marker=markers[level], color=colors.get(config),
                label=f"{config} L{level}")
    ax.set_xscale("log")
    # Label the fractions themselves (1%, 2%, 5%, 10%), not powers of ten.
    fractions = sorted(100 * few.fraction.unique())
    ax.set_xticks(fractions, [f"{plotting.percent_label(f)}%" for f in fractions])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("training examples used (% of the training split)")
    ax.set_ylabel("test accuracy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    _save(fig, path)
