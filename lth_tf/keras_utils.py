"""Checks and per-example evaluation for users' own Keras models and tf.data datasets.

Shared by the Python API (lth_tf.keras_trainer, ticket_search, ...) and `lth_tf.callbacks`. Conventions:
- a model is a tf_keras (Keras 2) Sequential or functional model with one output of class scores
  (logits or probabilities; `outputs_are_probabilities` tells which); a single-unit output is a
  binary classifier (sigmoid probability or logit);
- a dataset is a batched `tf.data.Dataset` of `(x, y)` (or `(x, y, sample_weight)`); labels are
  integer class ids or one-hot rows.
"""
import warnings
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf.errors import ConfigError
from lth_tf.metrics.scores import el2n_of_probabilities
from lth_tf.training.compiled import compiled

_KERAS3_HINT = ("lth-tf works with tf_keras (Keras 2), which tfmot requires: build the model with "
                "`import tf_keras as keras` (import lth_tf first: it sets TF_USE_LEGACY_KERAS=1, so that "
                "`tf.keras` means tf_keras too).")


def check_model(model, what: str = "model") -> keras.Model:
    """A tf_keras Sequential or functional model, or a ConfigError saying how to get one."""
    if not isinstance(model, keras.Model):
        module = type(model).__module__ or ""
        if module.split(".")[0] == "keras":
            raise ConfigError(f"The {what} is a Keras 3 model ({type(model).__module__}.{type(model).__name__}). "
                              + _KERAS3_HINT)
        raise ConfigError(f"The {what} must be a tf_keras model (Sequential or functional), got {type(model).__name__}.")
    if not (isinstance(model, keras.Sequential) or getattr(model, "_is_graph_network", False)):
        raise ConfigError(
            f"The {what} is a subclassed keras.Model ({type(model).__name__}). lth-tf wraps the prunable layers "
            f"with `keras.models.clone_model`, which can rebuild only Sequential and functional models. Fix: "
            f"write the model functionally (`inputs = keras.Input(shape); outputs = ...; "
            f"keras.Model(inputs, outputs)`) or as `keras.Sequential([...])`. If its `call` only chains its "
            f"layers, `inputs = keras.Input(shape=...); functional = keras.Model(inputs, {what}.call(inputs))` "
            f"converts it and keeps its layers and weights.")
    if len(model.outputs or []) > 1:
        raise ConfigError(f"The {what} has {len(model.outputs)} outputs; lth-tf scores and prunes single-output "
                          f"classifiers. Build a model with the classification head as its only output.")
    return model


def check_dataset(ds, what: str = "train_ds", model: Optional[keras.Model] = None) -> tf.data.Dataset:
    """A batched tf.data.Dataset of (x, y) or (x, y, sample_weight), or a ConfigError with the fix."""
    if not isinstance(ds, tf.data.Dataset):
        raise ConfigError(f"{what} must be a batched tf.data.Dataset of (x, y) pairs, got {type(ds).__name__}. "
                          f"From numpy arrays: `tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x)).batch(64)`.")
    spec = ds.element_spec
    if not (isinstance(spec, tuple) and len(spec) in (2, 3)):
        raise ConfigError(f"{what} must yield (x, y) pairs (or (x, y, sample_weight)); it yields {spec}. "
                          f"Map it first, e.g. `ds.map(lambda ex: (ex['image'], ex['label']))`.")
    x_spec = spec[0]
    if model is not None and isinstance(x_spec, tf.TensorSpec) and len(model.inputs or []) == 1:
        wanted = len(model.inputs[0].shape)
        if x_spec.shape.rank is not None and x_spec.shape.rank == wanted - 1:
            raise ConfigError(f"{what} looks unbatched: its x has shape {x_spec.shape}, the model takes "
                              f"{model.inputs[0].shape}. Batch it: `{what}.batch(64)`.")
    return ds


def build_from_dataset(model: keras.Model, ds: tf.data.Dataset) -> keras.Model:
    """Builds a Sequential model defined without an input shape from the dataset's x spec."""
    if not model.built:
        x_spec = ds.element_spec[0]
        if not isinstance(x_spec, tf.TensorSpec):
            raise ConfigError("The model is not built and the dataset's x is not a single tensor: give the model "
                              "an input shape (`keras.Input(shape=...)` as its first layer).")
        model.build((None,) + tuple(x_spec.shape[1:]))
    return model


def outputs_are_probabilities(model: keras.Model, from_logits: Optional[bool] = None) -> bool:
    """Whether the model outputs probabilities (softmax / sigmoid) rather than logits: `from_logits`
    if given, else the compiled loss's `from_logits` (a string loss such as
    'sparse_categorical_crossentropy' means probabilities, as in Keras), else the last layer's
    activation."""
    if from_logits is not None:
        return not from_logits
    loss = getattr(model, "loss", None)
    if loss is not None and hasattr(loss, "get_config"):
        config = loss.get_config()
        if "from_logits" in config:
            return not config["from_logits"]
    if isinstance(loss, str) and "crossentropy" in loss:
        return True
    last = model.layers[-1]
    last = getattr(last, "layer", last)  # through a pruning wrapper
    activation = getattr(last, "activation", None)
    if isinstance(last, keras.layers.Softmax):
        return True
    return getattr(activation, "__name__", "") in ("softmax", "sigmoid")


# Keras' cross-entropy losses by function name: all expect probabilities unless from_logits=True.
_CROSSENTROPY_FUNCTIONS = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
                           "categorical_focal_crossentropy", "binary_focal_crossentropy")


def _loss_expecting_probabilities(loss) -> Optional[str]:
    """How to name `loss` (a model.compile loss: string, function or Loss object) when it is a
    Keras cross-entropy that expects probabilities (from_logits=False, Keras' default), else None."""
    if isinstance(loss, str):
        try:
            resolved = keras.losses.get(loss)
        except (ValueError, TypeError):
            return None
        return repr(loss) if _loss_expecting_probabilities(resolved) else None
    if isinstance(loss, keras.losses.Loss):
        config = loss.get_config()
        return f"{type(loss).__name__}(from_logits=False)" if config.get("from_logits") is False else None
    name = getattr(loss, "__name__", "")
    return f"keras.losses.{name}" if name in _CROSSENTROPY_FUNCTIONS else None


def _logits_layer(model: keras.Model) -> Optional[keras.layers.Layer]:
    """The last layer when it certainly outputs logits: a Dense or Conv layer (wrapped or not)
    without activation; None when the outputs may be probabilities or lth-tf cannot tell."""
    last = model.layers[-1] if model.layers else None
    last = getattr(last, "layer", last)  # through a pruning wrapper
    if isinstance(last, (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)) and \
            getattr(last.activation, "__name__", "") == "linear":
        return last
    return None


_WARNED_LOGITS_LOSS = set()  # (layer name, loss) pairs already warned about


def warn_if_logits_with_probability_loss(model: keras.Model, loss=None):
    """Warns when a model that outputs logits is trained with a loss that expects probabilities:
    Keras then clips the "probabilities" and training stays near chance accuracy without an error.
    Once per process for each (layer, loss): imp / omp and the callbacks see many copies of one
    model. loss: the compile loss (default: the compiled model's)."""
    loss = getattr(model, "loss", None) if loss is None else loss
    layer = _logits_layer(model) if loss is not None else None
    named = _loss_expecting_probabilities(loss) if layer is not None else None
    if named is None or (layer.name, named) in _WARNED_LOGITS_LOSS:
        return
    _WARNED_LOGITS_LOSS.add((layer.name, named))
    warnings.warn(
        f"The model outputs logits (its last layer {layer.name!r} is a {type(layer).__name__} without activation) "
        f"but its loss {named} expects probabilities: training this way stays near chance accuracy. Compile with "
        f"loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True) (or CategoricalCrossentropy / "
        f"BinaryCrossentropy with from_logits=True), or end the model with a softmax.", UserWarning, stacklevel=3)


def _predict_fn(model):
    return compiled(model, ("api_predict",), lambda: tf.function(lambda x: model(x, training=False)))


def _labels(y: np.ndarray, num_outputs: int) -> np.ndarray:
    y = np.asarray(y)
    if num_outputs > 1 and y.ndim >= 2 and y.shape[-1] == num_outputs:
        return y.argmax(-1).astype(np.int64)  # one-hot
    return y.reshape(len(y), -1)[:, 0].round().astype(np.int64)


def class_probabilities(model: keras.Model, data, from_logits: Optional[bool] = None,
                        batch_size: int = 512) -> Tuple[np.ndarray, np.ndarray]:
    """(probabilities (n, classes), integer labels (n,)) of every example of `data` (a dataset of
    (x, y, ...) batches, or a tuple (x, y) of arrays), in its order, in inference mode. A
    single-unit (binary) output becomes two columns [1 - p, p]."""
    probabilities = outputs_are_probabilities(model, from_logits)
    predict = _predict_fn(model)
    if isinstance(data, tuple) and not isinstance(data, tf.data.Dataset):
        all_x, all_y = data[0], data[1]  # not x, y: the loop below rebinds those while this generator runs
        batches = ((all_x[i:i + batch_size], all_y[i:i + batch_size]) for i in range(0, len(all_y), batch_size))
    else:
        batches = ((b[0], b[1]) for b in data)
    probs, labels = [], []
    for x, y in batches:
        out = predict(x).numpy().astype(np.float64)
        out = out.reshape(len(out), -1)
        width = out.shape[1]
        if width == 1:
            p = out[:, 0] if probabilities else 1.0 / (1.0 + np.exp(-out[:, 0]))
            out = np.stack([1.0 - p, p], 1)
        elif not probabilities:
            out = np.exp(out - out.max(1, keepdims=True))
            out /= out.sum(1, keepdims=True)
        probs.append(out)
        labels.append(_labels(y.numpy() if hasattr(y, "numpy") else y, width))
    if not probs:
        raise ConfigError("The dataset to evaluate is empty.")
    return np.concatenate(probs), np.concatenate(labels)


def correct_el2n_loss(probs: np.ndarray, labels: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per example: correct (bool), EL2N ||p - onehot(y)||_2 (Paul et al. 2021) and cross-entropy."""
    rows = np.arange(len(labels))
    correct = probs.argmax(1) == labels
    loss = -np.log(np.clip(probs[rows, labels], 1e-12, 1.0))
    return correct, el2n_of_probabilities(probs, labels), loss


def global_step(model: keras.Model) -> int:
    """Keras' global step: `model.optimizer.iterations` (what learning-rate schedules see)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ConfigError("The model is not compiled: call model.compile(optimizer=..., loss=...) before fit.")
    return int(optimizer.iterations.numpy())


def optimizer_variables(optimizer):
    variables = optimizer.variables
    return list(variables() if callable(variables) and not isinstance(variables, (list, tuple)) else variables)


def reset_optimizer(optimizer, step: int = 0):
    """Zero optimizer state (momentum, Adam moments) and iterations = `step`, as a fresh optimizer
    whose learning-rate schedule resumes at `step`."""
    iterations = optimizer.iterations
    for v in optimizer_variables(optimizer):
        if v is not iterations:
            v.assign(tf.zeros_like(v))
    iterations.assign(step)
