"""The public Python API (lth_tf.imp, wrap, ...: lth_tf/__init__.py maps each name to its
module) with users' own tf_keras models and tf.data datasets."""
import warnings

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import lth_tf
from lth_tf.errors import ConfigError
from lth_tf.sparsity import wrapping


def _data(n=192, dim=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    y = (x @ rng.normal(size=(dim, classes))).argmax(1).astype(np.int64)
    return x, y


X, Y = _data()
XV, YV = _data(n=64, seed=1)


def _train_ds(batch=32):
    return tf.data.Dataset.from_tensor_slices((X, Y)).batch(batch)  # unshuffled: reruns are identical


def _val_ds():
    return tf.data.Dataset.from_tensor_slices((XV, YV)).batch(64)


def _compile_kwargs():
    return dict(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


def _sequential(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu", name="fc1"),
                             keras.layers.Dense(16, activation="relu", name="fc2"), keras.layers.Dense(3, name="out")])


@pytest.fixture(scope="module")
def search():
    model = _sequential()
    before = [w.copy() for w in model.get_weights()]
    result = lth_tf.imp(model, _train_ds(), val_ds=_val_ds(), compile_kwargs=_compile_kwargs(), epochs=2,
                        levels=2, fraction=0.2, rewind_step=2, verbose=0)
    result.user_model, result.user_weights_before = model, before
    return result


def test_imp_on_a_sequential_model(search):
    assert [lv.level for lv in search.levels] == [0, 1, 2]
    assert search.method == "imp" and search.rewind_step == 2 and search.total_steps == 12  # 2 epochs x 6 batches
    n = sum(m.size for m in search.levels[0].masks.values())
    previous = search.levels[0].masks
    for lv in search.levels:
        assert set(lv.masks) == {"fc1", "fc2", "out"}
        assert abs(lv.sparsity - (1 - 0.8 ** lv.level)) <= 1.0 / n
        assert lv.metrics["sparsity"] == lv.sparsity
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(lv.metrics)
        assert lv.history["val_accuracy"][-1] == lv.metrics["val_accuracy"]
        assert lv.steps == (12 if lv.level == 0 else 10)  # rewound levels train steps 2..12
        for name, mask in lv.masks.items():
            assert np.all(mask <= previous[name])  # IMP: pruned weights stay pruned
            assert np.all(lv.weights[f"{name}/kernel"][mask == 0] == 0)
        previous = lv.masks
    # The user's model is a template: untouched, and its weights are θ0.
    for w, b in zip(search.user_model.get_weights(), search.user_weights_before):
        np.testing.assert_array_equal(w, b)
    np.testing.assert_array_equal(search.init_weights["fc1/kernel"], search.user_weights_before[0])
    assert not np.array_equal(search.rewind_weights["fc1/kernel"], search.init_weights["fc1/kernel"])


def test_ticket_and_baselines(search, tmp_path):
    ticket = search.ticket(2)
    masks = wrapping.get_masks(ticket)
    for name, mask in search.levels[2].masks.items():
        np.testing.assert_array_equal(masks[name], mask)
        np.testing.assert_array_equal(wrapping.prunable_weights(ticket)[name],
                                      search.rewind_weights[f"{name}/kernel"] * mask)
    runs = search.baselines(2)
    assert set(runs) == {"ticket", "random_reinit", "random_mask"}
    # Retraining the ticket the same way (unshuffled data, deterministic ops) reproduces the search.
    assert runs["ticket"].metrics == search.levels[2].metrics
    assert runs["ticket"].steps == 10 and runs["random_reinit"].steps == 12 and runs["random_mask"].steps == 10
    for r in runs.values():
        assert r.sparsity == pytest.approx(search.levels[2].sparsity)
        for name, kernel in wrapping.prunable_weights(r.model).items():
            assert np.all(kernel[r.masks[name] == 0] == 0)
    assert any(not np.array_equal(runs["random_mask"].masks[n], m) for n, m in search.levels[2].masks.items())
    for name, m in search.levels[2].masks.items():
        np.testing.assert_array_equal(runs["random_reinit"].masks[name], m)
    # Export: a plain SavedModel with the pruned weights exactly zero, predicting as the ticket.
    out = lth_tf.export_ticket(runs["ticket"], tmp_path / "ticket")
    assert (out / "saved_model" / "saved_model.pb").exists() and (out / "mask.npz").exists()
    loaded = keras.models.load_model(str(out / "saved_model"))
    assert not wrapping.wrappers(loaded)
    kernel = {l.name: l.kernel.numpy() for l in loaded.layers if hasattr(l, "kernel")}
    for name, mask in np.load(out / "mask.npz").items():
        assert np.all(kernel[name][mask == 0] == 0) and np.all(kernel[name][mask == 1] != 0)
    answers = loaded.predict(XV, verbose=0)  # the loss says logits: both outputs
    np.testing.assert_allclose(answers["logits"], runs["ticket"].model.predict(XV, verbose=0), atol=1e-6)
    np.testing.assert_allclose(answers["probabilities"].sum(1), 1.0, atol=1e-6)


def test_error_barrier_between_trained_tickets(search):
    a = search.train(2, "ticket")
    b = search.train(2, "random_mask", seed=1)  # another network of the architecture
    before = wrapping.get_state(a.model)
    with pytest.warns(UserWarning, match="identical weights.*shuffle"):  # 0 by construction: says so
        same = lth_tf.error_barrier(a, a.weights, _val_ds(), alphas=5)
    assert same.barrier == 0.0 and np.ptp(same.errors) == 0.0
    assert same.error_1 == pytest.approx(1 - a.metrics["val_accuracy"])
    result = lth_tf.error_barrier(a, b, _val_ds())
    assert len(result.alphas) == 11 and result.alphas[0] == 0.0 and result.alphas[-1] == 1.0
    assert result.error_1 == pytest.approx(1 - a.metrics["val_accuracy"])
    assert result.error_2 == pytest.approx(1 - b.metrics["val_accuracy"])
    assert result.barrier == pytest.approx(result.errors.max() - (result.error_1 + result.error_2) / 2)
    assert result.stable() == (result.barrier < 0.02)
    after = wrapping.get_state(a.model)  # the evaluation model is restored
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])


def _functional(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 1))
    h = keras.layers.Conv1D(8, 3, activation="relu", name="conv")(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(16, activation="relu", name="fc")(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(h))


def test_omp_layerwise_on_a_functional_model_with_batch_norm():
    train = tf.data.Dataset.from_tensor_slices((X[..., None], Y)).shuffle(192, seed=0).batch(48)
    val = tf.data.Dataset.from_tensor_slices((XV[..., None], YV)).batch(64)
    compile_kwargs = dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    search = lth_tf.omp(_functional(), train, val_ds=val, compile_kwargs=compile_kwargs, epochs=2, levels=2,
                        fraction=0.5, scope="layerwise", prunable=["conv", "fc"], verbose=0)
    assert set(search.levels[1].masks) == {"conv", "fc"}  # `out` left dense
    dense = search.levels[0].weights
    for lv in search.levels[1:]:
        for name, mask in lv.masks.items():
            assert abs(1 - mask.mean() - (1 - 0.5 ** lv.level)) <= 1.0 / mask.size  # each layer's sparsity
            # one-shot: the largest dense trained weights are kept
            kept = np.abs(dense[f"{name}/kernel"])[mask == 1].min()
            assert kept >= np.abs(dense[f"{name}/kernel"])[mask == 0].max()
    assert search.rewind_weights["conv/kernel"].tobytes() == search.init_weights["conv/kernel"].tobytes()
    ticket = search.trained(2)
    with pytest.raises(ConfigError, match="BatchNormalization"):
        lth_tf.error_barrier(ticket, search.levels[1].weights, val)
    result = lth_tf.error_barrier(ticket, search.levels[1].weights, val, train_ds=train, alphas=3)
    assert result.errors.shape == (3,) and np.all((0 <= result.errors) & (result.errors <= 1))
    # the path stays within the ticket's mask, and the ticket is restored afterwards
    assert np.all(wrapping.prunable_weights(ticket)["fc"][search.levels[2].masks["fc"] == 0] == 0)


def test_el2n_and_forgetting_scores(search):
    examples = tf.data.Dataset.from_tensor_slices((X, Y)).batch(64)
    model = _sequential(seed=3)
    scores = lth_tf.score_examples(model, _train_ds(), examples, compile_kwargs=_compile_kwargs(), epochs=3,
                                   el2n_epoch=1)
    assert scores.forgetting.shape == (192,) and scores.el2n.shape == (192,)
    assert np.all((scores.el2n >= 0) & (scores.el2n <= np.sqrt(2)))
    assert scores.summary["evaluations"] == 3
    assert np.array_equal(scores.unforgettable, scores.learned & (scores.forgetting == 0))
    # el2n_scores on a plain model, from its logits: ||softmax - onehot||
    logits = model.predict(X, verbose=0).astype(np.float64)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(192), Y] -= 1
    got = lth_tf.el2n_scores(model, examples, from_logits=True)
    np.testing.assert_allclose(got, np.sqrt((p ** 2).sum(1)), rtol=1e-5)
    # A ticket is scored by training a copy: its masks are kept and the ticket is not modified.
    ticket = search.ticket(2)
    before = wrapping.get_state(ticket)
    scores = lth_tf.score_examples(ticket, _train_ds(), (X, Y), compile_kwargs=_compile_kwargs(), epochs=1,
                                   every_n_steps=3)
    assert scores.summary["evaluations"] == 2 and scores.el2n is None  # steps 3 and 6
    after = wrapping.get_state(ticket)
    assert all(np.array_equal(before[k], after[k]) for k in before)


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.fc = keras.layers.Dense(16, activation="relu")
        self.out = keras.layers.Dense(3)

    def call(self, x):
        return self.out(self.fc(x))


def test_bad_input_gets_a_config_error_with_the_fix():
    sub = _Subclassed()
    sub(X[:2])
    with pytest.raises(ConfigError, match="subclassed keras.Model .*clone_model.*keras.Model\\(inputs, model.call"):
        lth_tf.imp(sub, _train_ds(), compile_kwargs=_compile_kwargs(), epochs=1)
    # The fix the message gives works and keeps the weights.
    inputs = keras.Input(shape=(8,))
    functional = keras.Model(inputs, sub.call(inputs))
    wrapped = lth_tf.wrap(functional)
    np.testing.assert_allclose(wrapped.predict(X[:4], verbose=0), sub(X[:4]).numpy(), atol=1e-6)
    model = _sequential()
    with pytest.raises(ConfigError, match="tf.data.Dataset"):
        lth_tf.imp(model, (X, Y), compile_kwargs=_compile_kwargs(), epochs=1)
    with pytest.raises(ConfigError, match="unbatched"):
        lth_tf.imp(model, tf.data.Dataset.from_tensor_slices((X, Y)), compile_kwargs=_compile_kwargs(), epochs=1)
    with pytest.raises(ConfigError, match="rewind_step=100"):
        lth_tf.imp(model, _train_ds(), compile_kwargs=_compile_kwargs(), epochs=1, levels=1, rewind_step=100,
                   verbose=0)
    with pytest.raises(ConfigError, match="lacks"):
        lth_tf.wrap(model, prunable=["nope"])
    keras3 = pytest.importorskip("keras")
    if keras3.__version__.startswith("3"):
        with pytest.raises(ConfigError, match="Keras 3 model.*import tf_keras as keras"):
            lth_tf.wrap(keras3.Sequential([keras3.Input((8,)), keras3.layers.Dense(3)]))


def _logits_loss_warnings(record):
    return [w for w in record if "outputs logits" in str(w.message)]


def test_a_logits_model_with_a_probabilities_loss_warns_once(monkeypatch):
    from lth_tf import keras_utils
    monkeypatch.setattr(keras_utils, "_WARNED_LOGITS_LOSS", set())
    bad = dict(_compile_kwargs(), loss="sparse_categorical_crossentropy")  # expects probabilities
    with pytest.warns(UserWarning) as record:  # imp compiles a copy at every level: one warning
        lth_tf.imp(_sequential(), _train_ds(), compile_kwargs=bad, epochs=1, levels=1, verbose=0)
    (warning,) = _logits_loss_warnings(record)
    assert "'out' is a Dense without activation" in str(warning.message)
    assert "from_logits=True" in str(warning.message)
    # The right loss for logits, and a probabilities loss on a softmax model: no warning.
    monkeypatch.setattr(keras_utils, "_WARNED_LOGITS_LOSS", set())
    softmax = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3, activation="softmax", name="out")])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        lth_tf.imp(_sequential(), _train_ds(), compile_kwargs=_compile_kwargs(), epochs=1, levels=1, verbose=0)
        lth_tf.imp(softmax, _train_ds(), compile_kwargs=bad, epochs=1, levels=1, verbose=0)
    assert not _logits_loss_warnings(record)


def test_class_probabilities_of_numpy_data_larger_than_a_batch():
    x, y = _data(n=600)  # more than class_probabilities' 512-example batches
    model = _sequential()
    scores = lth_tf.el2n_scores(model, (x, y), from_logits=True)
    batched = lth_tf.el2n_scores(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(100), from_logits=True)
    assert scores.shape == (600,)
    np.testing.assert_allclose(scores, batched, rtol=1e-6)


def test_a_rewind_step_that_leaves_less_than_half_the_training_warns():
    # 2 epochs x 6 batches = 12 steps: rewinding to step 7 leaves the tickets 5
    with pytest.warns(UserWarning, match="rewind_step=7 leaves each ticket 5 of the dense run's 12 training steps"):
        lth_tf.imp(_sequential(), _train_ds(), compile_kwargs=_compile_kwargs(), epochs=2, levels=1, rewind_step=7,
                   verbose=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")  # step 6 leaves exactly half: no warning
        lth_tf.imp(_sequential(), _train_ds(), compile_kwargs=_compile_kwargs(), epochs=2, levels=1, rewind_step=6,
                   verbose=0)
    assert not [w for w in record if "rewind_step" in str(w.message)]


def test_wrap_masks_what_tfmot_can_prune_and_names_the_layers_it_leaves_dense():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), dtype="int32")
    h = keras.layers.Embedding(20, 8, name="emb")(inputs)
    h = keras.layers.DepthwiseConv1D(3, name="dw")(h)
    h = keras.layers.SeparableConv1D(8, 2, name="sep")(h)
    h = keras.layers.LSTM(8, name="lstm")(h)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(h))
    with pytest.warns(UserWarning, match=r"masks no weight of 2 layer\(s\) of the model: 'dw' \(DepthwiseConv1D\), "
                                         r"'lstm' \(LSTM\)\. "):
        wrapped = lth_tf.wrap(model)
    assert set(wrapping.get_masks(wrapped)) == {"emb", "sep", "out"}
    assert wrapping.get_masks(wrapped)["sep"].shape == (1, 8, 8)  # the pointwise kernel
    # The masks act in the forward pass: a pruned embedding row written by hand changes nothing.
    x = np.arange(12, dtype=np.int32).reshape(2, 6)  # tokens 0..11
    masks = wrapping.get_masks(wrapped)
    masks["emb"][3] = 0  # token 3's embedding
    wrapping.set_masks(wrapped, masks)
    before = wrapped(x).numpy()
    (emb,) = [wrapping.kernel_and_mask(w)[0] for w in wrapping.wrappers(wrapped) if w.layer.name == "emb"]
    emb.assign(np.where(masks["emb"] == 0, 5.0, emb.numpy()))
    np.testing.assert_array_equal(wrapped(x).numpy(), before)
    # Choosing a layer lth-tf cannot mask: one paragraph in API terms, not an IndexError.
    with pytest.raises(ConfigError, match=r"prunable chooses layers lth-tf cannot mask: 'dw' \(DepthwiseConv1D\)") as e:
        lth_tf.wrap(model, prunable=["dw", "out"])
    assert "PruningHparams" not in str(e.value) and "Leave them out of `prunable=`" in str(e.value)
    conv = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.DepthwiseConv2D(2, name="dw2"),
                             keras.layers.Flatten(), keras.layers.Dense(3, name="out")])
    with pytest.raises(ConfigError, match=r"cannot mask: 'dw2' \(DepthwiseConv2D\)"):
        lth_tf.wrap(conv, prunable=["dw2"])


def test_export_a_ticket_whose_last_layer_is_named_logits(tmp_path):
    inputs = keras.Input((8,))  # as examples/find_tickets.py names it: the export's head must not clash
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(keras.layers.Dense(4, name="fc")(inputs)))
    path = lth_tf.export_ticket(lth_tf.wrap(model), tmp_path / "ticket")
    serve = tf.saved_model.load(str(path / "saved_model")).signatures["serving_default"]
    out = serve(inputs=tf.constant(X[:2]))
    np.testing.assert_allclose(out["logits"].numpy(), model(X[:2]).numpy(), rtol=1e-6)
    assert sorted(out) == ["logits", "probabilities"]
