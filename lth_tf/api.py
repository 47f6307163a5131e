"""Lottery tickets for your own Keras model and tf.data datasets.

    import lth_tf                      # first: it selects Keras 2 (tf_keras), which tfmot needs
    import tf_keras as keras

    compile_kwargs = dict(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=["accuracy"])
    search = lth_tf.imp(model, train_ds, val_ds=val_ds, compile_kwargs=compile_kwargs,
                        epochs=5, levels=5, fraction=0.2, rewind_step=100, scope="global")
    level = search.levels[3]            # .masks {layer: 0/1 array}, .sparsity, .metrics, .weights
    ticket = search.ticket(3)           # a wrapped keras model: level-3 mask, rewind weights
    runs = search.baselines(3)          # {'ticket', 'random_reinit', 'random_mask'}: TrainedNetwork
    barrier = lth_tf.error_barrier(runs["ticket"], search.train(3), val_ds)   # SGD-noise instability
    lth_tf.export_ticket(runs["ticket"], "ticket_dir")   # saved_model/ (inputs -> logits, probabilities;
                                        # pruned weights 0), ticket.json, mask.npz; "keras" / "tflite" too

What it does, in Keras terms:
- Your model (Sequential or functional, tf_keras; its current weights are the initialization
  θ0) is copied, never modified, and its Dense / Conv kernels are wrapped with masks
  (`lth_tf.wrap`; `prunable=` picks layers by predicate or by name). Subclassed models raise a
  ConfigError saying how to rebuild them functionally.
- Every training run is `model.compile(**compile_kwargs)` + `model.fit(train_ds, epochs=...,
  validation_data=val_ds, callbacks=...)`, with a fresh copy of your optimizer and metrics
  each time (pass `compile_kwargs` as a function returning the dict if they cannot be copied
  via get_config). Level 0 trains the dense network for `epochs` epochs: T steps.
- IMP (`imp`): level L prunes `fraction` of the remaining weights by magnitude (of the previous
  level's trained weights; sparsity 1 − (1 − fraction)^L), rewinds to the weights at step
  `rewind_step` of the dense run (0 = θ0), and trains from there to step T (the optimizer's
  iterations start at `rewind_step`, so schedules resume there; fit stops at step T). OMP
  (`omp`): every level prunes the *dense* trained weights once, to the same densities.
- Baselines (`TicketSearch.train`): 'ticket' (mask, rewind weights, steps k..T),
  'random_reinit' (mask, fresh initialization drawn with `seed`, steps 0..T), 'random_mask'
  (a random mask of the same overall sparsity, rewind weights, k..T), 'permuted_mask' (each
  layer's mask shuffled, rewind weights, k..T).
- Returned objects are plain: masks are {layer name: float32 0/1 array}, weights are
  `wrapping.get_state` dicts {variable name: array} (restorable bit-for-bit with
  `lth_tf.sparsity.wrapping.set_state`), metrics are the last epoch's Keras logs (`loss`,
  `accuracy`, `val_loss`, ...) plus `sparsity` and `steps`.
- `score_examples`: forgetting events and EL2N during your fit (`callbacks.ForgettingTracker`,
  evaluated at epoch ends: an approximation of the per-presentation definition, see there);
  `el2n_scores`: EL2N of any network on any dataset.
- `error_barrier`: the linear-interpolation error barrier (003 eq. 3): sup_α E(α W1 + (1−α) W2)
  − (E(W1) + E(W2))/2 on `val_ds`, within the (union of the) masks; batch-norm statistics are
  recomputed at every α from a few batches of `train_ds` when the model has BN layers.
"""
import dataclasses
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf import keras_utils as ku
from lth_tf.callbacks import IMPDriver, ForgettingTracker, RewindSnapshot
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.io import save_npz
from lth_tf.metrics import barrier as _barrier
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping

Masks = Dict[str, np.ndarray]
State = Dict[str, np.ndarray]
VARIANTS = ("ticket", "random_reinit", "random_mask", "permuted_mask")


# ----------------------------------------------------------------------------- wrapping

def _predicate(prunable) -> Callable:
    if prunable is None:
        return wrapping.prunable_predicate()
    if callable(prunable):
        return prunable
    if isinstance(prunable, str):
        prunable = [prunable]
    names = set(prunable)
    return lambda layer: layer.name in names


def _copy(model: keras.Model) -> keras.Model:
    clone = keras.models.clone_model(model)
    if not clone.built:
        clone.build(model.input_shape)
    clone.set_weights(model.get_weights())
    return clone


def wrap(model: keras.Model, prunable=None) -> keras.Model:
    """A copy of `model` whose prunable layers carry all-ones masks (your model is not modified).

    prunable: None = every Dense and Conv1D/2D/3D layer (output layer included); a predicate
    layer -> bool; or layer names."""
    ku.check_model(model)
    if not model.built:
        raise ConfigError("The model is not built: give it an input shape (`keras.Input(shape=...)` as its first "
                          "layer, or `model.build((None, *shape))`).")
    names = {l.name for l in model.layers}
    if prunable is not None and not callable(prunable):
        wanted = {prunable} if isinstance(prunable, str) else set(prunable)
        if wanted - names:
            raise ConfigError(f"prunable names layers the model lacks: {sorted(wanted - names)}; its layers: "
                              f"{sorted(names)}.")
    wrapped = wrapping.wrap(_copy(model), _predicate(prunable))
    if not wrapping.wrappers(wrapped):
        raise ConfigError("No layer of the model is prunable: lth-tf masks Dense and Conv kernels (pass "
                          "`prunable=` layer names or a predicate to choose).")
    return wrapped


def _load_state(model: keras.Model, state: State):
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

def _fresh_compile_kwargs(compile_kwargs) -> dict:
    kwargs = dict(compile_kwargs() if callable(compile_kwargs) else compile_kwargs)
    if "optimizer" not in kwargs or "loss" not in kwargs:
        raise ConfigError("compile_kwargs must give at least `optimizer` and `loss` (the arguments of "
                          "model.compile), e.g. dict(optimizer='adam', loss='sparse_categorical_crossentropy', "
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
class _Setup:
    template: keras.Model  # an unwrapped copy of the user's model: architecture only
    prunable: Callable
    train_ds: tf.data.Dataset
    val_ds: Optional[tf.data.Dataset]
    compile_kwargs: object
    epochs: int
    callbacks: tuple
    verbose: int

    def network(self) -> keras.Model:
        """A new wrapped network of the architecture (freshly initialized from the global RNG)."""
        return wrapping.wrap(_copy_architecture(self.template), self.prunable)

    def fit(self, model: keras.Model, start_step: int = 0, end_step: Optional[int] = None,
            callbacks: Sequence = (), epochs: Optional[int] = None):
        """compile + fit from `start_step` to `end_step` (None: `epochs` epochs);
        returns (history dict, metrics dict, steps trained)."""
        model.compile(**_fresh_compile_kwargs(self.compile_kwargs))
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


def _copy_architecture(template: keras.Model) -> keras.Model:
    clone = keras.models.clone_model(template)
    if not clone.built:
        clone.build(template.input_shape)
    return clone


def _setup(model, train_ds, val_ds, compile_kwargs, epochs, prunable, callbacks, verbose) -> _Setup:
    ku.check_model(model)
    ku.check_dataset(train_ds, "train_ds", model if model.built else None)
    if val_ds is not None:
        ku.check_dataset(val_ds, "val_ds", model if model.built else None)
    ku.build_from_dataset(model, train_ds)
    if compile_kwargs is None:
        raise ConfigError("compile_kwargs is required: the arguments of model.compile, e.g. "
                          "dict(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy']).")
    _fresh_compile_kwargs(compile_kwargs)  # fail early on a bad optimizer
    if int(epochs) < 1:
        raise ConfigError(f"epochs={epochs} must be >= 1.")
    wrap(model, prunable)  # fail early on bad `prunable`
    return _Setup(_copy(model), _predicate(prunable), train_ds, val_ds, compile_kwargs, int(epochs),
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


@dataclasses.dataclass
class TicketSearch:
    """The result of `imp` / `omp`: `levels[L]` for L = 0 (dense) .. levels."""
    method: str
    fraction: float
    scope: str
    rewind_step: int
    total_steps: int  # T: steps of the dense training
    levels: List[Level]
    init_weights: State  # θ0
    rewind_weights: State  # the weights at rewind_step of the dense run
    setup: _Setup = dataclasses.field(repr=False)

    def _level(self, level: int) -> Level:
        if not -len(self.levels) <= level < len(self.levels):
            raise ConfigError(f"level {level} does not exist: the search has levels 0..{len(self.levels) - 1}.")
        return self.levels[level]

    def ticket(self, level: int = -1) -> keras.Model:
        """A new wrapped model with level `level`'s mask and the rewind weights (untrained, not
        compiled). `train(level)` trains it as the search did (steps rewind_step..total_steps);
        to fit it yourself the same way, compile, `model.optimizer.iterations.assign(rewind_step)`
        and stop at `total_steps`."""
        model = self.setup.network()
        wrapping.set_masks(model, self._level(level).masks)
        _load_state(model, self.rewind_weights)
        return model

    def trained(self, level: int = -1) -> keras.Model:
        """A new wrapped model with level `level`'s mask and trained weights."""
        model = self.setup.network()
        wrapping.set_masks(model, self._level(level).masks)
        _load_state(model, self._level(level).weights)
        return model

    def train(self, level: int = -1, variant: str = "ticket", seed: int = 0,
              callbacks: Sequence = ()) -> TrainedNetwork:
        """Trains level `level`'s ticket or one of its baselines (module docstring) with the search's
        data, compile_kwargs and budget; `seed` draws the baselines' randomness ('random_reinit'
        re-seeds the global RNG: keras.utils.set_random_seed). Data order comes from train_ds
        (a shuffled dataset gives each call different SGD noise)."""
        if variant not in VARIANTS:
            raise unknown_name("variant", variant, VARIANTS)
        lv = self._level(level)
        rng = np.random.default_rng([seed, lv.level, VARIANTS.index(variant)])
        masks, start = lv.masks, self.rewind_step
        if variant == "random_reinit":
            keras.utils.set_random_seed(1_000_003 + 7919 * int(seed) + lv.level)
            model, start = self.setup.network(), 0
            _warn_if_same_init(model, self.init_weights)
        else:
            model = self.setup.network()
            if variant == "random_mask":
                masks = M.random_mask_like(masks, rng)
            elif variant == "permuted_mask":
                masks = M.permuted(masks, rng)
        wrapping.set_masks(model, masks)
        if variant != "random_reinit":
            _load_state(model, self.rewind_weights)
        history, metrics, steps = self.setup.fit(model, start, self.total_steps, callbacks)
        sparsity = M.sparsity(masks)
        metrics.update(sparsity=sparsity, steps=float(steps))
        if self.setup.verbose:
            print(f"[{variant}] level {lv.level} sparsity {sparsity:.4f} " + _fmt(metrics), flush=True)
        return TrainedNetwork(variant, lv.level, model, masks, sparsity, metrics, history, steps)

    def baselines(self, level: int = -1, variants: Sequence[str] = ("ticket", "random_reinit", "random_mask"),
                  seed: int = 0) -> Dict[str, TrainedNetwork]:
        """The ticket and its baselines trained alike: {variant: TrainedNetwork}."""
        return {v: self.train(level, v, seed) for v in variants}

    def summary(self) -> List[dict]:
        """One row per level (level, sparsity, metrics...): `pandas.DataFrame(search.summary())`."""
        return [{"level": lv.level, **lv.metrics} for lv in self.levels]


def _fmt(metrics: Dict[str, float]) -> str:
    return " ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k not in ("sparsity", "steps"))


def _warn_if_same_init(model, init: State):
    fresh = wrapping.prunable_weights(model)
    by_name = {k.split("/")[0]: v for k, v in init.items()}
    same = [n for n, w in fresh.items() if n in by_name and by_name[n].shape == w.shape and np.array_equal(by_name[n], w)]
    if same:
        warnings.warn(f"random_reinit drew the same initial kernels as θ0 for layers {same}: their initializers "
                      f"have fixed seeds, so 'random reinitialization' is not random there.")


# ----------------------------------------------------------------------------- searches

def _check_search_args(levels, fraction, rewind_step, scope):
    if int(levels) < 1:
        raise ConfigError(f"levels={levels} must be >= 1.")
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"fraction={fraction} (pruned per level) must be in (0, 1).")
    if int(rewind_step) < 0:
        raise ConfigError(f"rewind_step={rewind_step} must be >= 0 (0 rewinds to initialization).")
    if scope not in M.SCOPES:
        raise unknown_name("pruning scope", scope, M.SCOPES)


def _dense_level(setup: _Setup, rewind_step: int):
    net = setup.network()
    _load_state(net, wrapping.get_state(setup.template))  # θ0 = the user's weights
    init = wrapping.get_state(net)
    snapshot = RewindSnapshot(rewind_step)
    history, metrics, steps = setup.fit(net, 0, None, [snapshot])
    if snapshot.state is None or rewind_step >= steps:
        raise ConfigError(f"rewind_step={rewind_step} is not below the {steps} steps of dense training "
                          f"(epochs x batches per epoch): choose a smaller rewind_step.")
    masks = wrapping.get_masks(net)
    metrics.update(sparsity=0.0, steps=float(steps))
    if setup.verbose:
        print(f"[dense] level 0 " + _fmt(metrics), flush=True)
    return net, init, snapshot, Level(0, masks, 0.0, metrics, history, wrapping.get_state(net), steps)


def _search(method, model, train_ds, val_ds, compile_kwargs, epochs, levels, fraction, rewind_step, scope,
            prunable, callbacks, verbose) -> TicketSearch:
    _check_search_args(levels, fraction, rewind_step, scope)
    setup = _setup(model, train_ds, val_ds, compile_kwargs, epochs, prunable, callbacks, verbose)
    net, init, snapshot, dense = _dense_level(setup, int(rewind_step))
    total = dense.steps
    out = [dense]
    driver = IMPDriver(net, snapshot, fraction=fraction, scope=scope, reset_optimizer=False)
    dense_kernels = wrapping.prunable_weights(net)
    for level in range(1, int(levels) + 1):
        if method == "imp":
            masks = driver.next_level()
        else:  # one-shot: the dense trained weights, pruned straight to this level's density
            masks = M.magnitude_prune(dense_kernels, M.ones_like(dense_kernels), driver.density(level), scope)
            wrapping.set_masks(net, masks)
            _load_state(net, snapshot.state)
        history, metrics, steps = setup.fit(net, int(rewind_step), total)
        sparsity = M.sparsity(masks)
        metrics.update(sparsity=sparsity, steps=float(steps))
        if verbose:
            print(f"[{method}] level {level} sparsity {sparsity:.4f} " + _fmt(metrics), flush=True)
        out.append(Level(level, masks, sparsity, metrics, history, wrapping.get_state(net), steps))
    return TicketSearch(method, float(fraction), scope, int(rewind_step), total, out, init, snapshot.state, setup)


def imp(model: keras.Model, train_ds: tf.data.Dataset, *, compile_kwargs, epochs: int,
        val_ds: Optional[tf.data.Dataset] = None, levels: int = 5, fraction: float = 0.2, rewind_step: int = 0,
        scope: str = "global", prunable=None, callbacks: Sequence[keras.callbacks.Callback] = (),
        verbose: int = 1) -> TicketSearch:
    """Iterative magnitude pruning with rewinding (Frankle & Carbin 2019; Frankle et al. 2020).

    model: your tf_keras Sequential / functional model; its current weights are θ0 (copied, not
        modified). train_ds / val_ds: batched tf.data datasets of (x, y).
    compile_kwargs: the arguments of model.compile (or a function returning them).
    epochs: the training budget of every level (the dense run's T steps).
    levels, fraction: level L has sparsity 1 - (1 - fraction)^L. scope: 'global' | 'layerwise'.
    rewind_step: rewind to the weights after this many steps of the dense run (0 = θ0).
    prunable: which layers get masks (None: Dense and Conv; a predicate; or layer names).
    callbacks: passed to every fit. verbose: 0 silent, 1 a line per level, 2 also Keras' per-epoch lines.
    """
    return _search("imp", model, train_ds, val_ds, compile_kwargs, epochs, levels, fraction, rewind_step,
                   scope, prunable, callbacks, verbose)


def omp(model: keras.Model, train_ds: tf.data.Dataset, *, compile_kwargs, epochs: int,
        val_ds: Optional[tf.data.Dataset] = None, levels: int = 5, fraction: float = 0.2, rewind_step: int = 0,
        scope: str = "global", prunable=None, callbacks: Sequence[keras.callbacks.Callback] = (),
        verbose: int = 1) -> TicketSearch:
    """One-shot magnitude pruning: the dense network is trained once and level L's mask keeps its
    largest round(N (1 - fraction)^L) weights; each level then trains from the rewind point.
    Arguments as `imp`."""
    return _search("omp", model, train_ds, val_ds, compile_kwargs, epochs, levels, fraction, rewind_step,
                   scope, prunable, callbacks, verbose)


# ----------------------------------------------------------------------------- scores

@dataclasses.dataclass
class ExampleScores:
    """Per-example statistics of one training run, in the order of the scored examples."""
    forgetting: np.ndarray  # forgetting events (int); NEVER_LEARNED for never-learned examples
    unforgettable: np.ndarray  # bool: learned and never forgotten
    learned: np.ndarray  # bool: correct at some evaluation
    el2n: Optional[np.ndarray]  # EL2N after epoch `el2n_epoch` (None if not asked)
    el2n_epoch: Optional[int]
    summary: Dict[str, float]


def el2n_scores(model: keras.Model, examples, from_logits: Optional[bool] = None) -> np.ndarray:
    """EL2N (Paul et al. 2021), ||softmax(f(x)) - onehot(y)||_2, of every example of `examples`
    (a batched (x, y) dataset in a fixed order, or a tuple of arrays), in inference mode. Paul et
    al. average it over several networks early in training: average calls over your networks."""
    probs, labels = ku.class_probabilities(model, examples, from_logits)
    return ku.correct_el2n_loss(probs, labels)[1]


def score_examples(model: keras.Model, train_ds: tf.data.Dataset, examples, *, compile_kwargs, epochs: int,
                   el2n_epoch: Optional[int] = None, every_n_steps: Optional[int] = None,
                   from_logits: Optional[bool] = None, prunable=None, verbose: int = 0) -> ExampleScores:
    """Trains a copy of `model` (a ticket, or any model) on `train_ds` and scores `examples` (the
    same training examples in a fixed order: an unshuffled batched dataset or (x, y) arrays):
    forgetting events from evaluations at every epoch end (or every `every_n_steps` steps; see
    callbacks.ForgettingTracker for how this approximates the per-presentation definition) and
    EL2N after epoch `el2n_epoch`. A wrapped model keeps its masks; its weights are copied."""
    ku.check_dataset(train_ds, "train_ds")
    if wrapping.wrappers(model):
        net = model
        masks, state = wrapping.get_masks(model), wrapping.get_state(model)
        setup = _Setup(None, None, train_ds, None, compile_kwargs, int(epochs), (), int(verbose))
    else:
        setup = _setup(model, train_ds, None, compile_kwargs, epochs, prunable, (), verbose)
        net, masks, state = setup.network(), None, wrapping.get_state(setup.template)
    tracker = ForgettingTracker(examples, every_n_steps=every_n_steps,
                                el2n_epochs=() if el2n_epoch is None else (el2n_epoch,), from_logits=from_logits)
    if net is model:  # train a copy of the ticket, not the user's object
        net = wrapping.wrap(_copy_architecture(_unwrapped_architecture(model)), lambda l: l.name in masks)
        wrapping.set_masks(net, masks)
    _load_state(net, state)
    setup.fit(net, 0, None, [tracker])
    el2n = tracker.el2n.get(el2n_epoch) if el2n_epoch is not None else None
    if el2n_epoch is not None and el2n is None:
        raise ConfigError(f"el2n_epoch={el2n_epoch} was not reached in {epochs} epochs.")
    return ExampleScores(tracker.counts(), tracker.unforgettable(), tracker.learned, el2n, el2n_epoch,
                         tracker.summary())


def _unwrapped_architecture(model: keras.Model) -> keras.Model:
    """A plain copy of a wrapped model's architecture (same layer names)."""
    import tensorflow_model_optimization as tfmot
    return tfmot.sparsity.keras.strip_pruning(model)


# ----------------------------------------------------------------------------- barrier

@dataclasses.dataclass
class Barrier:
    """Errors along W(α) = α W1 + (1 − α) W2 (α = 1 is W1)."""
    alphas: np.ndarray
    errors: np.ndarray
    losses: np.ndarray  # cross-entropy
    error_1: float
    error_2: float

    @property
    def barrier(self) -> float:
        return _barrier.error_barrier(self.errors, self.error_1, self.error_2)

    def stable(self, threshold: float = _barrier.STABLE_BELOW) -> bool:
        """Stable to SGD noise: barrier below 2% absolute error (Frankle et al. 2020)."""
        return self.barrier < threshold

    def rows(self) -> List[dict]:
        return [{"alpha": float(a), "error": float(e), "loss": float(l)}
                for a, e, l in zip(self.alphas, self.errors, self.losses)]


def _as_state(network, like: keras.Model) -> State:
    if isinstance(network, TrainedNetwork):
        network = network.model
    if isinstance(network, keras.Model):
        values = [v.numpy() for v in wrapping.state_variables(network)]
        keys = [wrapping.var_key(v) for v in wrapping.state_variables(like)]
        if len(values) != len(keys):
            raise ConfigError("The two networks of the barrier have different architectures.")
        return dict(zip(keys, values))
    if isinstance(network, dict):
        return network
    raise ConfigError(f"error_barrier takes TrainedNetworks, keras models or weight dicts, got {type(network).__name__}.")


def _masks_of(network) -> Optional[Masks]:
    if isinstance(network, TrainedNetwork):
        return network.masks
    if isinstance(network, keras.Model) and wrapping.wrappers(network):
        return wrapping.get_masks(network)
    return None


def error_barrier(network_1, network_2, val_ds: tf.data.Dataset, *, model: Optional[keras.Model] = None,
                  alphas: Union[int, Sequence[float]] = 11, train_ds: Optional[tf.data.Dataset] = None,
                  bn_batches: int = 2, from_logits: Optional[bool] = None) -> Barrier:
    """The error barrier (003 eq. 3) between two networks of one architecture on `val_ds`.

    network_1, network_2: TrainedNetworks, keras models or weight dicts (`wrapping.get_state`).
    model: where to evaluate (default: network_1's model); its weights and masks are restored
        afterwards. Masked networks are interpolated within the union of their masks.
    alphas: a number of evenly spaced points in [0, 1] or the points themselves.
    train_ds: for models with BatchNormalization: the first `bn_batches` batches recompute the
        BN statistics at every α (required for such models)."""
    ku.check_dataset(val_ds, "val_ds")
    if model is None:
        model = network_1.model if isinstance(network_1, TrainedNetwork) else network_1
        if not isinstance(model, keras.Model):
            raise ConfigError("Both networks are weight dicts: pass model= (a model of their architecture).")
    grid = np.linspace(0.0, 1.0, alphas) if isinstance(alphas, (int, np.integer)) else np.asarray(alphas, float)
    grid = np.array(sorted(set(np.round(grid, 10).tolist()) | {0.0, 1.0}))
    if grid[0] < 0.0 or grid[-1] > 1.0:
        raise ConfigError(f"alphas must lie in [0, 1], got {list(grid)}.")
    bn = _barrier.batch_norm_layers(model)
    bn_x = []
    if bn:
        if train_ds is None:
            raise ConfigError("The model has BatchNormalization layers, whose statistics must be recomputed for each "
                              "interpolated network: pass train_ds=... (its first bn_batches batches are used).")
        bn_x = [batch[0] for batch in train_ds.take(int(bn_batches))]
    s1, s2 = _as_state(network_1, model), _as_state(network_2, model)
    m1, m2 = _masks_of(network_1), _masks_of(network_2)
    wrapped = bool(wrapping.wrappers(model))
    saved_state = wrapping.get_state(model)
    saved_masks = wrapping.get_masks(model) if wrapped else None
    masks = None
    if wrapped and m1 is not None and m2 is not None:
        masks = {n: np.maximum(m1[n], m2[n]) for n in m1}
    try:
        errors, losses = [], []
        for alpha in grid:
            _barrier.set_interpolated(model, s1, s2, float(alpha), masks if alpha == grid[0] else None)
            if bn:
                _barrier.recompute_batch_norm(model, bn_x)
            probs, labels = ku.class_probabilities(model, val_ds, from_logits)
            correct, _, loss = ku.correct_el2n_loss(probs, labels)
            errors.append(1.0 - float(correct.mean()))
            losses.append(float(loss.mean()))
    finally:
        if wrapped:
            wrapping.set_masks(model, saved_masks)
        wrapping.set_state(model, saved_state)
    return Barrier(grid, np.array(errors), np.array(losses), error_1=errors[-1], error_2=errors[0])


# ----------------------------------------------------------------------------- export

def export_ticket(network, directory, fmt: str = "saved_model", *, mean=None, std=None, input_dtype="float32",
                  class_names: Sequence[str] = (), from_logits: Optional[bool] = None) -> Path:
    """Writes the deployable ticket into `directory` (lth_tf.exporting): `saved_model/`,
    `ticket.keras` or `ticket.tflite` (fmt), `ticket.json` (signature, normalization, class
    names, sparsity, provenance) and `mask.npz`. The model takes raw inputs named `inputs` and
    answers `{"logits", "probabilities"}` (`{"probabilities"}` for a network ending in a softmax);
    its layers are plain Keras layers, pruned weights exactly zero.
    network: a wrapped model (a ticket) or a TrainedNetwork. mean, std: the per-channel
    normalization your input pipeline applies (so the export takes raw inputs); None: none.
    input_dtype: the raw inputs' dtype (e.g. "uint8" images). class_names: label -> name.
    from_logits: whether the network outputs logits (None: from its loss / last activation).
    Returns the directory."""
    from lth_tf import exporting
    model = network.model if isinstance(network, TrainedNetwork) else network
    ku.check_model(model, "network")
    if not wrapping.wrappers(model):
        raise ConfigError("export_ticket takes a masked model (a ticket, lth_tf.wrap(model)); export a plain model "
                          "with lth_tf.exporting.export(model, directory) or model.save(...).")
    directory = Path(directory)
    masks = wrapping.get_masks(model)
    exporting.export(model, directory, fmt, mean=mean, std=std, input_dtype=input_dtype, class_names=class_names,
                     masks=masks, probabilities_out=None if from_logits is None else not from_logits,
                     source={"api": "lth_tf.export_ticket", "sparsity": M.sparsity(masks)})
    save_npz(directory / "mask.npz", masks)
    return directory
