"""Saliency scores: SNIP, GraSP and SynFlow (designed for pruning at initialization).

The scorers use whatever weights the model holds: at initialization (the papers' one-shot
use) or after training, as the PrAC study's iterative baselines do between training rounds
(components/prac/saliency.py; 001 §4.3).

Each scorer takes a wrapped model (lth_tf.sparsity.wrapping) whose masks are set and returns
{layer name: score array} with the kernels' shapes; the highest scores are kept by
`lth_tf.sparsity.masks.prune_by_score`. The three are registered as pruning criteria
(lth_tf/sparsity/criteria.py, `uses_model`), so MaskSearch and SaliencyTickets find them in
the one registry; any criterion registered with `uses_model=True` is a saliency method here.
`iterative_prune` applies a scorer in several steps with an exponential density schedule,
re-scoring the pruned network after each step (as SynFlow must, and as iterative SNIP does),
and leaves the model's weights unchanged.

- SNIP (Lee et al. 2019): |g ⊙ w|, g the loss gradient on a batch.
- GraSP (Wang et al. 2020): removes the weights with the largest -w ⊙ Hg (those whose removal
  least reduces gradient flow); as a score to keep, w ⊙ Hg. H g is a Hessian-vector product of
  the loss at temperature T (200 in the paper).
- SynFlow (Tanaka et al. 2020): data-free; with all parameters replaced by their absolute
  values and one all-ones input, R = sum of the logits; score |dR/dw ⊙ w|.

BatchNorm mode: all three score in inference mode (BN normalizes with its moving statistics).
The papers (SNIP, GraSP, SynFlow; 001 §4.3 and 002 use them) do not say; the released code:
- Synaptic-Flow's `prune_loop` (Tanaka et al., the code that compares the three; the reference
  of tests/golden/) runs `model.eval()` unless `--prune-train-mode` is given;
- SNIP's release (namhoonlee/snip-public, snip/prune.py) feeds `is_train: False`;
- GraSP's release (alecwangcq/GraSP, pruner/GraSP.py) scores `copy.deepcopy(net)  # .eval()`,
  the network in training mode. We do not follow it: in training mode the Hessian-vector
  product goes through the batch statistics, and Keras' BatchNormalization takes them from
  `tf.nn.moments`, which stops the gradient of the mean inside the variance. First derivatives
  are unaffected (SNIP would be right), second derivatives are not: measured against
  Synaptic-Flow's GraSP in train mode, the scores of the layers feeding a BN layer were off by
  up to 20% and their sum by two orders of magnitude. In inference mode BN is an affine map and
  the scores equal the reference's.
Inference mode also makes a score independent of the other examples of the scoring batch.
Scores equal Synaptic-Flow's (Pruners/pruners.py) up to its normalization (SNIP divides by the
sum of all scores, GraSP by |sum| + 1e-10: a positive factor, the same ranking and masks);
tests/test_golden_saliency.py checks this on its fixtures, a BatchNorm network included.
"""
from typing import Callable, Dict

import numpy as np
import tensorflow as tf

from lth_tf.errors import unknown_name
from lth_tf.sparsity import criteria
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping

Scores = Dict[str, np.ndarray]


def _kernels(model) -> Dict[str, tf.Variable]:
    return {w.layer.name: wrapping.kernel_and_mask(w)[0] for w in wrapping.wrappers(model)}


def _loss(model, x, y, temperature: float = 1.0):
    logits = model(x, training=False) / temperature  # inference mode: see the module docstring
    return tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))


def snip_scores(model, x, y) -> Scores:
    kernels = _kernels(model)
    with tf.GradientTape() as tape:
        loss = _loss(model, x, y)
    grads = tape.gradient(loss, list(kernels.values()))
    return {n: np.abs((g * k).numpy()) for (n, k), g in zip(kernels.items(), grads)}


def grasp_scores(model, x, y, temperature: float = 200.0) -> Scores:
    kernels = _kernels(model)
    variables = list(kernels.values())
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = _loss(model, x, y, temperature)
        grads = inner.gradient(loss, variables)
        # z = g0 · g(w) with g0 held fixed, so dz/dw = H g0.
        z = tf.add_n([tf.reduce_sum(tf.stop_gradient(g) * g) for g in grads])
    hg = outer.gradient(z, variables)
    return {n: (k * h).numpy() for (n, k), h in zip(kernels.items(), hg)}


def synflow_scores(model, x=None, y=None) -> Scores:
    """Data-free: `x` only gives the input shape. The model's weights are restored after."""
    saved = [np.array(v.numpy(), copy=True) for v in model.weights]
    try:
        for v in model.weights:
            if v.dtype.is_floating:
                v.assign(tf.abs(v))
        kernels = _kernels(model)
        # Two identical all-ones inputs, R averaged over them: TF 2.21's eager Conv backprop on CPU
        # crashes with a batch of one, and the mean equals the one-input R of the paper and of
        # Synaptic-Flow (a sum would double every score).
        ones = tf.ones((2, *model.input_shape[1:]), tf.float32)
        with tf.GradientTape() as tape:
            outputs = model(ones, training=False)  # inference mode: BN uses its statistics
            r = tf.reduce_sum(tf.reduce_mean(outputs, axis=0))
        grads = tape.gradient(r, list(kernels.values()))
        scores = {n: np.abs((g * k).numpy()) for (n, k), g in zip(kernels.items(), grads)}
    finally:
        for v, value in zip(model.weights, saved):
            v.assign(value)
    if not all(np.isfinite(s).all() for s in scores.values()):
        raise FloatingPointError("SynFlow scores overflowed float32 for this model; use fewer layers or SNIP/GraSP.")
    return scores


def _registered(name: str, score: Callable):
    """Registers `score(model, x, y)` as the criterion `name` that scores ScoreInputs.model."""
    criteria.register_criterion(name, uses_model=True)(lambda inputs: score(inputs.model, inputs.x, inputs.y))


for _name, _score in (("snip", snip_scores), ("grasp", grasp_scores), ("synflow", synflow_scores)):
    _registered(_name, _score)


def scorer(name: str) -> criteria.Criterion:
    """The registered criterion `name`, when it scores the model (a saliency method)."""
    if name not in criteria.names(uses_model=True):
        raise unknown_name("saliency method", name, criteria.names(uses_model=True))
    return criteria.criterion(name)


def iterative_prune(model, method: str, masks: M.Masks, target_density: float, x, y, iterations: int = 1,
                    scope: str = "global") -> M.Masks:
    """Prunes from `masks` down to `target_density` in `iterations` steps of geometrically
    decreasing density, re-scoring the pruned network at each step. The model ends with its
    original weights and masks (the caller sets the returned masks)."""
    rule = scorer(method)
    original_masks, state = wrapping.get_masks(model), wrapping.get_state(model)
    start = M.density(masks)
    current = masks
    try:
        for k in range(1, iterations + 1):
            density = start * (target_density / start) ** (k / iterations)
            wrapping.set_masks(model, current)
            trained = {n: v.numpy() for n, v in _kernels(model).items()}
            current = rule.prune(criteria.ScoreInputs(current, trained, model=model, x=x, y=y), density, scope)
    finally:
        wrapping.set_masks(model, original_masks)
        wrapping.set_state(model, state)
    return current


def balanced_positions(y: np.ndarray, per_class: int, num_classes: int, seed: int) -> np.ndarray:
    """Ascending positions of `per_class` examples of each class (fewer if a class has fewer),
    drawn by `seed` from the labels alone (so a streamed split draws them too)."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in range(num_classes)]
    return np.sort(np.concatenate(picks))


def balanced_sample(x: np.ndarray, y: np.ndarray, per_class: int, num_classes: int, seed: int):
    """`per_class` examples of each class (fewer if a class has fewer), drawn by `seed`, in a
    fixed order: the data that SNIP and GraSP score with (GraSP's paper uses 10 per class)."""
    positions = balanced_positions(y, per_class, num_classes, seed)
    return x[positions], y[positions]


def scoring_batch(ds, split, seed: int, per_class: int = 10):
    """`balanced_sample` of `split`, normalized as the input pipeline normalizes: the batch
    MaskSearch scores with when its criterion scores the model (10 per class as in GraSP's
    paper; SaliencyTickets draws the same way, with SaliencyParams.examples_per_class). A
    streamed split reads only those examples (lth_tf.data.sample)."""
    from lth_tf.data import sample
    x, y, _ = sample.examples(split, balanced_positions(split.y, per_class, ds.num_classes, seed))
    return sample.normalized(ds, x), y
