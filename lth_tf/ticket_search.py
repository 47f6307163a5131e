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
  `imp(criterion=...)` prunes by any registered criterion instead (SNIP, GraSP, SynFlow, random,
  your own). The level loop is the studies' (lth_tf/lottery/levels.py).
- Baselines (`TicketSearch.train`, any registered baseline): 'ticket' = 'lt' (mask, rewind
  weights, steps k..T), 'random_reinit' = 'rr' (mask, fresh initialization drawn with `seed`,
  steps 0..T), 'random_mask' (a random mask of the same overall sparsity, rewind weights, k..T),
  'permuted_mask' (each layer's mask shuffled, rewind weights, k..T), 'small_dense' (hidden
  layers narrowed to the ticket's parameter count, fresh weights, 0..T).
- Returned objects are plain: masks are {layer name: float32 0/1 array}, weights are
  `wrapping.get_state` dicts {variable name: array} (restorable bit-for-bit with
  `lth_tf.sparsity.wrapping.set_state`), metrics are the last epoch's Keras logs (`loss`,
  `accuracy`, `val_loss`, ...) plus `sparsity`, `steps` and `train_steps` (the cost ledger: steps
  spent to produce the network, its share of the search included).
- `score_examples`: forgetting events and EL2N during your fit (`callbacks.ForgettingTracker`,
  evaluated at epoch ends: an approximation of the per-presentation definition, see there);
  `el2n_scores`: EL2N of any network on any dataset.
- `error_barrier`: the linear-interpolation error barrier (003 eq. 3): sup_α E(α W1 + (1−α) W2)
  − (E(W1) + E(W2))/2 on `val_ds`, within the (union of the) masks; batch-norm statistics are
  recomputed at every α from a few batches of `train_ds` when the model has BN layers.

The search is here (imp, omp, TicketSearch); `wrap` and the Keras-fit trainer in
keras_trainer.py, scores in example_scores.py, the barrier in barriers.py, `export_ticket` in
exporting.py: one module per concept, each name importable from lth_tf.
"""
import dataclasses
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf.keras_trainer import KerasTrainer, Level, State, TrainedNetwork, keras_trainer, load_state
from lth_tf import lottery
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.sparsity import baselines as B
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping

__all__ = ["imp", "omp", "TicketSearch", "BASELINES"]

# The API's names for two registered baselines (lth_tf/sparsity/baselines.py), older than the registry.
ALIASES = {"ticket": "lt", "random_reinit": "rr"}
BASELINES = ("ticket", "random_reinit", "random_mask")  # `baselines()`'s default; any registered name works


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
    setup: KerasTrainer = dataclasses.field(repr=False)

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
        load_state(model, self.rewind_weights)
        return model

    def trained(self, level: int = -1) -> keras.Model:
        """A new wrapped model with level `level`'s mask and trained weights."""
        model = self.setup.network()
        wrapping.set_masks(model, self._level(level).masks)
        load_state(model, self._level(level).weights)
        return model

    def train(self, level: int = -1, baseline: str = "ticket", seed: int = 0,
              callbacks: Sequence = ()) -> TrainedNetwork:
        """Trains level `level`'s ticket or one of its baselines with the search's data,
        compile_kwargs and budget. `baseline`: any registered baseline (lth_tf/sparsity/baselines.py:
        'lt' = 'ticket', 'rr' = 'random_reinit', 'random_mask', 'permuted_mask', 'small_dense', or
        your own `register_baseline`), built by the lottery core as the studies build it
        (lth_tf/lottery/branches.py). `seed` draws the baselines' randomness (random masks; fresh
        weights re-seed the global RNG: keras.utils.set_random_seed). Data order comes from
        train_ds (a shuffled dataset gives each call different SGD noise)."""
        name = ALIASES.get(baseline, baseline)
        if name not in B.BASELINES:
            raise unknown_name("baseline", baseline, [*ALIASES, *B.BASELINES])
        lv = self._level(level)
        ticket = {"masks": lv.masks, "rewind": self.rewind_weights, "trained": lv.weights, "level": lv.level,
                  "meta": {"train_steps": lv.search_steps + lv.steps, "own_steps": lv.steps},
                  "rewind_step": self.rewind_step, "parameters": wrapping.count_parameters(self.ticket(level), lv.masks)}
        branch = lottery.branch_network(name, ticket, self.setup, seed)
        if B.baseline(name).weights == "reinit":
            _warn_if_same_init(branch.model, self.init_weights)
        outcome = self.setup.train(branch.model, branch.start_step, (baseline, lv.level), (), callbacks)
        masks = wrapping.get_masks(branch.model)
        sparsity = M.sparsity(masks) if branch.masks is not None else lv.sparsity
        metrics = {**outcome.metrics, "sparsity": sparsity, "steps": float(outcome.steps),
                   "train_steps": float(branch.cost + outcome.steps)}
        return TrainedNetwork(baseline, lv.level, branch.model, masks, sparsity, metrics, outcome.history, outcome.steps)

    def baselines(self, level: int = -1, names: Sequence[str] = BASELINES,
                  seed: int = 0) -> Dict[str, TrainedNetwork]:
        """The ticket and its baselines trained alike: {name: TrainedNetwork}; `names` may be
        any registered baselines (`TicketSearch.train`)."""
        return {name: self.train(level, name, seed) for name in names}

    def summary(self) -> List[dict]:
        """One row per level (level, sparsity, metrics...): `pandas.DataFrame(search.summary())`."""
        return [{"level": lv.level, **lv.metrics} for lv in self.levels]


def _warn_if_same_init(model, init: State):
    fresh = wrapping.prunable_weights(model)
    by_name = {k.split("/")[0]: v for k, v in init.items()}
    same = [n for n, w in fresh.items() if n in by_name and by_name[n].shape == w.shape and np.array_equal(by_name[n], w)]
    if same:
        warnings.warn(f"random_reinit drew the same initial kernels as θ0 for layers {same}: their initializers "
                      f"have fixed seeds, so 'random reinitialization' is not random there.")


# ----------------------------------------------------------------------------- searches

def _search(criterion, model, train_ds, val_ds, compile_kwargs, epochs, levels, fraction, rewind_step, scope,
            prunable, callbacks, verbose, seed=0) -> TicketSearch:
    if int(levels) < 1:
        raise ConfigError(f"levels={levels} must be >= 1.")
    if int(rewind_step) < 0:
        raise ConfigError(f"rewind_step={rewind_step} must be >= 0 (0 rewinds to initialization).")
    plan = lottery.Plan(criterion, int(levels), float(fraction), scope, int(rewind_step), int(seed))
    lottery.levels.check_plan(plan)
    setup = keras_trainer(model, train_ds, val_ds, compile_kwargs, epochs, prunable, callbacks, verbose)
    net = setup.network()
    load_state(net, wrapping.get_state(setup.template))  # θ0 = the user's weights
    init = wrapping.get_state(net)
    out, rewind = [], None
    for run in lottery.search(net, setup, plan):
        o = run.outcome
        if run.level == 0:
            rewind = run.rewind
            _warn_if_short(int(rewind_step), setup.total_steps)
        sparsity = M.sparsity(run.masks)
        metrics = {**o.metrics, "sparsity": sparsity, "steps": float(o.steps), "train_steps": float(run.train_steps)}
        out.append(Level(run.level, run.masks, sparsity, metrics, o.history, run.trained, o.steps, run.search_steps))
    return TicketSearch(criterion, float(fraction), scope, int(rewind_step), setup.total_steps, out, init, rewind, setup)


def _warn_if_short(rewind_step: int, steps: int):
    if steps - rewind_step < steps / 2:
        warnings.warn(f"rewind_step={rewind_step} leaves each ticket {steps - rewind_step} of the dense run's {steps} "
                      f"training steps (less than half: tickets train from the rewind step to step {steps}). Rewind "
                      f"earlier (e.g. rewind_step=len(train_ds), the end of epoch 1) or train more epochs.",
                      UserWarning, stacklevel=4)


def imp(model: keras.Model, train_ds: tf.data.Dataset, *, compile_kwargs, epochs: int,
        val_ds: Optional[tf.data.Dataset] = None, levels: int = 5, fraction: float = 0.2, rewind_step: int = 0,
        scope: str = "global", prunable=None, callbacks: Sequence[keras.callbacks.Callback] = (),
        verbose: int = 1, criterion: str = "imp", seed: int = 0) -> TicketSearch:
    """Iterative magnitude pruning with rewinding (Frankle & Carbin 2019; Frankle et al. 2020).

    model: your tf_keras Sequential / functional model; its current weights are θ0 (copied, not
        modified). train_ds / val_ds: batched tf.data datasets of (x, y).
    compile_kwargs: the arguments of model.compile (or a function returning them).
    epochs: the training budget of every level (the dense run's T steps).
    levels, fraction: level L has sparsity 1 - (1 - fraction)^L. scope: 'global' | 'layerwise'.
    rewind_step: rewind to the weights after this many steps of the dense run (0 = θ0).
    prunable: which layers get masks (None: every layer lth-tf can mask, see `wrap`; a predicate; or layer names).
    callbacks: passed to every fit. verbose: 0 silent, 1 a line per level, 2 also Keras' per-epoch lines.
    criterion: any registered pruning criterion (lth_tf/sparsity/criteria.py: 'imp' = magnitude of
        the previous level's trained weights, 'omp', 'random', 'snip', 'grasp', 'synflow', or your
        own `register_criterion`), applied level by level; criteria that score the model see the
        first batch of train_ds. seed: the random criterion's draws (seeded by (seed, level)).
    The level loop is the studies' own (lth_tf/lottery/levels.py).
    """
    return _search(criterion, model, train_ds, val_ds, compile_kwargs, epochs, levels, fraction, rewind_step,
                   scope, prunable, callbacks, verbose, seed)


def omp(model: keras.Model, train_ds: tf.data.Dataset, *, compile_kwargs, epochs: int,
        val_ds: Optional[tf.data.Dataset] = None, levels: int = 5, fraction: float = 0.2, rewind_step: int = 0,
        scope: str = "global", prunable=None, callbacks: Sequence[keras.callbacks.Callback] = (),
        verbose: int = 1) -> TicketSearch:
    """One-shot magnitude pruning: the dense network is trained once and level L's mask keeps its
    largest round(N (1 - fraction)^L) weights; each level then trains from the rewind point.
    Arguments as `imp`."""
    return _search("omp", model, train_ds, val_ds, compile_kwargs, epochs, levels, fraction, rewind_step,
                   scope, prunable, callbacks, verbose)
