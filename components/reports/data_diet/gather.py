"""The data-diet report's rows (one per network of every initialization's IMP search) and what
its sections read (`DietData`)."""
import dataclasses
from pathlib import Path
from typing import Dict, List, Tuple

import pandas as pd

from components.reports import plotting as plotting
from components.reports.report import summary_table
from components.reports.data_diet.dominance import dominance, matching
from lth_tf.io import read_json

INFO_COLUMNS = ("scheme", "subset_size", "subset_fraction", "label_noise", "pretrain_steps", "scoring_steps")


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


def gather(p, artifacts) -> pd.DataFrame:
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


@dataclasses.dataclass(frozen=True)
class DietData:
    """Every network (`frame`), the summary per (variant, level), the dominance table of every
    ordered pair, the matching table (empty without a reference) and the report's colours."""
    p: object  # DataDietReportParams
    out: Path
    frame: pd.DataFrame
    summary: pd.DataFrame
    variants: List[str]
    table: pd.DataFrame
    match: pd.DataFrame
    colors: Dict
    artifacts: Tuple = ()  # the Tickets inputs, one per variant (p.variants)

    @classmethod
    def of(cls, p, artifacts, out: Path) -> "DietData":
        frame = gather(p, artifacts)
        summary = summary_table(frame, p.metric)
        variants = list(dict.fromkeys(p.variants))
        table = dominance(summary)
        match = matching(summary, table, p.reference, p.rule, variants) if p.reference else pd.DataFrame()
        return cls(p, out, frame, summary, variants, table, match, plotting.label_colors(summary.variant),
                   tuple(artifacts))
