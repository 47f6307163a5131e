"""The per-model cache of compiled functions (lth_tf/training/compiled.py): one entry per model
and key, gone with the model, and no retracing when IMP-like work reuses a model."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import gc
import weakref

import pytest
import tensorflow as tf
import tf_keras as keras

from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.training import TrainingHparams, compiled, predict, train

LENET = ModelHparams("lenet_300_100", width=0.1)
HP = TrainingHparams(budget="2ep", batch_size=64, lr=0.1, momentum=0.9)


@pytest.fixture(autouse=True)
def _fresh_session():
    keras.backend.clear_session()


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DatasetHparams(name="mnist1d", num_samples=300))


def _network(ds, seed=0):
    return networks.build_network(LENET, ds.input_shape, ds.num_classes, seed)


def test_same_model_and_key_give_the_same_entry_and_another_model_its_own(ds):
    a, b = _network(ds), _network(ds, seed=1)
    builds = []

    def build(model):
        builds.append(model)
        return tf.function(lambda x: model(x, training=False))

    first = compiled.compiled(a, ("probe", 1), lambda: build(a))
    assert compiled.compiled(a, ("probe", 1), lambda: build(a)) is first
    other_key = compiled.compiled(a, ("probe", 2), lambda: build(a))
    other_model = compiled.compiled(b, ("probe", 1), lambda: build(b))
    assert other_key is not first and other_model is not first
    assert builds == [a, a, b]
    assert set(compiled.entries(a, "probe")) == {("probe", 1), ("probe", 2)}
    assert list(compiled.entries(b, "probe")) == [("probe", 1)]


def test_the_entry_goes_away_with_the_model(ds):
    model = _network(ds)
    predict(model, ds, ds.test)  # traces the cached prediction function, which closes over the model
    train(model, ds, HP, seed=0, end_step=3, verbose=False)  # and a trainer with optimizer variables
    entries = list(compiled.entries(model, "predict").values()) + list(compiled.entries(model, "trainer").values())
    assert len(entries) == 2
    refs = [weakref.ref(model)] + [weakref.ref(e) for e in entries]
    del model, entries
    keras.backend.clear_session()  # Keras' own graph-level bookkeeping holds models until then
    gc.collect()
    assert all(r() is None for r in refs)


def test_imp_like_reuse_does_not_retrace(ds):
    """Levels of a search: new masks, rewound weights, train again, evaluate; after the first
    level nothing is traced again (the first traces once per batch shape: val and test split)."""
    model = _network(ds)
    rewind = wrapping.get_state(model)
    masks = M.ones_like(wrapping.prunable_weights(model))
    traces = []
    for level in range(3):
        wrapping.set_state(model, rewind)
        wrapping.set_masks(model, masks)
        train(model, ds, HP, seed=0, verbose=False)
        predict(model, ds, ds.test)
        masks = M.magnitude_prune(wrapping.prunable_weights(model), masks, 0.8 ** (level + 1), "global")
        (trainer,) = compiled.entries(model, "trainer").values()
        (predict_fn,) = compiled.entries(model, "predict").values()
        traces.append((trainer.steps.experimental_get_tracing_count(), predict_fn.experimental_get_tracing_count()))
    assert traces[0][0] == 1 and traces[0][1] >= 1
    assert traces == [traces[0]] * 3
