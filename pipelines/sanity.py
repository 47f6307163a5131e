"""The sanity-check study: does a winning ticket really win the jackpot? (paper 002, Ma et al.,
NeurIPS 2021, "Sanity Checks for Lottery Tickets", Appendices A, B, C, G)

For each learning rate of a sweep (`learning_rates`, at least two) and each seed, the whole
lottery-ticket process at that rate (TrainingHparams with its `lr` replaced):
- the dense network f(x; θ_T) (level 0 of the IMP search);
- LT-IMP: IMP masks rewound to θ_0, and LT-OMP: one-shot masks of the dense θ_T at the same
  sparsities, rewound to θ_0 (MaskSearch, PruningHparams.method 'imp' / 'omp', rewind '0it');
- WR-IMP / WR-OMP: the same with weight rewinding to θ_t, t = `rewind` (default 5% of T; trained
  T − t), MaskSearch with PruningHparams.rewind = t;
- RR-IMP / RR-OMP: each mask on a fresh draw θ'_0, trained the full T from step 0
  (SparseTraining 'rr'); the rewound IMP tickets get their own RR (`rewind_rr`) since their
  masks differ; WR-OMP's masks are LT-OMP's (one-shot masks of the same dense θ_T: the report
  checks it), so RR-OMP serves both;
- SD: the small-dense network of equal parameter count (SparseTraining 'small_dense').
On top of the sweep:
- the well-trained dense network: a keras-tuner search over learning rate and weight decay
  (components/tuning/__init__.py, TuningParams), then the best recipe trained once per seed, and once per
  seed for twice the epochs (the "sufficient epochs" half of condition ①);
- the correlation indicator R_p (WeightCorrelation) of the dense network, the tickets and RR,
  for every rate; RR networks keep their weights (exported) at `correlation_levels`.
One SanityReport: per-rate accuracy panels (Fig. A.1 / D.*), the five-condition verdict per
sparsity and mask method (Appendix B/C), R_p plots (Fig. G.1), the tuner's trials and the
paper's finding checked on this run.

Every name and value is checked before the first training starts (bad input is a ConfigError,
one paragraph, exit 2).
"""
import dataclasses
import re
from typing import Sequence

import gin

from components import mask_search, sparse_training, tuning, weight_correlation
from components.reports.sanity import report as sanity_report
from lth_tf.data import DatasetHparams, load_dataset, steps_per_epoch
from lth_tf.errors import ConfigError
from lth_tf.models import ModelHparams
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams, to_steps
from pipelines import overrides

METHODS = ("imp", "omp")
# What every search of the sweep sets (a binding of these fields would be ignored).
CONTROLS = {"PruningHparams.method": "sanity.methods", "PruningHparams.rewind": "sanity.rewind"}
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def check_rates(rates: Sequence[float]) -> tuple:
    rates = tuple(rates)
    if len(rates) < 2:
        raise ConfigError(f"sanity.learning_rates = {rates}: the sanity check compares the lottery-ticket process "
                          f"across learning rates (conditions ③-⑤ ask whether *some* rate works), so the sweep needs "
                          f"at least two rates, e.g. sanity.learning_rates = (0.005, 0.02, 0.08, 0.3).")
    bad = [r for r in rates if not isinstance(r, (int, float)) or isinstance(r, bool) or not r > 0]
    if bad:
        raise ConfigError(f"sanity.learning_rates = {rates} contains {bad[0]!r}: every learning rate must be a "
                          f"positive number.")
    rates = tuple(float(r) for r in rates)
    if len(set(rates)) != len(rates):
        raise ConfigError(f"sanity.learning_rates = {rates} repeats a rate; give distinct rates.")
    return tuple(sorted(rates))


def rewind_steps(rewind: str, total: int, steps_per_epoch: int) -> int:
    """'5%' -> 5% of the T training steps (rounded, at least 1); '8ep' / '30it' as usual."""
    match = _PERCENT.match(str(rewind))
    if match:
        percent = float(match.group(1))
        if not 0 < percent < 100:
            raise ConfigError(f"sanity.rewind = {rewind!r}: a percentage of training must be in (0, 100), e.g. '5%'.")
        steps = max(1, int(round(total * percent / 100)))
    else:
        steps = to_steps(rewind, steps_per_epoch, "sanity.rewind")
    if not 0 < steps < total:
        raise ConfigError(f"sanity.rewind = {rewind!r} is step {steps}, outside (0, {total}): weight rewinding needs a "
                          f"point after initialization and before the end of training (the paper uses t ≈ 5% of T: "
                          f"'5%').")
    return steps


@gin.configurable
def sanity(runner, learning_rates: Sequence[float] = (0.005, 0.02, 0.08, 0.3), seeds: Sequence[int] = (0, 1),
           methods: Sequence[str] = METHODS, rewind: str = "5%", rewind_rr: Sequence[str] = ("imp",),
           correlation_levels: Sequence[int] = (2, 5), tune: bool = True, export_searches: Sequence[str] = (
               "lt_imp", "lt_omp", "wr_imp", "wr_omp"), study: str = "sanity"):
    # --- everything is checked before the first training starts ---
    controls = dict(CONTROLS)
    if tune and "lr" in {d.name for d in tuning.TuningParams().dimensions()}:  # the sweep sets it, the tuner too
        controls["TrainingHparams.lr"] = "sanity.learning_rates (the sweep) and TuningParams.space (the tuner)"
    overrides.refuse_bound("sanity", controls)
    rates = check_rates(learning_rates)
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ConfigError("sanity.seeds is empty: give at least one seed (two or more for a verdict with error bars).")
    unknown = sorted(set(methods) - set(METHODS)) + sorted(set(rewind_rr) - set(METHODS))
    if unknown or not methods:
        raise ConfigError(f"sanity.methods / sanity.rewind_rr name {unknown or 'nothing'}; the mask methods of the "
                          f"sanity check are {', '.join(METHODS)} (LT-IMP / LT-OMP and their rewound WR twins).")
    known_exports = {f"{kind}_{m}" for kind in ("lt", "wr") for m in METHODS}
    if set(export_searches) - known_exports:
        raise ConfigError(f"sanity.export_searches names {sorted(set(export_searches) - known_exports)}; known: "
                          f"{', '.join(sorted(known_exports))}.")
    dataset, model, base_training, base_pruning = DatasetHparams(), ModelHparams(), TrainingHparams(), PruningHparams()
    if base_pruning.levels < 1:
        raise ConfigError("PruningHparams.levels must be >= 1: the sanity check judges pruned tickets.")
    bad_levels = [l for l in correlation_levels if not 1 <= int(l) <= base_pruning.levels]
    if bad_levels:
        raise ConfigError(f"sanity.correlation_levels has levels {bad_levels}, outside 1..{base_pruning.levels} "
                          f"(PruningHparams.levels).")
    correlation_levels = tuple(sorted({int(l) for l in correlation_levels}))
    trainings = {rate: dataclasses.replace(base_training, lr=rate) for rate in rates}
    ds = load_dataset(dataset)  # a ConfigError now for an unknown or missing dataset
    spe = steps_per_epoch(len(ds.train), base_training.batch_size)
    total = base_training.total_steps(spe)
    rewind_at = f"{rewind_steps(rewind, total, spe)}it"
    correlation = weight_correlation.CorrelationParams()
    tuning_params = tuning.TuningParams(dataset=dataset, model=model, training=base_training) if tune else None
    if tune:
        tuning.check_validation_split(dataset)
    report_params = sanity_report.SanityReportParams(study=study, title=f"{study}: {model.name} on {dataset.name}",
                                                     rewind=rewind, correlation_levels=correlation_levels)

    inputs = {name: [] for name in ("searches", "baselines", "correlation", "well_trained", "longer")}
    # --- the well-trained dense network: keras-tuner, then the best recipe per seed (T and 2T) ---
    if tune:
        tuned = runner.run(tuning.SPEC, tuning_params)
        inputs["tuning"] = tuned
        well = tuning.best_training(runner.need(tuned))  # read: planning resumes once it is computed
    else:  # no tuner: the base recipe at its own rate stands for the well-trained network
        well = base_training
    longer = well.scaled(2.0, spe)
    dense_only = dataclasses.replace(base_pruning, levels=0)
    for seed in seeds:
        inputs["well_trained"].append(runner.run(mask_search.SPEC, mask_search.MaskSearchParams(
            dataset, model, well, dense_only, seed)))
        inputs["longer"].append(runner.run(mask_search.SPEC, mask_search.MaskSearchParams(
            dataset, model, longer, dense_only, seed, export=False)))

    # --- the sweep: the whole lottery-ticket process at every rate ---
    levels = tuple(range(1, base_pruning.levels + 1))
    other_levels = tuple(l for l in levels if l not in correlation_levels)
    for rate, training in trainings.items():
        for seed in seeds:
            for method in methods:
                for kind, point in (("lt", "0it"), ("wr", rewind_at)):
                    pruning = dataclasses.replace(base_pruning, method=method, rewind=point)
                    search = runner.run(mask_search.SPEC, mask_search.MaskSearchParams(
                        dataset, model, training, pruning, seed, export=f"{kind}_{method}" in export_searches))
                    inputs["searches"].append(search)
                    rr_kept = []  # RR networks whose weights R_p reads (exported at the correlation levels)
                    if kind == "lt":
                        rr_kept.append(_train(runner, search, ("rr",), correlation_levels, seed, export=True))
                        inputs["baselines"] += rr_kept
                        if other_levels:
                            inputs["baselines"].append(_train(runner, search, ("rr",), other_levels, seed))
                        if method == methods[0]:  # SD depends on the parameter count only: once per level
                            inputs["baselines"].append(_train(runner, search, ("small_dense",), levels, seed))
                    elif method in rewind_rr:  # WR masks come from another trajectory: their own RR
                        inputs["baselines"].append(_train(runner, search, ("rr",), levels, seed))
                    inputs["correlation"].append(runner.run(weight_correlation.SPEC, correlation, tickets=search,
                                                            **({"baselines": rr_kept} if rr_kept else {})))
    inputs = {k: v for k, v in inputs.items() if v or k in ("searches",)}
    summary = runner.run(sanity_report.SPEC, report_params, **inputs)
    runner.publish(summary)
    return summary


def _train(runner, search, variants, levels, seed, export=False):
    return runner.run(sparse_training.SPEC, sparse_training.SparseTrainingParams(
        baselines=tuple(variants), levels=tuple(levels), seed=seed, export=export), tickets=search)
