"""Image classification datasets from TensorFlow Datasets (tfds), loaded whole into numpy.

The data must already be prepared on disk (in `DatasetHparams.data_dir`, or tfds' default
`$TFDS_DATA_DIR` / `~/tensorflow_datasets`): we never download. A missing dataset fails at once
with a ConfigError that says where we looked and how to get the data there, instead of hanging
on network retries on an offline machine.
"""
import os
from typing import Dict, NamedTuple, Optional

import numpy as np

from lth_tf.data.dataset import RawData, register
from lth_tf.errors import ConfigError


class TfdsSpec(NamedTuple):
    tfds_name: str  # name (and config) as tfds knows it
    num_classes: int  # used when the builder's info has no label feature
    augment: str  # the standard augmentation for this dataset
    transpose: bool = False  # EMNIST images are stored transposed


# Our name -> how to load it. Digits and house numbers are not flipped (a flipped 2 is not a 2).
TFDS_DATASETS: Dict[str, TfdsSpec] = {
    "mnist": TfdsSpec("mnist", 10, "none"),
    "fashion_mnist": TfdsSpec("fashion_mnist", 10, "none"),
    "kmnist": TfdsSpec("kmnist", 10, "none"),
    "emnist": TfdsSpec("emnist/balanced", 47, "none", transpose=True),
    "cifar10": TfdsSpec("cifar10", 10, "crop_flip"),
    "cifar100": TfdsSpec("cifar100", 100, "crop_flip"),
    "svhn_cropped": TfdsSpec("svhn_cropped", 10, "crop"),
}


def _default_data_dir() -> str:
    return os.environ.get("TFDS_DATA_DIR", os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def _not_found(name: str, spec: TfdsSpec, data_dir: Optional[str], looked_in: str, cause) -> ConfigError:
    where = (f"DatasetHparams.data_dir = {data_dir!r}" if data_dir else
             f"the tfds default data dir {_default_data_dir()!r} (DatasetHparams.data_dir is not set)")
    folder = spec.tfds_name.split("/")[0]
    return ConfigError(
        f"Dataset {name!r} (tfds {spec.tfds_name!r}) is not prepared in {where}: nothing usable at "
        f"{looked_in!r}, and lth-tf never downloads data. To fix: on a machine with internet run "
        f"`tfds build {spec.tfds_name}` or "
        f"`python -c \"import tensorflow_datasets as tfds; tfds.load('{spec.tfds_name}')\"`, copy the "
        f"tensorflow_datasets directory it wrote (the one holding {folder}/) to this machine, and pass "
        f"--gin_bindings \"DatasetHparams.data_dir = '/path/to/tensorflow_datasets'\" "
        f"(or copy it to {_default_data_dir()!r}). (tfds said: {cause})")


def _class_names(builder) -> tuple:
    """The label feature's class names ('airplane', ...), () when tfds has none."""
    try:
        label_key = (builder.info.supervised_keys or (None, "label"))[1]
        return tuple(str(n) for n in (builder.info.features[label_key].names or ()))
    except Exception:  # noqa: BLE001 - no info / no ClassLabel
        return ()


def _num_classes(builder, spec: TfdsSpec) -> int:
    try:
        label_key = (builder.info.supervised_keys or (None, "label"))[1]
        n = builder.info.features[label_key].num_classes
        if n:
            return int(n)
    except Exception:  # noqa: BLE001 - no info / no ClassLabel: fall back to the table
        pass
    return spec.num_classes


def _to_numpy(tfds, data, chunk: int = 10000):
    """All examples of an (image, label) dataset as two arrays. Not `batch_size=-1`: that batches
    by `info.splits` sizes, and where those are unknown (e.g. under `tfds.testing.mock_data`) it
    asks for a batch of sys.maxsize, which aborts the process inside TensorFlow."""
    xs, ys = [], []
    for x, y in tfds.as_numpy(data.batch(chunk)):
        xs.append(x)
        ys.append(y)
    if not xs:
        return np.zeros((0,) + tuple(data.element_spec[0].shape), np.uint8), np.zeros((0,), np.int64)
    return np.concatenate(xs), np.concatenate(ys)


def load_tfds(name: str, hp) -> RawData:
    spec = TFDS_DATASETS[name]
    import tensorflow_datasets as tfds  # slow import, only when a tfds dataset is used

    data_dir = os.path.expanduser(hp.data_dir) if hp.data_dir else None
    try:
        builder = tfds.builder(spec.tfds_name, data_dir=data_dir)
    except Exception as e:  # noqa: BLE001 - e.g. an unreadable data_dir
        raise _not_found(name, spec, hp.data_dir, data_dir or _default_data_dir(), e) from e

    arrays = {}
    for split in ("train", "test"):
        # `as_dataset` only reads prepared files: no download_and_prepare, so no network access.
        # When the files are missing it raises AssertionError ("could not find data") at once.
        try:
            data = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
        except (AssertionError, OSError, ValueError) as e:  # ValueError: e.g. an unknown split
            raise _not_found(name, spec, hp.data_dir, str(builder.data_dir), e) from e
        x, y = _to_numpy(tfds, data)
        x = np.asarray(x, dtype=np.uint8)
        if x.ndim == 3:  # (n, h, w) -> (n, h, w, 1)
            x = x[..., None]
        if spec.transpose:  # EMNIST: stored transposed; make the characters upright
            x = np.ascontiguousarray(np.transpose(x, (0, 2, 1, 3)))
        arrays[split] = (x, np.asarray(y, dtype=np.int64))

    (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
    return RawData(x_train, y_train, x_test, y_test, num_classes=_num_classes(builder, spec),
                   default_augment=spec.augment, class_names=_class_names(builder))


def _register(name: str):
    register(name)(lambda hp: load_tfds(name, hp))


for _name in TFDS_DATASETS:
    _register(_name)
