"""Probing and transfer of tickets, as components.

Probing: linear probes after every block of the frozen, *untrained* ticket (its mask applied to
its rewind weights), against two baselines: the same weights under a layerwise-permuted mask
(same per-layer sparsity, random positions) and a randomly initialized dense network; the
trained ticket is probed too, as the ceiling.

Transfer: the trained ticket's feature extractor (everything before the `output` layer) is
frozen, a new linear head is trained on a second dataset, and its test accuracy is reported,
against the dense network's features (level 0) and a random network's. For the embedded default
the second dataset is a disjoint class split of the first: `class_subset('mnist1d', (0..4))`
registers a dataset holding only those classes (labels renumbered from 0), so tickets found on
classes 0-4 transfer to classes 5-9, which the search never saw. Target inputs are normalized
with the target's own training statistics, as every dataset is (for two halves of MNIST-1D they
are nearly the same).
"""
import dataclasses
from pathlib import Path
from typing import Sequence, Tuple

import gin
import numpy as np
import pandas as pd
import tf_keras as keras

from components.mask_search import check_levels, load_ticket, search_params
from components.spec import ComponentSpec
from components.stability import config_columns, search_network
from lth_tf.data import DatasetHparams, eval_batches, load_dataset
from lth_tf.data.dataset import RawData, known_datasets, register
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.io import atomic_path, read_json, write_csv, write_json
from lth_tf.metrics import probes
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping

RANDOM_DENSE_SEED = 2_000_003  # a fresh initialization for the random dense baseline


# ---------------------------------------------------------------------------------------------
# Class-split datasets
# ---------------------------------------------------------------------------------------------

def class_subset(base: str, classes: Sequence[int]) -> str:
    """Registers (once) and returns the name of a dataset holding only `classes` of `base`
    (train and test), labels renumbered 0..len(classes)-1 in the given order. Its validation
    split and normalization are drawn from its own training examples, like any dataset's."""
    classes = tuple(int(c) for c in classes)
    if base not in known_datasets():
        raise unknown_name("dataset", base, known_datasets())
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ConfigError(f"A class split needs at least two distinct classes, got {classes}.")
    name = f"{base}_classes_{'-'.join(map(str, classes))}"
    if name in known_datasets():
        return name

    @register(name)
    def load(hp) -> RawData:
        source = load_dataset(dataclasses.replace(hp, name=base, val_fraction=0.0))
        if max(classes) >= source.num_classes:
            raise ConfigError(f"Dataset {base!r} has classes 0..{source.num_classes - 1}; {classes} asks for more.")
        relabel = np.full(source.num_classes, -1, np.int64)
        relabel[list(classes)] = np.arange(len(classes))
        keep_train = relabel[source.train.y] >= 0
        keep_test = relabel[source.test.y] >= 0
        return RawData(source.train.x[keep_train], relabel[source.train.y[keep_train]],
                       source.test.x[keep_test], relabel[source.test.y[keep_test]],
                       num_classes=len(classes), default_augment=source.augment)
    return name


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
    search = search_params(tickets)
    ds = load_dataset(search.dataset)
    levels = check_levels(p.levels, tickets.path, "ProbingParams.levels")
    model = search_network(search, ds)
    columns = {**config_columns(search), "seed": search.seed}
    probe_args = dict(epochs=p.epochs, lr=p.lr, weight_decay=p.weight_decay, batch_size=p.batch_size, seed=p.seed)
    rows = []

    def probe(net, network, level, sparsity, unit):
        if (unit / "probes.csv").exists():
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
        ticket = load_ticket(tickets.path, level)
        sparsity = ticket["meta"]["sparsity"]
        if "ticket" in p.networks:
            wrapping.set_masks(model, ticket["masks"])
            wrapping.set_state(model, ticket["rewind"])
            probe(model, "ticket", level, sparsity, out / "ticket" / f"level_{level:02d}")
        if "permuted_mask" in p.networks and level > 0:  # at level 0 the mask is all ones
            rng = np.random.default_rng([p.seed, level])
            wrapping.set_masks(model, M.permuted(ticket["masks"], rng))
            wrapping.set_state(model, ticket["rewind"])
            probe(model, "permuted_mask", level, sparsity, out / "permuted_mask" / f"level_{level:02d}")
        if "trained_ticket" in p.networks:
            wrapping.set_masks(model, ticket["masks"])
            wrapping.set_state(model, ticket["trained"])
            probe(model, "trained_ticket", level, sparsity, out / "trained_ticket" / f"level_{level:02d}")
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

@gin.configurable
@dataclasses.dataclass(frozen=True)
class TransferParams:
    target: DatasetHparams  # the second dataset (same input shape as the search's)
    levels: Tuple[int, ...] = (0, 5, 10, 15, 20)  # () = every level; 0 is the dense network
    epochs: int = 10  # the new head's training (Adam, see lth_tf.metrics.probes)
    lr: float = 0.005
    weight_decay: float = 1e-4
    batch_size: int = 128
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "levels", tuple(int(l) for l in self.levels))


def head_features(model: keras.Model, ds, split) -> np.ndarray:
    """The inputs of the model's last layer (its head) for a split: the frozen features."""
    extractor = keras.Model(model.inputs, model.layers[-1].input)
    return np.concatenate([extractor(x, training=False).numpy() for x, _, _ in eval_batches(ds, split)])


def execute_transfer(p: TransferParams, inputs, out: Path, ctx):
    tickets = inputs["tickets"]
    search = search_params(tickets)
    source = load_dataset(search.dataset)
    target = load_dataset(p.target)
    if target.input_shape != source.input_shape:
        raise ConfigError(f"Transfer target {p.target.name!r} has inputs of shape {target.input_shape}, the tickets' "
                          f"dataset {search.dataset.name!r} {source.input_shape}: pick a target of the same shape.")
    levels = check_levels(p.levels, tickets.path, "TransferParams.levels")
    model = search_network(search, source)
    columns = {**config_columns(search), "seed": search.seed, "source": search.dataset.name, "target": p.target.name}
    head_args = dict(epochs=p.epochs, lr=p.lr, weight_decay=p.weight_decay, batch_size=p.batch_size, seed=p.seed)
    rows = []

    def transfer(net, network, level, sparsity, source_accuracy, unit):
        if (unit / "metrics.json").exists():
            rows.append(read_json(unit / "metrics.json"))
            return
        scores = probes.train_linear_probe(head_features(net, target, target.train), target.train.y,
                                           head_features(net, target, target.test), target.test.y,
                                           target.num_classes, **head_args)
        row = {**columns, "network": network, "level": level, "sparsity": sparsity,
               "source_test_accuracy": source_accuracy, "target_train_accuracy": scores["train_accuracy"],
               "target_test_accuracy": scores["test_accuracy"]}
        with atomic_path(unit, is_dir=True) as tmp:
            write_json(tmp / "metrics.json", row)
        rows.append(row)
        if ctx.verbose:
            print(f"[transfer {network} level {level}] target test accuracy {row['target_test_accuracy']:.4f}", flush=True)

    for level in levels:
        ticket = load_ticket(tickets.path, level)
        wrapping.set_masks(model, ticket["masks"])
        wrapping.set_state(model, ticket["trained"])
        transfer(model, "dense" if level == 0 else "ticket", level, ticket["meta"]["sparsity"],
                 ticket["meta"]["test_accuracy"], out / f"level_{level:02d}")
    fresh = search_network(dataclasses.replace(search, seed=RANDOM_DENSE_SEED + search.seed), source)
    transfer(fresh, "random_dense", 0, 0.0, float("nan"), out / "random_dense")
    write_csv(out / "transfer.csv", pd.DataFrame(rows))
    return {"networks": len(rows)}


TRANSFER = ComponentSpec(name="Transfer", inputs={"tickets": "Tickets"}, output="Transfer", params=TransferParams,
                         executor=execute_transfer)
