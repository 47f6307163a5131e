"""Keras callbacks (and an IMP driver) for lottery-ticket work with your own `model.fit`.
(Over 300 lines: the four are one public API, documented together below (a third of the file),
and users import them all from here.)

    import lth_tf
    from lth_tf.callbacks import RewindSnapshot, ForgettingTracker, MaskEnforcer, IMPDriver

    model = lth_tf.wrap(model)                       # masks on Dense / Conv kernels, ... (all ones)
    snap = RewindSnapshot(step=100)                  # weights after 100 optimizer steps
    forget = ForgettingTracker(examples_ds, el2n_epochs=(1,))
    model.compile(optimizer=..., loss=..., metrics=["accuracy"])
    model.fit(train_ds, epochs=5, callbacks=[snap, forget, MaskEnforcer()])
    driver = IMPDriver(model, rewind=snap, fraction=0.2)
    for level in range(1, 6):                        # the IMP loop, between fit calls
        driver.next_level()                          # prune 20% of what is left, rewind, reset optimizer
        model.fit(train_ds, epochs=5, callbacks=[MaskEnforcer()])

- `RewindSnapshot(step=k)`: the exact weights (`wrapping.get_state`: every variable but the mask
  bookkeeping; restoring it with `wrapping.set_state` is bit-for-bit) once Keras' global step
  `model.optimizer.iterations` equals k, i.e. after k optimizer updates (k = 0: before the first).
- `ForgettingTracker`: forgetting events and per-example statistics of a fixed set of tracked
  examples, **evaluated** (inference mode) at every epoch end, or every `every_n_steps` steps.
  This approximates the definition of Toneva et al. (2019), used by the PrAC and SGD-noise
  papers: there an example's correctness is recorded at each *presentation* during training, by
  the training step's own forward pass (training mode: dropout on, batch-norm batch statistics,
  augmented input), just before its batch's update, so each example is seen at a different
  moment of the epoch. Here all tracked examples are judged at the same weights, at the epoch's
  end, without augmentation or dropout; with the default once-per-epoch evaluation each example
  is still judged once per epoch, as in the paper, but the counts are not the paper's (typically
  fewer events: no dropout / augmentation noise, and an example just updated on is rarely
  misclassified at the epoch end). `every_n_steps` samples more often (more events; the paper's
  count lies between). The exact per-presentation count is what the library's own loop provides:
  `lth_tf.training.train(on_batch=lth_tf.metrics.forgetting.ForgettingCounter(n).on_batch)`.
  EL2N (Paul et al. 2021: ||softmax(f(x)) - onehot(y)||_2) of every tracked example is recorded
  at the end of each epoch listed in `el2n_epochs` (1-based: 1 = after the first epoch).
- `MaskEnforcer`: checks at every epoch end (and at the end of fit, after any EMA swap) that
  pruned weights are exactly zero, and re-applies the masks (`mode="reapply"`, counting the
  violations) or raises `MaskViolation` (`mode="raise"`). With lth-tf's wrapper the forward pass
  uses kernel * mask, so gradients, momentum, Adam moments and (decoupled) weight decay of a
  pruned weight are all zero: the enforcer is belt and braces for code that writes weights.
- `IMPDriver`: between fit calls, prunes (by magnitude, or any registered criterion) a fraction of the remaining
  weights (global or layerwise; level L keeps round(N (1 - fraction)^L) weights, so sparsity is
  1 - (1 - fraction)^L), rewinds to the snapshot, and resets the optimizer (zero state,
  iterations = the rewind step, so learning-rate schedules resume where the snapshot was taken).
"""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf import keras_utils as ku
from lth_tf import lottery
from lth_tf.errors import ConfigError
from lth_tf.metrics import forgetting as _forgetting
from lth_tf.sparsity import criteria
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping

NEVER_LEARNED = _forgetting.NEVER_LEARNED


def _require_wrapped(model, who: str):
    if not wrapping.wrappers(model):
        raise ConfigError(f"{who} needs a model with masked layers: wrap it first, `model = lth_tf.wrap(model)` "
                          f"(or use a ticket from lth_tf.imp / lth_tf.omp).")


class RewindSnapshot(keras.callbacks.Callback):
    """Records `wrapping.get_state(model)` when `model.optimizer.iterations` reaches `step`.

    After fit, `.state` holds the weights (dict variable name -> numpy array), `None` if the
    step was never reached. The global step continues across fit calls unless the model is
    recompiled with a fresh optimizer. With `steps_per_execution > 1`, `step` must be a multiple
    of it (Keras calls callbacks only between executions); otherwise fit stops with a ConfigError.
    """

    def __init__(self, step: int):
        super().__init__()
        if int(step) < 0:
            raise ConfigError(f"RewindSnapshot(step={step}): the step must be >= 0.")
        self.step = int(step)
        self.state: Optional[Dict[str, np.ndarray]] = None

    def _check(self):
        if self.state is not None:
            return
        now = ku.global_step(self.model)
        if now == self.step:
            self.state = wrapping.get_state(self.model)
        elif now > self.step:
            raise ConfigError(
                f"RewindSnapshot(step={self.step}) missed its step: the global step (model.optimizer.iterations) "
                f"is already {now}. Compile with a fresh optimizer before fit, or with steps_per_execution "
                f"dividing {self.step}.")

    def on_train_begin(self, logs=None):
        ku.warn_if_logits_with_probability_loss(self.model)
        self._check()

    def on_train_batch_end(self, batch, logs=None):
        self._check()


class ForgettingTracker(keras.callbacks.Callback):
    """Forgetting events and EL2N of tracked examples, evaluated during fit (see the module
    docstring for how this differs from the per-presentation definition).

    data: the tracked examples, the same ones in the same order at every pass: a batched
        tf.data.Dataset of (x, y) without shuffling, or a tuple (x, y) of numpy arrays. Results
        are arrays in that order.
    every_n_steps: None = evaluate at every epoch end; k = every k global steps instead.
    el2n_epochs: epochs (1-based) after which EL2N of every tracked example is stored in
        `.el2n[epoch]`.
    from_logits: whether the model outputs logits; None = infer from the compiled loss / the last
        layer's activation.

    After fit: `.forgetting` (events per example), `.learned`, `.evaluations` (how many times
    each example was judged), `counts()` (events, NEVER_LEARNED for never-learned examples),
    `scores()` (a float ranking score), `unforgettable()`, `el2n`, `last_correct`, `summary()`.
    Statistics accumulate over fit calls; `reset()` clears them.
    """

    def __init__(self, data, every_n_steps: Optional[int] = None, el2n_epochs: Sequence[int] = (),
                 from_logits: Optional[bool] = None):
        super().__init__()
        if isinstance(data, tf.data.Dataset):
            ku.check_dataset(data, "ForgettingTracker data")
        elif not (isinstance(data, tuple) and len(data) >= 2):
            raise ConfigError("ForgettingTracker(data=...) takes a batched, unshuffled tf.data.Dataset of (x, y) "
                              "or a tuple (x, y) of numpy arrays.")
        if every_n_steps is not None and int(every_n_steps) < 1:
            raise ConfigError(f"ForgettingTracker(every_n_steps={every_n_steps}) must be >= 1 (or None: per epoch).")
        self.data = data
        self.every_n_steps = None if every_n_steps is None else int(every_n_steps)
        self.el2n_epochs = tuple(int(e) for e in el2n_epochs)
        self.from_logits = from_logits
        self.reset()

    def reset(self):
        self._counter: Optional[_forgetting.ForgettingCounter] = None
        self.el2n: Dict[int, np.ndarray] = {}
        self.last_correct: Optional[np.ndarray] = None
        self.labels: Optional[np.ndarray] = None
        self.steps_evaluated: List[int] = []

    def evaluate(self, step: Optional[int] = None):
        """Judges every tracked example now (also callable by hand, e.g. before fit)."""
        probs, labels = ku.class_probabilities(self.model, self.data, self.from_logits)
        correct, el2n, _ = ku.correct_el2n_loss(probs, labels)
        if self._counter is None:
            self._counter = _forgetting.ForgettingCounter(len(labels))
            self.labels = labels
        elif len(labels) != self._counter.num_indices or not np.array_equal(labels, self.labels):
            raise ConfigError("ForgettingTracker's data changed between evaluations (different examples or order): "
                              "pass a dataset without shuffle (or numpy arrays).")
        self._counter.on_batch(step, np.arange(len(labels)), correct)
        self.last_correct = correct
        self.steps_evaluated.append(ku.global_step(self.model) if step is None else int(step))
        return correct, el2n

    def on_train_begin(self, logs=None):
        ku.warn_if_logits_with_probability_loss(self.model)

    def on_train_batch_end(self, batch, logs=None):
        if self.every_n_steps is None:
            return
        now = ku.global_step(self.model)
        if now % self.every_n_steps == 0:
            self.evaluate(now)

    def on_epoch_end(self, epoch, logs=None):
        el2n = None
        if self.every_n_steps is None:
            _, el2n = self.evaluate()
        if epoch + 1 in self.el2n_epochs:
            if el2n is None:
                probs, labels = ku.class_probabilities(self.model, self.data, self.from_logits)
                el2n = ku.correct_el2n_loss(probs, labels)[1]
            self.el2n[epoch + 1] = el2n

    def _require(self):
        if self._counter is None:
            raise ConfigError("ForgettingTracker has no evaluations yet: pass it to model.fit(callbacks=[...]).")
        return self._counter

    @property
    def forgetting(self) -> np.ndarray:
        return self._require().forgetting.copy()

    @property
    def learned(self) -> np.ndarray:
        return self._require().learned.copy()

    @property
    def evaluations(self) -> np.ndarray:
        return self._require().presentations.copy()

    def counts(self) -> np.ndarray:
        """Forgetting events per example; NEVER_LEARNED for examples never judged correct."""
        return self._require().counts()

    def scores(self) -> np.ndarray:
        """Ranking score: events for learned examples, the number of evaluations for never-learned
        ones (above any learned example's count)."""
        return self._require().scores()

    def unforgettable(self) -> np.ndarray:
        return self._require().unforgettable()

    def summary(self) -> Dict[str, float]:
        c = self._require()
        return {"examples": float(c.num_indices), "evaluations": float(len(self.steps_evaluated)),
                "mean_forgetting_events": float(c.forgetting.mean()),
                "unforgettable_fraction": float(c.unforgettable().mean()),
                "never_learned_fraction": float((~c.learned).mean())}


class MaskViolation(AssertionError):
    """A pruned weight was non-zero at a MaskEnforcer check."""


class MaskEnforcer(keras.callbacks.Callback):
    """Checks that pruned weights are exactly zero at every epoch end and at the end of fit
    (also after every batch with `every_batch=True`). mode="reapply" zeroes them again and counts
    them in `.violations` (a list of (epoch, count) with count > 0); mode="raise" raises
    MaskViolation."""

    MODES = ("reapply", "raise")

    def __init__(self, mode: str = "reapply", every_batch: bool = False):
        super().__init__()
        if mode not in self.MODES:
            raise ConfigError(f"MaskEnforcer(mode={mode!r}): use one of {self.MODES}.")
        self.mode, self.every_batch = mode, bool(every_batch)
        self.violations: List[tuple] = []
        self.checks = 0

    def enforce(self, where=None) -> int:
        """Checks (and in reapply mode fixes) now; returns the number of non-zero pruned weights."""
        bad = 0
        pairs = wrapping.kernel_mask_pairs(self.model)
        for kernel, mask in pairs:
            bad += int(tf.math.count_nonzero(tf.logical_and(tf.equal(mask, 0), tf.not_equal(kernel, 0))))
        self.checks += 1
        if bad:
            if self.mode == "raise":
                raise MaskViolation(f"{bad} pruned weights are non-zero at {where}: something outside the masked "
                                    f"forward pass wrote them (a custom optimizer, a constraint, a callback).")
            for kernel, mask in pairs:
                kernel.assign(kernel * tf.cast(mask, kernel.dtype))
            self.violations.append((where, bad))
        return bad

    def on_train_begin(self, logs=None):
        _require_wrapped(self.model, "MaskEnforcer")
        ku.warn_if_logits_with_probability_loss(self.model)

    def on_train_batch_end(self, batch, logs=None):
        if self.every_batch:
            self.enforce(("batch", batch))

    def on_epoch_end(self, epoch, logs=None):
        self.enforce(epoch)

    def on_train_end(self, logs=None):
        self.enforce("train_end")


class IMPDriver:
    """Iterative magnitude pruning with rewinding, between your fit calls.

    model: a wrapped model (`lth_tf.wrap`), trained by you before each `next_level()`.
    rewind: the weights to rewind to: a RewindSnapshot (its state is read when rewinding, so
        it may be filled by a later fit), a state dict (`wrapping.get_state`), or None for the
        model's weights when the driver is created (rewinding to initialization, if created
        before training).
    rewind_step: the optimizer's iterations after a rewind (default: the snapshot's step, else 0).
    fraction: of the remaining weights pruned per level; scope: 'global' or 'layerwise'.
    reset_optimizer: zero the compiled optimizer's state at each rewind (else recompile yourself).
    criterion: any registered pruning criterion (lth_tf/sparsity/criteria.py; default 'imp', the
        magnitude of the trained weights), scored as the studies score it (lth_tf.lottery.next_masks);
        scoring_data: (x, y) for criteria that score the model (SNIP, GraSP, SynFlow); seed: the
        random criterion's stream (seed, level).
    """

    def __init__(self, model: keras.Model, rewind: Union[RewindSnapshot, Dict[str, np.ndarray], None] = None, *,
                 fraction: float = 0.2, scope: str = "global", rewind_step: Optional[int] = None,
                 reset_optimizer: bool = True, criterion: str = "imp", scoring_data=None, seed: int = 0):
        _require_wrapped(model, "IMPDriver")
        ku.warn_if_logits_with_probability_loss(model)
        if not 0.0 < fraction < 1.0:
            raise ConfigError(f"IMPDriver(fraction={fraction}): the fraction pruned per level must be in (0, 1).")
        if scope not in M.SCOPES:
            raise ConfigError(f"IMPDriver(scope={scope!r}): use one of {M.SCOPES}.")
        self.model, self.fraction, self.scope = model, float(fraction), scope
        self._rewind = wrapping.get_state(model) if rewind is None else rewind
        if rewind_step is None:
            rewind_step = rewind.step if isinstance(rewind, RewindSnapshot) else 0
        self.rewind_step = int(rewind_step)
        self.reset_optimizer = reset_optimizer
        self.criterion, self.seed = criteria.criterion(criterion).name, int(seed)
        if criteria.criterion(criterion).uses_model and scoring_data is None:
            raise ConfigError(f"IMPDriver(criterion={criterion!r}) scores the model on a batch: pass "
                              f"scoring_data=(x, y), e.g. 10 examples per class of your training data.")
        self.scoring_data = scoring_data
        self._dense: Optional[Dict[str, np.ndarray]] = None  # the first pruned network's state (one-shot criteria)
        self.level = 0
        self.masks_by_level: List[Dict[str, np.ndarray]] = [wrapping.get_masks(model)]

    @property
    def rewind_state(self) -> Dict[str, np.ndarray]:
        if isinstance(self._rewind, RewindSnapshot):
            if self._rewind.state is None:
                raise ConfigError(f"The RewindSnapshot(step={self._rewind.step}) is empty: train with it in "
                                  f"model.fit(callbacks=[...]) for at least {self._rewind.step} steps first.")
            return self._rewind.state
        return self._rewind

    def density(self, level: Optional[int] = None) -> float:
        return M.level_density(self.fraction, self.level if level is None else level)

    @property
    def masks(self) -> Dict[str, np.ndarray]:
        return wrapping.get_masks(self.model)

    @property
    def sparsity(self) -> float:
        return M.sparsity(self.masks)

    def prune(self) -> Dict[str, np.ndarray]:
        """Prunes the current (trained) network to the next level's density by the criterion;
        returns the masks."""
        level, state, masks = self.level + 1, wrapping.get_state(self.model), wrapping.get_masks(self.model)
        if self._dense is None:
            self._dense = state
        new = lottery.next_masks(self.criterion, level, self.density(level), self.scope, masks, state, self._dense,
                                 lottery.levels.level_rng(self.seed, level), self.model,
                                 lambda: tuple(np.asarray(a) for a in self.scoring_data))
        wrapping.set_masks(self.model, new)
        self.level += 1
        self.masks_by_level.append(new)
        return new

    def rewind(self):
        """Restores the rewind weights (within the current masks) and resets the optimizer."""
        wrapping.set_state(self.model, self.rewind_state)
        optimizer = getattr(self.model, "optimizer", None)
        if self.reset_optimizer and optimizer is not None:
            ku.reset_optimizer(optimizer, self.rewind_step)

    def next_level(self) -> Dict[str, np.ndarray]:
        """prune() then rewind(): the model is the next level's ticket, ready for fit."""
        masks = self.prune()
        self.rewind()
        return masks
