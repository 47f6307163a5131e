"""Splits whose images stream from disk with tf.data, for datasets larger than host memory.

A `StreamedSplit` holds what is small in memory (the stable example indices and the labels, an
int64 each per example) and reads the images from its `StreamSource` on every pass: the source
yields (record, index) in one deterministic source order (tfds with shuffle_files=False, sorted
files of an image folder), and index is the example's position in that order, which is also the
stable index the in-memory path gives it. Subsets are a tf.data filter on that index, labels a
lookup on it, so `with_indices` and `subsets.relabel` mean what they mean for an in-memory Split.

The training stream stays a pure function of (seed, step). Without random access there is no
whole-split permutation; epoch e instead cuts the split's examples (in source order) into
windows of `shuffle_buffer` consecutive examples and visits each window in the order
`stateless_shuffle(seed=fold_in([seed, e], window))`, which holds one window in memory, like a
shuffle buffer, but uses only stateless ops (tf.data's `shuffle(seed=...)` also depends on the
global seed). tfds shuffles examples when it prepares a dataset, so source order is already
random. Resuming at step s skips s's position in its epoch before decoding, so a run started at
step k sees exactly the batches k.. of a run from 0. Augmentation is the in-memory path's, with
the stateless seed [seed, step].
"""
import dataclasses
import math
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from lth_tf.data.augment import augment_batch
from lth_tf.data.dataset import Dataset, steps_per_epoch, train_val_positions
from lth_tf.errors import ConfigError

AUTOTUNE = tf.data.AUTOTUNE


@dataclasses.dataclass(frozen=True, eq=False)
class StreamSource:
    """One split of a source, read from disk on every pass."""
    records: Callable[[], tf.data.Dataset]  # () -> (record, index) in source order, index = 0, 1, ...
    decode: Callable[[tf.Tensor], tf.Tensor]  # record -> uint8 image of `shape`
    size: int  # examples in the source split
    shape: Tuple[int, ...]  # (height, width, channels)


def _unique_sorted(indices: np.ndarray, what: str) -> np.ndarray:
    if len(indices) and (np.diff(indices) <= 0).any():
        raise ConfigError(f"{what} must be unique; got {len(indices) - len(np.unique(indices))} repeated indices. "
                          f"A streamed split holds each example once (pass np.unique(indices)).")
    return indices


@dataclasses.dataclass(frozen=True, eq=False)
class StreamedSplit:
    """The examples `index` (ascending stable indices) of `source`, with labels `y`.

    Answers len(), .y, .index, take, with_indices and with_labels from memory; the images are
    only ever read in tf.data passes (train_batches, eval_batches, raw_batches; a few examples with
    lth_tf.data.sample.examples). `.x` raises: code that needs the whole array needs the in-memory
    path (DatasetHparams.storage = 'memory')."""
    source: StreamSource
    index: np.ndarray  # int64, ascending: the order of every pass
    y: np.ndarray  # int64 labels, aligned with index

    def __len__(self):
        return len(self.index)

    @property
    def example_shape(self) -> Tuple[int, ...]:
        return tuple(self.source.shape)

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the images as stored: a source decodes to uint8."""
        return np.dtype(np.uint8)

    @property
    def x(self):
        raise ConfigError(
            f"This split of {len(self)} examples streams from disk (DatasetHparams.storage is 'stream', or "
            f"'auto' chose it for a large dataset), and this code path needs all its images in memory as one "
            f"array. Set DatasetHparams.storage = 'memory' if the dataset fits in host memory, or use a "
            f"component that reads batches (training, evaluation, scores) or a few examples (lth_tf.data.sample).")

    def take(self, positions) -> "StreamedSplit":
        positions = np.asarray(positions, np.int64)
        return self.with_indices(self.index[positions])

    def with_indices(self, indices) -> "StreamedSplit":
        """The examples whose stable index is in `indices`, in ascending index order (a stream
        visits the source in its order; `.index` says the order of every pass)."""
        indices = np.sort(np.asarray(indices, np.int64))
        _unique_sorted(indices, "Indices given to with_indices")
        found = np.clip(np.searchsorted(self.index, indices), 0, max(len(self.index) - 1, 0))
        missing = (self.index[found] != indices) if len(self.index) else np.ones(len(indices), bool)
        if missing.any():
            raise ConfigError(
                f"{int(missing.sum())} requested example indices are not in this split "
                f"(e.g. {indices[missing][:5].tolist()}); indices must come from the training split.")
        return StreamedSplit(self.source, indices, self.y[found])

    def with_labels(self, y) -> "StreamedSplit":
        return StreamedSplit(self.source, self.index, np.asarray(y, np.int64))

    def tables(self):
        """(member, labels): tensors over the whole source, looked up by stable index: whether an
        example is in this split, and its label here. n bools + n int64: small, like y."""
        member = np.zeros(self.source.size, bool)
        member[self.index] = True
        labels = np.zeros(self.source.size, np.int64)
        labels[self.index] = self.y
        return tf.constant(member), tf.constant(labels)


def is_streamed(split) -> bool:
    return isinstance(split, StreamedSplit)


def _members(split: StreamedSplit) -> Tuple[tf.data.Dataset, tf.Tensor]:
    """(record, index) of the split's examples in source order, and the label table."""
    member, labels = split.tables()
    records = split.source.records()
    if len(split) < split.source.size:
        records = records.filter(lambda record, index: tf.gather(member, index))
    return records, labels


def _decoded(records: tf.data.Dataset, split: StreamedSplit, labels) -> tf.data.Dataset:
    decode = split.source.decode
    return records.map(lambda record, index: (decode(record), tf.gather(labels, index), index),
                       num_parallel_calls=AUTOTUNE, deterministic=True)


def _window_shuffled(records: tf.data.Dataset, window: int, seed, epoch) -> tf.data.Dataset:
    """Each run of `window` consecutive elements permuted by the stateless seed (seed, epoch, k)."""
    base = tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)])

    def permute(k, batch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(tf.shape(batch[1])[0]), seed=tf.random.experimental.stateless_fold_in(base, k))
        return tf.data.Dataset.from_tensor_slices(tf.nest.map_structure(lambda t: tf.gather(t, order), batch))

    return records.batch(window).enumerate().flat_map(permute)


def _options() -> tf.data.Options:
    options = tf.data.Options()
    options.deterministic = True
    # Several workers: each reads the whole stream and keeps its replicas' slices of every global
    # batch, as the in-memory pipeline does (pipeline.train_batches).
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def train_batches(ds, split: StreamedSplit, batch_size: int, seed: int, start_step: int, end_step: int,
                  shuffle_buffer: Optional[int] = None) -> tf.data.Dataset:
    """Batches (x, y, index) for global steps [start_step, end_step), normalized and augmented
    like pipeline.train_batches; see the module docstring for the order."""

    window = int(shuffle_buffer or getattr(ds, "shuffle_buffer", 0) or 10000)
    spe = steps_per_epoch(len(split), batch_size)
    first_epoch, skip = divmod(start_step, spe)
    last_epoch = math.ceil(end_step / spe)
    records, labels = _members(split)
    mean, std = tf.constant(ds.mean, tf.float32), tf.constant(ds.std, tf.float32)

    def epoch(e):
        shuffled = _window_shuffled(records, window, seed, e)
        # Resume: drop the examples of the epoch's first `skip` batches before they are decoded.
        shuffled = shuffled.skip(tf.where(e == first_epoch, tf.constant(skip * batch_size, tf.int64), 0))
        return _decoded(shuffled, split, labels).batch(batch_size)

    def finish(step, batch):
        x, y, index = batch
        xb = augment_batch(x, tf.stack([tf.constant(seed, tf.int64), step]), ds.augment)
        return (tf.cast(xb, tf.float32) - mean) / std, y, index

    batches = (tf.data.Dataset.range(first_epoch, last_epoch)
               .flat_map(epoch)
               .take(end_step - start_step)
               .enumerate(start=start_step)
               .map(finish, num_parallel_calls=AUTOTUNE, deterministic=True))
    return batches.prefetch(AUTOTUNE).with_options(_options())


def eval_batches(ds, split: StreamedSplit, batch_size: int = 1000):
    """Batches (x, y, index) in split order (ascending index), normalized: a generator, like
    pipeline.eval_batches."""
    records, labels = _members(split)
    mean, std = tf.constant(ds.mean, tf.float32), tf.constant(ds.std, tf.float32)
    batches = (_decoded(records, split, labels).batch(batch_size)
               .map(lambda x, y, i: ((tf.cast(x, tf.float32) - mean) / std, y, i),
                    num_parallel_calls=AUTOTUNE, deterministic=True)
               .prefetch(AUTOTUNE).with_options(_options()))
    yield from batches


def raw_batches(split: StreamedSplit, batch_size: int = 1000) -> tf.data.Dataset:
    """Batches (x, y, index) of the split's decoded images as stored (uint8, not normalized), in
    split order: what lth_tf/data/sample.py reads a bounded sample with. The pass ends after the
    split's last example (take), not at the end of the source."""
    records, labels = _members(split)
    return _decoded(records.take(len(split)), split, labels).batch(batch_size).prefetch(AUTOTUNE).with_options(_options())


def subset_source(source: StreamSource, positions) -> StreamSource:
    """The records of `source` at `positions` (ascending), renumbered 0, 1, ... in source order:
    a source of its own, as a loader returning the arrays `x[positions]` would give one (its
    examples' stable indices are their positions in the subset)."""
    positions = np.asarray(positions, np.int64)
    keep = np.zeros(source.size, bool)
    keep[positions] = True

    def records():
        kept = source.records().filter(lambda record, index: tf.gather(tf.constant(keep), index))
        return kept.enumerate().map(lambda k, pair: (pair[0], k))
    return StreamSource(records, source.decode, len(positions), source.shape)


def mapped_source(source: StreamSource, image_fn: Callable[[tf.Tensor], tf.Tensor], shape) -> StreamSource:
    """`source` with every decoded image passed through `image_fn` (uint8 image -> uint8 image of
    `shape`), e.g. resized for transfer (lth_tf/data/resize.py)."""
    return StreamSource(source.records, lambda record: image_fn(source.decode(record)), source.size, tuple(shape))


def channel_statistics(split: StreamedSplit, max_examples: int = 50000, batch_size: int = 1000):
    """Per-channel mean and std (population) of the split's first `max_examples` images, in one
    pass: exactly the in-memory statistics when the split is no larger; an estimate from a
    deterministic sample (source order is random for tfds) otherwise."""
    records, labels = _members(split)
    sums = np.zeros(split.source.shape[-1], np.float64)
    squares = np.zeros_like(sums)
    count = 0
    for x, _, _ in _decoded(records.take(max_examples), split, labels).batch(batch_size):
        flat = x.numpy().reshape(-1, x.shape[-1]).astype(np.float64)
        sums += flat.sum(0)
        squares += (flat ** 2).sum(0)
        count += len(flat)
    count = max(count, 1)
    mean = sums / count
    std = np.sqrt(np.maximum(squares / count - mean ** 2, 0.0))
    return mean.astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


def streamed_dataset(hp, train: StreamSource, y_train: np.ndarray, test: StreamSource, y_test: np.ndarray,
                     num_classes: int, default_augment: str, class_names: Sequence[str] = ()):
    """A Dataset of streamed splits: validation split, stable indices and augmentation chosen as
    dataset._load_dataset chooses them for the in-memory path."""

    y_train, y_test = np.asarray(y_train, np.int64), np.asarray(y_test, np.int64)
    full = StreamedSplit(train, np.arange(len(y_train), dtype=np.int64), y_train)
    train_pos, val_pos = train_val_positions(len(y_train), hp)
    train_split, val_split = full.take(train_pos), full.take(val_pos)
    test_split = StreamedSplit(test, np.arange(len(y_test), dtype=np.int64), y_test)
    mean, std = channel_statistics(train_split, hp.stats_examples)
    augment = default_augment if hp.augment == "auto" else hp.augment
    names = tuple(str(c) for c in class_names)
    return Dataset(hp.name, train_split, val_split, test_split, num_classes, mean, std, augment,
                   names if len(names) == num_classes else (), shuffle_buffer=hp.shuffle_buffer)
