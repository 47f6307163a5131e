"""CIFAR VGG-11/16/19 with batch norm (as open_lth's cifar_vgg), for 1-D and 2-D inputs.

Each number in a configuration is a 3x3 conv (no bias) + BN + ReLU, each 'M' a 2x max-pool; then
global average pooling and the Dense `output`. The network is split into stages at the max-pools:
the output of stage i is the layer `block{i}` (the max-pool itself, or an identity layer for the
last stage, which has no max-pool). A max-pool whose input is already of spatial size 1 is
replaced by an identity layer (a side of size 1 is not pooled), so small inputs such as 8x8 digits
or 40-long MNIST-1D still build.
"""
import tf_keras as keras

from lth_tf.models.registry import batch_norm, conv_layers, register, scaled

L = keras.layers

CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512],
}


def _pool_or_identity(x, ops, name):
    sides = [int(d) for d in x.shape[1:-1]]
    if all(s <= 1 for s in sides):
        return L.Activation("linear", name=name)(x)
    size = tuple(min(2, s) for s in sides)
    return ops.max_pool(size if ops.rank == 2 else size[0], name=name)(x)


def _vgg(name, input_shape, num_classes, width, initializer):
    ops = conv_layers(input_shape)
    inputs = keras.Input(input_shape)
    x = inputs
    block, conv = 1, 1
    for item in CONFIGS[name]:
        if item == "M":
            x = _pool_or_identity(x, ops, f"block{block}")
            block += 1
            continue
        x = ops.conv(scaled(item, width), 3, padding="same", use_bias=False,
                     kernel_initializer=initializer, name=f"conv{conv}")(x)
        x = batch_norm(f"bn{conv}")(x)
        x = L.Activation("relu", name=f"relu{conv}")(x)
        conv += 1
    if CONFIGS[name][-1] != "M":
        x = L.Activation("linear", name=f"block{block}")(x)
    x = ops.global_avg_pool(name="pool")(x)
    outputs = L.Dense(num_classes, kernel_initializer=initializer, name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def _register(name):
    def build(input_shape, num_classes, width, initializer):
        return _vgg(name, input_shape, num_classes, width, initializer)
    build.__name__ = name
    build.__doc__ = f"CIFAR {name.upper()} with BN: {CONFIGS[name]}."
    return register(name)(build)


vgg11 = _register("vgg11")
vgg16 = _register("vgg16")
vgg19 = _register("vgg19")
