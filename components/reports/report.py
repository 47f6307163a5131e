"""Report: gathers the results.csv of its input artifacts -> results.csv, report.md, plots.

Winning-ticket verdicts use the project's one rule (lth_tf/metrics/verdicts.py): at a level,
the ticket wins when it *matches* the dense network (mean over seeds at least the dense mean
minus one dense std) and has a *clear gap* over RR and over small-dense, where those were
trained (002 Appendix B conditions ② and ③ at one learning rate).
"""
import dataclasses
from pathlib import Path
from typing import Optional, Tuple

import gin
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components.reports import plotting as plotting
from components.reports import text as report_text  # noqa: E402
from components.reports import names  # noqa: E402
from components.reports import section as S  # noqa: E402
from components.reports.section import Section, markdown, section  # noqa: E402  (report.markdown: re-exported)
from components import ComponentSpec  # noqa: E402
from lth_tf.io import write_csv, write_text  # noqa: E402
from lth_tf.metrics.verdicts import VerdictRule  # noqa: E402


@gin.configurable
@dataclasses.dataclass(frozen=True)
class ReportParams:
    study: str = "study"
    title: str = "lth-tf report"
    rule: VerdictRule = dataclasses.field(default_factory=VerdictRule)  # gin bindings apply at construction
    metric: str = "test_accuracy"
    extra_tables: Tuple[str, ...] = ()  # csv files (relative to input artifacts) to append


def gather(artifacts) -> pd.DataFrame:
    frames = [pd.read_csv(a.path / "results.csv") for a in artifacts if (a.path / "results.csv").exists()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def summary_table(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """mean and std of `metric` over seeds, per variant and level."""
    grouped = frame.groupby(["variant", "level"], as_index=False).agg(
        sparsity=("sparsity", "mean"), mean=(metric, "mean"), std=(metric, "std"), seeds=("seed", "nunique"),
        train_steps=("train_steps", "mean"))
    grouped["std"] = grouped["std"].fillna(0.0)
    return grouped


def verdicts(frame: pd.DataFrame, metric: str, rule: VerdictRule) -> pd.DataFrame:
    """One row per (ticket variant, level): A_LT, A_dense, A_RR, A_SD (means over seeds) and the
    verdict by the one rule (lth_tf/metrics/verdicts.py): the ticket *matches* the dense network
    and has a *clear gap* over RR and over small-dense where those were trained."""
    dense = frame[frame.variant == "dense"][metric]
    if dense.empty:
        return pd.DataFrame()
    rows = []
    for variant in sorted(v for v in frame.variant.unique() if v.startswith("lt_")):
        for level, lt in frame[frame.variant == variant].groupby("level"):
            def other(name):
                return frame[(frame.variant == name) & (frame.level == level)][metric]
            rr, sd = other(names.rr_of(variant)), other(names.small_dense_of(variant))
            matches = rule.matches(lt[metric], dense)
            beats_rr = rr.empty or rule.clear_gap(lt[metric], rr)
            beats_sd = sd.empty or rule.clear_gap(lt[metric], sd)
            rows.append({"variant": variant, "level": int(level), "sparsity": lt.sparsity.mean(),
                         "A_LT": lt[metric].mean(), "A_dense": dense.mean(),
                         "A_RR": rr.mean() if len(rr) else np.nan, "A_SD": sd.mean() if len(sd) else np.nan,
                         "winning": bool(matches and beats_rr and beats_sd),
                         "why_not": ", ".join(w for w, bad in (("does not match dense", not matches),
                                                               ("no clear gap over RR", not beats_rr),
                                                               ("no clear gap over small-dense", not beats_sd)) if bad)})
    return pd.DataFrame(rows)


def plot_accuracy(summary: pd.DataFrame, metric: str, path: Path, title: str, colors=None):
    """Mean ± std over seeds per variant against weights remaining; the dense network as a
    dashed line. `colors`: the report's label → colour mapping (plotting.label_colors)."""
    colors = colors or plotting.label_colors(summary["variant"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for variant, group in summary.groupby("variant"):
        group = group.sort_values("sparsity")
        if variant == "dense":
            ax.axhline(group["mean"].mean(), color=colors.get("dense", "black"), linestyle="--", label="dense")
            continue
        ax.errorbar(plotting.remaining_of(group["sparsity"]), group["mean"], yerr=group["std"], marker="o",
                    markersize=3, capsize=2, label=variant, color=colors.get(variant))
    plotting.remaining_axis(ax, plotting.remaining_of(summary["sparsity"]))
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title)
    ax.legend(fontsize=8)
    plotting.save(fig, path, dpi=120)


def findings(verdict: pd.DataFrame, seeds: Optional[int] = None) -> str:
    """The report's opening sentences, from the winning-ticket verdicts (`seeds`: the study's
    number of seeds; one gives no verdict)."""
    if verdict.empty:
        return ""
    rows = verdict.assign(name=verdict.variant, matches=~verdict.why_not.str.contains("does not match dense"),
                          value=verdict.A_LT, reference=verdict.A_dense,
                          baselines_beaten=[" ".join(b for b, miss, has in (
                              ("RR", "no clear gap over RR", rr), ("small-dense", "no clear gap over small-dense", sd))
                              if has and miss not in why) for why, rr, sd in zip(
                              verdict.why_not, verdict.A_RR.notna(), verdict.A_SD.notna())])
    return report_text.level_findings(rows[rows.level > 0], seeds=seeds)


def header(d: dict) -> Section:
    frame = d["frame"]
    return section(f"Study `{d['p'].study}`: {len(frame)} networks, {report_text.seeds(frame.seed)}.\n")


def accuracy(d: dict) -> Section:
    p, summary = d["p"], d["summary"]
    plot_accuracy(summary, p.metric, d["out"] / "accuracy_vs_sparsity.png", p.title)
    table = summary.pivot_table(index="level", columns="variant", values="mean")
    table.insert(0, "weights remaining %", 100 * (1 - summary.groupby("level")["sparsity"].max()))
    return section(f"## {p.metric.replace('_', ' ')} (mean over seeds) by level\n", markdown(table.reset_index()),
                   "![accuracy vs sparsity](accuracy_vs_sparsity.png)\n")


def winning(d: dict) -> Section:
    p, verdict = d["p"], verdicts(d["frame"], d["p"].metric, d["p"].rule)
    if not verdict.empty:
        write_csv(d["out"] / "verdicts.csv", verdict)
    return section("## Winning-ticket verdicts\n",
                   "A ticket wins when it matches the dense network and has a clear gap over RR and small-dense "
                   "(where trained). " + p.rule.describe() + "\n",
                   markdown(verdict), findings=[findings(verdict, d["frame"].seed.nunique())],
                   winning_levels=int(verdict["winning"].sum()) if not verdict.empty else 0)


def all_variants(d: dict) -> Section:
    return section("## All variants (mean ± std over seeds, training steps per network)\n", markdown(d["summary"]))


SECTIONS = (header, accuracy, winning, all_variants)


def execute(p: ReportParams, inputs, out: Path, ctx):
    frame = gather(inputs["results"])
    frame.insert(0, "study", p.study)
    write_csv(out / "results.csv", frame)
    data = {"p": p, "out": out, "frame": frame, "summary": summary_table(frame, p.metric)}
    sections = [make(data) for make in SECTIONS]
    write_text(out / "report.md", S.compose(p.title, sections))
    return {"rows": len(frame), **S.summary(sections)}


SPEC = ComponentSpec(name="Report", inputs={"results": "*"}, output="Report", params=ReportParams, executor=execute,
                     version=3)  # 2: findings, glossary, shared colours; 3: no verdict from one seed
