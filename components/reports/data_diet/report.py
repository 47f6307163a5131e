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
needs pre-training here) and ends with a glossary. The report is the list of sections in
components/reports/data_diet/sections.py (SECTIONS).
"""
import dataclasses
from pathlib import Path
from typing import Tuple

import gin

from components.reports import section as S
from components.reports.data_diet.dominance import (dominance, dominance_matrix, matching,  # noqa: F401  (tests)
                                                    mean_pm_std, relation)
from components.reports.data_diet.gather import DietData
from components.reports.data_diet.sections import SECTIONS, pretraining_needed_finding  # noqa: F401  (tests)
from components import ComponentSpec
from lth_tf.errors import ConfigError
from lth_tf.io import write_csv, write_text
from lth_tf.metrics.verdicts import VerdictRule


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


def execute(p: DataDietReportParams, inputs, out: Path, ctx):
    artifacts = inputs["results"]
    if len(artifacts) != len(p.variants):
        raise ConfigError(f"DataDietReport got {len(artifacts)} results but {len(p.variants)} variant names.")
    data = DietData.of(p, artifacts, out)
    write_csv(out / "results.csv", data.frame)
    sections = [make(data) for make in SECTIONS]
    write_text(out / "report.md", S.compose(p.title, sections))
    return {"rows": len(data.frame), **S.summary(sections)}


SPEC = ComponentSpec(name="DataDietReport", inputs={"results": "Tickets*"}, output="Report",
                     params=DataDietReportParams, executor=execute,
                     version=4)  # 2: findings paragraph, glossary, shared colours; 3: no verdict from one seed; 4: plateau check
