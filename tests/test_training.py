"""The training function on masked networks: pruned weights stay exactly zero (through SGD,
momentum, weight decay and SavedModel export), rewinding is bit-for-bit, snapshots are exact."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from lth_tf import exporting, networks
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.io import load_npz
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.training import TrainResult, TrainingHparams, compiled, evaluate, predict, train

LENET = ModelHparams("lenet_300_100", width=0.1)
HP = TrainingHparams(budget="20it", batch_size=32, lr=0.1, momentum=0.9, weight_decay=1e-3)


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DatasetHparams(num_samples=1000))


@pytest.fixture(autouse=True)
def _fresh_session():
    keras.backend.clear_session()


def _network(ds, seed=0, model=LENET):
    return networks.build_network(model, ds.input_shape, ds.num_classes, seed)


def _momentum(model, layer):
    """The optimizer's momentum slot for `layer`'s kernel (the trainer is cached on the model)."""
    (trainer,) = compiled.entries(model, "trainer").values()
    (slot,) = [v for v in trainer.optimizer.variables if v.name == f"m/{layer}/kernel:0"]
    return slot.numpy()


def test_pruned_weights_stay_zero_through_training_and_export(ds, tmp_path):
    model = _network(ds)
    before = wrapping.prunable_weights(model)
    # A random mask prunes large weights too: their gradients are large, so any leak shows.
    masks = M.random_prune(M.ones_like(before), 0.2, np.random.default_rng(0))
    wrapping.set_masks(model, masks)
    result = train(model, ds, HP, seed=0, verbose=False)
    assert result.steps == 20
    after = wrapping.prunable_weights(model)
    for name, m in masks.items():
        assert np.all(after[name][m == 0] == 0.0), name
        assert np.all(after[name][m == 1] != before[name][m == 1]), name  # the kept ones trained
        assert np.all(_momentum(model, name)[m == 0] == 0.0), name  # no momentum accumulates there
    assert M.matching(wrapping.get_masks(model), masks)

    x = ds.test.x[:16]  # raw: the export normalizes as the input pipeline does
    expected = model((x - ds.mean) / ds.std, training=False).numpy()
    exporting.export(model, tmp_path, masks=masks, **exporting.dataset_facts(ds))
    assert (tmp_path / "saved_model" / "saved_model.pb").exists()

    loaded = keras.models.load_model(tmp_path / "saved_model", compile=False)
    assert not wrapping.wrappers(loaded)  # a plain (stripped) network
    for name, m in masks.items():
        kernel = loaded.get_layer(name).kernel.numpy()
        np.testing.assert_array_equal(kernel, after[name])
        assert np.all(kernel[m == 0] == 0.0)
    np.testing.assert_allclose(loaded(x, training=False)["logits"].numpy(), expected, rtol=1e-5, atol=1e-6)

    served = tf.saved_model.load(str(tmp_path / "saved_model"))  # kept: it owns the variables
    serve = served.signatures["serving_default"]
    outputs = serve(inputs=tf.constant(x))
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, rtol=1e-5, atol=1e-6)
    kernels = {v.name.split("/")[0]: v.numpy() for v in serve.variables if v.name.endswith("kernel:0")}
    assert set(masks) <= set(kernels)
    for name, m in masks.items():
        assert np.all(kernels[name][m == 0] == 0.0), name


def test_rewind_restores_weights_and_batchnorm_statistics_bit_for_bit():
    ds = load_dataset(DatasetHparams(name="digits"))
    model = _network(ds, model=ModelHparams("resnet20", width=0.25))
    masks = M.magnitude_prune(wrapping.prunable_weights(model), M.ones_like(wrapping.prunable_weights(model)), 0.5)
    wrapping.set_masks(model, masks)
    initial = wrapping.get_state(model)
    result = train(model, ds, TrainingHparams(budget="4it", batch_size=32), seed=0, snapshot_steps=[0], verbose=False)
    snapshot = result.snapshots[0]
    assert set(snapshot) == set(initial)
    assert all(np.array_equal(snapshot[k], initial[k]) for k in initial)
    trained = wrapping.get_state(model)
    assert not np.array_equal(trained["stem_bn/moving_mean"], initial["stem_bn/moving_mean"])
    assert not np.array_equal(trained["stem_conv/kernel"], initial["stem_conv/kernel"])

    wrapping.set_state(model, snapshot)
    rewound = wrapping.get_state(model)
    for key in initial:
        assert rewound[key].dtype == initial[key].dtype
        assert np.array_equal(rewound[key], initial[key]), key
    assert M.matching(wrapping.get_masks(model), masks)  # rewinding leaves the masks alone


def test_late_rewind_snapshot_equals_a_run_stopped_there(ds):
    full = _network(ds, seed=5)
    result = train(full, ds, HP, seed=1, snapshot_steps=[0, 7, 20], verbose=False)
    assert sorted(result.snapshots) == [0, 7, 20]
    stopped = _network(ds, seed=5)
    assert train(stopped, ds, HP, seed=1, end_step=7, verbose=False).end_step == 7
    at_7 = wrapping.get_state(stopped)
    for key, value in result.snapshots[7].items():
        assert np.array_equal(value, at_7[key]), key
    final = wrapping.get_state(full)
    assert all(np.array_equal(result.snapshots[20][k], final[k]) for k in final)
    assert not np.array_equal(result.snapshots[7]["fc1/kernel"], final["fc1/kernel"])


def test_training_learns_and_is_deterministic(ds, tmp_path):
    hp = TrainingHparams(budget="3ep", batch_size=32, lr=0.05, schedule="cosine", warmup="5it")
    runs = []
    for _ in range(2):
        keras.backend.clear_session()
        model = _network(ds, seed=2)
        result = train(model, ds, hp, seed=3, verbose=False, log_dir=tmp_path / "tb")
        runs.append((result, wrapping.get_state(model), predict(model, ds, ds.test)))
    (first, state, logits), (second, state2, logits2) = runs
    assert [r["epoch"] for r in first.history] == [1, 2, 3]
    assert first.history[-1]["train_loss"] < first.history[0]["train_loss"]
    assert first.history == second.history
    assert all(np.array_equal(state[k], state2[k]) for k in state)
    np.testing.assert_array_equal(logits, logits2)
    assert evaluate(model, ds, ds.test)["accuracy"] == pytest.approx(np.mean(logits.argmax(-1) == ds.test.y))
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_rewind_npz_round_trip_is_exact(ds, tmp_path):
    from lth_tf.io import save_npz
    model = _network(ds)
    train(model, ds, HP, seed=0, end_step=3, verbose=False)
    state = wrapping.get_state(model)
    save_npz(tmp_path / "w.npz", state)
    loaded = load_npz(tmp_path / "w.npz")
    assert all(loaded[k].dtype == state[k].dtype and np.array_equal(loaded[k], state[k]) for k in state)


def test_per_step_hook_path_and_multi_step_path_train_identically(ds):
    """With an on_batch hook train() runs one step per call, without it several: same weights."""
    states, seen = [], []
    for hook in (None, lambda step, index, correct, losses, logits: seen.append((step, len(index), logits.shape))):
        keras.backend.clear_session()
        model = _network(ds, seed=4)
        result = train(model, ds, HP, seed=2, snapshot_steps=[5], on_batch=hook, verbose=False)
        states.append((wrapping.get_state(model), result.snapshots[5], result.history))
    (a, a5, ha), (b, b5, hb) = states
    assert all(np.array_equal(a[k], b[k]) for k in a) and all(np.array_equal(a5[k], b5[k]) for k in a5)
    assert ha == hb
    assert [s for s, _, _ in seen] == list(range(20)) and all(n == 32 and shape == (32, 10) for _, n, shape in seen)


def test_best_validation_model_is_the_epoch_of_highest_val_accuracy(ds):
    """000 A1: "we choose the model with the best validation accuracy": the test accuracy of the
    weights at the best-validation epoch, beside the last epoch's; the model keeps its last weights."""
    from lth_tf.training import best_validation_metrics
    model = _network(ds)
    states = {}

    def keep(epoch, step, m):
        states[epoch] = (evaluate(m, ds, ds.val)["accuracy"], evaluate(m, ds, ds.test)["accuracy"])
    hp = TrainingHparams(budget="6ep", batch_size=64, lr=0.3, momentum=0.9)
    result = train(model, ds, hp, seed=0, on_epoch=keep, verbose=False)
    last = wrapping.get_state(model)
    best = best_validation_metrics(model, ds, result)
    vals = [states[e][0] for e in sorted(states)]
    first_best = sorted(states)[int(np.argmax(vals))]  # argmax takes the first epoch on ties
    assert best["best_val_epoch"] == first_best
    assert best["best_val_accuracy"] == pytest.approx(max(vals))
    assert best["best_val_test_accuracy"] == pytest.approx(states[first_best][1])
    after = wrapping.get_state(model)
    assert all(np.array_equal(last[k], after[k]) for k in last)  # left at the last epoch's weights
    # Without a validation split there is no selection: nan, not a silent last-epoch copy.
    no_val = TrainResult(0, 1, [], {})
    assert np.isnan(best_validation_metrics(model, ds, no_val)["best_val_test_accuracy"])
