"""Error barrier, masked interpolation, batch-norm recomputation, convergence speed, the binary
search of the first stable rewind point and linear probes, each on a case known by hand."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import numpy as np
import pytest
import tf_keras as keras

from lth_tf import networks
from lth_tf.data.dataset import Dataset, Split
from lth_tf.metrics import barrier as B
from lth_tf.metrics.convergence import convergence_speed
from lth_tf.metrics.probes import block_names, pool_channels, probe_blocks, train_linear_probe
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping


def _split(x, y):
    return Split(np.asarray(x, np.float32), np.asarray(y, np.int64), np.arange(len(y), dtype=np.int64))


def _dataset(x, y, num_classes, train=None, test=None):
    """A toy dataset whose validation split is (x, y); train and test default to it too."""
    split = _split(x, y)
    train = split if train is None else train
    channels = split.x.shape[-1]
    return Dataset("toy", train, split, split if test is None else test, num_classes, np.zeros(channels, np.float32),
                   np.ones(channels, np.float32), "none")


def _two_unit_net():
    """x (2) -> relu(x @ K1) (2 units) -> h @ K2 + b (3 classes), wrapped for masks."""
    inputs = keras.Input((2,))
    h = keras.layers.Dense(2, activation="relu", use_bias=False, name="fc1")(inputs)
    out = keras.layers.Dense(3, name="output")(h)
    return wrapping.wrap(keras.Model(inputs, out))


def _permutation_pair():
    """Two states computing the same function (hidden units swapped). Class 2 has a constant
    logit 0.6: at the endpoints the right class scores 1 and wins; along the path the hidden
    kernel is K(α) = αI + (1−α)P and the right logit is α² + (1−α)², below 0.6 for
    α in {0.3, ..., 0.7} (0.58, 0.52, 0.5, 0.52, 0.58), above it at 0.2 and 0.8 (0.68)."""
    eye, swap = np.eye(2, dtype=np.float32), np.array([[0, 1], [1, 0]], np.float32)
    bias = np.array([0.0, 0.0, 0.6], np.float32)
    pad = np.zeros((2, 1), np.float32)
    s1 = {"fc1/kernel": eye, "output/kernel": np.hstack([eye, pad]), "output/bias": bias}
    s2 = {"fc1/kernel": swap, "output/kernel": np.hstack([swap, pad]), "output/bias": bias}
    return s1, s2


def test_barrier_of_identical_networks_is_zero():
    ds = _dataset(np.random.default_rng(0).normal(size=(64, 40, 1)), np.arange(64) % 10, 10)
    model = networks.build_network(ModelHparams("lenet_300_100", 0.1), (40, 1), 10, seed=0)
    state = wrapping.get_state(model)
    result = B.linear_path(model, state, state, ds)
    assert len(result.alphas) == 11
    assert np.all(result.errors == result.errors[0])
    assert result.barrier == 0.0 and result.stable()


def test_barrier_on_permuted_hidden_units_matches_hand_computation():
    ds = _dataset([[1, 0], [0, 1]], [0, 1], 3)
    model = _two_unit_net()
    s1, s2 = _permutation_pair()
    result = B.linear_path(model, s1, s2, ds)
    expected = np.array([0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0], float)
    np.testing.assert_array_equal(result.errors, expected)
    assert result.error_1 == 0.0 and result.error_2 == 0.0
    assert result.barrier == 1.0 and not result.stable()
    # the same numbers through the pure function
    assert B.error_barrier([0.1, 0.5, 0.3], 0.1, 0.3) == pytest.approx(0.3)


def test_barrier_is_measured_on_the_validation_split_by_default():
    # 003 eq. (3) measures E(W) as the validation error. Validation: the permutation pair's
    # examples (barrier 1); test: points x = 0, where every α predicts class 2 (logit 0.6 against
    # 0, 0), correctly: barrier 0 there.
    test = _split([[0, 0], [0, 0]], [2, 2])
    ds = _dataset([[1, 0], [0, 1]], [0, 1], 3, test=test)
    model = _two_unit_net()
    s1, s2 = _permutation_pair()
    assert B.linear_path(model, s1, s2, ds).barrier == 1.0
    assert B.linear_path(model, s1, s2, ds, split=ds.test).barrier == 0.0
    no_val = Dataset("toy", ds.train, ds.val.take([]), test, 3, ds.mean, ds.std, "none")
    with pytest.raises(ValueError, match="empty validation split"):
        B.linear_path(model, s1, s2, no_val)
    assert B.linear_path(model, s1, s2, no_val, split=no_val.test).barrier == 0.0


def test_masked_interpolation_keeps_pruned_weights_zero():
    model = networks.build_network(ModelHparams("lenet_300_100", 0.1), (40, 1), 10, seed=0)
    s1 = wrapping.get_state(model)
    s2 = wrapping.get_state(networks.build_network(ModelHparams("lenet_300_100", 0.1), (40, 1), 10, seed=1))
    masks = M.random_prune(M.ones_like(wrapping.prunable_weights(model)), 0.3, np.random.default_rng(0))
    for alpha in (0.0, 0.3, 1.0):
        B.set_interpolated(model, s1, s2, alpha, masks)
        for name, kernel in wrapping.prunable_weights(model).items():
            assert np.all(kernel[masks[name] == 0] == 0.0)
            expected = (alpha * s1[f"{name}/kernel"] + (1 - alpha) * s2[f"{name}/kernel"]) * masks[name]
            np.testing.assert_allclose(kernel, expected, rtol=1e-6, atol=1e-7)


def test_batch_norm_statistics_are_the_average_of_batch_statistics():
    inputs = keras.Input((3,))
    dense = keras.layers.Dense(4, name="fc1", kernel_initializer="glorot_uniform")
    h = dense(inputs)
    h = keras.layers.BatchNormalization(momentum=0.9, name="bn")(h)
    model = wrapping.wrap(keras.Model(inputs, keras.layers.Dense(2, name="output")(h)))
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc=i, size=(16, 3)).astype(np.float32) for i in range(3)]
    B.recompute_batch_norm(model, batches)
    bn = model.get_layer("bn")
    kernel, bias = dense.kernel.numpy(), dense.bias.numpy()  # the wrapper reuses the layer
    pre = [b @ kernel + bias for b in batches]
    np.testing.assert_allclose(bn.moving_mean.numpy(), np.mean([p.mean(0) for p in pre], 0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), np.mean([p.var(0) for p in pre], 0), rtol=1e-3, atol=1e-5)
    assert bn.momentum == 0.9  # restored


def test_convergence_speed_on_scripted_curves():
    # E0 = 0.9; errors 0.5, 0.3, 0.1: fractions 0.5, 0.75, 1 of the total reduction 0.8
    assert convergence_speed(0.9, [0.5, 0.3, 0.1]) == pytest.approx(0.75)
    assert convergence_speed(0.9, [0.1, 0.1, 0.1, 0.1]) == pytest.approx(1.0)  # converged at once
    assert convergence_speed(0.9, [0.7, 0.5, 0.3, 0.1]) == pytest.approx(0.625)  # linear: (1+2+3+4)/16
    assert np.isnan(convergence_speed(0.9, [0.9, 0.9]))  # no progress


def test_first_stable_finds_the_threshold_of_a_monotone_fake():
    candidates = list(range(20))
    for threshold in (0, 1, 7, 19):
        calls = []

        def stable(k):
            calls.append(k)
            return k >= threshold
        found, seen = B.first_stable(candidates, stable)
        assert found == threshold
        assert len(calls) <= 6 and all(seen[k] == (k >= threshold) for k in seen)
    found, _ = B.first_stable(candidates, lambda k: False)
    assert found is None


def test_probe_reads_class_information_only_where_it_is():
    rng = np.random.default_rng(0)
    y = np.arange(2000) % 2
    x = rng.normal(size=(2000, 4)).astype(np.float32) * 0.1
    x[:, 0] += np.where(y == 1, 1.0, -1.0)  # class is linear in feature 0
    ds = _dataset(x, y, 2)
    inputs = keras.Input((4,))
    informative = keras.layers.Activation("linear", name="block1")(inputs)  # the input itself
    blind = keras.layers.Dense(3, kernel_initializer="zeros", bias_initializer="ones", name="fc")(informative)
    blind = keras.layers.Activation("linear", name="block2")(blind)  # constant features
    model = keras.Model(inputs, keras.layers.Dense(2, name="output")(blind))
    assert block_names(model) == ["block1", "block2"]
    rows = {r["block"]: r for r in probe_blocks(model, ds, epochs=5, seed=0)}
    assert rows["block1"]["test_accuracy"] == 1.0
    assert rows["block2"]["test_accuracy"] == 0.5  # constant features: one class for everyone
    assert rows["block1"]["channels"] == 4 and rows["block2"]["channels"] == 3


def test_pooling_is_channelwise_mean():
    features = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_allclose(pool_channels(features), features.mean(1))
    assert pool_channels(np.ones((5, 7))).shape == (5, 7)
    acc = train_linear_probe(np.eye(4, dtype=np.float32), np.arange(4), np.eye(4, dtype=np.float32),
                             np.arange(4), 4, epochs=50, lr=0.05)
    assert acc["train_accuracy"] == 1.0


def test_traced_path_with_batch_norm_equals_recomputing_at_each_alpha():
    # The whole path runs in one traced call; it must give what assigning each point and
    # recomputing the BN statistics in Python gives.
    from lth_tf.data import DatasetHparams, load_dataset
    ds = load_dataset(DatasetHparams(num_samples=1000))
    hp = ModelHparams("vgg11", width=0.0625)  # 8 BN layers: what ResNet-20 showed, at under half its tracing
    model = networks.build_network(hp, ds.input_shape, ds.num_classes, seed=0)
    other = networks.build_network(hp, ds.input_shape, ds.num_classes, seed=1)
    state_1, state_2 = wrapping.get_state(model), wrapping.get_state(other)
    evaluator = B.ErrorEvaluator(model, ds, ds.test)
    path = B.linear_path(model, state_1, state_2, ds, alphas=(0.0, 0.3, 0.6, 1.0), evaluator=evaluator)
    by_hand = []
    for alpha in path.alphas:
        B.set_interpolated(model, state_1, state_2, alpha)
        by_hand.append(evaluator())
    np.testing.assert_allclose(path.errors, [e for e, _ in by_hand], atol=1e-9)
    np.testing.assert_allclose(path.losses, [l for _, l in by_hand], rtol=1e-4)
