"""MobileNet v1 (Howard et al. 2017), for 1-D and 2-D inputs.

A 3x3 stem conv (32 channels) + BN + ReLU, then 13 depthwise-separable units, each a 3x3
depthwise conv + BN + ReLU followed by a 1x1 pointwise conv + BN + ReLU; then global average
pooling and the Dense `output`. The output of unit i (its last ReLU) is the layer `block{i}`.
Inputs whose largest spatial side is <= 64 get a stride-1 stem (the usual CIFAR variant), larger
ones the ImageNet stride-2 stem. The width multiplier is the paper's alpha. The prunable weights
are the pointwise convs (`block{i}_pointwise`), the stem and the output Dense; the depthwise convs
(`block{i}_depthwise`, DepthwiseConv layers) hold under 2% of the weights.
"""
import tf_keras as keras

from lth_tf.models.registry import batch_norm, conv_layers, register, scaled, spatial_size

L = keras.layers

SMALL_INPUT_SIDE = 64
# (pointwise channels, depthwise stride) of the 13 depthwise-separable units.
UNITS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
         (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


@register("mobilenet_v1")
def mobilenet_v1(input_shape, num_classes, width, initializer):
    ops = conv_layers(input_shape)
    stem_stride = 1 if spatial_size(input_shape) <= SMALL_INPUT_SIDE else 2
    inputs = keras.Input(input_shape)
    x = ops.conv(scaled(32, width), 3, strides=stem_stride, padding="same", use_bias=False,
                 kernel_initializer=initializer, name="stem_conv")(inputs)
    x = batch_norm("stem_bn")(x)
    x = L.Activation("relu", name="stem_relu")(x)
    for i, (channels, stride) in enumerate(UNITS, start=1):
        name = f"block{i}"
        x = ops.depthwise_conv(3, strides=stride, padding="same", use_bias=False,
                               depthwise_initializer=initializer, name=f"{name}_depthwise")(x)
        x = batch_norm(f"{name}_depthwise_bn")(x)
        x = L.Activation("relu", name=f"{name}_depthwise_relu")(x)
        x = ops.conv(scaled(channels, width), 1, use_bias=False,
                     kernel_initializer=initializer, name=f"{name}_pointwise")(x)
        x = batch_norm(f"{name}_pointwise_bn")(x)
        x = L.Activation("relu", name=name)(x)
    x = ops.global_avg_pool(name="pool")(x)
    outputs = L.Dense(num_classes, kernel_initializer=initializer, name="output")(x)
    return keras.Model(inputs, outputs, name="mobilenet_v1")
