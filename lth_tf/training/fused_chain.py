"""K wrapped Keras networks of one Dense architecture as stacked variables with a network axis:
the arithmetic of the fused trainer (lth_tf/training/fused.py).

A network fuses when its layers form one chain of InputLayer / Flatten / Dense (wrapped with a
mask or not) / Activation: LeNet-300-100 and the MLPs. Its Dense layers become batched matmuls
over the network axis (einsum 'kbi,kio->kbo': one kernel call for K networks, where K separate
steps would pay the per-op overhead K times). Other architectures (convolutions, batch norm)
raise NotFusable: the callers train those one by one with lth_tf.training.train.
"""
from typing import List

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

from lth_tf.sparsity import wrapping


class NotFusable(ValueError):
    """These networks cannot be trained in one fused step (the message says why)."""


def _layer_ops(model: keras.Model) -> list:
    """The chain of ("flatten",) / ("dense", layer, wrapper or None) / ("activation", fn) of a model."""
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
        elif type(inner) is keras.layers.Activation:
            ops.append(("activation", inner.activation))
        else:
            raise NotFusable(f"{model.name}: layer {layer.name!r} ({type(inner).__name__}) has no fused form; "
                             f"only Flatten, Dense and Activation layers fuse")
    return ops


def _signature(ops) -> tuple:
    return tuple((op[0], tuple(op[1].kernel.shape), op[1].use_bias, op[1].activation.__name__, op[2] is not None)
                 if op[0] == "dense" else (op[0], getattr(op[-1], "__name__", "")) for op in ops)


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
        self.dense = [i for i, op in enumerate(self.ops[0]) if op[0] == "dense"]
        k = len(self.models)

        def stacked(values, name):
            return tf.Variable(np.stack(values), name=name, trainable=True)

        self.kernels, self.biases, self.masks = [], [], []
        for i in self.dense:
            layers = [ops[i][1] for ops in self.ops]
            self.kernels.append(stacked([l.kernel.numpy() for l in layers], f"kernel{i}"))
            self.biases.append(stacked([l.bias.numpy()[None] for l in layers], f"bias{i}")
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
                self.biases[j].assign(np.stack([op[1].bias.numpy()[None] for op in layers]))
            if self.masks[j] is not None:
                self.masks[j].assign(np.stack([wrapping.kernel_and_mask(op[2])[1].numpy() for op in layers]))
        for v in self.velocities:
            v.assign(tf.zeros_like(v))

    def write(self, k: int):
        for j, i in enumerate(self.dense):
            layer = self.ops[k][i][1]
            layer.kernel.assign(self.kernels[j][k])
            if self.biases[j] is not None:
                layer.bias.assign(self.biases[j][k][0])

    def stored_kernels_exact(self) -> bool:
        """Whether every pruned weight is exactly zero and every mask 0/1 (wrapping's
        masked_forward_is_identity for all K): then the forward pass may use the stored kernels
        and mask the gradients, bit for bit what autodiff through kernel * mask gives."""
        return all(wrapping.masked_forward_is_identity(m) for m in self.models)

    def logits(self, x: tf.Tensor, stored: bool) -> tf.Tensor:
        """Logits [K, B, classes] of inputs x [K, B, ...]."""
        h, j = x, 0
        for op in self.ops[0]:
            if op[0] == "flatten":
                h = tf.reshape(h, [tf.shape(h)[0], tf.shape(h)[1], -1])
            elif op[0] == "activation":
                h = op[1](h)
            else:
                kernel = self.kernels[j] if stored or self.masks[j] is None else self.kernels[j] * self.masks[j]
                h = tf.matmul(h, kernel)  # batched over the network axis
                if self.biases[j] is not None:
                    h = h + self.biases[j]
                h = op[1].activation(h)
                j += 1
        return h

    def masked(self, grads: List[tf.Tensor]) -> List[tf.Tensor]:
        """Each kernel's gradient times its mask (for gradients taken with the stored kernels)."""
        masks = {id(k): m for k, m in zip(self.kernels, self.masks) if m is not None}
        return [g * masks[id(v)] if id(v) in masks else g for g, v in zip(grads, self.variables)]
