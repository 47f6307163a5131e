"""LeNet-300-100 and the Conv-2/4/6 networks of Frankle & Carbin (2019)."""
import tf_keras as keras

from lth_tf.models.registry import conv_ops, register, scaled

L = keras.layers


@register("lenet_300_100")
def lenet_300_100(input_shape, num_classes, width, initializer):
    inputs = keras.Input(input_shape)
    x = L.Flatten()(inputs)
    for i, units in enumerate((300, 100), start=1):
        x = L.Dense(scaled(units, width), activation="relu", kernel_initializer=initializer, name=f"fc{i}")(x)
        x = L.Activation("linear", name=f"block{i}")(x)
    outputs = L.Dense(num_classes, kernel_initializer=initializer, name="output")(x)
    return keras.Model(inputs, outputs, name="lenet_300_100")


def _conv_net(name, stages, input_shape, num_classes, width, initializer):
    """`stages` pairs of 3x3 convs (64, 128, 256 channels), each pair followed by 2x max-pooling,
    then two 256-unit dense layers (Frankle & Carbin 2019, Figure 2)."""
    Conv, Pool, _ = conv_ops(input_shape)
    inputs = keras.Input(input_shape)
    x = inputs
    for i, channels in enumerate((64, 128, 256)[:stages], start=1):
        for j in (1, 2):
            x = Conv(scaled(channels, width), 3, padding="same", activation="relu",
                     kernel_initializer=initializer, name=f"conv{i}_{j}")(x)
        x = Pool(2, name=f"block{i}")(x)
    x = L.Flatten()(x)
    for k in (1, 2):
        x = L.Dense(scaled(256, width), activation="relu", kernel_initializer=initializer, name=f"fc{k}")(x)
    outputs = L.Dense(num_classes, kernel_initializer=initializer, name="output")(x)
    return keras.Model(inputs, outputs, name=name)


@register("conv2")
def conv2(input_shape, num_classes, width, initializer):
    return _conv_net("conv2", 1, input_shape, num_classes, width, initializer)


@register("conv4")
def conv4(input_shape, num_classes, width, initializer):
    return _conv_net("conv4", 2, input_shape, num_classes, width, initializer)


@register("conv6")
def conv6(input_shape, num_classes, width, initializer):
    return _conv_net("conv6", 3, input_shape, num_classes, width, initializer)
