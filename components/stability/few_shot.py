"""FewShot: tickets and the dense network trained on class-balanced subsets -> a FewShot
artifact (fraction_F/level_LL/ units: subset.npz, metrics.json; few_shot.csv, results.csv)."""
import dataclasses
from pathlib import Path
from typing import Tuple

import gin
import numpy as np
import pandas as pd

from components.artifacts.base import level_name
from components.artifacts.tables import in_order
from components.stability.common import accuracies, config_columns, search_network, without_val
from components import ComponentSpec
from lth_tf.data import load_dataset, steps_per_epoch, subsets
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.io import atomic_path, read_json, save_npz, unit_is_complete, write_csv, write_json
from lth_tf.sparsity import wrapping
from lth_tf.training import train


# Subsets are class-balanced (lth_tf.data.subsets): as equal a count per class as possible,
# drawn at random or ranked by forgetting count within each class (ties by example index).
SELECTIONS = ("random", "least_forgotten", "most_forgotten")
BUDGETS = ("iterations", "epochs")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class FewShotParams:
    fractions: Tuple[float, ...] = (0.01, 0.02, 0.05, 0.1)  # of the training split, class-balanced
    levels: Tuple[int, ...] = (0, 5, 10)  # ticket levels; 0 is the dense network
    selection: str = "random"  # random | least_forgotten | most_forgotten (needs a Dynamics input)
    budget: str = "iterations"  # iterations: as many steps as full training; epochs: as many passes
    seed: int = 0  # draws the subsets and the data order

    def __post_init__(self):
        if self.selection not in SELECTIONS:
            raise unknown_name("few-shot selection", self.selection, SELECTIONS)
        if self.budget not in BUDGETS:
            raise unknown_name("few-shot budget", self.budget, BUDGETS)
        for f in self.fractions:
            if not 0.0 < f <= 1.0:
                raise ConfigError(f"FewShotParams.fractions has {f}: fractions of the training set must be in (0, 1].")
        object.__setattr__(self, "fractions", tuple(float(f) for f in self.fractions))
        object.__setattr__(self, "levels", tuple(int(l) for l in self.levels))


# few_shot.csv's columns after the search's configuration columns, in the order a fresh row has them.
FEW_SHOT_COLUMNS = ("variant", "seed", "level", "sparsity", "val_accuracy", "test_accuracy", "train_steps", "fraction",
                    "subset_size", "selection", "budget_mode", "final_train_accuracy")


def execute_few_shot(p: FewShotParams, inputs, out: Path, ctx):
    tickets = inputs["tickets"]
    search = tickets.params
    ds = load_dataset(search.dataset)
    levels = tickets.check_levels(p.levels, "FewShotParams.levels")
    scores = None
    if p.selection != "random":
        if "dynamics" not in inputs:
            raise ConfigError(f"FewShotParams.selection={p.selection!r} ranks examples by forgetting: give the "
                              f"FewShot component a Dynamics input, or use selection='random'.")
        index, counts = inputs["dynamics"].forgetting()
        by_index = dict(zip(index.tolist(), counts.tolist()))
        scores = np.array([by_index[i] for i in ds.train.index], np.float64)
    spe = steps_per_epoch(len(ds.train), search.training.batch_size)
    hp = search.training.scaled(1.0, spe) if p.budget == "iterations" else search.training
    quiet = without_val(ds)
    model = search_network(search, ds)
    rows = []
    for fraction in p.fractions:
        if scores is None:
            chosen = subsets.balanced_random(ds.train.index, ds.train.y, fraction, ds.num_classes,
                                             seed=p.seed * 1_000_003 + int(round(fraction * 1e6)))
        else:
            chosen = subsets.balanced_by_score(ds.train.index, scores, ds.train.y, fraction, ds.num_classes,
                                               hardest_first=p.selection == "most_forgotten")
        subset = ds.train.with_indices(chosen)
        for level in levels:
            unit = out / f"fraction_{fraction:g}" / level_name(level)
            if unit_is_complete(unit):
                rows.append(read_json(unit / "metrics.json"))
                continue
            ticket = tickets.load(level)
            wrapping.set_masks(model, ticket["masks"])
            wrapping.set_state(model, ticket["rewind"])
            rewind_step = ticket["meta"]["rewind_step"]
            variant = "few_shot_" + ("dense" if level == 0 else ticket["meta"]["variant"])
            result = train(model, quiet, hp, seed=p.seed, start_step=rewind_step, train_split=subset, verbose=False,
                           log_dir=ctx.tensorboard_dir / f"{variant}_{fraction:g}" / level_name(level),
                           log_hparams={"variant": variant, "level": level, "fraction": fraction,
                                        "seed": search.seed, "rewind": search.pruning.rewind})
            metrics = {**config_columns(search), "variant": variant,
                       "seed": search.seed, "level": level, "sparsity": ticket["meta"]["sparsity"],
                       **accuracies(model, ds), "train_steps": result.steps, "fraction": fraction,
                       "subset_size": int(len(subset)), "selection": p.selection, "budget_mode": p.budget,
                       "final_train_accuracy": result.history[-1]["train_accuracy"] if result.history else float("nan")}
            if ctx.verbose:
                print(f"[few-shot {fraction:g} level {level}] {len(subset)} examples, {result.steps} steps: "
                      f"test_acc {metrics['test_accuracy']:.4f}", flush=True)
            with atomic_path(unit, is_dir=True) as tmp:
                save_npz(tmp / "subset.npz", {"index": subset.index})
                write_json(tmp / "metrics.json", metrics)
            rows.append(metrics)
    frame = in_order(rows, [*config_columns(search), *FEW_SHOT_COLUMNS])
    write_csv(out / "few_shot.csv", frame)
    write_csv(out / "results.csv", frame)
    return {"networks": len(rows)}


def validate_few_shot(p: FewShotParams, inputs):
    """While planning (the executor checks the same again)."""
    if p.selection != "random" and inputs.get("dynamics") is None:
        raise ConfigError(f"FewShotParams.selection={p.selection!r} ranks examples by forgetting: give the "
                          f"FewShot component a Dynamics input, or use selection='random'.")


FEW_SHOT = ComponentSpec(name="FewShot", inputs={"tickets": "Tickets", "dynamics": "Dynamics?"}, output="FewShot",
                         params=FewShotParams, executor=execute_few_shot, validate=validate_few_shot)
