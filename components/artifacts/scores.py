"""Scores: per-example scores of the training split (DataScoring).

scores.csv (index, label, score, extra columns per method), networks/network_KK.npz (one atomic
unit per scoring network), histogram.png. The summary records score_kind, the scoring networks'
steps and `train_steps` (their cost ledger).
"""
from pathlib import Path

import numpy as np
import pandas as pd

from components.artifacts.base import Artifact, unit_name


class Scores(Artifact):
    TYPE = "Scores"

    def scores(self):
        """(index, score) arrays."""
        frame = self.frame()
        return frame["index"].to_numpy(np.int64), frame["score"].to_numpy(np.float64)

    def frame(self) -> pd.DataFrame:
        return pd.read_csv(Path(self.path) / "scores.csv")

    @property
    def score_kind(self) -> str:
        return self.summary.get("score_kind")

    @staticmethod
    def network_unit(out: Path, k: int) -> Path:
        return Path(out) / "networks" / f"{unit_name('network', k)}.npz"
