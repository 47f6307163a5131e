"""Artifacts whose payload is tables: Trained (SparseTraining's networks), Tuning (keras-tuner
trials and the best recipe), Dynamics (forgetting and convergence of the dense network), and
Table for the rest (analyses, reports: results.csv or named CSVs)."""
from pathlib import Path

import numpy as np
import pandas as pd

from components.artifacts.base import Artifact, from_description, level_name
from lth_tf.io import load_npz, read_json, unit_is_complete


def in_order(rows, columns) -> pd.DataFrame:
    """Rows (dicts) as a table whose columns come in the declared order `columns`, then any others
    sorted. Column order is part of the output contract, and resumed rows come back from a unit's
    metrics.json with sorted keys: a declared order makes a resumed table equal a fresh one."""
    frame = pd.DataFrame(rows)
    first = [c for c in columns if c in frame.columns]
    return frame[first + sorted(c for c in frame.columns if c not in first)]


class Table(Artifact):
    """An artifact read as tables (Analysis, Probes, Transfer, Instability, RewindSearch,
    FewShot, Table, Report)."""

    def results(self) -> pd.DataFrame:
        return self.table("results.csv")


class Trained(Table):
    """SparseTraining: one atomic unit per (variant, level), <variant>/level_LL/: mask.npz,
    trained.npz, history.csv, metrics.json (saved_model/ + ticket.json when exported)."""
    TYPE = "Trained"

    @staticmethod
    def unit_dir(root: Path, variant: str, level: int) -> Path:
        return Path(root) / variant / level_name(level)

    def units(self, variant: str):
        """The units of a baseline, by level."""
        return sorted((Path(self.path) / variant).glob("level_[0-9][0-9]"))

    def levels(self, baseline: str):
        """The levels at which baseline `baseline` has a finished network."""
        return [int(unit.name[6:]) for unit in self.units(baseline) if unit_is_complete(unit)]

    def load(self, baseline: str, level: int) -> dict:
        """A finished network: masks, meta (its metrics.json) and trained (its weights, a
        wrapping.get_state dict: trained.npz, which SparseTraining always keeps)."""
        from lth_tf.sparsity import masks as M
        unit = self.unit_dir(self.path, baseline, level)
        return {"masks": M.load_masks(unit / "mask.npz"), "meta": read_json(unit / "metrics.json"),
                "trained": load_npz(unit / "trained.npz")}

    @property
    def seed(self) -> int:
        """The seed the baselines were drawn and trained with (SparseTrainingParams.seed)."""
        return int(self.parameters["seed"])

    @property
    def training(self):
        """The TrainingHparams the networks were trained with (None: the search's)."""
        from lth_tf.training import TrainingHparams
        described = self.parameters.get("training")
        return None if described is None else from_description(TrainingHparams, described)


class Tuning(Table):
    """Tuning: trials.csv, results.csv, best.json (the best trial's values and recipe)."""
    TYPE = "Tuning"

    def best(self) -> dict:
        return read_json(Path(self.path) / "best.json")

    def best_training(self):
        """The TrainingHparams of the best trial."""
        from lth_tf.training import TrainingHparams
        return from_description(TrainingHparams, self.best()["training"])

    def best_values(self) -> dict:
        return self.best()["values"]

    def trials(self) -> pd.DataFrame:
        return pd.read_csv(Path(self.path) / "trials.csv")


class Dynamics(Table):
    """Dynamics: forgetting.npz (index, counts), history.csv, dynamics.csv."""
    TYPE = "Dynamics"

    def forgetting(self):
        """(index, counts) arrays: forgetting events per training example."""
        data = load_npz(Path(self.path) / "forgetting.npz")
        return np.asarray(data["index"]), np.asarray(data["counts"])
