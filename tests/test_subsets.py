"""Index subsets: score rankings, class balance, set algebra, label corruption, subset training,
and the SubsetSlimming component."""
import numpy as np
import pandas as pd
import pytest

from lth_tf import networks
from lth_tf.data import DatasetHparams, Split, load_dataset
from lth_tf.data import subsets
from lth_tf.errors import ConfigError
from lth_tf.models import ModelHparams
from lth_tf.training import TrainingHparams, train

INDEX = np.array([10, 11, 12, 13, 14])
SCORES = np.array([0.5, 0.1, 0.9, 0.1, 0.3])


def test_score_rules_on_known_scores():
    # Ranking, easiest first with ties by index: 11, 13, 14, 10, 12.
    np.testing.assert_array_equal(subsets.ranked(INDEX, SCORES), [11, 13, 14, 10, 12])
    np.testing.assert_array_equal(subsets.easiest(INDEX, SCORES, 2), [11, 13])
    np.testing.assert_array_equal(subsets.easiest(INDEX, SCORES, 0.6), [11, 13, 14])  # fraction
    np.testing.assert_array_equal(subsets.hardest(INDEX, SCORES, 2), [10, 12])
    # Hardest first: 12, 10, 14, 11, 13; skip the hardest one, keep two.
    np.testing.assert_array_equal(subsets.window(INDEX, SCORES, 2, offset=1), [10, 14])
    np.testing.assert_array_equal(subsets.threshold(INDEX, SCORES, 0.3), [10, 12])
    np.testing.assert_array_equal(subsets.threshold(INDEX, SCORES, 0.3, above=False), [11, 13, 14])
    assert len(subsets.easiest(INDEX, SCORES, 0)) == 0


@pytest.mark.parametrize("size", [1.5, 6, -1, 3.0])
def test_bad_sizes_raise_config_errors(size):
    with pytest.raises(ConfigError):
        subsets.easiest(INDEX, SCORES, size)


def test_window_must_fit():
    with pytest.raises(ConfigError, match="offset"):
        subsets.window(INDEX, SCORES, 3, offset=3)


def test_balanced_random_is_class_balanced_and_seeded():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 5000)
    index = np.arange(100, 5100)
    chosen = subsets.balanced_random(index, labels, 95, 10, seed=3)
    assert len(chosen) == len(np.unique(chosen)) == 95 and np.isin(chosen, index).all()
    counts = np.bincount(labels[chosen - 100], minlength=10)
    assert sorted(counts.tolist()) == [9] * 5 + [10] * 5
    np.testing.assert_array_equal(chosen, subsets.balanced_random(index, labels, 95, 10, seed=3))
    assert not np.array_equal(chosen, subsets.balanced_random(index, labels, 95, 10, seed=4))
    fraction = subsets.balanced_random(index, labels, 0.1, 10, seed=0)
    np.testing.assert_array_equal(np.bincount(labels[fraction - 100], minlength=10), [50] * 10)
    with pytest.raises(ConfigError, match="class"):
        subsets.balanced_random(index[:20], np.r_[np.zeros(19, int), 1], 10, 2, seed=0)


def test_balanced_by_score_takes_the_easiest_of_each_class():
    index = np.arange(8)
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([4, 1, 3, 2, 0.5, 0.7, 0.1, 0.9])
    np.testing.assert_array_equal(subsets.balanced_by_score(index, scores, labels, 4, 2), [1, 3, 4, 6])
    np.testing.assert_array_equal(subsets.balanced_by_score(index, scores, labels, 3, 2, hardest_first=True), [0, 2, 7])


def test_union_and_intersection():
    np.testing.assert_array_equal(subsets.union([3, 1], [2, 3], [9]), [1, 2, 3, 9])
    np.testing.assert_array_equal(subsets.intersection([3, 1, 2], [2, 3, 7], [3, 2]), [2, 3])
    assert len(subsets.intersection([1], [2])) == 0


def test_label_corruption_rate_and_reproducibility():
    labels = np.random.default_rng(1).integers(0, 10, 200_000)
    for p in (0.1, 0.5):
        new, redrawn = subsets.corrupt_labels(labels, 10, p, seed=7)
        assert len(redrawn) == int(round(p * len(labels)))
        changed = new != labels
        # Only re-drawn labels may change; a re-drawn label keeps its class with probability 1/10.
        assert not changed[np.setdiff1d(np.arange(len(labels)), redrawn)].any()
        assert changed.mean() == pytest.approx(p * (1 - 1 / 10), abs=0.004)
        again, redrawn_again = subsets.corrupt_labels(labels, 10, p, seed=7)
        np.testing.assert_array_equal(again, new)
        np.testing.assert_array_equal(redrawn_again, redrawn)
        assert not np.array_equal(subsets.corrupt_labels(labels, 10, p, seed=8)[0], new)
    with pytest.raises(ConfigError):
        subsets.corrupt_labels(labels, 10, 1.5, seed=0)


def test_relabel_replaces_labels_by_stable_index():
    split = Split(np.zeros((4, 1)), np.array([0, 1, 2, 3]), np.array([5, 6, 7, 8]))
    noisy = subsets.relabel(split, [8, 6, 99], [9, 9, 9])
    np.testing.assert_array_equal(noisy.y, [0, 9, 2, 9])
    np.testing.assert_array_equal(noisy.index, split.index)


def test_subset_training_sees_only_subset_indices():
    ds = load_dataset(DatasetHparams(name="digits"))
    subset = ds.train.with_indices(np.sort(ds.train.index[::29]))  # 50 examples
    seen = []
    model = networks.build_network(ModelHparams(width=0.05), ds.input_shape, ds.num_classes, seed=0)
    hp = TrainingHparams(budget="20it", batch_size=16)
    train(model, ds, hp, seed=0, train_split=subset, verbose=False,
          on_batch=lambda step, index, correct, losses, logits: seen.append(index))
    seen = np.concatenate(seen)
    assert len(seen) > 2 * len(subset)  # 20 steps of 16 > 6 passes over 50 examples
    assert set(seen.tolist()) == set(subset.index.tolist())
    assert (np.bincount(seen)[subset.index] >= 2).all()  # passes repeat


def test_subset_slimming_component(tmp_path):
    from components import subset_slimming as S
    from pipelines.runner import Runner
    runner = Runner(tmp_path, verbose=False)
    hp = DatasetHparams(name="digits")
    ds = load_dataset(hp)
    balanced = runner.run(S.SPEC, S.SubsetSlimmingParams(hp, rule="random_balanced", size=100, seed=1))
    histogram = pd.read_csv(balanced.path / "class_histogram.csv")["count"].to_numpy()
    np.testing.assert_array_equal(histogram, [10] * 10)
    assert balanced.metadata["summary"]["size"] == 100
    from components import label_noise
    from components.artifacts import Indices, Labels, training_split
    noise = runner.run(label_noise.SPEC, label_noise.LabelNoiseParams(hp, noise=0.5, seed=2))
    assert isinstance(balanced, Indices) and isinstance(noise, Labels) and noise.noise == 0.5
    labels = pd.read_csv(noise.path / "labels.csv")
    assert labels["redrawn"].sum() == int(round(0.5 * len(ds.train)))
    assert (labels["changed"] == (labels["label"] != labels["original_label"])).all()
    assert not labels.loc[~labels["redrawn"], "changed"].any()
    # Training on the subset with the noisy labels.
    split = training_split(ds, balanced, noise)
    np.testing.assert_array_equal(split.index, balanced.indices())
    noisy = labels.set_index("index").loc[split.index, "label"].to_numpy()
    np.testing.assert_array_equal(split.y, noisy)
    # A subset chosen with the noisy labels balances (and records) them.
    noisy_balanced = runner.run(S.SPEC, S.SubsetSlimmingParams(hp, rule="random_balanced", size=100, seed=1),
                                labels=noise)
    assert noisy_balanced.noise == 0.5
    chosen = pd.read_csv(noisy_balanced.path / "indices.csv")
    np.testing.assert_array_equal(chosen["label"], labels.set_index("index").loc[chosen["index"], "label"])
    everything = runner.run(S.SPEC, S.SubsetSlimmingParams(hp, rule="all"))
    both = runner.run(S.SPEC, S.SubsetSlimmingParams(hp, rule="intersection"), sets=[balanced, everything])
    np.testing.assert_array_equal(both.indices(), balanced.indices())
    with pytest.raises(TypeError, match="Indices"):  # label noise is no subset
        runner.run(S.SPEC, S.SubsetSlimmingParams(hp, rule="intersection"), sets=[balanced, noise])
    with pytest.raises(ConfigError, match="LabelNoise"):
        S.SubsetSlimmingParams(hp, rule="corrupt")
    with pytest.raises(ConfigError, match="scores"):
        runner.run(S.SPEC, S.SubsetSlimmingParams(hp, rule="easiest"))
