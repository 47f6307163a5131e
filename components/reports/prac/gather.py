"""The PrAC report's rows and what its sections read (`PracData`).

Inputs are grouped by role, and rows are labelled by their group, so baselines produced by the
generic components get the study's names (see components/reports/prac/report.py). The dense network
appears once per seed (vanilla's level 0 when there is one). Accuracy: `metric` (default
`best_val_test_accuracy`, 000 A1); rows without it fall back to the last epoch's
`test_accuracy` (`reported_accuracy`).
"""
import dataclasses
from pathlib import Path
from typing import Dict

import numpy as np
import pandas as pd

from components.reports import plotting as plotting
from components.reports.report import summary_table
from components.reports.prac.tables import savings, verdict_table
from lth_tf.metrics.verdicts import VerdictRule

FIRST_COLUMNS = ["study", "variant", "seed", "level", "sparsity", "val_accuracy", "test_accuracy", "train_steps",
                 "search_steps"]


def _label(group: str, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    dense = frame["level"] == 0
    if group == "vanilla":
        frame["variant"] = np.where(dense, "dense", "lt_imp")
    elif group == "random_pruning":
        frame["variant"] = np.where(dense, "dense", "random_pruning")
    elif group == "random_tickets":
        frame["variant"] = "random_ticket"
    elif group == "vanilla_reference":
        frame["variant"] = np.where(dense, "dense_other_order", "lt_imp_other_order")
    elif group == "transfer":
        base = np.where(frame["variant"].astype(str).str.startswith("lt_"), "lt_imp", frame["variant"].astype(str))
        frame["variant"] = [f"{v}@{m}" for v, m in zip(base, frame["model"])]
    frame["group"] = group
    return frame


def gather(inputs) -> pd.DataFrame:
    frames = []
    for group in ("vanilla", "prac", "random_pruning", "random_tickets", "saliency", "vanilla_reference", "transfer"):
        for artifact in inputs.get(group) or []:
            if (artifact.path / "results.csv").exists():
                frames.append(_label(group, pd.read_csv(artifact.path / "results.csv")))
    if not frames:
        return pd.DataFrame(columns=FIRST_COLUMNS)
    frame = pd.concat(frames, ignore_index=True)
    # One dense network per seed (and architecture): every search trains the same one first.
    dense = frame["variant"].astype(str).str.startswith("dense")
    keep = ~dense | ~frame.duplicated(subset=["variant", "seed", "model"], keep="first")
    frame = frame[keep].reset_index(drop=True)
    if "search_steps" not in frame:
        frame["search_steps"] = np.nan
    frame["search_steps"] = frame["search_steps"].fillna(frame["train_steps"] - frame["own_steps"])
    return frame


def reported_accuracy(frame: pd.DataFrame, metric: str):
    """(values, number of rows that fell back to `test_accuracy`): `metric` where a row has it,
    else the last epoch's test accuracy."""
    if metric in frame:
        chosen = pd.to_numeric(frame[metric], errors="coerce")
    else:
        chosen = pd.Series(np.nan, index=frame.index)
    if metric == "test_accuracy" or "test_accuracy" not in frame:
        return chosen, 0
    return chosen.fillna(frame["test_accuracy"]), int(chosen.isna().sum())


def _main_variant(p, frame: pd.DataFrame, inputs) -> str:
    if p.main_variant:
        return p.main_variant
    for artifact in inputs.get("prac") or []:
        if (artifact.path / "results.csv").exists():
            named = pd.read_csv(artifact.path / "results.csv")
            named = named.loc[named.level > 0, "variant"]
            if not named.empty:
                return str(named.iloc[0])
    return "prac"


@dataclasses.dataclass(frozen=True)
class PracData:
    """The gathered study: every network (`frame`, results.csv), the headline variant, the
    summary per (variant, level), the verdicts and savings, the report's colours."""
    p: object  # PracReportParams
    inputs: Dict
    out: Path
    frame: pd.DataFrame
    fallbacks: int  # rows without `metric`, reported with the last epoch's test accuracy
    main: str  # the headline PrAC variant
    summary: pd.DataFrame
    colors: Dict
    rule: VerdictRule
    verdicts: pd.DataFrame
    saved: pd.DataFrame

    @classmethod
    def of(cls, p, inputs, out: Path) -> "PracData":
        rule = VerdictRule()
        frame = gather(inputs)
        frame.insert(0, "study", p.study)
        frame["reported_accuracy"], fallbacks = reported_accuracy(frame, p.metric) if len(frame) else (np.nan, 0)
        frame = frame[[c for c in FIRST_COLUMNS if c in frame] + [c for c in frame if c not in FIRST_COLUMNS]]
        main = _main_variant(p, frame, inputs)
        summary = summary_table(frame, "reported_accuracy")
        summary = summary.merge(frame.groupby(["variant", "level"], as_index=False)["search_steps"].mean(),
                                on=["variant", "level"])
        prac_variants = sorted(set(frame.loc[frame.get("group") == "prac", "variant"])) if "group" in frame else []
        return cls(p, inputs, out, frame, fallbacks, main, summary, plotting.label_colors(summary.variant), rule,
                   verdict_table(frame, rule), savings(summary, prac_variants))
