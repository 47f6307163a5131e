"""LabelNoise: noisy training labels -> a Labels artifact (components.artifacts.Labels).

A fraction `noise` of the training labels is re-drawn uniformly over the classes, once, by
`seed` (lth_tf.data.subsets.corrupt_labels: a re-drawn label may land on its old class), as in
the data-diet paper's label-noise experiments (pre-training on corrupted labels). The artifact
keeps every training example: labels.csv (index, label, original_label, redrawn, changed).
Pass it as the `labels` input of the training components (DataScoring, SubsetSlimming,
Pretraining, MaskSearch): they train on (and SubsetSlimming balances by) these labels.
"""
import dataclasses
from pathlib import Path

import gin
import numpy as np

from components.artifacts.examples import Labels
from components import ComponentSpec
from lth_tf.data import DatasetHparams, load_dataset, subsets
from lth_tf.errors import ConfigError


@gin.configurable
@dataclasses.dataclass(frozen=True)
class LabelNoiseParams:
    dataset: DatasetHparams
    noise: float = 0.0  # fraction p of the training labels re-drawn
    seed: int = 0  # which labels are re-drawn, and to what

    def __post_init__(self):
        if not 0.0 <= self.noise <= 1.0:
            raise ConfigError(f"LabelNoiseParams.noise={self.noise} must be in [0, 1] (the fraction of training "
                              f"labels re-drawn).")


def execute(p: LabelNoiseParams, inputs, out: Path, ctx):
    ds = load_dataset(p.dataset)
    split = ds.train.with_indices(np.sort(ds.train.index))  # by example index: the draw does not depend on order
    new, redrawn = subsets.corrupt_labels(split.y, ds.num_classes, p.noise, p.seed)
    was_redrawn = np.zeros(len(split), bool)
    was_redrawn[redrawn] = True
    Labels.write(out, split.index, new, split.y, was_redrawn)
    return {"noise": p.noise, "size": len(split), "redrawn": int(was_redrawn.sum()),
            "changed_fraction": float(np.mean(new != split.y)), "num_classes": int(ds.num_classes), "train_steps": 0}


SPEC = ComponentSpec(name="LabelNoise", inputs={}, output="Labels", params=LabelNoiseParams, executor=execute)
