"""SubsetSlimming: choose training examples -> an Indices artifact (+ size, class histogram).

Rules (sizes: a float in (0, 1] is a fraction of the candidates, an int a count):
- easiest / hardest: the `size` lowest / highest scores of the `scores` input; with
  class_balanced=True the lowest / highest of each class, equally many per class.
- window: `size` examples after skipping the `offset` hardest.
- threshold: scores > `threshold` (above=True; e.g. forgetting > E_F), else scores <= it.
- random_balanced: `size` examples drawn by `seed`, equally many per class.
- union / intersection: of the `sets` inputs.
- all: every training example.
With score rules, `sets` (if given) restrict the candidates to their union. A `labels` input
(a Labels artifact, from LabelNoise) replaces the dataset's labels (class balance and
histograms then use the noisy labels).

Payload (components.artifacts.Indices): indices.csv (index, label), class_histogram.csv.
The summary carries `train_steps`: the training steps spent upstream (scoring networks), so
networks trained on the subset can report their full cost.
"""
import dataclasses
from pathlib import Path
from typing import Union

import gin
import numpy as np

from components.artifacts.base import train_steps
from components.artifacts.examples import Indices, training_split
from components import ComponentSpec
from lth_tf.data import DatasetHparams, Split, load_dataset
from lth_tf.data import subsets
from lth_tf.errors import ConfigError, unknown_name

RULES = ("easiest", "hardest", "window", "threshold", "random_balanced", "union", "intersection", "all")
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
    seed: int = 0  # random_balanced

    def __post_init__(self):
        if self.rule == "corrupt":
            raise ConfigError("SubsetSlimming rule 'corrupt' is now its own component: run components.label_noise "
                              "(LabelNoiseParams(dataset, noise=p, seed=s)) and pass its Labels artifact as the "
                              "`labels` input of the training components.")
        if self.rule not in RULES:
            raise unknown_name("subset rule", self.rule, RULES)


def _choose(p: SubsetSlimmingParams, inputs, split: Split, num_classes: int) -> np.ndarray:
    sets = [a.indices() for a in inputs.get("sets", [])]
    if p.rule in SCORE_RULES:
        if inputs.get("scores") is None:
            raise ConfigError(f"Subset rule {p.rule!r} needs a scores input (a DataScoring artifact).")
        index, scores = inputs["scores"].scores()
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
    return np.sort(candidates.index)  # all


def execute(p: SubsetSlimmingParams, inputs, out: Path, ctx):
    ds = load_dataset(p.dataset)
    split = training_split(ds, labels=inputs.get("labels"))
    chosen = split.with_indices(_choose(p, inputs, split, ds.num_classes))
    summary = {"rule": p.rule, "size": len(chosen), "fraction": len(chosen) / len(ds.train)}
    histogram = subsets.class_histogram(chosen.y, ds.num_classes)
    Indices.write(out, chosen.index, chosen.y, histogram)
    summary.update(class_histogram=histogram.tolist(), num_classes=int(ds.num_classes),
                   train_steps=train_steps(inputs.get("scores"), inputs.get("sets"), inputs.get("labels")))
    if inputs.get("scores") is not None:
        summary["score_kind"] = inputs["scores"].score_kind
    if inputs.get("labels") is not None:
        summary["noise"] = inputs["labels"].noise
    return summary


def validate(p: SubsetSlimmingParams, inputs):
    """While planning (the executor checks the same again): the inputs a rule needs."""
    if p.rule in SCORE_RULES and inputs.get("scores") is None:
        raise ConfigError(f"Subset rule {p.rule!r} needs a scores input (a DataScoring artifact).")
    if p.rule in ("union", "intersection") and not inputs.get("sets"):
        raise ConfigError(f"Subset rule {p.rule!r} needs one or more `sets` inputs (Indices artifacts).")


SPEC = ComponentSpec(name="SubsetSlimming", inputs={"scores": "Scores?", "sets": "Indices*?", "labels": "Labels?"},
                     output="Indices", params=SubsetSlimmingParams, executor=execute, validate=validate)
