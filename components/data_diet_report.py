"""DataDietReport: accuracy vs. sparsity per pre-training scheme, and which initializations
dominate which -> results.csv, report.md, accuracy_vs_sparsity.png, dominance.csv.

Inputs are MaskSearch artifacts (one per scheme and seed); `variants[i]` / `schemes[i]` name
input i. Every level of a search (the dense level 0 included) is a row of that variant. The
subset columns come from the search's `pretrained` input (a Pretraining artifact) when it has
one; otherwise the search is standard IMP on all data, rewinding to its rewind step.

Dominance (the data-diet paper's Definitions 3.1 and 3.2, as we apply them), over the sparse
levels (level >= 1) both initializations have, on mean accuracy over seeds:
- A dominates B: acc_A >= acc_B at every level.
- A weakly dominates B: acc_A >= acc_B - margin at every level, margin = max(tolerance,
  std_A, std_B): A is never worse than B by more than the noise between seeds.
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

from components.report import markdown, plot_accuracy, summary_table  # noqa: E402
from components.mask_search import search_params  # noqa: E402
from components.spec import ComponentSpec  # noqa: E402
from lth_tf.data import load_dataset  # noqa: E402
from lth_tf.errors import ConfigError  # noqa: E402
from lth_tf.io import read_json, save_png, write_csv, write_text  # noqa: E402

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
    tolerance: float = 0.005  # weak dominance: accuracy A may lose to B (with one seed, no std)

    def __post_init__(self):
        if len(self.variants) != len(self.schemes):
            raise ConfigError("DataDietReportParams.variants and .schemes need one entry per results input.")
        object.__setattr__(self, "variants", tuple(self.variants))
        object.__setattr__(self, "schemes", tuple(self.schemes))


def scheme_info(tickets, scheme: str) -> dict:
    """Subset size, label noise and step counts behind a MaskSearch artifact's rewind point."""
    pretrained = tickets.metadata["inputs"].get("pretrained")
    if pretrained is not None:
        s = read_json(Path(pretrained) / "artifact.json")["summary"]
        return {"scheme": scheme, "subset_size": s["subset_size"], "subset_fraction": s["subset_fraction"],
                "label_noise": s["label_noise"], "pretrain_steps": s["steps"], "scoring_steps": s["train_steps"] - s["steps"]}
    n = len(load_dataset(search_params(tickets).dataset).train)
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


def dominance(summary: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """One row per ordered pair (A, B) of variants: dominates / weakly dominates over the sparse
    levels both have, and the worst gap mean_A - mean_B over those levels."""
    sparse = summary[summary.level >= 1]
    by_variant = {v: g.set_index("level") for v, g in sparse.groupby("variant")}
    rows = []
    for a, ga in by_variant.items():
        for b, gb in by_variant.items():
            if a == b:
                continue
            levels = ga.index.intersection(gb.index)
            if not len(levels):
                continue
            gap = ga.loc[levels, "mean"] - gb.loc[levels, "mean"]
            margin = np.maximum(tolerance, np.maximum(ga.loc[levels, "std"], gb.loc[levels, "std"]))
            rows.append({"a": a, "b": b, "dominates": bool((gap >= 0).all()),
                         "weakly_dominates": bool((gap >= -margin).all()), "levels": len(levels),
                         "worst_gap": float(gap.min()), "mean_gap": float(gap.mean())})
    return pd.DataFrame(rows)


def dominance_matrix(table: pd.DataFrame, variants) -> pd.DataFrame:
    """Rows A, columns B: 'D' when A dominates B, 'w' when it only weakly dominates."""
    mark = {(r.a, r.b): "D" if r.dominates else ("w" if r.weakly_dominates else "") for r in table.itertuples()}
    matrix = pd.DataFrame({"A \\ B": list(variants)})
    for b in variants:
        matrix[b] = ["—" if a == b else mark.get((a, b), "") for a in variants]
    return matrix


def plot_by_scheme(summary: pd.DataFrame, scheme_of: dict, metric: str, path: Path, title: str):
    """One panel per pre-training scheme (its subset sizes, label noise, lengths), with the
    standard-IMP baselines in grey in every panel."""
    schemes = [s for s in dict.fromkeys(scheme_of.values()) if s not in BASELINE_SCHEMES] or list(BASELINE_SCHEMES)
    cols = min(3, len(schemes))
    rows = -(-len(schemes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    baselines = [v for v, s in scheme_of.items() if s in BASELINE_SCHEMES]
    for ax, scheme in zip(axes.flat, schemes):
        for variant in baselines + [v for v, s in scheme_of.items() if s == scheme]:
            group = summary[summary.variant == variant].sort_values("sparsity")
            style = dict(color="grey", linestyle=("--", ":", "-.")[baselines.index(variant) % 3], linewidth=1) \
                if variant in baselines else dict(marker="o", markersize=3)
            ax.plot(100 * (1 - group["sparsity"]), group["mean"], label=variant, **style)
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_title(scheme, fontsize=10)
        ax.set_xlabel("weights remaining (%)")
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(schemes):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    save_png(fig, path, dpi=110)


def execute(p: DataDietReportParams, inputs, out: Path, ctx):
    artifacts = inputs["results"]
    if len(artifacts) != len(p.variants):
        raise ConfigError(f"DataDietReport got {len(artifacts)} results but {len(p.variants)} variant names.")
    frame = gather(p, artifacts)
    write_csv(out / "results.csv", frame)
    summary = summary_table(frame, p.metric)
    plot_accuracy(summary, p.metric, out / "accuracy_vs_sparsity.png", p.title)
    plot_by_scheme(summary, dict(zip(p.variants, p.schemes)), p.metric, out / "accuracy_by_scheme.png", p.title)
    table = dominance(summary, p.tolerance)
    write_csv(out / "dominance.csv", table)
    variants = list(dict.fromkeys(p.variants))
    by_level = summary.pivot_table(index="level", columns="variant", values="mean")[variants]
    by_level.insert(0, "weights remaining %", 100 * (1 - summary.groupby("level")["sparsity"].mean()))
    info = frame.groupby("variant", sort=False).agg(**{c: (c, "first") for c in INFO_COLUMNS},
                                                    final_train_steps=("train_steps", "max"), seeds=("seed", "nunique"))
    counts = table.groupby("a").agg(dominates=("dominates", "sum"), weakly_dominates=("weakly_dominates", "sum")) \
        if not table.empty else pd.DataFrame(columns=["dominates", "weakly_dominates"])
    info = info.join(counts).fillna({"dominates": 0, "weakly_dominates": 0}).reset_index()
    metric = p.metric.replace("_", " ")
    sections = [
        f"# {p.title}\n",
        f"Study `{p.study}`: {len(frame)} networks from {len(variants)} initializations, "
        f"seeds {sorted(frame.seed.unique().tolist())}. Each initialization is the rewind point of an IMP search "
        f"on all (clean) training data: weights pre-trained for `pretrain_steps` steps on a subset (`pretrain_*`), "
        f"or standard IMP rewinding to step 0 / step k of dense training on all data (`rewind_*`). "
        f"`train_steps` counts every training step behind a network: scoring networks, pre-training, "
        f"the dense run and earlier IMP levels.\n",
        "## Initializations\n", markdown(info),
        f"## {metric} (mean over seeds) by level\n", markdown(by_level.reset_index()),
        "![accuracy vs sparsity](accuracy_vs_sparsity.png)\n",
        "Per pre-training scheme (grey: standard IMP rewinding to init / to step k on all data):\n",
        "![accuracy by scheme](accuracy_by_scheme.png)\n",
        "## Dominance\n",
        f"Definitions used (the paper's Definitions 3.1 and 3.2, on mean {metric} over seeds, at every pruning "
        f"level >= 1 that both initializations have):\n\n"
        f"- **A dominates B** (`D`): acc_A >= acc_B at every level.\n"
        f"- **A weakly dominates B** (`w`): acc_A >= acc_B - max({p.tolerance}, std_A, std_B) at every level, "
        f"i.e. A is nowhere worse than B by more than the seed-to-seed noise (or {p.tolerance} with one seed).\n\n"
        f"Read a row: which initializations (columns) that row's initialization dominates.\n",
        markdown(dominance_matrix(table, variants)),
        "Every ordered pair, with the worst and mean accuracy gap acc_A - acc_B, is in `dominance.csv`.\n",
        "## All variants (mean ± std over seeds)\n", markdown(summary),
    ]
    write_text(out / "report.md", "\n".join(sections))
    return {"rows": len(frame), "variants": len(variants), "dominating_pairs": int(table["dominates"].sum()) if len(table) else 0}


SPEC = ComponentSpec(name="DataDietReport", inputs={"results": "Tickets*"}, output="Report",
                     params=DataDietReportParams, executor=execute)
