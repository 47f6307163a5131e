"""LabelNoise: the noisy labels drawn for a seed (as SubsetSlimming rule 'corrupt' drew them
before it became its own component), and training components reading them."""
import lth_tf  # noqa: F401  (first: it sets TF_USE_LEGACY_KERAS)
import numpy as np
import pandas as pd
import pytest

from components import label_noise
from components.artifacts import Labels, training_split
from lth_tf.data import DatasetHparams, load_dataset, subsets
from lth_tf.errors import ConfigError
from pipelines.runner import Runner

DATA = DatasetHparams(name="digits")


def test_labels_are_the_corruption_of_the_sorted_training_labels(tmp_path):
    ds = load_dataset(DATA)
    labels = Runner(tmp_path, verbose=False).run(label_noise.SPEC, label_noise.LabelNoiseParams(DATA, noise=0.3, seed=4))
    assert isinstance(labels, Labels) and labels.noise == 0.3 and labels.train_steps == 0
    order = np.argsort(ds.train.index)
    expected, redrawn = subsets.corrupt_labels(ds.train.y[order], ds.num_classes, 0.3, 4)
    index, new = labels.labels()
    np.testing.assert_array_equal(index, ds.train.index[order])
    np.testing.assert_array_equal(new, expected)
    frame = pd.read_csv(labels.path / "labels.csv")
    assert sorted(np.flatnonzero(frame["redrawn"]).tolist()) == sorted(np.asarray(redrawn).tolist())
    assert labels.summary["redrawn"] == len(redrawn) == int(round(0.3 * len(ds.train)))
    # The training split takes the noisy labels, example by example.
    split = training_split(ds, labels=labels)
    by_index = dict(zip(index.tolist(), new.tolist()))
    assert split.y.tolist() == [by_index[i] for i in split.index.tolist()]


def test_noise_outside_unit_interval_is_rejected():
    with pytest.raises(ConfigError, match="LabelNoiseParams.noise"):
        label_noise.LabelNoiseParams(DATA, noise=1.5)
