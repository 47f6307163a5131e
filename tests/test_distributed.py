"""MirroredStrategy on 2 logical CPU devices: a masked network trains, every replica holds the
same masks and kernels, pruned weights stay zero, and the result matches single-device training.

Logical devices must be configured before TensorFlow runs any op, so the training runs in a
fresh interpreter; it prints one JSON line of measurements that the test checks."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json
import lth_tf
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
tf.config.experimental.enable_op_determinism()

import gin
from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.training import TrainingHparams, train

ds = load_dataset(DatasetHparams(num_samples=1000))
hp = TrainingHparams(budget="3ep", batch_size=64, lr=0.05, momentum=0.9, weight_decay=1e-3)


def run(strategy):
    gin.bind_parameter("strategy_name.name", strategy)
    model = networks.build_network(ModelHparams("lenet_300_100", width=0.1), ds.input_shape, ds.num_classes, seed=0)
    weights = wrapping.prunable_weights(model)
    masks = M.random_prune(M.ones_like(weights), 0.2, np.random.default_rng(0))
    wrapping.set_masks(model, masks)
    # Epochs 1-2 without a per-step hook (several steps per call), epoch 3 with one (one step
    # per call, per-example results gathered over replicas): both paths under the strategy.
    first = train(model, ds, hp, seed=0, end_step=24, verbose=False)
    seen = []
    result = train(model, ds, hp, seed=0, start_step=24, verbose=False,
                   on_batch=lambda step, index, correct, losses, logits: seen.append(sorted(index.tolist())))
    result.history[:0] = first.history
    return model, masks, result, seen


mirrored, masks, result, seen = run("mirrored")
out = {"replicas": mirrored.distribute_strategy.num_replicas_in_sync,
       "devices": list(mirrored.distribute_strategy.extended.worker_devices),
       "losses": [row["train_loss"] for row in result.history],
       "val_accuracy": result.history[-1]["val_accuracy"], "layers": {}}
for kernel, mask in wrapping.kernel_mask_pairs(mirrored):
    name = kernel.name.split("/")[0]
    kernels = [k.numpy() for k in mirrored.distribute_strategy.experimental_local_results(kernel)]
    mask_copies = [m.numpy() for m in mask.values]
    out["layers"][name] = {
        "copies": [len(kernels), len(mask_copies)],
        "kernel_spread": max(float(np.abs(k - kernels[0]).max()) for k in kernels),
        "mask_spread": max(float(np.abs(m - mask_copies[0]).max()) for m in mask_copies),
        "mask_is_ticket": bool(np.array_equal(mask_copies[0], masks[name])),
        "pruned_max": max(float(np.abs(k[masks[name] == 0]).max()) for k in kernels),
        "kept_moved": bool(np.all(kernels[0][masks[name] == 1] != 0)),
    }

single, _, single_result, single_seen = run("default")
out["single_replicas"] = single.distribute_strategy.num_replicas_in_sync
state, single_state = wrapping.get_state(mirrored), wrapping.get_state(single)
out["max_diff_vs_single"] = max(float(np.abs(state[k] - single_state[k]).max()) for k in state)
out["same_batches"] = seen == single_seen
out["steps"] = [len(seen), result.end_step]
print("RESULT " + json.dumps(out))
"""


def test_mirrored_strategy_on_two_cpus_keeps_masks_equal_and_pruned_weights_zero():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    (line,) = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
    out = json.loads(line[len("RESULT "):])

    assert out["replicas"] == 2 and out["single_replicas"] == 1
    assert len(out["devices"]) == 2 and all("CPU" in d for d in out["devices"])
    assert set(out["layers"]) == {"fc1", "fc2", "output"}
    for name, layer in out["layers"].items():
        assert layer["copies"] == [2, 2], name  # a copy of kernel and mask on each replica
        assert layer["mask_spread"] == 0.0 and layer["mask_is_ticket"], name
        assert layer["kernel_spread"] == 0.0, name  # replicas stay in sync bit for bit
        assert layer["pruned_max"] == 0.0, name  # pruned weights exactly zero on every replica
        assert layer["kept_moved"], name
    losses = out["losses"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    # Replicas see halves of the same global batches (gathered back for the batch hook), and
    # the summed gradients (weight decay included) match single-device training.
    assert out["steps"] == [12, 36] and out["same_batches"]
    assert out["max_diff_vs_single"] < 1e-4
