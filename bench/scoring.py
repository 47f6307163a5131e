"""Scoring throughput next to training throughput, measured side by side in one process.

    python bench/scoring.py [--model lenet_300_100] [--dataset mnist1d] [--steps 300] [--repeats 5]

Prints examples/s of plain training (the library's train(), batch 128, no validation), EL2N
scoring (one forward pass) and GraNd scoring (vectorized per-example gradients; default
settings, then forced without and with XLA), and each one's cost per example as a multiple of
a training step's (GraNd target: <= 5x). After a warm-up, every method runs once per round;
ratios are medians over rounds, so that other processes on a shared machine, which slow a
whole round, disturb them less.
"""
import argparse
import dataclasses
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lth_tf  # noqa: E402,F401  (before TensorFlow: selects Keras 2)

from lth_tf import networks  # noqa: E402
from lth_tf.data import DatasetHparams, load_dataset  # noqa: E402
from lth_tf.metrics import scores  # noqa: E402
from lth_tf.models import ModelHparams  # noqa: E402
from lth_tf.training import TrainingHparams, train  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="lenet_300_100")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--dataset", default="mnist1d")
    parser.add_argument("--steps", type=int, default=300, help="training steps per timing")
    parser.add_argument("--batch_size", type=int, default=128, help="training batch size")
    parser.add_argument("--score_batch_size", type=int, default=512)
    parser.add_argument("--examples", type=int, default=0, help="examples scored per timing (0: the training split)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds")
    args = parser.parse_args()

    ds = load_dataset(DatasetHparams(name=args.dataset))
    ds = dataclasses.replace(ds, val=ds.val.take([]))  # no per-epoch validation inside the timing
    model = networks.build_network(ModelHparams(args.model, args.width), ds.input_shape, ds.num_classes, seed=0)
    hp = TrainingHparams(budget=f"{args.steps}it", batch_size=args.batch_size)
    split = ds.train.take(range(min(args.examples or len(ds.train), len(ds.train))))
    work = {  # name -> (function, examples it processes)
        "training": (lambda: train(model, ds, hp, seed=0, verbose=False), args.steps * args.batch_size),
        "el2n": (lambda: scores.el2n_scores(model, ds, split), len(split)),
    }
    for name, jit in (("grand", None), ("grand (no xla)", False), ("grand (xla)", True)):
        work[name] = (lambda jit=jit: scores.grand_scores(model, ds, split, args.score_batch_size, jit_compile=jit),
                      len(split))
    for fn, _ in work.values():
        fn()  # warm-up: tracing and compilation
    # Round-robin repeats: every method sees the same load in each round, so the per-round
    # cost ratios stay meaningful on a shared machine; report their median.
    rates = {name: [] for name in work}
    for _ in range(args.repeats):
        for name, (fn, examples) in work.items():
            rates[name].append(examples / timed(fn))
    ratios = {name: float(np.median(np.array(rates["training"]) / np.array(r))) for name, r in rates.items()}

    print(f"{args.model} (width {args.width:g}) on {args.dataset}: training batch {args.batch_size}, "
          f"scoring batch {args.score_batch_size}, {args.repeats} rounds")
    for name, r in rates.items():
        print(f"  {name:15s} {max(r):12,.0f} examples/s (best)   cost per example = {ratios[name]:5.2f} x a "
              f"training step's (median over rounds)")
    print(f"GraNd per-example gradients (default settings): {ratios['grand']:.2f}x a training step per example "
          f"(target <= 5x: {'ok' if ratios['grand'] <= 5 else 'over target'})")

if __name__ == "__main__":
    main()
