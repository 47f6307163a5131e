"""Streamed splits (lth_tf/data/streaming.py): batches a pure function of (seed, step), subsets a
filter and label noise a lookup on the stable index, training / evaluation / scores on a stream,
the same numbers as the in-memory path where both apply, and storage chosen by size."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset, pipeline, subsets
from lth_tf.data import dataset as dataset_module
from lth_tf.data.streaming import StreamedSplit, StreamSource, is_streamed, streamed_dataset
from lth_tf.errors import ConfigError
from lth_tf.metrics import scores as S
from lth_tf.metrics.forgetting import ForgettingCounter
from lth_tf.models import ModelHparams
from lth_tf.training import TrainingHparams, evaluate, train


@pytest.fixture(autouse=True)
def _fresh_cache():
    dataset_module._load_dataset.cache_clear()
    yield
    dataset_module._load_dataset.cache_clear()


def _array_source(x):
    """A StreamSource over arrays (records are the images themselves): the stream logic alone."""
    return StreamSource(lambda: tf.data.Dataset.from_tensor_slices(x).enumerate().map(lambda i, r: (r, i)),
                        lambda record: record, len(x), tuple(x.shape[1:]))


def _streamed(n=50, shuffle_buffer=16, augment="crop_flip"):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    y = rng.integers(0, 4, n)
    hp = DatasetHparams(name="cifar10", val_fraction=0.1, augment=augment, shuffle_buffer=shuffle_buffer)
    return streamed_dataset(hp, _array_source(x), y, _array_source(x[:10]), y[:10], 4, "crop_flip"), x


def _collect(batches):
    return [tuple(t.numpy() for t in b) for b in batches]


def test_batches_are_a_pure_function_of_seed_and_step():
    ds, _ = _streamed()
    split = ds.train  # 45 examples, batch 8: 6 steps per epoch (the last one partial)
    full = _collect(pipeline.train_batches(ds, split, 8, seed=3, start_step=0, end_step=20))
    resumed = _collect(pipeline.train_batches(ds, split, 8, seed=3, start_step=9, end_step=20))
    assert len(full) == 20 and len(resumed) == 11
    for a, b in zip(full[9:], resumed):  # resume in mid-epoch: the same batches, augmentation too
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)
    again = _collect(pipeline.train_batches(ds, split, 8, seed=3, start_step=0, end_step=20))
    assert all((a[2] == b[2]).all() and (a[0] == b[0]).all() for a, b in zip(full, again))
    other = _collect(pipeline.train_batches(ds, split, 8, seed=4, start_step=0, end_step=6))
    assert not all(np.array_equal(a[2], b[2]) for a, b in zip(full[:6], other))
    for epoch in range(3):  # every epoch visits the split once, each epoch in its own order
        seen = np.concatenate([b[2] for b in full[6 * epoch:6 * epoch + 6]])
        np.testing.assert_array_equal(np.sort(seen), split.index)
    assert not np.array_equal(np.concatenate([b[2] for b in full[:6]]), np.concatenate([b[2] for b in full[6:12]]))


def test_shuffle_window_keeps_examples_near_their_source_position():
    ds, _ = _streamed(shuffle_buffer=10)
    order = np.concatenate([b[2] for b in _collect(pipeline.train_batches(ds, ds.train, 5, 0, 0, 9))])
    positions = np.searchsorted(ds.train.index, order)  # the k-th example of the split in source order
    assert (positions // 10 == np.arange(len(order)) // 10).all()  # each window of 10 permuted in place


def test_with_indices_is_a_filter_and_relabel_a_lookup():
    ds, x = _streamed(augment="none")
    chosen = ds.train.index[::3][::-1]  # given in any order: the split is in index order
    sub = ds.train.with_indices(chosen)
    assert is_streamed(sub) and len(sub) == len(chosen)
    np.testing.assert_array_equal(sub.index, np.sort(chosen))
    noisy = subsets.relabel(sub, sub.index[:4], (sub.y[:4] + 1) % 4)
    np.testing.assert_array_equal(noisy.y[:4], (sub.y[:4] + 1) % 4)
    np.testing.assert_array_equal(noisy.y[4:], sub.y[4:])
    for xb, yb, ib in _collect(pipeline.train_batches(ds, noisy, 4, 1, 0, 2 * 5)):
        np.testing.assert_array_equal(yb, noisy.y[np.searchsorted(noisy.index, ib)])
        np.testing.assert_allclose(xb, (x[ib].astype(np.float32) - ds.mean) / ds.std, rtol=1e-6)
    eval_index = np.concatenate([b[2] for b in _collect(pipeline.eval_batches(ds, noisy, 3))])
    np.testing.assert_array_equal(eval_index, noisy.index)
    with pytest.raises(ConfigError, match="not in this split"):
        ds.train.with_indices(ds.val.index[:2])
    with pytest.raises(ConfigError, match="in memory"):
        ds.train.x  # noqa: B018  (a component that needs the whole array says so)


def test_streamed_tfds_equals_the_in_memory_dataset():
    import tensorflow_datasets as tfds
    with tfds.testing.mock_data(num_examples=60):
        memory = load_dataset(DatasetHparams(name="cifar10", data_dir="/nonexistent", storage="memory"))
        stream = load_dataset(DatasetHparams(name="cifar10", data_dir="/nonexistent", storage="stream"))
        assert not is_streamed(memory.train) and is_streamed(stream.train) and stream.input_shape == (32, 32, 3)
        for a, b in ((memory.train, stream.train), (memory.val, stream.val), (memory.test, stream.test)):
            np.testing.assert_array_equal(a.index, b.index)
            np.testing.assert_array_equal(a.y, b.y)
        np.testing.assert_allclose(memory.mean, stream.mean, rtol=1e-6)
        np.testing.assert_allclose(memory.std, stream.std, rtol=1e-6)
        xm = np.concatenate([b[0] for b in _collect(pipeline.eval_batches(memory, memory.val, 4))])
        xs = np.concatenate([b[0] for b in _collect(pipeline.eval_batches(stream, stream.val, 4))])
        np.testing.assert_allclose(xm, xs, rtol=1e-6)
        model = networks.build_network(ModelHparams(name="lenet_300_100", width=0.1), memory.input_shape, 10, 0)
        a, b = evaluate(model, memory, memory.test), evaluate(model, stream, stream.test)
        assert a["accuracy"] == b["accuracy"] and a["loss"] == pytest.approx(b["loss"], rel=1e-5)


def test_training_forgetting_and_scores_on_a_streamed_split(tmp_path):
    ds, _ = _streamed(n=40)
    hp = TrainingHparams(budget="2ep", batch_size=8, lr=0.05)

    def run():
        model = networks.build_network(ModelHparams(name="lenet_300_100", width=0.1), ds.input_shape, 4, 0)
        tracker = ForgettingCounter(40)
        result = train(model, ds, hp, seed=0, on_batch=tracker.on_batch, verbose=False)
        return model, result, tracker

    model, result, tracker = run()
    _, again, tracker2 = run()
    assert [r["train_loss"] for r in result.history] == [r["train_loss"] for r in again.history]
    assert np.isfinite(result.history[-1]["val_loss"]) and result.end_step == 2 * 5
    assert (tracker.presentations[ds.train.index] == 2).all() and tracker.presentations[ds.val.index].sum() == 0
    np.testing.assert_array_equal(tracker.forgetting, tracker2.forgetting)
    path = str(tmp_path / "scores.csv")
    assert S.write_scores(model, ds, ds.train, path, kinds=("el2n", "grand", "entropy"), batch_size=7,
                           jit_compile=False) == 36
    table = S.read_scores(path)
    np.testing.assert_array_equal(table["index"], ds.train.index)
    assert (table["el2n"] >= 0).all() and (table["grand"] > 0).all() and (table["entropy"] >= 0).all()


def test_write_scores_equals_the_in_memory_scores(tmp_path):
    ds = load_dataset(DatasetHparams(name="digits"))
    model = networks.build_network(ModelHparams(name="lenet_300_100", width=0.1), ds.input_shape, ds.num_classes, 0)
    split = ds.train.with_indices(ds.train.index[:100])
    path = str(tmp_path / "s.csv")
    S.write_scores(model, ds, split, path, kinds=("el2n", "grand"), batch_size=32)
    table = S.read_scores(path)
    np.testing.assert_array_equal(table["index"], split.index)
    np.testing.assert_allclose(table["el2n"], S.el2n_scores(model, ds, split), rtol=1e-6)
    np.testing.assert_allclose(table["grand"], S.grand_scores(model, ds, split), rtol=1e-5)
    assert not (tmp_path / "s.csv.partial").exists()


def test_storage_is_checked():
    assert dataset_module.storage(DatasetHparams(name="mnist1d", stream_above_bytes=0)) == "memory"  # cannot stream
    with pytest.raises(ConfigError, match="cannot stream"):
        DatasetHparams(name="mnist1d", storage="stream")
    with pytest.raises(ConfigError, match="Unknown storage"):
        DatasetHparams(name="cifar10", storage="disk")


def test_auto_storage_streams_above_the_threshold(tmp_path):
    _image_folder(tmp_path)
    hp = DatasetHparams(name="image_folder", data_dir=str(tmp_path), image_size=8, val_fraction=0.25)
    assert dataset_module.storage(hp) == "memory"  # 12 images x 8 x 8 x 3 bytes
    big = dataclasses.replace(hp, stream_above_bytes=12 * 8 * 8 * 3 - 1)
    assert dataset_module.storage(big) == "stream"
    memory, stream = load_dataset(hp), load_dataset(big)
    assert not is_streamed(memory.train) and is_streamed(stream.train) and stream.class_names == memory.class_names
    for a, b in ((memory.train, stream.train), (memory.val, stream.val), (memory.test, stream.test)):
        np.testing.assert_array_equal(a.index, b.index)
        np.testing.assert_array_equal(a.y, b.y)
    xs = np.concatenate([b[0] for b in _collect(pipeline.eval_batches(stream, stream.test, 5))])
    xm = np.concatenate([b[0] for b in _collect(pipeline.eval_batches(memory, memory.test, 5))])
    # TensorFlow's decoder and resize, not PIL's: equal up to rounding of a few grey levels.
    assert np.abs(xs * stream.std + stream.mean - (xm * memory.std + memory.mean)).max() <= 3


def _image_folder(root):
    from PIL import Image
    rng = np.random.default_rng(0)
    for split, count in (("train", 4), ("val", 2)):
        for cls in ("a", "b"):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def test_missing_tfds_data_is_the_usual_error_when_streaming(tmp_path):
    with pytest.raises(ConfigError, match="is not prepared in"):
        load_dataset(DatasetHparams(name="cifar10", data_dir=str(tmp_path), storage="stream"))
    with pytest.raises(ConfigError, match="is not prepared in"):
        load_dataset(DatasetHparams(name="imagenet2012", data_dir=str(tmp_path)))


def test_streamed_split_answers_len_labels_and_take():
    ds, _ = _streamed()
    split = ds.train
    assert len(split) == 45 and split.y.dtype == np.int64 and split.example_shape == (8, 8, 3)
    taken = split.take([0, 5])
    np.testing.assert_array_equal(taken.index, split.index[[0, 5]])
    np.testing.assert_array_equal(taken.y, split.y[[0, 5]])
    assert isinstance(taken, StreamedSplit)


def test_imagenet_config_is_table_e1_and_plans(tmp_path):
    """configs/sanity_imagenet.gin: Table E.1's ImageNet column (paper 002), planned up to its
    first execution on mock data; without the data, the usual not-prepared error."""
    from pathlib import Path

    import gin
    import tensorflow_datasets as tfds

    import pipelines.run  # noqa: F401  (registers run_pipeline)
    from pipeline_stubs import FirstRunStops, Stop
    from pipelines.sanity import sanity

    config = str(Path(__file__).resolve().parents[1] / "configs" / "sanity_imagenet.gin")

    def plan(bindings):
        gin.clear_config()
        try:
            gin.parse_config_files_and_bindings([config], bindings, finalize_config=False)
            bound = {name: gin.query_parameter(name) for name in (
                "TrainingHparams.budget", "TrainingHparams.batch_size", "TrainingHparams.schedule",
                "TrainingHparams.momentum", "TrainingHparams.weight_decay", "TrainingHparams.warmup",
                "PruningHparams.levels", "PruningHparams.fraction", "sanity.rewind", "ModelHparams.name")}
            runner = FirstRunStops()
            with pytest.raises(Stop):
                sanity(runner)
            return bound, runner.first
        finally:
            gin.clear_config()

    with pytest.raises(ConfigError, match="is not prepared in"):
        plan([f"DatasetHparams.data_dir = '{tmp_path}'"])
    with tfds.testing.mock_data(num_examples=6):
        bound, (name, params) = plan([f"DatasetHparams.data_dir = '{tmp_path}'", "DatasetHparams.image_size = 32",
                                      "DatasetHparams.val_fraction = 0.5"])
    assert bound == {"TrainingHparams.budget": "90ep", "TrainingHparams.batch_size": 1024,
                     "TrainingHparams.schedule": "cosine", "TrainingHparams.momentum": 0.875,
                     "TrainingHparams.weight_decay": 3.05e-5, "TrainingHparams.warmup": "8ep",
                     "PruningHparams.levels": 11, "PruningHparams.fraction": 0.2, "sanity.rewind": "5ep",
                     "ModelHparams.name": "resnet50"}
    assert params.dataset.name == "imagenet2012" and params.model.name == "resnet50"


def test_resnet50_is_the_bottleneck_resnet():
    from lth_tf.models.registry import build_model
    model = build_model(ModelHparams(name="resnet50"), (224, 224, 3), 1000)
    # torchvision's ResNet-50 has 25,557,032 parameters; Keras also counts BatchNorm's moving mean
    # and variance (2 x 26,560 BN channels).
    assert model.count_params() == 25_557_032 + 2 * 26_560
    blocks = [layer.name for layer in model.layers if layer.name.startswith("block") and "_" not in layer.name]
    assert len(blocks) == 3 + 4 + 6 + 3 and model.get_layer("block16").output.shape[-1] == 2048
