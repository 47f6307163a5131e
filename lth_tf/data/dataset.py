"""Datasets with stable example indices, and the registry of dataset sources.

A dataset that fits in host memory (CIFAR-10 is 150 MB as uint8) is three numpy splits; one
larger than `DatasetHparams.stream_above_bytes` (ImageNet) streams its images from disk
(lth_tf/data/streaming.py: same indices, labels in memory), when its source can stream. Each
training example keeps its position in the source's train split as its *stable index*: scores,
subsets and forgetting counts refer to it, whatever validation split or subset is taken later.
A source of your own needs no registration: `DatasetHparams.name = "my_data:load"` names a
function loader(hparams) -> RawData (lth_tf/named.py).
"""
import dataclasses
import functools
import math
from typing import Callable, Dict, Optional, Tuple

import gin
import numpy as np

from lth_tf.errors import ConfigError, unknown_name
from lth_tf.named import lookup


@dataclasses.dataclass(frozen=True)
class Split:
    x: np.ndarray  # float32 features or uint8 images, shape (n, *input_shape)
    y: np.ndarray  # int64 labels, shape (n,)
    index: np.ndarray  # int64 stable indices, shape (n,)

    def __len__(self):
        return len(self.y)

    @property
    def example_shape(self) -> Tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the inputs as stored (uint8 images, float32 features)."""
        return self.x.dtype

    def with_labels(self, y) -> "Split":
        return Split(self.x, np.asarray(y, np.int64), self.index)

    def take(self, positions) -> "Split":
        positions = np.asarray(positions, dtype=np.int64)
        return Split(self.x[positions], self.y[positions], self.index[positions])

    def with_indices(self, indices) -> "Split":
        """The examples whose stable index is in `indices`, in the order given."""
        indices = np.asarray(indices, dtype=np.int64)
        order = np.argsort(self.index)
        found = np.searchsorted(self.index, indices, sorter=order)
        found = np.clip(found, 0, len(order) - 1)
        positions = order[found]
        missing = self.index[positions] != indices
        if missing.any():
            raise ConfigError(
                f"{int(missing.sum())} requested example indices are not in this split "
                f"(e.g. {indices[missing][:5].tolist()}); indices must come from the training split.")
        return self.take(positions)


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    mean: np.ndarray  # per-channel normalization applied in the input pipeline
    std: np.ndarray
    augment: str  # 'none' | 'crop' | 'crop_flip'
    class_names: Tuple[str, ...] = ()  # label -> name, where the source names its classes
    shuffle_buffer: int = 10000  # streamed splits only: examples per shuffle window

    @property
    def input_shape(self) -> Tuple[int, ...]:
        return self.train.example_shape


@dataclasses.dataclass(frozen=True)
class RawData:
    """What a source returns: the source's own train and test splits, as numpy arrays."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    default_augment: str = "none"
    class_names: Tuple[str, ...] = ()  # label -> name ('airplane', ...); () when unnamed


# name -> loader(hparams) -> RawData. Sources register themselves on import (see __init__).
_SOURCES: Dict[str, Callable[["DatasetHparams"], RawData]] = {}
# name -> (estimated bytes of its images in memory (hparams) -> int, streamed loader (hparams) -> Dataset),
# for the sources that can stream (tfds, image folders).
_STREAMS: Dict[str, Tuple[Callable[["DatasetHparams"], int], Callable[["DatasetHparams"], "Dataset"]]] = {}


def register(name: str):
    def wrap(loader):
        _SOURCES[name] = loader
        return loader
    return wrap


# Derived datasets (a class split '<base>_classes_0-1-2') are named by how to build them: a
# resolver registers such a name on first use, in whatever process meets it (a Ray worker never
# ran the pipeline code that derived the dataset in the driver). resolver(name) -> registered?
_RESOLVERS = []


def register_resolver(resolve: Callable[[str], bool]):
    _RESOLVERS.append(resolve)


def is_known(name: str) -> bool:
    """Whether `name` is a registered source, registering a derived dataset's name on the way."""
    return name in _SOURCES or (any(resolve(name) for resolve in _RESOLVERS) and name in _SOURCES)


def register_stream(name: str, estimate_bytes, load):
    _STREAMS[name] = (estimate_bytes, load)


def stream_sources():
    """The names of the sources that can stream."""
    return sorted(_STREAMS)


def stream_estimate(hp: "DatasetHparams") -> int:
    """The estimated bytes of hp's images in memory, for a source that can stream."""
    return _STREAMS[hp.name][0](hp)


def known_datasets():
    return sorted(_SOURCES)


AUGMENTATIONS = ("auto", "none", "crop", "crop_flip")
STORAGES = ("auto", "memory", "stream")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class DatasetHparams:
    name: str = "mnist1d"
    data_dir: Optional[str] = None  # tfds data_dir or the root of an image folder
    val_fraction: float = 0.1  # of the source's train split, held out by `split_seed`
    split_seed: int = 0
    augment: str = "auto"  # 'auto' = the dataset's standard augmentation
    num_samples: int = 10000  # size of generated datasets (mnist1d); ignored by others
    image_size: int = 64  # side length images of an image folder (or ImageNet) are resized to
    # 'memory': load whole into numpy; 'stream': read from disk with tf.data on every pass;
    # 'auto': stream when the images would take more than `stream_above_bytes` in memory.
    storage: str = "auto"
    stream_above_bytes: int = 8 * 2 ** 30
    shuffle_buffer: int = 10000  # streamed: examples per shuffle window (held in memory, encoded)
    stats_examples: int = 50000  # streamed: training images the normalization statistics use

    def __post_init__(self):
        if not is_known(self.name):  # a derived dataset registers itself there
            lookup("dataset", self.name, _SOURCES)  # 'module:function', or an error naming the known ones
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"DatasetHparams.val_fraction={self.val_fraction} must be in [0, 1).")
        if self.augment not in AUGMENTATIONS:
            raise unknown_name("augmentation", self.augment, AUGMENTATIONS)
        if self.storage not in STORAGES:
            raise unknown_name("storage", self.storage, STORAGES)
        if self.storage == "stream" and self.name not in _STREAMS:
            raise ConfigError(
                f"DatasetHparams.storage='stream', but dataset {self.name!r} cannot stream (only tfds datasets "
                f"and image folders can: {', '.join(sorted(_STREAMS))}). Set DatasetHparams.storage = 'memory'.")
        if self.shuffle_buffer < 1 or self.stats_examples < 1:
            raise ConfigError(f"DatasetHparams.shuffle_buffer={self.shuffle_buffer} and stats_examples="
                              f"{self.stats_examples} must be positive counts of examples.")


def storage(hp: DatasetHparams) -> str:
    """'memory' or 'stream': hp.storage, or for 'auto' the choice by the estimated size in memory
    (a source that cannot stream, or whose size is unknown, e.g. data not prepared, is 'memory')."""
    if hp.storage != "auto":
        return hp.storage
    if hp.name not in _STREAMS:
        return "memory"
    return "stream" if _STREAMS[hp.name][0](hp) > hp.stream_above_bytes else "memory"


def load_dataset(hp: DatasetHparams) -> Dataset:
    if not is_known(hp.name):  # hparams unpickled in another process skip __post_init__
        lookup("dataset", hp.name, _SOURCES)
    return _load_dataset(hp)


def train_val_positions(n: int, hp: DatasetHparams) -> Tuple[np.ndarray, np.ndarray]:
    """Positions (sorted) of the training and validation examples in the source's train split."""
    n_val = int(round(hp.val_fraction * n))
    perm = np.random.default_rng(hp.split_seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


@functools.lru_cache(maxsize=4)
def _load_dataset(hp: DatasetHparams) -> Dataset:
    if storage(hp) == "stream":
        return _STREAMS[hp.name][1](hp)
    raw = lookup("dataset", hp.name, _SOURCES)(hp)
    x_train, y_train = raw.x_train, np.asarray(raw.y_train, np.int64)
    index = np.arange(len(y_train), dtype=np.int64)
    train_pos, val_pos = train_val_positions(len(y_train), hp)
    full = Split(x_train, y_train, index)
    train, val = full.take(train_pos), full.take(val_pos)
    test = Split(raw.x_test, np.asarray(raw.y_test, np.int64), np.arange(len(raw.y_test), dtype=np.int64))
    # Per-channel statistics of the training split (last axis is the channel axis).
    flat = train.x.reshape(-1, train.x.shape[-1]).astype(np.float64)
    mean, std = flat.mean(0).astype(np.float32), flat.std(0).astype(np.float32)
    std = np.where(std > 0, std, 1.0).astype(np.float32)
    augment = raw.default_augment if hp.augment == "auto" else hp.augment
    names = tuple(str(c) for c in raw.class_names)
    return Dataset(hp.name, train, val, test, raw.num_classes, mean, std, augment,
                   names if len(names) == raw.num_classes else ())


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    """Batches in one pass over `num_examples` (the last one may be short)."""
    return max(1, math.ceil(num_examples / batch_size))
