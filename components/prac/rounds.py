"""Training a ticket, shared by the ticket searches (not a component): retraining a mask from
its rewind point into a Tickets level unit, and the schedule of a PrAC-style round that trains
on a subset (PracMaskSearch's rounds, replayed by SaliencyTickets)."""
from pathlib import Path

from components.artifacts.tickets import write_ticket
from lth_tf.sparsity import wrapping
from lth_tf.lottery.loop_trainer import LoopTrainer
from lth_tf.training import TrainingHparams


def load_state(model, state, masks):
    """Masks first, then the weights (set_state re-applies the masks)."""
    wrapping.set_masks(model, masks)
    wrapping.set_state(model, state)


def round_schedule(training: TrainingHparams, subset_size: int, full_size: int, spe: int, rewind_step: int,
                   first: bool, dynamic: bool = True):
    """(hparams, start step) of a round that trains on `subset_size` of `full_size` examples.
    The budget is always in iterations of the full set (`spe` = its steps per epoch), so a
    round on a subset never trains fewer steps than its factor says. The first round trains
    from step 0; later ones resume from the rewind point, at the same fraction of their
    (scaled) schedule."""
    factor = subset_size / full_size if dynamic else 1.0
    hp = training.scaled(factor, spe)
    total = hp.total_steps(spe)
    start = 0 if first else min(int(round(rewind_step * factor)), total - 1)
    return hp, start


def train_ticket(model, ds, training: TrainingHparams, masks, rewind_state, rewind_step: int, seed: int,
                 unit: Path, export: bool, metrics: dict, ctx, label: str, store_rewind: bool = True):
    """Trains a ticket on the full data from its rewind point to the end of the budget and
    writes its unit (Tickets layout); `metrics` must hold search_steps (own_steps/train_steps
    are added). store_rewind=False: the unit keeps no rewind.npz (the artifact's level_00/ has it)."""
    load_state(model, rewind_state, masks)
    log = {"label": label, "log_dir": ctx.tensorboard_dir / metrics["variant"] / unit.name,
           "log_hparams": {k: metrics[k] for k in ("variant", "level", "seed", "rewind", "method") if k in metrics}}
    # The lottery core's trainer, as MaskSearch's levels train (it builds no network here).
    result = LoopTrainer(ds, training, seed, describe=lambda tag: log, verbose=ctx.verbose).train(model, rewind_step)
    metrics = {**metrics, "own_steps": result.steps, "train_steps": metrics["search_steps"] + result.steps}
    return write_ticket(unit, model, ds, masks, rewind_state if store_rewind else None, result, export, metrics)
