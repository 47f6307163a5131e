"""tfmot pruning wrappers used as fixed-mask holders.

tfmot's `PruneLowMagnitude` owns the mask variable, and `strip_pruning` turns a wrapped model
back into a plain one for export. We set masks ourselves (our mask search is global and
iterative, which tfmot's per-layer schedules cannot express), so the wrapper's per-step
machinery is dead weight: in every training call it increments `pruning_step`, evaluates the
schedule, and re-assigns `kernel = kernel * mask` (a cross-replica MEAN under MirroredStrategy).
With the `UpdatePruningStep` callback on top, that costs a third of LeNet's throughput.

`FixedMaskPruneLowMagnitude` keeps the wrapper (variables, strip_pruning, export) and drops the
per-step work. Pruned weights stay exactly zero because (1) `set_masks` zeroes them once, and
(2) the forward pass uses `kernel * mask`, so their gradient is exactly zero under any training
(our loop, `model.fit`, a custom loop): neither SGD nor momentum nor L2 weight decay (zero at a
zero weight) ever moves them. Our training loop may skip the forward multiply
(`stored_kernel_forward`: then kernel * mask == kernel bit for bit) and mask the gradients itself.
"""
import contextlib
import inspect
import threading
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.sparsity.keras import prunable_layer, prune_registry, pruning_wrapper

from lth_tf.errors import ConfigError

# A schedule that never fires: the mask only changes when we assign it.
_NEVER = dict(target_sparsity=0.0, begin_step=2**62, frequency=1)
# Set (per thread, while a training step is traced) by `stored_kernel_forward`.
_FORWARD = threading.local()


class FixedMaskPruneLowMagnitude(pruning_wrapper.PruneLowMagnitude):
    """A tfmot wrapper whose mask is set explicitly; training calls do no pruning bookkeeping.

    The forward pass computes with `kernel * mask`, so the gradient at a pruned position is
    exactly zero whatever trains the model (`model.fit`, a custom loop, any optimizer whose
    update is zero for a zero gradient and zero state: SGD, momentum, Adam, L2 on the kernel).
    A pruned weight that is zero therefore stays zero; one set non-zero by hand does not act.
    """

    def __init__(self, layer, **kwargs):
        kwargs.setdefault("pruning_schedule", tfmot.sparsity.keras.ConstantSparsity(**_NEVER))
        super().__init__(layer, **kwargs)
        self._passes_training = "training" in inspect.getfullargspec(layer.call).args

    def build(self, input_shape):
        super().build(input_shape)
        # The attribute of the inner layer that holds the pruned kernel ('kernel' for Dense and
        # Conv*), so `call` can hand the layer the masked kernel in its place.
        if len(self.pruning_vars) != 1:  # e.g. DepthwiseConv2D (none), LSTM (two per cell)
            raise ConfigError(f"Cannot mask layer {self.layer.name!r} ({type(self.layer).__name__}): tfmot's prune "
                              f"registry names {len(self.pruning_vars)} prunable weights for it, lth-tf masks "
                              f"exactly one per layer. {MASKABLE}")
        kernel = self.pruning_vars[0][0]
        names = [n for n, v in vars(self.layer).items() if v is kernel]
        if not names:
            raise ConfigError(f"Cannot mask layer {self.layer.name!r} ({type(self.layer).__name__}): its prunable "
                              f"weight is not an attribute of the layer. {MASKABLE}")
        self._kernel_attr = names[0]

    def call(self, inputs, training=None, **kwargs):
        kernel, mask = self.pruning_vars[0][0], self.pruning_vars[0][1]
        if getattr(_FORWARD, "stored_kernel", False):  # the caller masks the gradient itself
            return self._call_inner(inputs, training, **kwargs)
        # object.__setattr__ bypasses Keras' attribute tracking, which would otherwise untrack
        # the kernel variable; the real variable is put back before returning.
        object.__setattr__(self.layer, self._kernel_attr, kernel * tf.cast(mask, kernel.dtype))
        try:
            return self._call_inner(inputs, training, **kwargs)
        finally:
            object.__setattr__(self.layer, self._kernel_attr, kernel)

    def _call_inner(self, inputs, training, **kwargs):
        if self._passes_training:
            return self.layer.call(inputs, training=training, **kwargs)
        return self.layer.call(inputs, **kwargs)


@contextlib.contextmanager
def stored_kernel_forward():
    """Within this context (while tracing), wrapped layers compute with the kernel as stored
    instead of `kernel * mask`, and the caller masks the kernels' gradients (`mask_gradients`).

    For a training loop that saves the mask multiply of every forward pass: when every pruned
    weight is exactly zero and the masks are 0/1 (`masked_forward_is_identity`), `kernel * mask`
    equals `kernel` bit for bit (x * 1 = x; ±0 * 0 = ±0), and the gradient autodiff gives
    through `kernel * mask`, `Mul(grad, mask)`, is the op `mask_gradients` applies: the same
    forward, the same gradients, the same training. Outside it (model.fit, predict, custom
    loops) the forward pass masks as always."""
    before = getattr(_FORWARD, "stored_kernel", False)
    _FORWARD.stored_kernel = True
    try:
        yield
    finally:
        _FORWARD.stored_kernel = before


def masked_forward_is_identity(model) -> bool:
    """Whether `kernel * mask == kernel` bit for bit in every wrapped layer: 0/1 masks, and
    every pruned weight exactly zero (as `set_masks`, `set_state` and our training keep them)."""
    for kernel, mask in kernel_mask_pairs(model):
        k, m = kernel.numpy(), mask.numpy()
        if not (np.all((m == 0) | (m == 1)) and not np.any(k[m == 0])):
            return False
    return True


def mask_gradients(grads: Sequence[tf.Tensor], variables: Sequence[tf.Variable], model) -> List[tf.Tensor]:
    """The gradients with each wrapped kernel's gradient multiplied by its mask (the other
    variables' as they are): what autodiff through `kernel * mask` gives, for gradients taken
    under `stored_kernel_forward`."""
    masks = {id(kernel): mask for kernel, mask in kernel_mask_pairs(model)}
    return [g * tf.cast(masks[id(v)], g.dtype) if id(v) in masks and g is not None else g
            for g, v in zip(grads, variables)]


MASKABLE = ("lth-tf masks the one weight tfmot's prune registry names for a layer: Dense, Conv and "
            "ConvTranspose kernels, SeparableConv pointwise kernels, Embedding matrices, LocallyConnected kernels; "
            "depthwise kernels have none there, recurrent (LSTM, GRU, SimpleRNN) and attention layers several.")


def prunable_weight_count(layer) -> int:
    """How many weights tfmot's prune registry (or the layer, as a PrunableLayer) names as prunable
    in `layer`; lth-tf masks the layers with exactly one (`maskable`)."""
    if isinstance(layer, prunable_layer.PrunableLayer):
        return len(layer.get_prunable_weights())
    registry = prune_registry.PruneRegistry
    if not registry.supports(layer):
        return 0
    if registry._is_rnn_layer(layer):  # kernel and recurrent kernel of every cell
        return 2 * len(registry._get_rnn_cells(layer))
    return len(registry._weight_names(layer))


def maskable(layer) -> bool:
    return prunable_weight_count(layer) == 1


def unmasked_weight_layers(model) -> List[str]:
    """'name (Class)' of every layer that holds a weight matrix or tensor (rank >= 2: kernels,
    embeddings, not biases or batch-norm scales) and cannot be masked (`maskable`)."""
    return [f"{l.name!r} ({type(l).__name__})" for l in model.layers
            if not isinstance(l, pruning_wrapper.PruneLowMagnitude) and not maskable(l)
            and any(len(w.shape) >= 2 for w in l.trainable_weights)]


PRUNABLE_KINDS = {
    "dense": (keras.layers.Dense,),
    "conv": (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D),
}


def prunable_predicate(kinds=("conv", "dense"), prune_output_layer: bool = True) -> Callable:
    """Which layers get a mask: layers of the given kinds (depthwise convs are not included),
    optionally excluding the final `output` layer."""
    unknown = set(kinds) - set(PRUNABLE_KINDS)
    if unknown:
        raise ConfigError(f"Unknown prunable layer kinds {sorted(unknown)}; known: {sorted(PRUNABLE_KINDS)}.")
    classes = tuple(c for k in kinds for c in PRUNABLE_KINDS[k])

    def prunable(layer) -> bool:
        if not prune_output_layer and layer.name == "output":
            return False
        return isinstance(layer, classes) and not isinstance(
            layer, (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D))
    return prunable


def wrap(model: keras.Model, prunable: Callable = prunable_predicate()) -> keras.Model:
    """A model whose prunable layers are wrapped with all-ones masks. The wrappers reuse the
    original layers (and so their weights)."""
    def clone(layer):
        if prunable(layer):
            return FixedMaskPruneLowMagnitude(layer)
        return layer.__class__.from_config(layer.get_config())

    wrapped = keras.models.clone_model(model, clone_function=clone)
    # clone_model re-creates unwrapped layers: copy their weights from the original.
    for src, dst in zip(model.layers, wrapped.layers):
        if not isinstance(dst, FixedMaskPruneLowMagnitude) and src.weights:
            dst.set_weights(src.get_weights())
    for w in wrappers(wrapped):
        w.pruning_step.assign(1)  # tfmot asserts pruning_step >= 1 in its own call paths
    return wrapped


def wrappers(model) -> List[FixedMaskPruneLowMagnitude]:
    return [l for l in model.layers if isinstance(l, pruning_wrapper.PruneLowMagnitude)]


def var_key(variable) -> str:
    return variable.name.split(":")[0]


def kernel_and_mask(wrapper) -> Tuple[tf.Variable, tf.Variable]:
    (kernel, mask, _threshold), = wrapper.pruning_vars
    return kernel, mask


def kernel_mask_pairs(model) -> List[Tuple[tf.Variable, tf.Variable]]:
    return [kernel_and_mask(w) for w in wrappers(model)]


def get_masks(model) -> Dict[str, np.ndarray]:
    return {w.layer.name: kernel_and_mask(w)[1].numpy().astype(np.float32) for w in wrappers(model)}


def prunable_weights(model) -> Dict[str, np.ndarray]:
    return {w.layer.name: kernel_and_mask(w)[0].numpy() for w in wrappers(model)}


def set_masks(model, masks: Dict[str, np.ndarray]):
    """Assigns the masks and zeroes the pruned weights."""
    by_name = {w.layer.name: w for w in wrappers(model)}
    if set(masks) != set(by_name):
        raise ValueError(f"mask layers {sorted(masks)} do not match the model's prunable layers {sorted(by_name)}")
    for name, m in masks.items():
        kernel, mask = kernel_and_mask(by_name[name])
        mask.assign(m.astype(mask.dtype.as_numpy_dtype))
        kernel.assign(kernel * mask)


def state_variables(model) -> List[tf.Variable]:
    """All variables that define the network's function (weights, biases, BN statistics), but
    not tfmot's bookkeeping (mask, threshold, pruning_step): what rewinding restores."""
    bookkeeping = {id(v) for w in wrappers(model) for v in (w.pruning_step, *kernel_and_mask(w)[1:], w.pruning_vars[0][2])}
    return [v for v in model.weights if id(v) not in bookkeeping]


def get_state(model) -> Dict[str, np.ndarray]:
    return {var_key(v): v.numpy() for v in state_variables(model)}


def set_state(model, state: Dict[str, np.ndarray], keep_masked_zero: bool = True):
    """Restores weights exactly (bit-for-bit), then re-applies the current masks."""
    variables = state_variables(model)
    missing = [var_key(v) for v in variables if var_key(v) not in state]
    if missing:
        raise ValueError(f"state lacks variables {missing[:5]}")
    for v in variables:
        v.assign(state[var_key(v)])
    if keep_masked_zero:
        for kernel, mask in kernel_mask_pairs(model):
            kernel.assign(kernel * mask)


def strip(model) -> keras.Model:
    """The plain Keras model (masks applied, wrappers removed) for export."""
    for w in wrappers(model):
        kernel, mask = kernel_and_mask(w)
        kernel.assign(kernel * mask)
    return tfmot.sparsity.keras.strip_pruning(model)


def count_parameters(model, masks: Dict[str, np.ndarray] = None) -> int:
    """Trainable parameters, counting only the kept entries of masked kernels."""
    total = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    if masks:
        total -= sum(int(m.size - m.sum()) for m in masks.values())
    return total
