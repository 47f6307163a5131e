"""The code paths that used to need a whole split in memory, on streamed splits
(lth_tf/data/streaming.py): saliency scoring batches, class-split datasets, transfer resizing,
export facts, DataScoring and PrAC predictions through scores.write_scores, Fig. 9's examples;
each against the in-memory path (tfds mock data streamed and in memory are the same examples)."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from lth_tf import exporting, networks
from lth_tf.data import DatasetHparams, is_streamed, load_dataset, sample
from lth_tf.data import dataset as dataset_module
from lth_tf.errors import ConfigError
from lth_tf.metrics import scores as S
from lth_tf.models import ModelHparams
from lth_tf.training import TrainingHparams, predict

from test_streaming import _streamed  # noqa: E402  (tiny streamed datasets over arrays)


@pytest.fixture(autouse=True)
def _fresh_cache():
    dataset_module._load_dataset.cache_clear()
    yield
    dataset_module._load_dataset.cache_clear()


@pytest.fixture
def mock_cifar():
    """(memory, stream): CIFAR-10 from tfds mock data, in memory and streamed."""
    import tensorflow_datasets as tfds
    with tfds.testing.mock_data(num_examples=60):
        hp = DatasetHparams(name="cifar10", data_dir="/nonexistent", storage="memory")
        yield hp, dataclasses.replace(hp, storage="stream")


def _model(ds, width=0.1):
    return networks.build_network(ModelHparams(name="lenet_300_100", width=width), ds.input_shape, ds.num_classes, 0)


def test_a_sample_reads_the_same_examples_from_a_stream(mock_cifar):
    memory, stream = (load_dataset(hp) for hp in mock_cifar)
    positions = np.array([0, 3, 4, 20, len(memory.train) - 1])
    xm, ym, im = sample.examples(memory.train, positions)
    xs, ys, is_ = sample.examples(stream.train, positions)
    assert xs.dtype == np.uint8 and xs.shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(xm, xs)
    np.testing.assert_array_equal(ym, ys)
    np.testing.assert_array_equal(im, is_)
    assert len(sample.examples(stream.train, [])[0]) == 0
    with pytest.raises(ValueError, match="ascending"):
        sample.examples(stream.train, [3, 1])


def test_saliency_scoring_batch_on_a_streamed_split(mock_cifar):
    from lth_tf.sparsity import saliency
    memory, stream = (load_dataset(hp) for hp in mock_cifar)
    xm, ym = saliency.scoring_batch(memory, memory.train, seed=3, per_class=2)
    xs, ys = saliency.scoring_batch(stream, stream.train, seed=3, per_class=2)
    np.testing.assert_array_equal(ym, ys)
    np.testing.assert_allclose(xm, xs, rtol=1e-5, atol=1e-5)  # statistics equal up to float summation
    # The in-memory batch is the one it always was: balanced_sample, normalized.
    x_old, y_old = saliency.balanced_sample(memory.train.x, memory.train.y, 2, 10, 3)
    np.testing.assert_array_equal(xm, ((x_old.astype(np.float32) - memory.mean) / memory.std).astype(np.float32))
    np.testing.assert_array_equal(ym, y_old)


def test_class_split_of_a_streamed_dataset_streams_the_same_examples(mock_cifar):
    from components.stability.probing import class_subset
    memory_hp, stream_hp = mock_cifar
    name = class_subset("cifar10", (3, 1))
    memory = load_dataset(dataclasses.replace(memory_hp, name=name))
    stream = load_dataset(dataclasses.replace(stream_hp, name=name))
    assert not is_streamed(memory.train) and is_streamed(stream.train) and stream.num_classes == 2
    for a, b in ((memory.train, stream.train), (memory.val, stream.val), (memory.test, stream.test)):
        np.testing.assert_array_equal(a.index, b.index)
        np.testing.assert_array_equal(a.y, b.y)
        positions = np.arange(len(a))
        np.testing.assert_array_equal(sample.examples(a, positions)[0], sample.examples(b, positions)[0])
    np.testing.assert_allclose(memory.mean, stream.mean, rtol=1e-6)
    # 'auto' follows the base: small mock data stays in memory.
    auto = load_dataset(dataclasses.replace(memory_hp, name=name, storage="auto"))
    assert not is_streamed(auto.train)


def test_transfer_resizing_of_a_streamed_dataset(mock_cifar):
    from lth_tf.data.resize import resized_to
    memory, stream = (load_dataset(hp) for hp in mock_cifar)
    a, b = resized_to(memory, (16, 16, 1)), resized_to(stream, (16, 16, 1))
    assert is_streamed(b.train) and b.input_shape == (16, 16, 1) and b.train.dtype == np.uint8
    for s, t in ((a.train, b.train), (a.test, b.test)):
        np.testing.assert_array_equal(s.index, t.index)
        xs = sample.examples(t, np.arange(len(t)))[0]
        assert xs.shape == (len(t), 16, 16, 1)
        # one image at a time in tf.data, a chunk at a time in numpy: the same up to rounding of a grey level
        assert np.abs(xs.astype(int) - s.x.astype(int)).max() <= 1
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-3)
    np.testing.assert_allclose(a.std, b.std, rtol=1e-3)
    model = _model(b)
    from lth_tf.training import evaluate
    assert 0.0 <= evaluate(model, b, b.test)["accuracy"] <= 1.0  # the resized stream feeds a network


def test_export_facts_of_a_streamed_dataset():
    ds, _ = _streamed()
    assert exporting.dataset_facts(ds)["input_dtype"] == "uint8"
    digits = load_dataset(DatasetHparams(name="digits"))
    assert exporting.dataset_facts(digits)["input_dtype"] == np.dtype(digits.train.x.dtype).name


def test_data_scoring_on_a_streamed_split_writes_scores_as_it_goes(tmp_path, mock_cifar):
    from components import data_scoring as D
    _, stream_hp = mock_cifar
    ctx = SimpleNamespace(tensorboard_dir=tmp_path / "tb", verbose=False)
    hp = TrainingHparams(budget="1ep", batch_size=16, lr=0.01)
    model = ModelHparams(name="lenet_300_100", width=0.1)
    p = D.DataScoringParams(stream_hp, model, hp, method="el2n", networks=1, steps="2it", batch_size=7)
    out = tmp_path / "el2n"
    summary = D.execute(p, {}, out, ctx)
    ds = load_dataset(stream_hp)
    frame = __import__("pandas").read_csv(out / "scores.csv")
    np.testing.assert_array_equal(frame["index"], ds.train.index)
    written = S.read_scores(str(out / "networks" / "network_00.csv"))
    np.testing.assert_array_equal(written["el2n"], frame["score"].to_numpy())
    assert summary["examples"] == len(ds.train) and summary["steps"] == 2
    # The pass gives exactly el2n_scores' numbers (which hold all logits: fine for 54 examples).
    net = _model(ds)
    path = tmp_path / "one.csv"
    np.testing.assert_array_equal(S.pass_scores(net, ds, ds.train, path, ("el2n",), 7)["el2n"],
                                  S.el2n_scores(net, ds, ds.train))
    grand = S.pass_scores(net, ds, ds.train, path, ("grand",), 7)["grand"]
    np.testing.assert_allclose(grand, S.grand_scores(net, ds, ds.train), rtol=1e-6)
    # Entropy of the mean prediction cannot stream: said before any network trains.
    entropy = dataclasses.replace(p, method="entropy")
    with pytest.raises(ConfigError, match="storage = 'memory'"):
        D.execute(entropy, {}, tmp_path / "entropy", ctx)
    assert not (tmp_path / "entropy" / "networks").exists()
    with pytest.raises(ConfigError, match="streams from disk"):
        D.SPEC.validate(entropy, {})  # while planning
    D.SPEC.validate(dataclasses.replace(entropy, dataset=dataclasses.replace(stream_hp, storage="memory")), {})


def test_prac_predictions_on_a_streamed_split_equal_predict(tmp_path):
    from components.prac import search as prac_search
    ds, _ = _streamed(n=40)
    net = _model(ds)
    logits = predict(net, ds, ds.train)
    p = SimpleNamespace(selection="entropy")
    classes, entropy = prac_search._predictions(p, net, ds, tmp_path / "predictions" / "round_01.csv")
    np.testing.assert_array_equal(classes, logits.argmax(-1))
    np.testing.assert_array_equal(entropy, prac_search._entropy(logits))
    assert (tmp_path / "predictions" / "round_01.csv").exists()
    classes, entropy = prac_search._predictions(SimpleNamespace(selection="prac"), net, ds, tmp_path / "r2.csv")
    assert entropy is None and S.read_scores(str(tmp_path / "r2.csv")).keys() == {"index", "prediction"}


def test_final_set_examples_are_recorded_by_the_search(tmp_path):
    from components.artifacts.tickets import Tickets, write_final_examples
    from components.reports.prac import figures
    ds, x = _streamed(n=40)
    selected = ds.train.index[::4]
    write_final_examples(tmp_path, ds.train, selected, seed=5)
    recorded = Tickets.at(tmp_path).final_examples(6, 5)
    assert Tickets.at(tmp_path).final_examples(6, 4) is None  # another draw: the report draws it itself
    for name in ("outside", "inside"):
        rx, ry, ri = recorded[name]
        assert len(ri) == 6 and np.isin(ri, selected).all() == (name == "inside")
        np.testing.assert_array_equal(rx, x[ri])
        np.testing.assert_array_equal(ry, ds.train.y[np.searchsorted(ds.train.index, ri)])
    # the report's own draw (old searches, from the reloaded dataset) gives the same examples
    drawn = figures.final_set_examples(ds.train, selected, 6, 5)
    for name in ("outside", "inside"):
        for a, b in zip(recorded[name], drawn[name]):
            np.testing.assert_array_equal(a, b)


def test_prac_search_on_a_streamed_split(tmp_path, mock_cifar):
    from components.prac import search as prac_search
    from components.artifacts.tickets import Tickets, round_dir
    from components.reports.prac import figures
    from lth_tf.io import load_npz, write_json
    from lth_tf.sparsity.hparams import PruningHparams
    _, stream_hp = mock_cifar
    p = prac_search.PracSearchParams(stream_hp, ModelHparams(name="lenet_300_100", width=0.1),
                                     TrainingHparams(budget="2ep", batch_size=16, lr=0.01),
                                     PruningHparams(levels=2, fraction=0.5), seed=1, early_stop=False, export=False,
                                     evaluate=False)
    out = tmp_path / "artifacts" / "PracMaskSearch" / "x"
    ctx = SimpleNamespace(tensorboard_dir=tmp_path / "tb", verbose=False)
    summary = prac_search.execute(p, {}, out, ctx)
    ds = load_dataset(stream_hp)
    assert summary["train_examples"] == len(ds.train)
    for r in (1, 2):
        written = S.read_scores(str(out / "predictions" / f"round_{r:02d}.csv"))
        np.testing.assert_array_equal(written["index"], ds.train.index)
        np.testing.assert_array_equal(load_npz(round_dir(out, r) / "sets.npz")["subnetwork_prediction"],
                                      written["prediction"].astype(np.int64))
    write_json(out / "artifact.json", {"type": "Tickets", "parameters": {}, "inputs": {}, "summary": summary})
    selected = load_npz(round_dir(out, 2) / "sets.npz")["selected"]
    examples = figures.examples_of(Tickets.at(out), selected, 6, seed=1)
    assert examples["outside"][0].dtype == np.uint8 and len(examples["inside"][2]) == min(6, len(selected))
    assert np.isin(examples["inside"][2], selected).all()


def test_a_sample_stops_reading_after_its_last_example():
    import tensorflow as tf
    from lth_tf.data.streaming import StreamSource, StreamedSplit
    read = []

    def records():  # a source that notes every record it yields
        def note(i):
            read.append(int(i))
            return np.uint8(i)
        return tf.data.Dataset.range(100).map(
            lambda i: (tf.fill((2, 2, 1), tf.numpy_function(note, [i], tf.uint8)), i))

    split = StreamedSplit(StreamSource(records, lambda r: r, 100, (2, 2, 1)), np.arange(100), np.zeros(100, np.int64))
    x, _, index = sample.examples(split, [3, 7, 11])
    np.testing.assert_array_equal(index, [3, 7, 11])
    np.testing.assert_array_equal(x[:, 0, 0, 0], [3, 7, 11])
    assert max(read) < 50  # not the whole source (prefetching may read a little ahead)
