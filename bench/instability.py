"""Time of one error-barrier evaluation (every α of the linear path) vs. one evaluation pass
of the test set, side by side in one run.

    python bench/instability.py [--setups lenet resnet20] [--repeats 7]

Setups (MNIST-1D, generated offline, test split of 2000 examples):
  lenet    : LeNet-300-100, the stability study's default model (no batch norm), 80% sparse mask
  resnet20 : the 1-D ResNet-20 (batch norm: statistics recomputed at every α from the default
             2 training batches of 128), 80% sparse mask
It times, for two different weight states of the same masked network:
  barrier     : lth_tf.metrics.barrier.linear_path over the default 11 values of α (weights
                assigned within the mask, BN recomputed, test error at each α), with the
                evaluator's cached batches (as the Instability component uses it); without BN
                the whole path is one traced call
  eval pass   : one pass over the test set with the same cached batches and forward function
                (no BN recomputation: that is part of the barrier's cost)
  evaluate()  : lth_tf.training.evaluate on the test set (builds its tf.data pipeline per call)
Target: barrier <= (number of α) x 1.2 eval passes. Each variant is warmed up first (not timed);
then the variants take turns `repeats` times. The ratio of the fastest runs is the primary number
(the least disturbed by other processes on a shared machine); the ratio of medians is printed too.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lth_tf  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from lth_tf import networks  # noqa: E402
from lth_tf.data import DatasetHparams, load_dataset  # noqa: E402
from lth_tf.metrics import barrier as B  # noqa: E402
from lth_tf.models import ModelHparams  # noqa: E402
from lth_tf.sparsity import masks as M  # noqa: E402
from lth_tf.sparsity import wrapping  # noqa: E402
from lth_tf.training import enable_determinism, evaluate  # noqa: E402

SETUPS = {"lenet": "lenet_300_100", "resnet20": "resnet20"}


def measure(setup: str, repeats: int):
    ds = load_dataset(DatasetHparams())
    hp = ModelHparams(SETUPS[setup])
    model = networks.build_network(hp, ds.input_shape, ds.num_classes, seed=0)
    state_1 = wrapping.get_state(model)
    state_2 = wrapping.get_state(networks.build_network(hp, ds.input_shape, ds.num_classes, seed=1))
    masks = M.random_prune(M.ones_like(wrapping.prunable_weights(model)), 0.2, np.random.default_rng(0))
    evaluator = B.ErrorEvaluator(model, ds, ds.test)
    wrapping.set_masks(model, masks)
    wrapping.set_state(model, state_1)

    def barrier():
        B.linear_path(model, state_1, state_2, ds, masks=masks, evaluator=evaluator)

    def eval_pass():
        evaluator(recompute_bn=False)

    def library_evaluate():
        evaluate(model, ds, ds.test)

    variants = {"barrier": barrier, "eval pass": eval_pass, "evaluate()": library_evaluate}
    for run in variants.values():  # trace and warm up
        run()
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times, len(B.ALPHAS), bool(B.batch_norm_layers(model))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    enable_determinism()
    for setup in args.setups:
        times, alphas, has_bn = measure(setup, args.repeats)
        fastest = {name: min(t) for name, t in times.items()}
        medians = {name: statistics.median(t) for name, t in times.items()}
        target = alphas * 1.2
        ratio = fastest["barrier"] / fastest["eval pass"]
        print(f"{setup}{' (BN recomputed)' if has_bn else ''}, fastest of {args.repeats}: barrier ({alphas} alphas) "
              f"{1000 * fastest['barrier']:.1f} ms, eval pass {1000 * fastest['eval pass']:.1f} ms, "
              f"evaluate() {1000 * fastest['evaluate()']:.1f} ms")
        print(f"  barrier / eval pass = {ratio:.2f} eval passes (target <= {target:.1f}: "
              f"{'met' if ratio <= target else 'NOT met'}); medians: "
              f"{medians['barrier'] / medians['eval pass']:.2f}; barrier / evaluate() = "
              f"{fastest['barrier'] / fastest['evaluate()']:.2f}", flush=True)


if __name__ == "__main__":
    main()
