"""tf.data input pipelines over in-memory splits.

The training stream is a pure function of (seed, step): epoch e visits the examples in the order
`stateless_shuffle(range(n), seed=[seed, e])`, and the augmentation of batch s is drawn with the
stateless seed [seed, s]. So a run that starts at step k (rewinding, resuming) sees exactly the
batches the original run saw from step k on, and two runs with different data seeds differ only
in SGD noise (order and augmentation).
"""
import collections
import math

import numpy as np
import tensorflow as tf

from lth_tf.data import streaming
from lth_tf.data.augment import augment_batch
from lth_tf.data.dataset import Dataset, Split, steps_per_epoch  # noqa: F401  (re-exported)

AUTOTUNE = tf.data.AUTOTUNE


# The last few splits' arrays as tensors: copying a split into a tensor cost 60-100 ms per
# train() call (138 MB for CIFAR-10), and IMP calls train() on the same split every level.
# Entries hold the arrays themselves, so their ids stay theirs while cached.
_TENSORS = collections.OrderedDict()
_TENSORS_KEPT = 2


def _split_tensors(split: Split):
    key = (id(split.x), id(split.y), id(split.index))
    if key not in _TENSORS:
        _TENSORS[key] = (split, (tf.constant(split.x), tf.constant(split.y), tf.constant(split.index)))
        while len(_TENSORS) > _TENSORS_KEPT:
            _TENSORS.popitem(last=False)
    _TENSORS.move_to_end(key)
    return _TENSORS[key][1]


def epoch_order(n: int, seed, epoch) -> tf.Tensor:
    """The positions (into the split) that epoch `epoch` visits, in order."""
    return tf.random.experimental.stateless_shuffle(
        tf.range(n, dtype=tf.int64), seed=tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)]))


def make_batch(data, positions, seed, step, augment: str):
    """Batch (x, y, index) at `positions` of `data` (split_data), augmented with the stateless
    seed [seed, step] and normalized: the one definition of a training batch, used by the tf.data
    stream and by the training loop's in-graph batches alike."""
    x, y, index, mean, std = data
    xb = augment_batch(tf.gather(x, positions), tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)]), augment)
    return (tf.cast(xb, tf.float32) - mean) / std, tf.gather(y, positions), tf.gather(index, positions)


def split_data(ds: Dataset, split: Split):
    """(x, y, index, mean, std) tensors of a split, for make_batch."""
    return _split_tensors(split) + (tf.constant(ds.mean, tf.float32), tf.constant(ds.std, tf.float32))


def train_batches(ds: Dataset, split: Split, batch_size: int, seed: int, start_step: int,
                  end_step: int) -> tf.data.Dataset:
    """Batches (x, y, index) for global steps [start_step, end_step)."""
    if streaming.is_streamed(split):  # read from disk: see lth_tf/data/streaming.py for the order
        return streaming.train_batches(ds, split, batch_size, seed, start_step, end_step)
    n = len(split)
    spe = steps_per_epoch(n, batch_size)
    first_epoch, skip = divmod(start_step, spe)
    last_epoch = math.ceil(end_step / spe)
    data = split_data(ds, split)

    def epoch_positions(epoch):
        return tf.data.Dataset.from_tensor_slices(epoch_order(n, seed, epoch)).batch(batch_size)

    batches = (tf.data.Dataset.range(first_epoch, last_epoch)
               .flat_map(epoch_positions)
               .skip(skip)
               .take(end_step - start_step)
               .enumerate(start=start_step)
               .map(lambda step, positions: make_batch(data, positions, seed, step, ds.augment),
                    num_parallel_calls=AUTOTUNE))
    # Several workers: each runs this whole pipeline and keeps its replicas' slices of every
    # global batch (DATA), so each worker's batches stay a pure function of (seed, step); the
    # default (AUTO) would first try to split by input files, of which there are none.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return batches.prefetch(AUTOTUNE).with_options(options)


def eval_batches(ds: Dataset, split: Split, batch_size: int = 1000):
    """Batches (x, y, index) in split order, normalized. A plain generator over the in-memory
    arrays: building a tf.data pipeline for every evaluation cost ~55 ms, more than a LeNet
    forward pass over the whole validation split."""
    if streaming.is_streamed(split):
        yield from streaming.eval_batches(ds, split, batch_size)
        return
    for start in range(0, len(split), batch_size):
        stop = start + batch_size
        x = (split.x[start:stop].astype(np.float32) - ds.mean) / ds.std
        yield tf.constant(x), tf.constant(split.y[start:stop]), tf.constant(split.index[start:stop])
