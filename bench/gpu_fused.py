"""GPU check for the `device` tool (not run yet: no GPU was lent when it was written). Prints
examples/s with the load and the device beside every number; about 5 minutes on one GPU.

    python bench/gpu_fused.py [--steps 200]

1. Fused LeNet-300-100 (lth_tf.training.fused) on MNIST-1D shapes, batch 128, 80%-masked SGD:
   aggregate examples/s of K = 1, 2, 4, 8, 16 fused networks against one solo train() (K solo
   runs take K times as long), with and without jit_compile.
2. ResNet-20 on CIFAR-shaped data (32x32x3, batch 128), dense and 80%-masked: solo train()
   with and without jit_compile and mixed precision: the per-network baseline a fused ResNet
   trainer would have to beat K-fold. Batch norm and residual additions do not fuse yet
   (lth_tf/training/fused_chain.py raises NotFusable), so there is no fused ResNet figure.
3. Conv-4 on the same CIFAR-shaped data: fused K = 1, 4, 16 (grouped convolutions) vs solo.
Not measured: evaluation, data loading from disk, multi-GPU, memory limits of large K.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lth_tf  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from fused_training import BATCH, dataset, load, members  # noqa: E402
from lth_tf import networks  # noqa: E402
from lth_tf.data.dataset import Dataset, Split  # noqa: E402
from lth_tf.models import ModelHparams  # noqa: E402
from lth_tf.sparsity import masks as M  # noqa: E402
from lth_tf.sparsity import wrapping  # noqa: E402
from lth_tf.training import TrainingHparams, train  # noqa: E402
from lth_tf.training.fused import Member, train_fused  # noqa: E402


def timed(fn, examples: int) -> float:
    fn()  # tracing / compilation
    t = time.perf_counter()
    fn()
    return examples / (time.perf_counter() - t)


def lenet(steps: int):
    ds = dataset(steps)
    for jit in (False, True):
        hp = TrainingHparams(budget="1000000it", batch_size=BATCH, lr=0.01, weight_decay=1e-4, jit_compile=jit)
        solo = members(1, hp)[0]
        rate = timed(lambda: train(solo.model, ds, hp, seed=0, end_step=steps, verbose=False), steps * BATCH)
        print(f"lenet jit={jit} solo: {rate:.0f} examples/s; {load()}", flush=True)
        for k in (1, 2, 4, 8, 16):
            group = members(k, hp)
            fused = timed(lambda: train_fused(group, ds, end_step=steps, verbose=False), k * steps * BATCH)
            print(f"lenet jit={jit} fused K={k}: {fused:.0f} examples/s ({fused / rate:.2f}x solo); {load()}",
                  flush=True)


def resnet(steps: int):
    rng = np.random.default_rng(0)
    n = BATCH * steps
    split = Split(rng.integers(0, 255, (n, 32, 32, 3)).astype(np.uint8), rng.integers(0, 10, n).astype(np.int64),
                  np.arange(n, dtype=np.int64))
    empty = split.take(np.arange(0))
    ds = Dataset("random_cifar", split, empty, empty, 10, np.zeros(3, np.float32), np.ones(3, np.float32), "none")
    for jit, mixed in ((False, False), (True, False), (False, True), (True, True)):
        for masked in (False, True):
            keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
            model = networks.build_network(ModelHparams("resnet20"), (32, 32, 3), 10, seed=0)
            keras.mixed_precision.set_global_policy("float32")
            if masked:
                ones = M.ones_like(wrapping.prunable_weights(model))
                wrapping.set_masks(model, M.random_prune(ones, 0.8, np.random.default_rng(0)))
            hp = TrainingHparams(budget="1000000it", batch_size=BATCH, jit_compile=jit, mixed_precision=mixed)
            rate = timed(lambda: train(model, ds, hp, seed=0, end_step=steps, verbose=False), steps * BATCH)
            print(f"resnet20 jit={jit} mixed={mixed} masked={masked} solo: {rate:.0f} examples/s; {load()}",
                  flush=True)
    conv4(ds, steps)


def conv4(ds, steps: int):
    hp = TrainingHparams(budget="1000000it", batch_size=BATCH, lr=0.01, weight_decay=1e-4)

    def group(k):
        return [Member(networks.build_network(ModelHparams("conv4"), (32, 32, 3), 10, seed=i), hp, seed=i)
                for i in range(k)]
    solo = group(1)[0]
    rate = timed(lambda: train(solo.model, ds, hp, seed=0, end_step=steps, verbose=False), steps * BATCH)
    print(f"conv4 solo: {rate:.0f} examples/s; {load()}", flush=True)
    for k in (1, 4, 16):
        members_k = group(k)
        fused = timed(lambda: train_fused(members_k, ds, end_step=steps, verbose=False), k * steps * BATCH)
        print(f"conv4 fused K={k}: {fused:.0f} examples/s ({fused / rate:.2f}x solo); {load()}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    tf.get_logger().setLevel("ERROR")
    print(f"TensorFlow {tf.__version__}; devices {[d.name for d in tf.config.list_physical_devices()]}", flush=True)
    lenet(args.steps)
    resnet(args.steps)


if __name__ == "__main__":
    main()
