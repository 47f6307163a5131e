"""The fast training paths: in-graph batches give bit-for-bit the results of the tf.data stream;
XLA (`jit_compile`) and mixed precision keep pruned weights exactly zero (on CPU, where
TensorFlow allows both)."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import numpy as np
import pytest
import tf_keras as keras

from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.errors import ConfigError
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.training import TrainingHparams, compiled, loop, sgd, train

LENET = ModelHparams("lenet_300_100", width=0.1)
HP = TrainingHparams(budget="2ep", batch_size=64, lr=0.1, momentum=0.9, weight_decay=1e-3, schedule="cosine")


@pytest.fixture(autouse=True)
def _fresh_session():
    keras.backend.clear_session()
    yield
    keras.mixed_precision.set_global_policy("float32")


def _masked(ds, policy="float32"):
    keras.mixed_precision.set_global_policy(policy)
    model = networks.build_network(LENET, ds.input_shape, ds.num_classes, seed=0)
    keras.mixed_precision.set_global_policy("float32")
    weights = wrapping.prunable_weights(model)
    masks = M.random_prune(M.ones_like(weights), 0.3, np.random.default_rng(0))
    wrapping.set_masks(model, masks)
    return model, masks


def _run(ds, hp, policy="float32"):
    """Epoch 1 plus a few steps in one call (a snapshot mid-epoch), the rest with a per-step
    hook: every path of train()."""
    model, masks = _masked(ds, policy)
    spe = -(-len(ds.train) // hp.batch_size)
    first = train(model, ds, hp, seed=1, end_step=spe + 3, snapshot_steps=[2], verbose=False)
    seen = []
    rest = train(model, ds, hp, seed=1, start_step=spe + 3, verbose=False,
                 on_batch=lambda step, index, correct, losses, logits: seen.append((step, index, losses)))
    return model, masks, first, rest, seen


@pytest.mark.parametrize("name, augment", [("mnist1d", "none"), ("digits", "crop_flip")])
def test_in_graph_batches_train_bit_for_bit_like_the_tf_data_stream(name, augment, monkeypatch):
    ds = load_dataset(DatasetHparams(name=name, num_samples=600, augment=augment))
    assert len(ds.train) % HP.batch_size  # a partial last batch in every epoch
    fast = _run(ds, HP)
    keras.backend.clear_session()
    monkeypatch.setattr(loop, "_in_graph_batches", lambda strategy: False)
    stream = _run(ds, HP)
    (fast_model, _, fast_first, fast_rest, fast_seen), (model, _, first, rest, seen) = fast, stream
    assert all(t.in_graph for t in compiled.entries(fast_model, "trainer").values())
    assert not any(t.in_graph for t in compiled.entries(model, "trainer").values())
    for a, b in zip(wrapping.get_state(fast_model).values(), wrapping.get_state(model).values()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast_first.snapshots[2]["fc1/kernel"], first.snapshots[2]["fc1/kernel"])
    assert fast_first.history + fast_rest.history == first.history + rest.history
    assert len(fast_seen) == len(seen) > 0
    for (s1, i1, l1), (s2, i2, l2) in zip(fast_seen, seen):
        assert s1 == s2
        np.testing.assert_array_equal(i1, i2)  # the same examples in the same order
        np.testing.assert_array_equal(l1, l2)


def _assert_pruned_zero(model, masks):
    after = wrapping.prunable_weights(model)
    (trainer,) = compiled.entries(model, "trainer").values()  # one per model: no per-step hook
    momenta = {v.name.split("/")[1]: v.numpy() for v in trainer.sgd.variables if v.name.endswith("kernel:0")}
    for name, m in masks.items():
        assert np.all(after[name][m == 0] == 0.0), name
        assert np.all(momenta[name][m == 0] == 0.0), name
        assert np.mean(after[name][m == 1] != 0.0) > 0.99, name


@pytest.mark.parametrize("options", [dict(jit_compile=True), dict(mixed_precision=True),
                                     dict(jit_compile=True, mixed_precision=True)])
def test_fast_options_keep_pruned_weights_exactly_zero(options):
    ds = load_dataset(DatasetHparams(num_samples=600))
    hp = TrainingHparams(budget="1ep", batch_size=64, lr=0.1, momentum=0.9, weight_decay=1e-3, **options)
    policy = "mixed_float16" if hp.mixed_precision else "float32"
    model, masks = _masked(ds, policy)
    before = wrapping.prunable_weights(model)
    result = train(model, ds, hp, seed=0, verbose=False)
    _assert_pruned_zero(model, masks)
    after = wrapping.prunable_weights(model)
    assert all(np.any(after[n] != before[n]) for n in masks)  # it trained
    assert np.isfinite(result.history[-1]["train_loss"])
    # deterministic: the same run again gives the same weights
    again, _ = _masked(ds, policy)
    train(again, ds, hp, seed=0, verbose=False)
    for a, b in zip(wrapping.get_state(model).values(), wrapping.get_state(again).values()):
        np.testing.assert_array_equal(a, b)


def test_mixed_precision_needs_a_float16_model():
    ds = load_dataset(DatasetHparams(num_samples=300))
    model, _ = _masked(ds)
    with pytest.raises(ConfigError, match="mixed_float16"):
        train(model, ds, TrainingHparams(budget="2it", mixed_precision=True), seed=0, verbose=False)


@pytest.mark.parametrize("momentum, nesterov", [(0.9, False), (0.9, True), (0.0, False)])
def test_fused_momentum_update_is_bit_identical_to_keras_sgd(momentum, nesterov, monkeypatch):
    """The trainer's one-kernel SGD update (sgd.FusedSGD) against Keras' own SGD."""
    ds = load_dataset(DatasetHparams(name="mnist1d", num_samples=300))
    hp = TrainingHparams(budget="2ep", batch_size=64, lr=0.1, momentum=momentum, nesterov=nesterov,
                         weight_decay=1e-3, schedule="cosine")
    states = []
    for optimizer in (sgd.FusedSGD, keras.optimizers.SGD):
        keras.backend.clear_session()
        monkeypatch.setattr(sgd, "FusedSGD", optimizer)
        model, masks = _masked(ds)
        train(model, ds, hp, seed=0, verbose=False)
        states.append(wrapping.get_state(model))
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        np.testing.assert_array_equal(states[0][key], states[1][key])


def test_stored_kernel_forward_trains_bit_for_bit_like_the_masked_forward(monkeypatch):
    """With pruned weights at zero, train() computes with the stored kernels and masks their
    gradients (no mask multiply in the forward pass): the same weights, momenta and metrics as
    the wrapper's masked forward; a pruned weight set non-zero by hand falls back to it."""
    ds = load_dataset(DatasetHparams(name="mnist1d", num_samples=600))
    runs = []
    for stored in (True, False):
        keras.backend.clear_session()
        monkeypatch.setattr(wrapping, "masked_forward_is_identity", lambda model, _s=stored: _s)
        model, masks = _masked(ds)
        runs.append((model, masks, _run_both_paths(model, ds)))
    (fast, masks, fast_rows), (slow, _, slow_rows) = runs
    assert [key[-1] for key in compiled.entries(fast, "trainer")] == [True, True]
    assert [key[-1] for key in compiled.entries(slow, "trainer")] == [False, False]
    assert fast_rows == slow_rows
    for a, b in zip(wrapping.get_state(fast).values(), wrapping.get_state(slow).values()):
        np.testing.assert_array_equal(a, b)
    monkeypatch.undo()
    assert wrapping.masked_forward_is_identity(fast)
    kernel, mask = wrapping.kernel_mask_pairs(fast)[0]
    kernel.assign(kernel + (1.0 - mask))  # pruned weights non-zero: they must not act
    assert not wrapping.masked_forward_is_identity(fast)


def _run_both_paths(model, ds):
    first = train(model, ds, HP, seed=1, end_step=5, verbose=False)
    rest = train(model, ds, HP, seed=1, start_step=5, verbose=False, on_batch=lambda *args: None)
    return first.history + rest.history
