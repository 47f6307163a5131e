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
from typing import Tuple

from components.artifacts.base import level_name, train_steps
from components.artifacts.examples import training_split
# The search's description lives beside the artifact that carries it (Tickets.params).
from components.artifacts.search_params import REPORT_SPARSITIES, MaskSearchParams, report_levels  # noqa: F401
from components.artifacts.tickets import (finished_levels, level_dir, load_rewind, load_trained, search_facts,
                                         write_results, write_ticket)
from components import ComponentSpec
from lth_tf import lottery
from lth_tf.data import DatasetHparams, load_dataset, steps_per_epoch
from lth_tf.errors import ConfigError
from lth_tf.io import read_json
from lth_tf.lottery.loop_trainer import LoopTrainer
from lth_tf.models import ModelHparams, build_model
from lth_tf.sparsity import criteria, wrapping
from lth_tf.sparsity import masks as M
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import to_steps


def variant_name(method: str, rewind_step: int) -> str:
    """The tickets' results.csv variant: the criterion's (lth_tf/sparsity/criteria.py), e.g. 'lt_imp_rewind'."""
    return criteria.criterion(method).variant_name(rewind_step)


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
    variant = variant_name(p.pruning.method, rewind_step)
    rewind = p.pruning.rewind if pretrained is None else "pretrained"

    def describe(level):  # each level's TensorBoard run and log label
        shown = "dense" if level == 0 else variant
        return {"label": f"{variant} seed {p.seed} level {level}",
                "log_dir": ctx.tensorboard_dir / shown / level_name(level),
                "log_hparams": {"variant": shown, "level": level, "seed": p.seed, "method": p.pruning.method,
                                "rewind": rewind}}

    trainer = LoopTrainer(ds, p.training, p.seed, p.model, p.pruning.prunable(), describe, split, ctx.verbose)
    model = trainer.network()
    done = set(finished_levels(out))
    rows = {level: read_json(level_dir(out, level) / "metrics.json") for level in done}
    if pretrained is not None and 0 not in done:
        wrapping.set_state(model, pretrained.weights())
    plan = lottery.Plan(p.pruning.method, p.pruning.levels, p.pruning.fraction, p.pruning.scope, rewind_step,
                        p.seed, start_step, total, prefix_steps)
    resume = lottery.Resume(done, lambda level: (M.load_masks(level_dir(out, level) / "mask.npz"),
                                                 load_trained(out, level)),
                            lambda: load_rewind(out), lambda: total)
    exported = p.exported_levels()
    for run in lottery.search(model, trainer, plan, resume):
        rows[run.level] = write_ticket(level_dir(out, run.level), model, ds, run.masks, run.rewind, run.outcome,
                                       run.level in exported, {
            "variant": "dense" if run.level == 0 else variant, "seed": p.seed, "level": run.level,
            "train_steps": run.train_steps, "own_steps": run.outcome.steps, "rewind": rewind,
            "rewind_step": rewind_step, "method": p.pruning.method, "scope": p.pruning.scope, "model": p.model.name,
            "dataset": p.dataset.name})
    rows = [rows[level] for level in sorted(rows)]
    write_results(out, rows)  # relative unit paths, a fixed column order (resumed or not)
    return {"levels": len(rows), "final_sparsity": rows[-1]["sparsity"], "final_test_accuracy": rows[-1]["test_accuracy"],
            "train_steps": prefix_steps + sum(int(r["own_steps"]) for r in rows),  # the cost ledger (Tickets.train_steps)
            **search_facts(ds, spe, total, rewind_step, len(split))}


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
