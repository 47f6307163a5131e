"""The screen by instability (issue 20 part 4): the dense network's error barrier at rewind point
k = 0 and at a few k > 0, per training setting, in one command.

    python bench/instability_screen.py [--settings resnet20_w0.5_lr0.1 lenet_ref] [--ks 0 25 50 100]
                                       [--seed 0] [--csv /tmp/screen.csv]

Per setting (Frankle et al. 2020, 003 §3): one network from seed `seed`; copy A trains the whole
budget with data order `seed` (its weights at every k are kept); for each k, copy B_k starts from
A's weights at step k and trains to the end with another data order (seed + 1000). The barrier at k
is the test-error barrier (003 eq. 3, BatchNorm statistics recomputed at every α, 11 values of α)
between A and B_k. A setting is *unstable* at k when the barrier is >= 2% (lth_tf STABLE_BELOW).
Only settings unstable at 0 and stable at some k > 0 are worth an IMP comparison of rewinding.

Settings: name -> (model, width, lr, epochs, MNIST-1D num_samples); every ResNet setting is SGD
with momentum 0.9, batch 128, cosine decay, no warm-up, weight decay 1e-4. `lenet_ref` is the
stability study's default recipe (configs/stability.gin: LeNet-300-100, lr 0.2, 6 epochs,
MNIST-1D 10k) at momentum 0.9, batch 128 (its noisiest configuration).
MNIST-1D num_samples 5000 gives 3,600 train / 400 validation / 1,000 test examples.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lth_tf  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import argparse  # noqa: E402
import csv  # noqa: E402
import time  # noqa: E402

from lth_tf import networks  # noqa: E402
from lth_tf.data import DatasetHparams, load_dataset  # noqa: E402
from lth_tf.metrics import barrier as B  # noqa: E402
from lth_tf.models import ModelHparams  # noqa: E402
from lth_tf.sparsity import wrapping  # noqa: E402
from lth_tf.training import TrainingHparams, enable_determinism, evaluate, train  # noqa: E402

NOISE_SEED_OFFSET = 1000  # copy B's data order


def _settings():
    out = {f"resnet20_w{w}_lr{lr}": ("resnet20", w, lr, 8, 5000) for w in (0.5, 0.25) for lr in (0.05, 0.1, 0.2, 0.4)}
    out["lenet_ref"] = ("lenet_300_100", 1.0, 0.2, 6, 10000)
    return out


SETTINGS = _settings()


def recipe(name: str):
    """(dataset, ModelHparams, TrainingHparams) of a setting."""
    model_name, width, lr, epochs, samples = SETTINGS[name]
    hp = TrainingHparams(budget=f"{epochs}ep", batch_size=128, lr=lr, momentum=0.9, schedule="cosine",
                         weight_decay=1e-4)
    return load_dataset(DatasetHparams(num_samples=samples)), ModelHparams(model_name, width=width), hp


def screen(name: str, ks, seed: int) -> dict:
    model_name, width, lr, epochs, samples = SETTINGS[name]
    ds, model_hp, hp = recipe(name)
    model = networks.build_network(model_hp, ds.input_shape, ds.num_classes, seed=seed)
    start = time.perf_counter()
    a = train(model, ds, hp, seed=seed, snapshot_steps=[k for k in ks if k > 0], verbose=False)
    seconds = time.perf_counter() - start
    state_a = wrapping.get_state(model)
    acc_a = evaluate(model, ds, ds.test)["accuracy"]
    init = networks.build_network(model_hp, ds.input_shape, ds.num_classes, seed=seed)
    starts = {0: wrapping.get_state(init), **a.snapshots}
    evaluator = B.ErrorEvaluator(model, ds, ds.test)
    row = {"setting": name, "model": model_name, "width": width, "lr": lr, "epochs": epochs,
           "num_samples": samples, "seed": seed, "steps": a.end_step, "acc_A": round(acc_a, 4)}
    for k in ks:
        wrapping.set_state(model, starts[k])
        train(model, ds, hp, seed=seed + NOISE_SEED_OFFSET, start_step=k, verbose=False)
        if k == 0:
            row["acc_B0"] = round(evaluate(model, ds, ds.test)["accuracy"], 4)
        state_b = wrapping.get_state(model)
        row[f"barrier_k{k}"] = round(B.linear_path(model, state_a, state_b, ds, evaluator=evaluator).barrier, 4)
    row["s_per_training"] = round(seconds, 1)
    return row


def write_csv(rows, path: str):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def print_table(rows):
    """The rows as a markdown table."""
    keys = list(rows[0])
    print("\n| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", nargs="+", default=[s for s in SETTINGS if "w0.25" not in s],
                        choices=list(SETTINGS))
    parser.add_argument("--ks", nargs="+", type=int, default=[0, 25, 50, 100])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", default="instability_screen.csv")
    args = parser.parse_args()
    enable_determinism()
    rows = []
    for name in args.settings:
        row = screen(name, args.ks, args.seed)
        rows.append(row)
        print(" | ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        write_csv(rows, args.csv)  # rewritten after every setting: partial runs keep their rows
    print_table(rows)


if __name__ == "__main__":
    main()
