"""Building masked networks (exporting them: lth_tf.exporting)."""
import functools

import numpy as np
import tf_keras as keras

from lth_tf.models import ModelHparams, build_model
from lth_tf.sparsity import wrapping
from lth_tf.sparsity.wrapping import prunable_predicate
from lth_tf.training.seeding import set_seed
from lth_tf.training.strategy import get_strategy


def build_network(hp: ModelHparams, input_shape, num_classes: int, seed: int,
                  prunable=prunable_predicate()) -> keras.Model:
    """A freshly initialized model (weights drawn from `seed`) with its prunable layers wrapped
    (all-ones masks), built under the training strategy's scope."""
    set_seed(seed)
    with get_strategy().scope():
        return wrapping.wrap(build_model(hp, input_shape, num_classes), prunable)


def width_for_parameter_count(hp: ModelHparams, input_shape, num_classes: int, target: int) -> float:
    """The width multiplier whose dense model has closest to `target` trainable parameters
    (the small-dense baseline of equal parameter count). Memoized: the bisection builds ~60
    models (seconds of CPU), and studies ask for the same widths once per seed and rate."""
    return _width_for_parameter_count(hp, tuple(int(d) for d in input_shape), int(num_classes), int(target))


@functools.lru_cache(maxsize=512)
def _width_for_parameter_count(hp: ModelHparams, input_shape, num_classes: int, target: int) -> float:
    return closest_width(lambda width: build_model(ModelHparams(hp.name, width, hp.initializer), input_shape,
                                                   num_classes), target, hp.width)


def closest_width(build, target: int, widest: float) -> float:
    """The width in [0.001, widest] whose model `build(width)` has closest to `target` trainable
    parameters, by bisection on a log scale (30 steps): the small-dense baseline's width, for the
    registry's models and for a user's own (lth_tf.keras_trainer.width_for_parameters)."""
    def count(width):
        return int(sum(np.prod(v.shape) for v in build(width).trainable_weights))
    lo, hi = 1e-3, widest
    for _ in range(30):
        mid = (lo * hi) ** 0.5
        if count(mid) > target:
            hi = mid
        else:
            lo = mid
    return lo if abs(count(lo) - target) <= abs(count(hi) - target) else hi
