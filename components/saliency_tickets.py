"""SaliencyTickets: masks found at initialization by SNIP, GraSP or SynFlow, applied iteratively
level by level, then trained on the full data -> a Tickets artifact (the pruning-at-init
baselines of the PrAC study).

Level L prunes a fraction ρ of the weights the level-(L-1) mask kept, by the saliency of the
network at initialization under that mask (in `iterations` geometric sub-steps, re-scoring
after each), so every level has the density vanilla IMP's level L has. Finding the masks costs
gradient evaluations on a small balanced batch (SynFlow: none on data) but no training steps:
`search_steps` is 0 and `scoring_passes` counts the scorer calls. Each ticket trains from
initialization (step 0) for the full budget, the pruning-at-init protocol.

level_LL/ as in MaskSearch (mask.npz, rewind.npz = the initial weights, trained.npz,
metrics.json, history.csv, sparsity.csv, saved_model/); results.csv.
"""
import dataclasses
from pathlib import Path

import gin
import numpy as np

from components.mask_search import finished_levels, level_dir, results_frame
from components.prac_search import train_ticket
from components.spec import ComponentSpec
from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.errors import ConfigError
from lth_tf.io import read_json, write_csv
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import saliency, wrapping
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams


@gin.configurable
@dataclasses.dataclass(frozen=True)
class SaliencyParams:
    dataset: DatasetHparams
    model: ModelHparams
    training: TrainingHparams
    pruning: PruningHparams  # fraction, levels and scope (method and rewind are not used)
    seed: int = 0
    method: str = "synflow"  # snip | grasp | synflow
    iterations: int = 1  # scoring sub-steps per level
    examples_per_class: int = 10  # the scoring batch of SNIP and GraSP
    export: bool = True

    def __post_init__(self):
        saliency.scorer(self.method)
        if self.iterations < 1:
            raise ConfigError(f"SaliencyParams.iterations={self.iterations} must be >= 1.")
        if self.examples_per_class < 1:
            raise ConfigError(f"SaliencyParams.examples_per_class={self.examples_per_class} must be >= 1.")


def execute(p: SaliencyParams, inputs, out: Path, ctx):
    ds = load_dataset(p.dataset)
    model = networks.build_network(p.model, ds.input_shape, ds.num_classes, p.seed, p.pruning.prunable())
    init_state = wrapping.get_state(model)
    x, y = saliency.balanced_sample(ds.train.x, ds.train.y, p.examples_per_class, ds.num_classes, p.seed)
    x = ((x.astype(np.float32) - ds.mean) / ds.std).astype(np.float32)  # as the input pipeline normalizes
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
            "variant": p.method, "seed": p.seed, "level": level, "search_steps": 0,
            "scoring_passes": p.iterations * level, "rewind": "0it", "rewind_step": 0, "method": p.method,
            "scope": p.pruning.scope, "model": p.model.name, "dataset": p.dataset.name},
            ctx, f"{p.method} seed {p.seed} level {level}"))
    frame = results_frame(rows)  # a fixed column order, resumed or not
    frame["artifact"] = [str(level_dir(out, int(l))) for l in frame["level"]]
    write_csv(out / "results.csv", frame)
    return {"levels": len(rows), "final_test_accuracy": rows[-1]["test_accuracy"] if rows else None}


SPEC = ComponentSpec(name="SaliencyTickets", inputs={}, output="Tickets", params=SaliencyParams, executor=execute)
