"""Model registry: every builder builds for 1-D and 2-D inputs, outputs logits, follows the
naming conventions, scales with width, and matches published parameter counts."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import re

import numpy as np
import pytest
import tf_keras as keras

from lth_tf.errors import ConfigError
from lth_tf.models import ModelHparams, build_model, known_models

CLASSES = 10
SHAPES = [(40, 1), (8, 8, 1), (32, 32, 3)]
SLOW_ON_32 = {"resnet56", "resnet34", "vgg19"}
EXPECTED_BLOCKS = {
    "lenet_300_100": 2, "conv2": 1, "conv4": 2, "conv6": 3,
    "resnet20": 9, "resnet32": 15, "resnet56": 27, "resnet18": 8, "resnet34": 16,
    "vgg11": 5, "vgg16": 5, "vgg19": 5, "mobilenet_v1": 13,
}


@pytest.fixture(autouse=True)
def _fresh_session():
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


def _build(name, shape, width=1.0, initializer="he_normal", classes=CLASSES):
    keras.utils.set_random_seed(0)
    return build_model(ModelHparams(name=name, width=width, initializer=initializer), shape, classes)


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _block_names(model):
    return [layer.name for layer in model.layers if re.fullmatch(r"block\d+", layer.name)]


def test_all_expected_models_registered():
    assert set(EXPECTED_BLOCKS) <= set(known_models())


CASES = [pytest.param(name, shape, id=f"{name}-{'x'.join(map(str, shape))}")
         for name in known_models() for shape in SHAPES
         if not (name in SLOW_ON_32 and shape == (32, 32, 3))]


@pytest.mark.parametrize("name,shape", CASES)
def test_builds_and_gives_logits(name, shape):
    model = _build(name, shape)
    x = np.random.default_rng(0).normal(size=(2,) + shape).astype(np.float32)
    logits = model(x, training=False).numpy()
    assert logits.shape == (2, CLASSES)
    assert np.all(np.isfinite(logits))
    out = model.get_layer("output")
    assert isinstance(out, keras.layers.Dense)
    assert model.layers[-1] is out
    assert out.get_config()["activation"] == "linear"  # logits, no softmax
    # Block layers: block1..blockN, numbered consecutively, in network order.
    blocks = _block_names(model)
    if name in EXPECTED_BLOCKS:
        assert len(blocks) == EXPECTED_BLOCKS[name]
    assert blocks == [f"block{i}" for i in range(1, len(blocks) + 1)]
    # 1-D inputs use 1-D layers, 2-D inputs 2-D layers.
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D if len(shape) == 3
                                                             else keras.layers.Conv1D)]
    wrong = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv1D if len(shape) == 3
                                                             else keras.layers.Conv2D)]
    assert not wrong
    if name != "lenet_300_100":
        assert convs


def test_resnet20_parameter_count():
    # He et al. (2016), Table 6: 0.27M; with 1x1-conv shortcuts (open_lth) exactly 272,474.
    model = _build("resnet20", (32, 32, 3))
    assert _trainable(model) == 272_474


def test_lenet_parameter_count():
    model = _build("lenet_300_100", (784,))
    assert model.count_params() == 266_610


def test_resnet18_stems():
    # CIFAR-style stem for small inputs (11.17M for 10 classes, as in the usual CIFAR ResNet-18);
    # ImageNet stem (7x7/2 conv + max-pool) for larger ones: 11,689,512 for 1000 classes.
    small = _build("resnet18", (32, 32, 3))
    assert _trainable(small) == 11_173_962
    assert "stem_pool" not in [layer.name for layer in small.layers]
    keras.backend.clear_session()
    large = _build("resnet18", (96, 96, 3), classes=1000)
    assert _trainable(large) == 11_689_512
    assert large.get_layer("stem_conv").kernel_size == (7, 7)
    assert large.get_layer("stem_pool").output_shape[1:3] == (24, 24)


def test_mobilenet_v1_parameter_count():
    # Howard et al. (2017), Table 8 (4.2M); trainable parameters of Keras' MobileNet (alpha=1).
    model = _build("mobilenet_v1", (96, 96, 3), classes=1000)
    assert _trainable(model) == 4_231_976


@pytest.mark.parametrize("name", [n for n in known_models() if n not in SLOW_ON_32])
def test_width_reduces_parameters(name):
    full = _trainable(_build(name, (40, 1)))
    keras.backend.clear_session()
    half = _trainable(_build(name, (40, 1), width=0.5))
    assert half < full


def test_initializer_is_used():
    model = _build("resnet20", (8, 8, 1), initializer="glorot_uniform")
    for layer in ("stem_conv", "block1_conv1", "output"):
        assert isinstance(model.get_layer(layer).kernel_initializer, keras.initializers.GlorotUniform)


def test_vgg_skips_pools_of_size_one():
    model = _build("vgg16", (8, 8, 1))
    # 8 -> 4 -> 2 -> 1, then the fourth pool has nothing to halve.
    assert isinstance(model.get_layer("block3"), keras.layers.MaxPool2D)
    assert not isinstance(model.get_layer("block4"), keras.layers.MaxPool2D)
    assert model.get_layer("block4").output_shape[1:3] == (1, 1)


def test_unknown_model_lists_known_names():
    with pytest.raises(ConfigError) as info:
        ModelHparams(name="resnet1000")
    message = str(info.value)
    assert "resnet1000" in message
    for name in known_models():
        assert name in message


@pytest.mark.parametrize("name", ["resnet20", "vgg11", "mobilenet_v1", "conv2"])
def test_conv_models_reject_flat_inputs(name):
    with pytest.raises(ConfigError, match="1-D"):
        _build(name, (784,))
