"""Probing and transfer of tickets, as components.

Probing: linear probes after every block of the frozen, *untrained* ticket (its mask applied to
its rewind weights), against two baselines: the same weights under a layerwise-permuted mask
(same per-layer sparsity, random positions) and a randomly initialized dense network; the
trained ticket is probed too, as the ceiling.

Transfer (003 §5.1 "Transferability of emergent features", Table 6, Appendix E.2): the
transferred network is the *untrained* ticket, its mask on its rewind weights, frozen. 003 §5.1:
"To enable transferability to datasets with different number of classes, we replace the linear
layer with a new linear layer with a target-specific number of outputs, and freeze all other
layers"; the tickets are "still frozen at initialization" (§5.1), "our frozen tickets at
initialization" (App. E.2). So everything before the `output` layer is kept fixed, a new linear
head is trained on the target's training split, and its test accuracy on the target is reported.
Baselines as Table 6 ("Starred(*) entries correspond to dense trained networks, meaning the
feature extractors have a sparsity of 0.00% and have been trained either on the source or the
target dataset"): the dense network trained on the source, frozen, with a new head ("Frozen
dense*"), and a dense network trained from scratch on the target ("Retrained dense network*",
"an upper limit on the model performance"). Extras, labelled as such: a random dense network's
features, and the *trained* ticket frozen (what this component transferred before it followed
the paper).

Targets: another dataset, its images resized to the source's input shape and normalized with
its own statistics (003 §5.1: "we normalize the images with the mean and standard deviation,
and rescale to 32×32"; lth_tf.data.resize), e.g. CIFAR-10 tickets to CIFAR-100, SVHN or MNIST;
or, offline, a disjoint class split of the source: `class_subset('mnist1d', (0..4))` registers a
dataset holding only those classes (labels renumbered from 0), so tickets found on classes 0-4
transfer to classes 5-9, which the search never saw.
"""
import dataclasses
from pathlib import Path
from typing import Tuple

import gin
import numpy as np
import pandas as pd
import tf_keras as keras

from components.artifacts.base import level_name
from components.artifacts.tables import in_order
from components import ComponentSpec
from components.stability.common import config_columns, search_network
from lth_tf import networks
from lth_tf.data import DatasetHparams, eval_batches, load_dataset
from lth_tf.data.class_split import class_subset  # noqa: F401  (re-exported: the offline transfer targets)
from lth_tf.data.dataset import Dataset
from lth_tf.data.resize import can_resize, resized_to
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.io import atomic_path, read_json, unit_is_complete, write_csv, write_json
from lth_tf.metrics import probes
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.training import evaluate, train

RANDOM_DENSE_SEED = 2_000_003  # a fresh initialization for the random dense baseline


# ---------------------------------------------------------------------------------------------
# Probing
# ---------------------------------------------------------------------------------------------

NETWORKS = ("ticket", "permuted_mask", "random_dense", "trained_ticket")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class ProbingParams:
    levels: Tuple[int, ...] = (0, 5, 10, 15, 20)  # () = every level
    networks: Tuple[str, ...] = NETWORKS
    epochs: int = 5
    lr: float = 0.005
    weight_decay: float = 1e-4
    batch_size: int = 128
    seed: int = 0  # probe shuffling, permuted masks

    def __post_init__(self):
        for n in self.networks:
            if n not in NETWORKS:
                raise unknown_name("probed network", n, NETWORKS)
        object.__setattr__(self, "levels", tuple(int(l) for l in self.levels))
        object.__setattr__(self, "networks", tuple(self.networks))


def execute_probing(p: ProbingParams, inputs, out: Path, ctx):
    tickets = inputs["tickets"]
    search = tickets.params
    ds = load_dataset(search.dataset)
    levels = tickets.check_levels(p.levels, "ProbingParams.levels")
    model = search_network(search, ds)
    columns = {**config_columns(search), "seed": search.seed}
    probe_args = dict(epochs=p.epochs, lr=p.lr, weight_decay=p.weight_decay, batch_size=p.batch_size, seed=p.seed)
    rows = []

    def probe(net, network, level, sparsity, unit):
        if unit_is_complete(unit):
            rows.extend(pd.read_csv(unit / "probes.csv").to_dict("records"))
            return
        found = [{**columns, "network": network, "level": level, "sparsity": sparsity, "probe_epochs": p.epochs,
                  "probe_lr": p.lr, "probe_weight_decay": p.weight_decay, **r}
                 for r in probes.probe_blocks(net, ds, **probe_args)]
        with atomic_path(unit, is_dir=True) as tmp:
            write_csv(tmp / "probes.csv", pd.DataFrame(found))
        rows.extend(found)
        if ctx.verbose:
            print(f"[probes {network} level {level}] " + ", ".join(f"{r['block']} {r['test_accuracy']:.3f}" for r in found),
                  flush=True)

    for level in levels:
        ticket = tickets.load(level)
        sparsity = ticket["meta"]["sparsity"]
        if "ticket" in p.networks:
            wrapping.set_masks(model, ticket["masks"])
            wrapping.set_state(model, ticket["rewind"])
            probe(model, "ticket", level, sparsity, out / "ticket" / level_name(level))
        if "permuted_mask" in p.networks and level > 0:  # at level 0 the mask is all ones
            rng = np.random.default_rng([p.seed, level])
            wrapping.set_masks(model, M.permuted(ticket["masks"], rng))
            wrapping.set_state(model, ticket["rewind"])
            probe(model, "permuted_mask", level, sparsity, out / "permuted_mask" / level_name(level))
        if "trained_ticket" in p.networks:
            wrapping.set_masks(model, ticket["masks"])
            wrapping.set_state(model, ticket["trained"])
            probe(model, "trained_ticket", level, sparsity, out / "trained_ticket" / level_name(level))
    if "random_dense" in p.networks:
        fresh = search_network(dataclasses.replace(search, seed=RANDOM_DENSE_SEED + search.seed), ds)
        probe(fresh, "random_dense", 0, 0.0, out / "random_dense")
    frame = pd.DataFrame(rows)
    write_csv(out / "probes.csv", frame)
    return {"probes": len(rows)}


PROBING = ComponentSpec(name="Probing", inputs={"tickets": "Tickets"}, output="Probes", params=ProbingParams,
                        executor=execute_probing)


# ---------------------------------------------------------------------------------------------
# Transfer
# ---------------------------------------------------------------------------------------------

# What each transferred network is (003 §5.1, Table 6 and Appendix E.2):
#   ticket          mask ⊙ rewind weights, untrained ("frozen at initialization"); at level 0 the
#                   dense network at its rewind point
#   trained_ticket  mask ⊙ the ticket's trained weights (an extra row, not in Table 6)
#   frozen_dense    the dense network trained on the source (Table 6 "Frozen dense*")
#   random_dense    a freshly initialized dense network (the untrained-features floor)
#   retrained_dense a dense network trained from scratch on the target, every layer (Table 6
#                   "Retrained dense network*", the upper limit); its accuracy is the network's
#                   own, not a new head's
TRANSFER_NETWORKS = ("ticket", "trained_ticket", "frozen_dense", "random_dense", "retrained_dense")
TRANSFER_WEIGHTS = {"ticket": "mask ⊙ rewind weights (untrained)", "trained_ticket": "mask ⊙ trained weights",
                    "frozen_dense": "dense, trained on the source", "random_dense": "dense, fresh initialization",
                    "retrained_dense": "dense, trained on the target (all layers)"}


@gin.configurable
@dataclasses.dataclass(frozen=True)
class TransferParams:
    target: DatasetHparams  # the second dataset; images are resized to the source's input shape
    levels: Tuple[int, ...] = (0, 5, 10, 15, 20)  # () = every level; ticket rows at each, trained_ticket at L > 0
    networks: Tuple[str, ...] = TRANSFER_NETWORKS
    epochs: int = 10  # the new head's training (Adam, see lth_tf.metrics.probes)
    lr: float = 0.005
    weight_decay: float = 1e-4
    batch_size: int = 128
    seed: int = 0

    def __post_init__(self):
        for n in self.networks:
            if n not in TRANSFER_NETWORKS:
                raise unknown_name("transferred network", n, TRANSFER_NETWORKS)
        object.__setattr__(self, "levels", tuple(int(l) for l in self.levels))
        object.__setattr__(self, "networks", tuple(self.networks))


def transfer_target(target: DatasetHparams, input_shape) -> Dataset:
    """The target dataset with its images at the source network's `input_shape` (resized, see
    lth_tf.data.resize); a ConfigError naming both shapes when that is impossible."""
    ds = load_dataset(target)
    if not can_resize(ds.input_shape, input_shape):
        raise ConfigError(f"Transfer target {target.name!r} has inputs of shape {ds.input_shape}, the tickets' "
                          f"network takes {tuple(input_shape)}: only images can be resized (equal channels, or one "
                          f"of them single-channel). Pick a target of images, or one of the same shape.")
    return resized_to(ds, input_shape)


def head_features(model: keras.Model, ds, split) -> np.ndarray:
    """The inputs of the model's last layer (its head) for a split: the frozen features."""
    extractor = keras.Model(model.inputs, model.layers[-1].input)
    return np.concatenate([extractor(x, training=False).numpy() for x, _, _ in eval_batches(ds, split)])


def new_head_accuracy(model: keras.Model, target, **head_args) -> dict:
    """003 §5.1: "we replace the linear layer with a new linear layer with a target-specific
    number of outputs, and freeze all other layers": a linear softmax head trained on the frozen
    features of the target's training split, scored on its test split."""
    return probes.train_linear_probe(head_features(model, target, target.train), target.train.y,
                                     head_features(model, target, target.test), target.test.y,
                                     target.num_classes, **head_args)


# transfer.csv's columns after the search's configuration columns, in the order `record` makes them.
TRANSFER_COLUMNS = ("network", "weights", "level", "sparsity", "source_test_accuracy", "target_train_accuracy",
                    "target_test_accuracy", "head_training", "target_train_steps")


def execute_transfer(p: TransferParams, inputs, out: Path, ctx):
    tickets = inputs["tickets"]
    search = tickets.params
    source = load_dataset(search.dataset)
    original_shape = load_dataset(p.target).input_shape
    target = transfer_target(p.target, source.input_shape)
    levels = tickets.check_levels(p.levels, "TransferParams.levels")
    model = search_network(search, source)
    columns = {**config_columns(search), "seed": search.seed, "source": search.dataset.name, "target": p.target.name,
               "target_shape": "x".join(map(str, original_shape)), "resized": original_shape != source.input_shape}
    head_args = dict(epochs=p.epochs, lr=p.lr, weight_decay=p.weight_decay, batch_size=p.batch_size, seed=p.seed)
    rows = []

    def record(network, level, sparsity, source_accuracy, unit, measure):
        if unit_is_complete(unit):
            rows.append(read_json(unit / "metrics.json"))
            return
        scores = measure()
        row = {**columns, "network": network, "weights": TRANSFER_WEIGHTS[network], "level": level,
               "sparsity": sparsity, "source_test_accuracy": source_accuracy,
               "target_train_accuracy": scores["train_accuracy"], "target_test_accuracy": scores["test_accuracy"],
               "head_training": "none (whole network trained on the target)" if network == "retrained_dense" else
               f"new linear head, {p.epochs} epochs of Adam lr {p.lr:g} wd {p.weight_decay:g}",
               "target_train_steps": scores.get("train_steps", 0)}
        with atomic_path(unit, is_dir=True) as tmp:
            write_json(tmp / "metrics.json", row)
        rows.append(row)
        if ctx.verbose:
            print(f"[transfer {network} level {level} -> {p.target.name}] target test accuracy "
                  f"{row['target_test_accuracy']:.4f}", flush=True)

    def frozen(masks, state):
        def measure():
            wrapping.set_masks(model, masks)
            wrapping.set_state(model, state)
            return new_head_accuracy(model, target, **head_args)
        return measure

    for level in levels:
        ticket = tickets.load(level)
        meta = ticket["meta"]
        if "ticket" in p.networks:
            record("ticket", level, meta["sparsity"], meta["test_accuracy"], out / "ticket" / level_name(level),
                   frozen(ticket["masks"], ticket["rewind"]))
        if "trained_ticket" in p.networks and level > 0:
            record("trained_ticket", level, meta["sparsity"], meta["test_accuracy"],
                   out / "trained_ticket" / level_name(level), frozen(ticket["masks"], ticket["trained"]))
    if "frozen_dense" in p.networks:
        dense = tickets.load(0)
        record("frozen_dense", 0, 0.0, dense["meta"]["test_accuracy"], out / "frozen_dense",
               frozen(dense["masks"], dense["trained"]))
    if "random_dense" in p.networks:
        def random_features():
            fresh = search_network(dataclasses.replace(search, seed=RANDOM_DENSE_SEED + search.seed), source)
            return new_head_accuracy(fresh, target, **head_args)
        record("random_dense", 0, 0.0, float("nan"), out / "random_dense", random_features)
    if "retrained_dense" in p.networks:
        def retrain():
            net = networks.build_network(search.model, target.input_shape, target.num_classes, search.seed,
                                         search.pruning.prunable())
            result = train(net, target, search.training, seed=search.seed, label=f"retrained dense on {p.target.name}",
                           verbose=ctx.verbose, log_dir=ctx.tensorboard_dir / "retrained_dense" / level_name(0),
                           log_hparams={"variant": "retrained_dense", "level": 0, "rewind": "0it"})
            return {"train_accuracy": evaluate(net, target, target.train)["accuracy"],
                    "test_accuracy": evaluate(net, target, target.test)["accuracy"], "train_steps": result.steps}
        record("retrained_dense", 0, 0.0, float("nan"), out / "retrained_dense", retrain)
    write_csv(out / "transfer.csv", in_order(rows, [*columns, *TRANSFER_COLUMNS]))
    return {"networks": len(rows)}


TRANSFER = ComponentSpec(name="Transfer", inputs={"tickets": "Tickets"}, output="Transfer", params=TransferParams,
                         executor=execute_transfer)
