"""The stability report's instability sections: the error barrier between copies trained with
different SGD noise (003 eq. 3) per configuration and level, the interpolation curves, the
barrier against weights remaining, which configurations are stable (findings), and the first
stable rewind point of the binary search."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components.reports import plotting as plotting  # noqa: E402
from components.reports.text import plural  # noqa: E402
from components.reports.section import Section, markdown, mean_std as _mean_std, section  # noqa: E402
from components.reports.stability.gather import StabilityData, config_order as _config_order  # noqa: E402
from components.reports.stability.tables import split_words  # noqa: E402
from lth_tf.io import write_csv  # noqa: E402


def instability(d: StabilityData) -> Section:
    p = d.p
    barriers = d.concat("instability", "barriers.csv")
    curves = d.concat("instability", "curves.csv")
    if barriers.empty:
        return Section()
    write_csv(d.out / "barriers.csv", barriers)
    write_csv(d.out / "interpolation.csv", curves)
    table = barrier_table(barriers, p.threshold)
    write_csv(d.out / "barrier_table.csv", table)
    words = split_words(barriers)
    parts = ["## Instability to SGD noise\n",
             f"Error barrier sup_α E(αW1 + (1−α)W2) − (E(W1) + E(W2))/2 (003 eq. 3), E the classification "
             f"error on the {words}, {len(set(curves.alpha))} "
             f"values of α, between the ticket and a copy trained from the same weights (mask and rewind point) "
             f"with a different data order (mean ± std over seeds and noise pairs; stable below {p.threshold}); "
             f"'successive' columns: between the trained tickets of IMP levels L and L+1.\n",
             markdown(table),
             "![interpolation](interpolation.png)\n", "![barrier vs sparsity](barrier_vs_sparsity.png)\n"]
    if (curves.kind == "noise").any():
        plot_interpolation(curves, d.out / "interpolation.png", _config_order(curves[curves.kind == "noise"]),
                           words.split()[0])
    plot_barriers(barriers, p.threshold, d.out / "barrier_vs_sparsity.png", d.colors)
    return section(*parts, findings=[stability_finding(barriers, p.threshold)])


def rewind_search(d: StabilityData) -> Section:
    rewind = d.concat("rewind_search", "rewind_summary.csv")
    if rewind.empty:
        return Section()
    write_csv(d.out / "rewind_search.csv", d.concat("rewind_search", "rewind_search.csv"))
    write_csv(d.out / "rewind_summary.csv", rewind)
    return section("## First stable rewind point\n",
                   "Binary search over the candidate rewind points (assuming stability is monotone in them): the "
                   "earliest from which copies trained with different SGD noise have a mean barrier (eq. 3, on the "
                   f"{split_words(rewind)}) below the threshold; 'none' when even the last candidate is unstable. "
                   "Level > 0 applies that level's mask to the dense run's weights at each candidate.\n",
                   markdown(rewind[["config", "level", "seeds", "pairs", "candidates", "evaluated", "first_stable",
                                    "first_stable_step"]].assign(
                       first_stable=rewind.first_stable.astype(object).where(rewind.first_stable.notna(), "none"))))


def stability_finding(barriers: pd.DataFrame, threshold: float) -> str:
    """Which configurations are stable to SGD noise (mean noise barrier below `threshold`) at
    which levels, with the barriers."""
    noise = barriers[barriers.kind == "noise"] if len(barriers) else barriers
    if noise.empty:
        return ""
    stable_all, partly, unstable = [], [], []
    for config in _config_order(noise):
        by_level = noise[noise.config == config].groupby("level").barrier.mean()
        stable = by_level[by_level < threshold]
        if len(stable) == len(by_level):
            stable_all.append(f"`{config}` (all {plural(len(by_level), 'level')} measured, barrier at most {by_level.max():.3f})")
        elif len(stable):
            partly.append(f"`{config}` at {', '.join(f'L{l}' for l in stable.index)} only ({len(stable)} of "
                          f"{plural(len(by_level), 'level')} measured; highest barrier {by_level.max():.3f} at L{by_level.idxmax()})")
        else:
            unstable.append(f"`{config}` (barrier {by_level.min():.3f} or more)")
    words = [f"**Stable to SGD noise** (error barrier below {threshold:g}): " + ("; ".join(stable_all + partly) or "none")
             + "."]
    if unstable:
        words.append("Unstable at every level measured: " + "; ".join(unstable) + ".")
    return " ".join(words)


def barrier_table(barriers: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per configuration: the noise barrier (mean ± std over seeds and pairs) at each level,
    'stable' where its mean is below the threshold, and the successive-level barriers."""
    if barriers.empty:
        return barriers
    rows = []
    for config in _config_order(barriers):
        group = barriers[barriers.config == config]
        noise, successive = group[group.kind == "noise"], group[group.kind == "successive"]
        line = {"config": config}
        for level, at in noise.groupby("level"):
            mark = " (stable)" if at.barrier.mean() < threshold else ""
            line[f"L{level} ({100 * at.sparsity.mean():.2f}%)"] = _mean_std(at.barrier) + mark
        if len(successive):
            line["successive: mean"] = f"{successive.barrier.mean():.4f}"
            line["successive: max"] = f"{successive.barrier.max():.4f}"
            line["successive: stable %"] = f"{100 * (successive.barrier < threshold).mean():.0f}"
        rows.append(line)
    return pd.DataFrame(rows)


def plot_interpolation(curves: pd.DataFrame, path: Path, configs, split: str = "validation"):
    """One panel per configuration (`configs`, in the report's order); colour: level, the same in
    every panel, named once in a legend beside the panels (in-panel legends hid the curves)."""
    noise = curves[curves.kind == "noise"]
    cols = min(4, len(configs))
    rows = int(np.ceil(len(configs) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(max(3.6 * cols, 6.0) + 1.2, 3 * rows + 0.6), squeeze=False,
                             sharey=True)
    colors = plotting.level_colors(sorted(noise.level.unique()))
    handles = {}
    for ax, config in zip(axes.flat, configs):
        group = noise[noise.config == config]
        for level, at in group.groupby("level"):
            mean = at.groupby("alpha")["error"].mean()
            handles[level], = ax.plot(mean.index, mean.to_numpy(), marker=".", color=colors[level], label=f"L{level}")
        ax.set_title(config, fontsize=9)
        ax.set_xlabel("α")
        ax.grid(True, alpha=0.3)
    for ax in axes.flat[len(configs):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{split} error")
    levels = sorted(handles)
    fig.legend([handles[l] for l in levels], [handles[l].get_label() for l in levels], loc="center right",
               fontsize=8, title="IMP level", title_fontsize=8)
    fig.suptitle("Error along αW1 + (1−α)W2\nbetween two copies trained with different SGD noise", fontsize=10)
    plotting.save(fig, path, rect=(0, 0, 1 - 1.1 / fig.get_figwidth(), 1))  # the legend's column kept free


def plot_barriers(barriers: pd.DataFrame, threshold: float, path: Path, colors=None):
    kinds = [k for k in ("noise", "successive") if k in set(barriers.kind)]
    fig, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 4.5), squeeze=False)
    colors = colors or plotting.label_colors(barriers.config)
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
    plotting.save(fig, path)
