"""SparseTraining: train tickets and their baselines from a Tickets artifact -> Trained artifact.

Variants: the baselines registered in lth_tf/sparsity/baselines.py, each a mask rule, a weights
rule ('rewind' or 'reinit'), a start step and a cost rule (register_baseline adds one):
- lt: the ticket itself (its mask, its rewind weights), retrained; useful when the training
  hyperparameters differ from the search's (disentangling experiments) or for another seed.
- rr: random reinitialization: the ticket's mask on freshly drawn initial weights, trained the
  full budget from step 0 (not T − t from the rewind step: 002 Appendix B, condition ③).
- random_mask: a random mask of the same overall sparsity on the ticket's rewind weights.
- permuted_mask: each layer's mask entries shuffled (same layerwise sparsity), rewind weights.
- small_dense: a dense network of the same architecture, width scaled to the ticket's
  parameter count, trained from scratch.
The ticket-weight variants (lt, random_mask, permuted_mask) train from the rewind step to the
end; the freshly initialized ones (rr, small_dense) from step 0 to the end. Each (variant, level) is an atomic unit `<variant>/level_LL/`, reused on rerun:
mask.npz, trained.npz, history.csv, metrics.json, and with `export` saved_model/ + ticket.json.
"""
import dataclasses
from pathlib import Path
from typing import Optional, Tuple

import gin
import pandas as pd

from components.artifacts.tables import Trained
from components.artifacts.tickets import export_in_unit, results_frame
from components.artifacts.base import level_name
from components import ComponentSpec
from lth_tf import lottery
from lth_tf.data import load_dataset
from lth_tf.io import atomic_path, read_json, save_npz, unit_is_complete, write_csv, write_json
from lth_tf.lottery.loop_trainer import LoopTrainer
from lth_tf.sparsity import baselines as B
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.training import TrainingHparams, best_validation_metrics, evaluate


@gin.configurable
@dataclasses.dataclass(frozen=True)
class SparseTrainingParams:
    baselines: Tuple[str, ...] = ("rr", "random_mask")  # registered baseline names (lth_tf/sparsity/baselines.py)
    levels: Tuple[int, ...] = ()  # () = every level >= 1 of the ticket artifact
    training: Optional[TrainingHparams] = None  # None = the mask search's hyperparameters
    seed: int = 0  # draws baseline randomness (reinit, random masks) and the data order
    # also each network's deployable SavedModel (lth_tf.exporting); its trained.npz is always kept.
    # Off by default: baselines are controls, not tickets to deploy (2/3 of their units' bytes).
    export: bool = False

    def __post_init__(self):
        for name in self.baselines:
            B.baseline(name)  # a ConfigError naming the registered baselines
        object.__setattr__(self, "baselines", tuple(self.baselines))
        object.__setattr__(self, "levels", tuple(int(l) for l in self.levels))


def row_variant(variant: str, method: str, rewind_step: int) -> str:
    return B.baseline(variant).row_variant(method, rewind_step)


def execute(p: SparseTrainingParams, inputs, out: Path, ctx):
    tickets = inputs["tickets"]
    search = tickets.params
    ds = load_dataset(search.dataset)
    hp = p.training or search.training
    if p.levels:
        levels = tickets.check_levels(p.levels, "SparseTrainingParams.levels")
    else:
        levels = tuple(l for l in tickets.finished_levels() if l >= 1)

    def describe(tag):  # (shown variant, level, matched sparsity) -> its TensorBoard run and log label
        shown, level, sparsity = tag
        return {"label": f"{shown} seed {p.seed} level {level}",
                "log_dir": ctx.tensorboard_dir / shown / level_name(level),
                "log_hparams": {"variant": shown, "level": level, "rewind": search.pruning.rewind,
                                "method": search.pruning.method, "sparsity": sparsity}}

    # The baselines' seed draws the data order; networks keep the search's seed unless reinitialized.
    trainer = LoopTrainer(ds, hp, p.seed, search.model, search.pruning.prunable(), describe, verbose=ctx.verbose,
                          network_seed=search.seed)
    rows = []
    for level in levels:
        ticket = tickets.load(level)
        meta = ticket["meta"]
        ticket.update(rewind_step=meta["rewind_step"], parameters=meta["parameters"], level=level)
        for variant in p.baselines:
            unit = Trained.unit_dir(out, variant, level)
            if unit_is_complete(unit):
                rows.append(read_json(unit / "metrics.json"))
                continue
            rule = B.baseline(variant)
            branch = lottery.branch_network(variant, ticket, trainer, p.seed)
            model = branch.model
            shown = row_variant(variant, search.pruning.method, ticket["rewind_step"])
            # small_dense: the sparsity it matches
            result = trainer.train(model, branch.start_step, (shown, level, meta["sparsity"] if rule.match_parameters
                                                              else None))
            final_masks = wrapping.get_masks(model)
            prefix = branch.cost
            metrics = {
                "variant": row_variant(variant, search.pruning.method, ticket["rewind_step"]),
                "seed": p.seed, "level": level, "search_seed": search.seed,
                "sparsity": meta["sparsity"] if rule.match_parameters else M.sparsity(final_masks),
                "density": meta["density"] if rule.match_parameters else M.density(final_masks),
                "val_accuracy": evaluate(model, ds, ds.val)["accuracy"] if len(ds.val) else float("nan"),
                "test_accuracy": evaluate(model, ds, ds.test)["accuracy"],
                **best_validation_metrics(model, ds, result),
                "train_steps": prefix + result.steps, "own_steps": result.steps,
                "rewind": search.pruning.rewind, "rewind_step": ticket["rewind_step"],
                "method": search.pruning.method, "scope": search.pruning.scope, "model": search.model.name,
                "dataset": search.dataset.name, "width": trainer.width_for(ticket["parameters"] if rule.match_parameters else None),
                "parameters": wrapping.count_parameters(model, final_masks),
            }
            with atomic_path(unit, is_dir=True) as tmp:
                write_csv(tmp / "history.csv", pd.DataFrame(result.history))
                M.save_masks(tmp / "mask.npz", final_masks)
                save_npz(tmp / "trained.npz", wrapping.get_state(model))
                if p.export:
                    export_in_unit(model, ds, tmp, final_masks, metrics, unit)
                write_json(tmp / "metrics.json", metrics)
            rows.append(metrics)
    write_csv(out / "results.csv", results_frame(rows))
    return {"networks": len(rows)}


SPEC = ComponentSpec(name="SparseTraining", inputs={"tickets": "Tickets"}, output="Trained",
                     params=SparseTrainingParams, executor=execute, version=2)
