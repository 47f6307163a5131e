"""The PrAC study pipeline: lottery tickets found on a shrinking pruning-aware critical set
(PracMaskSearch) against vanilla IMP on all data (MaskSearch), random pruning and the dense
network, over several seeds, plus the selectable baselines and analyses of `ANALYSES`; one
PracReport.

Every search of one seed starts from the same initialization and data order, so their dense
networks are the same (up to the point where an early-bird stop ends PrAC's round 1) and their
masks compare (mask similarity).

The headline search is PracSearchParams as configured: by default the paper's PrAC, with
early stop by the authors' rule (the last 5 mask distances below 0.07); the 'early_stop' analysis adds its
counterpart (PrAC w/o early stop), so the report shows the savings with and without it (001
Fig. 8). The saliency baselines replay the headline search's per-round budget.
"""
import dataclasses
from typing import Sequence

import gin

from components import mask_search, sparse_training
from components.prac import forgetting_by_sparsity as forgetting_by_sparsity
from components.reports.prac import report as prac_report
from components.prac import search as prac_search
from components.prac import saliency as saliency_tickets
from lth_tf.data import DatasetHparams
from lth_tf.errors import ConfigError
from lth_tf.models import ModelHparams
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams

ANALYSES = {
    "random_pruning": "random masks of each level's sparsity, trained like the tickets",
    "random_tickets": "PrAC masks on freshly drawn initial weights (SparseTraining 'rr')",
    "random_subset": "rounds train on random subsets of the PrAC sets' sizes",
    "entropy_subset": "... on the highest-entropy examples of the round's network, same sizes",
    "svp_subset": "... on the highest-entropy examples of a narrow proxy network (selection via proxy)",
    "snip": "iterative SNIP, trained between pruning steps with the PrAC search's per-round budget and data "
            "(001 §4.3)", "grasp": "GraSP, likewise", "synflow": "SynFlow, likewise",
    "cet_only": "rounds train on the forgetting set alone (no disagreement set)",
    "threshold_sweep": "PrAC with E_F in `thresholds`",
    "early_stop": "the headline PrAC search's counterpart with early-bird stop switched (by default: PrAC w/o "
                  "early stop, 001 Fig. 8)",
    "mask_similarity": "a second vanilla IMP run from the same init with another data order (reference)",
    "transfer": "tickets of `transfer_model` found on the PrAC sets of `ModelHparams`'s model",
    "forgetting_arms": "forgetting counts per sparsity of IMP with fine-tuning, lottery tickets and random tickets "
                       "on all data (000 Fig. A16): 3 arms x the report's levels, first seed's vanilla IMP masks",
}


@gin.configurable
def prac(runner, seeds: Sequence[int] = (0, 1, 2),
         analyses: Sequence[str] = ("random_pruning", "early_stop", "mask_similarity"),
         thresholds: Sequence[int] = (2, 4), saliency_iterations: int = 10, transfer_model: str = "conv2",
         export_baselines: bool = False, study: str = "prac"):
    unknown = sorted(set(analyses) - set(ANALYSES))
    if unknown:
        raise ConfigError(f"Unknown PrAC analysis {unknown[0]!r}. Known analyses: {', '.join(sorted(ANALYSES))}.")
    if not seeds:
        raise ConfigError("prac.seeds is empty; give at least one seed, e.g. prac.seeds = (0, 1, 2).")
    dataset, model, training, pruning = DatasetHparams(), ModelHparams(), TrainingHparams(), PruningHparams()
    if pruning.method != "imp":
        raise ConfigError(f"PruningHparams.method={pruning.method!r}: the PrAC study compares IMP searches; "
                          f"leave the method at 'imp' (random pruning is the 'random_pruning' analysis).")
    groups = {name: [] for name in prac_report.SPEC.inputs}
    for seed in seeds:
        vanilla = runner.run(mask_search.SPEC, mask_search.MaskSearchParams(dataset, model, training, pruning, seed))
        groups["vanilla"].append(vanilla)
        base = prac_search.PracSearchParams(dataset, model, training, pruning, seed)
        main = runner.run(prac_search.SPEC, base)
        groups["prac"].append(main)

        def variant(**changes):
            params = dataclasses.replace(base, export=export_baselines, **changes)
            needs = params.selection in prac_search.NEEDS_REFERENCE
            return runner.run(prac_search.SPEC, params, **({"reference": main} if needs else {}))

        if "random_pruning" in analyses:
            groups["random_pruning"].append(runner.run(mask_search.SPEC, mask_search.MaskSearchParams(
                dataset, model, training, dataclasses.replace(pruning, method="random"), seed, export_baselines)))
        if "random_tickets" in analyses:
            groups["random_tickets"].append(runner.run(sparse_training.SPEC, sparse_training.SparseTrainingParams(
                baselines=("rr",), seed=seed, export=export_baselines), tickets=main))
        for name, selection in (("random_subset", "random"), ("entropy_subset", "entropy"),
                                ("svp_subset", "svp"), ("cet_only", "cet")):
            if name in analyses:
                groups["prac"].append(variant(selection=selection))
        if "threshold_sweep" in analyses:
            groups["prac"] += [variant(forgetting_threshold=int(e)) for e in thresholds if int(e) != base.forgetting_threshold]
        if "early_stop" in analyses:
            groups["prac"].append(variant(early_stop=not base.early_stop))
        for method in ("snip", "grasp", "synflow"):
            if method in analyses:
                groups["saliency"].append(runner.run(saliency_tickets.SPEC, saliency_tickets.SaliencyParams(
                    dataset, model, training, pruning, seed, method, saliency_iterations, export=export_baselines),
                    reference=main))
        if "mask_similarity" in analyses and seed == seeds[0]:
            other_order = dataclasses.replace(training, data_seed_offset=training.data_seed_offset + 1)
            groups["vanilla_reference"].append(runner.run(mask_search.SPEC, mask_search.MaskSearchParams(
                dataset, model, other_order, pruning, seed, export_baselines)))
        if "forgetting_arms" in analyses and seed == seeds[0]:
            groups["forgetting_arms"].append(runner.run(forgetting_by_sparsity.SPEC,
                                                        forgetting_by_sparsity.ForgettingBySparsityParams(),
                                                        tickets=vanilla))
        if "transfer" in analyses:
            target = ModelHparams(transfer_model, model.width, model.initializer)
            groups["transfer"].append(runner.run(mask_search.SPEC, mask_search.MaskSearchParams(
                dataset, target, training, pruning, seed, export_baselines)))
            own = dataclasses.replace(base, model=target, export=export_baselines)
            groups["transfer"].append(runner.run(prac_search.SPEC, own))
            groups["transfer"].append(runner.run(prac_search.SPEC, dataclasses.replace(own, selection="transfer"),
                                                 reference=main))
    inputs = {name: artifacts for name, artifacts in groups.items() if artifacts or name == "prac"}
    report = prac_report.PracReportParams(study=study, title=f"{study}: PrAC tickets, {model.name} on {dataset.name}")
    if not report.main_variant:  # the headline: the search the study is built around
        report = dataclasses.replace(report, main_variant=base.variant())
    summary = runner.run(prac_report.SPEC, report, **inputs)
    runner.publish(summary)
    return summary
