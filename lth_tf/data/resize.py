"""A dataset's images brought to another network's input shape, for transfer between datasets.

003 §5.1 (Transferability of emergent features) transfers CIFAR-10 tickets to MNIST, CIFAR-100,
TinyImageNet and EuroSAT: "During the network transfer, we normalize the images with the mean
and standard deviation, and rescale to 32×32." `resized_to` does that to a loaded Dataset: every
split's images are resized bilinearly to the target height and width, single-channel images
are repeated to three channels (three-channel ones averaged to one when the network takes one),
and the normalization statistics are recomputed over the resized training split, so the inputs
are normalized with the (resized) dataset's own mean and standard deviation. Stable example
indices, labels and the augmentation kind are kept. uint8 images stay uint8 (rounded).

A streamed dataset (lth_tf/data/streaming.py) is resized as it streams: each split's source
decodes and then resizes every image with the same operations, one image at a time, and the
statistics come from one pass over the resized training split (streaming.channel_statistics).
"""
import dataclasses
from typing import Sequence, Tuple

import numpy as np

from lth_tf.data.dataset import Dataset, Split
from lth_tf.errors import ConfigError


def can_resize(from_shape: Sequence[int], to_shape: Sequence[int]) -> bool:
    """Whether images of `from_shape` (h, w, c) can be brought to `to_shape`: both are images
    and the channels are equal, or one of them has a single channel (repeated or averaged)."""
    a, b = tuple(from_shape), tuple(to_shape)
    if a == b:
        return True
    return len(a) == len(b) == 3 and (a[-1] == b[-1] or 1 in (a[-1], b[-1]))


def _resize_images(x: np.ndarray, shape: Tuple[int, int, int], chunk: int = 4096) -> np.ndarray:
    import tensorflow as tf

    h, w, c = shape
    out = np.empty((len(x), h, w, c), dtype=x.dtype)
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk].astype(np.float32)
        if part.shape[1:3] != (h, w):
            part = tf.image.resize(part, (h, w), method="bilinear", antialias=True).numpy()
        if part.shape[-1] != c:
            part = np.repeat(part, c, axis=-1) if part.shape[-1] == 1 else part.mean(-1, keepdims=True)
        if np.issubdtype(x.dtype, np.integer):
            info = np.iinfo(x.dtype)
            part = np.clip(np.rint(part), info.min, info.max)
        out[start:start + chunk] = part.astype(x.dtype)
    return out


def _resize_image(image, from_shape: Tuple[int, int, int], shape: Tuple[int, int, int], dtype):
    """One image of `from_shape` as `_resize_images` resizes a chunk (a tf.data map, for
    streamed splits)."""
    import tensorflow as tf

    h, w, c = shape
    part = tf.ensure_shape(tf.cast(image, tf.float32), from_shape)
    if tuple(from_shape[:2]) != (h, w):
        part = tf.image.resize(part, (h, w), method="bilinear", antialias=True)
    if from_shape[-1] != c:
        part = tf.repeat(part, c, axis=-1) if from_shape[-1] == 1 else tf.reduce_mean(part, -1, keepdims=True)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        part = tf.clip_by_value(tf.round(part), info.min, info.max)
    return tf.cast(part, dtype)


def _resized_streamed(ds: Dataset, shape: Tuple[int, int, int]) -> Dataset:
    from lth_tf.data import streaming

    sources = {}  # one resized source per source (train and validation share theirs)

    def split(s):
        key = id(s.source)
        if key not in sources:
            sources[key] = streaming.mapped_source(s.source, lambda image: _resize_image(image, tuple(s.source.shape), shape, s.dtype), shape)
        return streaming.StreamedSplit(sources[key], s.index, s.y)

    train, val, test = split(ds.train), split(ds.val), split(ds.test)
    mean, std = streaming.channel_statistics(train)
    return train, val, test, mean, std


def resized_to(ds: Dataset, input_shape: Sequence[int]) -> Dataset:
    """`ds` with images of `input_shape` (see the module docstring); `ds` itself when its shape
    already is that. A ConfigError when the shapes cannot be matched (e.g. 1-D signals)."""
    shape = tuple(int(s) for s in input_shape)
    if ds.input_shape == shape:
        return ds
    if not can_resize(ds.input_shape, shape):
        raise ConfigError(f"Dataset {ds.name!r} has inputs of shape {ds.input_shape}, the network takes {shape}: "
                          f"only images (height, width, channels) can be resized, with equal channels or one of "
                          f"them single-channel. Pick a target dataset of shape {shape} or of images.")

    def split(s: Split) -> Split:
        return Split(_resize_images(s.x, shape), s.y, s.index)

    from lth_tf.data.streaming import is_streamed
    if is_streamed(ds.train):
        train, val, test, mean, std = _resized_streamed(ds, shape)
    else:
        train, val, test = split(ds.train), split(ds.val), split(ds.test)
        flat = train.x.reshape(-1, shape[-1]).astype(np.float64)
        mean, std = flat.mean(0).astype(np.float32), flat.std(0).astype(np.float32)
        std = np.where(std > 0, std, 1.0).astype(np.float32)
    name = f"{ds.name}_as_{'x'.join(map(str, shape))}"
    return dataclasses.replace(ds, name=name, train=train, val=val, test=test, mean=mean, std=std)
