"""Lottery tickets for your own Keras model and tf.data datasets, end to end, offline.

    python examples/find_tickets.py [--levels 3] [--epochs 3] [--out /tmp/lth_ticket]

MNIST-1D (generated locally by lth_tf.data) as tf.data datasets, a small Keras MLP of our own,
IMP with rewinding to step 50, the level-L ticket against its random-reinit and random-mask
baselines, the error barrier of two trainings of the ticket (SGD noise from the shuffle),
forgetting / EL2N scores of the training examples, and the ticket exported as a SavedModel.
About a minute on 2 CPU cores.
"""
import argparse
import time

import lth_tf  # first: it selects Keras 2 (tf_keras), which tfmot needs

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf.data import DatasetHparams, load_dataset


def datasets(batch_size=128):
    ds = load_dataset(DatasetHparams())  # numpy splits of MNIST-1D: x (n, 40, 1), y (n,)

    def to_tf(split, shuffle):
        x = ((split.x - ds.mean) / ds.std).astype(np.float32)
        d = tf.data.Dataset.from_tensor_slices((x, split.y))
        return (d.shuffle(len(x), seed=0) if shuffle else d).batch(batch_size)

    return to_tf(ds.train, True), to_tf(ds.val, False), to_tf(ds.train, False)


def my_model():
    inputs = keras.Input((40, 1))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(128, activation="relu", name="fc1")(h)
    h = keras.layers.Dense(64, activation="relu", name="fc2")(h)
    return keras.Model(inputs, keras.layers.Dense(10, name="logits")(h))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default="/tmp/lth_ticket")
    args = parser.parse_args()
    t0 = time.time()
    keras.utils.set_random_seed(0)
    train_ds, val_ds, examples = datasets()
    compile_kwargs = dict(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])

    search = lth_tf.imp(my_model(), train_ds, val_ds=val_ds, compile_kwargs=compile_kwargs, epochs=args.epochs,
                        levels=args.levels, fraction=0.2, rewind_step=50, scope="global")
    level = args.levels
    runs = search.baselines(level)  # ticket, random_reinit, random_mask, trained alike
    print("\nlevel sparsity val_accuracy")
    for row in search.summary():
        print(f"{row['level']:5d} {row['sparsity']:8.3f} {row['val_accuracy']:12.4f}")
    for name, run in runs.items():
        print(f"level {level} {name:13s} sparsity {run.sparsity:.3f} val_accuracy {run.metrics['val_accuracy']:.4f}")

    again = search.train(level)  # the same ticket, another pass of the shuffled data: SGD noise
    barrier = lth_tf.error_barrier(runs["ticket"], again, val_ds)
    print(f"error barrier of two trainings of the ticket: {barrier.barrier:.4f} "
          f"({'stable' if barrier.stable() else 'unstable'} to SGD noise)")

    scores = lth_tf.score_examples(search.ticket(level), train_ds, examples, compile_kwargs=compile_kwargs,
                                   epochs=args.epochs, el2n_epoch=1, verbose=0)
    print("forgetting (per-epoch evaluation):", {k: round(v, 4) for k, v in scores.summary.items()})
    print("EL2N after epoch 1: mean", round(float(scores.el2n.mean()), 4), "max", round(float(scores.el2n.max()), 4))

    path = lth_tf.export_ticket(runs["ticket"], args.out, overwrite=True)  # a rerun replaces its own export
    loaded = keras.models.load_model(str(path / "saved_model"), compile=False)
    zeros = sum(int((l.kernel.numpy() == 0).sum()) for l in loaded.layers if hasattr(l, "kernel"))
    print(f"exported to {path}: {zeros} zero weights in the SavedModel; {time.time() - t0:.0f}s in all")


if __name__ == "__main__":
    main()
