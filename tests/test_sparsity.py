"""Mask computation against direct numpy references, and the tfmot wrappers as mask holders."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import numpy as np
import pytest
import tf_keras as keras

from lth_tf import networks
from lth_tf.errors import ConfigError
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.sparsity.hparams import PruningHparams

SHAPES = {"conv": (3, 3, 4, 8), "fc": (50, 20), "output": (20, 10)}


def _weights(seed=0, scales=(1.0, 0.3, 3.0)):
    """Layers of different scales, so a global threshold prunes them unevenly."""
    rng = np.random.default_rng(seed)
    return {n: (s * rng.normal(size=shape)).astype(np.float32) for (n, shape), s in zip(SHAPES.items(), scales)}


def _some_pruned(weights, seed=1, keep=0.7):
    rng = np.random.default_rng(seed)
    return {n: (rng.random(w.shape) < keep).astype(np.float32) for n, w in weights.items()}


def test_global_magnitude_equals_numpy_sort():
    weights, masks = _weights(), _some_pruned(_weights())
    total = sum(w.size for w in weights.values())
    density = 0.3
    new = M.magnitude_prune(weights, masks, density, "global")
    # Reference: sort the magnitudes of all still-unpruned weights of all layers together and
    # keep the round(total * density) largest.
    alive = np.concatenate([np.abs(weights[n])[masks[n] > 0] for n in weights])
    count = int(round(total * density))
    threshold = np.sort(alive)[::-1][count - 1]
    expected = {n: ((np.abs(weights[n]) >= threshold) & (masks[n] > 0)).astype(np.float32) for n in weights}
    for n in weights:
        np.testing.assert_array_equal(new[n], expected[n], err_msg=n)
    assert sum(int(m.sum()) for m in new.values()) == count
    assert M.global_threshold(weights, masks, density) == pytest.approx(float(threshold), abs=0)
    # The layers' scales differ, so global pruning is uneven across layers (unlike layerwise).
    per_layer = [new[n].mean() for n in weights]
    assert max(per_layer) - min(per_layer) > 0.2


def test_layerwise_keeps_the_right_count_per_layer():
    weights = _weights()
    masks = M.ones_like(weights)
    for density in (0.8, 0.512, 0.1):
        new = M.magnitude_prune(weights, masks, density, "layerwise")
        for n, w in weights.items():
            assert int(new[n].sum()) == int(round(w.size * density)), (n, density)
            # Within a layer the kept weights are exactly the largest ones.
            kept, dropped = np.abs(w)[new[n] > 0], np.abs(w)[new[n] == 0]
            assert kept.min() > dropped.max()
        masks = new


def test_already_pruned_weights_stay_pruned():
    weights, masks = _weights(), _some_pruned(_weights(), keep=0.5)
    # Make the pruned positions the largest magnitudes: a naive top-k would revive them.
    boosted = {n: np.where(masks[n] > 0, w, 100.0 + np.abs(w)) for n, w in weights.items()}
    for scope in M.SCOPES:
        new = M.magnitude_prune(boosted, masks, 0.4, scope)
        for n in weights:
            assert not np.any((new[n] > 0) & (masks[n] == 0)), (scope, n)
    rng = np.random.default_rng(0)
    new = M.random_prune(masks, 0.3, rng, "global")
    assert all(not np.any((new[n] > 0) & (masks[n] == 0)) for n in masks)
    # Asking for more than is left keeps what is left.
    again = M.magnitude_prune(weights, masks, 0.9, "global")
    assert M.matching(again, masks)


def test_random_masks_keep_density():
    masks = M.magnitude_prune(_weights(), M.ones_like(_weights()), 0.2, "global")
    rng = np.random.default_rng(0)
    total = sum(m.size for m in masks.values())
    kept = sum(int(m.sum()) for m in masks.values())

    random_global = M.random_mask_like(masks, rng)
    assert sum(int(m.sum()) for m in random_global.values()) == kept
    assert M.hamming_distance(random_global, masks) > 0.1

    permuted = M.permuted(masks, rng)
    for n in masks:
        assert int(permuted[n].sum()) == int(masks[n].sum()), n
        assert permuted[n].shape == masks[n].shape
    assert M.hamming_distance(permuted, masks) > 0.1
    layerwise = M.random_mask_like(masks, rng, layerwise=True)
    assert all(int(layerwise[n].sum()) == int(masks[n].sum()) for n in masks)

    full = M.ones_like(masks)
    by_layer = M.random_prune(full, 0.25, rng, "layerwise")
    assert all(int(by_layer[n].sum()) == int(round(full[n].size * 0.25)) for n in full)
    assert sum(int(m.sum()) for m in M.random_prune(full, 0.25, rng, "global").values()) == round(total * 0.25)


def test_layer_report_and_npz_round_trip(tmp_path):
    masks = M.magnitude_prune(_weights(), M.ones_like(_weights()), 0.5, "global")
    rows = {r["layer"]: r for r in M.layer_report(masks)}
    for n, m in masks.items():
        assert rows[n]["weights"] == m.size and rows[n]["kept"] == int(m.sum())
        assert rows[n]["sparsity"] == pytest.approx(1 - m.mean())
    assert rows["total"]["kept"] == sum(int(m.sum()) for m in masks.values())
    assert rows["total"]["sparsity"] == pytest.approx(M.sparsity(masks))
    assert M.sparsity(masks) == pytest.approx(0.5, abs=1 / rows["total"]["weights"])
    M.save_masks(tmp_path / "mask.npz", masks)
    assert M.matching(M.load_masks(tmp_path / "mask.npz"), masks)


def test_bad_densities_and_pruning_hparams_are_explained():
    with pytest.raises(ConfigError, match="out of range"):
        M.magnitude_prune(_weights(), M.ones_like(_weights()), 1.5)
    with pytest.raises(ConfigError, match="out of range"):
        M.magnitude_prune(_weights(), M.ones_like(_weights()), 0.0)
    with pytest.raises(ConfigError, match="fraction"):
        PruningHparams(fraction=1.2)
    with pytest.raises(ConfigError, match="imp, omp, random"):
        PruningHparams(method="snip_typo")
    with pytest.raises(ConfigError, match="global, layerwise"):
        PruningHparams(scope="per_channel")


@pytest.fixture
def network():
    keras.backend.clear_session()
    return networks.build_network(ModelHparams("lenet_300_100", width=0.1), (40, 1), 10, seed=3)


def test_set_masks_zeroes_kernels_and_round_trips(network):
    weights = wrapping.prunable_weights(network)
    assert set(weights) == {"fc1", "fc2", "output"}
    assert all(np.all(m == 1) for m in wrapping.get_masks(network).values())
    masks = M.magnitude_prune(weights, M.ones_like(weights), 0.2)
    wrapping.set_masks(network, masks)
    assert M.matching(wrapping.get_masks(network), masks)
    after = wrapping.prunable_weights(network)
    for n in masks:
        np.testing.assert_array_equal(after[n], weights[n] * masks[n])
    assert wrapping.count_parameters(network, masks) == (
        sum(int(np.prod(v.shape)) for v in network.trainable_weights) - sum(int((m == 0).sum()) for m in masks.values()))
    # The wrapped model computes with the masked kernels: same output as a plain computation.
    x = np.random.default_rng(0).normal(size=(4, 40, 1)).astype(np.float32)
    state = wrapping.get_state(network)
    h = np.maximum(x.reshape(4, -1) @ state["fc1/kernel"] + state["fc1/bias"], 0)
    h = np.maximum(h @ state["fc2/kernel"] + state["fc2/bias"], 0)
    logits = h @ state["output/kernel"] + state["output/bias"]
    np.testing.assert_allclose(network(x, training=False).numpy(), logits, rtol=1e-4, atol=1e-5)


def test_prunable_layers_are_configurable():
    keras.backend.clear_session()
    model = networks.build_network(ModelHparams("lenet_300_100", width=0.1), (40, 1), 10, seed=0,
                                   prunable=PruningHparams(prune_output_layer=False).prunable())
    assert set(wrapping.get_masks(model)) == {"fc1", "fc2"}
    conv = networks.build_network(ModelHparams("conv2", width=0.1), (8, 8, 1), 10, seed=0,
                                  prunable=PruningHparams(prunable_kinds=("conv",)).prunable())
    assert set(wrapping.get_masks(conv)) == {"conv1_1", "conv1_2"}


def test_state_excludes_bookkeeping_and_set_state_is_exact(network):
    state = wrapping.get_state(network)
    assert set(state) == {f"{l}/{k}" for l in ("fc1", "fc2", "output") for k in ("kernel", "bias")}
    masks = M.random_prune(M.ones_like(wrapping.prunable_weights(network)), 0.5, np.random.default_rng(0))
    wrapping.set_masks(network, masks)
    for v in network.weights:  # scramble everything, masks included
        v.assign(np.random.default_rng(1).normal(size=v.shape).astype(v.dtype.as_numpy_dtype))
    wrapping.set_masks(network, masks)
    wrapping.set_state(network, state)
    after = wrapping.get_state(network)
    for key, value in state.items():
        layer = key.split("/")[0]
        expected = value * masks[layer] if key.endswith("kernel") else value
        assert np.array_equal(after[key], expected), key


@pytest.mark.parametrize("optimizer", ["sgd_momentum", "adam"])
def test_pruned_weights_stay_zero_under_model_fit(optimizer):
    """Any training, not only lth_tf.training.train: a user's model.fit with momentum or Adam and
    an L2 regularizer must not regrow a single pruned weight (the wrapper computes with
    kernel * mask, so their gradient is exactly zero)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12,))
    hidden = keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-3))(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="output")(hidden))
    wrapped = wrapping.wrap(model)
    rng = np.random.default_rng(0)
    masks = {n: (rng.random(m.shape) < 0.3).astype(np.float32) for n, m in wrapping.get_masks(wrapped).items()}
    wrapping.set_masks(wrapped, masks)
    opt = keras.optimizers.SGD(0.1, momentum=0.9) if optimizer == "sgd_momentum" else keras.optimizers.Adam(0.01)
    wrapped.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = rng.normal(size=(256, 12)).astype(np.float32), rng.integers(0, 3, 256)
    before = wrapping.prunable_weights(wrapped)
    wrapped.fit(x, y, batch_size=32, epochs=3, verbose=0)
    after = wrapping.prunable_weights(wrapped)
    for name, mask in masks.items():
        assert np.all(after[name][mask == 0] == 0.0), name  # exactly zero, every pruned weight
        assert not np.allclose(after[name][mask == 1], before[name][mask == 1])  # the kept ones trained
    # The exported (stripped) network computes the same function with the same zeros.
    stripped = wrapping.strip(wrapped)
    assert np.allclose(stripped.predict(x[:8], verbose=0), wrapped.predict(x[:8], verbose=0), atol=1e-5)
