"""Model registry: name -> builder(input_shape, num_classes, width) -> tf_keras functional model.

Conventions every builder follows (later code relies on them):
- The model outputs logits (no softmax).
- The output of each block is a layer named `block{i}` (i = 1, 2, ...): linear probes attach
  there. Blocks are the hidden layers of an MLP, the pooling stages of Conv-2/4/6, the
  residual blocks of a ResNet, the pooling stages of a VGG, the depthwise-separable units of
  MobileNet v1.
- The last Dense layer is named `output`.
- Convolutional models take 1-D inputs (length, channels) with Conv1D and 2-D inputs
  (height, width, channels) with Conv2D.
- Channel/unit counts are `max(1, round(c * width))`, so a width multiplier scales the model.
A model of your own needs no registration: name it `ModelHparams.name = "my_models:build"`, a
function builder(input_shape, num_classes, width, initializer) -> model that follows the same
conventions (lth_tf/named.py).
"""
import dataclasses
from typing import Callable, Dict, NamedTuple, Tuple

import gin
import tf_keras as keras

from lth_tf.errors import ConfigError, unknown_name
from lth_tf.named import lookup

_BUILDERS: Dict[str, Callable] = {}


def register(name: str):
    def wrap(builder):
        _BUILDERS[name] = builder
        return builder
    return wrap


def known_models():
    return sorted(_BUILDERS)


INITIALIZERS = ("he_normal", "glorot_normal", "glorot_uniform", "he_uniform")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class ModelHparams:
    name: str = "lenet_300_100"
    width: float = 1.0
    initializer: str = "he_normal"

    def __post_init__(self):
        lookup("model", self.name, _BUILDERS)
        if not self.width > 0:
            raise ConfigError(f"ModelHparams.width={self.width} must be positive.")
        if self.initializer not in INITIALIZERS:
            raise unknown_name("initializer", self.initializer, INITIALIZERS)


def scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def build_model(hp: ModelHparams, input_shape: Tuple[int, ...], num_classes: int) -> keras.Model:
    """Builds the model; its initial weights are drawn from the global seed (set it first)."""
    return lookup("model", hp.name, _BUILDERS)(tuple(input_shape), num_classes, hp.width, hp.initializer)


def conv_ops(input_shape):
    """(Conv, MaxPool, GlobalAveragePool) classes for 1-D or 2-D inputs."""
    L = keras.layers
    if len(input_shape) == 2:
        return L.Conv1D, L.MaxPool1D, L.GlobalAveragePooling1D
    if len(input_shape) == 3:
        return L.Conv2D, L.MaxPool2D, L.GlobalAveragePooling2D
    raise ConfigError(f"Convolutional models need a 1-D (length, channels) or 2-D (h, w, channels) input; "
                      f"got shape {input_shape}. Use an MLP such as lenet_300_100 instead.")


class ConvLayers(NamedTuple):
    """The layer classes a convolutional builder needs, for 1-D or 2-D inputs (see conv_layers)."""
    conv: type
    depthwise_conv: type
    max_pool: type
    global_avg_pool: type
    rank: int  # 1 for (length, channels) inputs, 2 for (height, width, channels)


def conv_layers(input_shape) -> ConvLayers:
    """Like conv_ops, plus the depthwise conv class and the spatial rank. Raises the same
    ConfigError for inputs that are neither 1-D nor 2-D."""
    Conv, Pool, GAP = conv_ops(input_shape)
    L = keras.layers
    depthwise = L.DepthwiseConv1D if len(input_shape) == 2 else L.DepthwiseConv2D
    return ConvLayers(Conv, depthwise, Pool, GAP, len(input_shape) - 1)


BN_MOMENTUM = 0.9  # PyTorch's momentum=0.1 in Keras terms
BN_EPSILON = 1e-5


def batch_norm(name: str) -> keras.layers.BatchNormalization:
    """BatchNormalization with PyTorch's defaults, which the published models were trained with."""
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def spatial_size(input_shape) -> int:
    """The largest spatial side of a (length, channels) or (h, w, channels) input."""
    return max(int(d) for d in tuple(input_shape)[:-1])
