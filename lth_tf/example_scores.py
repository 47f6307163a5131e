"""Per-example scores of a training run (public API: lth_tf.score_examples, lth_tf.el2n_scores):
forgetting events and EL2N, see lth_tf/ticket_search.py's docstring and callbacks.ForgettingTracker."""
import dataclasses
from typing import Dict, Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf import keras_utils as ku
from lth_tf.keras_trainer import KerasTrainer, copy_architecture, load_state, keras_trainer
from lth_tf.callbacks import ForgettingTracker
from lth_tf.errors import ConfigError
from lth_tf.sparsity import wrapping


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
        setup = KerasTrainer(None, None, train_ds, None, compile_kwargs, int(epochs), (), int(verbose))
    else:
        setup = keras_trainer(model, train_ds, None, compile_kwargs, epochs, prunable, (), verbose)
        net, masks, state = setup.network(), None, wrapping.get_state(setup.template)
    tracker = ForgettingTracker(examples, every_n_steps=every_n_steps,
                                el2n_epochs=() if el2n_epoch is None else (el2n_epoch,), from_logits=from_logits)
    if net is model:  # train a copy of the ticket, not the user's object
        net = wrapping.wrap(copy_architecture(_unwrapped_architecture(model)), lambda l: l.name in masks)
        wrapping.set_masks(net, masks)
    load_state(net, state)
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
