"""Pretraining: train the dense network for t_r steps on a subset S -> a Weights artifact.

The network is initialized from `seed` (the same initialization as a MaskSearch with that
seed) and trained with its own recipe (`training`; the data-diet paper pre-trains with a larger
learning rate) for `steps` steps on the examples of the `subset` input (default: the whole
training split), repeating passes over S as often as the step budget needs ("When M examples
are not enough to train for t_r iterations without replacement, we make multiple passes over
the M examples as necessary", 004 §3). The paper holds t_r in iterations across subset sizes,
so the shipped configs give `steps` in 'it'; 'ep' means passes over S, as everywhere
(lth_tf.training.hparams.to_steps), so '1ep' on a 10% subset is a tenth of the steps of '1ep'
on all data. A `labels` input
(a Labels artifact, from LabelNoise) replaces the training labels: label noise during pre-training
only. MaskSearch takes the artifact as its `pretrained` input: it starts at step t_r from these
weights and rewinds to them.

Payload (components.artifacts.Weights): weights.npz (wrapping.get_state), history.csv, metrics.json. The summary records
`steps` (t_r) and `train_steps` (t_r plus the scoring steps that chose S).
"""
import dataclasses
from pathlib import Path

import gin
import pandas as pd

from components.artifacts.base import level_name, train_steps
from components.artifacts.examples import training_split
from components import ComponentSpec
from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset, steps_per_epoch
from lth_tf.io import save_npz, write_csv, write_json
from lth_tf.models import ModelHparams
from lth_tf.sparsity import wrapping
from lth_tf.training import TrainingHparams, evaluate, to_steps, train


@gin.configurable
@dataclasses.dataclass(frozen=True)
class PretrainingParams:
    dataset: DatasetHparams
    model: ModelHparams
    training: TrainingHparams  # the pre-training recipe; its budget is replaced by `steps`
    steps: str = "400it"  # t_r; 'it', or 'ep' = passes over S (the one meaning, see to_steps)
    seed: int = 0  # initialization and data order

    def __post_init__(self):
        to_steps(self.steps, 1, "PretrainingParams.steps")


def execute(p: PretrainingParams, inputs, out: Path, ctx):
    ds = load_dataset(p.dataset)
    split = training_split(ds, inputs.get("subset"), inputs.get("labels"))
    t_r = to_steps(p.steps, steps_per_epoch(len(split), p.training.batch_size), "PretrainingParams.steps")
    # The schedule spans the pre-training itself (its milestones in 'ep' count passes over S too).
    hp = dataclasses.replace(p.training, budget=f"{t_r}it")
    model = networks.build_network(p.model, ds.input_shape, ds.num_classes, p.seed)
    result = train(model, ds, hp, seed=p.seed, train_split=split, log_dir=ctx.tensorboard_dir / "pretrain" / level_name(0),
                   log_hparams={"variant": "pretrain", "level": 0, "fraction": len(split) / len(ds.train)},
                   label=f"pretrain {len(split)} examples", verbose=ctx.verbose)
    labels = inputs.get("labels")
    summary = {
        "steps": t_r, "train_steps": t_r + train_steps(inputs.get("subset"), labels),
        "subset_size": len(split), "subset_fraction": len(split) / len(ds.train),
        "label_noise": labels.noise if labels is not None else 0.0,
        "val_accuracy": evaluate(model, ds, ds.val)["accuracy"] if len(ds.val) else float("nan"),
        "test_accuracy": evaluate(model, ds, ds.test)["accuracy"], "seed": p.seed,
    }
    save_npz(out / "weights.npz", wrapping.get_state(model))
    write_csv(out / "history.csv", pd.DataFrame(result.history))
    write_json(out / "metrics.json", summary)
    return summary


SPEC = ComponentSpec(name="Pretraining", inputs={"subset": "Indices?", "labels": "Labels?"}, output="Weights",
                     params=PretrainingParams, executor=execute, version=2)
