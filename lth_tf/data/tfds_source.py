"""Image classification datasets from TensorFlow Datasets (tfds), loaded whole into numpy, or
streamed from the prepared files when they are large (`stream_tfds`, lth_tf/data/streaming.py).

The data must already be prepared on disk (in `DatasetHparams.data_dir`, or tfds' default
`$TFDS_DATA_DIR` / `~/tensorflow_datasets`): we never download. A missing dataset fails at once
with a ConfigError that says where we looked and how to get the data there, instead of hanging
on network retries on an offline machine.
"""
import os
from typing import Dict, NamedTuple, Optional, Tuple

import numpy as np

from lth_tf.data.dataset import RawData, register, register_stream
from lth_tf.errors import ConfigError


class TfdsSpec(NamedTuple):
    tfds_name: str  # name (and config) as tfds knows it
    num_classes: int  # used when the builder's info has no label feature
    augment: str  # the standard augmentation for this dataset
    transpose: bool = False  # EMNIST images are stored transposed
    resize: bool = False  # images of varying size (ImageNet): resized to DatasetHparams.image_size


# Our name -> how to load it. Digits and house numbers are not flipped (a flipped 2 is not a 2).
TFDS_DATASETS: Dict[str, TfdsSpec] = {
    "mnist": TfdsSpec("mnist", 10, "none"),
    "fashion_mnist": TfdsSpec("fashion_mnist", 10, "none"),
    "kmnist": TfdsSpec("kmnist", 10, "none"),
    "emnist": TfdsSpec("emnist/balanced", 47, "none", transpose=True),
    "cifar10": TfdsSpec("cifar10", 10, "crop_flip"),
    "cifar100": TfdsSpec("cifar100", 100, "crop_flip"),
    "svhn_cropped": TfdsSpec("svhn_cropped", 10, "crop"),
    # ImageNet-1K (ILSVRC 2012): tfds prepares it from the manually downloaded archives. Images are
    # resized (bilinear, aspect ratio not kept) to image_size x image_size; 'val' is the test split.
    "imagenet2012": TfdsSpec("imagenet2012", 1000, "crop_flip", resize=True),
}
_TEST_SPLIT = {"imagenet2012": "validation"}


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


def _builder(name: str, hp):
    spec = TFDS_DATASETS[name]
    import tensorflow_datasets as tfds  # slow import, only when a tfds dataset is used

    data_dir = os.path.expanduser(hp.data_dir) if hp.data_dir else None
    try:
        return tfds.builder(spec.tfds_name, data_dir=data_dir)
    except Exception as e:  # noqa: BLE001 - e.g. an unreadable data_dir
        raise _not_found(name, spec, hp.data_dir, data_dir or _default_data_dir(), e) from e


def _as_dataset(name: str, hp, builder, split: str, **kwargs):
    # `as_dataset` only reads prepared files: no download_and_prepare, so no network access.
    # When the files are missing it raises AssertionError ("could not find data") at once.
    try:
        return builder.as_dataset(split=split, shuffle_files=False, **kwargs)
    except (AssertionError, OSError, ValueError) as e:  # ValueError: e.g. an unknown split
        raise _not_found(name, TFDS_DATASETS[name], hp.data_dir, str(builder.data_dir), e) from e


def _resized(image, size: int):
    import tensorflow as tf

    image = tf.image.resize(image, (size, size), method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


def load_tfds(name: str, hp) -> RawData:
    spec = TFDS_DATASETS[name]
    import tensorflow_datasets as tfds

    builder = _builder(name, hp)
    arrays = {}
    for split in ("train", _TEST_SPLIT.get(name, "test")):
        data = _as_dataset(name, hp, builder, split, as_supervised=True)
        if spec.resize:
            data = data.map(lambda x, y: (_resized(x, hp.image_size), y))
        x, y = _to_numpy(tfds, data)
        x = np.asarray(x, dtype=np.uint8)
        if x.ndim == 3:  # (n, h, w) -> (n, h, w, 1)
            x = x[..., None]
        if spec.transpose:  # EMNIST: stored transposed; make the characters upright
            x = np.ascontiguousarray(np.transpose(x, (0, 2, 1, 3)))
        arrays[split] = (x, np.asarray(y, dtype=np.int64))

    (x_train, y_train), (x_test, y_test) = arrays.values()
    return RawData(x_train, y_train, x_test, y_test, num_classes=_num_classes(builder, spec),
                   default_augment=spec.augment, class_names=_class_names(builder))


def _image_key(builder) -> Tuple[str, str]:
    return tuple(builder.info.supervised_keys or ("image", "label"))


def _example_shape(builder, spec: TfdsSpec, image_size: int) -> Tuple[int, int, int]:
    shape = tuple(builder.info.features[_image_key(builder)[0]].shape)
    channels = shape[-1] if len(shape) == 3 and shape[-1] else (1 if len(shape) == 2 else 3)
    if spec.resize or None in shape[:2]:
        return (image_size, image_size, channels)
    h, w = shape[:2]
    return (w, h, channels) if spec.transpose else (h, w, channels)


def estimate_bytes(name: str, hp) -> int:
    """Bytes of the train and test images as uint8 arrays, from the prepared dataset's info; 0
    when unknown (data not prepared: the in-memory loader then says so)."""
    try:
        builder = _builder(name, hp)
        splits = builder.info.splits
        count = sum(splits[s].num_examples for s in ("train", _TEST_SPLIT.get(name, "test")) if s in splits)
        return int(count) * int(np.prod(_example_shape(builder, TFDS_DATASETS[name], hp.image_size)))
    except Exception:  # noqa: BLE001 - no info: unknown size
        return 0


def tfds_stream_source(builder, split: str, spec: TfdsSpec, image_size: int, as_dataset=None):
    """(StreamSource, labels) of one split of a prepared tfds builder. Records are the encoded
    images (tfds.decode.SkipDecoding: a shuffle window holds them encoded), in the order of
    as_dataset(shuffle_files=False), the order the in-memory loader enumerates; decoded (and
    resized, transposed) in the stream. The labels take one pass that reads but never decodes."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from lth_tf.data.streaming import StreamSource

    image_key, label_key = _image_key(builder)
    as_dataset = as_dataset or (lambda **kw: builder.as_dataset(split=split, shuffle_files=False, **kw))
    skip = {"decoders": {image_key: tfds.decode.SkipDecoding()}}
    labels = [y for y in tfds.as_numpy(as_dataset(**skip).map(lambda e: e[label_key]).batch(10000))]
    labels = np.concatenate(labels).astype(np.int64) if labels else np.zeros(0, np.int64)
    feature = builder.info.features[image_key]
    shape = _example_shape(builder, spec, image_size)

    def records():
        return as_dataset(**skip).map(lambda e: e[image_key]).enumerate().map(lambda i, r: (r, i))

    def decode(record):
        image = feature.decode_example(record)
        if image.shape.rank == 2:
            image = image[..., None]
        if spec.transpose:
            image = tf.transpose(image, (1, 0, 2))
        if spec.resize or image.shape[0] is None:
            image = _resized(image, image_size)
        return tf.ensure_shape(tf.cast(image, tf.uint8), shape)

    return StreamSource(records, decode, len(labels), shape), labels


def stream_tfds(name: str, hp):
    """The Dataset of streamed splits of a prepared tfds dataset (DatasetHparams.storage)."""
    from lth_tf.data.streaming import streamed_dataset

    spec = TFDS_DATASETS[name]
    builder = _builder(name, hp)
    sources = []
    for split in ("train", _TEST_SPLIT.get(name, "test")):
        _as_dataset(name, hp, builder, split)  # the not-found error, before any work
        sources.append(tfds_stream_source(builder, split, spec, hp.image_size,
                                          lambda split=split, **kw: _as_dataset(name, hp, builder, split, **kw)))
    (train, y_train), (test, y_test) = sources
    return streamed_dataset(hp, train, y_train, test, y_test, _num_classes(builder, spec), spec.augment,
                            _class_names(builder))


def _register(name: str):
    register(name)(lambda hp: load_tfds(name, hp))
    register_stream(name, lambda hp: estimate_bytes(name, hp), lambda hp: stream_tfds(name, hp))


for _name in TFDS_DATASETS:
    _register(_name)
