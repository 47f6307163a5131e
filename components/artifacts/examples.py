"""Artifacts about training examples: Indices (a subset, SubsetSlimming), Labels (noisy labels,
LabelNoise) and the training split they define together (`training_split`).

Indices: indices.csv (index, label), class_histogram.csv. Labels: labels.csv (index, label,
original_label, redrawn, changed). Both summaries carry `train_steps`, the cost ledger of what
chose them (scoring networks), so networks trained on them can report their full cost.
"""
from pathlib import Path

import numpy as np
import pandas as pd

from components.artifacts.base import Artifact
from lth_tf.errors import ConfigError
from lth_tf.io import write_csv


class Indices(Artifact):
    TYPE = "Indices"

    def indices(self) -> np.ndarray:
        return pd.read_csv(Path(self.path) / "indices.csv")["index"].to_numpy(np.int64)

    @property
    def size(self) -> int:
        return int(self.summary["size"])

    @property
    def noise(self) -> float:
        """The label noise of the labels the subset was chosen with (0 without)."""
        return float(self.summary.get("noise", 0.0))

    @staticmethod
    def write(out: Path, index, labels, histogram):
        """indices.csv (index, label) and class_histogram.csv (class, count)."""
        write_csv(Path(out) / "indices.csv", pd.DataFrame({"index": index, "label": labels}))
        write_csv(Path(out) / "class_histogram.csv", pd.DataFrame({"class": np.arange(len(histogram)), "count": histogram}))


class Labels(Artifact):
    TYPE = "Labels"

    def labels(self):
        """(index, label) arrays: the training labels to use instead of the dataset's."""
        path = Path(self.path) / "labels.csv"
        if not path.exists():
            raise ConfigError(f"The labels input {self.path} has no labels.csv: labels come from the LabelNoise "
                              f"component; rerun it.")
        frame = pd.read_csv(path)
        return frame["index"].to_numpy(np.int64), frame["label"].to_numpy(np.int64)

    @property
    def noise(self) -> float:
        """The fraction p of labels re-drawn."""
        return float(self.summary.get("noise", 0.0))

    @staticmethod
    def write(out: Path, index, new, original, redrawn):
        write_csv(Path(out) / "labels.csv", pd.DataFrame({"index": index, "label": new, "original_label": original,
                                                          "redrawn": redrawn, "changed": new != original}))


def training_split(ds, indices: Indices = None, labels: Labels = None):
    """The training split restricted to an Indices artifact's examples and with a Labels
    artifact's labels (either may be None)."""
    from lth_tf.data import subsets
    split = ds.train
    if labels is not None:
        split = subsets.relabel(split, *labels.labels())
    if indices is not None:
        split = split.with_indices(indices.indices())
        if len(split) == 0:
            raise ConfigError(f"The training subset {indices.path} is empty; choose a larger size.")
    return split
