"""MaskSearch: IMP / one-shot magnitude / random pruning with rewinding -> a Tickets artifact.

Level 0 trains the dense network from init and records the rewind weights (init, or the weights
at step k for late rewinding). Level L >= 1 derives its mask (density (1 - p)^L), rewinds the
kept weights to the rewind point, and trains from step k to the end. Each level is written as
its own atomic unit `level_LL/`; an interrupted search resumes after the last finished level.

level_LL/: mask.npz, trained.npz, metrics.json, history.csv (per-layer sparsity: Tickets.layer_sparsity, from the mask); in level_00/ also
           rewind.npz (the weights at the rewind step, which every level rewinds to: stored once
           per search, `Tickets.rewind`); in the levels `export_levels` names (default: those the
           report shows) saved_model/ + ticket.json (the deployable trained ticket, lth_tf.exporting)
           in place of trained.npz: its variables are the trained weights (`Tickets.trained`)
results.csv: one row per level (variant 'dense' at level 0, 'lt_<method>[_rewind]' after).
The layout, its reading and writing are components.artifacts.tickets' (the Tickets class).

Optional inputs (absent: the search is exactly as without them):
- pretrained (Weights, from Pretraining): level 0 starts at step t_r from the pre-trained
  weights, and every level rewinds to them (PruningHparams.rewind must then be '0it').
- train_indices (Indices, from SubsetSlimming): train on these examples only.
- labels (Labels, from LabelNoise): train on these (noisy) labels.
train_steps then include the upstream cost: pre-training steps and scoring steps.
"""
import dataclasses
import functools
from pathlib import Path
from typing import Tuple, Union

import gin
import numpy as np

from components.artifacts.base import level_name, train_steps
from components.artifacts.examples import training_split
from components.artifacts.tickets import (finished_levels, level_dir, load_rewind, load_trained, search_facts,
                                         write_results, write_ticket)
from components.spec import ComponentSpec
from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset, steps_per_epoch
from lth_tf.errors import ConfigError
from lth_tf.io import read_json
from lth_tf.models import ModelHparams, build_model
from lth_tf.sparsity import criteria, saliency, wrapping
from lth_tf.sparsity import masks as M
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams, to_steps, train


@gin.configurable
@dataclasses.dataclass(frozen=True)
class MaskSearchParams:
    dataset: DatasetHparams
    model: ModelHparams
    training: TrainingHparams
    pruning: PruningHparams
    seed: int = 0
    export: bool = True  # deployable SavedModels of the trained tickets of `export_levels`
    # 'report': the levels nearest REPORT_SPARSITIES (what the reports show); 'all'; or levels
    export_levels: Union[str, Tuple[int, ...]] = "report"

    def __post_init__(self):
        levels = self.export_levels
        if isinstance(levels, (list, tuple)):
            levels = tuple(int(l) for l in levels)
            bad = [l for l in levels if not 0 <= l <= self.pruning.levels]
            if bad:
                raise ConfigError(f"MaskSearchParams.export_levels has levels {bad}, outside 0..{self.pruning.levels} "
                                  f"(PruningHparams.levels); drop them, or bind 'report' or 'all'.")
            object.__setattr__(self, "export_levels", levels)
        elif levels not in ("report", "all"):
            raise ConfigError(f"MaskSearchParams.export_levels = {levels!r}: bind 'report' (the levels the report "
                              f"shows), 'all', or a tuple of levels such as (0, 5, 10).")

    def exported_levels(self) -> Tuple[int, ...]:
        """The levels whose trained ticket is exported as a SavedModel."""
        if not self.export:
            return ()
        if self.export_levels == "all":
            return tuple(range(self.pruning.levels + 1))
        if self.export_levels == "report":
            return report_levels(self.pruning)
        return self.export_levels

    def label(self) -> str:
        """'mu0.9_bs128_rw0it/seed0' (a method prefix when not IMP): names directories, not results."""
        method = "" if self.pruning.method == "imp" else f"{self.pruning.method}_"
        return f"{method}mu{self.training.momentum:g}_bs{self.training.batch_size}_rw{self.pruning.rewind}/seed{self.seed}"


# The sparsities the stability report's ticket table shows by default (IMP 20% per level: levels
# 0, 5, 10, 15, 20; stability_report.PAPER_SPARSITIES, pinned equal by a test).
REPORT_SPARSITIES = (0.0, 0.6723, 0.8926, 0.9648, 0.9885)


def report_levels(pruning: PruningHparams, sparsities=REPORT_SPARSITIES) -> Tuple[int, ...]:
    """The level nearest each sparsity (1 - density), as the report picks its columns."""
    nominal = np.array([1.0 - pruning.density(l) for l in range(pruning.levels + 1)])
    return tuple(sorted({int(np.abs(nominal - s).argmin()) for s in sparsities}))


def variant_name(method: str, rewind_step: int) -> str:
    """The tickets' results.csv variant: the criterion's (lth_tf/sparsity/criteria.py), e.g. 'lt_imp_rewind'."""
    return criteria.criterion(method).variant_name(rewind_step)


def next_masks(p: MaskSearchParams, level: int, prev_masks, prev_state, dense_state, rng, model, batch):
    """Level `level`'s mask by the criterion PruningHparams.method names (lth_tf/sparsity/criteria.py),
    from the previous level's mask and trained weights (`*_state`: get_state() dicts) and the
    dense network's. A criterion that scores the model (SNIP, GraSP, SynFlow) gets `model` set
    to the previous level's trained network and mask, and the batch `batch()` draws."""
    rule = criteria.criterion(p.pruning.method)
    inputs = criteria.ScoreInputs(prev_masks, _kernels(prev_state, model), level, _kernels(dense_state, model), rng)
    if rule.uses_model:
        wrapping.set_masks(model, prev_masks)
        wrapping.set_state(model, prev_state)
        x, y = batch()
        inputs = dataclasses.replace(inputs, model=model, x=x, y=y)
    return rule.prune(inputs, p.pruning.density(level), p.pruning.scope)


def execute(p: MaskSearchParams, inputs, out: Path, ctx):
    ds = load_dataset(p.dataset)
    split = training_split(ds, inputs.get("train_indices"), inputs.get("labels"))
    spe = steps_per_epoch(len(split), p.training.batch_size)
    total = p.training.total_steps(spe)
    rewind_step = to_steps(p.pruning.rewind, spe, "PruningHparams.rewind")
    # Steps spent before this search (pre-training, scoring) and the step level 0 starts at.
    prefix_steps, start_step = train_steps(inputs.get("train_indices"), inputs.get("labels")), 0
    pretrained = inputs.get("pretrained")
    if pretrained is not None:
        if rewind_step != 0:
            raise ConfigError(f"PruningHparams.rewind={p.pruning.rewind!r} conflicts with the pretrained input: "
                              f"the search rewinds to the pre-trained weights; set PruningHparams.rewind = '0it'.")
        start_step = rewind_step = pretrained.steps
        prefix_steps += pretrained.train_steps
        if rewind_step >= total:
            raise ConfigError(f"The pre-training lasts {rewind_step} steps, not fewer than the search's budget "
                              f"({total} steps); shorten the pre-training or raise TrainingHparams.budget.")
    _check_rewind(p, rewind_step, total)
    model = networks.build_network(p.model, ds.input_shape, ds.num_classes, p.seed, p.pruning.prunable())
    variant = variant_name(p.pruning.method, rewind_step)
    exported = p.exported_levels()
    done = finished_levels(out)
    rows = []
    for level in range(p.pruning.levels + 1):
        unit = level_dir(out, level)
        if level in done:
            rows.append(read_json(unit / "metrics.json"))
            continue
        label = f"{variant} seed {p.seed} level {level}"
        tb_variant = "dense" if level == 0 else variant
        log_dir = ctx.tensorboard_dir / tb_variant / level_name(level)
        log_hparams = {"variant": tb_variant, "level": level, "seed": p.seed, "method": p.pruning.method,
                       "rewind": p.pruning.rewind if pretrained is None else "pretrained"}
        if level == 0:
            if pretrained is not None:
                wrapping.set_state(model, pretrained.weights())
            result = train(model, ds, p.training, seed=p.seed, start_step=start_step, train_split=split,
                           snapshot_steps=[rewind_step], log_dir=log_dir, log_hparams=log_hparams,
                           label=label, verbose=ctx.verbose)
            rewind_state = result.snapshots[rewind_step]
            masks = wrapping.get_masks(model)
            search_steps = prefix_steps
        else:
            prev = level_dir(out, level - 1)
            rewind_state = load_rewind(out)
            rng = np.random.default_rng([p.seed, level])
            masks = next_masks(p, level, M.load_masks(prev / "mask.npz"), load_trained(out, level - 1),
                               load_trained(out, 0), rng, model,
                               lambda: saliency.scoring_batch(ds, split, p.seed))
            wrapping.set_state(model, rewind_state)
            wrapping.set_masks(model, masks)
            result = train(model, ds, p.training, seed=p.seed, start_step=rewind_step, train_split=split,
                           log_dir=log_dir, log_hparams=log_hparams, label=label, verbose=ctx.verbose)
            search_steps = _search_steps(p.pruning.method, level, total, rewind_step, start_step, prefix_steps)
        rows.append(write_ticket(unit, model, ds, masks, rewind_state if level == 0 else None, result,
                                 level in exported, {
            "variant": "dense" if level == 0 else variant, "seed": p.seed, "level": level,
            "train_steps": search_steps + result.steps,
            "own_steps": result.steps, "rewind": p.pruning.rewind if pretrained is None else "pretrained",
            "rewind_step": rewind_step,
            "method": p.pruning.method, "scope": p.pruning.scope, "model": p.model.name,
            "dataset": p.dataset.name}))
    write_results(out, rows)  # relative unit paths, a fixed column order (resumed or not)
    return {"levels": len(rows), "final_sparsity": rows[-1]["sparsity"], "final_test_accuracy": rows[-1]["test_accuracy"],
            "train_steps": prefix_steps + sum(int(r["own_steps"]) for r in rows),  # the cost ledger (Tickets.train_steps)
            **search_facts(ds, spe, total, rewind_step, len(split))}


def _search_steps(method, level, total, rewind_step, start_step=0, prefix_steps=0):
    """Training steps spent on the search that produced level `level`'s mask: what came before
    it (pre-training, scoring) and what the criterion's cost rule counts of the dense run (from
    `start_step`) and the levels' retraining (from `rewind_step`): for IMP every earlier level's
    retraining, for OMP the dense run only, for random pruning nothing."""
    return prefix_steps + criteria.criterion(method).search_steps(level, total - start_step, total - rewind_step)


def _kernels(state, model):
    """The prunable kernels, keyed by layer name, from a get_state() dict."""
    return {w.layer.name: state[wrapping.var_key(wrapping.kernel_and_mask(w)[0])] for w in wrapping.wrappers(model)}


def _check_rewind(p: MaskSearchParams, rewind_step: int, total: int):
    if rewind_step >= total:
        raise ConfigError(f"PruningHparams.rewind={p.pruning.rewind!r} is step {rewind_step}, not before the "
                          f"end of training (step {total}); rewind to an earlier point.")


@functools.lru_cache(maxsize=16)
def _prunable_sizes(model: ModelHparams, dataset: DatasetHparams, pruning: PruningHparams) -> Tuple[int, ...]:
    """The sizes of the network's prunable kernels, wrapped as the search wraps them (outside the
    training strategy: planning creates no distributed variables; every training seeds itself)."""
    data = load_dataset(dataset)
    network = wrapping.wrap(build_model(model, data.input_shape, data.num_classes), pruning.prunable())
    return tuple(int(w.size) for w in wrapping.prunable_weights(network).values())


def _check_levels(p: MaskSearchParams):
    """Levels past the one where round-off leaves no prunable weight would train empty networks."""
    sizes = _prunable_sizes(p.model, p.dataset, dataclasses.replace(p.pruning, levels=0, rewind="0it"))
    useful = M.max_useful_level(sizes, p.pruning.fraction, p.pruning.scope) if sizes else p.pruning.levels
    if p.pruning.levels > useful:
        n = min(sizes) if p.pruning.scope == "layerwise" else sum(sizes)
        where = "in its smallest prunable layer" if p.pruning.scope == "layerwise" else "prunable"
        raise ConfigError(f"PruningHparams.levels = {p.pruning.levels} prunes every weight: {p.model.name} has {n} "
                          f"{where} weights, and level k keeps round({n} * (1 - {p.pruning.fraction})^k) of them, "
                          f"none after level {useful}. Set PruningHparams.levels to at most {useful} (or lower "
                          f"PruningHparams.fraction). Nothing was run.")


def validate(p: MaskSearchParams, inputs):
    """While planning (the executor checks the same again): levels that leave no weight; a rewind
    point beside pretrained weights; a rewind point after the end of training, when the split is
    the whole training set."""
    _check_levels(p)
    if inputs.get("pretrained") is not None and p.pruning.rewind != "0it":
        raise ConfigError(f"PruningHparams.rewind={p.pruning.rewind!r} conflicts with the pretrained input: "
                          f"the search rewinds to the pre-trained weights; set PruningHparams.rewind = '0it'.")
    if all(inputs.get(k) is None for k in ("pretrained", "train_indices", "labels")):
        spe = steps_per_epoch(len(load_dataset(p.dataset).train), p.training.batch_size)
        _check_rewind(p, to_steps(p.pruning.rewind, spe, "PruningHparams.rewind"), p.training.total_steps(spe))


SPEC = ComponentSpec(name="MaskSearch", inputs={"pretrained": "Weights?", "train_indices": "Indices?", "labels": "Labels?"},
                     output="Tickets", params=MaskSearchParams, executor=execute, version=3, validate=validate)
# version 3: rewind.npz stored once, in level_00/; SavedModels only for export_levels.
