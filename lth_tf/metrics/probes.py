"""Linear probes: how linearly decodable the classes are from each block of a frozen network.

For every layer named `block{i}` (the registry's convention), the block's output is pooled
channel-wise (the mean over all spatial positions, one value per channel; an MLP's hidden layer
is already one value per unit) and a linear softmax layer is trained on the pooled features of
the training split, then scored on the evaluation split. The network itself never changes.

Probe training: features standardized with the training split's mean and standard deviation
(untrained networks' features have arbitrary scales), then `epochs` passes of Adam (lr 0.005 by
default) over shuffled batches of the cross-entropy plus an L2 penalty `weight_decay`·|W|²/2 on
the probe's weights (added to the gradient, like the training loop's weight decay), from zero
weights (Keras' Adam update, in numpy). The problem is convex, so zero initialization loses
nothing and makes probes deterministic given the shuffling seed.
"""
import re
from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf.data.dataset import Dataset, Split
from lth_tf.data.pipeline import eval_batches
from lth_tf.training.compiled import compiled

_BLOCK = re.compile(r"^block(\d+)$")


def block_names(model: keras.Model) -> List[str]:
    """The model's `block{i}` layers, in block order."""
    names = [layer.name for layer in model.layers if _BLOCK.match(layer.name)]
    return sorted(names, key=lambda n: int(_BLOCK.match(n).group(1)))


def pool_channels(features: np.ndarray) -> np.ndarray:
    """(n, ..., channels) -> (n, channels): the mean over every axis but the first and last."""
    if features.ndim <= 2:
        return features.reshape(len(features), -1)
    return features.mean(axis=tuple(range(1, features.ndim - 1)))


def pooled_features(model: keras.Model, ds: Dataset, split: Split, names: Sequence[str],
                    batch_size: int = 1000) -> Dict[str, np.ndarray]:
    """{block name: (n, channels) pooled outputs} for the split, in split order, in inference
    mode (batch-norm layers use their moving statistics)."""
    def build():  # one traced extractor per model and block list
        extractor = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
        return tf.function(lambda x: extractor(x, training=False))
    forward = compiled(model, ("probe_features", tuple(names)), build)
    chunks = {n: [] for n in names}
    for x, _, _ in eval_batches(ds, split, batch_size):
        outputs = forward(x)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for n, out in zip(names, outputs):
            chunks[n].append(pool_channels(out.numpy()))
    return {n: np.concatenate(c).astype(np.float32) for n, c in chunks.items()}


def train_linear_probe(x_train: np.ndarray, y_train: np.ndarray, x_eval: np.ndarray, y_eval: np.ndarray,
                       num_classes: int, epochs: int = 5, lr: float = 0.005, weight_decay: float = 1e-4,
                       batch_size: int = 128, seed: int = 0) -> Dict[str, float]:
    """Trains a linear softmax probe (see the module docstring) -> train and eval accuracy.
    Plain numpy: for a linear layer on a few thousand examples that is faster than tracing a
    TensorFlow step per probe."""
    mean, std = x_train.mean(0), x_train.std(0)
    std = np.where(std > 1e-8, std, 1.0)
    xt = ((x_train - mean) / std).astype(np.float64)
    xe = ((x_eval - mean) / std).astype(np.float64)
    y_train = np.asarray(y_train, np.int64)
    params = [np.zeros((xt.shape[1], num_classes)), np.zeros(num_classes)]
    moments = [[np.zeros_like(q), np.zeros_like(q)] for q in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-7  # Keras' Adam defaults
    rng = np.random.default_rng(seed)
    t = 0
    for _ in range(epochs):
        order = rng.permutation(len(y_train))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            x, y = xt[idx], y_train[idx]
            logits = x @ params[0] + params[1]
            probs = np.exp(logits - logits.max(1, keepdims=True))
            probs /= probs.sum(1, keepdims=True)
            probs[np.arange(len(y)), y] -= 1.0  # d(mean cross-entropy)/d(logits), times batch size
            grads = [x.T @ probs / len(y) + weight_decay * params[0], probs.mean(0)]
            t += 1
            for q, g, m in zip(params, grads, moments):
                m[0] = beta1 * m[0] + (1 - beta1) * g
                m[1] = beta2 * m[1] + (1 - beta2) * g * g
                step = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
                q -= step * m[0] / (np.sqrt(m[1]) + eps)

    def accuracy(x, y):
        return float(np.mean(np.argmax(x @ params[0] + params[1], -1) == y))
    return {"train_accuracy": accuracy(xt, y_train), "test_accuracy": accuracy(xe, y_eval)}


def probe_blocks(model: keras.Model, ds: Dataset, eval_split: Split = None, epochs: int = 5, lr: float = 0.005,
                 weight_decay: float = 1e-4, batch_size: int = 128, seed: int = 0) -> List[dict]:
    """One row per block: {block, block_index, channels, train_accuracy, test_accuracy} of a
    linear probe on the frozen model (trained on ds.train, scored on `eval_split`, default test)."""
    eval_split = ds.test if eval_split is None else eval_split
    names = block_names(model)
    if not names:
        raise ValueError(f"model {model.name} has no layers named block1, block2, ...: nothing to probe")
    train_features = pooled_features(model, ds, ds.train, names)
    eval_features = pooled_features(model, ds, eval_split, names)
    rows = []
    for name in names:
        scores = train_linear_probe(train_features[name], ds.train.y, eval_features[name], eval_split.y,
                                    ds.num_classes, epochs, lr, weight_decay, batch_size, seed)
        rows.append({"block": name, "block_index": int(_BLOCK.match(name).group(1)),
                     "channels": int(train_features[name].shape[1]), **scores})
    return rows
