"""PracReport: the PrAC study's report -> results.csv, report.md and plots.

Inputs are grouped by role, and rows are labelled by their group, so baselines produced by the
generic components get the study's names:
  prac (PracMaskSearch artifacts; their own variant names: prac, prac_es, cet_only, ...),
  vanilla (MaskSearch, IMP on all data -> lt_imp, and the dense network at level 0),
  random_pruning (MaskSearch, method random -> random_pruning),
  random_tickets (SparseTraining rr on PrAC tickets -> random_ticket),
  saliency (SaliencyTickets -> snip / grasp / synflow),
  vanilla_reference (IMP from the same init with another data order -> lt_imp_other_order,
  the reference for mask similarity), transfer (another architecture's searches -> variant@model).
forgetting_arms (ForgettingBySparsity on vanilla IMP's tickets: 000 Fig. A16's own section).
The dense network appears once per seed (vanilla's level 0 when there is one).

Accuracy: `metric` (default `best_val_test_accuracy`, the test accuracy of the weights at the
epoch of best validation accuracy: 000 A1, "we choose the model with the best validation
accuracy during the training process"); rows without it fall back to the last epoch's
`test_accuracy`, and the report counts them. results.csv gets the value used as
`reported_accuracy`.

Writes: results.csv; summary.csv; savings.csv (for each PrAC-family variant, the saving of
training iterations at the highest sparsity where it matches vanilla IMP by the paper's rule,
`lth_tf.metrics.prac.matches_vanilla`: mean within one standard deviation *of vanilla IMP* over
seeds, 001 Fig. 3); savings_early_stop.csv (the headline PrAC and its counterpart with / without
early stop side by side, 001 Fig. 8); verdicts.csv (matching / clear gap by
`lth_tf.metrics.verdicts.VerdictRule`, the one rule for every such judgement here);
set_sizes.csv (per round |D|, |CET|, |CEP|, |PrAC|, overlap rate, the sparsity of the
subnetwork CEP compared); cep_table.csv (001 Table A3's layout); mask_similarity.csv; plots
accuracy_vs_sparsity.png (PrAC / vanilla / random pruning / dense with std bands),
all_variants_vs_sparsity.png, train_steps_vs_sparsity.png, mask_similarity.png,
class_ratios.png; report.md linking them.

Opens with a findings paragraph (matching tickets per variant up to which sparsity, with a clear
gap over random pruning; the headline's match with vanilla IMP and its saving) and ends with a
glossary. The report is the list SECTIONS, one function per analysis (components/reports/prac/).
"""
import dataclasses
from pathlib import Path

import gin

from components.reports import section as S
from components.reports.prac import paper_figures as F, sections as R
from components.reports.prac.gather import FIRST_COLUMNS, PracData, reported_accuracy  # noqa: F401  (tests)
from components.reports.prac.sections import findings  # noqa: F401  (tests)
from components.reports.prac.tables import savings  # noqa: F401  (tests)
from components import ComponentSpec
from lth_tf.io import write_csv, write_text

# The report, in order; the findings paragraph comes from `verdicts`.
SECTIONS = (R.plateau, R.accuracy, R.verdicts, R.savings, R.steps, R.example_sets, R.class_ratios, R.similarity,
            R.transfer, R.saliency, F.paper_figures, F.forgetting_arms, R.all_variants)


@gin.configurable
@dataclasses.dataclass(frozen=True)
class PracReportParams:
    study: str = "prac"
    title: str = "PrAC lottery tickets"
    metric: str = "best_val_test_accuracy"  # 000 A1: the best-validation model (fallback: test_accuracy)
    main_variant: str = ""  # the headline PrAC variant ('' = the first `prac` input's)


def execute(p: PracReportParams, inputs, out: Path, ctx):
    data = PracData.of(p, inputs, out)
    write_csv(out / "results.csv", data.frame)
    sections = [make(data) for make in SECTIONS]
    write_text(out / "report.md", S.compose(p.title, sections))
    return {"rows": len(data.frame), **S.summary(sections)}


# version 2: the paper's savings rule, best-validation accuracy, VerdictRule verdicts, CEP table.
# version 3: findings paragraph, glossary, one colour per variant, 001 Fig. 2 / Fig. 9, 000 Fig. A16.
# version 4: the 'forgetting_arms' section (ForgettingBySparsity: IMP fine-tune / LT / RT on all data).
# version 5: no verdict stated from one seed (no seed-noise estimate).
# version 6: the plateau check of vanilla IMP's dense network.
SPEC = ComponentSpec(name="PracReport", inputs={"prac": "Tickets*", "vanilla": "Tickets*?",
                                                "random_pruning": "Tickets*?", "random_tickets": "Trained*?",
                                                "saliency": "Tickets*?", "vanilla_reference": "Tickets*?",
                                                "transfer": "*?", "forgetting_arms": "Analysis*?"},
                     output="Report", params=PracReportParams, executor=execute, version=6)
