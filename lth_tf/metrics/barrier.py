"""Linear mode connectivity: the error barrier between two weight states, and the search for
the first rewind point from which training is stable to SGD noise (Frankle et al. 2020).

Path. W(α) = α·W1 + (1 − α)·W2 for α on a grid in [0, 1] (default 11 points), so α = 1 is W1 and
α = 0 is W2. Every variable of the state is interpolated (kernels, biases, batch-norm
statistics). For masked networks the interpolation stays within the mask: the model's masks are
set first and both endpoint states are multiplied by them before interpolating, so pruned
weights are exactly zero at every α (two tickets with different masks, e.g. successive IMP
levels, are interpolated within the union of their masks).

Batch-norm statistics. A mixture of two networks has activation statistics that neither
endpoint's running statistics describe, so for models with BatchNormalization layers they are
recomputed at every α (endpoints included, so all points are treated alike): each BN layer's
momentum is set to 0 for a few forward passes in training mode over fixed training batches (the
same batches at every α), so after each pass the layer holds exactly that batch's statistics
as its own update rule records them; the recorded means and variances are averaged over the
batches (a cumulative average, like PyTorch's `momentum=None`) and assigned as the moving
statistics. The layers' momenta are restored afterwards. Models without BN skip this.

Under a tf.distribute strategy (several replicas or workers) the evaluation passes run on the
replicas, each on its slice of every batch, the logits gathered back on every worker; the
BN-statistics passes run on whole batches on every worker (the same on each), because a
replica's slice would give it statistics of its own, not those of the batch.

Error barrier. 003 §3.2, eq. (3) ("The Influence of SGD Noise on Lottery Ticket Performance"):
"Given two networks W_1, W_2, with the validation error of a network measured as E(W), then the
error barrier across an interpolating path between W_1 and W_2 for α ∈ [0, 1] is defined in
Equation (3): sup_α E(αW_1 + (1 − α)W_2) − (E(W_1) + E(W_2))/2", and "a significant error barrier
is seen as being higher than 2%" (Frankle et al. 2020). So E(α) is the classification error on
the *validation* split by default (`linear_path(split=None)` uses `ds.val`; pass `split=ds.test`
to measure on the test split), the barrier is in absolute error, and training is called stable
to SGD noise when the barrier is below `STABLE_BELOW` = 0.02.
"""
import dataclasses
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf.data.dataset import Dataset, Split
from lth_tf.data.pipeline import eval_batches, train_batches
from lth_tf.sparsity import wrapping
from lth_tf.training.compiled import compiled
from lth_tf.training.strategy import run_sliced

STABLE_BELOW = 0.02  # absolute error: a barrier below this counts as stable
ALPHAS = tuple(np.round(np.linspace(0.0, 1.0, 11), 10))


def error_barrier(errors: Sequence[float], error_1: float, error_2: float) -> float:
    """sup over the path of the error, minus the mean of the endpoints' errors."""
    return float(np.max(errors) - 0.5 * (error_1 + error_2))


def batch_norm_layers(model: keras.Model) -> List[keras.layers.BatchNormalization]:
    """The model's BN layers (walking its submodules is slow, so the list is cached per model)."""
    return compiled(model, ("bn_layers",), lambda: [m for m in model.submodules
                                                    if isinstance(m, keras.layers.BatchNormalization)])


def recompute_batch_norm(model: keras.Model, batches: Sequence[tf.Tensor]):
    """Sets every BN layer's moving mean and variance to the average of the per-batch statistics
    its training-mode update records over `batches` (see the module docstring)."""
    layers = batch_norm_layers(model)
    if not layers or not batches:
        return
    def bn_pass(x):  # traced with momentum 0 captured, and only ever called with momentum 0
        model(x, training=True)
        return [tf.identity(v) for layer in layers for v in (layer.moving_mean, layer.moving_variance)]
    step = compiled(model, ("bn_pass",), lambda: tf.function(bn_pass))
    saved = [layer.momentum for layer in layers]
    sums = None
    try:
        for layer in layers:
            layer.momentum = 0.0  # the next training-mode call stores this batch's statistics
        for x in batches:
            stats = [s.numpy().astype(np.float64) for s in step(x)]
            sums = stats if sums is None else [a + b for a, b in zip(sums, stats)]
    finally:
        for layer, momentum in zip(layers, saved):
            layer.momentum = momentum
    for i, layer in enumerate(layers):
        layer.moving_mean.assign((sums[2 * i] / len(batches)).astype(np.float32))
        layer.moving_variance.assign((sums[2 * i + 1] / len(batches)).astype(np.float32))


class _PathAssigner:
    """Loads points of a linear path into a model: both endpoint states are copied once into
    variables beside the model's, with the model's current masks applied to the kernels (so
    every point of the path is zero wherever the mask is), and `ops(alpha)` assigns
    α·W1 + (1 − α)·W2 to every state variable inside a traced function: one call per α instead
    of a Python-level assignment per variable."""

    def __init__(self, model: keras.Model):
        self.variables = wrapping.state_variables(model)
        mask_of = {id(kernel): mask for kernel, mask in wrapping.kernel_mask_pairs(model)}
        self.masks = [mask_of.get(id(v)) for v in self.variables]
        self.ends = [(tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False),
                      tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False)) for v in self.variables]
        self.assign = tf.function(self.ops)

    def ops(self, alpha):
        for v, (a, b) in zip(self.variables, self.ends):
            if v.dtype.is_floating:
                w = tf.cast(alpha, v.dtype)
                v.assign(w * a + (1.0 - w) * b)  # exactly W1 at α = 1 and W2 at α = 0
            else:  # integer bookkeeping (none in the registry's models): W1's value
                v.assign(a)

    def load(self, state_1, state_2):
        """Copies both states (masked by the model's current masks) into the endpoint variables."""
        if set(state_1) != set(state_2):
            raise ValueError(f"states hold different variables: {sorted(set(state_1) ^ set(state_2))[:5]}")
        for v, (a, b), m in zip(self.variables, self.ends, self.masks):
            key = wrapping.var_key(v)
            if key not in state_1:
                raise ValueError(f"state lacks variable {key}")
            mask = 1 if m is None else m.numpy().astype(state_1[key].dtype)
            a.assign(state_1[key] * mask)
            b.assign(state_2[key] * mask)

    def __call__(self, alpha: float):
        self.assign(tf.constant(float(alpha), tf.float32))


def _assigner(model) -> _PathAssigner:
    return compiled(model, ("path_assigner",), lambda: _PathAssigner(model))


def _wrong_and_loss(logits: np.ndarray, y: np.ndarray) -> Tuple[int, float]:
    """(misclassified count, summed cross-entropy) of a batch of logits."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return int(np.sum(np.argmax(logits, -1) != y)), float(-log_probs[np.arange(len(y)), y].sum())


class ErrorEvaluator:
    """Error and loss of a model on one split, with the split's normalized batches held in memory
    and all of them run through the model in one traced call (building a tf.data pipeline, or
    calling the model batch by batch from Python, would cost more than the forward passes on
    small datasets), plus the training batches used to recompute batch-norm statistics.

    `bn_batches` x `bn_batch_size` training examples recompute BN statistics (default 2 x 128:
    each channel's statistics average over examples and positions; raise it for large models or
    evaluation sets, e.g. 8 for CIFAR-10)."""

    def __init__(self, model: keras.Model, ds: Dataset, split: Split, batch_size: int = 1000,
                 bn_batches: int = 2, bn_batch_size: int = 128, bn_seed: int = 0):
        self.model = model
        batches = [(x, y.numpy()) for x, y, _ in eval_batches(ds, split, batch_size)]
        self.inputs = tuple(tf.constant(x) for x, _ in batches)
        self.labels = [y for _, y in batches]
        self.bn_batches = []
        if batch_norm_layers(model) and bn_batches > 0:
            self.bn_batches = [x for x, _, _ in train_batches(ds, ds.train, bn_batch_size, bn_seed, 0, bn_batches)]
        self.forward = compiled(model, ("eval_pass",), lambda: tf.function(lambda xs: [_forward(model, x) for x in xs]))

    def _score(self, logits) -> Tuple[float, float]:
        wrong, loss, count = 0, 0.0, 0
        for batch_logits, y in zip(logits, self.labels):
            w, l = _wrong_and_loss(batch_logits.numpy(), y)
            wrong, loss, count = wrong + w, loss + l, count + len(y)
        return wrong / count, loss / count

    def __call__(self, recompute_bn: bool = True) -> Tuple[float, float]:
        """(error, mean cross-entropy) of the model's current weights, batch-norm statistics
        recomputed first when the model has BN layers (unless recompute_bn=False)."""
        if recompute_bn:
            recompute_batch_norm(self.model, self.bn_batches)
        return self._score(self.forward(self.inputs))

    def along(self, assigner: _PathAssigner, alphas: Sequence[float]) -> List[Tuple[float, float]]:
        """(error, loss) at each point α of the assigner's path, the whole path in one traced
        call: per α, assign, recompute BN statistics (when the model has BN), evaluate. Variable
        reads and writes keep their program order inside tf.function, and one call instead of
        four per α saves the per-call overhead, which on CPU rivals a ResNet-20 evaluation."""
        model, layers = self.model, batch_norm_layers(self.model) if self.bn_batches else []
        def whole_path(points, xs, bn_xs):
            logits = []
            for i in range(points.shape[0]):  # unrolled: one assignment and pass per α
                assigner.ops(points[i])
                if layers:
                    _average_batch_statistics(model, layers, bn_xs)
                logits.append([_forward(model, x) for x in xs])
            return logits
        # Traced for this assigner (the model's one, cached above) and with or without BN passes.
        path = compiled(model, ("linear_path", id(assigner), bool(layers)), lambda: tf.function(whole_path))
        saved = [layer.momentum for layer in layers]
        try:
            for layer in layers:
                layer.momentum = 0.0  # traced so: a training-mode call stores its batch's statistics
            logits = path(tf.constant(list(alphas), tf.float32), self.inputs, tuple(self.bn_batches))
        finally:
            for layer, momentum in zip(layers, saved):
                layer.momentum = momentum
        return [self._score(point) for point in logits]


def _forward(model, x):
    """Inference-mode logits of a batch under the model's strategy (each replica its slice)."""
    return run_sliced(model.distribute_strategy, lambda xs: model(xs, training=False), x)


def _average_batch_statistics(model, layers, batches):
    """In-graph twin of recompute_batch_norm (BN momentum must be 0 while this is traced)."""
    sums = None
    for x in batches:
        model(x, training=True)
        stats = [tf.cast(v.read_value(), tf.float64) for layer in layers for v in (layer.moving_mean, layer.moving_variance)]
        sums = stats if sums is None else [a + b for a, b in zip(sums, stats)]
    for i, layer in enumerate(layers):
        layer.moving_mean.assign(tf.cast(sums[2 * i] / len(batches), tf.float32))
        layer.moving_variance.assign(tf.cast(sums[2 * i + 1] / len(batches), tf.float32))


def set_interpolated(model: keras.Model, state_1, state_2, alpha: float, masks: Optional[Dict[str, np.ndarray]] = None):
    """Loads α·state_1 + (1 − α)·state_2 into the model, within `masks` (default: the model's
    current masks): pruned weights are exactly zero."""
    if masks is not None:
        wrapping.set_masks(model, masks)
    assigner = _assigner(model)
    assigner.load(state_1, state_2)
    assigner(alpha)


@dataclasses.dataclass
class BarrierResult:
    alphas: np.ndarray  # ascending; alpha = 1 is state_1, alpha = 0 is state_2
    errors: np.ndarray  # E(alpha)
    losses: np.ndarray
    error_1: float  # E(W1)
    error_2: float  # E(W2)

    @property
    def barrier(self) -> float:
        return error_barrier(self.errors, self.error_1, self.error_2)

    def stable(self, threshold: float = STABLE_BELOW) -> bool:
        return self.barrier < threshold

    def rows(self) -> List[dict]:
        return [{"alpha": float(a), "error": float(e), "loss": float(l)}
                for a, e, l in zip(self.alphas, self.errors, self.losses)]


def linear_path(model: keras.Model, state_1, state_2, ds: Dataset, split: Optional[Split] = None,
                alphas: Sequence[float] = ALPHAS, masks: Optional[Dict[str, np.ndarray]] = None,
                evaluator: Optional[ErrorEvaluator] = None, **evaluator_args) -> BarrierResult:
    """Errors along the linear path between two states of `model`'s architecture (the model's
    weights are overwritten), on `split` (default: the validation split, as eq. (3) of 003). The
    endpoints are always evaluated. `evaluator` may be passed to reuse its cached batches across
    many paths on the same model and split (it then decides the split)."""
    grid = sorted(set(float(a) for a in alphas) | {0.0, 1.0})
    if grid[0] < 0.0 or grid[-1] > 1.0:
        raise ValueError(f"alphas must lie in [0, 1], got {list(alphas)}")
    if evaluator is None:
        if split is None and not len(ds.val):
            raise ValueError("the dataset has an empty validation split, on which the error barrier is measured by "
                             "default (003 eq. 3): pass split=ds.test explicitly, or hold out a validation split")
        evaluator = ErrorEvaluator(model, ds, ds.val if split is None else split, **evaluator_args)
    if masks is not None:
        wrapping.set_masks(model, masks)
    assigner = _assigner(model)
    assigner.load(state_1, state_2)
    errors, losses = (list(column) for column in zip(*evaluator.along(assigner, grid)))
    return BarrierResult(np.array(grid), np.array(errors), np.array(losses), error_1=errors[-1], error_2=errors[0])


def first_stable(candidates: Sequence, is_stable: Callable[[object], bool]) -> Tuple[Optional[int], Dict[int, bool]]:
    """Binary search for the first candidate (in the given order) that is stable, assuming
    stability is monotone along the candidates (unstable ... unstable, stable ... stable).
    Returns (its position or None when even the last is unstable, {position: stable} of every
    candidate evaluated), evaluating about log2(len(candidates)) + 1 of them."""
    seen: Dict[int, bool] = {}
    lo, hi, found = 0, len(candidates) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        seen[mid] = bool(is_stable(candidates[mid]))
        if seen[mid]:
            found, hi = mid, mid - 1
        else:
            lo = mid + 1
    return found, seen
