"""The stability report's sections on what a ticket holds beyond its accuracy: linear probes per
block, few-shot training on class-balanced subsets, and transfer of frozen tickets (003 §5.1,
Table 6)."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from components.reports import plotting as plotting
from components.reports import text as report_text  # noqa: E402
from components.reports.section import Section, markdown, mean_std as _mean_std, section  # noqa: E402
from components.reports.stability.gather import StabilityData, config_order as _config_order  # noqa: E402
from components.reports.stability.tables import level_table, pivot_mean  # noqa: E402
from lth_tf.io import write_csv  # noqa: E402


def probes(d: StabilityData) -> Section:
    probes = d.concat("probes", "probes.csv")
    if probes.empty:
        return Section()
    write_csv(d.out / "probes.csv", probes)
    probes = probes.sort_values(["network", "level"]).assign(
        network_level=probes.network + " L" + probes.level.astype(str) + " (" + (100 * probes.sparsity).round(2).astype(str) + "%)")
    parts = ["## Linear probes per block\n",
             f"Test accuracy of a linear probe (channel-wise global pooling, "
             f"{report_text.plural(int(probes.probe_epochs.iloc[0]), 'epoch')} of Adam, lr {probes.probe_lr.iloc[0]:g}, "
             f"wd {probes.probe_weight_decay.iloc[0]:g}) after "
             "each block of the frozen untrained ticket (mask on rewind weights), the same weights under a "
             "layerwise-permuted mask, a random dense network, and the trained ticket (ceiling).\n"]
    for config in _config_order(probes):
        table = pivot_mean(probes[probes.config == config], "network_level", "block", "test_accuracy")
        order = probes[probes.config == config].drop_duplicates("network_level").network_level.tolist()
        parts += [f"**{config}**\n", markdown(table.set_index("network_level").loc[order].reset_index())]
    plot_probes(probes, d.out / "probes.png", _config_order(probes))
    parts.append("![probes](probes.png)\n")
    return section(*parts)


def few_shot(d: StabilityData) -> Section:
    few = d.experiment("few_shot")
    if not len(few):
        return Section()
    write_csv(d.out / "few_shot.csv", few)
    few = few.sort_values(["config", "fraction"])
    few = few.assign(subset=few.config + " " + (100 * few.fraction).round(2).astype(str) + "% (" +
                     few.subset_size.astype(int).astype(str) + " examples)")
    parts = ["## Few-shot: training on class-balanced subsets\n",
             f"Tickets (mask + rewind weights) and the dense network trained on {few.selection.iloc[0]} "
             f"class-balanced subsets, for as many {few.budget_mode.iloc[0]} as full training.\n",
             markdown(level_table(few, "subset", order=few.subset.drop_duplicates().tolist()))]
    plot_few_shot(few, d.out / "few_shot.png", d.colors)
    parts.append("![few-shot](few_shot.png)\n")
    return section(*parts)


def transfer(d: StabilityData) -> Section:
    transfer = d.concat("transfer", "transfer.csv")
    if transfer.empty:
        return Section()
    write_csv(d.out / "transfer.csv", transfer)
    table = transfer_table(transfer)
    write_csv(d.out / "transfer_table.csv", table)
    head = transfer[transfer.network != "retrained_dense"]["head_training"].dropna()
    sources = ", ".join(sorted(set(transfer.source)))
    scaled = sorted(set(transfer[transfer.resized.astype(bool)].target)) if "resized" in transfer.columns else []
    resized = (f" Images of {', '.join(scaled)} are resized to the source's input shape (bilinear; one channel "
               f"repeated to three) and normalized with their own statistics." if scaled else "")
    return section("## Transfer of frozen tickets\n",
                   f"Transfer accuracy (003 §5.1, Table 6): the *untrained* ticket (its mask on its rewind weights), "
                   f"found on {sources}, frozen, with a new linear head for the target's classes trained on the "
                   f"target's training split ({head.iloc[0] if len(head) else 'new linear head'}, features "
                   f"standardized); cells are the target's test accuracy, mean ± std over seeds.{resized} Baselines as "
                   f"Table 6: the dense network trained on the source, frozen, with a new head (frozen dense*), and "
                   f"a dense network trained from scratch on the target (retrained dense*, the upper limit). Extra "
                   f"rows, not in Table 6: a random dense network's features, and the *trained* ticket frozen "
                   f"(what this report transferred before following the paper).\n",
                   markdown(table))


TRANSFER_ORDER = ("ticket", "frozen_dense", "retrained_dense", "trained_ticket", "random_dense")


def _transfer_label(row) -> str:
    where = f"L{int(row.level)} ({100 * row.sparsity:.2f}%)"
    return {"ticket": f"{row.config} ticket, untrained (mask ⊙ rewind weights) {where}",
            "trained_ticket": f"{row.config} trained ticket {where} [extra: trained weights, frozen]",
            "frozen_dense": f"{row.training_config} frozen dense* (trained on the source)",
            "retrained_dense": f"retrained dense* (trained on the target, {row.training_config} recipe)",
            "random_dense": "random dense network, untrained [extra]"}[row.network]


def transfer_table(transfer: pd.DataFrame) -> pd.DataFrame:
    """Rows: networks (Table 6's order: tickets, frozen dense, retrained dense, then the extras);
    columns: target datasets; cells: target test accuracy, mean ± std over seeds. Networks that
    do not depend on the rewind point (dense ones) appear once per seed."""
    t = transfer.assign(label=transfer.apply(_transfer_label, axis=1),
                        order=transfer.network.map(TRANSFER_ORDER.index))
    t = t.drop_duplicates(["label", "target", "seed"])
    t = t.sort_values(["order", "config", "level"])
    targets = list(dict.fromkeys(t.target))
    rows = []
    for label, group in t.groupby("label", sort=False):
        line = {"network": label, "seeds": int(group.seed.nunique())}
        for target in targets:
            values = group[group.target == target].target_test_accuracy
            line[target] = _mean_std(values) if len(values) else ""
        rows.append(line)
    return pd.DataFrame(rows)


PROBE_STYLES = {"ticket": "-", "permuted_mask": "--", "random_dense": ":", "trained_ticket": "-."}


def plot_probes(probes: pd.DataFrame, path: Path, configs):
    """Probe accuracy vs block: colour = level (sparsity), line style = network; one panel per
    configuration (`configs`, in the report's order)."""
    colors = plotting.level_colors(probes.level.unique())
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
    plotting.save(fig, path)


def plot_few_shot(few: pd.DataFrame, path: Path, colors=None):
    """Colour: configuration (the report's colours); line style: level."""
    colors = colors or plotting.label_colors(few.config)
    # Line style and marker: level (a single fraction draws points only, so the marker must tell).
    styles = {level: ("-", "--", ":", "-.")[i % 4] for i, level in enumerate(sorted(few.level.unique()))}
    markers = {level: "os^Dv"[i % 5] for i, level in enumerate(sorted(few.level.unique()))}
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for (config, level), group in few.groupby(["config", "level"]):
        mean = group.groupby("fraction")["test_accuracy"].mean()
        ax.plot(100 * mean.index, mean.to_numpy(), styles[level], marker=markers[level], color=colors.get(config),
                label=f"{config} L{level}")
    # Label the fractions themselves (1%, 2%, 5%, 10%), not powers of ten.
    plotting.log_axis(ax, 100 * few.fraction.unique(), lambda f: f"{plotting.percent_label(f)}%")
    ax.set_xlabel("training examples used (% of the training split)")
    ax.set_ylabel("test accuracy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    plotting.save(fig, path)
