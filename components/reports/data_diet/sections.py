"""The data-diet report's sections, in report order: the initializations and their accuracy by
level (plots, whether IMP needs pre-training here; the report's findings), dominance
(Definition 3.1) and matching initializations (Definition 3.2), every variant."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from components.reports import plotting as plotting
from components.reports import text as report_text  # noqa: E402
from components.reports.report import plot_accuracy  # noqa: E402
from components.reports.data_diet.dominance import dominance_matrix, mean_pm_std  # noqa: E402
from components.reports.data_diet.gather import INFO_COLUMNS, DietData  # noqa: E402
from components.reports.plateau import dense_runs, plateau_section  # noqa: E402
from components.reports.section import Section, markdown, section  # noqa: E402
from lth_tf.io import write_csv  # noqa: E402
from lth_tf.metrics.verdicts import NO_NOISE, Stats, VerdictRule  # noqa: E402

BASELINE_SCHEMES = ("init", "all_data")  # standard IMP, drawn in every panel of the per-scheme plot


def initializations(d: DietData) -> Section:
    p, frame, summary, table, variants = d.p, d.frame, d.summary, d.table, d.variants
    plot_accuracy(summary, p.metric, d.out / "accuracy_vs_sparsity.png", p.title, d.colors)
    plot_by_scheme(summary, dict(zip(p.variants, p.schemes)), p.metric, d.out / "accuracy_by_scheme.png", p.title,
                   d.colors)
    info = frame.groupby("variant", sort=False).agg(**{c: (c, "first") for c in INFO_COLUMNS},
                                                    final_train_steps=("train_steps", "max"), seeds=("seed", "nunique"))
    counts = table.groupby("a").agg(dominates=("dominates", "sum"), weakly_dominates=("weakly_dominates", "sum"))
    info = info.join(counts).fillna({"dominates": 0, "weakly_dominates": 0}).reset_index()
    metric = p.metric.replace("_", " ")
    return section(
        f"Study `{p.study}`: {len(frame)} networks from {len(variants)} initializations, "
        f"{report_text.seeds(frame.seed)}. Each initialization is the rewind point of an IMP search "
        f"on all (clean) training data: weights pre-trained for `pretrain_steps` steps on a subset (`pretrain_*`), "
        f"or standard IMP rewinding to step 0 / step k of dense training on all data (`rewind_*`). "
        f"`train_steps` counts every training step behind a network: scoring networks, pre-training, "
        f"the dense run and earlier IMP levels.\n",
        "## Initializations\n", markdown(info),
        f"## {metric} by level (mean ± std over seeds)\n", markdown(mean_pm_std(summary, variants)),
        pretraining_needed_finding(summary, p.reference, p.rule) if p.reference else "",
        "![accuracy vs sparsity](accuracy_vs_sparsity.png)\n",
        "Per pre-training scheme (grey: standard IMP rewinding to init / to step k on all data):\n",
        "![accuracy by scheme](accuracy_by_scheme.png)\n",
        findings=findings(table, d.match, summary, p), variants=len(variants))


def dominance_section(d: DietData) -> Section:
    p, table, match, variants = d.p, d.table, d.match, d.variants
    write_csv(d.out / "dominance.csv", table)
    matrix = dominance_matrix(table, variants)
    if p.reference:
        column = dict(zip(match["variant"], match["matching initialization"]))
        matrix[f"matching initialization (weakly dominates {p.reference})"] = [column.get(v, "no") for v in variants]
        found = [v for v in match.loc[match["matching initialization"] == "yes", "variant"]]
        finding = (f"Matching initializations for t* (weakly dominate `{p.reference}`): "
                   + (", ".join(f"`{v}`" for v in found) if found else "none") + ".\n")
        match_section = [
            "## Matching initializations (Definition 3.2)\n", finding, markdown(match),
            "The last two columns list the levels where the two curves differ by a clear gap, by the project's "
            "`VerdictRule` (its own *matching*, a ticket against the dense network, is not used in this report; "
            f"here *matching initialization* is Definition 3.2 only): {p.rule.describe()}\n"]
    else:
        match_section = []
    return section(
        "## Dominance (Definition 3.1)\n",
        definitions(p, p.metric.replace("_", " "), d.summary),
        "Read a row: how that row's initialization (A) relates to each column's (B): `D` dominates, "
        "`W` weakly dominates only, `-` neither.\n",
        markdown(matrix),
        *match_section,
        "Every ordered pair, with the worst and mean gap mean_A - mean_B and each curve's largest seed std, "
        "is in `dominance.csv`.\n",
        dominating_pairs=int(table["dominates"].sum()), weakly_dominating_pairs=int(table["weakly_dominates"].sum()),
        reference=p.reference,
        matching_initializations=int((match["matching initialization"] == "yes").sum()) if p.reference else 0)


def all_variants(d: DietData) -> Section:
    return section("## All variants (mean ± std over seeds)\n", markdown(d.summary))


def plateau(d: DietData) -> Section:
    """The plateau check of each variant's dense network (level 0, trained from its rewind point)."""
    variant_of = {str(a.path): v for a, v in zip(d.artifacts, d.p.variants)}
    return plateau_section(dense_runs(d.artifacts, lambda t: variant_of[str(t.path)]), d.out, "variant")


SECTIONS = (plateau, initializations, dominance_section, all_variants)


def plot_by_scheme(summary: pd.DataFrame, scheme_of: dict, metric: str, path: Path, title: str, colors=None):
    """One panel per pre-training scheme (its subset sizes, label noise, lengths), with the
    standard-IMP baselines in grey in every panel."""
    schemes = [s for s in dict.fromkeys(scheme_of.values()) if s not in BASELINE_SCHEMES] or list(BASELINE_SCHEMES)
    cols = min(3, len(schemes))
    rows = -(-len(schemes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    baselines = [v for v, s in scheme_of.items() if s in BASELINE_SCHEMES]
    colors = colors or plotting.label_colors(summary.variant)
    for ax, scheme in zip(axes.flat, schemes):
        for variant in baselines + [v for v, s in scheme_of.items() if s == scheme]:
            group = summary[summary.variant == variant].sort_values("sparsity")
            style = dict(color="grey", linestyle=("--", ":", "-.")[baselines.index(variant) % 3], linewidth=1) \
                if variant in baselines else dict(marker="o", markersize=3, color=colors.get(variant))
            ax.plot(plotting.remaining_of(group["sparsity"]), group["mean"], label=variant, **style)
        plotting.remaining_axis(ax, plotting.remaining_of(summary.sparsity))
        ax.set_title(scheme, fontsize=10)
        ax.set_ylabel(metric.replace("_", " "))
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(schemes):]:
        ax.axis("off")
    fig.suptitle(title)
    plotting.save(fig, path)


def definitions(p, metric: str, summary: pd.DataFrame) -> str:
    sparse = summary[summary.level >= 1]
    remaining = 100 * (1 - sparse.groupby("level")["sparsity"].mean())
    span = (f"levels {int(remaining.index.min())}-{int(remaining.index.max())}, {remaining.max():.3g}% down to "
            f"{remaining.min():.3g}% of the weights remaining") if len(remaining) else "no sparse level"
    reference = (f"The reference w_t* is `{p.reference}`" + (f" ({p.reference_note})" if p.reference_note else "") + "."
                 if p.reference else "No w_t* among these initializations: no matching column.")
    return (
        "The paper's definitions (Paul et al. 2022, *Pre-Training on a Data Diet*, §3, Definitions 3.1 and 3.2), "
        f"applied to the mean {metric} over seeds at every pruning level >= 1 that both initializations have "
        f"(here {span}):\n\n"
        "- **A dominates B** (`D`): A's sparse networks are *better* than B's at every sparsity of the range.\n"
        "- **A weakly dominates B** (`W`): A's sparse networks are *no worse* than B's at every sparsity of the "
        "range (and, for `W` in the matrix, not better at all of them; `D` implies weak dominance too).\n"
        "- **Matching initialization**: an initialization that weakly dominates w_t*, the dense network "
        "trained on all data for t* steps (Definition 3.2). " + reference + "\n\n"
        "Means are compared exactly (no tolerance): two identical curves weakly dominate each other and neither "
        "dominates. The seed-to-seed noise is shown beside the relations, not folded into them: "
        "`max seed std` (largest std over seeds across the range), `dominance.csv` (`max_std_a`, `max_std_b`) "
        "and the mean ± std table below. With one seed there is no std, and a relation can flip on a rerun.\n")


def pretraining_needed_finding(summary: pd.DataFrame, reference: str, rule: VerdictRule,
                               init: str = "rewind_init") -> str:
    """One sentence: does IMP rewound to initialization fall behind the t* initialization at the
    highest sparsity on this run?

    004 §1 builds on it: on CIFAR-10, IMP rewound to init does not find matching networks at high
    sparsity, IMP rewound to a step t* of dense training does, so a pre-training phase is needed.
    Whether this run shows that is measured (the one verdict rule, from mean, std and seeds at the
    last level), not implied."""
    names = set(summary.variant)
    if init not in names or reference not in names:
        return ""
    level = int(summary[summary.variant.isin([init, reference])].level.max())

    def stats(variant):
        row = summary[(summary.variant == variant) & (summary.level == level)]
        return Stats(float(row["mean"].iloc[0]), float(row["std"].iloc[0]), int(row["seeds"].iloc[0])) if len(row) else None
    a, b = stats(init), stats(reference)
    if a is None or b is None:
        return ""
    where = (f"At level {level} ({100 * float(summary[summary.level == level].sparsity.mean()):.2f}% sparsity) "
             f"rewinding to init gives {a.mean:.4f} and `{reference}` (w_t*) {b.mean:.4f}")
    if not rule.has_noise(a, b):  # the question stays a question: no bold claim from one seed
        return (f"Does IMP need pre-training here? {where}: {NO_NOISE} (rerun with more `data_diet.seeds` to "
                f"decide).\n")
    head = f"**Does IMP need pre-training here?** {where} ({min(a.n, b.n)} seeds): "
    if rule.clear_gap(b, a):
        return head + "IMP from initialization falls behind, as on CIFAR-10 in the paper, so a pre-training phase matters on this run.\n"
    if rule.clear_gap(a, b):
        verdict = "rewinding to init is clearly better"
    else:
        verdict = "no clear gap"
    return (head + f"{verdict}. Unlike CIFAR-10 in the paper, IMP from initialization does not fall behind on this run, "
            "so the comparison of pre-training subsets here says little about the pre-training phase IMP needs; "
            "run `configs/data_diet_cifar10.gin` for that.\n")


def findings(table: pd.DataFrame, match: pd.DataFrame, summary: pd.DataFrame, p) -> list:
    """The opening sentences: the matching initializations (Def. 3.2) with their worst gap to
    w_t*, which initializations dominate the most others (Def. 3.1), and whether IMP needs
    pre-training on this run."""
    words = []
    if len(match):
        found = match[match["matching initialization"] == "yes"]
        words.append(f"**Matching initializations** (weakly dominate w_t* = `{p.reference}` at every sparse level): "
                     + ("; ".join(f"`{r['variant']}` (worst gap {r['worst gap to w_t*']:+.4f}, seed std up to "
                                  f"{r['max seed std']:.4f})" for _, r in found.iterrows()) if len(found) else "none")
                     + ".")
    if len(table):
        counts = table.groupby("a").agg(d=("dominates", "sum"), w=("weakly_dominates", "sum"), n=("b", "size"))
        counts = counts.sort_values(["d", "w"], ascending=False)
        top = counts[counts.d > 0].head(3)
        if len(top):
            words.append("Most dominant: " + "; ".join(f"`{a}` dominates {int(r.d)} and weakly dominates {int(r.w)} "
                                                       f"of {int(r.n)} others" for a, r in top.iterrows()) + ".")
        else:
            words.append("No initialization dominates another (better at every sparse level).")
    if p.reference:
        words.append(pretraining_needed_finding(summary, p.reference, p.rule).replace("\n", " "))
    return words
