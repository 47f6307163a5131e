"""Your model as the Python API trains it: a wrapped copy (`wrap`), weights loaded into it
(`load_state`), the Keras-fit trainer of the lottery core (`KerasTrainer`: every training is
`model.compile(**compile_kwargs)` + `model.fit` on your datasets), and the records a training
returns (`Level`, `TrainedNetwork`)."""
import dataclasses
import warnings
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf import keras_utils as ku
from lth_tf.callbacks import RewindSnapshot
from lth_tf.errors import ConfigError
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping

Masks = Dict[str, np.ndarray]
State = Dict[str, np.ndarray]


# ----------------------------------------------------------------------------- wrapping

def layer_predicate(prunable) -> Callable:
    if prunable is None:
        return wrapping.maskable
    if callable(prunable):
        return prunable
    if isinstance(prunable, str):
        prunable = [prunable]
    names = set(prunable)
    return lambda layer: layer.name in names


def copy_model(model: keras.Model) -> keras.Model:
    clone = keras.models.clone_model(model)
    if not clone.built:
        clone.build(model.input_shape)
    clone.set_weights(model.get_weights())
    return clone


def wrap(model: keras.Model, prunable=None) -> keras.Model:
    """A copy of `model` whose prunable layers carry all-ones masks (your model is not modified).

    prunable: None = every layer lth-tf can mask (output layer included): Dense / Conv kernels,
    SeparableConv pointwise kernels, Embedding matrices (`wrapping.MASKABLE`); a predicate
    layer -> bool; or layer names. One warning names the layers with weights that stay dense
    (depthwise, recurrent, attention layers)."""
    ku.check_model(model)
    ku.warn_if_logits_with_probability_loss(model)  # when the user compiled it
    if not model.built:
        raise ConfigError("The model is not built: give it an input shape (`keras.Input(shape=...)` as its first "
                          "layer, or `model.build((None, *shape))`).")
    names = {l.name for l in model.layers}
    if prunable is not None and not callable(prunable):
        wanted = {prunable} if isinstance(prunable, str) else set(prunable)
        if wanted - names:
            raise ConfigError(f"prunable names layers the model lacks: {sorted(wanted - names)}; its layers: "
                              f"{sorted(names)}.")
    chosen = [l for l in model.layers if layer_predicate(prunable)(l)]
    cannot = [f"{l.name!r} ({type(l).__name__})" for l in chosen if not wrapping.maskable(l)]
    if cannot:
        raise ConfigError(f"prunable chooses layers lth-tf cannot mask: {', '.join(cannot)}. {wrapping.MASKABLE} "
                          f"Leave them out of `prunable=` (their weights then stay dense).")
    if not chosen:
        raise ConfigError(f"No layer of the model is prunable. {wrapping.MASKABLE} Pass `prunable=` layer names or "
                          f"a predicate to choose.")
    unmasked = wrapping.unmasked_weight_layers(model)
    if unmasked:
        warnings.warn(f"lth-tf masks no weight of {len(unmasked)} layer(s) of the model: {', '.join(unmasked)}. "
                      f"{wrapping.MASKABLE} Their weights stay dense and outside the sparsity.",
                      UserWarning, stacklevel=2)
    return wrapping.wrap(copy_model(model), layer_predicate(prunable))


def load_state(model: keras.Model, state: State):
    """wrapping.set_state, matching variables by position when names differ (a model rebuilt
    elsewhere names its variables differently, but has them in the same order and shapes)."""
    variables = wrapping.state_variables(model)
    keys = [wrapping.var_key(v) for v in variables]
    if set(keys) != set(state):
        values = list(state.values())
        if len(values) != len(variables) or any(tuple(v.shape) != np.shape(a) for v, a in zip(variables, values)):
            raise ConfigError(f"The weights do not fit this model: it has {len(variables)} variables "
                              f"{keys[:4]}..., the weights {len(values)} {list(state)[:4]}....")
        state = dict(zip(keys, values))
    wrapping.set_state(model, state)


# ----------------------------------------------------------------------------- training

def fresh_compile_kwargs(compile_kwargs) -> dict:
    kwargs = dict(compile_kwargs() if callable(compile_kwargs) else compile_kwargs)
    if "optimizer" not in kwargs or "loss" not in kwargs:
        raise ConfigError("compile_kwargs must give at least `optimizer` and `loss` (the arguments of "
                          "model.compile), e.g. dict(optimizer='adam', loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), "
                          "metrics=['accuracy']).")
    optimizer = kwargs["optimizer"]
    if isinstance(optimizer, (keras.optimizers.Optimizer, keras.optimizers.legacy.Optimizer)):
        try:
            kwargs["optimizer"] = optimizer.__class__.from_config(optimizer.get_config())
        except Exception as e:  # a custom schedule without from_config, ...
            raise ConfigError(f"Cannot copy the optimizer via get_config/from_config ({e}); pass compile_kwargs as "
                              f"a function returning a dict with a new optimizer each call.") from e
    elif not isinstance(optimizer, str):
        module = type(optimizer).__module__ or ""
        if module.split(".")[0] == "keras":
            raise ConfigError(f"The optimizer is a Keras 3 object ({module}). " + ku._KERAS3_HINT)
    metrics = kwargs.get("metrics")
    if metrics:
        kwargs["metrics"] = [m.__class__.from_config(m.get_config()) if isinstance(m, keras.metrics.Metric) else m
                             for m in metrics]
    return kwargs


class _StopAtStep(keras.callbacks.Callback):
    def __init__(self, step: int):
        super().__init__()
        self.step = step

    def on_train_begin(self, logs=None):
        if ku.global_step(self.model) >= self.step:
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        if ku.global_step(self.model) >= self.step:
            self.model.stop_training = True


@dataclasses.dataclass
class FitOutcome:
    """One `KerasTrainer.train`: Keras' history and last logs, steps trained, {step: state} snapshots."""
    history: Dict[str, List[float]]
    metrics: Dict[str, float]
    steps: int
    snapshots: Dict[int, State]


@dataclasses.dataclass
class KerasTrainer:
    """Your model, data and compile arguments: the Keras-fit trainer of the lottery core
    (lth_tf/lottery/loop_trainer.py says what a trainer is): every training is
    `model.compile(**compile_kwargs)` + `model.fit`."""
    template: keras.Model  # an unwrapped copy of the user's model: architecture only
    prunable: Callable
    train_ds: tf.data.Dataset
    val_ds: Optional[tf.data.Dataset]
    compile_kwargs: object
    epochs: int
    callbacks: tuple
    verbose: int
    total_steps: Optional[int] = None  # the end of every training: set by the first (dense) one

    def network(self, init_seed: Optional[int] = None, parameters: Optional[int] = None) -> keras.Model:
        """A new wrapped network of the architecture, freshly initialized from the global RNG
        (re-seeded with `init_seed` when given); its hidden layers' width scaled so that it has
        about `parameters` trainable parameters when given (`scaled_architecture`)."""
        if init_seed is not None:
            keras.utils.set_random_seed(int(init_seed))
        template = self.template if parameters is None else scaled_architecture(
            self.template, width_for_parameters(self.template, int(parameters)))
        return wrapping.wrap(copy_architecture(template), self.prunable)

    def train(self, model: keras.Model, start_step: int, tag=None, snapshot_steps=(), callbacks: Sequence = ()):
        """compile + fit from `start_step` to the end of the budget (the first call: `epochs`
        epochs, which sets the budget), with the weights at `snapshot_steps` recorded."""
        snapshots = [RewindSnapshot(s) for s in snapshot_steps]
        history, metrics, steps = self.fit(model, start_step, self.total_steps, [*snapshots, *callbacks])
        if self.total_steps is None:
            self.total_steps = start_step + steps
        if self.verbose:
            shown = f"[search] level {tag}" if isinstance(tag, int) else "[{}] level {}".format(*tag)
            print(f"{shown} sparsity {M.sparsity(wrapping.get_masks(model)):.4f} " + " ".join(
                f"{k} {v:.4g}" for k, v in metrics.items()), flush=True)
        return FitOutcome(history, metrics, steps, {s.step: s.state for s in snapshots if s.state is not None})

    def scoring_batch(self):
        """The first batch of train_ds: what criteria that score the model (SNIP, GraSP, SynFlow) see."""
        x, y = next(iter(self.train_ds))[:2]
        return np.asarray(x), np.asarray(y)

    def fit(self, model: keras.Model, start_step: int = 0, end_step: Optional[int] = None,
            callbacks: Sequence = (), epochs: Optional[int] = None):
        """compile + fit from `start_step` to `end_step` (None: `epochs` epochs);
        returns (history dict, metrics dict, steps trained)."""
        model.compile(**fresh_compile_kwargs(self.compile_kwargs))
        model.optimizer.iterations.assign(start_step)
        cbs = list(callbacks) + list(self.callbacks)
        if end_step is not None:
            cbs.append(_StopAtStep(end_step))
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")  # every level compiles anew: Keras' retracing warnings are expected noise
        try:
            history = model.fit(self.train_ds, validation_data=self.val_ds, epochs=epochs or self.epochs,
                                callbacks=cbs, verbose=2 if self.verbose >= 2 else 0)
        finally:
            logger.setLevel(level)
        steps = ku.global_step(model) - start_step
        metrics = {k: float(v[-1]) for k, v in history.history.items() if v}
        return {k: [float(x) for x in v] for k, v in history.history.items()}, metrics, steps


def copy_architecture(template: keras.Model) -> keras.Model:
    clone = keras.models.clone_model(template)
    if not clone.built:
        clone.build(template.input_shape)
    return clone


def scaled_architecture(template: keras.Model, width: float) -> keras.Model:
    """The architecture with every hidden Dense layer's units and Conv layer's filters scaled by
    `width` (at least 1); the output layers keep theirs (the small-dense baseline)."""
    config = template.get_config()
    layers = config["layers"]
    if isinstance(template, keras.Sequential):
        outputs = {layers[-1]["config"]["name"]}
    else:
        outputs = {entry[0] for entry in config["output_layers"]}
    for layer in layers:
        inner = layer["config"]
        if inner.get("name", layer.get("name")) in outputs:
            continue
        for key in ("units", "filters"):
            if key in inner:
                inner[key] = max(1, int(round(inner[key] * width)))
    return template.__class__.from_config(config)


def width_for_parameters(template: keras.Model, target: int) -> float:
    """The width (`scaled_architecture`) whose dense network has closest to `target` trainable
    parameters, by bisection (the study models' rule: lth_tf.networks.width_for_parameter_count)."""
    def count(width):
        return int(sum(np.prod(v.shape) for v in scaled_architecture(template, width).trainable_weights))
    lo, hi = 1e-3, 1.0
    for _ in range(30):
        mid = (lo * hi) ** 0.5
        if count(mid) > target:
            hi = mid
        else:
            lo = mid
    return lo if abs(count(lo) - target) <= abs(count(hi) - target) else hi


def keras_trainer(model, train_ds, val_ds, compile_kwargs, epochs, prunable, callbacks, verbose) -> KerasTrainer:
    ku.check_model(model)
    ku.check_dataset(train_ds, "train_ds", model if model.built else None)
    if val_ds is not None:
        ku.check_dataset(val_ds, "val_ds", model if model.built else None)
    ku.build_from_dataset(model, train_ds)
    if compile_kwargs is None:
        raise ConfigError("compile_kwargs is required: the arguments of model.compile, e.g. "
                          "dict(optimizer='adam', loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=['accuracy']).")
    kwargs = fresh_compile_kwargs(compile_kwargs)  # fail early on a bad optimizer
    ku.warn_if_logits_with_probability_loss(model, kwargs["loss"])
    if int(epochs) < 1:
        raise ConfigError(f"epochs={epochs} must be >= 1.")
    wrap(model, prunable)  # fail early on bad `prunable`
    return KerasTrainer(copy_model(model), layer_predicate(prunable), train_ds, val_ds, compile_kwargs, int(epochs),
                  tuple(callbacks), int(verbose))


# ----------------------------------------------------------------------------- results

@dataclasses.dataclass
class Level:
    """One level of a ticket search: the mask, and the network trained with it."""
    level: int
    masks: Masks
    sparsity: float  # fraction of prunable weights that are zero
    metrics: Dict[str, float]  # last epoch's Keras logs, plus sparsity and steps
    history: Dict[str, List[float]]  # keras History.history
    weights: State  # the trained weights (wrapping.get_state)
    steps: int  # optimizer steps of this level's training
    search_steps: int = 0  # steps the search spent to obtain this level's mask (the cost ledger)


@dataclasses.dataclass
class TrainedNetwork:
    """A trained network (a ticket or a baseline): the live wrapped model and its results."""
    name: str
    level: int
    model: keras.Model
    masks: Masks
    sparsity: float
    metrics: Dict[str, float]
    history: Dict[str, List[float]]
    steps: int

    @property
    def weights(self) -> State:
        return wrapping.get_state(self.model)
