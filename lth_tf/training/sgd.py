"""The SGD the training loop runs: Keras' SGD (momentum, Nesterov, learning-rate schedule,
loss scaling, cross-replica updates), with its dense update done by one fused kernel."""
from typing import Tuple

import tensorflow as tf
import tf_keras as keras

from lth_tf.errors import ConfigError
from lth_tf.training.hparams import TrainingHparams


class FusedSGD(keras.optimizers.SGD):
    """Keras SGD whose dense momentum update is one fused kernel per variable
    (ResourceApplyKerasMomentum: accum = accum * momentum - grad * lr; var += accum, or the
    Nesterov form), instead of Keras' six elementwise passes. The arithmetic is Keras' own,
    rounding for rounding (-g * lr + m * momentum), so results are bit-identical; each pass over
    a kernel that is no longer in cache costs as much as a LeNet matmul on 2 CPU cores."""

    def update_step(self, gradient, variable):
        if isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable)
        m = self.momentums[self._index_dict[self._var_key(variable)]]
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=variable.handle, accum=m.handle, lr=tf.cast(self.learning_rate, variable.dtype), grad=gradient,
            momentum=tf.cast(self.momentum, variable.dtype), use_nesterov=self.nesterov)


def optimizers(model: keras.Model, hp: TrainingHparams, schedule) -> Tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """(the SGD, the optimizer to apply gradients with), built for the model's trainable
    variables; the second is the first, or under mixed precision a LossScaleOptimizer around it:
    the loss is scaled (dynamically) so float16 gradients do not underflow; the SGD update
    itself is float32. Call under the model's strategy scope."""
    _check_precision(model, hp)
    sgd = FusedSGD(schedule, momentum=hp.momentum, nesterov=hp.nesterov)
    optimizer = keras.mixed_precision.LossScaleOptimizer(sgd) if hp.mixed_precision else sgd
    optimizer.build(model.trainable_variables)
    return sgd, optimizer


def _check_precision(model: keras.Model, hp: TrainingHparams):
    policies = sorted({layer.dtype_policy.name for layer in model.layers if layer.weights})
    if hp.mixed_precision and policies != ["mixed_float16"]:
        raise ConfigError(
            f"TrainingHparams.mixed_precision=True needs a model whose layers compute in float16, but its "
            f"layers with weights have the Keras dtype policies {policies}. Build the model (and wrap it) "
            f"under the mixed policy: tf_keras.mixed_precision.set_global_policy('mixed_float16') before "
            f"lth_tf.networks.build_network(...), and set_global_policy('float32') after; or set "
            f"TrainingHparams.mixed_precision=False.")
