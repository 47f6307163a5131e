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
  θ0) is copied, never modified, and its Dense / Conv kernels (also SeparableConv pointwise
  kernels and Embedding matrices) are wrapped with masks (`lth_tf.wrap`; `prunable=` picks
  layers by predicate or by name; a warning names the layers whose weights stay dense). Subclassed models raise a
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

The search is here; `wrap` and one training run are in api_model.py, scores in api_scores.py, the
barrier in api_barrier.py, the export in api_export.py (all importable from here and from lth_tf).
"""
import dataclasses
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf.api_barrier import Barrier, error_barrier
from lth_tf.api_export import export_ticket
from lth_tf.api_model import Level, Masks, State, TrainedNetwork, _Setup, _load_state, _setup, wrap
from lth_tf.api_scores import ExampleScores, el2n_scores, score_examples
from lth_tf.callbacks import IMPDriver, RewindSnapshot
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping

# The public names, defined here (the search) or in api_model / api_scores / api_barrier / api_export.
__all__ = ["wrap", "imp", "omp", "TicketSearch", "Level", "TrainedNetwork", "el2n_scores", "score_examples",
           "ExampleScores", "error_barrier", "Barrier", "export_ticket", "Masks", "State", "VARIANTS"]

VARIANTS = ("ticket", "random_reinit", "random_mask", "permuted_mask")


# ----------------------------------------------------------------------------- the search

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
    if steps - rewind_step < steps / 2:
        warnings.warn(f"rewind_step={rewind_step} leaves each ticket {steps - rewind_step} of the dense run's {steps} "
                      f"training steps (less than half: tickets train from the rewind step to step {steps}). Rewind "
                      f"earlier (e.g. rewind_step=len(train_ds), the end of epoch 1) or train more epochs.",
                      UserWarning, stacklevel=4)
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
    prunable: which layers get masks (None: every layer lth-tf can mask, see `wrap`; a predicate; or layer names).
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
