"""Residual networks (He et al. 2016), for 1-D and 2-D inputs.

- resnet20/32/56: the CIFAR ResNets (3 stages of 16/32/64 channels, n = 3/5/9 basic blocks each,
  6n + 2 layers), with 1x1-conv + BN shortcuts where the shape changes (as in open_lth).
- resnet18/34: the ImageNet ResNets built from basic blocks (64/128/256/512 channels). Inputs
  whose largest spatial side is <= 64 get the CIFAR-style stem (3x3 conv, stride 1, no max-pool);
  larger ones the ImageNet stem (7x7 conv, stride 2, then 3x3 max-pool, stride 2).
- resnet50: the same stems and stages with bottleneck blocks (1x1, 3x3, 1x1 convs, 4x wider
  output, the stride on the 3x3 conv as in torchvision), 3/4/6/3 blocks: paper 002's ResNet-50
  (Tiny-ImageNet, ImageNet-1K; Table E.1).

Every conv followed by BN has no bias; BN uses PyTorch's defaults (momentum 0.9 in Keras terms,
epsilon 1e-5). The output of residual block i (after the addition and ReLU) is the layer
`block{i}`, numbered 1.. over the whole network.
"""
import tf_keras as keras

from lth_tf.models.registry import batch_norm, conv_layers, register, scaled, spatial_size

L = keras.layers

SMALL_INPUT_SIDE = 64  # inputs up to this side get the CIFAR-style stem


def _basic_block(x, ops, channels, stride, initializer, index):
    """conv3x3(stride)-BN-ReLU-conv3x3-BN, plus the (projected) shortcut, then ReLU."""
    name = f"block{index}"
    shortcut = x
    y = ops.conv(channels, 3, strides=stride, padding="same", use_bias=False,
                 kernel_initializer=initializer, name=f"{name}_conv1")(x)
    y = batch_norm(f"{name}_bn1")(y)
    y = L.Activation("relu", name=f"{name}_relu1")(y)
    y = ops.conv(channels, 3, padding="same", use_bias=False,
                 kernel_initializer=initializer, name=f"{name}_conv2")(y)
    y = batch_norm(f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != channels:
        shortcut = ops.conv(channels, 1, strides=stride, padding="same", use_bias=False,
                            kernel_initializer=initializer, name=f"{name}_shortcut_conv")(x)
        shortcut = batch_norm(f"{name}_shortcut_bn")(shortcut)
    y = L.Add(name=f"{name}_add")([y, shortcut])
    return L.Activation("relu", name=name)(y)


def _bottleneck_block(x, ops, channels, stride, initializer, index):
    """conv1x1-BN-ReLU-conv3x3(stride)-BN-ReLU-conv1x1(4x channels)-BN, plus the (projected)
    shortcut, then ReLU."""
    name, out = f"block{index}", 4 * channels
    shortcut = x
    y = x
    for k, (filters, size, strides) in enumerate(((channels, 1, 1), (channels, 3, stride), (out, 1, 1)), 1):
        y = ops.conv(filters, size, strides=strides, padding="same", use_bias=False,
                     kernel_initializer=initializer, name=f"{name}_conv{k}")(y)
        y = batch_norm(f"{name}_bn{k}")(y)
        if k < 3:
            y = L.Activation("relu", name=f"{name}_relu{k}")(y)
    if stride != 1 or x.shape[-1] != out:
        shortcut = ops.conv(out, 1, strides=stride, padding="same", use_bias=False,
                            kernel_initializer=initializer, name=f"{name}_shortcut_conv")(x)
        shortcut = batch_norm(f"{name}_shortcut_bn")(shortcut)
    y = L.Add(name=f"{name}_add")([y, shortcut])
    return L.Activation("relu", name=name)(y)


def _resnet(name, input_shape, num_classes, width, initializer, stage_channels, stage_blocks,
            stem_channels, imagenet_stem, block=_basic_block):
    ops = conv_layers(input_shape)
    inputs = keras.Input(input_shape)
    stem = scaled(stem_channels, width)
    if imagenet_stem:
        x = ops.conv(stem, 7, strides=2, padding="same", use_bias=False,
                     kernel_initializer=initializer, name="stem_conv")(inputs)
    else:
        x = ops.conv(stem, 3, padding="same", use_bias=False,
                     kernel_initializer=initializer, name="stem_conv")(inputs)
    x = batch_norm("stem_bn")(x)
    x = L.Activation("relu", name="stem_relu")(x)
    if imagenet_stem:
        x = ops.max_pool(3, strides=2, padding="same", name="stem_pool")(x)
    index = 1
    for stage, (channels, blocks) in enumerate(zip(stage_channels, stage_blocks)):
        for b in range(blocks):
            stride = 2 if stage > 0 and b == 0 else 1
            x = block(x, ops, scaled(channels, width), stride, initializer, index)
            index += 1
    x = ops.global_avg_pool(name="pool")(x)
    outputs = L.Dense(num_classes, kernel_initializer=initializer, name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def _cifar_resnet(name, n):
    def build(input_shape, num_classes, width, initializer):
        return _resnet(name, input_shape, num_classes, width, initializer,
                       (16, 32, 64), (n, n, n), 16, imagenet_stem=False)
    build.__name__ = name
    build.__doc__ = f"CIFAR ResNet-{6 * n + 2} ({n} basic blocks per stage, 16/32/64 channels)."
    return register(name)(build)


def _imagenet_resnet(name, blocks, block=_basic_block):
    def build(input_shape, num_classes, width, initializer):
        conv_layers(input_shape)  # rejects non-convolutional inputs before spatial_size
        imagenet_stem = spatial_size(input_shape) > SMALL_INPUT_SIDE
        return _resnet(name, input_shape, num_classes, width, initializer,
                       (64, 128, 256, 512), blocks, 64, imagenet_stem=imagenet_stem, block=block)
    build.__name__ = name
    kind = "basic" if block is _basic_block else "bottleneck"
    build.__doc__ = (f"ResNet with {kind} blocks {list(blocks)} (64/128/256/512 channels); CIFAR "
                     f"stem for inputs with side <= {SMALL_INPUT_SIDE}, ImageNet stem otherwise.")
    return register(name)(build)


resnet20 = _cifar_resnet("resnet20", 3)
resnet32 = _cifar_resnet("resnet32", 5)
resnet56 = _cifar_resnet("resnet56", 9)
resnet18 = _imagenet_resnet("resnet18", (2, 2, 2, 2))
resnet34 = _imagenet_resnet("resnet34", (3, 4, 6, 3))
resnet50 = _imagenet_resnet("resnet50", (3, 4, 6, 3), _bottleneck_block)
