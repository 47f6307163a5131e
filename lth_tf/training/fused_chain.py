"""K wrapped Keras networks of one architecture as stacked variables with a network axis: the
arithmetic of the fused trainer (lth_tf/training/fused.py).

A network fuses when its layers form one chain of InputLayer / Flatten / Dense / Conv1D /
Conv2D (wrapped with a mask or not) / pooling / Activation: LeNet-300-100, the MLPs and
Conv-2/4/6. Dense layers become batched matmuls over the network axis ([K, B, in] @ [K, in,
out]: one kernel call for K networks, where K separate steps would pay the per-op overhead K
times; tf.matmul, whose gradient measured 2x faster than einsum's). Convolutions run as one
grouped convolution with the K networks' channels side by side ([B, ..., K * C] with K groups:
exact, each output channel sees its own network's input channels only); pooling is per
channel, so it runs on that layout as it is. Other architectures (batch norm, residual
additions) raise NotFusable: the callers train those one by one with lth_tf.training.train.
"""
from typing import List

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

from lth_tf.sparsity import wrapping


class NotFusable(ValueError):
    """These networks cannot be trained in one fused step (the message says why)."""


_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D)
_POOLS = (keras.layers.MaxPool1D, keras.layers.MaxPool2D, keras.layers.AveragePooling1D,
          keras.layers.AveragePooling2D, keras.layers.GlobalAveragePooling1D, keras.layers.GlobalAveragePooling2D,
          keras.layers.GlobalMaxPool1D, keras.layers.GlobalMaxPool2D)


def _fusable_conv(layer) -> bool:
    return (type(layer) in _CONVS and layer.groups == 1 and layer.data_format == "channels_last"
            and layer.padding in ("same", "valid"))


def _layer_ops(model: keras.Model) -> list:
    """The chain of ("flatten",) / ("dense" or "conv", layer, wrapper or None) / ("pool", layer) /
    ("activation", fn) of a model."""
    ops, prev = [], None
    for layer in model.layers:
        if prev is not None and getattr(layer, "input", None) is not prev.output:
            raise NotFusable(f"{model.name}: layer {layer.name!r} does not take the previous layer's output "
                             f"(only a chain of layers fuses)")
        prev = layer
        inner = layer.layer if isinstance(layer, pruning_wrapper.PruneLowMagnitude) else layer
        if isinstance(inner, keras.layers.InputLayer):
            continue
        if isinstance(inner, keras.layers.Flatten):
            ops.append(("flatten",))
        elif type(inner) is keras.layers.Dense:
            ops.append(("dense", inner, layer if inner is not layer else None))
        elif _fusable_conv(inner):
            ops.append(("conv", inner, layer if inner is not layer else None))
        elif type(inner) in _POOLS and getattr(inner, "data_format", "channels_last") == "channels_last":
            ops.append(("pool", inner))
        elif type(inner) is keras.layers.Activation:
            ops.append(("activation", inner.activation))
        else:
            raise NotFusable(f"{model.name}: layer {layer.name!r} ({type(inner).__name__}) has no fused form; "
                             f"only Flatten, Dense, Conv1D/2D, pooling and Activation layers fuse")
    return ops


def _signature(ops) -> tuple:
    def of(op):
        if op[0] in ("dense", "conv"):
            return (op[0], str(op[1].get_config() | {"name": ""}), op[2] is not None)
        return (op[0], str(op[1].get_config() | {"name": ""}) if op[0] == "pool" else getattr(op[-1], "__name__", ""))
    return tuple(of(op) for op in ops)


def _grouped(h: tf.Tensor, k: int) -> tf.Tensor:
    """[K, B, ..., C] -> [B, ..., K * C]: the networks' channels side by side."""
    rank = len(h.shape)
    h = tf.transpose(h, [1, *range(2, rank - 1), 0, rank - 1])
    return tf.reshape(h, tf.concat([tf.shape(h)[:-2], [k * tf.shape(h)[-1]]], 0))


def _per_network(h: tf.Tensor, k: int) -> tf.Tensor:
    """[B, ..., K * C] -> [K, B, ..., C] (the inverse of _grouped)."""
    rank = len(h.shape)
    h = tf.reshape(h, tf.concat([tf.shape(h)[:-1], [k, tf.shape(h)[-1] // k]], 0))
    return tf.transpose(h, [rank - 1, *range(rank - 1), rank])


class StackedNetworks:
    """The weights, masks and momentum buffers of K networks, stacked on a leading network axis.
    `read()` copies the models' current weights in; `write(k)` copies network k's back into its
    model (so evaluate / get_state / export see it)."""

    def __init__(self, models: List[keras.Model]):
        self.models = list(models)
        self.ops = [_layer_ops(m) for m in self.models]
        signatures = {_signature(ops) for ops in self.ops}
        if len(signatures) != 1:
            raise NotFusable(f"the networks have different architectures ({len(signatures)} kinds); "
                             f"only networks of one architecture fuse")
        self.dense = [i for i, op in enumerate(self.ops[0]) if op[0] in ("dense", "conv")]  # the weighted layers
        k = len(self.models)

        def stacked(values, name):
            return tf.Variable(np.stack(values), name=name, trainable=True)

        self.kernels, self.biases, self.masks = [], [], []
        for i in self.dense:
            layers = [ops[i][1] for ops in self.ops]
            self.kernels.append(stacked([l.kernel.numpy() for l in layers], f"kernel{i}"))
            self.biases.append(stacked([l.bias.numpy() for l in layers], f"bias{i}")
                               if layers[0].use_bias else None)
            self.masks.append(tf.Variable(np.ones(self.kernels[-1].shape, np.float32), trainable=False)
                              if self.ops[0][i][2] is not None else None)
        self.variables = [v for pair in zip(self.kernels, self.biases) for v in pair if v is not None]
        self.velocities = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        self.size = k

    def read(self):
        """The models' current weights and masks into the stacks; momentum to zero (a fresh
        optimizer, as train() starts every call)."""
        for j, i in enumerate(self.dense):
            layers = [ops[i] for ops in self.ops]
            self.kernels[j].assign(np.stack([op[1].kernel.numpy() for op in layers]))
            if self.biases[j] is not None:
                self.biases[j].assign(np.stack([op[1].bias.numpy() for op in layers]))
            if self.masks[j] is not None:
                self.masks[j].assign(np.stack([wrapping.kernel_and_mask(op[2])[1].numpy() for op in layers]))
        for v in self.velocities:
            v.assign(tf.zeros_like(v))

    def write(self, k: int):
        for j, i in enumerate(self.dense):
            layer = self.ops[k][i][1]
            layer.kernel.assign(self.kernels[j][k])
            if self.biases[j] is not None:
                layer.bias.assign(self.biases[j][k])

    def stored_kernels_exact(self) -> bool:
        """Whether every pruned weight is exactly zero and every mask 0/1 (wrapping's
        masked_forward_is_identity for all K): then the forward pass may use the stored kernels
        and mask the gradients, bit for bit what autodiff through kernel * mask gives."""
        return all(wrapping.masked_forward_is_identity(m) for m in self.models)

    def logits(self, x: tf.Tensor, stored: bool) -> tf.Tensor:
        """Logits [K, B, classes] of inputs x [K, B, ...]."""
        h, j, k, grouped = x, 0, self.size, False
        for op in self.ops[0]:
            if op[0] in ("conv", "pool") and not grouped:
                h, grouped = _grouped(h, k), True
            elif op[0] in ("flatten", "dense") and grouped:
                h, grouped = _per_network(h, k), False
            if op[0] == "flatten":
                h = tf.reshape(h, [tf.shape(h)[0], tf.shape(h)[1], -1])
            elif op[0] == "activation":
                h = op[1](h)
            elif op[0] == "pool":  # per channel: the grouped layout as it is
                h = op[1].call(h)
            else:
                layer = op[1]
                kernel = self.kernels[j] if stored or self.masks[j] is None else self.kernels[j] * self.masks[j]
                if op[0] == "dense":
                    h = tf.matmul(h, kernel)  # batched over the network axis
                    if self.biases[j] is not None:
                        h = h + self.biases[j][:, None, :]
                else:  # [K, ..., C, O] -> [..., C, K * O]: K groups, network k's filters k * O ...
                    rank = len(kernel.shape)
                    filters = tf.transpose(kernel, [*range(1, rank - 1), 0, rank - 1])
                    filters = tf.reshape(filters, [*kernel.shape[1:-1], k * kernel.shape[-1]])
                    h = tf.nn.convolution(h, filters, layer.strides, layer.padding.upper(),
                                          dilations=layer.dilation_rate)
                    if self.biases[j] is not None:
                        h = h + tf.reshape(self.biases[j], [-1])
                h = layer.activation(h)
                j += 1
        return _per_network(h, k) if grouped else h

    def masked(self, grads: List[tf.Tensor]) -> List[tf.Tensor]:
        """Each kernel's gradient times its mask (for gradients taken with the stored kernels)."""
        masks = {id(k): m for k, m in zip(self.kernels, self.masks) if m is not None}
        return [g * masks[id(v)] if id(v) in masks else g for g, v in zip(grads, self.variables)]
