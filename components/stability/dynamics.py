"""Dynamics: forgetting statistics and convergence speed of the dense network -> a Dynamics
artifact (components.artifacts.Dynamics: forgetting.npz, history.csv, dynamics.csv)."""
import dataclasses
from pathlib import Path

import gin
import pandas as pd

from components.artifacts.base import level_name
from components import ComponentSpec
from components.stability.common import training_label
from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.io import save_npz, write_csv
from lth_tf.metrics.convergence import convergence_speed
from lth_tf.metrics.forgetting import NEVER_LEARNED, ForgettingCounter
from lth_tf.models import ModelHparams
from lth_tf.training import TrainingHparams, evaluate, train


@gin.configurable
@dataclasses.dataclass(frozen=True)
class DynamicsParams:
    dataset: DatasetHparams
    model: ModelHparams
    training: TrainingHparams
    seed: int = 0  # the search seed: same initialization and data order as its level 0

    def label(self) -> str:
        return f"{training_label(self.training)}/seed{self.seed}"


def execute_dynamics(p: DynamicsParams, inputs, out: Path, ctx):
    """Trains the dense network from initialization (the same run as a search's level 0, since
    initialization and data order follow the seed) while counting forgetting events, and derives
    the convergence speed from the validation error before training and after each epoch."""
    ds = load_dataset(p.dataset)
    model = networks.build_network(p.model, ds.input_shape, ds.num_classes, p.seed)
    split = ds.val if len(ds.val) else ds.test
    initial_error = 1.0 - evaluate(model, ds, split)["accuracy"]
    tracker = ForgettingCounter(int(ds.train.index.max()) + 1)
    result = train(model, ds, p.training, seed=p.seed, on_batch=tracker.on_batch, label=f"dynamics {training_label(p.training)}",
                   log_dir=ctx.tensorboard_dir / "dense" / level_name(0),
                   log_hparams={"variant": "dense", "level": 0, "rewind": "0it"}, verbose=ctx.verbose)
    history = pd.DataFrame(result.history)
    errors = 1.0 - (history["val_accuracy"] if len(ds.val) else history["train_accuracy"]).to_numpy()
    counts = tracker.counts()[ds.train.index]
    learned = counts != NEVER_LEARNED
    stats = {
        "training_config": training_label(p.training), "momentum": p.training.momentum,
        "batch_size": p.training.batch_size, "lr": p.training.lr, "budget": p.training.budget, "seed": p.seed,
        "examples": int(len(counts)),
        "forgetting_mean": float(counts[learned].mean()) if learned.any() else float("nan"),
        "forgetting_std": float(counts[learned].std()) if learned.any() else float("nan"),
        "unforgettable_pct": 100.0 * float(tracker.unforgettable()[ds.train.index].mean()),
        "never_learned_pct": 100.0 * float((~learned).mean()),
        "initial_error": initial_error, "final_error": float(errors[-1]),
        "convergence_speed": convergence_speed(initial_error, errors),
        "error_split": "val" if len(ds.val) else "train (running)",
        "test_accuracy": evaluate(model, ds, ds.test)["accuracy"], "train_steps": result.steps,
    }
    save_npz(out / "forgetting.npz", {"index": ds.train.index, "counts": counts})
    write_csv(out / "history.csv", history)
    write_csv(out / "dynamics.csv", pd.DataFrame([stats]))
    return {k: stats[k] for k in ("forgetting_mean", "unforgettable_pct", "convergence_speed")}


DYNAMICS = ComponentSpec(name="Dynamics", inputs={}, output="Dynamics", params=DynamicsParams,
                         executor=execute_dynamics)
