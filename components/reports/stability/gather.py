"""The stability report's rows: every evaluated network of the study, labelled from the
artifacts' own parameters (momentum, batch size, rewind point), so nothing depends on the order
the pipeline passed them in; and `StabilityData`, what every section of the report reads."""
import dataclasses
from pathlib import Path
from typing import Dict

import pandas as pd

from components.reports import plotting as plotting
from components.artifacts.tables import Trained
from components.artifacts.tickets import Tickets, search_params
from components import Artifact
from components.stability.common import config_columns, training_label
from lth_tf.data import steps_per_epoch
from lth_tf.training import TrainingHparams

LEADING = ("study", "experiment", "config", "variant", "seed", "level", "sparsity", "val_accuracy",
           "test_accuracy", "train_steps")


def _tickets_of(artifact: Artifact) -> Tickets:
    """The Tickets artifact an analysis or a Trained artifact was computed from."""
    return Tickets.at(artifact.input_path("tickets"))


def _training_of(trained: Trained, search) -> TrainingHparams:
    """The recipe the networks were trained with (Trained.training; None: the search's)."""
    return trained.training or search.training


def _num_classes(tickets) -> int:
    """The classes of a search's dataset, as the search recorded them (Tickets.num_classes)."""
    return Tickets.at(tickets.path).num_classes


def _with(frame: pd.DataFrame, **columns) -> pd.DataFrame:
    frame = frame.copy()
    for k, v in columns.items():
        frame[k] = v
    return frame


def _search_rows(tickets: Artifact, experiment: str, prefix: str = "") -> pd.DataFrame:
    search = search_params(tickets)
    frame = tickets.table()
    if frame.empty:
        return frame
    frame = _with(frame, experiment=experiment, num_classes=_num_classes(tickets), **config_columns(search))
    if prefix:
        frame["variant"] = prefix + frame["variant"]
    return frame


def _trained_rows(trained: Artifact, experiment: str) -> pd.DataFrame:
    tickets = _tickets_of(trained)
    search = search_params(tickets)
    hp = _training_of(trained, search)
    frame = trained.table()
    if frame.empty:
        return frame
    frame = _with(frame, experiment=experiment, num_classes=_num_classes(tickets), **config_columns(search))
    frame["train_config"] = training_label(hp)
    if experiment == "aimp":
        frame["variant"] = f"{aimp_label(tickets, hp)}_" + frame["variant"]
    if experiment == "disentangle":
        frame["variant"] = f"search_{training_label(search.training)}_train_{training_label(hp)}"
    return frame


def aimp_label(tickets, full: TrainingHparams) -> str:
    """'aimp10' for a search that trained 10% of the full training's steps: the search's budget
    and training-split size as it recorded them (Tickets.total_steps, train_examples)."""
    tickets = Tickets.at(tickets.path)
    whole = full.total_steps(steps_per_epoch(tickets.train_examples, full.batch_size))
    return f"aimp{100.0 * tickets.total_steps / whole:.0f}"


def gather_results(inputs, p) -> pd.DataFrame:
    frames = [_search_rows(t, "grid") for t in inputs["searches"]]
    frames += [_trained_rows(t, "baseline") for t in inputs.get("baselines", [])]
    for trained in inputs.get("aimp", []):
        frames.append(_trained_rows(trained, "aimp"))
    for tickets in inputs.get("aimp_searches", []):
        search = search_params(tickets)
        full = [_training_of(t, search) for t in inputs.get("aimp", []) if _tickets_of(t).path == tickets.path]
        prefix = f"{aimp_label(tickets, full[0])}_search_" if full else "aimp_search_"
        frames.append(_search_rows(tickets, "aimp_search", prefix))
    frames += [_trained_rows(t, "disentangle") for t in inputs.get("disentangle", [])]
    for few in inputs.get("few_shot", []):
        frame = few.table()
        if not frame.empty:
            frames.append(_with(frame, experiment="few_shot", num_classes=_num_classes(_tickets_of(few))))
    frames += [_search_rows(t, "transfer_search") for t in inputs.get("transfer_searches", [])]
    frame = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    frame["study"] = p.study
    frame["flagged"] = frame["test_accuracy"] < p.chance_factor / frame["num_classes"]
    first = [c for c in LEADING if c in frame.columns]
    return frame[first + sorted(c for c in frame.columns if c not in first)]


def _concat(artifacts, name) -> pd.DataFrame:
    frames = [a.table(name) for a in artifacts]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def config_order(frame: pd.DataFrame):
    """The report's order of configurations: rewind to init first, then by rewind point,
    momentum, batch size."""
    keys = frame.groupby("config")[["momentum", "batch_size"]].first()
    rewinds = frame.groupby("config")["rewind"].first()
    return sorted(keys.index, key=lambda c: (rewinds[c] != "0it", rewinds[c], keys.loc[c, "momentum"],
                                             keys.loc[c, "batch_size"]))


@dataclasses.dataclass(frozen=True)
class StabilityData:
    """What the sections read: the params, the inputs by role, the output directory, every
    network's row (`results`) and the report's colour per configuration."""
    p: object  # StabilityReportParams
    inputs: Dict
    out: Path
    results: pd.DataFrame
    colors: Dict

    @classmethod
    def of(cls, p, inputs, out: Path) -> "StabilityData":
        results = gather_results(inputs, p)
        colors = plotting.label_colors(results.config.dropna()) if "config" in results else {}
        return cls(p, inputs, out, results, colors)

    def experiment(self, name: str) -> pd.DataFrame:
        return self.results[self.results.experiment == name]

    @property
    def grid(self) -> pd.DataFrame:
        return self.experiment("grid")

    def concat(self, role: str, name: str) -> pd.DataFrame:
        """The `name` csv of every input artifact of `role`, concatenated."""
        return _concat(self.inputs.get(role, []), name)
