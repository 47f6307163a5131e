"""Seeds and determinism."""
import tensorflow as tf
import tf_keras as keras

_deterministic = False


def set_seed(seed: int):
    """Seeds Python, numpy and TensorFlow (model initialization draws from these)."""
    keras.utils.set_random_seed(int(seed))


def enable_determinism():
    """Same seed -> same masks and metrics on CPU. Irreversible for the process."""
    global _deterministic
    if not _deterministic:
        tf.config.experimental.enable_op_determinism()
        _deterministic = True
