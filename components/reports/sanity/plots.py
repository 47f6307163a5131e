"""The sanity report's plots (paper 002): accuracy vs. weights remaining at each learning rate
(Fig. A.1 / D.*; one fixed colour and line style per variant, plotting.VARIANT_STYLES), R_p
against p (Fig. G.1), the findings along the sweep, and the tuner's trials."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components.reports import plotting as plotting  # noqa: E402
from components.reports.names import SANITY_SWEEP_ORDER as SWEEP_ORDER, sanity_label as label  # noqa: E402
from lth_tf.io import save_png  # noqa: E402


def plot_accuracy(sweep: pd.DataFrame, metric: str, well: pd.Series, path: Path):
    rates = sorted(sweep.lr.unique())
    fig, axes = plt.subplots(1, len(rates), figsize=(4.2 * len(rates), 4.2), sharey=True, squeeze=False)
    for ax, rate in zip(axes[0], rates):
        at = sweep[np.isclose(sweep.lr, rate)]
        for variant in SWEEP_ORDER:
            group = at[at.variant == variant]
            if group.empty:
                continue
            stats = group.groupby("level").agg(s=("sparsity", "mean"), m=(metric, "mean"), d=(metric, "std")).fillna(0.0)
            color, line, marker = plotting.VARIANT_STYLES[variant]
            remaining = 100 * (1 - stats.s.to_numpy())
            ax.errorbar(remaining, stats.m, yerr=stats.d, color=color, linestyle=line, marker=marker, markersize=3,
                        capsize=2, linewidth=1.2, label=label(variant))
        dense = at[at.variant == "dense"][metric]
        if len(dense):
            ax.axhline(dense.mean(), color="black", linestyle="--", linewidth=1, label="dense at this lr")
        if len(well):
            ax.axhline(well.mean(), color="gray", linestyle="-.", linewidth=1, label="dense, well-trained")
        plotting.remaining_axis(ax, 100 * (1 - at[at.level > 0].groupby("level").sparsity.mean().to_numpy()))
        ax.set_title(f"lr = {rate:g}")
    axes[0][0].set_ylabel(metric.replace("_", " "))
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:  # every variant once, whichever panel has it
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    save_png(fig, path, dpi=110)


def plot_correlation(summary: pd.DataFrame, level: int, path: Path) -> bool:
    panels = [("dense", "dense", None, "dense: R_p(θ_0, θ_T)")]
    for network, prefix in (("ticket", "lt_"), ("rr", "rr_")):
        for method in ("imp", "omp"):
            variant = f"{prefix}{method}"
            if ((summary.network == network) & (summary.variant == variant) & (summary.level == level)).any():
                what = "R_p(θ_0⊙m, θ_T⊙m)" if network == "ticket" else "R_p(θ'_0⊙m, θ'_T⊙m)"
                panels.append((network, variant, level, f"{label(variant)}: {what}"))
    if len(panels) == 1 and not (summary.network == "dense").any():
        return False
    colors = plotting.level_colors(summary.lr.unique())
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.6), sharey=True, squeeze=False)
    sparsity = summary[summary.level == level].sparsity.mean() if (summary.level == level).any() else float("nan")
    for ax, (network, variant, lvl, title) in zip(axes[0], panels):
        rows = summary[(summary.network == network) & (summary.variant == variant)]
        if lvl is not None:
            rows = rows[rows.level == lvl]
        for rate, group in rows.groupby("lr"):
            group = group.sort_values("p")
            ax.plot(group.p, group.R_p, marker="o", markersize=3, color=colors[rate], label=f"lr {rate:g}")
        ax.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=0.8, label="R_p = p")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("p")
        ax.set_title(title, fontsize=9)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("R_p")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"correlation indicator; tickets and RR at level {level} ({100 * (1 - sparsity):.1f}% of the weights "
                 f"remaining)", fontsize=10)
    fig.tight_layout()
    save_png(fig, path, dpi=110)
    return True


def plot_findings(gaps: dict, distances: dict, path: Path):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, by_rate in gaps.items():
        rates = sorted(by_rate)
        axes[0].plot(rates, [100 * by_rate[r] for r in rates], marker="o", label=name)
    axes[0].axhline(0, color="black", linewidth=0.8)
    axes[0].set_xlabel("learning rate")
    axes[0].set_ylabel("ticket − RR (accuracy points)")
    axes[0].set_title("the ticket's advantage over RR (non-trivial sparsities)")
    for name, by_rate in distances.items():
        rates = sorted(by_rate)
        axes[1].plot(rates, [by_rate[r] for r in rates], marker="o", label=name)
    axes[1].axhline(0, color="black", linewidth=0.8)
    axes[1].set_xlabel("learning rate")
    axes[1].set_ylabel("mean over p of |R_p − p|")
    axes[1].set_title("distance of R_p from p (0: no correlation)")
    rates = sorted({r for d in (*gaps.values(), *distances.values()) for r in d})
    for ax in axes:
        plotting.log_axis(ax, rates)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, path, dpi=110)


def plot_tuning(trials: pd.DataFrame, rates, objective: str, path: Path):
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    wd = "weight_decay" if "weight_decay" in trials.columns else None
    groups = trials.groupby(wd) if wd else [(None, trials)]
    for value, group in groups:
        ax.scatter(group.lr, group.objective, s=28, label=f"weight decay {value:g}" if wd else "trial")
    for row in trials.itertuples():
        ax.annotate(str(row.trial), (row.lr, row.objective), textcoords="offset points", xytext=(4, 3), fontsize=7)
    best = trials.sort_values(["objective", "trial"], ascending=[False, True]).iloc[0]
    ax.scatter([best.lr], [best.objective], s=160, facecolors="none", edgecolors="red", label="best trial")
    for rate in rates:
        ax.axvline(rate, color="gray", linestyle=":", linewidth=0.8)
    plotting.log_axis(ax, rates)
    ax.set_xlabel("learning rate (dotted: the sweep's rates; numbers: trial order)")
    ax.set_ylabel(f"trial {objective.replace('_', ' ')} (mean over seeds)")
    ax.set_title("keras-tuner trials")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, path, dpi=110)
