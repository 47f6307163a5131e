"""Shared by the stability components (Dynamics, Instability, RewindSearch, FewShot): the
configuration labels and columns every table carries, the evaluation splits a barrier is
measured on, and training a noise copy of a ticket.

"SGD noise" is the data order (and augmentation) of a run: `train(seed=...)` draws it, so two
copies trained from the same weights with different seeds differ only in it. The seeds of the
extra copies are `NOISE_SEED_BASE * j + search seed` (j = 1, 2, ...), never a search seed.

Every component reads the search's dataset, model, training and pruning from its Tickets
artifact (`Tickets.params`) and labels its rows with the search's configuration (momentum,
batch size, rewind point), so a report can line them up.
"""
import dataclasses

from lth_tf import networks
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.sparsity import wrapping
from lth_tf.training import TrainingHparams, evaluate, train

NOISE_SEED_BASE = 100_003


def training_label(hp: TrainingHparams) -> str:
    """'mu0.9_bs64': the two hyperparameters the study varies."""
    return f"mu{hp.momentum:g}_bs{hp.batch_size}"


def config_label(hp: TrainingHparams, rewind: str) -> str:
    """'mu0.9_bs64_rw1ep': a grid configuration (training and rewind point)."""
    return f"{training_label(hp)}_rw{rewind}"


def config_columns(search) -> dict:
    """The columns that identify a search's configuration in every table."""
    hp = search.training
    return {"config": config_label(hp, search.pruning.rewind), "training_config": training_label(hp),
            "momentum": hp.momentum, "batch_size": hp.batch_size, "rewind": search.pruning.rewind,
            "lr": hp.lr, "budget": hp.budget, "search_seed": search.seed}


def search_network(search, ds):
    return networks.build_network(search.model, ds.input_shape, ds.num_classes, search.seed, search.pruning.prunable())


# Splits a barrier can be measured on. 003 §3.2, eq. (3): "Given two networks W_1, W_2, with the
# *validation error* of a network measured as E(W), then the error barrier across an
# interpolating path between W_1 and W_2 for α ∈ [0, 1] is ... sup_α E(αW_1 + (1 − α)W_2) −
# (E(W_1) + E(W_2))/2": 'val' (the held-out part of the training split) is the default.
BARRIER_SPLITS = ("val", "test")


def check_split(name: str, what: str) -> str:
    """A ConfigError, at construction, for a split that is not 'val' or 'test'."""
    if name not in BARRIER_SPLITS:
        raise ConfigError(f"{what}={name!r} is not an evaluation split: use 'val' (the validation error of 003 eq. 3, "
                          f"the default) or 'test'.")
    return name


def eval_split(ds, name: str):
    splits = {"test": ds.test, "val": ds.val}
    if name not in splits:
        raise unknown_name("evaluation split", name, splits)
    if not len(splits[name]):
        raise ConfigError(f"The {name} split is empty; evaluate on 'test' or set DatasetHparams.val_fraction > 0.")
    return splits[name]


def without_val(ds):
    """The dataset with an empty validation split: `train` then skips its per-epoch validation
    (on few-example subsets an epoch is a couple of steps, and validating after each would
    cost more than training). Such networks are evaluated once, at the end."""
    return dataclasses.replace(ds, val=ds.val.take([]))


def accuracies(model, ds) -> dict:
    return {"val_accuracy": evaluate(model, ds, ds.val)["accuracy"] if len(ds.val) else float("nan"),
            "test_accuracy": evaluate(model, ds, ds.test)["accuracy"]}


def noise_copy(model, ds, hp, ticket, rewind_step, seed, label, ctx, log_dir, log_hparams):
    """Trains a copy of the ticket (its mask, its rewind weights) with the data order of `seed`."""
    wrapping.set_masks(model, ticket["masks"])
    wrapping.set_state(model, ticket["rewind"])
    result = train(model, ds, hp, seed=seed, start_step=rewind_step, label=label, verbose=ctx.verbose,
                   log_dir=log_dir, log_hparams=log_hparams)
    return wrapping.get_state(model), result
