"""A bounded sample of a split as numpy arrays, read the same way from memory or from a stream.

Some code needs a few examples themselves, not a pass over all of them: the class-balanced batch
SNIP and GraSP score with (10 per class), the examples a report draws. Such code chooses
*positions* in the split from what every split holds in memory (`split.y`, `split.index`) and
reads only those examples with `examples`: `split.x[positions]` for an in-memory split; for a
streamed one (lth_tf/data/streaming.py) one filtered pass over the source that decodes only the
chosen records (and ends after the last of them), so the sample is the same examples, in the
same order, with the same stable indices, and memory holds the sample alone.
"""
from typing import Tuple

import numpy as np

from lth_tf.data import streaming
from lth_tf.errors import ConfigError

MAX_SAMPLE = 100_000  # examples: a sample larger than this is not a sample; stream the split


def examples(split, positions) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, index) of the examples at `positions` (ascending) of `split`, x raw (uint8 images
    as stored, not normalized)."""
    positions = np.asarray(positions, np.int64)
    if len(positions) and (np.diff(positions) <= 0).any():
        raise ValueError("sample positions must be ascending and unique (the order of a pass)")
    if not streaming.is_streamed(split):
        return split.x[positions], split.y[positions], split.index[positions]
    if len(positions) > MAX_SAMPLE:
        raise ConfigError(f"A sample of {len(positions)} examples was asked of a split that streams from disk; "
                          f"at most {MAX_SAMPLE} are read into memory. Ask for fewer examples, or set "
                          f"DatasetHparams.storage = 'memory' if the dataset fits in host memory.")
    chosen = split.take(positions)  # positions ascending: the split's order, index ascending
    images = [x.numpy() for x, _, _ in streaming.raw_batches(chosen)]  # ends after the last chosen one
    x = np.concatenate(images) if images else np.zeros((0, *split.example_shape), np.uint8)
    return x, chosen.y, chosen.index


def normalized(ds, x: np.ndarray) -> np.ndarray:
    """Raw inputs normalized as the input pipeline normalizes them (float32)."""
    return ((x.astype(np.float32) - ds.mean) / ds.std).astype(np.float32)
