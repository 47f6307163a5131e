"""Training throughput of `lth_tf.training.train` against the JAX peer doing the same masked
SGD step, measured alternately in one run.

    python bench/train_speed.py [--rounds 5] [--jax_python .jaxenv/bin/python] [--peer PATH]

The peer (`../shared/peers/peer_jax.py`, see its README) trains LeNet-300-100 with 80%-sparse
fixed masks in JAX (jit + lax.scan over an epoch): SGD, momentum 0.9, weight decay 1e-4, batch
128, 469 steps of random MNIST-shaped data per epoch; it prints the median examples/s of its
epochs 2..R. It needs its own interpreter with JAX (`python3 -m venv .jaxenv &&
.jaxenv/bin/pip install jax`); without one the peer is skipped with a message and only our
figures are printed.

Ours: the same network, masks density, data shape, batch and recipe in `train()` (the lth-tf
masked LeNet, no validation split), once with the default options and once with
`TrainingHparams(jit_compile=True)`. Each round runs the peer once (a fresh process: 3 epochs,
its own median of epochs 2-3) and then each of our variants for 3 epochs (the first, with
tracing and compilation, dropped); the order of our variants alternates between rounds. The
machine is shared, so the load average is printed at every round and the medians over rounds
are compared: target ours / peer >= 0.8.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lth_tf  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import argparse  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lth_tf import networks  # noqa: E402
from lth_tf.data.dataset import Dataset, Split  # noqa: E402
from lth_tf.models import ModelHparams  # noqa: E402
from lth_tf.sparsity import masks as M  # noqa: E402
from lth_tf.sparsity import wrapping  # noqa: E402
from lth_tf.training import TrainingHparams, train  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BATCH, STEPS, DENSITY = 128, 469, 0.2  # the peer's batch, steps per epoch and kept fraction
EPOCHS = 3  # per variant and round; the first is warm-up
TARGET = 0.8
VARIANTS = {"lth-tf default": {}, "lth-tf jit_compile": {"jit_compile": True}}


def peer_dataset() -> Dataset:
    """Random MNIST-shaped (flat, 784) examples, STEPS batches, as the peer draws them."""
    rng = np.random.default_rng(0)
    n = BATCH * STEPS
    train_split = Split(rng.normal(size=(n, 784)).astype(np.float32), rng.integers(0, 10, n).astype(np.int64),
                        np.arange(n, dtype=np.int64))
    empty = Split(train_split.x[:0], train_split.y[:0], train_split.index[:0])  # time training only
    return Dataset("random", train_split, empty, empty, 10, np.zeros(1, np.float32), np.ones(1, np.float32), "none")


def our_variant(ds: Dataset, options: dict):
    """A function running EPOCHS epochs of train() on a masked LeNet and returning examples/s of
    the epochs after the first."""
    hp = TrainingHparams(budget="1000000it", batch_size=BATCH, lr=0.01, momentum=0.9, weight_decay=1e-4, **options)
    model = networks.build_network(ModelHparams("lenet_300_100"), (784,), 10, seed=0)
    weights = wrapping.prunable_weights(model)
    masks = M.random_prune(M.ones_like(weights), DENSITY, np.random.default_rng(0))
    wrapping.set_masks(model, masks)

    def run():
        stamps = [time.perf_counter()]
        train(model, ds, hp, seed=0, end_step=EPOCHS * STEPS, verbose=False,
              on_epoch=lambda epoch, step, model: stamps.append(time.perf_counter()))
        kernels = wrapping.prunable_weights(model)
        assert all(np.all(kernels[n][m == 0] == 0) for n, m in masks.items()), "a pruned weight moved"
        return list(STEPS * BATCH / np.diff(stamps)[1:])
    return run


def run_peer(python: str, peer: Path):
    """The peer's masked examples/s (median of its epochs 2-3), from a fresh process."""
    out = subprocess.run([python, str(peer), str(EPOCHS)], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"jax masked examples/s (\d+)", out).group(1))


def _peer_script() -> Path:
    """../shared/peers/peer_jax.py beside the checkout, or beside a folder above it (a worktree)."""
    found = [p / "shared/peers/peer_jax.py" for p in REPO.parents if (p / "shared/peers/peer_jax.py").exists()]
    return found[0] if found else REPO.parent / "shared/peers/peer_jax.py"


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jax_python", default=os.environ.get("LTH_JAX_PYTHON", str(REPO / ".jaxenv/bin/python")),
                        help="an interpreter with JAX (env LTH_JAX_PYTHON)")
    parser.add_argument("--peer", default=str(_peer_script()))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    tf.get_logger().setLevel("ERROR")
    peer = Path(args.peer)
    have_peer = Path(args.jax_python).exists() and peer.exists()
    if not have_peer:
        print(f"peer skipped: no JAX interpreter at {args.jax_python} or no peer script at {peer} "
              f"(python3 -m venv .jaxenv && .jaxenv/bin/pip install jax; --jax_python, --peer)")
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs; masked LeNet-300-100, density {DENSITY}, batch "
          f"{BATCH}, {STEPS} steps/epoch, {args.rounds} rounds; {load()}")
    ds = peer_dataset()
    runs = {label: our_variant(ds, VARIANTS[label]) for label in args.variants}
    rates = {label: [] for label in (["jax peer"] if have_peer else []) + list(runs)}
    for round_ in range(args.rounds):
        if have_peer:
            rates["jax peer"].append(run_peer(args.jax_python, peer))
        order = list(runs) if round_ % 2 == 0 else list(runs)[::-1]
        for label in order:
            rates[label].extend(runs[label]())
        print(f"round {round_ + 1}: " + ", ".join(f"{label} {r[-1]:.0f}" for label, r in rates.items())
              + f" examples/s; {load()}", flush=True)
    median = {label: float(np.median(r)) for label, r in rates.items()}
    print(f"\n{'variant':<20} {'examples/s':>11} {'min':>8} {'max':>8}")
    for label, r in rates.items():
        print(f"{label:<20} {median[label]:>11.0f} {min(r):>8.0f} {max(r):>8.0f}")
    if have_peer:
        for label in runs:
            ratio = median[label] / median["jax peer"]
            verdict = "meets" if ratio >= TARGET else "misses"
            print(f"{label} / jax peer: {ratio:.2f}x ({verdict} the >= {TARGET}x target)")
    print(load())


if __name__ == "__main__":
    main()
