"""Data augmentation of a training batch (stateless: a pure function of the batch's seed), the
same for in-memory and streamed splits (lth_tf/data/pipeline.py, lth_tf/data/streaming.py)."""
import tensorflow as tf


def _random_crop(x, seed, pad=4):
    """Pad-and-crop each image of a batch by its own offset (vectorized, stateless)."""
    n, h, w = tf.shape(x)[0], x.shape[1], x.shape[2]
    padded = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    offsets = tf.random.stateless_uniform([2, n], seed=seed, minval=0, maxval=2 * pad + 1, dtype=tf.int32)
    rows = offsets[0][:, None] + tf.range(h)[None, :]
    cols = offsets[1][:, None] + tf.range(w)[None, :]
    x = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def _random_flip(x, seed):
    flip = tf.random.stateless_uniform([tf.shape(x)[0]], seed=seed) < 0.5
    return tf.where(flip[:, None, None, None], tf.reverse(x, axis=[2]), x)


def augment_batch(x, seed, kind: str):
    if kind == "none" or x.shape.rank != 4:  # augmentation is defined for images only
        return x
    x = _random_crop(x, seed)
    if kind == "crop_flip":
        x = _random_flip(x, seed + tf.constant([0, 1 << 30], tf.int64))
    return x
