"""Aggregate training throughput of K networks fused in one step (lth_tf.training.fused) against
K solo runs of today's default `train()`, alternated in one run.

    python bench/fused_training.py [--rounds 2] [--steps 300] [--ks 1 2 4 8 16] [--jit] [--model conv2]

LeNet-300-100 on MNIST-1D shapes (40 inputs), masked SGD (80% of each kernel pruned, momentum
0.9, weight decay 1e-4, lr 0.01), batch 128, random data, no validation split (training alone is
timed). Each round runs, in alternating order, one solo train() of `steps` steps (K solo runs
take K times as long: their aggregate rate is the solo rate) and one fused call of `steps`
steps per K; tracing is done before the first round. Printed: examples/s (aggregate over the K
networks), the ratio to the solo rate of the same round, and the FLOP/s reached (the dense
matmul arithmetic of forward and backward, FLOPS_PER_EXAMPLE) as a fraction of this box's
matmul FLOP/s measured at the start (a 1024^3 float32 tf.matmul: the ceiling). The box is shared: the load
average is printed beside every number. Target: >= 3x at K = 16. `--model conv2`: Conv-2 on the
same data as (40, 1) sequences (grouped convolutions; no FLOP figures).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lth_tf  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lth_tf import networks  # noqa: E402
from lth_tf.data.dataset import Dataset, Split  # noqa: E402
from lth_tf.models import ModelHparams  # noqa: E402
from lth_tf.sparsity import masks as M  # noqa: E402
from lth_tf.sparsity import wrapping  # noqa: E402
from lth_tf.training import TrainingHparams, train  # noqa: E402
from lth_tf.training.fused import Member, train_fused  # noqa: E402

BATCH, INPUTS, DENSITY = 128, 40, 0.2
LAYERS = [(INPUTS, 300), (300, 100), (100, 10)]
# forward: 2 flops per multiply-add; backward: the input and the weight gradients, twice that
# (the first layer's input gradient is not needed, counted anyway: an upper bound of the work)
FLOPS_PER_EXAMPLE = 3 * 2 * sum(i * o for i, o in LAYERS)


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def dataset(steps: int) -> Dataset:
    rng = np.random.default_rng(0)
    n = BATCH * steps
    split = Split(rng.normal(size=(n, INPUTS, 1)).astype(np.float32), rng.integers(0, 10, n).astype(np.int64),
                  np.arange(n, dtype=np.int64))
    empty = split.take(np.arange(0))
    return Dataset("random40", split, empty, empty, 10, np.zeros(1, np.float32), np.ones(1, np.float32), "none")


def members(k: int, hp: TrainingHparams, name: str = "lenet_300_100"):
    out = []
    for i in range(k):
        model = networks.build_network(ModelHparams(name), (INPUTS, 1), 10, seed=i)
        ones = M.ones_like(wrapping.prunable_weights(model))
        wrapping.set_masks(model, M.random_prune(ones, 1 - DENSITY, np.random.default_rng(i)))
        out.append(Member(model, hp, seed=i))
    return out


def matmul_flops() -> float:
    a = tf.random.normal([1024, 1024])
    f = tf.function(lambda a: tf.reduce_sum(tf.matmul(a, a)))
    f(a).numpy()
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        f(a).numpy()
        best = max(best, 2 * 1024 ** 3 / (time.perf_counter() - t))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--jit", action="store_true", help="TrainingHparams.jit_compile for both")
    parser.add_argument("--model", default="lenet_300_100", choices=["lenet_300_100", "conv2"])
    args = parser.parse_args()
    tf.get_logger().setLevel("ERROR")
    ds = dataset(args.steps)
    hp = TrainingHparams(budget="1000000it", batch_size=BATCH, lr=0.01, momentum=0.9, weight_decay=1e-4,
                         jit_compile=args.jit)
    ceiling = matmul_flops()
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, jit_compile={args.jit}; matmul ceiling "
          f"{ceiling / 1e9:.1f} GFLOP/s; {load()}", flush=True)
    solo = members(1, hp, args.model)[0]
    groups = {k: members(k, hp, args.model) for k in args.ks}
    flops = FLOPS_PER_EXAMPLE if args.model == "lenet_300_100" else float("nan")

    def run_solo():
        t = time.perf_counter()
        train(solo.model, ds, hp, seed=0, end_step=args.steps, verbose=False)
        return args.steps * BATCH / (time.perf_counter() - t)

    def run_fused(k):
        t = time.perf_counter()
        train_fused(groups[k], ds, end_step=args.steps, verbose=False)
        return k * args.steps * BATCH / (time.perf_counter() - t)

    run_solo()  # tracing
    for k in args.ks:
        run_fused(k)
    rates = {"solo": [], **{k: [] for k in args.ks}}
    for round_ in range(args.rounds):
        order = ["solo"] + list(args.ks)
        for label in order if round_ % 2 == 0 else order[::-1]:
            rates[label].append(run_solo() if label == "solo" else run_fused(label))
        print(f"round {round_ + 1}: " + ", ".join(f"{label} {r[-1]:.0f}" for label, r in rates.items())
              + f" examples/s; {load()}", flush=True)
    solo_rate = float(np.median(rates["solo"]))
    print(f"\n{'K':>4} {'examples/s':>11} {'x solo':>7} {'GFLOP/s':>8} {'of ceiling':>10}   (medians; {load()})")
    print(f"{'solo':>4} {solo_rate:>11.0f} {1.0:>7.2f} {solo_rate * flops / 1e9:>8.2f} "
          f"{solo_rate * flops / ceiling:>10.1%}")
    for k in args.ks:
        rate = float(np.median(rates[k]))
        print(f"{k:>4} {rate:>11.0f} {rate / solo_rate:>7.2f} {rate * flops / 1e9:>8.2f} "
              f"{rate * flops / ceiling:>10.1%}")


if __name__ == "__main__":
    main()
