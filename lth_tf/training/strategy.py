"""The tf.distribute strategy every model is built and trained under."""
import functools

import gin
import tensorflow as tf

from lth_tf.errors import unknown_name

STRATEGIES = ("auto", "default", "mirrored")


@gin.configurable
def strategy_name(name: str = "auto") -> str:
    if name not in STRATEGIES:
        raise unknown_name("strategy", name, STRATEGIES)
    return name


@functools.lru_cache(maxsize=None)
def _make(name: str) -> tf.distribute.Strategy:
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        # Without GPUs, mirror over the logical CPUs (several only when configured, as in tests).
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()


def get_strategy(name: str = None) -> tf.distribute.Strategy:
    """'auto': MirroredStrategy over the visible GPUs when there are several, else the default
    strategy. 'mirrored' forces MirroredStrategy over all visible GPUs, or without GPUs over all
    logical CPU devices."""
    return _make(name or strategy_name())
