"""StabilityReport: the stability study's tables and plots, in the shape of the paper's.

Inputs are lists of artifacts by role (grid searches, baselines, AIMP, disentangling, dynamics,
instability, rewind search, probes, few-shot, transfer); every row is labelled with the
configuration read from the artifacts' own parameters (momentum, batch size, rewind point), so
nothing depends on the order the pipeline passed them in.

Outputs: results.csv (every evaluated network: study, experiment, config, variant, seed, level,
sparsity, val_accuracy, test_accuracy, train_steps, ..., flagged), sibling CSVs for every other
number (dynamics, barriers, interpolation, rewind_search, probes, few_shot, transfer, and the
tables as printed), report.md and the PNGs it links.

The report is the list SECTIONS, one function per analysis (components/reports/stability/: each
gathers, tabulates, plots and words its analysis and returns a `Section`); it opens with their
findings paragraph (which configurations give winning tickets up to which sparsity, which are
stable to SGD noise, late rewinding vs. rewinding to init) and ends with a glossary. The
winning-ticket rule (★) is in components/reports/stability/tables.py.
"""
import dataclasses
from pathlib import Path
from typing import Tuple

import gin

from components.reports import section as S
from components.reports.plateau import dense_runs, plateau_section
from components.reports.stability import instability, probes, tickets
from components.reports.stability.gather import StabilityData
# Re-exported for callers of the old module (tests):
from components.reports.stability.instability import stability_finding  # noqa: F401
from components.reports.stability.probes import transfer_table  # noqa: F401
from components.reports.stability.tables import ticket_table, verdict_metric  # noqa: F401
from components.reports.stability.tickets import late_rewinding_finding  # noqa: F401
from components import ComponentSpec
from components.stability.common import training_label
from lth_tf.errors import ConfigError
from lth_tf.io import write_csv, write_text
from lth_tf.metrics.verdicts import VerdictRule

# The sparsities of IMP levels 0, 5, 10, 15, 20 at 20% per level.
PAPER_SPARSITIES = (0.0, 0.6723, 0.8926, 0.9648, 0.9885)
VERDICT_METRICS = ("val_accuracy", "test_accuracy")


def plateau(data: StabilityData) -> S.Section:
    """The plateau check of each training configuration's dense network (the grid's level 0)."""
    return plateau_section(dense_runs(data.inputs["searches"], lambda t: training_label(t.params.training)), data.out)


# The report, in order. The findings paragraph takes the sections' findings in this order.
SECTIONS = (tickets.header, tickets.flags, plateau, tickets.dynamics, tickets.tickets, tickets.baselines,
            instability.instability, instability.rewind_search, probes.probes, probes.few_shot, probes.transfer,
            tickets.aimp, tickets.disentangle, tickets.late_rewinding)


@gin.configurable
@dataclasses.dataclass(frozen=True)
class StabilityReportParams:
    study: str = "stability"
    title: str = "Stability to SGD noise and lottery tickets"
    sparsities: Tuple[float, ...] = PAPER_SPARSITIES  # columns of the ticket table (nearest level)
    chance_factor: float = 1.5  # flag networks whose test accuracy is below chance_factor / classes
    threshold: float = 0.02  # barrier below which training counts as stable
    verdict_metric: str = "val_accuracy"  # what the ★ judges (003 §3.1: "validation accuracy")
    verdict: VerdictRule = dataclasses.field(default_factory=VerdictRule)
    note: str = ""  # printed under the title: a caveat on the whole run (configs/smoke.gin: its numbers mean nothing)

    def __post_init__(self):
        if self.verdict_metric not in VERDICT_METRICS:
            raise ConfigError(f"StabilityReportParams.verdict_metric={self.verdict_metric!r} must be one of "
                              f"{VERDICT_METRICS} ('val_accuracy' is the paper's definition of a winning ticket).")


def execute(p: StabilityReportParams, inputs, out: Path, ctx):
    data = StabilityData.of(p, inputs, out)
    write_csv(out / "results.csv", data.results)
    sections = [make(data) for make in SECTIONS]
    write_text(out / "report.md", S.compose(p.title, sections, p.note))
    return {"rows": len(data.results), **S.summary(sections)}


SPEC = ComponentSpec(
    name="StabilityReport",
    inputs={"searches": "Tickets*", "baselines": "Trained*?", "aimp": "Trained*?", "aimp_searches": "Tickets*?",
            "disentangle": "Trained*?", "dynamics": "Dynamics*?", "instability": "Instability*?",
            "rewind_search": "RewindSearch*?", "probes": "Probes*?", "few_shot": "FewShot*?", "transfer": "Transfer*?",
            "transfer_searches": "Tickets*?"},
    output="Report", params=StabilityReportParams, executor=execute,
    version=4)  # 2: findings, glossary, fixed colours, unreached sparsities shown as —; 3: no verdict from one seed;
    # 4: plateau check
