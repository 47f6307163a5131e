"""Transfer of frozen tickets (003 §5.1, Table 6): the transferred network is the *untrained*
ticket (mask ⊙ rewind weights), frozen, with a new linear head; baselines frozen dense and
retrained dense; targets of another shape are resized to the source's (offline: class splits of
MNIST-1D, and tfds' mock_data for CIFAR-10 -> MNIST / SVHN)."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import dataclasses
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components import mask_search
from components.stability.probing import TRANSFER, TransferParams, class_subset, new_head_accuracy, transfer_target
from components.stability.common import search_network
from components.stability.few_shot import FEW_SHOT, FewShotParams
from components.reports.stability.report import transfer_table
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.data import dataset as dataset_module
from lth_tf.data.dataset import Dataset, Split
from lth_tf.data.resize import can_resize, resized_to
from lth_tf.errors import ConfigError
from lth_tf.models import ModelHparams
from lth_tf.sparsity import wrapping
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams
from pipelines.runner import Runner

TRAINING = TrainingHparams(budget="2ep", batch_size=64, lr=0.1, momentum=0.9, schedule="constant")
MODEL = ModelHparams("lenet_300_100", width=0.1)
HEAD = dict(epochs=2, lr=0.005, weight_decay=1e-4, batch_size=128, seed=0)


def _search(runner, dataset, levels=2):
    return runner.run(mask_search.SPEC, mask_search.MaskSearchParams(
        dataset, MODEL, TRAINING, PruningHparams(levels=levels), seed=0, export=False))


@pytest.fixture(scope="module")
def class_split(tmp_path_factory):
    runner = Runner(tmp_path_factory.mktemp("transfer"), verbose=False)
    source = DatasetHparams(name=class_subset("mnist1d", (0, 1, 2, 3, 4)), num_samples=1000)
    target = DatasetHparams(name=class_subset("mnist1d", (5, 6, 7, 8, 9)), num_samples=1000)
    tickets = _search(runner, source)
    transfer = runner.run(TRANSFER, TransferParams(target=target, levels=(0, 2), epochs=2), tickets=tickets)
    return tickets, transfer, source, target


def _by_hand(tickets, source, target, level, weights):
    """The head accuracy of the search's network carrying level `level`'s mask and `weights`."""
    search = tickets.params
    model = search_network(search, load_dataset(source))
    ticket = tickets.load(level)
    wrapping.set_masks(model, ticket["masks"])
    wrapping.set_state(model, ticket[weights])
    return new_head_accuracy(model, load_dataset(target), **HEAD)["test_accuracy"]


def test_transferred_ticket_is_the_untrained_ticket(class_split):
    # The "ticket" row must be mask ⊙ rewind weights (frozen at initialization), not the trained
    # ticket; the trained ticket is its own, labelled row.
    tickets, transfer, source, target = class_split
    rows = pd.read_csv(transfer.path / "transfer.csv").set_index(["network", "level"])
    untrained = _by_hand(tickets, source, target, 2, "rewind")
    trained = _by_hand(tickets, source, target, 2, "trained")
    assert untrained != trained  # the toy case tells the two apart
    assert rows.loc[("ticket", 2), "target_test_accuracy"] == pytest.approx(untrained, abs=1e-12)
    assert rows.loc[("trained_ticket", 2), "target_test_accuracy"] == pytest.approx(trained, abs=1e-12)
    assert rows.loc[("ticket", 2), "weights"] == "mask ⊙ rewind weights (untrained)"
    # Table 6's frozen dense*: the dense network trained on the source, frozen.
    assert rows.loc[("frozen_dense", 0), "target_test_accuracy"] == pytest.approx(
        _by_hand(tickets, source, target, 0, "trained"), abs=1e-12)
    assert ("trained_ticket", 0) not in rows.index  # at level 0 that is the frozen dense network


def test_retrained_dense_is_trained_on_the_target(class_split):
    _, transfer, _, target = class_split
    rows = pd.read_csv(transfer.path / "transfer.csv").set_index("network")
    assert set(rows.index) == {"ticket", "trained_ticket", "frozen_dense", "random_dense", "retrained_dense"}
    retrained = rows.loc["retrained_dense"]
    ds = load_dataset(target)
    assert retrained.target_train_steps == 2 * int(np.ceil(len(ds.train) / 64))  # 2 epochs of the target
    assert retrained.target_test_accuracy > 1.5 / ds.num_classes  # it learned the target's classes
    assert (rows.drop(index="retrained_dense").target_train_steps == 0).all()  # heads only: network frozen


def test_resumed_transfer_and_few_shot_write_the_fresh_column_order(class_split):
    """Resumed rows come back from metrics.json (sorted keys); the tables keep the fresh order
    (a reader by position must get the same column)."""
    tickets, transfer, source, target = class_split
    out = Path(transfer.path).parents[2]
    few_shot = Runner(out, verbose=False).run(FEW_SHOT, FewShotParams(fractions=(0.2,), levels=(0,)), tickets=tickets)
    fresh = {a: (Path(a.path) / name).read_text().splitlines()[0]
             for a, name in ((transfer, "transfer.csv"), (few_shot, "few_shot.csv"))}
    for artifact in (transfer, few_shot):
        (Path(artifact.path) / "artifact.json").unlink()  # interrupted after its last unit: all resumed
    runner = Runner(out, verbose=False)
    again = {runner.run(TRANSFER, TransferParams(target=target, levels=(0, 2), epochs=2), tickets=tickets): "transfer.csv",
             runner.run(FEW_SHOT, FewShotParams(fractions=(0.2,), levels=(0,)), tickets=tickets): "few_shot.csv"}
    assert runner.executed == list(again) and not runner.reused
    for artifact, name in again.items():
        assert (Path(artifact.path) / name).read_text().splitlines()[0] == fresh[artifact]
    assert fresh[transfer].startswith("config,training_config,") and ",network,weights,level," in fresh[transfer]


def test_class_splits_resolve_by_name_in_a_fresh_process(class_split):
    """A Ray worker unpickles hparams naming a class split it never registered: the name says how
    to build it, so it loads there too, equal to the driver's."""
    _, _, source, _ = class_split
    code = ("import pickle, sys, numpy as np\n"
            "from lth_tf.data import load_dataset\n"
            "ds = load_dataset(pickle.loads(sys.stdin.buffer.read()))\n"
            "print(ds.num_classes, len(ds.train), int(np.sum(ds.train.x * 1000)))")
    done = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(source), capture_output=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    here = load_dataset(source)
    assert done.stdout.decode().split() == [str(5), str(len(here.train)), str(int(np.sum(here.train.x * 1000)))]
    with pytest.raises(ConfigError, match="Unknown dataset 'mnist1d_classes_01-2'"):
        DatasetHparams(name="mnist1d_classes_01-2")  # not a name class_subset gives
    with pytest.raises(ConfigError, match="Unknown dataset 'nope_classes_0-1'"):
        DatasetHparams(name="nope_classes_0-1")


def test_transfer_networks_are_checked():
    with pytest.raises(ConfigError, match="Unknown transferred network 'trained'"):
        TransferParams(target=DatasetHparams(), networks=("trained",))


# ---------------------------------------------------------------------------------------------
# Another dataset: resized to the source's input shape

@pytest.fixture
def fresh_cache():
    """mock_data must not leak cached datasets into other tests (cifar10 is absent here)."""
    dataset_module._load_dataset.cache_clear()
    yield
    dataset_module._load_dataset.cache_clear()


def _images(shape, n=6, seed=0):
    x = np.random.default_rng(seed).integers(0, 256, size=(n,) + shape).astype(np.uint8)
    split = Split(x, np.arange(n) % 2, np.arange(n) * 10)
    return Dataset("toy", split, split.take([]), split, 2, np.zeros(shape[-1], np.float32),
                   np.ones(shape[-1], np.float32), "none")


def test_resized_to_rescales_repeats_channels_and_renormalizes():
    ds = _images((28, 28, 1))
    out = resized_to(ds, (32, 32, 3))
    assert out.input_shape == (32, 32, 3) and out.train.x.dtype == np.uint8
    assert np.array_equal(out.train.x[..., 0], out.train.x[..., 2])  # grey repeated to three channels
    np.testing.assert_array_equal(out.train.y, ds.train.y)
    np.testing.assert_array_equal(out.train.index, ds.train.index)
    flat = out.train.x.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(out.mean, flat.mean(0), rtol=1e-5)  # the resized images' own statistics
    np.testing.assert_allclose(out.std, flat.std(0), rtol=1e-5)
    constant = _images((4, 4, 1))
    constant = dataclasses.replace(constant, train=Split(np.full((2, 4, 4, 1), 7, np.uint8), np.zeros(2, np.int64),
                                                         np.arange(2)))
    assert (resized_to(constant, (8, 8, 3)).train.x == 7).all()  # interpolation keeps a constant image
    assert resized_to(ds, (28, 28, 1)) is ds
    assert resized_to(_images((32, 32, 3)), (32, 32, 1)).input_shape == (32, 32, 1)
    assert not can_resize((40, 1), (32, 32, 3)) and not can_resize((32, 32, 2), (32, 32, 3))
    with pytest.raises(ConfigError, match="only images"):
        resized_to(load_dataset(DatasetHparams(num_samples=1000)), (32, 32, 3))  # MNIST-1D signals


def test_transfer_to_other_datasets_with_mock_data(tmp_path, fresh_cache):
    import tensorflow_datasets as tfds

    runner = Runner(tmp_path, verbose=False)
    with tfds.testing.mock_data(num_examples=64):
        source = DatasetHparams(name="cifar10")
        tickets = _search(runner, source, levels=1)
        frames = {}
        for name in ("mnist", "svhn_cropped"):
            target = DatasetHparams(name=name)
            assert transfer_target(target, (32, 32, 3)).input_shape == (32, 32, 3)
            out = runner.run(TRANSFER, TransferParams(target=target, levels=(1,), epochs=1), tickets=tickets)
            frames[name] = pd.read_csv(out.path / "transfer.csv")
    mnist, svhn = frames["mnist"], frames["svhn_cropped"]
    assert (mnist.target_shape == "28x28x1").all() and mnist.resized.all()
    assert (svhn.target_shape == "32x32x3").all() and not svhn.resized.any()
    for frame in frames.values():
        assert set(frame.network) == {"ticket", "trained_ticket", "frozen_dense", "random_dense", "retrained_dense"}
        assert (frame.source == "cifar10").all() and frame.target_test_accuracy.between(0, 1).all()
    with pytest.raises(ConfigError, match="only images"):
        transfer_target(DatasetHparams(num_samples=1000), (32, 32, 3))


def test_transfer_table_lines_up_networks_and_targets():
    base = {"config": "mu0.9_bs64_rw0it", "training_config": "mu0.9_bs64", "sparsity": 0.36}
    rows = []
    for target, shift in (("mnist", 0.0), ("cifar100", -0.5)):
        for seed in (0, 1):
            rows += [{**base, "target": target, "seed": seed, "network": "ticket", "level": 2,
                      "target_test_accuracy": 0.8 + shift + 0.1 * seed},
                     {**base, "target": target, "seed": seed, "network": "trained_ticket", "level": 2,
                      "target_test_accuracy": 0.6 + shift},
                     {**base, "target": target, "seed": seed, "network": "frozen_dense", "level": 0, "sparsity": 0.0,
                      "target_test_accuracy": 0.7 + shift}]
            # the same dense network again under the late-rewound configuration: counted once per seed
            rows.append({**base, "config": "mu0.9_bs64_rw3it", "target": target, "seed": seed,
                         "network": "frozen_dense", "level": 0, "sparsity": 0.0, "target_test_accuracy": 0.7 + shift})
    table = transfer_table(pd.DataFrame(rows)).set_index("network")
    assert list(table.columns) == ["seeds", "mnist", "cifar100"]
    assert table.index[0].startswith("mu0.9_bs64_rw0it ticket, untrained") and "frozen dense*" in table.index[1]
    assert "[extra: trained weights, frozen]" in table.index[2]
    assert table.iloc[0]["mnist"] == "0.8500 ± 0.0707" and table.iloc[0]["cifar100"] == "0.3500 ± 0.0707"
    assert table.iloc[1]["seeds"] == 2 and table.iloc[1]["mnist"] == "0.7000 ± 0.0000"
