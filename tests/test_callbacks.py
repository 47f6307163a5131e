"""lth_tf.callbacks under model.fit on tiny models: RewindSnapshot, ForgettingTracker,
IMPDriver, MaskEnforcer."""
import math
import warnings

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import lth_tf
from lth_tf.callbacks import NEVER_LEARNED, ForgettingTracker, IMPDriver, MaskEnforcer, MaskViolation, RewindSnapshot
from lth_tf.errors import ConfigError
from lth_tf.sparsity import wrapping


def _data(n=160, dim=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    y = (x @ rng.normal(size=(dim, classes))).argmax(1).astype(np.int64)
    return x, y


def _functional(dim=8, classes=3, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((dim,))
    h = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(classes, name="head")(h))


def _compile(model, optimizer=None):
    model.compile(optimizer=optimizer or keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def _shuffled(x, y):
    tf.random.set_seed(123)  # a seeded shuffle's order depends on the global seed too
    return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=3).batch(32)  # 5 batches / epoch


class _StopAt(keras.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == self.step:
            self.model.stop_training = True


def _same(a, b):
    assert set(a) == set(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


def test_rewind_snapshot_is_the_state_of_a_run_stopped_at_step_k():
    x, y = _data()
    model = _compile(_functional())
    init = wrapping.get_state(model)
    at0, at7 = RewindSnapshot(step=0), RewindSnapshot(step=7)  # 7: inside epoch 2 (5 steps an epoch)
    model.fit(_shuffled(x, y), epochs=3, callbacks=[at0, at7], verbose=0)
    _same(at0.state, init)
    # A second run from the same weights, the same data pipeline and a fresh optimizer, stopped
    # after exactly 7 steps: its weights are the snapshot, bit for bit.
    other = _compile(_functional(seed=1))
    wrapping.set_state(other, init)
    other.fit(_shuffled(x, y), epochs=3, callbacks=[_StopAt(7)], verbose=0)
    assert int(other.optimizer.iterations) == 7
    _same(wrapping.get_state(other), at7.state)
    assert not np.array_equal(at7.state["hidden/kernel"], wrapping.get_state(model)["hidden/kernel"])
    # ...and set_state restores it exactly.
    wrapping.set_state(model, at7.state)
    _same(wrapping.get_state(model), at7.state)


def test_rewind_snapshot_on_a_wrapped_model_and_a_missed_step():
    x, y = _data()
    model = _compile(lth_tf.wrap(_functional()))
    snap = RewindSnapshot(step=3)
    model.fit(_shuffled(x, y), epochs=1, callbacks=[snap], verbose=0)
    assert snap.state is not None and not any("mask" in k for k in snap.state)
    late = RewindSnapshot(step=2)  # the optimizer is already at step 5: the snapshot cannot be taken
    with pytest.raises(ConfigError, match="missed its step"):
        model.fit(_shuffled(x, y), epochs=1, callbacks=[late], verbose=0)


class _Scripted(keras.callbacks.Callback):
    """Sets the kernel at each epoch end (before the tracker judges) so that example i is correct
    in epoch e exactly when script[e][i]."""

    def __init__(self, script):
        super().__init__()
        self.script = script

    def on_epoch_end(self, epoch, logs=None):
        kernel = np.array([[1.0, 0.0] if ok else [0.0, 1.0] for ok in self.script[epoch]], np.float32)
        self.model.layers[-1].kernel.assign(kernel)


def test_forgetting_tracker_counts_learned_to_forgotten_transitions():
    script = [[1, 1, 0, 0],   # epoch 1
              [0, 1, 0, 1],   # epoch 2: example 0 forgotten
              [1, 1, 0, 0],   # epoch 3: example 3 forgotten, 0 relearned
              [0, 1, 0, 0]]   # epoch 4: example 0 forgotten again
    x, y = np.eye(4, dtype=np.float32), np.zeros(4, np.int64)  # example i = one-hot i, label 0
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    tracker = ForgettingTracker(tf.data.Dataset.from_tensor_slices((x, y)).batch(3), el2n_epochs=(2,))
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(2), epochs=4,
              callbacks=[_Scripted(script), tracker], verbose=0)
    assert tracker.forgetting.tolist() == [2, 0, 0, 1]
    assert tracker.counts().tolist() == [2, 0, NEVER_LEARNED, 1]
    assert tracker.unforgettable().tolist() == [False, True, False, False]
    assert tracker.learned.tolist() == [True, True, False, True]
    assert tracker.evaluations.tolist() == [4, 4, 4, 4]
    assert tracker.scores().tolist() == [2.0, 0.0, 4.0, 1.0]  # never learned: its evaluations
    assert tracker.summary()["mean_forgetting_events"] == pytest.approx(0.75)
    # EL2N after epoch 2: sqrt(2)/(1+e) for a correct example (logits [1, 0]), sqrt(2) e/(1+e) otherwise.
    e = math.e
    expected = [math.sqrt(2) * (1 / (1 + e) if ok else e / (1 + e)) for ok in script[1]]
    np.testing.assert_allclose(tracker.el2n[2], expected, rtol=1e-6)
    assert set(tracker.el2n) == {2}


def test_forgetting_tracker_every_n_steps_on_numpy_examples():
    x, y = _data(n=64)
    model = _compile(_functional())
    tracker = ForgettingTracker((x, y), every_n_steps=2)
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=3, verbose=0)  # warm start
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=2, callbacks=[tracker], verbose=0)
    assert tracker.steps_evaluated == [14, 16, 18, 20]  # global steps 13..20 of the second fit
    assert tracker.evaluations.tolist() == [4] * 64
    assert tracker.last_correct.mean() == pytest.approx(float(np.mean(model.predict(x, verbose=0).argmax(1) == y)))


def test_imp_driver_sparsity_zeros_and_rewind():
    x, y = _data()
    model = _compile(lth_tf.wrap(_functional()), keras.optimizers.SGD(0.05, momentum=0.9))
    snap = RewindSnapshot(step=2)
    model.fit(_shuffled(x, y), epochs=1, callbacks=[snap], verbose=0)
    driver = IMPDriver(model, rewind=snap, fraction=0.2)
    total = sum(m.size for m in driver.masks.values())
    previous = driver.masks
    for level in (1, 2, 3):
        masks = driver.next_level()
        assert abs(driver.sparsity - (1 - 0.8 ** level)) <= 1.0 / total
        assert int(model.optimizer.iterations) == 2  # optimizer reset to the rewind step
        momentum = [v for v in model.optimizer.variables if "/m/" in v.name]  # SGD momentum slots
        assert momentum and all(not np.any(v.numpy()) for v in momentum)
        state = wrapping.get_state(model)
        for name, kernel in wrapping.prunable_weights(model).items():
            np.testing.assert_array_equal(kernel, snap.state[f"{name}/kernel"] * masks[name])  # rewound, masked
            assert np.all(masks[name] <= previous[name])  # pruned weights stay pruned
        assert np.array_equal(state[wrapping.var_key(model.layers[-1].layer.bias)], snap.state["head/bias"])
        model.fit(_shuffled(x, y), epochs=1, callbacks=[MaskEnforcer(mode="raise")], verbose=0)
        for name, kernel in wrapping.prunable_weights(model).items():
            assert np.all(kernel[masks[name] == 0] == 0)
            assert np.any(kernel[masks[name] == 1] != snap.state[f"{name}/kernel"][masks[name] == 1])  # trained
        previous = masks
    assert driver.level == 3 and len(driver.masks_by_level) == 4


def test_imp_driver_needs_a_wrapped_model_and_a_filled_snapshot():
    with pytest.raises(ConfigError, match="lth_tf.wrap"):
        IMPDriver(_functional())
    model = lth_tf.wrap(_functional())
    with pytest.raises(ConfigError, match="empty"):
        IMPDriver(model, rewind=RewindSnapshot(step=5)).next_level()


class _Leak(keras.callbacks.Callback):
    """Writes into every kernel after each batch, as a buggy optimizer or constraint would."""

    def on_train_batch_end(self, batch, logs=None):
        for kernel, _ in wrapping.kernel_mask_pairs(self.model):
            kernel.assign_add(tf.fill(kernel.shape, 0.01))


def test_mask_enforcer():
    x, y = _data()
    model = lth_tf.wrap(_functional())
    IMPDriver(model, fraction=0.5).next_level()
    masks = wrapping.get_masks(model)
    # AdamW (decoupled weight decay): the masked forward pass keeps pruned weights at zero, no violation.
    _compile(model, keras.optimizers.AdamW(0.01, weight_decay=0.1))
    clean = MaskEnforcer(mode="raise")
    model.fit(_shuffled(x, y), epochs=2, callbacks=[clean], verbose=0)
    assert clean.checks == 3 and clean.violations == []
    # Something writing into pruned weights: reapplied at each epoch end and at the end of fit.
    fixer = MaskEnforcer(mode="reapply")
    model.fit(_shuffled(x, y), epochs=2, callbacks=[_Leak(), fixer], verbose=0)
    pruned = int(sum((m == 0).sum() for m in masks.values()))
    assert fixer.violations == [(0, pruned), (1, pruned)]  # train_end found none left after epoch 1's fix
    for name, kernel in wrapping.prunable_weights(model).items():
        assert np.all(kernel[masks[name] == 0] == 0)
    with pytest.raises(MaskViolation, match=f"{pruned} pruned weights"):
        model.fit(_shuffled(x, y), epochs=1, callbacks=[_Leak(), MaskEnforcer(mode="raise")], verbose=0)
    with pytest.raises(ConfigError, match="lth_tf.wrap"):
        _compile(_functional()).fit(_shuffled(x, y), epochs=1, callbacks=[MaskEnforcer()], verbose=0)


def test_forgetting_tracker_on_numpy_examples_larger_than_a_batch():
    x, y = _data(n=600)  # more than class_probabilities' 512-example batches
    model = _compile(_functional())
    tracker = ForgettingTracker((x, y), el2n_epochs=(1,))
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(100), epochs=1, callbacks=[tracker], verbose=0)
    assert tracker.evaluations.tolist() == [1] * 600
    assert tracker.last_correct.tolist() == (model.predict(x, verbose=0).argmax(1) == y).tolist()
    assert tracker.el2n[1].shape == (600,)


def _logits_loss_warnings(record):
    return [str(w.message) for w in record if "outputs logits" in str(w.message)]


@pytest.mark.parametrize("loss, warns", [
    ("sparse_categorical_crossentropy", True),  # the README's old example: trains at chance, silently
    (keras.losses.SparseCategoricalCrossentropy(), True),
    (keras.losses.SparseCategoricalCrossentropy(from_logits=True), False)])
def test_the_callbacks_and_wrap_warn_when_a_logits_model_has_a_probabilities_loss(monkeypatch, loss, warns):
    from lth_tf import keras_utils
    x, y = _data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    for use in ("fit", "wrap", "driver"):
        monkeypatch.setattr(keras_utils, "_WARNED_LOGITS_LOSS", set())
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            if use == "fit":  # every callback checks, one warning in all
                model = lth_tf.wrap(_functional())
                model.compile(keras.optimizers.SGD(0.1), loss)
                model.fit(ds, epochs=1, verbose=0, callbacks=[RewindSnapshot(1), ForgettingTracker((x, y)),
                                                               MaskEnforcer()])
            elif use == "wrap":  # a model compiled before wrapping
                model = _functional()
                model.compile(keras.optimizers.SGD(0.1), loss)
                lth_tf.wrap(model)
            else:
                model = lth_tf.wrap(_functional())
                model.compile(keras.optimizers.SGD(0.1), loss)
                IMPDriver(model)
        found = _logits_loss_warnings(record)
        assert len(found) == (1 if warns else 0), (use, found)
        if warns:
            assert "its last layer 'head' is a Dense without activation" in found[0]
