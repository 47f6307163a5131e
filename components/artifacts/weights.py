"""Weights: a pre-trained dense network (Pretraining).

weights.npz (wrapping.get_state), history.csv, metrics.json. The summary records `steps` (t_r,
where a search continues from), the training subset and label noise, and `train_steps` (t_r plus
the scoring steps that chose the subset: the cost ledger).
"""
from pathlib import Path

from components.artifacts.base import Artifact
from lth_tf.io import load_npz


class Weights(Artifact):
    TYPE = "Weights"

    def weights(self) -> dict:
        return load_npz(Path(self.path) / "weights.npz")

    @property
    def steps(self) -> int:
        """t_r: the steps the network was pre-trained for (a search starts and rewinds there)."""
        return int(self.summary["steps"])
