"""DataDietReport: accuracy vs. sparsity per pre-training scheme, and which initializations
dominate which -> results.csv, report.md, accuracy_vs_sparsity.png, dominance.csv.

Inputs are MaskSearch artifacts (one per scheme and seed); `variants[i]` / `schemes[i]` name
input i. Every level of a search (the dense level 0 included) is a row of that variant. The
subset columns come from the search's `pretrained` input (a Pretraining artifact) when it has
one; otherwise the search is standard IMP on all data, rewinding to its rewind step.

Dominance, as the paper defines it (Paul et al. 2022, "Pre-Training on a Data Diet",
/work/shared/papers/004, §3):

  Definition 3.1. "Let w_t^S be the dense network weights after training on a subset of the
  training data S until rewind step t. Then for two data subsets {S, S'}, rewind times {t, t'}
  and a given range of sparsities, w_{t'}^{S'} is said to *dominate* (weakly dominate) w_t^S if
  sparse networks obtained from IMP with w_{t'}^{S'} as the initialization achieve better
  (no-worse) accuracy than those obtained from IMP with w_t^S as the initialization."

  Definition 3.2. "A dense network w_t^S is a matching initialization for rewind time t* if
  w_t^S weakly dominates w_{t*}."  (w_t: "a network trained on the full dataset for t steps";
  in the paper's Fig. 5 the all-data curves w_{t*/2}, w_{t*} are pre-trained like the subsets,
  with the pre-training learning rate.)

Applied here on the mean accuracy over seeds, at every sparse level (level >= 1) both
initializations have (the range of sparsities):
- A dominates B (`D`): mean_A > mean_B at every level (strictly better everywhere);
- A weakly dominates B (`W` when it does not also dominate): mean_A >= mean_B at every level;
- matching initialization: weakly dominates the reference w_{t*} (`reference`, chosen by the
  pipeline: all data pre-trained for t* steps, or standard IMP rewinding to t*).
Means are compared exactly (up to float rounding, 1e-12): no tolerance enters the definitions.
Two identical curves weakly dominate each other and neither dominates. The seed-to-seed std
is reported beside the relations (max std over the range, mean ± std per level), and
`VerdictRule` (lth_tf/metrics/verdicts.py) says at which levels w_{t*} and an initialization
differ by a clear gap.

Opens with a findings paragraph (matching initializations, the most dominant ones, whether IMP
needs pre-training here) and ends with a glossary. Over 300 lines because Definitions 3.1 / 3.2
are applied and put in words here (tables, matrix, sentences).
"""
import dataclasses
from pathlib import Path
from typing import Tuple

import gin
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components import plotting, report_text  # noqa: E402
from components.report import markdown, plot_accuracy, summary_table  # noqa: E402
from components.spec import ComponentSpec  # noqa: E402
from lth_tf.errors import ConfigError  # noqa: E402
from lth_tf.io import read_json, write_csv, write_text  # noqa: E402
from lth_tf.metrics.verdicts import Stats, VerdictRule  # noqa: E402

BASELINE_SCHEMES = ("init", "all_data")  # standard IMP, drawn in every panel of the per-scheme plot
INFO_COLUMNS = ("scheme", "subset_size", "subset_fraction", "label_noise", "pretrain_steps", "scoring_steps")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class DataDietReportParams:
    variants: Tuple[str, ...]  # one per results input, e.g. 'pretrain_el2n_easy_10pct'
    schemes: Tuple[str, ...]  # one per results input, e.g. 'el2n_easy', 'random_balanced', 'init'
    study: str = "data_diet"
    title: str = "data diet"
    metric: str = "test_accuracy"
    reference: str = ""  # the variant that is w_{t*} (Definition 3.2); '' = no matching column
    reference_note: str = ""  # what the reference is, for the report (e.g. 'all data, t* = 120 steps')
    rule: VerdictRule = dataclasses.field(default_factory=VerdictRule)  # clear gaps vs. the reference

    def __post_init__(self):
        if len(self.variants) != len(self.schemes):
            raise ConfigError("DataDietReportParams.variants and .schemes need one entry per results input.")
        object.__setattr__(self, "variants", tuple(self.variants))
        object.__setattr__(self, "schemes", tuple(self.schemes))
        if self.reference and self.reference not in self.variants:
            raise ConfigError(f"DataDietReportParams.reference={self.reference!r} is none of the variants "
                              f"{sorted(set(self.variants))}.")


def scheme_info(tickets, scheme: str) -> dict:
    """Subset size, label noise and step counts behind a MaskSearch artifact's rewind point."""
    pretrained = tickets.metadata["inputs"].get("pretrained")
    if pretrained is not None:
        s = read_json(Path(pretrained) / "artifact.json")["summary"]
        return {"scheme": scheme, "subset_size": s["subset_size"], "subset_fraction": s["subset_fraction"],
                "label_noise": s["label_noise"], "pretrain_steps": s["steps"], "scoring_steps": s["train_steps"] - s["steps"]}
    n = tickets.train_examples
    rewind_step = int(pd.read_csv(tickets.path / "results.csv")["rewind_step"].iloc[0])
    return {"scheme": scheme, "subset_size": n if rewind_step else 0, "subset_fraction": 1.0 if rewind_step else 0.0,
            "label_noise": 0.0, "pretrain_steps": rewind_step, "scoring_steps": 0}


def gather(p: DataDietReportParams, artifacts) -> pd.DataFrame:
    frames = []
    for tickets, variant, scheme in zip(artifacts, p.variants, p.schemes):
        frame = pd.read_csv(tickets.path / "results.csv").rename(columns={"variant": "ticket"})
        for key, value in reversed(list(scheme_info(tickets, scheme).items())):
            frame.insert(0, key, value)
        frame.insert(0, "variant", variant)
        frame.insert(0, "study", p.study)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    first = ["study", "variant", "seed", "level", "sparsity", "val_accuracy", "test_accuracy", "train_steps",
             *INFO_COLUMNS, "ticket"]
    return frame[first + [c for c in frame.columns if c not in first]]


ROUNDING = 12  # decimals: means are compared exactly, up to floating-point rounding


def relation(acc_a, acc_b) -> str:
    """Definition 3.1 on two aligned accuracy curves over a range of sparsities: 'D' when A is
    better at every level (A dominates B), 'W' when A is no worse at every level but not better at
    all of them (A only weakly dominates B), '-' when A is worse somewhere."""
    gap = np.round(np.asarray(acc_a, dtype=np.float64) - np.asarray(acc_b, dtype=np.float64), ROUNDING)
    if gap.size == 0 or np.isnan(gap).any():
        return "-"
    if (gap > 0).all():
        return "D"
    return "W" if (gap >= 0).all() else "-"


def sparse_curves(summary: pd.DataFrame) -> dict:
    """variant -> its summary rows at the sparse levels (level >= 1), indexed by level."""
    sparse = summary[summary.level >= 1]
    return {v: g.set_index("level").sort_index() for v, g in sparse.groupby("variant", sort=False)}


def dominance(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per ordered pair (A, B) of different variants, over the sparse levels both have:
    dominates / weakly_dominates (Definition 3.1, on mean accuracy over seeds), the worst and mean
    gap mean_A - mean_B, and the largest seed std of either curve over those levels (the noise the
    relation is read against; it is not part of the definition)."""
    curves = sparse_curves(summary)
    rows = []
    for a, ga in curves.items():
        for b, gb in curves.items():
            if a == b:
                continue
            levels = ga.index.intersection(gb.index)
            if not len(levels):
                continue
            mark = relation(ga.loc[levels, "mean"], gb.loc[levels, "mean"])
            gap = ga.loc[levels, "mean"] - gb.loc[levels, "mean"]
            rows.append({"a": a, "b": b, "dominates": mark == "D", "weakly_dominates": mark in ("D", "W"),
                         "levels": len(levels), "worst_gap": float(gap.min()), "mean_gap": float(gap.mean()),
                         "max_std_a": float(ga.loc[levels, "std"].max()),
                         "max_std_b": float(gb.loc[levels, "std"].max())})
    return pd.DataFrame(rows, columns=["a", "b", "dominates", "weakly_dominates", "levels", "worst_gap",
                                       "mean_gap", "max_std_a", "max_std_b"])


def dominance_matrix(table: pd.DataFrame, variants) -> pd.DataFrame:
    """Rows A, columns B: 'D' when A dominates B, 'W' when A weakly dominates B (and does not
    dominate it), '-' when neither (or no common sparse level); '·' on the diagonal."""
    mark = {(r.a, r.b): "D" if r.dominates else ("W" if r.weakly_dominates else "-") for r in table.itertuples()}
    matrix = pd.DataFrame({"A \\ B": list(variants)})
    for b in variants:
        matrix[b] = ["·" if a == b else mark.get((a, b), "-") for a in variants]
    return matrix


def matching(summary: pd.DataFrame, table: pd.DataFrame, reference: str, rule: VerdictRule,
             variants=None) -> pd.DataFrame:
    """Per variant (in the order of `variants`, default: the summary's): is it a matching
    initialization (Definition 3.2: weakly dominates the reference w_{t*}), the worst gap to
    w_{t*}, its largest seed std over the range, and the levels where `rule` sees a clear gap
    either way."""
    curves = sparse_curves(summary)
    ref = curves[reference]
    pairs = {(r.a, r.b): r for r in table.itertuples()}
    rows = []
    for variant in [v for v in (variants or curves) if v in curves]:
        g = curves[variant]
        levels = g.index.intersection(ref.index)
        stats = {lv: (Stats(float(g.at[lv, "mean"]), float(g.at[lv, "std"]), int(g.at[lv, "seeds"])),
                      Stats(float(ref.at[lv, "mean"]), float(ref.at[lv, "std"]), int(ref.at[lv, "seeds"])))
                 for lv in levels}
        pair = pairs.get((variant, reference))
        rows.append({
            "variant": variant,
            "matching initialization": "yes (reference)" if variant == reference else
            ("yes" if pair is not None and pair.weakly_dominates else "no"),
            "dominates w_t*": "—" if variant == reference else ("yes" if pair is not None and pair.dominates else "no"),
            "worst gap to w_t*": 0.0 if variant == reference else (pair.worst_gap if pair is not None else np.nan),
            "max seed std": float(g["std"].max()),
            "w_t* clearly better at levels": " ".join(str(lv) for lv, (s, r) in stats.items() if rule.clear_gap(r, s)),
            "clearly better than w_t* at levels": " ".join(str(lv) for lv, (s, r) in stats.items()
                                                           if rule.clear_gap(s, r)),
        })
    return pd.DataFrame(rows)


def mean_pm_std(summary: pd.DataFrame, variants) -> pd.DataFrame:
    """Rows levels, columns variants: 'mean ± std' over seeds ('mean' alone with one seed)."""
    text = summary.assign(cell=[f"{m:.4f} ± {s:.4f}" if n > 1 else f"{m:.4f}"
                                for m, s, n in zip(summary["mean"], summary["std"], summary["seeds"])])
    table = text.pivot(index="level", columns="variant", values="cell").reindex(columns=list(variants))
    table.insert(0, "weights remaining %", 100 * (1 - summary.groupby("level")["sparsity"].mean()))
    return table.reset_index()


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


def definitions(p: DataDietReportParams, metric: str, summary: pd.DataFrame) -> str:
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
    seeds = min(a.n, b.n)
    noise = (" (one seed: no estimate of seed noise, so only the rule's absolute floor decides; rerun with more "
             "`data_diet.seeds` before relying on it)" if seeds < 2 else f" ({seeds} seeds)")
    head = (f"**Does IMP need pre-training here?** At level {level} ({100 * float(summary[summary.level == level].sparsity.mean()):.2f}% "
            f"sparsity) rewinding to init gives {a.mean:.4f} and `{reference}` (w_t*) {b.mean:.4f}{noise}: ")
    if rule.clear_gap(b, a):
        return head + "IMP from initialization falls behind, as on CIFAR-10 in the paper, so a pre-training phase matters on this run.\n"
    if rule.clear_gap(a, b):
        verdict = "rewinding to init is clearly better"
    else:
        verdict = "no clear gap"
    return (head + f"{verdict}. Unlike CIFAR-10 in the paper, IMP from initialization does not fall behind on this run, "
            "so the comparison of pre-training subsets here says little about the pre-training phase IMP needs; "
            "run `configs/data_diet_cifar10.gin` for that.\n")


def findings(table: pd.DataFrame, match: pd.DataFrame, summary: pd.DataFrame, p: DataDietReportParams) -> list:
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


def execute(p: DataDietReportParams, inputs, out: Path, ctx):
    artifacts = inputs["results"]
    if len(artifacts) != len(p.variants):
        raise ConfigError(f"DataDietReport got {len(artifacts)} results but {len(p.variants)} variant names.")
    frame = gather(p, artifacts)
    write_csv(out / "results.csv", frame)
    summary = summary_table(frame, p.metric)
    colors = plotting.label_colors(summary.variant)
    plot_accuracy(summary, p.metric, out / "accuracy_vs_sparsity.png", p.title, colors)
    plot_by_scheme(summary, dict(zip(p.variants, p.schemes)), p.metric, out / "accuracy_by_scheme.png", p.title,
                   colors)
    table = dominance(summary)
    write_csv(out / "dominance.csv", table)
    variants = list(dict.fromkeys(p.variants))
    info = frame.groupby("variant", sort=False).agg(**{c: (c, "first") for c in INFO_COLUMNS},
                                                    final_train_steps=("train_steps", "max"), seeds=("seed", "nunique"))
    counts = table.groupby("a").agg(dominates=("dominates", "sum"), weakly_dominates=("weakly_dominates", "sum"))
    info = info.join(counts).fillna({"dominates": 0, "weakly_dominates": 0}).reset_index()
    metric = p.metric.replace("_", " ")
    matrix = dominance_matrix(table, variants)
    match = matching(summary, table, p.reference, p.rule, variants) if p.reference else pd.DataFrame()
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
    found = findings(table, match, summary, p)
    sections = [
        f"# {p.title}\n", report_text.findings_section(found),
        f"Study `{p.study}`: {len(frame)} networks from {len(variants)} initializations, "
        f"seeds {sorted(frame.seed.unique().tolist())}. Each initialization is the rewind point of an IMP search "
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
        "## Dominance (Definition 3.1)\n",
        definitions(p, metric, summary),
        "Read a row: how that row's initialization (A) relates to each column's (B): `D` dominates, "
        "`W` weakly dominates only, `-` neither.\n",
        markdown(matrix),
        *match_section,
        "Every ordered pair, with the worst and mean gap mean_A - mean_B and each curve's largest seed std, "
        "is in `dominance.csv`.\n",
        "## All variants (mean ± std over seeds)\n", markdown(summary),
    ]
    text = "\n".join(sections)
    write_text(out / "report.md", text + "\n" + report_text.glossary(text))
    return {"rows": len(frame), "variants": len(variants),
            "dominating_pairs": int(table["dominates"].sum()),
            "weakly_dominating_pairs": int(table["weakly_dominates"].sum()),
            "reference": p.reference,
            "matching_initializations": int((match["matching initialization"] == "yes").sum()) if p.reference else 0}


SPEC = ComponentSpec(name="DataDietReport", inputs={"results": "Tickets*"}, output="Report",
                     params=DataDietReportParams, executor=execute,
                     version=2)  # 2: findings paragraph, glossary, shared colours
