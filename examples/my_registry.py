"""Your own model and dataset in a study: register them in a module, `import` it from the gin file.

    # my_study.gin
    import examples.my_registry
    include 'configs/smoke.gin'
    ModelHparams.name = 'my_mlp'
    DatasetHparams.name = 'my_blobs'

A model builder takes (input_shape, num_classes, width, initializer) and returns a tf_keras
functional model that outputs logits, names its last Dense layer `output` and the outputs of its
blocks `block1`, `block2`, ... (linear probes attach there). A dataset loader takes the
DatasetHparams and returns RawData (numpy train and test splits); the validation split, the
normalization and the example indices are derived from it as for the built-in datasets.
"""
import numpy as np
import tf_keras as keras

from lth_tf.data.dataset import RawData, register as register_dataset
from lth_tf.models.registry import register as register_model


@register_model("my_mlp")
def my_mlp(input_shape, num_classes, width, initializer):
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(max(1, round(64 * width)), activation="relu", kernel_initializer=initializer, name="fc1")(x)
    x = keras.layers.Activation("linear", name="block1")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, kernel_initializer=initializer, name="output")(x))


@register_dataset("my_blobs")
def my_blobs(hp) -> RawData:
    """Four Gaussian blobs in 8 dimensions, drawn from split_seed: 800 train, 200 test examples."""
    rng = np.random.default_rng(hp.split_seed)
    centers = rng.normal(scale=3.0, size=(4, 8))
    y = rng.integers(0, 4, size=1000)
    x = (centers[y] + rng.normal(size=(1000, 8))).astype(np.float32)
    return RawData(x[:800], y[:800].astype(np.int64), x[800:], y[800:].astype(np.int64), num_classes=4)
