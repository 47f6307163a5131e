"""SaliencyTickets: iterative SNIP, GraSP or SynFlow masks, trained between pruning steps with
the same budget as a PrAC search -> a Tickets artifact (the efficient-pruning baselines of the
PrAC study).

Paper 001, §4.3 ("Other efficient network pruning approaches"): "For fair comparisons, we
implement these methods in an iterative manner (usually better than one-shot [...]) with the
training iterations and the number of training data consistent with our approaches."

With `train_between=True` (the default) the search needs the PrAC search it is compared with
as its `reference` input (PracMaskSearch Tickets, same dataset, model, training recipe and
seed) and replays that search's per-round ledger with a saliency criterion in place of
magnitude:
- round 1 is the reference's round 1 (the same dense training from the same initialization and
  data order): its trained dense network is reused, not retrained, and its steps are counted;
- round L >= 2 rewinds to the reference's rewind weights, sets this search's mask m_{L-1}, and
  trains on the reference's round-L example set D_{L-1} from the same start step to the same
  end step (dynamic iterations and early stop included) with the same scaled schedule;
- after each round the trained network is scored (SNIP / GraSP on a class-balanced batch
  drawn from that round's example set, SynFlow data-free), in `iterations` geometric sub-steps
  re-scoring after each, and a fraction ρ of the remaining weights is removed: m_L, with the
  density of level L.
Level L's ticket is m_L on the reference's rewind weights, trained on the full data from the
rewind step for the full budget, exactly as PrAC's tickets are, so the only difference from a
PrAC ticket is the pruning criterion. `search_steps` = the training steps of rounds 1..L (the
same as the PrAC ticket's), `scoring_passes` counts the scorer calls.

With `train_between=False`: the pruning-at-initialization protocol (no reference, no training
between steps; level L prunes from m_{L-1} by the saliency at initialization, the ticket trains
from step 0), variant `<method>_init`, `search_steps` 0.

level_LL/ as in MaskSearch (mask.npz, trained.npz, metrics.json, history.csv;
saved_model/ + ticket.json in place of trained.npz when exported), each with its own rewind.npz (there is no level 0 to
keep it once); results.csv; ledger.csv (every training run once).
"""
import dataclasses
import json
from pathlib import Path

import gin
import pandas as pd

from components.artifacts.base import unit_name
from components.artifacts.tickets import (finished_levels, level_dir, load_trained, round_dir, round_done, search_facts,
                                         write_results)
from components import ComponentSpec
from components.prac.rounds import round_schedule, train_ticket
from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset, steps_per_epoch
from lth_tf.errors import ConfigError
from lth_tf.io import load_npz, read_json, write_csv
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import saliency, wrapping
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams, train


@gin.configurable
@dataclasses.dataclass(frozen=True)
class SaliencyParams:
    dataset: DatasetHparams
    model: ModelHparams
    training: TrainingHparams
    pruning: PruningHparams  # fraction, levels and scope (method and rewind: the reference's)
    seed: int = 0
    method: str = "synflow"  # snip | grasp | synflow
    iterations: int = 1  # scoring sub-steps per level
    examples_per_class: int = 10  # the scoring batch of SNIP and GraSP
    export: bool = True
    train_between: bool = True  # train between pruning steps with the reference PrAC search's budget

    def __post_init__(self):
        saliency.scorer(self.method)
        if self.iterations < 1:
            raise ConfigError(f"SaliencyParams.iterations={self.iterations} must be >= 1.")
        if self.examples_per_class < 1:
            raise ConfigError(f"SaliencyParams.examples_per_class={self.examples_per_class} must be >= 1.")

    def variant(self) -> str:
        return self.method if self.train_between else f"{self.method}_init"


def _described(obj) -> dict:
    d = json.loads(json.dumps(dataclasses.asdict(obj)))
    d.pop("__class__", None)
    return d


def _check_reference(p: SaliencyParams, reference):
    if reference is None:
        raise ConfigError(f"SaliencyTickets ({p.method}) trains between pruning steps with the budget of a PrAC "
                          f"search: give it that PracMaskSearch as its `reference` input, or set "
                          f"SaliencyParams.train_between = False (scoring at initialization only).")
    theirs = reference.metadata["parameters"]
    for key, ours in (("dataset", p.dataset), ("model", p.model), ("training", p.training)):
        other = dict(theirs[key])
        other.pop("__class__", None)
        if other != _described(ours):
            raise ConfigError(f"The reference PrAC search used {key} {other}, this saliency search {_described(ours)}: "
                              f"its rounds' budgets and weights only carry over with the same {key}.")
    if theirs["seed"] != p.seed:
        raise ConfigError(f"The reference PrAC search has seed {theirs['seed']}, this saliency search {p.seed}; "
                          f"use the PrAC search of the same seed (its dense network is round 1 of this one).")
    for r in range(1, p.pruning.levels + 1):
        if not round_done(reference.path, r):
            raise ConfigError(f"The reference PrAC search has fewer than {p.pruning.levels} rounds; give it at least "
                              f"as many pruning levels as this search.")


def _scoring_batch(ds, split, p: SaliencyParams):
    return saliency.scoring_batch(ds, split, p.seed, p.examples_per_class)  # streamed splits too


def _at_init(p: SaliencyParams, ds, model, out: Path, ctx):
    """The pruning-at-initialization protocol (train_between=False)."""
    init_state = wrapping.get_state(model)
    x, y = _scoring_batch(ds, ds.train, p)
    masks, rows, done = wrapping.get_masks(model), [], set(finished_levels(out))
    for level in range(1, p.pruning.levels + 1):
        unit = level_dir(out, level)
        if level in done:
            masks = M.load_masks(unit / "mask.npz")
            rows.append(read_json(unit / "metrics.json"))
            continue
        wrapping.set_masks(model, masks)
        wrapping.set_state(model, init_state)
        masks = saliency.iterative_prune(model, p.method, masks, p.pruning.density(level), x, y, p.iterations,
                                         p.pruning.scope)
        rows.append(train_ticket(model, ds, p.training, masks, init_state, 0, p.seed, unit, p.export, {
            "variant": p.variant(), "seed": p.seed, "level": level, "search_steps": 0,
            "scoring_passes": p.iterations * level, "rewind": "0it", "rewind_step": 0, "method": p.method,
            "train_between": False, "scope": p.pruning.scope, "model": p.model.name, "dataset": p.dataset.name},
            ctx, f"{p.variant()} seed {p.seed} level {level}"))
    ledger = [{"kind": "ticket", "round": r["level"], "level": r["level"], "examples": len(ds.train.index),
               "steps": r["own_steps"], "search_steps": 0} for r in rows]
    return rows, ledger


def _trained_between(p: SaliencyParams, ds, model, reference, out: Path, ctx):
    """Replays the reference PrAC search's rounds with the saliency criterion (train_between)."""
    ref = Path(reference.path)
    full = ds.train.index
    spe = steps_per_epoch(len(full), p.training.batch_size)
    rewind_state = reference.rewind()
    rewind_step = int(read_json(level_dir(ref, 0) / "metrics.json")["rewind_step"])
    dynamic = bool(reference.metadata["parameters"].get("dynamic_iterations", True))
    masks, rows, ledger, done = wrapping.get_masks(model), [], [], set(finished_levels(out))
    search_steps = 0
    for level in range(1, p.pruning.levels + 1):
        info = read_json(round_dir(ref, level) / "round.json")
        trained_on = load_npz(round_dir(ref, level) / "sets.npz")["trained_on"]
        unit = level_dir(out, level)
        if level in done:
            masks = M.load_masks(unit / "mask.npz")
            rows.append(read_json(unit / "metrics.json"))
            search_steps = rows[-1]["search_steps"]
        else:
            if level == 1:  # the reference's own dense round: the same network, already trained
                wrapping.set_masks(model, masks)
                wrapping.set_state(model, load_trained(ref, 0))
                steps = int(info["steps"])
                trained_on = full
            else:
                hp, start = round_schedule(p.training, len(trained_on), len(full), spe, rewind_step, first=False,
                                           dynamic=dynamic)
                if start != int(info["start_step"]):
                    raise ConfigError(f"Round {level} of the reference PrAC search started at step {info['start_step']}, "
                                      f"its schedule here at step {start}: the reference was found with another "
                                      f"training recipe; rerun it.")
                wrapping.set_masks(model, masks)
                wrapping.set_state(model, rewind_state)
                split = ds.train if len(trained_on) == len(full) else ds.train.with_indices(trained_on)
                result = train(model, ds, hp, seed=p.seed, start_step=int(info["start_step"]),
                               end_step=int(info["end_step"]), train_split=split,
                               log_dir=ctx.tensorboard_dir / f"{p.variant()}_search" / unit_name("round", level),
                               log_hparams={"variant": f"{p.variant()}_search", "round": level, "method": p.method},
                               label=f"{p.variant()} seed {p.seed} round {level} ({len(trained_on)} examples)",
                               verbose=ctx.verbose)
                steps = result.steps
            split = ds.train if len(trained_on) == len(full) else ds.train.with_indices(trained_on)
            x, y = _scoring_batch(ds, split, p)
            masks = saliency.iterative_prune(model, p.method, masks, p.pruning.density(level), x, y, p.iterations,
                                             p.pruning.scope)  # scored at the round's trained weights
            search_steps += steps
            rows.append(train_ticket(model, ds, p.training, masks, rewind_state, rewind_step, p.seed, unit, p.export, {
                "variant": p.variant(), "seed": p.seed, "level": level, "search_steps": search_steps,
                "round_steps": steps, "round_examples": len(trained_on),
                "scoring_passes": p.iterations * level, "rewind": read_json(level_dir(ref, 0) / "metrics.json")["rewind"],
                "rewind_step": rewind_step, "method": p.method, "train_between": True, "scope": p.pruning.scope,
                "model": p.model.name, "dataset": p.dataset.name}, ctx, f"{p.variant()} seed {p.seed} level {level}"))
        meta = rows[-1]
        ledger.append({"kind": "search_round" if level > 1 else "search_round (reference's dense round)",
                       "round": level, "level": -1, "examples": meta["round_examples"], "steps": meta["round_steps"],
                       "search_steps": meta["search_steps"]})
        ledger.append({"kind": "ticket", "round": level, "level": level, "examples": len(full),
                       "steps": meta["own_steps"], "search_steps": meta["search_steps"]})
    return rows, ledger


def execute(p: SaliencyParams, inputs, out: Path, ctx):
    ds = load_dataset(p.dataset)
    reference = inputs.get("reference")
    if p.train_between:
        _check_reference(p, reference)
    model = networks.build_network(p.model, ds.input_shape, ds.num_classes, p.seed, p.pruning.prunable())
    if p.train_between:
        rows, ledger = _trained_between(p, ds, model, reference, out, ctx)
    else:
        rows, ledger = _at_init(p, ds, model, out, ctx)
    write_results(out, rows)  # a fixed column order, resumed or not
    write_csv(out / "ledger.csv", pd.DataFrame(ledger))
    spe = steps_per_epoch(len(ds.train), p.training.batch_size)
    return {"levels": len(rows), "final_test_accuracy": rows[-1]["test_accuracy"] if rows else None,
            "train_steps": int(sum(e["steps"] for e in ledger)),  # the cost ledger: every training run once
            # level L's ticket trains on the full data from its rewind step (the reference's, or 0)
            **search_facts(ds, spe, p.training.total_steps(spe), rows[0]["rewind_step"] if rows else 0, len(ds.train))}


# version 2: trains between pruning steps with the reference PrAC search's budget (001 §4.3).
SPEC = ComponentSpec(name="SaliencyTickets", inputs={"reference": "Tickets?"}, output="Tickets",
                     params=SaliencyParams, executor=execute, version=2)
