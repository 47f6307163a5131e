"""Test set-up: import lth_tf first (legacy Keras), make the repo importable, deterministic ops."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lth_tf  # noqa: E402,F401
from lth_tf.training.seeding import enable_determinism  # noqa: E402

enable_determinism()


def _generate_mnist1d_once_per_size():
    """MNIST-1D generated once per sample count for the whole session: `make_dataset` seeds
    itself, so one count always gives the same arrays, and each call gets its own copies. Tests
    build many datasets of one count (splits, class subsets, augmentations, shipped configs),
    each a new entry of the loader's small per-hparams cache that would generate it again."""
    import dataclasses

    import numpy as np

    from lth_tf.data import dataset
    generate = dataset._SOURCES["mnist1d"]  # reads hp.num_samples only
    generated = {}

    def load_mnist1d(hp):
        if hp.num_samples not in generated:
            generated[hp.num_samples] = generate(hp)
        raw = generated[hp.num_samples]
        arrays = ("x_train", "y_train", "x_test", "y_test")
        return dataclasses.replace(raw, **{name: np.copy(getattr(raw, name)) for name in arrays})
    dataset._SOURCES["mnist1d"] = load_mnist1d


_generate_mnist1d_once_per_size()
