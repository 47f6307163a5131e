"""SanityReport: the sanity-check study's report (paper 002, Appendices A, B, C, G).

Inputs by role: searches (MaskSearch: LT-IMP, LT-OMP, WR-IMP, WR-OMP at every rate and seed),
baselines (SparseTraining: RR, SD), correlation (WeightCorrelation: R_p), well_trained / longer
(the tuned recipe's dense network per seed, at T and at 2T epochs), tuning (optional); every row
is labelled from the artifacts' own parameters (components/reports/sanity/gather.py).

Outputs: results.csv (every evaluated network, with `lr`), verdicts.csv (the five conditions per
ticket and sparsity), correlation.csv, trials.csv, accuracy.csv (mean ± std per rate, variant and
level), report.md and its PNGs: accuracy_by_rate.png (Fig. A.1 / D.*: one panel per rate, all
variants), correlation_L<level>.png (Fig. G.1), findings.png (the ticket's advantage over RR and
R_p's distance from p along the sweep) and tuning.png (the tuner's trials).

Opens with a findings paragraph (jackpot tickets per mask method up to which sparsity, the
failing conditions, the edge over RR along the sweep) and ends with a glossary. The report is
the list of sections in components/reports/sanity/sections.py (SECTIONS), one per analysis.
"""
import dataclasses
from pathlib import Path
from typing import Tuple

import gin

from components.artifacts import tickets as T
from components.reports import section as S
from components.reports.sanity.gather import SanityData
from components.reports.sanity.sections import SECTIONS
from components import ComponentSpec
from lth_tf.errors import ConfigError
from lth_tf.io import write_csv, write_text
from lth_tf.metrics import jackpot as J
from lth_tf.metrics.verdicts import VerdictRule


@gin.configurable
@dataclasses.dataclass(frozen=True)
class SanityReportParams:
    study: str = "sanity"
    title: str = "sanity checks for lottery tickets"
    rule: VerdictRule = dataclasses.field(default_factory=VerdictRule)
    metric: str = "test_accuracy"  # judged per seed; or 'best_val_test_accuracy'
    min_sparsity: float = 0.5  # condition ①: the smallest sparsity called non-trivial
    rewind: str = "5%"  # as the pipeline was given it (for the words)
    correlation_levels: Tuple[int, ...] = (2, 5)  # levels whose R_p (ticket, RR) is plotted

    def __post_init__(self):
        J.check_min_sparsity(self.min_sparsity, "SanityReportParams.min_sparsity")
        if self.metric not in ("test_accuracy", "best_val_test_accuracy", "val_accuracy"):
            raise ConfigError(f"SanityReportParams.metric={self.metric!r}: judge 'test_accuracy' (the last epoch's), "
                              f"'best_val_test_accuracy' (the best-validation epoch's) or 'val_accuracy'.")
        object.__setattr__(self, "correlation_levels", tuple(int(l) for l in self.correlation_levels))


def execute(p: SanityReportParams, inputs, out: Path, ctx):
    data = SanityData.of(p, inputs, out)
    ordered = T.results_frame(data.results)  # the contract's columns first, the rest sorted
    ordered.insert(0, "study", p.study)
    write_csv(out / "results.csv", ordered)
    sections = [make(data) for make in SECTIONS]
    write_text(out / "report.md", S.compose(p.title, sections))
    return {"rows": len(data.results), **S.summary(sections)}


SPEC = ComponentSpec(name="SanityReport", inputs={"searches": "Tickets*", "baselines": "Trained*?",
                                                  "correlation": "Table*?", "well_trained": "Tickets*?",
                                                  "longer": "Tickets*?", "tuning": "Tuning?"},
                     output="Report", params=SanityReportParams, executor=execute,
                     version=4)  # 2: findings paragraph, glossary, shared colours; 3: no verdict from one seed; 4: plateau check
