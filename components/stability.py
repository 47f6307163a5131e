"""Stability to SGD noise, as components: training dynamics (forgetting, convergence speed),
instability (error barriers between copies trained with different SGD noise, and between
successive IMP tickets), the first stable rewind point, and few-shot training of tickets.

"SGD noise" is the data order (and augmentation) of a run: `train(seed=...)` draws it, so two
copies trained from the same weights with different seeds differ only in it. The seeds of the
extra copies are `NOISE_SEED_BASE * j + search seed` (j = 1, 2, ...), never a search seed.

Every component reads the search's dataset, model, training and pruning from its Tickets
artifact and labels its rows with the search's configuration (momentum, batch size, rewind
point), so a report can line them up.
"""
import dataclasses
from pathlib import Path
from typing import List, Tuple

import gin
import numpy as np
import pandas as pd

from components.mask_search import check_levels, finished_levels, load_ticket, search_params
from components.spec import ComponentSpec
from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset, steps_per_epoch, subsets
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.io import atomic_path, load_npz, read_json, save_npz, unit_is_complete, write_csv, write_json
from lth_tf.metrics import barrier as B
from lth_tf.metrics.convergence import convergence_speed
from lth_tf.metrics.forgetting import NEVER_LEARNED, ForgettingTracker
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.training import TrainingHparams, evaluate, to_steps, train

NOISE_SEED_BASE = 100_003


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------

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


def _without_val(ds):
    """The dataset with an empty validation split: `train` then skips its per-epoch validation
    (on few-example subsets an epoch is a couple of steps, and validating after each would
    cost more than training). Such networks are evaluated once, at the end."""
    return dataclasses.replace(ds, val=ds.val.take([]))


def _accuracies(model, ds) -> dict:
    return {"val_accuracy": evaluate(model, ds, ds.val)["accuracy"] if len(ds.val) else float("nan"),
            "test_accuracy": evaluate(model, ds, ds.test)["accuracy"]}


# ---------------------------------------------------------------------------------------------
# Dynamics: forgetting statistics and convergence speed of the dense network
# ---------------------------------------------------------------------------------------------

@gin.configurable
@dataclasses.dataclass(frozen=True)
class DynamicsParams:
    dataset: DatasetHparams
    model: ModelHparams
    training: TrainingHparams
    seed: int = 0  # the search seed: same initialization and data order as its level 0

    def label(self) -> str:
        return f"{training_label(self.training)}/seed{self.seed}"


def execute_dynamics(p: DynamicsParams, inputs, out: Path, ctx):
    """Trains the dense network from initialization (the same run as a search's level 0, since
    initialization and data order follow the seed) while counting forgetting events, and derives
    the convergence speed from the validation error before training and after each epoch."""
    ds = load_dataset(p.dataset)
    model = networks.build_network(p.model, ds.input_shape, ds.num_classes, p.seed)
    split = ds.val if len(ds.val) else ds.test
    initial_error = 1.0 - evaluate(model, ds, split)["accuracy"]
    tracker = ForgettingTracker(int(ds.train.index.max()) + 1)
    result = train(model, ds, p.training, seed=p.seed, on_batch=tracker.on_batch, label=f"dynamics {training_label(p.training)}",
                   log_dir=ctx.tensorboard_dir / "dense" / "level_00",
                   log_hparams={"variant": "dense", "level": 0, "rewind": "0it"}, verbose=ctx.verbose)
    history = pd.DataFrame(result.history)
    errors = 1.0 - (history["val_accuracy"] if len(ds.val) else history["train_accuracy"]).to_numpy()
    counts = tracker.counts()[ds.train.index]
    learned = counts != NEVER_LEARNED
    stats = {
        "training_config": training_label(p.training), "momentum": p.training.momentum,
        "batch_size": p.training.batch_size, "lr": p.training.lr, "budget": p.training.budget, "seed": p.seed,
        "examples": int(len(counts)),
        "forgetting_mean": float(counts[learned].mean()) if learned.any() else float("nan"),
        "forgetting_std": float(counts[learned].std()) if learned.any() else float("nan"),
        "unforgettable_pct": 100.0 * float(tracker.unforgettable()[ds.train.index].mean()),
        "never_learned_pct": 100.0 * float((~learned).mean()),
        "initial_error": initial_error, "final_error": float(errors[-1]),
        "convergence_speed": convergence_speed(initial_error, errors),
        "error_split": "val" if len(ds.val) else "train (running)",
        "test_accuracy": evaluate(model, ds, ds.test)["accuracy"], "train_steps": result.steps,
    }
    save_npz(out / "forgetting.npz", {"index": ds.train.index, "counts": counts})
    write_csv(out / "history.csv", history)
    write_csv(out / "dynamics.csv", pd.DataFrame([stats]))
    return {k: stats[k] for k in ("forgetting_mean", "unforgettable_pct", "convergence_speed")}


DYNAMICS = ComponentSpec(name="Dynamics", inputs={}, output="Dynamics", params=DynamicsParams,
                         executor=execute_dynamics)


# ---------------------------------------------------------------------------------------------
# Instability: barriers between noise copies, and between successive tickets
# ---------------------------------------------------------------------------------------------

@gin.configurable
@dataclasses.dataclass(frozen=True)
class InstabilityParams:
    """Instability to SGD noise, 003 §3.2 eq. (3): between two networks trained from the same
    weights with different SGD noise, "with the validation error of a network measured as
    E(W)", the error barrier is sup_α E(αW_1 + (1 − α)W_2) − (E(W_1) + E(W_2))/2; "a significant
    error barrier is seen as being higher than 2%" (unstable), otherwise stable. `split` picks
    the data E is measured on, for the noise pairs and the successive-ticket barriers alike."""
    levels: Tuple[int, ...] = ()  # () = every level of the ticket artifact
    pairs: int = 1  # noise pairs per level (pair 0 pairs the ticket itself with one new copy)
    alphas: Tuple[float, ...] = B.ALPHAS
    successive: bool = True  # also the barrier between the trained tickets of levels L and L+1
    split: str = "val"  # E(W) of eq. (3): the validation error (noise and successive barriers alike)
    threshold: float = B.STABLE_BELOW
    bn_batches: int = 2  # training batches of 128 that recompute batch-norm statistics at each alpha

    def __post_init__(self):
        check_split(self.split, "InstabilityParams.split")
        if self.pairs < 1:
            raise ConfigError(f"InstabilityParams.pairs={self.pairs} must be >= 1.")
        object.__setattr__(self, "levels", tuple(int(l) for l in self.levels))
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))


def _noise_copy(model, ds, hp, ticket, rewind_step, seed, label, ctx, log_dir, log_hparams):
    """Trains a copy of the ticket (its mask, its rewind weights) with the data order of `seed`."""
    wrapping.set_masks(model, ticket["masks"])
    wrapping.set_state(model, ticket["rewind"])
    result = train(model, ds, hp, seed=seed, start_step=rewind_step, label=label, verbose=ctx.verbose,
                   log_dir=log_dir, log_hparams=log_hparams)
    return wrapping.get_state(model), result


def execute_instability(p: InstabilityParams, inputs, out: Path, ctx):
    tickets = inputs["tickets"]
    search = search_params(tickets)
    ds = load_dataset(search.dataset)
    split = eval_split(ds, p.split)
    levels = check_levels(p.levels, tickets.path, "InstabilityParams.levels")
    model = search_network(search, ds)
    evaluator = B.ErrorEvaluator(model, ds, split, bn_batches=p.bn_batches)
    columns = {**config_columns(search), "seed": search.seed}
    barriers, curves = [], []
    for level in levels:
        unit = out / f"level_{level:02d}"
        if unit_is_complete(unit):
            barriers += pd.read_csv(unit / "barriers.csv").to_dict("records")
            curves += pd.read_csv(unit / "curves.csv").to_dict("records")
            continue
        ticket = load_ticket(tickets.path, level)
        rewind_step = ticket["meta"]["rewind_step"]
        level_rows, level_curves = [], []
        for pair in range(p.pairs):
            copies, accuracies = [], []
            for j in (2 * pair, 2 * pair + 1):
                if j == 0:  # the ticket itself: trained with the search's own data order
                    copies.append(ticket["trained"])
                    accuracies.append(ticket["meta"]["test_accuracy"])
                    continue
                seed = NOISE_SEED_BASE * j + search.seed
                state, _ = _noise_copy(model, ds, search.training, ticket, rewind_step, seed,
                                       f"noise copy {j} {columns['config']} level {level}", ctx,
                                       ctx.tensorboard_dir / "instability" / f"level_{level:02d}" / f"copy_{j}",
                                       {"variant": "instability", "level": level, "copy": j, "seed": search.seed,
                                        "rewind": search.pruning.rewind, "method": search.pruning.method})
                copies.append(state)
                accuracies.append(evaluate(model, ds, ds.test)["accuracy"])
            path = B.linear_path(model, copies[0], copies[1], ds, alphas=p.alphas, masks=ticket["masks"],
                                 evaluator=evaluator)
            level_rows.append({**columns, "kind": "noise", "level": level, "level_2": level,
                               "sparsity": ticket["meta"]["sparsity"], "pair": pair, "barrier": path.barrier,
                               "error_1": path.error_1, "error_2": path.error_2, "max_error": float(path.errors.max()),
                               "stable": path.stable(p.threshold), "test_accuracy_1": accuracies[0],
                               "test_accuracy_2": accuracies[1], "rewind_step": rewind_step, "split": p.split})
            level_curves += [{**columns, "kind": "noise", "level": level, "pair": pair, **r} for r in path.rows()]
        with atomic_path(unit, is_dir=True) as tmp:
            write_csv(tmp / "curves.csv", pd.DataFrame(level_curves))
            write_csv(tmp / "barriers.csv", pd.DataFrame(level_rows))
        barriers += level_rows
        curves += level_curves
    if p.successive:
        rows, successive_curves = _successive(p, tickets.path, model, ds, evaluator, columns, out)
        barriers += rows
        curves += successive_curves
    write_csv(out / "barriers.csv", pd.DataFrame(barriers))
    write_csv(out / "curves.csv", pd.DataFrame(curves))
    noise = [r["barrier"] for r in barriers if r["kind"] == "noise"]
    return {"levels": len(levels), "max_noise_barrier": float(max(noise)) if noise else None}


def _successive(p, tickets_path, model, ds, evaluator, columns, out):
    """Barriers between the trained tickets of levels L and L+1, interpolated within level L's
    mask (the union of the two: IMP masks are nested)."""
    unit = out / "successive"
    if unit_is_complete(unit):
        return pd.read_csv(unit / "barriers.csv").to_dict("records"), pd.read_csv(unit / "curves.csv").to_dict("records")
    levels = finished_levels(tickets_path)
    rows, curves = [], []
    for a, b in zip(levels[:-1], levels[1:]):
        ta, tb = load_ticket(tickets_path, a), load_ticket(tickets_path, b)
        union = {n: np.maximum(ta["masks"][n], tb["masks"][n]) for n in ta["masks"]}
        path = B.linear_path(model, ta["trained"], tb["trained"], ds, alphas=p.alphas, masks=union, evaluator=evaluator)
        rows.append({**columns, "kind": "successive", "level": a, "level_2": b, "sparsity": tb["meta"]["sparsity"],
                     "pair": 0, "barrier": path.barrier, "error_1": path.error_1, "error_2": path.error_2,
                     "max_error": float(path.errors.max()), "stable": path.stable(p.threshold),
                     "test_accuracy_1": ta["meta"]["test_accuracy"], "test_accuracy_2": tb["meta"]["test_accuracy"],
                     "rewind_step": ta["meta"]["rewind_step"], "split": p.split})
        curves += [{**columns, "kind": "successive", "level": a, "pair": 0, **r} for r in path.rows()]
    with atomic_path(unit, is_dir=True) as tmp:
        write_csv(tmp / "curves.csv", pd.DataFrame(curves))
        write_csv(tmp / "barriers.csv", pd.DataFrame(rows))
    return rows, curves


INSTABILITY = ComponentSpec(name="Instability", inputs={"tickets": "Tickets"}, output="Instability",
                            params=InstabilityParams, executor=execute_instability)


# ---------------------------------------------------------------------------------------------
# RewindSearch: the first rewind point from which training is stable
# ---------------------------------------------------------------------------------------------

@gin.configurable
@dataclasses.dataclass(frozen=True)
class RewindSearchParams:
    # Rewind points (sorted by step for each search); the binary search assumes stability is
    # monotone along them.
    candidates: Tuple[str, ...] = ("0it", "10it", "25it", "50it", "100it", "1ep", "2ep", "4ep")
    level: int = 0  # 0: the dense network; L: the mask of level L applied at every rewind point
    pairs: int = 1  # noise pairs per seed (each search artifact is one seed)
    alphas: Tuple[float, ...] = B.ALPHAS
    split: str = "val"  # E(W) of eq. (3): the validation error
    threshold: float = B.STABLE_BELOW  # stable when the mean barrier over seeds and pairs is below
    bn_batches: int = 2

    def __post_init__(self):
        check_split(self.split, "RewindSearchParams.split")
        object.__setattr__(self, "candidates", tuple(self.candidates))
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))
        if not self.candidates:
            raise ConfigError("RewindSearchParams.candidates is empty: give rewind points such as ('0it', '1ep').")
        if self.pairs < 1:
            raise ConfigError(f"RewindSearchParams.pairs={self.pairs} must be >= 1.")


def rewind_points(candidates, spe: int, total: int) -> List[Tuple[int, str]]:
    """The candidates as (step, name) sorted by step ('1ep' may come before '100it'), one per
    step; a ConfigError for any at or after the end of training."""
    points = {}
    for c in candidates:
        step = to_steps(c, spe, "RewindSearchParams.candidates")
        if step >= total:
            raise ConfigError(f"RewindSearchParams.candidates has {c!r} = step {step}, not before the end of "
                              f"training (step {total}); drop it or lengthen TrainingHparams.budget.")
        points.setdefault(step, c)
    return sorted(points.items())


def execute_rewind_search(p: RewindSearchParams, inputs, out: Path, ctx):
    """For each input search (one per seed): one run of the network from initialization with
    snapshots at every candidate step; then a binary search over the candidates, where a
    candidate k is stable when the mean barrier, over seeds and noise pairs, between copies
    trained from the snapshot at k (masked with level `level`'s mask) is below the threshold.

    With a mask (level > 0) this is the mask found by the search (rewound to its own rewind
    point) applied to the dense run's weights at k: a cheap stand-in for a new IMP search per
    rewind point, which the report says."""
    searches = list(inputs["tickets"])
    per_seed = []
    for tickets in searches:
        search = search_params(tickets)
        ds = load_dataset(search.dataset)
        spe = steps_per_epoch(len(ds.train), search.training.batch_size)
        total = search.training.total_steps(spe)
        points = rewind_points(p.candidates, spe, total)
        steps = [step for step, _ in points]
        masks = load_ticket(tickets.path, check_levels((p.level,), tickets.path, "RewindSearchParams.level")[0])["masks"]
        model = search_network(search, ds)
        reference = train(model, ds, search.training, seed=search.seed, snapshot_steps=steps,
                          label=f"rewind search {training_label(search.training)} reference", verbose=ctx.verbose,
                          log_dir=ctx.tensorboard_dir / "rewind_search_reference" / f"seed_{search.seed}",
                          log_hparams={"variant": "rewind_search_reference", "level": 0, "rewind": "0it"})
        per_seed.append({"search": search, "ds": ds, "model": model, "masks": masks, "steps": steps,
                         "final": wrapping.get_state(model), "snapshots": reference.snapshots,
                         "evaluator": B.ErrorEvaluator(model, ds, eval_split(ds, p.split), bn_batches=p.bn_batches)})
    names = [name for _, name in points]  # the same for every seed: one training configuration
    rows = []

    def is_stable(position: int) -> bool:
        barriers = []
        for run in per_seed:
            search, model, step = run["search"], run["model"], run["steps"][position]
            start = {"masks": run["masks"], "rewind": run["snapshots"][step]}
            for pair in range(p.pairs):
                copies = []
                for j in (2 * pair, 2 * pair + 1):
                    if j == 0 and p.level == 0:  # continuing the reference run from k is the reference run
                        copies.append(run["final"])
                        continue
                    seed = search.seed if j == 0 else NOISE_SEED_BASE * j + search.seed
                    state, _ = _noise_copy(model, run["ds"], search.training, start, step, seed,
                                           f"rewind {names[position]} copy {j}", ctx,
                                           ctx.tensorboard_dir / f"rewind_{names[position]}" / f"level_{p.level:02d}"
                                           / f"seed_{search.seed}_copy_{j}",
                                           {"variant": "rewind_search", "level": p.level, "copy": j,
                                            "seed": search.seed, "rewind": names[position]})
                    copies.append(state)
                path = B.linear_path(model, copies[0], copies[1], run["ds"], alphas=p.alphas, masks=run["masks"],
                                     evaluator=run["evaluator"])
                barriers.append(path.barrier)
                rows.append({**config_columns(search), "seed": search.seed, "candidate": names[position],
                             "position": position, "rewind_step": step, "level": p.level,
                             "sparsity": M.sparsity(run["masks"]), "pair": pair, "barrier": path.barrier,
                             "error_1": path.error_1, "error_2": path.error_2, "split": p.split})
        stable = float(np.mean(barriers)) < p.threshold
        for r in rows:
            if r["position"] == position:
                r["mean_barrier"], r["stable"] = float(np.mean(barriers)), stable
        return stable

    found, seen = B.first_stable(list(range(len(names))), is_stable)
    search = per_seed[0]["search"]
    summary = {**config_columns(search), "level": p.level, "seeds": len(per_seed), "pairs": p.pairs,
               "first_stable": names[found] if found is not None else None,
               "first_stable_step": per_seed[0]["steps"][found] if found is not None else None,
               "candidates": " ".join(names), "evaluated": len(seen), "threshold": p.threshold,
               "split": p.split}
    write_csv(out / "rewind_search.csv", pd.DataFrame(rows))
    write_csv(out / "rewind_summary.csv", pd.DataFrame([summary]))
    return {"first_stable": summary["first_stable"], "evaluated": len(seen)}


REWIND_SEARCH = ComponentSpec(name="RewindSearch", inputs={"tickets": "Tickets*"}, output="RewindSearch",
                              params=RewindSearchParams, executor=execute_rewind_search)


# ---------------------------------------------------------------------------------------------
# FewShot: tickets and the dense network trained on class-balanced subsets
# ---------------------------------------------------------------------------------------------

# Subsets are class-balanced (lth_tf.data.subsets): as equal a count per class as possible,
# drawn at random or ranked by forgetting count within each class (ties by example index).
SELECTIONS = ("random", "least_forgotten", "most_forgotten")
BUDGETS = ("iterations", "epochs")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class FewShotParams:
    fractions: Tuple[float, ...] = (0.01, 0.02, 0.05, 0.1)  # of the training split, class-balanced
    levels: Tuple[int, ...] = (0, 5, 10)  # ticket levels; 0 is the dense network
    selection: str = "random"  # random | least_forgotten | most_forgotten (needs a Dynamics input)
    budget: str = "iterations"  # iterations: as many steps as full training; epochs: as many passes
    seed: int = 0  # draws the subsets and the data order

    def __post_init__(self):
        if self.selection not in SELECTIONS:
            raise unknown_name("few-shot selection", self.selection, SELECTIONS)
        if self.budget not in BUDGETS:
            raise unknown_name("few-shot budget", self.budget, BUDGETS)
        for f in self.fractions:
            if not 0.0 < f <= 1.0:
                raise ConfigError(f"FewShotParams.fractions has {f}: fractions of the training set must be in (0, 1].")
        object.__setattr__(self, "fractions", tuple(float(f) for f in self.fractions))
        object.__setattr__(self, "levels", tuple(int(l) for l in self.levels))


def execute_few_shot(p: FewShotParams, inputs, out: Path, ctx):
    tickets = inputs["tickets"]
    search = search_params(tickets)
    ds = load_dataset(search.dataset)
    levels = check_levels(p.levels, tickets.path, "FewShotParams.levels")
    scores = None
    if p.selection != "random":
        if "dynamics" not in inputs:
            raise ConfigError(f"FewShotParams.selection={p.selection!r} ranks examples by forgetting: give the "
                              f"FewShot component a Dynamics input, or use selection='random'.")
        forgetting = load_npz(inputs["dynamics"].path / "forgetting.npz")
        by_index = dict(zip(forgetting["index"].tolist(), forgetting["counts"].tolist()))
        scores = np.array([by_index[i] for i in ds.train.index], np.float64)
    spe = steps_per_epoch(len(ds.train), search.training.batch_size)
    hp = search.training.scaled(1.0, spe) if p.budget == "iterations" else search.training
    quiet = _without_val(ds)
    model = search_network(search, ds)
    rows = []
    for fraction in p.fractions:
        if scores is None:
            chosen = subsets.balanced_random(ds.train.index, ds.train.y, fraction, ds.num_classes,
                                             seed=p.seed * 1_000_003 + int(round(fraction * 1e6)))
        else:
            chosen = subsets.balanced_by_score(ds.train.index, scores, ds.train.y, fraction, ds.num_classes,
                                               hardest_first=p.selection == "most_forgotten")
        subset = ds.train.with_indices(chosen)
        for level in levels:
            unit = out / f"fraction_{fraction:g}" / f"level_{level:02d}"
            if unit_is_complete(unit):
                rows.append(read_json(unit / "metrics.json"))
                continue
            ticket = load_ticket(tickets.path, level)
            wrapping.set_masks(model, ticket["masks"])
            wrapping.set_state(model, ticket["rewind"])
            rewind_step = ticket["meta"]["rewind_step"]
            variant = "few_shot_" + ("dense" if level == 0 else ticket["meta"]["variant"])
            result = train(model, quiet, hp, seed=p.seed, start_step=rewind_step, train_split=subset, verbose=False,
                           log_dir=ctx.tensorboard_dir / f"{variant}_{fraction:g}" / f"level_{level:02d}",
                           log_hparams={"variant": variant, "level": level, "fraction": fraction,
                                        "seed": search.seed, "rewind": search.pruning.rewind})
            metrics = {**config_columns(search), "variant": variant,
                       "seed": search.seed, "level": level, "sparsity": ticket["meta"]["sparsity"],
                       **_accuracies(model, ds), "train_steps": result.steps, "fraction": fraction,
                       "subset_size": int(len(subset)), "selection": p.selection, "budget_mode": p.budget,
                       "final_train_accuracy": result.history[-1]["train_accuracy"] if result.history else float("nan")}
            if ctx.verbose:
                print(f"[few-shot {fraction:g} level {level}] {len(subset)} examples, {result.steps} steps: "
                      f"test_acc {metrics['test_accuracy']:.4f}", flush=True)
            with atomic_path(unit, is_dir=True) as tmp:
                save_npz(tmp / "subset.npz", {"index": subset.index})
                write_json(tmp / "metrics.json", metrics)
            rows.append(metrics)
    frame = pd.DataFrame(rows)
    write_csv(out / "few_shot.csv", frame)
    write_csv(out / "results.csv", frame)
    return {"networks": len(rows)}


def validate_few_shot(p: FewShotParams, inputs):
    """While planning (the executor checks the same again)."""
    if p.selection != "random" and inputs.get("dynamics") is None:
        raise ConfigError(f"FewShotParams.selection={p.selection!r} ranks examples by forgetting: give the "
                          f"FewShot component a Dynamics input, or use selection='random'.")


FEW_SHOT = ComponentSpec(name="FewShot", inputs={"tickets": "Tickets", "dynamics": "Dynamics?"}, output="FewShot",
                         params=FewShotParams, executor=execute_few_shot, validate=validate_few_shot)
