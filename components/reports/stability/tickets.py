"""The stability report's ticket sections: the study's setup, runs stuck at chance, the dense
network's dynamics, ticket accuracy per configuration (★ winning tickets, accuracy plot), tickets
against their baselines, AIMP, disentangling, and the late-rewinding finding.

A network is flagged as stuck at chance when its test accuracy is below `chance_factor` /
number of classes. The ticket table prints test accuracy; the judged values are in
ticket_table.csv. When the dataset has no validation split, test accuracy is judged and the
report says so. Unreached sparsities of `sparsities` print "—".
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from components.reports import plotting as plotting
from components.reports import text as report_text  # noqa: E402
from components.reports.section import Section, markdown, mean_std as _mean_std, section  # noqa: E402
from components.reports.stability.gather import StabilityData, config_order as _config_order  # noqa: E402
from components.reports.stability.tables import level_table, level_verdicts, ticket_table, verdict_metric  # noqa: E402
from lth_tf.io import write_csv  # noqa: E402
from lth_tf.metrics.verdicts import MIN_SEEDS, NO_NOISE, VerdictRule  # noqa: E402

def _setup(grid: pd.DataFrame) -> str:
    """One line on the recipe shared by the grid (what the grid varies is in each row's config)."""
    first = grid.iloc[0]
    levels = int(grid.level.max())
    return (f"Setup: {first.model} on {first.dataset}, {first.budget} of SGD at lr {first.lr:g} per search level "
            f"(momentum and batch size from the configuration), IMP ({first.method}, {first.scope}) for {levels} levels "
            f"to {100 * grid.sparsity.max():.2f}% sparsity.\n")


def header(d: StabilityData) -> Section:
    grid = d.grid
    return section(f"Study `{d.p.study}`: {len(d.results)} networks; "
                   f"{report_text.plural(grid.config.nunique(), 'configuration')} "
                   f"(momentum × batch size × rewind point), {report_text.seeds(grid.seed)}. "
                   f"All numbers are test accuracy unless named; every number is also in `results.csv` or a sibling csv.\n",
                   _setup(grid))


def flags(d: StabilityData) -> Section:
    p, flagged = d.p, d.results[d.results.flagged]
    parts = ["## Runs stuck at chance\n",
             f"Networks with test accuracy below {p.chance_factor} / classes: "
             + (f"{len(flagged)}, listed in `flags.csv` and marked `flagged` in results.csv.\n" if len(flagged)
                else "none.\n")]
    if len(flagged):
        write_csv(d.out / "flags.csv", flagged)
        parts.append(markdown(flagged[["experiment", "config", "variant", "seed", "level", "sparsity", "test_accuracy"]]))
    return section(*parts, flagged=int(len(flagged)))


def dynamics_table(dynamics: pd.DataFrame, chance: float) -> pd.DataFrame:
    if dynamics.empty:
        return dynamics
    rows = []
    for config, group in dynamics.groupby("training_config", sort=False):
        rows.append({"training": config, "momentum": group.momentum.iloc[0], "batch_size": group.batch_size.iloc[0],
                     "seeds": len(group), "forgetting (mean ± std over examples)":
                     f"{group.forgetting_mean.mean():.3f} ± {group.forgetting_std.mean():.3f}",
                     "unforgettable %": _mean_std(group.unforgettable_pct, 2),
                     "never learned %": _mean_std(group.never_learned_pct, 2),
                     "convergence speed": _mean_std(group.convergence_speed),
                     "dense test acc": _mean_std(group.test_accuracy),
                     "flag": "stuck at chance" if group.test_accuracy.mean() < chance else ""})
    return pd.DataFrame(rows).sort_values(["momentum", "batch_size"])


def dynamics(d: StabilityData) -> Section:
    dynamics = d.concat("dynamics", "dynamics.csv")
    if dynamics.empty:
        return Section()
    grid = d.grid
    chance = float(d.p.chance_factor / grid.num_classes.iloc[0]) if len(grid) else 0.0
    write_csv(d.out / "dynamics.csv", dynamics)
    return section("## Forgetting and convergence of the dense network, per configuration\n",
                   "Forgetting events per training example (mean ± std over examples that were learned), "
                   "% of examples never forgotten, % never learned, and convergence speed "
                   "(1/T) Σ_ep (E(W0) − E(W_ep)) / (E(W0) − E(W_T)) on the validation error; "
                   "the dense training does not depend on the rewind point.\n",
                   markdown(dynamics_table(dynamics, chance)))


def judged_baselines(d: StabilityData) -> pd.DataFrame:
    """The baselines a ticket is judged against (rr, random_mask, ...; not the LT retrained)."""
    baselines = d.experiment("baseline")
    return baselines[~baselines.variant.astype(str).str.startswith("lt")]


def tickets(d: StabilityData) -> Section:
    p, grid = d.p, d.grid
    metric = verdict_metric(grid, p.verdict_metric)
    judged = judged_baselines(d)
    printed, long = ticket_table(grid, p.sparsities, judged, p.verdict, metric)
    write_csv(d.out / "ticket_table.csv", long)
    inexact = long[long.nearest_not_exact]
    metric_words = {"val_accuracy": "validation accuracy", "test_accuracy": "test accuracy"}[metric]
    fallback = (" (the study has no validation split, so test accuracy is judged instead of the paper's "
                "validation accuracy)" if metric != p.verdict_metric else "")
    parts = ["## Ticket accuracy per configuration\n",
             "Test accuracy (mean ± std over seeds) of the IMP ticket at the level nearest each sparsity.\n",
             f"★ = winning ticket: a pruned ticket whose {metric_words} over seeds matches the dense network of "
             f"the same configuration (003 §3.1: \"a pruned network that can attain similar (or better) validation "
             f"accuracy as the dense network\") and, where rr / random-mask baselines were trained for that "
             f"configuration at that level, shows a clear gap above each of them{fallback}. "
             f"{p.verdict.describe()} The judged values are in `ticket_table.csv` "
             f"(judged_mean, dense_judged_mean, baselines_beaten)."
             + (f" With one seed no cell gets a ★ ({NO_NOISE}).\n" if grid.seed.nunique() < MIN_SEEDS else "\n"),
             markdown(printed)]
    unreached = [f"{100 * t:.2f}%" for t in p.sparsities if t > grid.sparsity.max() + 0.005]
    if unreached:
        parts.append(f"Sparsities the search did not reach (—): {report_text.join(unreached)}.\n")
    if len(inexact):
        parts.append(f"Sparsities not reached exactly (nearest level used, shown in the cell): "
                     f"{report_text.join(sorted(set(f'{100 * s:.2f}%' for s in inexact.target_sparsity)))}.\n")
    plot_accuracy(grid, d.out / "accuracy_vs_sparsity.png", d.colors)
    found = report_text.level_findings(level_verdicts(grid, judged, p.verdict, metric),
                                       f"winning tickets (judged on {metric_words})", seeds=grid.seed.nunique())
    parts.append("![accuracy vs sparsity](accuracy_vs_sparsity.png)\n")
    every = grid.pivot_table(index="level", columns="config", values="test_accuracy", aggfunc="mean")
    every = every[[c for c in _config_order(grid) if c in every.columns]]
    every.insert(0, "sparsity %", 100 * grid.groupby("level")["sparsity"].mean())
    parts += ["### Every level (mean test accuracy over seeds)\n", markdown(every.reset_index())]
    return section(*parts, findings=[found], winning_cells=int(long.winning.sum()) if len(long) else 0)


def plot_accuracy(grid: pd.DataFrame, path, colors=None):
    """One panel per rewind point; one colour per configuration (`colors`, the report's)."""
    rewinds = sorted(grid.rewind.unique(), key=lambda r: (r != "0it", r))
    colors = colors or plotting.label_colors(grid.config)
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
    plotting.save(fig, path)


def baselines(d: StabilityData) -> Section:
    grid, baselines = d.grid, d.experiment("baseline")
    if not len(baselines):
        return Section()
    both = pd.concat([grid[grid.config.isin(baselines.config.unique()) & grid.level.isin(baselines.level.unique())
                           & grid.seed.isin(baselines.seed.unique())], baselines])
    both = both.assign(network=both.config + " " + both.variant)
    return section("## Tickets against their baselines\n",
                   "rr: the ticket's mask on a fresh initialization; random_mask: a random mask of the same "
                   "sparsity on the rewind weights.\n", markdown(level_table(both, "network")))


def aimp(d: StabilityData) -> Section:
    grid, aimp = d.grid, d.experiment("aimp")
    if not len(aimp):
        return Section()
    reference = grid[grid.config.isin(aimp.config.unique()) & grid.level.isin(aimp.level.unique())
                     & grid.seed.isin(aimp.seed.unique())]
    both = pd.concat([reference.assign(network=reference.config + " full IMP"),
                      aimp.assign(network=aimp.config + " " + aimp.variant)])
    return section("## AIMP: mask search on a fraction of the training\n",
                   "Masks searched with the training budget (and LR schedule) scaled down, the tickets then "
                   "trained with the full budget; the reference is the grid's ticket (same seeds).\n",
                   markdown(level_table(both, "network")))


def disentangle(d: StabilityData) -> Section:
    grid, disentangle = d.grid, d.experiment("disentangle")
    if not len(disentangle):
        return Section()
    reference = grid[grid.level.isin(disentangle.level.unique()) & (grid.rewind == "0it")
                     & grid.seed.isin(disentangle.seed.unique())]
    reference = reference.assign(network="search_" + reference.training_config + "_train_" + reference.training_config)
    involved = set(disentangle.training_config) | set(disentangle.train_config)
    both = pd.concat([reference[reference.training_config.isin(involved)],
                      disentangle.assign(network=disentangle.variant)])
    return section("## Disentangling mask search from sparse training\n",
                   "Masks found with one configuration's hyperparameters, trained (from the same rewind weights) "
                   "with another's; the diagonal rows (search = train) are the grid's own tickets of the same seeds.\n",
                   markdown(level_table(both, "network")))


def late_rewinding(d: StabilityData) -> Section:
    """Findings only: does late rewinding beat rewinding to init at the highest level?"""
    return section(findings=[late_rewinding_finding(d.grid, d.p.verdict).replace("\n", " ")])


def late_rewinding_finding(grid: pd.DataFrame, rule: VerdictRule, metric: str = "test_accuracy") -> str:
    """One sentence: at the grid's highest level, does late rewinding beat rewinding to init?

    The papers' premise for late rewinding (003 §2; Frankle et al. 2020 on CIFAR-10) is that IMP
    rewound to initialization falls behind at high sparsity while late rewinding does not. Whether
    that happens on *this* run is measured, per training configuration, with the one verdict rule
    (clear gap either way), not implied."""
    rewinds = sorted(grid.rewind.unique(), key=lambda r: (r != "0it", r))
    if "0it" not in rewinds or len(rewinds) < 2:
        return ""
    level = int(grid.level.max())
    top = grid[grid.level == level]
    late, init_better, neither = [], [], []
    for config, group in top.groupby("training_config"):
        at_init = group[group.rewind == "0it"][metric]
        for rewind in rewinds[1:]:
            other = group[group.rewind == rewind][metric]
            if other.empty or at_init.empty:
                continue
            name = f"{config} (init {at_init.mean():.3f}, {rewind} {other.mean():.3f})"
            (late if rule.clear_gap(other, at_init) else init_better if rule.clear_gap(at_init, other) else neither).append(name)
    total = len(late) + len(init_better) + len(neither)
    if not total:
        return ""
    if grid.seed.nunique() < MIN_SEEDS:
        return f"Late rewinding vs. rewinding to init at the highest level: {NO_NOISE}.\n"
    sparsity = 100 * top.sparsity.mean()
    words = (f"**Late rewinding vs. rewinding to init** at the highest level ({sparsity:.2f}% sparsity, {metric.replace('_', ' ')}): "
             f"late rewinding is clearly better in {len(late)} of {report_text.plural(total, 'training configuration')}"
             + (f" ({'; '.join(late)})" if late else "")
             + f", rewinding to init clearly better in {len(init_better)}"
             + (f" ({'; '.join(init_better)})" if init_better else "")
             + f", neither in {len(neither)}" + (f" ({'; '.join(neither)})" if neither else "") + ". ")
    if len(late) > total / 2:
        return words + "As on CIFAR-10 in the papers, IMP from initialization falls behind late rewinding here.\n"
    return (words + "Unlike CIFAR-10 in the papers, IMP from initialization does not fall behind late rewinding on "
            "this run, so the late-rewinding arms here say little about why late rewinding helps; run the "
            "`*_cifar10.gin` configs for that.\n")
