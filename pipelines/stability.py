"""The stability study: which hyperparameters make training stable to SGD noise, and what that
does to lottery tickets ("The Influence of SGD Noise on Lottery Ticket Performance").

Grid: momentum × batch size × rewind point, each for every seed, IMP (PruningHparams, 20% per
level) with the tickets of the report's levels exported. On top of the grid:
- dynamics: forgetting statistics and convergence speed of each dense training configuration;
- instability: error barriers between copies trained with different SGD noise at chosen levels,
  and between the tickets of successive levels (InstabilityParams);
- baselines (rr, random_mask) for chosen configurations and levels;
- the first stable rewind point by binary search (RewindSearchParams);
- linear probes per block of untrained tickets (ProbingParams);
- few-shot training on class-balanced subsets (FewShotParams);
- transfer of frozen untrained tickets (003 §5.1, Table 6): a new linear head trained on another
  dataset (`transfer_targets`, resized to the source's input shape), or, when none is named, on
  classes the search never saw (`transfer_classes`: tickets searched on the first classes, heads
  trained on the others); baselines frozen dense (trained on the source) and retrained dense
  (trained on the target), the latter once per target and seed (TransferParams);
- AIMP: masks searched with a fraction of the training budget (LR schedule rescaled), tickets
  trained with the full budget;
- disentangling: masks searched with one configuration's hyperparameters, trained with
  another's.
Configurations are named 'mu0.9_bs64_rw0it' (grid) and 'mu0.9_bs64' (training only); the gin
file picks which configurations each analysis uses. Dynamics, instability and baselines run
for every seed; the other analyses for `secondary_seeds`. Every name and level is checked before
the first search starts, including the barrier split (`InstabilityParams.split`,
`RewindSearchParams.split`: 'val' by default, which needs a validation split) and that every
transfer target can be brought to the source's input shape.
"""
import dataclasses
from typing import Sequence, Tuple

import gin

from components import mask_search, sparse_training
from components.stability.common import config_label, training_label
from components.stability.dynamics import DYNAMICS, DynamicsParams
from components.stability.few_shot import FEW_SHOT, FewShotParams
from components.stability.instability import INSTABILITY, InstabilityParams
from components.stability.rewind import REWIND_SEARCH, RewindSearchParams, rewind_points as candidate_points
from components.reports.stability import report as stability_report
from components.stability.probing import PROBING, TRANSFER, ProbingParams, TransferParams, class_subset, transfer_target
from lth_tf.data import DatasetHparams, load_dataset, steps_per_epoch
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.models import ModelHparams
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams, to_steps
from pipelines import overrides

# What the grid sets in every search (a binding of these fields would be ignored).
CONTROLS = {"TrainingHparams.momentum": "stability.momenta", "TrainingHparams.batch_size": "stability.batch_sizes",
            "PruningHparams.rewind": "stability.rewind_points"}


def _check_levels(what: str, levels: Sequence[int], pruning: PruningHparams):
    bad = [l for l in levels if not 0 <= int(l) <= pruning.levels]
    if bad:
        raise ConfigError(f"{what} has levels {bad}, outside 0..{pruning.levels} (PruningHparams.levels); "
                          f"drop them or raise PruningHparams.levels.")


def _pick(labels: Sequence[str], known: dict, what: str):
    for label in labels:
        if label not in known:
            raise unknown_name(what, label, known)
    return [known[label] for label in labels]


def _check_rewind_points(points: Sequence[str], trainings, dataset: DatasetHparams):
    """Each rewind point must come before the end of each grid configuration's training (checked
    before the configuration names, which a changed rewind point also changes)."""
    n_train = len(load_dataset(dataset).train)
    for training in trainings:
        spe = steps_per_epoch(n_train, training.batch_size)
        total = training.total_steps(spe)
        for point in points:
            step = to_steps(point, spe, "stability.rewind_points")
            if step >= total:
                raise ConfigError(f"stability.rewind_points has {point!r}, which is step {step} of "
                                  f"{training_label(training)}, but its training budget is {total} steps "
                                  f"(TrainingHparams.budget = {training.budget!r}: {spe} steps per epoch of "
                                  f"{n_train} examples at batch size {training.batch_size}): the rewind point "
                                  f"exceeds the training budget. Rewind earlier or raise TrainingHparams.budget.")


@gin.configurable
def stability(runner, seeds: Sequence[int] = (0, 1), momenta: Sequence[float] = (0.0, 0.9),
              batch_sizes: Sequence[int] = (64, 256), rewind_points: Sequence[str] = ("0it", "1ep"),
              baselines: Sequence[str] = ("rr", "random_mask"), baseline_configs: Sequence[str] = (),
              baseline_levels: Sequence[int] = (5, 10, 15, 20), instability: bool = True, dynamics: bool = True,
              rewind_search_configs: Sequence[str] = (), probe_configs: Sequence[str] = (),
              few_shot_configs: Sequence[str] = (), transfer_configs: Sequence[str] = (),
              transfer_classes: Tuple[Sequence[int], Sequence[int]] = ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9)),
              transfer_targets: Sequence[str] = (),
              aimp_configs: Sequence[str] = (), aimp_fractions: Sequence[float] = (0.1, 0.25),
              aimp_levels: Sequence[int] = (5, 10, 15, 20),
              disentangle: Sequence[Tuple[str, str]] = (), disentangle_levels: Sequence[int] = (5, 10, 15, 20),
              secondary_seeds: Sequence[int] = (0,), study: str = "stability"):
    overrides.refuse_bound("stability", CONTROLS)
    if not seeds:
        raise ConfigError("stability.seeds is empty: give at least one seed, e.g. stability.seeds = (0, 1) "
                          "(stability.secondary_seeds, a subset of them, picks the seeds of the analyses).")
    dataset, model, base_training, base_pruning = DatasetHparams(), ModelHparams(), TrainingHparams(), PruningHparams()
    trainings = {training_label(t): t for t in (dataclasses.replace(base_training, momentum=float(m), batch_size=int(b))
                                                  for m in momenta for b in batch_sizes)}
    configs = {config_label(t, r): (t, r) for t in trainings.values() for r in rewind_points}

    # Check every name and level before the first search starts (the grid takes minutes).
    instability_params, probe_params, few_shot_params = InstabilityParams(), ProbingParams(), FewShotParams()
    rewind_params = RewindSearchParams()
    for what, used, split in (("InstabilityParams.split", instability, instability_params.split),
                              ("RewindSearchParams.split", bool(rewind_search_configs), rewind_params.split)):
        if used and split == "val" and dataset.val_fraction == 0:
            raise ConfigError(f"{what} = 'val' (the validation error of 003 eq. 3) needs a validation split, but "
                              f"DatasetHparams.val_fraction = 0: set it > 0 (e.g. 0.1) or bind {what} = 'test'.")
    transfer_params = []  # one per target dataset
    if transfer_configs:
        if transfer_targets:  # the grid's own tickets, transferred to other datasets
            source = dataset
            targets = [dataclasses.replace(dataset, name=name) for name in transfer_targets]
        else:  # tickets searched on some classes, transferred to the others
            source_classes, target_classes = transfer_classes
            source = dataclasses.replace(dataset, name=class_subset(dataset.name, source_classes))
            targets = [dataclasses.replace(dataset, name=class_subset(dataset.name, target_classes))]
        transfer_params = [TransferParams(target=target) for target in targets]
        source_shape = load_dataset(source).input_shape
        for target in targets:
            transfer_target(target, source_shape)  # a ConfigError now when it cannot take the source's shape
    for what, levels in (("stability.baseline_levels", baseline_levels), ("stability.aimp_levels", aimp_levels),
                         ("stability.disentangle_levels", disentangle_levels),
                         ("InstabilityParams.levels", instability_params.levels),
                         ("ProbingParams.levels", probe_params.levels), ("FewShotParams.levels", few_shot_params.levels),
                         ("TransferParams.levels", transfer_params[0].levels if transfer_params else ())):
        _check_levels(what, levels, base_pruning)
    if not set(secondary_seeds) <= set(seeds):
        raise ConfigError(f"stability.secondary_seeds {list(secondary_seeds)} must be among stability.seeds {list(seeds)}.")
    _check_rewind_points(rewind_points, trainings.values(), dataset)
    for labels in (baseline_configs, probe_configs, few_shot_configs, transfer_configs, aimp_configs):
        _pick(labels, configs, "configuration")
    for training in _pick(rewind_search_configs, trainings, "training configuration"):
        spe = steps_per_epoch(len(load_dataset(dataset).train), training.batch_size)
        candidate_points(rewind_params.candidates, spe, training.total_steps(spe))
    for search_label, train_label in disentangle:
        (search_training, rewind), = _pick([search_label], configs, "configuration")
        train_training, = _pick([train_label], trainings, "training configuration")
        if rewind != "0it" and search_training.batch_size != train_training.batch_size:
            raise ConfigError(f"stability.disentangle pairs {search_label} with {train_label}: with late rewinding "
                              f"the rewind step is counted in the search's batches; pair configurations of the same "
                              f"batch size, or search with rewind '0it'.")

    # The grid: every configuration and seed gets an IMP search, the report's levels exported.
    grid = {}  # (config label, seed) -> Tickets artifact
    for seed in seeds:
        for label, (training, rewind) in configs.items():
            pruning = dataclasses.replace(base_pruning, rewind=rewind)
            grid[label, seed] = runner.run(mask_search.SPEC, mask_search.MaskSearchParams(dataset, model, training, pruning, seed))
    inputs = {"searches": list(grid.values())}

    def tickets_of(labels, seed_list):
        return [(label, seed, grid[label, seed]) for label in labels for seed in seed_list]

    if dynamics:
        inputs["dynamics"] = [runner.run(DYNAMICS, DynamicsParams(dataset, model, t, seed))
                              for t in trainings.values() for seed in seeds]
    if instability:
        inputs["instability"] = [runner.run(INSTABILITY, instability_params, tickets=t) for t in grid.values()]
    if baselines and baseline_configs:
        inputs["baselines"] = [runner.run(sparse_training.SPEC, sparse_training.SparseTrainingParams(
            baselines=tuple(baselines), levels=tuple(baseline_levels), seed=seed), tickets=t)
            for _, seed, t in tickets_of(baseline_configs, seeds)]
    if rewind_search_configs:
        first = rewind_points[0]
        inputs["rewind_search"] = [runner.run(REWIND_SEARCH, rewind_params,
                                              tickets=[grid[f"{label}_rw{first}", seed] for seed in secondary_seeds])
                                   for label in rewind_search_configs]
    if probe_configs:
        inputs["probes"] = [runner.run(PROBING, probe_params, tickets=t)
                            for _, _, t in tickets_of(probe_configs, secondary_seeds)]
    if few_shot_configs:
        few = []
        for label, seed, t in tickets_of(few_shot_configs, secondary_seeds):
            extra = {}
            if few_shot_params.selection != "random":
                extra["dynamics"] = runner.run(DYNAMICS, DynamicsParams(dataset, model, configs[label][0], seed))
            few.append(runner.run(FEW_SHOT, dataclasses.replace(few_shot_params, seed=seed), tickets=t, **extra))
        inputs["few_shot"] = few
    if transfer_configs:
        levels = transfer_params[0].levels
        pruning_levels = max(levels) if levels else base_pruning.levels
        searches, transfers = [], []
        for label, seed, grid_tickets in tickets_of(transfer_configs, secondary_seeds):
            if transfer_targets:
                searched = grid_tickets
            else:
                training, rewind = configs[label]
                pruning = dataclasses.replace(base_pruning, rewind=rewind, levels=pruning_levels)
                # an analysis' search, not a ticket the report shows: no SavedModels (lth-tf export on demand)
                searched = runner.run(mask_search.SPEC, mask_search.MaskSearchParams(source, model, training, pruning, seed,
                                                                                     export=False))
                searches.append(searched)
            for params in transfer_params:
                if label != transfer_configs[0]:  # retrained dense: once per target and seed (first config's recipe)
                    params = dataclasses.replace(params, networks=tuple(n for n in params.networks if n != "retrained_dense"))
                transfers.append(runner.run(TRANSFER, params, tickets=searched))
        if searches:
            inputs["transfer_searches"] = searches
        inputs["transfer"] = transfers
    if aimp_configs and aimp_fractions:
        spe_of = {}
        short_searches, retrained = [], []
        for label, seed, _ in tickets_of(aimp_configs, secondary_seeds):
            training, rewind = configs[label]
            if training.batch_size not in spe_of:
                spe_of[training.batch_size] = steps_per_epoch(len(load_dataset(dataset).train), training.batch_size)
            pruning = dataclasses.replace(base_pruning, rewind=rewind, levels=max(aimp_levels))
            for fraction in aimp_fractions:
                short = training.scaled(float(fraction), spe_of[training.batch_size])
                searched = runner.run(mask_search.SPEC, mask_search.MaskSearchParams(dataset, model, short, pruning, seed,
                                                                                     export=False))  # as above
                short_searches.append(searched)
                retrained.append(runner.run(sparse_training.SPEC, sparse_training.SparseTrainingParams(
                    baselines=("lt",), levels=tuple(aimp_levels), training=training, seed=seed), tickets=searched))
        inputs["aimp_searches"], inputs["aimp"] = short_searches, retrained
    if disentangle:
        crossed = []
        for search_label, train_label in disentangle:
            train_training = trainings[train_label]
            for seed in secondary_seeds:
                crossed.append(runner.run(sparse_training.SPEC, sparse_training.SparseTrainingParams(
                    baselines=("lt",), levels=tuple(disentangle_levels), training=train_training, seed=seed),
                    tickets=grid[search_label, seed]))
        inputs["disentangle"] = crossed
    title = f"{study}: {model.name} on {dataset.name}"
    summary = runner.run(stability_report.SPEC, stability_report.StabilityReportParams(study=study, title=title),
                         **inputs)
    runner.publish(summary)
    return summary
