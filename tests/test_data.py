"""Data layer: stable indices and splits, the source registry (embedded, tfds, image folders) and
the deterministic input pipeline. Offline and fast: tfds is mocked or prepared from tiny fake files."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lth_tf  # noqa: E402,F401  (before tensorflow: selects Keras 2)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lth_tf.data import (Dataset, DatasetHparams, Split, eval_batches, known_datasets,  # noqa: E402
                         load_dataset, train_batches)
from lth_tf.data import dataset as dataset_module  # noqa: E402
from lth_tf.data.embedded import load_digits, load_mnist1d  # noqa: E402
from lth_tf.errors import ConfigError  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_cache():
    """load_dataset caches by hparams; mocked tfds data must not leak into other tests."""
    dataset_module._load_dataset.cache_clear()
    yield
    dataset_module._load_dataset.cache_clear()


# --------------------------------------------------------------------------- splits, indices

@pytest.mark.parametrize("hp,loader", [
    (DatasetHparams(name="mnist1d", num_samples=1000), load_mnist1d),
    (DatasetHparams(name="digits"), load_digits),
])
def test_embedded_stable_indices(hp, loader):
    ds = load_dataset(hp)
    raw = loader(hp)
    n = len(raw.y_train)
    train_idx, val_idx = ds.train.index, ds.val.index
    assert len(np.intersect1d(train_idx, val_idx)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train_idx, val_idx])), np.arange(n))
    assert len(ds.val) == int(round(0.1 * n))
    # A stable index is the position in the source's train split.
    np.testing.assert_array_equal(ds.train.x, raw.x_train[train_idx])
    np.testing.assert_array_equal(ds.val.y, raw.y_train[val_idx])
    np.testing.assert_array_equal(ds.test.index, np.arange(len(raw.y_test)))
    assert ds.train.y.dtype == np.int64 and ds.num_classes == 10

    dataset_module._load_dataset.cache_clear()
    again = load_dataset(hp)
    np.testing.assert_array_equal(again.val.index, val_idx)
    other = load_dataset(DatasetHparams(name=hp.name, num_samples=hp.num_samples, split_seed=1))
    assert not np.array_equal(other.val.index, val_idx)
    assert len(other.val) == len(val_idx)


def test_with_indices_returns_requested_examples():
    ds = load_dataset(DatasetHparams(name="digits"))
    wanted = ds.train.index[[7, 3, 100, 0]]
    sub = ds.train.with_indices(wanted)
    np.testing.assert_array_equal(sub.index, wanted)
    for i, stable in enumerate(wanted):
        pos = int(np.flatnonzero(ds.train.index == stable)[0])
        np.testing.assert_array_equal(sub.x[i], ds.train.x[pos])
        assert sub.y[i] == ds.train.y[pos]
    # A validation example is not in the training split.
    with pytest.raises(ConfigError, match="not in this split"):
        ds.train.with_indices([ds.val.index[0]])
    with pytest.raises(ConfigError):
        ds.train.with_indices([10 ** 9])


def test_unknown_dataset_lists_known_names():
    with pytest.raises(ConfigError) as err:
        DatasetHparams(name="imagenet_22k")
    message = str(err.value)
    assert "imagenet_22k" in message
    for name in ("mnist1d", "digits", "mnist", "cifar10", "cifar100", "image_folder", "tiny_imagenet"):
        assert name in message
        assert name in known_datasets()


# --------------------------------------------------------------------------- tfds sources

@pytest.mark.parametrize("name,shape,classes,augment", [
    ("mnist", (28, 28, 1), 10, "none"),
    ("cifar10", (32, 32, 3), 10, "crop_flip"),
    ("cifar100", (32, 32, 3), 100, "crop_flip"),
    ("svhn_cropped", (32, 32, 3), 10, "crop"),
])
def test_tfds_sources_with_mock_data(name, shape, classes, augment):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        ds = load_dataset(DatasetHparams(name=name))
    assert ds.input_shape == shape
    for split in (ds.train, ds.val, ds.test):
        assert split.x.dtype == np.uint8 and split.y.dtype == np.int64
        assert split.y.min() >= 0 and split.y.max() < classes
    assert len(ds.train) + len(ds.val) == 40 and len(ds.val) == 4 and len(ds.test) == 40
    assert ds.num_classes == classes and ds.augment == augment
    flat = ds.train.x.reshape(-1, shape[-1]).astype(np.float64)
    assert ds.mean.shape == ds.std.shape == (shape[-1],)
    np.testing.assert_allclose(ds.mean, flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(ds.std, flat.std(0), rtol=1e-5)


def test_tfds_augment_can_be_overridden():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=10):
        assert load_dataset(DatasetHparams(name="cifar10", augment="none")).augment == "none"


def test_tfds_missing_dataset_fails_fast_offline(tmp_path):
    start = time.time()
    with pytest.raises(ConfigError) as err:
        load_dataset(DatasetHparams(name="cifar10", data_dir=str(tmp_path)))
    assert time.time() - start < 20
    message = str(err.value)
    assert "cifar10" in message and str(tmp_path) in message and "data_dir" in message
    assert "tfds build cifar10" in message and "--gin_bindings" in message
    assert not any(tmp_path.iterdir())  # nothing was created or downloaded there


def test_tfds_reads_a_prepared_data_dir(tmp_path):
    """The real (unmocked) read path: prepare a 30+10 example MNIST from fake raw files."""
    import tensorflow_datasets as tfds
    from unittest import mock

    rng = np.random.default_rng(0)
    files, raw = {}, {}
    for split, n in (("train", 30), ("test", 10)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        (tmp_path / f"{split}_x").write_bytes(b"\0" * 16 + x.tobytes())
        (tmp_path / f"{split}_y").write_bytes(b"\0" * 8 + y.tobytes())
        files[f"{split}_data"], files[f"{split}_labels"] = str(tmp_path / f"{split}_x"), str(tmp_path / f"{split}_y")
        raw[split] = (x, y)
    data_dir = tmp_path / "tfds"
    try:
        from tensorflow_datasets.image_classification import mnist as tfds_mnist

        manager = mock.MagicMock()
        manager.download_and_extract.return_value = files
        with mock.patch.object(tfds_mnist, "_TRAIN_EXAMPLES", 30), \
                mock.patch.object(tfds_mnist, "_TEST_EXAMPLES", 10), \
                mock.patch("tensorflow_datasets.core.dataset_builder.DatasetBuilder._make_download_manager",
                           lambda *args, **kwargs: manager):
            tfds.builder("mnist", data_dir=str(data_dir)).download_and_prepare()
    except Exception as e:  # noqa: BLE001 - tfds internals we patch may move between versions
        pytest.skip(f"could not prepare a fake tfds mnist: {e!r}")

    ds = load_dataset(DatasetHparams(name="mnist", data_dir=str(data_dir)))
    assert len(ds.train) + len(ds.val) == 30 and len(ds.test) == 10 and ds.num_classes == 10
    # tfds stores examples in its own (deterministic) order: compare as multisets of (image, label).
    full = Split(np.concatenate([ds.train.x, ds.val.x]), np.concatenate([ds.train.y, ds.val.y]),
                 np.concatenate([ds.train.index, ds.val.index]))
    full = full.with_indices(np.arange(30))

    def pairs(x, y):
        return sorted(zip(map(bytes, x.reshape(len(y), -1)), y.tolist()))

    assert pairs(full.x[..., 0], full.y) == pairs(*raw["train"])
    assert pairs(ds.test.x[..., 0], ds.test.y) == pairs(*raw["test"])
    # Loading again gives the same order, so stable indices are stable.
    dataset_module._load_dataset.cache_clear()
    again = load_dataset(DatasetHparams(name="mnist", data_dir=str(data_dir)))
    np.testing.assert_array_equal(again.train.x, ds.train.x)


# --------------------------------------------------------------------------- image folders

def _color(label):
    return 30 * label + 20


def _write_image(path, label, size=(20, 12), mode="RGB"):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    value = _color(label)
    image = Image.new(mode, size, value if mode == "L" else (value, value, value))
    image.save(path)


def _make_train(root, classes=("n02", "n01", "n03"), per_class=3):
    # Tiny ImageNet keeps training images in train/<wnid>/images/.
    for label, cls in enumerate(sorted(classes)):
        for i in range(per_class):
            ext = ".JPEG" if i % 2 == 0 else ".png"
            mode = "L" if i == 1 else "RGB"
            _write_image(root / "train" / cls / "images" / f"{cls}_{i}{ext}", label, mode=mode)
        (root / "train" / cls / f"{cls}_boxes.txt").write_text("not an image\n")


def _check_by_color(x, y):
    assert x.dtype == np.uint8
    for image, label in zip(x, y):
        # JPEG is lossy: allow a small error around the class colour.
        assert abs(float(image.mean()) - _color(label)) < 3, (image.mean(), label)


def test_image_folder_tiny_imagenet_layout(tmp_path):
    _make_train(tmp_path)
    val_rows = [("val_0.JPEG", "n03"), ("val_1.png", "n01"), ("val_2.JPEG", "n02"), ("val_3.png", "n01")]
    classes = ["n01", "n02", "n03"]
    for filename, cls in val_rows:
        _write_image(tmp_path / "val" / "images" / filename, classes.index(cls), size=(70, 70))
    (tmp_path / "val" / "val_annotations.txt").write_text(
        "".join(f"{f}\t{c}\t0\t0\t10\t10\n" for f, c in val_rows))
    # Tiny ImageNet's unlabelled test/images/ must be ignored.
    _write_image(tmp_path / "test" / "images" / "test_0.JPEG", 0)

    hp = DatasetHparams(name="tiny_imagenet", data_dir=str(tmp_path), image_size=16, val_fraction=0.0)
    ds = load_dataset(hp)
    assert ds.num_classes == 3 and ds.augment == "crop_flip"
    assert ds.train.x.shape == (9, 16, 16, 3) and ds.test.x.shape == (4, 16, 16, 3)
    np.testing.assert_array_equal(ds.train.y, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(ds.test.y, [2, 0, 1, 0])  # sorted by file name
    _check_by_color(ds.train.x, ds.train.y)
    _check_by_color(ds.test.x, ds.test.y)

    # The same loader under its generic name, pointed at the archive's parent directory.
    parent = tmp_path.parent / (tmp_path.name + "_parent")
    parent.mkdir()
    os.symlink(tmp_path, parent / "tiny-imagenet-200")
    generic = load_dataset(DatasetHparams(name="image_folder", data_dir=str(parent), image_size=16,
                                          val_fraction=0.0))
    np.testing.assert_array_equal(generic.train.x, ds.train.x)


@pytest.mark.parametrize("test_dir", ["val", "test"])
def test_image_folder_class_subfolder_layout(tmp_path, test_dir):
    _make_train(tmp_path, classes=("cat", "dog"), per_class=5)
    _write_image(tmp_path / test_dir / "dog" / "a.jpg", 1)
    _write_image(tmp_path / test_dir / "cat" / "b.jpeg", 0)
    _write_image(tmp_path / test_dir / "cat" / "c.png", 0)
    ds = load_dataset(DatasetHparams(name="image_folder", data_dir=str(tmp_path), image_size=8))
    assert ds.num_classes == 2 and len(ds.train) + len(ds.val) == 10 and len(ds.val) == 1
    assert ds.test.x.shape == (3, 8, 8, 3)
    np.testing.assert_array_equal(ds.test.y, [0, 0, 1])
    _check_by_color(ds.test.x, ds.test.y)
    _check_by_color(ds.train.x, ds.train.y)


def test_image_folder_errors(tmp_path):
    def load(path, **kwargs):
        dataset_module._load_dataset.cache_clear()
        return load_dataset(DatasetHparams(name="image_folder", data_dir=path, **kwargs))

    with pytest.raises(ConfigError, match="data_dir is not set"):
        load(None)
    with pytest.raises(ConfigError, match="no train/ folder"):
        load(str(tmp_path))
    (tmp_path / "train" / "cls").mkdir(parents=True)
    with pytest.raises(ConfigError, match="no images found"):
        load(str(tmp_path))
    _make_train(tmp_path, classes=("a", "b"), per_class=1)
    with pytest.raises(ConfigError, match="no labelled test images"):
        load(str(tmp_path))

    _write_image(tmp_path / "val" / "images" / "v.png", 0)
    (tmp_path / "val" / "val_annotations.txt").write_text("v.png\tzebra\t0\t0\t1\t1\n")
    with pytest.raises(ConfigError, match="zebra"):
        load(str(tmp_path))
    (tmp_path / "val" / "val_annotations.txt").write_text("missing.png\ta\n")
    with pytest.raises(ConfigError, match="missing.png"):
        load(str(tmp_path))

    (tmp_path / "val" / "val_annotations.txt").unlink()
    with pytest.raises(ConfigError, match="val_annotations.txt"):
        load(str(tmp_path))
    (tmp_path / "val" / "images" / "v.png").unlink()
    _write_image(tmp_path / "test" / "zebra" / "z.png", 0)
    with pytest.raises(ConfigError, match="zebra"):
        load(str(tmp_path))


# --------------------------------------------------------------------------- input pipeline

def _image_dataset(n=23, augment="crop_flip", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    y = rng.integers(0, 4, n).astype(np.int64)
    index = np.arange(100, 100 + n, dtype=np.int64)  # stable indices need not start at 0
    split = Split(x, y, index)
    flat = x.reshape(-1, 3).astype(np.float64)
    return Dataset("synthetic", split, split.take([]), split, 4, flat.mean(0).astype(np.float32),
                   flat.std(0).astype(np.float32), augment)


def _collect(data):
    return [tuple(t.numpy() for t in batch) for batch in data]


def test_train_batches_resume_matches_full_stream():
    ds = _image_dataset()
    full = _collect(train_batches(ds, ds.train, batch_size=5, seed=3, start_step=0, end_step=13))
    assert len(full) == 13  # 5 steps per epoch, so this crosses two epoch boundaries
    for k in (1, 4, 5, 7, 12):
        resumed = _collect(train_batches(ds, ds.train, batch_size=5, seed=3, start_step=k, end_step=13))
        assert len(resumed) == 13 - k
        for a, b in zip(full[k:], resumed):
            for ta, tb in zip(a, b):
                np.testing.assert_array_equal(ta, tb)


def test_train_batches_epochs_and_seeds():
    ds = _image_dataset(augment="none")
    batches = _collect(train_batches(ds, ds.train, batch_size=5, seed=0, start_step=0, end_step=10))
    epochs = [np.concatenate([b[2] for b in batches[e * 5:(e + 1) * 5]]) for e in range(2)]
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), ds.train.index)  # each example once per epoch
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch
    assert [len(b[2]) for b in batches[:5]] == [5, 5, 5, 5, 3]
    # Labels and (un-augmented, normalized) images travel with their indices.
    for x, y, index in batches:
        sub = ds.train.with_indices(index)
        np.testing.assert_array_equal(y, sub.y)
        np.testing.assert_allclose(x, (sub.x.astype(np.float32) - ds.mean) / ds.std, rtol=1e-5, atol=1e-5)

    other = _collect(train_batches(ds, ds.train, batch_size=5, seed=1, start_step=0, end_step=5))
    assert not np.array_equal(np.concatenate([b[2] for b in other]), epochs[0])


def test_crop_flip_is_deterministic_and_keeps_shapes():
    ds = _image_dataset(augment="crop_flip")
    plain = _image_dataset(augment="none")
    a = _collect(train_batches(ds, ds.train, batch_size=8, seed=5, start_step=0, end_step=3))
    b = _collect(train_batches(ds, ds.train, batch_size=8, seed=5, start_step=0, end_step=3))
    c = _collect(train_batches(plain, plain.train, batch_size=8, seed=5, start_step=0, end_step=3))
    for (xa, _, ia), (xb, _, ib), (xc, _, ic) in zip(a, b, c):
        assert xa.shape == xc.shape and xa.shape[1:] == (8, 8, 3) and xa.dtype == np.float32
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ia, ic)  # augmentation does not change the order
    assert any(not np.allclose(xa, xc) for (xa, _, _), (xc, _, _) in zip(a, c))


def test_eval_batches_preserve_order():
    ds = _image_dataset()
    batches = _collect(eval_batches(ds, ds.test, batch_size=6))
    assert [len(b[1]) for b in batches] == [6, 6, 6, 5]
    np.testing.assert_array_equal(np.concatenate([b[2] for b in batches]), ds.test.index)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), ds.test.y)
    x = np.concatenate([b[0] for b in batches])
    np.testing.assert_allclose(x, (ds.test.x.astype(np.float32) - ds.mean) / ds.std, rtol=1e-5, atol=1e-5)
