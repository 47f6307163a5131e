"""The tf.distribute strategy every model is built, trained and evaluated under.

'multi_worker': one network trained by several processes (MultiWorkerMirroredStrategy, the
cluster read from TF_CONFIG, see lth_tf/tf_config.py). Every worker runs the same program on the
same data and computes the same results; each trains on its slice of every global batch of
`TrainingHparams.batch_size` examples. Only the chief keeps what it computes: code that writes
artifacts or summaries asks `is_chief()`, or writes under `output_dir(path)` (the path itself on
the chief, a throw-away temporary directory on the other workers).
"""
import functools

import gin
import tensorflow as tf

from lth_tf import tf_config
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.tf_config import is_chief, output_dir  # noqa: F401 (the public names of this module)

STRATEGIES = ("auto", "default", "mirrored", "multi_worker")


@gin.configurable
def strategy_name(name: str = "auto") -> str:
    if name not in STRATEGIES:
        raise unknown_name("strategy", name, STRATEGIES)
    if name == "multi_worker":
        tf_config.read()  # a bad TF_CONFIG fails here, before any work
    return name


@functools.lru_cache(maxsize=None)
def _make(name: str) -> tf.distribute.Strategy:
    if name == "multi_worker":  # TF_CONFIG already checked by strategy_name()
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as e:  # "Collective ops must be configured at program startup"
            raise ConfigError(
                f"MultiWorkerMirroredStrategy could not start ({e}). It must be created before "
                f"TensorFlow runs its first operation: call lth_tf.training.get_strategy() (with "
                f"strategy_name.name = 'multi_worker' bound) at the start of the program, before "
                f"loading data or building models.") from None
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        # Without GPUs, mirror over the logical CPUs (several only when configured, as in tests).
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()


def get_strategy(name: str = None) -> tf.distribute.Strategy:
    """'auto': MirroredStrategy over the visible GPUs when there are several, else the default
    strategy. 'mirrored' forces MirroredStrategy over all visible GPUs, or without GPUs over all
    logical CPU devices. 'multi_worker': MultiWorkerMirroredStrategy over the TF_CONFIG cluster
    (created once per process, before any other TensorFlow work; ConfigError on a bad
    TF_CONFIG)."""
    return _make(strategy_name(name) if name else strategy_name())


def run_sliced(strategy: tf.distribute.Strategy, fn, *batch):
    """`fn(*slice)` on every replica, each on its contiguous slice of the batch tensors `batch`
    (rows i·n/R to (i+1)·n/R of replica i of R), the outputs gathered back in batch order on every
    worker; call it inside a tf.function. Every worker passes the same whole batch (the
    evaluation, barrier and scoring passes read in-memory splits), so the result is the
    single-process one; for per-example outputs (logits, per-example gradient norms) it is
    exactly what one replica would compute on the whole batch, up to the batch-size dependence
    of the kernels. With one replica, `fn` runs on the whole batch (`strategy.run`, no slicing,
    no gather): the default strategy gives bit-identical results."""
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return strategy.run(fn, args=batch)

    def on_slice(*tensors):
        i = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.int32)
        n = tf.shape(tensors[0])[0]
        lo, hi = i * n // replicas, (i + 1) * n // replicas
        return fn(*(t[lo:hi] for t in tensors))

    outputs = strategy.run(on_slice, args=batch)
    return tf.nest.map_structure(lambda o: strategy.gather(o, axis=0), outputs)
