"""Datasets that work offline: generated MNIST-1D (the default) and scikit-learn's digits."""
import numpy as np

from lth_tf.data.dataset import RawData, register
from lth_tf.errors import ConfigError

DIGITS = tuple(str(d) for d in range(10))  # both sets' classes are the digits 0-9, label = digit
# The generator makes num_samples / 10 signals per class and keeps 20% for the test split: 100 gives
# every class 8 training and 2 test examples (fewer leaves classes out of a split, or fails).
MIN_MNIST1D_SAMPLES = 100


@register("mnist1d")
def load_mnist1d(hp) -> RawData:
    """MNIST-1D (Greydanus 2020): 40-sample 1-D signals, 10 classes, generated locally.

    `make_dataset` is deterministic (it seeds itself with args.seed) and needs no network;
    `get_dataset` would try to download, so it is never called."""
    if hp.num_samples < MIN_MNIST1D_SAMPLES:
        raise ConfigError(f"DatasetHparams.num_samples = {hp.num_samples} is too few for mnist1d: it generates "
                          f"num_samples / 10 signals per class and keeps 20% for testing, so at least "
                          f"{MIN_MNIST1D_SAMPLES} are needed for every class to appear in each split (the smoke "
                          f"config uses 2000, the stability study 10000). Nothing was run.")
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = hp.num_samples
    data = make_dataset(args)
    # (n, 40) -> (n, 40, 1): one channel, so Conv1D models take it as it is.
    x_train = data["x"].astype(np.float32)[..., None]
    x_test = data["x_test"].astype(np.float32)[..., None]
    return RawData(x_train, data["y"], x_test, data["y_test"], num_classes=10, class_names=DIGITS)


@register("digits")
def load_digits(hp) -> RawData:
    """scikit-learn's 1,797 8x8 handwritten digits, split 80/20 by a fixed permutation."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[..., None]
    y = bunch.target.astype(np.int64)
    perm = np.random.default_rng(1797).permutation(len(y))
    cut = int(0.8 * len(y))
    return RawData(x[perm[:cut]], y[perm[:cut]], x[perm[cut:]], y[perm[cut:]], num_classes=10, class_names=DIGITS)
