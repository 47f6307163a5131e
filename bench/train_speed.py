"""Training throughput of `lth_tf.training.train` against the JAX peer doing the same masked
SGD step, alternated epoch by epoch in one run.

    python bench/train_speed.py [--rounds 5] [--jax_python .jaxenv/bin/python] [--peer PATH]

The peer (`../shared/peers/peer_jax.py`, see its README) trains LeNet-300-100 with 80%-sparse
fixed masks in JAX (jit + lax.scan over an epoch): SGD, momentum 0.9, weight decay 1e-4, batch
128, 469 steps of random MNIST-shaped data per epoch. It needs its own interpreter with JAX
(`python3 -m venv .jaxenv && .jaxenv/bin/pip install jax`); without one the peer is skipped
with a message and only our figures are printed. It runs in one process for the whole
benchmark, one masked epoch per request (bench/jax_peer.py: the peer's own code), its first
epoch (compilation) dropped.

Ours: the same network, masks density, data shape, batch and recipe in `train()` (the lth-tf
masked LeNet, no validation split), once per variant (VARIANTS: the default options and
`TrainingHparams(jit_compile=True)`). Each round trains each variant for EPOCHS epochs in one
train() call (the first dropped: tracing, in the first round) and runs one peer epoch after each of ours, so
every epoch of ours has a peer epoch measured right after it under the same load; the order of
our variants alternates between rounds. The machine is shared, so the load average is printed
at every round; the summary gives the medians and the median of the per-epoch ratios (ours /
the peer epoch beside it): target >= 0.8. A third variant, "bare TensorFlow"
(bench/tf_ceiling.py), is the peer's exact step as a bare tf.function without lth-tf: what
TensorFlow itself reaches, so ours / bare says what lth-tf costs and bare / peer what TensorFlow
does.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lth_tf  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import argparse  # noqa: E402
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jax_peer import JaxPeer  # noqa: E402
from tf_ceiling import bare_variant  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BATCH, STEPS, DENSITY = 128, 469, 0.2  # the peer's batch, steps per epoch and kept fraction
EPOCHS = 4  # per variant and round; the first is warm-up
TARGET = 0.8
VARIANTS = {"lth-tf default": {}, "lth-tf jit_compile": {"jit_compile": True}}
BARE = "bare TensorFlow"  # the peer's step without lth-tf (bench/tf_ceiling.py): TensorFlow's ceiling


def peer_dataset() -> Dataset:
    """Random MNIST-shaped (flat, 784) examples, STEPS batches, as the peer draws them."""
    rng = np.random.default_rng(0)
    n = BATCH * STEPS
    train_split = Split(rng.normal(size=(n, 784)).astype(np.float32), rng.integers(0, 10, n).astype(np.int64),
                        np.arange(n, dtype=np.int64))
    empty = Split(train_split.x[:0], train_split.y[:0], train_split.index[:0])  # time training only
    return Dataset("random", train_split, empty, empty, 10, np.zeros(1, np.float32), np.ones(1, np.float32), "none")


def our_variant(ds: Dataset, options: dict):
    """A function running EPOCHS epochs of train() on a masked LeNet, one peer epoch after each
    (peer None: none), and returning [(our examples/s, the peer's)] of the epochs after the first."""
    hp = TrainingHparams(budget="1000000it", batch_size=BATCH, lr=0.01, momentum=0.9, weight_decay=1e-4, **options)
    model = networks.build_network(ModelHparams("lenet_300_100"), (784,), 10, seed=0)
    weights = wrapping.prunable_weights(model)
    masks = M.random_prune(M.ones_like(weights), DENSITY, np.random.default_rng(0))
    wrapping.set_masks(model, masks)

    def run(peer):
        pairs, start = [], [time.perf_counter()]

        def on_epoch(epoch, step, model):
            ours = STEPS * BATCH / (time.perf_counter() - start[0])
            pairs.append((ours, STEPS * BATCH / peer.epoch() if peer else float("nan")))
            start[0] = time.perf_counter()

        train(model, ds, hp, seed=0, end_step=EPOCHS * STEPS, verbose=False, on_epoch=on_epoch)
        kernels = wrapping.prunable_weights(model)
        assert all(np.all(kernels[n][m == 0] == 0) for n, m in masks.items()), "a pruned weight moved"
        return pairs[1:]
    return run


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
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS) + [BARE], choices=list(VARIANTS) + [BARE])
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
    runs = {label: bare_variant(BATCH, STEPS, EPOCHS, DENSITY) if label == BARE else our_variant(ds, VARIANTS[label])
            for label in args.variants}
    peer = JaxPeer(args.jax_python, str(peer)) if have_peer else None
    pairs = {label: [] for label in runs}
    try:
        for round_ in range(args.rounds):
            order = list(runs) if round_ % 2 == 0 else list(runs)[::-1]
            for label in order:
                pairs[label].extend(runs[label](peer))
            print(f"round {round_ + 1}: " + ", ".join(
                f"{label} {pairs[label][-1][0]:.0f} (peer {pairs[label][-1][1]:.0f})" for label in runs)
                + f" examples/s; {load()}", flush=True)
    finally:
        if peer is not None:
            peer.close()
    rates = {label: [p[0] for p in pairs[label]] for label in runs}
    if have_peer:
        rates = {"jax peer": [p[1] for label in runs for p in pairs[label]], **rates}
    print(f"\n{'variant':<20} {'examples/s':>11} {'min':>8} {'max':>8}  (medians over {args.rounds} rounds "
          f"x {EPOCHS - 1} epochs)")
    for label, r in rates.items():
        print(f"{label:<20} {np.median(r):>11.0f} {min(r):>8.0f} {max(r):>8.0f}")
    if have_peer:
        for label in runs:
            paired = float(np.median([ours / theirs for ours, theirs in pairs[label]]))
            of_medians = np.median(rates[label]) / np.median(rates["jax peer"])
            verdict = "meets" if paired >= TARGET else "misses"
            print(f"{label} / jax peer: {paired:.2f}x per epoch pair, {of_medians:.2f}x of the medians "
                  + (f"({verdict} the >= {TARGET}x target)" if label != BARE else "(TensorFlow's ceiling)"))
    if BARE in rates:
        for label in runs:
            if label != BARE:
                print(f"{label} / {BARE}: {np.median(rates[label]) / np.median(rates[BARE]):.2f}x of the medians")
    print(load())


if __name__ == "__main__":
    main()
