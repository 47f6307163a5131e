"""Per-example scores of a network: EL2N and GraNd (Paul et al. 2021), predictive entropy.

Each function returns one score per example of a split, in split order (key them by
`split.index`). The labels are the split's own, so a relabeled split (label noise) is scored
against its noisy labels. Scores average over several networks in the DataScoring component.
Networks are evaluated in inference mode (BatchNorm uses its moving statistics), so an
example's score does not depend on the other examples of its batch.
"""
from typing import Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf.data.dataset import Dataset, Split
from lth_tf.data.pipeline import eval_batches
from lth_tf.sparsity import wrapping
from lth_tf.training.compiled import compiled
from lth_tf.training.loop import predict
from lth_tf.training.strategy import run_sliced


def softmax(logits) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def el2n(logits, labels) -> np.ndarray:
    """Error L2 norm: ||softmax(logits) - onehot(label)||_2 per example."""
    return el2n_of_probabilities(softmax(logits), labels)


def el2n_of_probabilities(probs, labels) -> np.ndarray:
    """Error L2 norm from class probabilities: ||p - onehot(label)||_2 per example."""
    error = np.array(probs, np.float64)
    error[np.arange(len(error)), np.asarray(labels, np.int64)] -= 1.0
    return np.sqrt((error ** 2).sum(-1))


def predictive_entropy(probs) -> np.ndarray:
    """-sum p log p per example (natural log). Takes probabilities, so an ensemble can average
    its members' predictions first (the active-learning "max entropy" score)."""
    probs = np.asarray(probs, np.float64)
    return -(probs * np.log(np.clip(probs, 1e-12, 1.0))).sum(-1)


def el2n_scores(model: keras.Model, ds: Dataset, split: Split, batch_size: int = 1000) -> np.ndarray:
    return el2n(predict(model, ds, split, batch_size), split.y)


def entropy_scores(model: keras.Model, ds: Dataset, split: Split, batch_size: int = 1000) -> np.ndarray:
    return predictive_entropy(softmax(predict(model, ds, split, batch_size)))


def grand_scores(model: keras.Model, ds: Dataset, split: Split, batch_size: int = 512,
                 jit_compile: Optional[bool] = None) -> np.ndarray:
    """Gradient norm: ||d loss(x, y) / d theta||_2 over all trainable parameters, per example.

    Per-example gradients are vectorized over the batch with tf.vectorized_map (pfor turns the
    per-example backward pass into batched ops), never a Python loop over examples. Gradients
    of pruned weights are masked, as in training: pruned weights are not parameters.
    jit_compile: XLA or not; None = XLA when the network has convolutions, whose vectorized
    per-example gradients XLA computes about 3x faster (bench/scoring.py)."""
    norms = _grand_function(model, jit_compile)
    return np.concatenate([norms(x, y).numpy() for x, y, _ in eval_batches(ds, split, batch_size)]).astype(np.float64)


def _dense_layers(model):
    """(layer, kernel, bias, mask) of the Dense layers (wrapped or not) with a bias and 2-D
    inputs. For those, the kernel's per-example gradient is the outer product a g^T of the
    layer's input a and the bias gradient g, so its squared (masked) norm is (a*a)^T M (g*g):
    no need to materialize a (batch, in, out) gradient, which makes GraNd of MLPs ~5x cheaper."""
    masks = {v.ref(): m for v, m in wrapping.kernel_mask_pairs(model)}
    found = []
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if not isinstance(inner, keras.layers.Dense) or not inner.use_bias or not inner.trainable:
            continue
        try:
            if len(layer.input.shape) != 2:
                continue
        except AttributeError:  # a layer called more than once has no single input
            continue
        found.append((layer, inner.kernel, inner.bias, masks.get(inner.kernel.ref())))
    return found


def _grand_function(model, jit_compile: Optional[bool]):
    """The traced GraNd pass of the model, built once per model and `jit_compile` setting."""
    return compiled(model, ("grand", jit_compile), lambda: _build_grand_function(model, jit_compile))


def _build_grand_function(model, jit_compile: Optional[bool]):
    dense = _dense_layers(model)
    ghost = {kernel.ref() for _, kernel, _, _ in dense}
    variables = [v for v in model.trainable_variables if v.ref() not in ghost]
    has_convolutions = any(len(v.shape) >= 3 for v in variables)
    masks = {v.ref(): m for v, m in wrapping.kernel_mask_pairs(model)}
    masks = [masks.get(v.ref()) for v in variables]
    # The same network, also returning the inputs of the Dense layers.
    tapped = keras.Model(model.inputs, [layer.input for layer, _, _, _ in dense] + list(model.outputs))
    bias_position = {v.ref(): i for i, v in enumerate(variables)}

    def example_norm(example):
        x, y = example
        with tf.GradientTape() as tape:
            *inputs, logits = tapped(x[None], training=False)
            loss = tf.keras.losses.sparse_categorical_crossentropy(y[None], logits, from_logits=True)
        grads = tape.gradient(loss, variables)
        grads = [g if m is None else g * m for g, m in zip(grads, masks)]
        squares = [tf.reduce_sum(tf.square(g)) for g in grads]
        for a, (_, kernel, bias, mask) in zip(inputs, dense):
            a2, g2 = tf.square(a[0]), tf.square(grads[bias_position[bias.ref()]])
            squares.append(tf.tensordot(a2, g2 if mask is None else tf.linalg.matvec(mask, g2), 1))
        return tf.sqrt(tf.add_n(squares))

    @tf.function(jit_compile=has_convolutions if jit_compile is None else jit_compile)
    def replica_norms(x, y):
        return tf.vectorized_map(example_norm, (x, y))

    # Per example, so each replica scores its slice of the batch exactly as one device would;
    # XLA compiles the per-replica function only (collectives stay outside the cluster).
    return tf.function(lambda x, y: run_sliced(model.distribute_strategy, replica_norms, x, y))


SCORE_KINDS = ("el2n", "grand", "entropy", "prediction")  # prediction: the predicted class, argmax of the logits


def write_scores(model: keras.Model, ds: Dataset, split, path: str, kinds=("el2n",), batch_size: int = 512,
                 jit_compile: Optional[bool] = None) -> int:
    """Per-example scores of `split` in one streaming pass, appended to the CSV file `path` batch
    by batch (columns: index, then one per kind): the same numbers as el2n_scores / grand_scores /
    entropy_scores, and `prediction` (the predicted class, predict(...).argmax(-1)), but neither
    the images (a streamed split, lth_tf/data/streaming.py) nor the scores or logits are ever
    held whole. Rows are in split order. Written to `path`.partial and
    renamed when complete, so a file at `path` is always a whole pass. Returns the row count."""
    from lth_tf.training.streamed import logits_step

    kinds = tuple(kinds)
    unknown = sorted(set(kinds) - set(SCORE_KINDS))
    if unknown or not kinds:
        from lth_tf.errors import ConfigError
        raise ConfigError(f"Unknown score kinds {unknown or kinds!r}; choose from {', '.join(SCORE_KINDS)}.")
    logits_of = logits_step(model)
    norms = _grand_function(model, jit_compile) if "grand" in kinds else None
    rows = 0
    partial = path + ".partial"
    with tf.io.gfile.GFile(partial, "w") as out:
        out.write(",".join(("index",) + kinds) + "\n")
        for x, y, index in eval_batches(ds, split, batch_size):
            columns = [index.numpy()]
            if "el2n" in kinds or "entropy" in kinds or "prediction" in kinds:
                logits = logits_of(x).numpy()
                probs = softmax(logits) if "el2n" in kinds or "entropy" in kinds else None
            for kind in kinds:
                if kind == "prediction":
                    columns.append(logits.argmax(-1).astype(np.float64))
                elif kind == "el2n":
                    columns.append(el2n_of_probabilities(probs, y.numpy()))
                elif kind == "entropy":
                    columns.append(predictive_entropy(probs))
                else:
                    columns.append(norms(x, y).numpy().astype(np.float64))
            out.write("".join(f"{int(i)}," + ",".join(repr(float(c[r])) for c in columns[1:]) + "\n"
                              for r, i in enumerate(columns[0])))
            out.flush()
            rows += len(columns[0])
    tf.io.gfile.rename(partial, path, overwrite=True)
    return rows


def pass_scores(model: keras.Model, ds: Dataset, split, path, kinds=("el2n",), batch_size: int = 512) -> dict:
    """`write_scores` to `path`, then its columns (`read_scores`), checked to be `split`'s
    examples in split order: per-example scores of a streamed split with only the n-long columns
    ever in memory."""
    import os
    path = str(path)
    if os.path.dirname(path):
        tf.io.gfile.makedirs(os.path.dirname(path))
    write_scores(model, ds, split, path, kinds, batch_size)
    table = read_scores(path)
    if not np.array_equal(table["index"], split.index):
        raise RuntimeError(f"{path} does not hold the split's examples in split order; delete it and rerun.")
    return table


def read_scores(path: str) -> dict:
    """The columns of a write_scores file: {"index": int64 array, kind: float64 array, ...}."""
    with tf.io.gfile.GFile(path) as f:
        header = f.readline().strip().split(",")
        table = np.loadtxt(f, delimiter=",", ndmin=2, dtype=np.float64)
    table = table.reshape(-1, len(header))
    return {name: (table[:, k].astype(np.int64) if name == "index" else table[:, k]) for k, name in enumerate(header)}


def example_scores(model: keras.Model, ds: Dataset, split, kinds, batch_size: int = 1000, path=None) -> dict:
    """{kind: per-example scores of `split`, in split order} for kinds of SCORE_KINDS: the one
    place that chooses between memory and a stream. An in-memory split is scored whole
    (el2n_scores, grand_scores, and entropy / prediction from one predict); a streamed split
    (lth_tf/data/streaming.py) in one write_scores pass to the CSV `path`, which it then requires,
    so the logits are never held whole. Both give the same numbers."""
    from lth_tf.data.streaming import is_streamed
    kinds = tuple(kinds)
    if is_streamed(split):
        if path is None:
            raise ValueError("a streamed split's scores are written to a file as they are computed: pass path")
        table = pass_scores(model, ds, split, path, kinds, batch_size)
        return {kind: table[kind] for kind in kinds}
    logits = predict(model, ds, split, batch_size) if {"entropy", "prediction"} & set(kinds) else None
    out = {}
    for kind in kinds:
        if kind == "el2n":
            out[kind] = el2n_scores(model, ds, split, batch_size)
        elif kind == "grand":
            out[kind] = grand_scores(model, ds, split, batch_size)
        elif kind == "entropy":
            out[kind] = predictive_entropy(softmax(logits))
        elif kind == "prediction":
            out[kind] = logits.argmax(-1).astype(np.float64)
        else:
            from lth_tf.errors import ConfigError
            raise ConfigError(f"Unknown score kind {kind!r}; choose from {', '.join(SCORE_KINDS)}.")
    return out
