"""Class-split datasets: a registered dataset holding only some classes of another, for transfer
to classes a search never saw (components/stability/probing.py, 003 §5.1 offline).

`class_subset('mnist1d', (0..4))` registers a dataset of those classes (train and test, labels
renumbered from 0 in the given order) whose validation split and normalization are drawn from its
own training examples, like any dataset's. When the base streams (lth_tf/data/streaming.py), so
does its class split: the kept records of each source, renumbered in source order, are a source of
their own (streaming.subset_source), so the examples, stable indices and labels are those the
in-memory class split has; 'auto' storage streams the class split exactly when it streams the base.
The name says how to build the split, so any process resolves it on first use (`_resolve`).
"""
import dataclasses
import re
from typing import Sequence

import numpy as np

from lth_tf.data.dataset import (Dataset, RawData, is_known, known_datasets, load_dataset, register,
                                 register_resolver, register_stream, stream_estimate, stream_sources)
from lth_tf.data.streaming import is_streamed, streamed_dataset, subset_source
from lth_tf.errors import ConfigError, unknown_name


def class_subset(base: str, classes: Sequence[int]) -> str:
    """Registers (once) and returns the name of a dataset holding only `classes` of `base`
    (train and test), labels renumbered 0..len(classes)-1 in the given order. Its validation
    split and normalization are drawn from its own training examples, like any dataset's."""
    classes = tuple(int(c) for c in classes)
    if not is_known(base):
        raise unknown_name("dataset", base, known_datasets())
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ConfigError(f"A class split needs at least two distinct classes, got {classes}.")
    name = f"{base}_classes_{'-'.join(map(str, classes))}"
    if name in known_datasets():
        return name

    def source(hp):
        ds = load_dataset(dataclasses.replace(hp, name=base, val_fraction=0.0))
        if max(classes) >= ds.num_classes:
            raise ConfigError(f"Dataset {base!r} has classes 0..{ds.num_classes - 1}; {classes} asks for more.")
        relabel = np.full(ds.num_classes, -1, np.int64)
        relabel[list(classes)] = np.arange(len(classes))
        return ds, relabel, relabel[ds.train.y] >= 0, relabel[ds.test.y] >= 0

    @register(name)
    def load(hp) -> RawData:
        ds, relabel, keep_train, keep_test = source(hp)
        return RawData(ds.train.x[keep_train], relabel[ds.train.y[keep_train]],
                       ds.test.x[keep_test], relabel[ds.test.y[keep_test]],
                       num_classes=len(classes), default_augment=ds.augment)

    if base in stream_sources():  # a base that streams gives a class split that streams (the same examples)
        def load_streamed(hp) -> Dataset:
            ds, relabel, keep_train, keep_test = source(hp)
            if not is_streamed(ds.train):  # 'auto' kept the base in memory: so is the class split
                return load_dataset(dataclasses.replace(hp, storage="memory"))
            train, test = np.flatnonzero(keep_train), np.flatnonzero(keep_test)
            return streamed_dataset(hp, subset_source(ds.train.source, train), relabel[ds.train.y[train]],
                                    subset_source(ds.test.source, test), relabel[ds.test.y[test]], len(classes),
                                    ds.augment, ())
        register_stream(name, lambda hp: stream_estimate(dataclasses.replace(hp, name=base)), load_streamed)
    return name


def _resolve(name: str) -> bool:
    """Registers `<base>_classes_<c>-<c>...` (the names class_subset gives) when its base is known."""
    match = re.fullmatch(r"(.+)_classes_((?:0|[1-9]\d*)(?:-(?:0|[1-9]\d*))+)", name)  # no '01-2'
    if match is None or not is_known(match.group(1)):
        return False
    return class_subset(match.group(1), [int(c) for c in match.group(2).split("-")]) == name


register_resolver(_resolve)
