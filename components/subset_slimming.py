"""SubsetSlimming: choose training examples -> an Indices artifact (+ size, class histogram).

Rules (sizes: a float in (0, 1] is a fraction of the candidates, an int a count):
- easiest / hardest: the `size` lowest / highest scores of the `scores` input; with
  class_balanced=True the lowest / highest of each class, equally many per class.
- window: `size` examples after skipping the `offset` hardest.
- threshold: scores > `threshold` (above=True; e.g. forgetting > E_F), else scores <= it.
- random_balanced: `size` examples drawn by `seed`, equally many per class.
- union / intersection: of the `sets` inputs.
- corrupt: label noise: a fraction `noise` of the training labels re-drawn uniformly once
  (by `seed`); the artifact keeps every candidate and records the new labels and which
  examples were re-drawn / changed in labels.csv. Pass it as the `labels` input of training
  components (Pretraining, MaskSearch, DataScoring).
- all: every training example.
With score rules, `sets` (if given) restrict the candidates to their union. A `labels` input
replaces the dataset's labels (class balance and histograms then use the noisy labels).

Payload: indices.csv (index, label), class_histogram.csv, labels.csv (rule 'corrupt').
The summary carries `train_steps`: the training steps spent upstream (scoring networks), so
networks trained on the subset can report their full cost.
"""
import dataclasses
from pathlib import Path
from typing import Union

import gin
import numpy as np
import pandas as pd

from components.spec import ComponentSpec
from lth_tf.data import DatasetHparams, Split, load_dataset
from lth_tf.data import subsets
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.io import write_csv

RULES = ("easiest", "hardest", "window", "threshold", "random_balanced", "union", "intersection", "corrupt", "all")
SCORE_RULES = ("easiest", "hardest", "window", "threshold")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class SubsetSlimmingParams:
    dataset: DatasetHparams
    rule: str = "random_balanced"
    size: Union[int, float] = 0.1  # easiest, hardest, window, random_balanced
    offset: Union[int, float] = 0  # window: hardest examples skipped
    threshold: float = 0.0  # threshold
    above: bool = True  # threshold: keep scores above (else at or below)
    class_balanced: bool = False  # easiest, hardest: equally many examples per class
    noise: float = 0.0  # corrupt: fraction p of labels re-drawn
    seed: int = 0  # random_balanced, corrupt

    def __post_init__(self):
        if self.rule not in RULES:
            raise unknown_name("subset rule", self.rule, RULES)
        if not 0.0 <= self.noise <= 1.0:
            raise ConfigError(f"SubsetSlimmingParams.noise={self.noise} must be in [0, 1].")


def load_indices(artifact) -> np.ndarray:
    return pd.read_csv(Path(artifact.path) / "indices.csv")["index"].to_numpy(np.int64)


def load_labels(artifact):
    """(index, label) of a label-noise artifact (rule 'corrupt')."""
    path = Path(artifact.path) / "labels.csv"
    if not path.exists():
        raise ConfigError(f"The labels input {artifact.path} has no labels.csv: labels come from "
                          f"SubsetSlimming with rule 'corrupt'.")
    frame = pd.read_csv(path)
    return frame["index"].to_numpy(np.int64), frame["label"].to_numpy(np.int64)


def training_split(ds, indices=None, labels=None) -> Split:
    """The training split restricted to an Indices artifact's examples and with a label-noise
    artifact's labels (either may be None)."""
    split = ds.train
    if labels is not None:
        split = subsets.relabel(split, *load_labels(labels))
    if indices is not None:
        split = split.with_indices(load_indices(indices))
        if len(split) == 0:
            raise ConfigError(f"The training subset {indices.path} is empty; choose a larger size.")
    return split


def upstream_steps(*artifacts) -> int:
    """Training steps recorded by artifacts (None and lists allowed): the cost of what they hold."""
    total = 0
    for item in artifacts:
        for artifact in (item if isinstance(item, (list, tuple)) else [item]):
            if artifact is not None:
                total += int(artifact.metadata.get("summary", {}).get("train_steps", 0))
    return total


def _choose(p: SubsetSlimmingParams, inputs, split: Split, num_classes: int) -> np.ndarray:
    sets = [load_indices(a) for a in inputs.get("sets", [])]
    if p.rule in SCORE_RULES:
        if inputs.get("scores") is None:
            raise ConfigError(f"Subset rule {p.rule!r} needs a scores input (a DataScoring artifact).")
        from components.data_scoring import load_scores  # here: data_scoring imports this module
        index, scores = load_scores(inputs["scores"])
        if sets:
            keep = np.isin(index, subsets.union(*sets))
            index, scores = index[keep], scores[keep]
        if p.rule in ("easiest", "hardest") and p.class_balanced:
            labels = split.with_indices(index).y
            return subsets.balanced_by_score(index, scores, labels, p.size, num_classes, p.rule == "hardest")
        if p.rule == "easiest":
            return subsets.easiest(index, scores, p.size)
        if p.rule == "hardest":
            return subsets.hardest(index, scores, p.size)
        if p.rule == "window":
            return subsets.window(index, scores, p.size, p.offset)
        return subsets.threshold(index, scores, p.threshold, p.above)
    if p.rule in ("union", "intersection"):
        if not sets:
            raise ConfigError(f"Subset rule {p.rule!r} needs one or more `sets` inputs (Indices artifacts).")
        return subsets.union(*sets) if p.rule == "union" else subsets.intersection(*sets)
    candidates = split.with_indices(subsets.union(*sets)) if sets else split
    if p.rule == "random_balanced":
        return subsets.balanced_random(candidates.index, candidates.y, p.size, num_classes, p.seed)
    return np.sort(candidates.index)  # all, corrupt


def execute(p: SubsetSlimmingParams, inputs, out: Path, ctx):
    ds = load_dataset(p.dataset)
    split = training_split(ds, labels=inputs.get("labels"))
    chosen = split.with_indices(_choose(p, inputs, split, ds.num_classes))
    summary = {"rule": p.rule, "size": len(chosen), "fraction": len(chosen) / len(ds.train)}
    if p.rule == "corrupt":
        new, redrawn = subsets.corrupt_labels(chosen.y, ds.num_classes, p.noise, p.seed)
        was_redrawn = np.zeros(len(chosen), bool)
        was_redrawn[redrawn] = True
        write_csv(out / "labels.csv", pd.DataFrame({"index": chosen.index, "label": new, "original_label": chosen.y,
                                                    "redrawn": was_redrawn, "changed": new != chosen.y}))
        summary.update(noise=p.noise, redrawn=int(was_redrawn.sum()), changed_fraction=float(np.mean(new != chosen.y)))
        chosen = Split(chosen.x, new, chosen.index)
    histogram = subsets.class_histogram(chosen.y, ds.num_classes)
    write_csv(out / "indices.csv", pd.DataFrame({"index": chosen.index, "label": chosen.y}))
    write_csv(out / "class_histogram.csv", pd.DataFrame({"class": np.arange(ds.num_classes), "count": histogram}))
    summary.update(class_histogram=histogram.tolist(),
                   train_steps=upstream_steps(inputs.get("scores"), inputs.get("sets"), inputs.get("labels")))
    if inputs.get("scores") is not None:
        summary["score_kind"] = inputs["scores"].metadata.get("summary", {}).get("score_kind")
    if inputs.get("labels") is not None:
        summary["noise"] = inputs["labels"].metadata.get("summary", {}).get("noise", 0.0)
    return summary


def validate(p: SubsetSlimmingParams, inputs):
    """While planning (the executor checks the same again): the inputs a rule needs."""
    if p.rule in SCORE_RULES and inputs.get("scores") is None:
        raise ConfigError(f"Subset rule {p.rule!r} needs a scores input (a DataScoring artifact).")
    if p.rule in ("union", "intersection") and not inputs.get("sets"):
        raise ConfigError(f"Subset rule {p.rule!r} needs one or more `sets` inputs (Indices artifacts).")


SPEC = ComponentSpec(name="SubsetSlimming", inputs={"scores": "Scores?", "sets": "Indices*?", "labels": "Indices?"},
                     output="Indices", params=SubsetSlimmingParams, executor=execute, validate=validate)
