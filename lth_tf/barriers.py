"""The linear-interpolation error barrier between two networks (public API: lth_tf.error_barrier;
003 eq. 3: sup_α E(α W1 + (1−α) W2) − (E(W1) + E(W2))/2, see lth_tf/ticket_search.py's docstring)."""
import dataclasses
import warnings
from typing import List, Optional, Sequence, Union

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf import keras_utils as ku
from lth_tf.keras_trainer import Masks, State, TrainedNetwork
from lth_tf.errors import ConfigError
from lth_tf.metrics import barrier as _barrier
from lth_tf.sparsity import wrapping


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
    if all(np.array_equal(s1[k], s2[k]) for k in s1):
        # Two copies trained from one point on the same data order are one network: the barrier is
        # 0 by construction and says nothing about stability to SGD noise.
        warnings.warn("error_barrier: the two networks have identical weights, so the barrier is 0 by construction. "
                      "For instability to SGD noise (003 Sec. 2), train the copies on different data orders: give "
                      "train_ds a shuffle that differs between fit calls, e.g. train_ds.shuffle(n, "
                      "reshuffle_each_iteration=True) before batching, or different shuffle seeds.", stacklevel=2)
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
