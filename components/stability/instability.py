"""Instability: error barriers between copies of a ticket trained with different SGD noise, and
between successive IMP tickets -> an Instability artifact (level_LL/ and successive/ units:
barriers.csv, curves.csv; the whole tables beside them)."""
import dataclasses
from pathlib import Path
from typing import Tuple

import gin
import numpy as np
import pandas as pd

from components.artifacts.base import level_name
from components.stability.common import NOISE_SEED_BASE, check_split, config_columns, eval_split, noise_copy, \
    search_network
from components import ComponentSpec
from lth_tf.data import load_dataset
from lth_tf.errors import ConfigError
from lth_tf.io import atomic_path, unit_is_complete, write_csv
from lth_tf.metrics import barrier as B
from lth_tf.training import evaluate


@gin.configurable
@dataclasses.dataclass(frozen=True)
class InstabilityParams:
    """Instability to SGD noise, 003 §3.2 eq. (3): between two networks trained from the same
    weights with different SGD noise, "with the validation error of a network measured as
    E(W)", the error barrier is sup_α E(αW_1 + (1 − α)W_2) − (E(W_1) + E(W_2))/2; "a significant
    error barrier is seen as being higher than 2%" (unstable), otherwise stable. `split` picks
    the data E is measured on, for the noise pairs and the successive-ticket barriers alike."""
    levels: Tuple[int, ...] = ()  # () = every level of the ticket artifact
    pairs: int = 1  # noise pairs per level (pair 0 pairs the ticket itself with one new copy)
    alphas: Tuple[float, ...] = B.ALPHAS
    successive: bool = True  # also the barrier between the trained tickets of levels L and L+1
    split: str = "val"  # E(W) of eq. (3): the validation error (noise and successive barriers alike)
    threshold: float = B.STABLE_BELOW
    bn_batches: int = 2  # training batches of 128 that recompute batch-norm statistics at each alpha

    def __post_init__(self):
        check_split(self.split, "InstabilityParams.split")
        if self.pairs < 1:
            raise ConfigError(f"InstabilityParams.pairs={self.pairs} must be >= 1.")
        object.__setattr__(self, "levels", tuple(int(l) for l in self.levels))
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))


def execute_instability(p: InstabilityParams, inputs, out: Path, ctx):
    tickets = inputs["tickets"]
    search = tickets.params
    ds = load_dataset(search.dataset)
    split = eval_split(ds, p.split)
    levels = tickets.check_levels(p.levels, "InstabilityParams.levels")
    model = search_network(search, ds)
    evaluator = B.ErrorEvaluator(model, ds, split, bn_batches=p.bn_batches)
    columns = {**config_columns(search), "seed": search.seed}
    barriers, curves = [], []
    for level in levels:
        unit = out / level_name(level)
        if unit_is_complete(unit):
            barriers += pd.read_csv(unit / "barriers.csv").to_dict("records")
            curves += pd.read_csv(unit / "curves.csv").to_dict("records")
            continue
        ticket = tickets.load(level)
        rewind_step = ticket["meta"]["rewind_step"]
        level_rows, level_curves = [], []
        for pair in range(p.pairs):
            copies, accuracies = [], []
            for j in (2 * pair, 2 * pair + 1):
                if j == 0:  # the ticket itself: trained with the search's own data order
                    copies.append(ticket["trained"])
                    accuracies.append(ticket["meta"]["test_accuracy"])
                    continue
                seed = NOISE_SEED_BASE * j + search.seed
                state, _ = noise_copy(model, ds, search.training, ticket, rewind_step, seed,
                                       f"noise copy {j} {columns['config']} level {level}", ctx,
                                       ctx.tensorboard_dir / "instability" / level_name(level) / f"copy_{j}",
                                       {"variant": "instability", "level": level, "copy": j, "seed": search.seed,
                                        "rewind": search.pruning.rewind, "method": search.pruning.method})
                copies.append(state)
                accuracies.append(evaluate(model, ds, ds.test)["accuracy"])
            path = B.linear_path(model, copies[0], copies[1], ds, alphas=p.alphas, masks=ticket["masks"],
                                 evaluator=evaluator)
            level_rows.append({**columns, "kind": "noise", "level": level, "level_2": level,
                               "sparsity": ticket["meta"]["sparsity"], "pair": pair, "barrier": path.barrier,
                               "error_1": path.error_1, "error_2": path.error_2, "max_error": float(path.errors.max()),
                               "stable": path.stable(p.threshold), "test_accuracy_1": accuracies[0],
                               "test_accuracy_2": accuracies[1], "rewind_step": rewind_step, "split": p.split})
            level_curves += [{**columns, "kind": "noise", "level": level, "pair": pair, **r} for r in path.rows()]
        with atomic_path(unit, is_dir=True) as tmp:
            write_csv(tmp / "curves.csv", pd.DataFrame(level_curves))
            write_csv(tmp / "barriers.csv", pd.DataFrame(level_rows))
        barriers += level_rows
        curves += level_curves
    if p.successive:
        rows, successive_curves = _successive(p, tickets, model, ds, evaluator, columns, out)
        barriers += rows
        curves += successive_curves
    write_csv(out / "barriers.csv", pd.DataFrame(barriers))
    write_csv(out / "curves.csv", pd.DataFrame(curves))
    noise = [r["barrier"] for r in barriers if r["kind"] == "noise"]
    return {"levels": len(levels), "max_noise_barrier": float(max(noise)) if noise else None}


def _successive(p, tickets, model, ds, evaluator, columns, out):
    """Barriers between the trained tickets of levels L and L+1, interpolated within level L's
    mask (the union of the two: IMP masks are nested)."""
    unit = out / "successive"
    if unit_is_complete(unit):
        return pd.read_csv(unit / "barriers.csv").to_dict("records"), pd.read_csv(unit / "curves.csv").to_dict("records")
    levels = tickets.finished_levels()
    rows, curves = [], []
    for a, b in zip(levels[:-1], levels[1:]):
        ta, tb = tickets.load(a), tickets.load(b)
        union = {n: np.maximum(ta["masks"][n], tb["masks"][n]) for n in ta["masks"]}
        path = B.linear_path(model, ta["trained"], tb["trained"], ds, alphas=p.alphas, masks=union, evaluator=evaluator)
        rows.append({**columns, "kind": "successive", "level": a, "level_2": b, "sparsity": tb["meta"]["sparsity"],
                     "pair": 0, "barrier": path.barrier, "error_1": path.error_1, "error_2": path.error_2,
                     "max_error": float(path.errors.max()), "stable": path.stable(p.threshold),
                     "test_accuracy_1": ta["meta"]["test_accuracy"], "test_accuracy_2": tb["meta"]["test_accuracy"],
                     "rewind_step": ta["meta"]["rewind_step"], "split": p.split})
        curves += [{**columns, "kind": "successive", "level": a, "pair": 0, **r} for r in path.rows()]
    with atomic_path(unit, is_dir=True) as tmp:
        write_csv(tmp / "curves.csv", pd.DataFrame(curves))
        write_csv(tmp / "barriers.csv", pd.DataFrame(rows))
    return rows, curves


INSTABILITY = ComponentSpec(name="Instability", inputs={"tickets": "Tickets"}, output="Instability",
                            params=InstabilityParams, executor=execute_instability)
