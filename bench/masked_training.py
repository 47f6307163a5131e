"""Training throughput (examples/s) of a network with an 80%-sparse fixed mask vs. the same
network dense, side by side in one run.

    python bench/masked_training.py [--models lenet resnet20] [--rounds N] [--jit_compile] [--mixed_precision]

--jit_compile / --mixed_precision set those TrainingHparams for the lth-loop variants (XLA for the
step; float16 compute, for GPUs: every model is then built under the mixed_float16 policy, the
model.fit variants too), so the four combinations give dense vs masked with and without each.

For LeNet-300-100 on MNIST-shaped data (28x28x1) and ResNet-20 on CIFAR-shaped data (32x32x3),
random tensors, batch 128, it measures:
  dense  / lth loop : the plain Keras model in lth_tf.training.train (no masks)
  masked / lth loop : the lth_tf-wrapped model with 80%-sparse masks, same function
  dense  / fit      : the plain Keras model in model.fit
  tfmot  / fit      : tfmot.sparsity.keras.prune_low_magnitude(ConstantSparsity(0.8, 0)) with the
                      UpdatePruningStep callback in model.fit (the stock tfmot recipe)
The ratios compare like with like: masked/dense in the same loop, tfmot/dense in model.fit.
Targets: masked/dense >= 0.95 for LeNet and for ResNet-20.

Each variant runs in rounds: one call of its training function for 3 epochs of `steps` steps,
timed at every epoch end; the first epoch (tracing, warm-up, the call's set-up) is dropped and
epochs 2 and 3 are samples. The variants take turns round by round, in alternating order (so
drift in machine load hits all alike), and the median throughput over all samples is reported.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lth_tf  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
import tf_keras as keras  # noqa: E402

from lth_tf import networks  # noqa: E402
from lth_tf.data.dataset import Dataset, Split  # noqa: E402
from lth_tf.models import ModelHparams, build_model  # noqa: E402
from lth_tf.sparsity import masks as M  # noqa: E402
from lth_tf.sparsity import wrapping  # noqa: E402
from lth_tf.training import TrainingHparams, set_seed, train  # noqa: E402

BATCH = 128
DENSITY = 0.2  # 80% sparse
TARGETS = {"lenet": 0.95, "resnet20": 0.95}
SETUPS = {  # name -> (model, input shape, steps per timed epoch, default rounds)
    "lenet": ("lenet_300_100", (28, 28, 1), 100, 12),
    "resnet20": ("resnet20", (32, 32, 3), 8, 12),  # 24 samples: fewer swing the ratio by +-5%
}
EPOCHS_PER_ROUND = 3  # the first is warm-up
HP = TrainingHparams(budget="100000it", batch_size=BATCH, lr=0.01, momentum=0.9, weight_decay=1e-4)


def random_dataset(shape, batches: int) -> Dataset:
    """Random MNIST/CIFAR-shaped tensors (throughput does not depend on the values)."""
    rng = np.random.default_rng(0)
    n = BATCH * batches
    train = Split(rng.normal(size=(n,) + shape).astype(np.float32), rng.integers(0, 10, n).astype(np.int64),
                  np.arange(n, dtype=np.int64))
    empty = Split(train.x[:0], train.y[:0], train.index[:0])  # no validation: time training only
    channels = shape[-1]
    return Dataset("random", train, empty, empty, 10, np.zeros(channels, np.float32), np.ones(channels, np.float32),
                   "none")


def fit_data(ds: Dataset) -> tf.data.Dataset:
    return (tf.data.Dataset.from_tensor_slices((ds.train.x, ds.train.y)).repeat().batch(BATCH)
            .prefetch(tf.data.AUTOTUNE))


def _now():
    """(wall seconds, CPU seconds of this process): CPU time is the steadier measure when other
    processes share the cores."""
    return time.perf_counter(), time.process_time()


def lth_loop(model, ds):
    """Epoch durations of lth_tf.training.train (every epoch is `steps` steps)."""
    def run(epochs, steps):
        stamps = []
        train(model, ds, HP, seed=0, end_step=epochs * steps, verbose=False,
              on_epoch=lambda epoch, step, model: stamps.append(_now()))
        return np.diff(stamps, axis=0)
    return run


class _EpochStamps(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.stamps = []

    def on_epoch_end(self, epoch, logs=None):
        self.stamps.append(_now())


def keras_fit(model, ds, callbacks=()):
    """Epoch durations of model.fit (every epoch is `steps` steps)."""
    data = fit_data(ds)
    model.compile(optimizer=keras.optimizers.SGD(HP.lr, momentum=HP.momentum),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def run(epochs, steps):
        stamps = _EpochStamps()
        model.fit(data, steps_per_epoch=steps, epochs=epochs, verbose=0, callbacks=list(callbacks) + [stamps])
        return np.diff(stamps.stamps, axis=0)
    return run


def variants(name, shape, ds):
    model_hp = ModelHparams(SETUPS[name][0])
    set_seed(0)
    dense = build_model(model_hp, shape, 10)
    masked = networks.build_network(model_hp, shape, 10, seed=0)
    weights = wrapping.prunable_weights(masked)
    wrapping.set_masks(masked, M.magnitude_prune(weights, M.ones_like(weights), DENSITY, "global"))
    set_seed(0)
    dense_fit = build_model(model_hp, shape, 10)
    set_seed(0)
    schedule = tfmot.sparsity.keras.ConstantSparsity(1 - DENSITY, begin_step=0, frequency=100)
    pruned = tfmot.sparsity.keras.prune_low_magnitude(build_model(model_hp, shape, 10), pruning_schedule=schedule)
    return {
        "dense / lth loop": lth_loop(dense, ds),
        "masked / lth loop": lth_loop(masked, ds),
        "dense / fit": keras_fit(dense_fit, ds),
        "tfmot / fit": keras_fit(pruned, ds, [tfmot.sparsity.keras.UpdatePruningStep()]),
    }, masked


def measure(name, rounds):
    model, shape, steps, _ = SETUPS[name]
    ds = random_dataset(shape, batches=steps)
    timers, masked = variants(name, shape, ds)
    for timer in timers.values():  # trace once outside the timed rounds
        timer(1, steps)
    times = {label: [] for label in timers}  # (wall, cpu) seconds per timed epoch
    for round_ in range(rounds):
        order = list(timers) if round_ % 2 == 0 else list(timers)[::-1]  # no variant always goes first
        for label in order:
            times[label].extend(timers[label](EPOCHS_PER_ROUND, steps))
    masks = wrapping.get_masks(masked)
    kernels = wrapping.prunable_weights(masked)
    sparsity = 1 - sum(int(m.sum()) for m in masks.values()) / sum(m.size for m in masks.values())
    pruned_zero = all(np.all(kernels[n][m == 0] == 0) for n, m in masks.items())
    rates = {label: steps * BATCH / np.asarray(t) for label, t in times.items()}  # columns: wall, cpu
    return rates, sparsity, pruned_zero


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument("--rounds", type=int, default=None, help=f"rounds of {EPOCHS_PER_ROUND} epochs per variant")
    parser.add_argument("--jit_compile", action="store_true", help="TrainingHparams.jit_compile for the lth loop")
    parser.add_argument("--mixed_precision", action="store_true",
                        help="TrainingHparams.mixed_precision and the mixed_float16 Keras policy (GPU)")
    args = parser.parse_args()
    global HP
    HP = dataclasses.replace(HP, jit_compile=args.jit_compile, mixed_precision=args.mixed_precision)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    tf.get_logger().setLevel("ERROR")
    print(f"TensorFlow {tf.__version__}, tfmot {tfmot.__version__}, "
          f"{os.cpu_count()} CPUs, devices {[d.name for d in tf.config.list_logical_devices()]}, batch {BATCH}, "
          f"jit_compile {HP.jit_compile}, mixed_precision {HP.mixed_precision}")
    summary = []
    for name in args.models:
        rounds = args.rounds or SETUPS[name][3]
        started = time.time()
        rates, sparsity, pruned_zero = measure(name, rounds)
        print(f"\n{SETUPS[name][0]} on {SETUPS[name][1]} random data: {len(next(iter(rates.values())))} timed "
              f"epochs of {SETUPS[name][2]} steps per variant; mask sparsity {sparsity:.3f}, pruned weights "
              f"still zero: {pruned_zero} ({time.time() - started:.0f}s)")
        print(f"  {'variant':<20} {'examples/s':>11} {'min':>8} {'max':>8} {'examples/cpu-s':>15}")
        median = {label: np.median(r, axis=0) for label, r in rates.items()}
        for label, r in rates.items():
            print(f"  {label:<20} {median[label][0]:>11.0f} {r[:, 0].min():>8.0f} {r[:, 0].max():>8.0f} "
                  f"{median[label][1]:>15.0f}")

        def ratio(a, b):
            return median[a] / median[b]
        masked_ratio, cpu_masked_ratio = ratio("masked / lth loop", "dense / lth loop")
        tfmot_ratio, cpu_tfmot_ratio = ratio("tfmot / fit", "dense / fit")
        loop_ratio, cpu_loop_ratio = ratio("dense / lth loop", "dense / fit")
        verdict = "meets" if masked_ratio >= TARGETS[name] else "MISSES"
        print(f"  masked / dense (lth loop): {masked_ratio:.3f}x  ({verdict} the >= {TARGETS[name]}x target); "
              f"per CPU second {cpu_masked_ratio:.3f}x")
        print(f"  plain tfmot / dense (fit): {tfmot_ratio:.3f}x; per CPU second {cpu_tfmot_ratio:.3f}x")
        print(f"  lth loop / fit (dense):    {loop_ratio:.3f}x; per CPU second {cpu_loop_ratio:.3f}x")
        summary.append((SETUPS[name][0], masked_ratio, tfmot_ratio))
    print("\nsummary: " + "; ".join(f"{m}: masked/dense {a:.2f}x, tfmot/dense {b:.2f}x" for m, a, b in summary))


if __name__ == "__main__":
    main()
